package mizan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/mizan-afi/mizan/auth"
	"github.com/mizan-afi/mizan/protocol"
)

// Auth returns the sign-in service built from [Config.Auth], or nil when
// auth is off or the app has not been built. Use it to sign users in from
// code (auth.Service.Issue, StartCookieSession) or to revoke a session.
func (a *App) Auth() *auth.Service {
	if a.Build() != nil {
		return nil
	}
	return a.auth
}

// buildAuth builds the auth service of cfg.Auth and checks that no secret
// is shared with the cache.
func (a *App) buildAuth() error {
	if a.cfg.Auth == nil {
		return nil
	}
	svc, err := auth.New(*a.cfg.Auth)
	if err != nil {
		return err
	}
	if c := a.cfg.Cache; c != nil {
		if c.UsesSecret(a.cfg.Auth.PrivateKey) {
			return errors.New("the cache secret and the JWT key (Config.Auth.PrivateKey) are identical: each secret must be distinct")
		}
		if a.cfg.Auth.MWTSecret != nil && c.UsesSecret(a.cfg.Auth.MWTSecret) {
			return errors.New("the cache secret and the MWT secret (Config.Auth.MWTSecret) are identical: each secret must be distinct")
		}
	}
	a.auth = svc
	return nil
}

// authError turns an error of package auth into the protocol's error (a
// *auth.RateLimitedError is turned by asError, wherever it comes from).
func (a *App) authError(_ http.ResponseWriter, r *http.Request, err error) error {
	switch {
	case errors.Is(err, auth.ErrBadCredentials):
		return NewError(CodeUnauthorized, "wrong username or password")
	case errors.Is(err, auth.ErrExpiredToken):
		return NewError(CodeUnauthorized, "token expired: get a new access token from auth/refresh/")
	case errors.Is(err, auth.ErrReused):
		return NewError(CodeUnauthorized, "refresh token already used: the session is revoked; sign in again")
	case errors.Is(err, auth.ErrRevoked):
		return NewError(CodeUnauthorized, "session revoked: sign in again")
	case errors.Is(err, auth.ErrInvalidToken):
		return NewError(CodeUnauthorized, "invalid token")
	case errors.Is(err, auth.ErrUnavailable):
		a.logger.Warn("mizan: auth: session store unavailable", "path", r.URL.Path, "err", err)
		return NewError(CodeUnavailable, "sign-in is unavailable; try again").WithCause(err)
	}
	if me, ok := asError(err); ok {
		return me
	}
	return err // writeError logs it and answers 500
}

// decodeAuthBody reads a JSON object of string members into dst, refusing
// another content type, unknown members and trailing data; required
// members that are missing or empty are reported by name. The steps in
// front of it (routes) checked the origin, the content type and the size.
func (a *App) decodeAuthBody(r *http.Request, dst any, shape string, required map[string]*string) error {
	buf := getBuf()
	defer putBuf(buf)
	body, err := a.readBody(r, buf.b[:0])
	if err != nil {
		return err
	}
	buf.b = body
	if err := protocol.UnmarshalStrict(body, dst); err != nil {
		if protocol.IsDuplicateName(err) {
			return NewError(CodeBadRequest, "body names a member twice")
		}
		return NewError(CodeBadRequest, "body must be the JSON object "+shape+" (member names are exact)")
	}
	fields := map[string]string{}
	for name, v := range required {
		if *v == "" {
			fields[name] = "required"
		}
	}
	if len(fields) > 0 {
		return invalidArgs(fields)
	}
	return nil
}

