package main

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/auth"
)

// Signing in is the framework's (package auth, docs/auth.md): the app sets
// Config.Auth with the JWT key and the credential check below. Two ways in
// share that check and the same session store:
//
//   - the browser UI calls the mutation sign_in(username, password), which
//     starts a cookie session (auth.Service.StartCookieSession): an HttpOnly
//     cookie mizan_session holding the session id. A cookie is what
//     docs/auth.md recommends for server-rendered pages, since the page
//     requests carry it: the server renders a signed-in user's pages for
//     them. sign_out deletes the session, so the cookie is refused from the
//     next request on, wherever it was copied to;
//   - API clients post the same username and password to auth/token/ and
//     get a pair of JWTs (access and refresh), sent as Authorization:
//     Bearer; auth/logout/ revokes their session at once.
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

// SignInArgs are the arguments of sign_in.
type SignInArgs struct {
	Username string `json:"username" validate:"required,max=100"`
	Password string `json:"password" validate:"required,max=200"`
}

// signIn checks a username and password and starts a cookie session for
// that user, answering with the user. A wrong username or password is a
// 401.
func (s *store) signIn(ctx context.Context, in SignInArgs) (User, error) {
	svc := s.auth()
	if svc == nil {
		return User{}, mizan.NewError(mizan.CodeUnavailable, "sign-in is off")
	}
	who, err := s.credentials(ctx, in.Username, in.Password)
	if err != nil {
		return User{}, err
	}
	if who == nil {
		return User{}, mizan.NewError(mizan.CodeUnauthorized, "wrong username or password")
	}
	id, _ := strconv.Atoi(who.ID)
	u := User{ID: id}
	if err := s.db.QueryRowContext(ctx, "SELECT name, email, staff FROM users WHERE id = ?", id).Scan(&u.Name, &u.Email, &u.Staff); err != nil {
		return User{}, unavailable("signing in", err)
	}
	c, err := svc.StartCookieSession(ctx, *who)
	if err != nil {
		return User{}, mizan.NewError(mizan.CodeUnavailable, "sign-in is unavailable; try again").WithCause(err)
	}
	addCookie(ctx, c)
	return u, nil
}

// signOut ends the caller's cookie session: the session is deleted from
// the store, so the cookie is refused from the next request on, even if a
// copy of it is replayed; and the browser is told to drop it. (A caller
// with an access token signs out at auth/logout/.)
func (s *store) signOut(ctx context.Context, _ struct{}) (OK, error) {
	svc := s.auth()
	if svc == nil {
		return OK{true}, nil
	}
	if caller := mizan.Caller(ctx); caller != nil && !caller.Bearer {
		if r := mizan.Request(ctx); r != nil {
			if c, err := r.Cookie(svc.CookieName()); err == nil && c.Value != "" {
				if err := svc.Revoke(ctx, c.Value); err != nil {
					return OK{}, mizan.NewError(mizan.CodeUnavailable, "signing out failed; try again").WithCause(err)
				}
			}
		}
	}
	addCookie(ctx, svc.ClearCookie())
	return OK{true}, nil
}

// addCookie adds c to the response of the current call, Secure when the
// request came over TLS.
func addCookie(ctx context.Context, c *http.Cookie) {
	if r := mizan.Request(ctx); r != nil && r.TLS != nil {
		c.Secure = true
	}
	if h := mizan.ResponseHeader(ctx); h != nil {
		h.Add("Set-Cookie", c.String())
	}
}
