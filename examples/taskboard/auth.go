package main

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"strconv"
	"strings"

	"github.com/mizan-afi/mizan/auth"
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
// the sign-in page shows them.

// username returns the username of a user: the local part of their email
// address ("ada" for ada@example.com).
func username(email string) string {
	name, _, _ := strings.Cut(email, "@")
	return strings.ToLower(name)
}

// demoPassword is the password of a demo user: their username. A real app
// stores a bcrypt or argon2 hash and compares with it.
func demoPassword(username string) string { return username }

// credentials is the app's credential check (auth.Config.Credentials): the
// user whose username is username, if password is theirs. It returns nil
// for a wrong username or password (401), an error when the database fails.
func (s *store) credentials(ctx context.Context, name, password string) (*auth.User, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	if name == "" || strings.Contains(name, "@") {
		return nil, nil
	}
	var id int
	var staff bool
	err := s.db.QueryRowContext(ctx, "SELECT id, staff FROM users WHERE lower(email) = ?", name+"@example.com").Scan(&id, &staff)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, unavailable("checking a password", err)
	}
	if subtle.ConstantTimeCompare([]byte(password), []byte(demoPassword(name))) != 1 {
		return nil, nil
	}
	return &auth.User{ID: strconv.Itoa(id), Staff: staff}, nil
}
