package passkey

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"
)

// Errors of a [Store]. Implementations return them (or errors wrapping
// them) so that the endpoints can tell the caller's mistakes from the
// store's failures; test them with [errors.Is].
var (
	// ErrNotFound: no passkey has the credential id.
	ErrNotFound = errors.New("passkey: no such passkey")
	// ErrDuplicate: a passkey with the credential id is already stored.
	ErrDuplicate = errors.New("passkey: the passkey is already registered")
	// ErrSpent: the ceremony was already finished once.
	ErrSpent = errors.New("passkey: the ceremony was already used")
)

// Credential is one passkey of one user, as a [Store] keeps it.
type Credential struct {
	// UserID is the application's user the passkey signs in: the
	// auth.User.ID its password sign-in names too.
	UserID string
	// UserHandle is the WebAuthn user.id the passkey was created with,
	// an opaque value the authenticator returns at every sign-in (never
	// the email address or another identifier the user would recognize).
	UserHandle []byte
	// Record is go-webauthn's credential record: the credential id
	// (Record.ID), public key, sign counter (Record.Authenticator.SignCount),
	// clone warning, flags and transports. It marshals to JSON, which is
	// how the SQL stores of the examples keep it.
	Record webauthn.Credential
	// Created is when the passkey was registered.
	Created time.Time
	// LastUsed is when it last signed in (zero: never).
	LastUsed time.Time
}

// ID returns the credential id of c.
func (c *Credential) ID() []byte { return c.Record.ID }

// Store keeps the passkeys of an application's users, and the ceremonies
// already finished. Every server process of the application must share
// it (a SQL table, as the taskboard example's): a passkey registered
// through one process signs in through another, and a ceremony finished
// on one cannot be finished again on another. Implementations must be
// safe for concurrent use.
type Store interface {
	// ByUser returns the passkeys of the user userID, in any order: none
	// is an empty result and no error.
	ByUser(ctx context.Context, userID string) ([]Credential, error)
	// ByID returns the passkey whose credential id is id, or an error
	// wrapping [ErrNotFound].
	ByID(ctx context.Context, id []byte) (*Credential, error)
	// Add stores a new passkey, or returns an error wrapping
	// [ErrDuplicate] when one with the same credential id exists.
	Add(ctx context.Context, c Credential) error
	// Update replaces the stored passkey with c's credential id by c
	// (a sign-in changes its sign counter, flags, clone warning and
	// LastUsed), or returns an error wrapping [ErrNotFound].
	Update(ctx context.Context, c Credential) error
	// Spend records that the ceremony id (its challenge) is finished, or
	// returns an error wrapping [ErrSpent] when it already was. The
	// record may be forgotten after expires, when the ceremony's token
	// is refused anyway.
	Spend(ctx context.Context, id string, expires time.Time) error
}

// MemoryStore is a [Store] in the memory of one process: for tests and
// single-process demos (a restart forgets every passkey, and other
// processes do not see them).
type MemoryStore struct {
	mu    sync.Mutex
	creds map[string]Credential // by string(credential id)
	spent map[string]time.Time  // ceremony id → expiry
	now   func() time.Time
}

// NewMemoryStore returns an empty [MemoryStore].
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{creds: map[string]Credential{}, spent: map[string]time.Time{}, now: time.Now}
}

// clone returns a deep copy of c, so that callers never share the store's
// slices.
func clone(c Credential) Credential {
	c.UserHandle = bytes.Clone(c.UserHandle)
	c.Record.ID = bytes.Clone(c.Record.ID)
	c.Record.PublicKey = bytes.Clone(c.Record.PublicKey)
	c.Record.Authenticator.AAGUID = bytes.Clone(c.Record.Authenticator.AAGUID)
	c.Record.Transport = slices.Clone(c.Record.Transport)
	return c
}

// ByUser implements [Store].
func (m *MemoryStore) ByUser(_ context.Context, userID string) ([]Credential, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Credential
	for _, c := range m.creds {
		if c.UserID == userID {
			out = append(out, clone(c))
		}
	}
	slices.SortFunc(out, func(a, b Credential) int { return a.Created.Compare(b.Created) })
	return out, nil
}

// ByID implements [Store].
func (m *MemoryStore) ByID(_ context.Context, id []byte) (*Credential, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.creds[string(id)]
	if !ok {
		return nil, ErrNotFound
	}
	c = clone(c)
	return &c, nil
}

// Add implements [Store].
func (m *MemoryStore) Add(_ context.Context, c Credential) error {
	if len(c.Record.ID) == 0 || c.UserID == "" {
		return errors.New("passkey: adding a passkey without a credential id or user id")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.creds[string(c.Record.ID)]; ok {
		return ErrDuplicate
	}
	m.creds[string(c.Record.ID)] = clone(c)
	return nil
}

// Update implements [Store].
func (m *MemoryStore) Update(_ context.Context, c Credential) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.creds[string(c.Record.ID)]; !ok {
		return ErrNotFound
	}
	m.creds[string(c.Record.ID)] = clone(c)
	return nil
}

// Spend implements [Store]. It forgets the expired ceremonies as it goes.
func (m *MemoryStore) Spend(_ context.Context, id string, expires time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	for k, exp := range m.spent {
		if now.After(exp) {
			delete(m.spent, k)
		}
	}
	if _, ok := m.spent[id]; ok {
		return ErrSpent
	}
	m.spent[id] = expires
	return nil
}

// Delete removes the passkey with credential id id, if any: how an
// application lets a user remove a passkey (the endpoints never delete).
func (m *MemoryStore) Delete(_ context.Context, id []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.creds, string(id))
}