// writeJSONResponse answers 200 with v as JSON.
func (a *App) writeJSONResponse(w http.ResponseWriter, r *http.Request, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, r, a.logger, fmt.Errorf("encoding an auth response: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// serveToken serves POST auth/token/: {"username", "password"} →
// {"access", "refresh"}.
func (a *App) serveToken(w http.ResponseWriter, r *http.Request) {
	if !a.auth.CanLogin() {
		writeError(w, r, a.logger, NewError(CodeNotFound, "auth/token/ is off: the app configures no credential check"))
		return
	}
	var in struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := a.decodeAuthBody(r, &in, `{"username": "...", "password": "..."}`, map[string]*string{"username": &in.Username, "password": &in.Password}); err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	// Failures are limited per username and per client address (shared
	// through the limiter's Redis); a success counts nothing and resets
	// nothing, so that it cannot clear the count of an attack from another
	// address. Unknown users and wrong passwords are one failure, one
	// answer.
	u, err := a.auth.CheckCredentials(r.Context(), auth.ClientAddress(r), in.Username, in.Password)
	if err != nil {
		writeError(w, r, a.logger, a.authError(w, r, err))
		return
	}
	pair, err := a.auth.Issue(r.Context(), *u)
	if err != nil {
		writeError(w, r, a.logger, a.authError(w, r, err))
		return
	}
	a.writeJSONResponse(w, r, pair)
}

// serveRefresh serves POST auth/refresh/: {"refresh"} → a new
// {"access", "refresh"}.
func (a *App) serveRefresh(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Refresh string `json:"refresh"`
	}
	if err := a.decodeAuthBody(r, &in, `{"refresh": "..."}`, map[string]*string{"refresh": &in.Refresh}); err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	pair, err := a.auth.Refresh(r.Context(), in.Refresh)
	if err != nil {
		writeError(w, r, a.logger, a.authError(w, r, err))
		return
	}
	a.writeJSONResponse(w, r, pair)
}

// serveLogout serves POST auth/logout/: it deletes the session of the
// access token (or session cookie) the request carries, or with
// {"everywhere": true} every session of its user, and clears the cookie.
func (a *App) serveLogout(w http.ResponseWriter, r *http.Request) {
	p, err := a.auth.Authenticate(r)
	if err != nil {
		writeError(w, r, a.logger, a.authError(w, r, err))
		return
	}
	if p == nil {
		writeError(w, r, a.logger, NewError(CodeUnauthorized, "no session to end: send Authorization: Bearer <access token>"))
		return
	}
	// A cookie caller proves the request is its own with the CSRF token,
	// as on call/: no other site can sign it out.
	if merr := a.checkCSRF(r, &Identity{ID: p.ID, Bearer: p.Bearer}); merr != nil {
		writeError(w, r, a.logger, merr)
		return
	}
	everywhere, merr := a.logoutEverywhere(r)
	if merr != nil {
		writeError(w, r, a.logger, merr)
		return
	}
	if everywhere {
		err = a.auth.RevokeUser(r.Context(), p.ID)
	} else {
		err = a.auth.Revoke(r.Context(), p.SessionID)
	}
	if err != nil {
		writeError(w, r, a.logger, a.authError(w, r, err))
		return
	}
	if !p.Bearer {
		http.SetCookie(w, a.auth.ClearCookie())
	}
	a.writeJSONResponse(w, r, struct {
		OK bool `json:"ok"`
	}{true})
}

// logoutEverywhere reads the optional body of auth/logout/: none (or an
// empty one), or the JSON object {"everywhere": bool}.
func (a *App) logoutEverywhere(r *http.Request) (bool, error) {
	if r.ContentLength == 0 && r.Header.Get("Content-Type") == "" {
		return false, nil
	}
	if !isJSONType(r.Header["Content-Type"]) {
		return false, NewError(CodeBadRequest, `the body of auth/logout/ is none, or the JSON object {"everywhere": true} with Content-Type: application/json`)
	}
	buf := getBuf()
	defer putBuf(buf)
	body, err := a.readBody(r, buf.b[:0])
	if err != nil {
		return false, err
	}
	buf.b = body
	if len(bytes.TrimSpace(body)) == 0 {
		return false, nil
	}
	var in struct {
		Everywhere bool `json:"everywhere"`
	}
	if err := protocol.UnmarshalStrict(body, &in); err != nil {
		return false, NewError(CodeBadRequest, `the body of auth/logout/ must be the JSON object {"everywhere": true} (or none)`)
	}
	return in.Everywhere, nil
}

// serveMWT serves GET auth/mwt/: an MWT for the signed-in caller, as
// {"token", "expires_at"} (Unix seconds).
func (a *App) serveMWT(w http.ResponseWriter, r *http.Request) {
	if !a.auth.CanIssueMWT() {
		writeError(w, r, a.logger, NewError(CodeNotFound, "auth/mwt/ is off: the app configures no MWT secret"))
		return
	}
	caller, merr := a.authenticate(r)
	if merr != nil {
		writeError(w, r, a.logger, merr)
		return
	}
	if caller == nil {
		writeError(w, r, a.logger, NewError(CodeUnauthorized, "authentication required: send Authorization: Bearer <access token>"))
		return
	}
	tok, exp, err := a.auth.IssueMWT(auth.User{ID: caller.ID, Staff: caller.Staff, Superuser: caller.Superuser})
	if err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	a.writeJSONResponse(w, r, struct {
		Token     string `json:"token"`
		ExpiresAt int64  `json:"expires_at"`
	}{tok, exp.Unix()})
}
