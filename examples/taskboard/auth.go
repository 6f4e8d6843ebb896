package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mizan-afi/mizan"
)

// The session cookie. Its value is "<user id>.<expiry, unix seconds>.<mac>"
// where mac is the base64url HMAC-SHA256 of the first two parts under the
// database's cookie secret: it cannot be forged or extended without the
// secret.
const (
	sessionCookie = "taskboard_session"
	sessionMaxAge = 30 * 24 * time.Hour
)

// sessions signs and verifies session cookies.
type sessions struct {
	secret []byte
}

// mac returns the signature of payload.
func (s *sessions) mac(payload string) string {
	h := hmac.New(sha256.New, s.secret)
	h.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// sign returns the cookie value for user id, valid until expires.
func (s *sessions) sign(id int, expires time.Time) string {
	payload := strconv.Itoa(id) + "." + strconv.FormatInt(expires.Unix(), 10)
	return payload + "." + s.mac(payload)
}

// verify returns the user id of a cookie value that is well formed, signed
// with the secret and not expired at now.
func (s *sessions) verify(value string, now time.Time) (int, bool) {
	i := strings.LastIndexByte(value, '.')
	if i < 0 || !hmac.Equal([]byte(value[i+1:]), []byte(s.mac(value[:i]))) {
		return 0, false
	}
	idText, expText, ok := strings.Cut(value[:i], ".")
	if !ok {
		return 0, false
	}
	id, err1 := strconv.Atoi(idText)
	exp, err2 := strconv.ParseInt(expText, 10, 64)
	if err1 != nil || err2 != nil || id <= 0 || now.Unix() >= exp {
		return 0, false
	}
	return id, true
}

// authenticate is the app's Authenticator: the user named by a valid
// session cookie, or an anonymous caller. A cookie that does not verify
// (expired, or signed by the secret of a database since deleted) counts as
// no cookie rather than an error, so that a stale browser can still sign in.
// The cookie is a credential the browser sends on its own, so the caller is
// not Bearer: its calls must carry the CSRF token, which the generated
// client sends.
func (s *store) authenticate(r *http.Request) (*mizan.Identity, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || s.sessions == nil {
		return nil, nil
	}
	id, ok := s.sessions.verify(c.Value, s.now())
	if !ok {
		return nil, nil
	}
	var staff bool
	err = s.db.QueryRowContext(r.Context(), "SELECT staff FROM users WHERE id = ?", id).Scan(&staff)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, unavailable("reading the caller", err)
	}
	return &mizan.Identity{ID: strconv.Itoa(id), Staff: staff}, nil
}

// SignInArgs are the arguments of sign_in.
type SignInArgs struct {
	UserID int `json:"user_id"`
}

// signIn signs the caller in as a user of the team and answers with that
// user. It is a demo: there is no password, anyone may be anyone. What is
// real is the rest: the signed cookie, the Authenticator reading it, the
// guards and the CSRF check that follow from it.
func (s *store) signIn(ctx context.Context, in SignInArgs) (User, error) {
	u := User{ID: in.UserID}
	err := s.db.QueryRowContext(ctx, "SELECT name, email, staff FROM users WHERE id = ?", in.UserID).Scan(&u.Name, &u.Email, &u.Staff)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, mizan.Errorf(mizan.CodeNotFound, "no user %d", in.UserID)
	}
	if err != nil {
		return User{}, unavailable("signing in", err)
	}
	expires := s.now().Add(sessionMaxAge)
	setCookie(ctx, &http.Cookie{
		Name: sessionCookie, Value: s.sessions.sign(u.ID, expires),
		MaxAge: int(sessionMaxAge / time.Second),
	})
	return u, nil
}

// signOut removes the session cookie.
func (s *store) signOut(ctx context.Context, _ struct{}) (OK, error) {
	setCookie(ctx, &http.Cookie{Name: sessionCookie, Value: "", MaxAge: -1})
	return OK{true}, nil
}

// setCookie adds c to the response of the current call, HttpOnly, for the
// whole site, SameSite=Lax, and Secure when the request came over TLS.
func setCookie(ctx context.Context, c *http.Cookie) {
	c.Path, c.HttpOnly, c.SameSite = "/", true, http.SameSiteLaxMode
	if r := mizan.Request(ctx); r != nil && r.TLS != nil {
		c.Secure = true
	}
	if h := mizan.ResponseHeader(ctx); h != nil {
		h.Add("Set-Cookie", c.String())
	}
}
