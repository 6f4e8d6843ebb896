package mizan

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
)

// serveSession serves GET session/: it sets the CSRF cookie (keeping a valid
// one the browser already has) and returns its token.
func (a *App) serveSession(w http.ResponseWriter, r *http.Request) {
	token := ""
	if c, err := r.Cookie(a.cfg.CSRFCookieName); err == nil && validCSRFToken(c.Value) {
		token = c.Value
	} else {
		var raw [32]byte
		_, _ = rand.Read(raw[:])
		token = hex.EncodeToString(raw[:])
	}
	http.SetCookie(w, &http.Cookie{
		Name:     a.cfg.CSRFCookieName,
		Value:    token,
		Path:     "/",
		MaxAge:   365 * 24 * 3600,
		HttpOnly: true,
		Secure:   r.TLS != nil || a.cfg.SecureCookies,
		SameSite: http.SameSiteLaxMode,
	})
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"csrf_token":"` + token + `"}`))
}

// validCSRFToken reports whether s has the shape session/ issues: 64
// lower-case hex digits.
func validCSRFToken(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// checkCSRF refuses a cookie-authenticated caller whose request does not
// repeat the CSRF cookie in the CSRF header. Anonymous callers and callers
// authenticated by a header credential (Identity.Bearer) pass: a cross-site
// page can make a browser send cookies, never headers.
func (a *App) checkCSRF(r *http.Request, caller *Identity) *Error {
	if caller == nil || caller.Bearer {
		return nil
	}
	c, err := r.Cookie(a.cfg.CSRFCookieName)
	sent := r.Header.Get(a.cfg.CSRFHeaderName)
	if err != nil || sent == "" || !validCSRFToken(c.Value) ||
		subtle.ConstantTimeCompare([]byte(c.Value), []byte(sent)) != 1 {
		return NewError(CodeForbidden, "CSRF token missing or incorrect: get one from session/ and send it in "+a.cfg.CSRFHeaderName)
	}
	return nil
}
