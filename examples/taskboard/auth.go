package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/mizan-afi/mizan/auth"
	"github.com/mizan-afi/mizan/auth/password"
)

// Signing in is the framework's (package auth, docs/auth.md): the app sets
// Config.Auth with the JWT key and the credential check below, and the
// framework serves the endpoints. The browser UI (web/src/session.ts) and
// API clients sign in the same way:
//
//   - POST auth/token/ {"username", "password"} checks the password with
//     credentials and answers a pair of JWTs (access, 5 minutes; refresh,
//     7 days) of a new session in the store. Every request then carries
//     Authorization: Bearer <access> (Bearer callers need no CSRF token);
//   - POST auth/refresh/ {"refresh"} rotates the pair when the access token
//     has expired (a spent refresh token presented again revokes the
//     session);
//   - POST auth/logout/ with the access token deletes the session: every
//     token of it is refused from the next request on.
//
// No cookie carries the session, so every server-rendered page is the
// anonymous one (pre-rendered), and the browser shows the signed-in user
// once it has its token (pages.go).
//
// The demo users' passwords are their usernames (ada/ada, grace/grace...);
// the sign-in page shows them. They are stored as a real app stores
// passwords: argon2id hashes (package auth/password) in users.password_hash,
// rehashed at sign-in when the parameters (passwords.Params) change.

// username returns the username of a user: the local part of their email
// address ("ada" for ada@example.com).
func username(email string) string {
	name, _, _ := strings.Cut(email, "@")
	return strings.ToLower(name)
}

// demoPassword is the password of a demo user: their username, whose hash
// the database stores (hashDemoPasswords).
func demoPassword(username string) string { return username }

// passwords hashes and checks the users' passwords: argon2id with OWASP's
// parameters (password.DefaultParams).
var passwords = &password.Hasher{}

// credentials is the app's credential check (auth.Config.Credentials): the
// user whose username is username, if password is theirs. It returns nil
// for a wrong username or password (401), an error when the database fails.
// An unknown username costs one argon2id hash like a wrong password
// (VerifyUnknown), so the time of the answer does not tell which it was;
// a right password whose hash was made with older parameters is hashed
// again and stored.
func (s *store) credentials(ctx context.Context, name, pw string) (*auth.User, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	var id int
	var staff bool
	var hash string
	err := s.db.QueryRowContext(ctx, "SELECT id, staff, password_hash FROM users WHERE lower(email) = ?", name+"@example.com").Scan(&id, &staff, &hash)
	if errors.Is(err, sql.ErrNoRows) || err == nil && hash == "" || strings.Contains(name, "@") {
		passwords.VerifyUnknown(pw)
		return nil, nil
	}
	if err != nil {
		return nil, unavailable("checking a password", err)
	}
	ok, rehash, err := passwords.Verify(pw, hash)
	if err != nil {
		return nil, fmt.Errorf("checking the password of user %d: %w", id, err)
	}
	if !ok {
		return nil, nil
	}
	if rehash {
		if h, err := passwords.Hash(pw); err == nil {
			if _, err := s.db.ExecContext(ctx, "UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?", h, id, hash); err != nil {
				return nil, unavailable("storing a rehashed password", err)
			}
		}
	}
	return &auth.User{ID: strconv.Itoa(id), Staff: staff}, nil
}
