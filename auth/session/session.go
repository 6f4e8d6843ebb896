// Package session stores the sign-in sessions of package auth: one per
// sign-in, named by a random id. Every JWT carries its session's id (the
// "sid" claim); a session cookie is that id. Deleting a session (logout,
// reuse of a spent refresh token) revokes every token of it at once.
//
// Two stores are provided: [Memory], in-process (sessions are lost on
// restart and not shared between processes), and [Redis], for several
// server processes. Both implement [Store]; sessiontest checks any Store
// against the contract.
package session

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"time"
)

// Errors of a [Store].
var (
	// ErrNotFound is returned for a session that does not exist: never
	// created, deleted, or expired.
	ErrNotFound = errors.New("session: not found")
	// ErrReused is returned by [Store.Rotate] when the refresh token id
	// presented is not the session's current one: a spent refresh token was
	// replayed. The store has deleted the session by then.
	ErrReused = errors.New("session: refresh token reused; session deleted")
)

// Session is one sign-in.
type Session struct {
	// ID names the session: random, unguessable ([NewID]).
	ID string
	// UserID, Staff and Superuser describe the user as they were at
	// sign-in.
	UserID           string
	Staff, Superuser bool
	// Refresh is the id ("jti") of the session's one live refresh token, or
	// "" for a session without refresh tokens (a cookie session).
	Refresh string
	// Expires is when the store forgets the session.
	Expires time.Time
}

// Store keeps sessions. Implementations are safe for concurrent use.
type Store interface {
	// Create stores s, replacing any session with the same ID. A session
	// whose Expires has passed is not stored.
	Create(ctx context.Context, s Session) error
	// Get returns the session called id, or an error wrapping ErrNotFound.
	Get(ctx context.Context, id string) (Session, error)
	// Rotate atomically replaces the refresh token id of session id: when
	// it is old, it becomes new and the session's expiry becomes expires;
	// otherwise the session is deleted and the error wraps ErrReused. A
	// missing session gives ErrNotFound.
	Rotate(ctx context.Context, id, old, new string, expires time.Time) error
	// Delete removes the session called id; a missing one is not an error.
	Delete(ctx context.Context, id string) error
	// DeleteUser removes every session of the user userID (sign out
	// everywhere): every session created before the call began, token and
	// cookie sessions alike.
	DeleteUser(ctx context.Context, userID string) error
}

// NewID returns a random identifier of 256 bits in base64url: a session id
// or a refresh token id.
func NewID() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}
