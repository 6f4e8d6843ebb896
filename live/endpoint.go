package live

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/coder/websocket"
	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/protocol"
)

// ServeHTTP serves the endpoint: it checks the upgrade request's origin,
// authenticates it as the app's HTTP endpoints do, upgrades it and serves
// the connection until it closes. Refusals before the upgrade are the
// protocol's error envelope.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeError(w, mizan.NewError(mizan.CodeMethodNotAllowed, "method "+r.Method+" is not allowed here; open a WebSocket with GET"))
		return
	}
	if !headerHasToken(r.Header, "Upgrade", "websocket") {
		writeError(w, mizan.NewError(mizan.CodeBadRequest, "this endpoint speaks WebSocket only (PROTOCOL.md §9): send an upgrade request"))
		return
	}
	key := r.URL.Query().Get("client")
	if key != "" && !validClientID(key) {
		writeError(w, mizan.NewError(mizan.CodeBadRequest, "the client parameter must be 8 to 64 letters, digits, '-' or '_'"))
		return
	}
	if !originAllowed(r, h.origins) {
		writeError(w, mizan.NewError(mizan.CodeForbidden, "cross-origin WebSocket refused: the page's origin is not the server's and is not among the allowed origins (Config.TrustedOrigins)"))
		return
	}
	caller, err := h.app.Authenticate(r)
	if err != nil {
		writeError(w, asMizanError(h.logger, err))
		return
	}
	h.mu.RLock()
	closed := h.closed
	h.mu.RUnlock()
	if closed {
		writeError(w, mizan.NewError(mizan.CodeUnavailable, "the server is shutting down"))
		return
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: h.origins})
	if err != nil {
		return // Accept has answered
	}
	ws.SetReadLimit(h.opts.MaxMessageBytes)
	if key == "" {
		var raw [12]byte
		_, _ = rand.Read(raw[:])
		key = "s-" + hex.EncodeToString(raw[:])
	}
	c := newConn(h, ws, r, caller, key)
	if !h.register(c) {
		_ = ws.Close(CloseShutdown, "server shutting down")
		return
	}
	defer h.wg.Done()
	c.serve()
	h.unregister(c)
}

// validClientID reports whether s can name a client: 8 to 64 ASCII
// letters, digits, '-' and '_'.
func validClientID(s string) bool {
	if len(s) < 8 || len(s) > 64 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// originAllowed applies the origin rule of websocket.Accept ahead of it, so
// that a refusal is the protocol's error envelope: a request without Origin
// (not from a browser) or from a page of the request's own host passes, as
// does one whose origin host (or scheme://host, for a pattern with a
// scheme) matches a pattern, case-insensitively, with path.Match.
func originAllowed(r *http.Request, patterns []string) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, p := range patterns {
		target := u.Host
		if strings.Contains(p, "://") {
			target = u.Scheme + "://" + u.Host
		}
		if ok, err := path.Match(strings.ToLower(p), strings.ToLower(target)); err == nil && ok {
			return true
		}
	}
	return false
}

// headerHasToken reports whether a comma-separated header has token,
// case-insensitively.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

// writeError answers an HTTP request with the protocol's error envelope.
func writeError(w http.ResponseWriter, e *mizan.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status())
	_, _ = w.Write(protocol.AppendEnvelope(nil, e.Code(), e.Message(), e.Fields()))
}

// asMizanError returns err's *mizan.Error, or logs err and returns an
// internal error.
func asMizanError(logger *slog.Logger, err error) *mizan.Error {
	var me *mizan.Error
	if errors.As(err, &me) {
		return me
	}
	logger.Error("live: internal error", "err", err)
	return mizan.NewError(mizan.CodeInternal, "internal server error")
}
