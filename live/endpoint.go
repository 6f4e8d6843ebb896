package live

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/coder/websocket"
	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/protocol"
)

// ServeHTTP serves the endpoint: it checks the upgrade request (its
// handshake, its origin, the connection caps), authenticates it as the
// app's HTTP endpoints do, upgrades it and serves the connection until it
// closes. Every refusal before the upgrade is the protocol's error
// envelope: websocket.Accept, which answers in text/plain, is called only
// with a request it accepts.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeError(w, mizan.NewError(mizan.CodeMethodNotAllowed, "method "+r.Method+" is not allowed here; open a WebSocket with GET"))
		return
	}
	if !headerHasToken(r.Header, "Upgrade", "websocket") {
		writeError(w, mizan.NewError(mizan.CodeBadRequest, "this endpoint speaks WebSocket only (docs/spec.md §9): send an upgrade request"))
		return
	}
	if e := checkHandshake(w, r); e != nil {
		writeError(w, e)
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
	if _, ok := hijacker(w); !ok {
		h.logger.Error("live: the ResponseWriter of ws/ cannot be hijacked (HTTP/2, or a middleware that hides http.Hijacker): no WebSocket can be served")
		writeError(w, mizan.NewError(mizan.CodeInternal, "internal server error"))
		return
	}
	// The caps come before anything costly (authentication, the upgrade):
	// the slot taken here is given back below unless it becomes the
	// connection's, which gives it back when it closes.
	addr := clientAddr(r)
	if e := h.admit(addr); e != nil {
		if e.Status() == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
		}
		writeError(w, e)
		return
	}
	held := true
	defer func() {
		if held {
			h.release(addr)
		}
	}()
	caller, err := h.app.Authenticate(r)
	if err != nil {
		writeError(w, asMizanError(h.logger, err))
		return
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: h.origins})
	if err != nil {
		// The checks above leave Accept only a failed hijack to refuse,
		// after the 101 status is written.
		h.logger.Warn("live: upgrade failed", "err", err)
		return
	}
	ws.SetReadLimit(h.opts.MaxMessageBytes)
	if key == "" {
		var raw [12]byte
		_, _ = rand.Read(raw[:])
		key = "s-" + hex.EncodeToString(raw[:])
	}
	c := newConn(h, ws, r, caller, key)
	c.addr = addr
	if !h.register(c) {
		_ = ws.Close(CloseShutdown, "server shutting down")
		return
	}
	held = false // the connection's now: unregister gives it back
	defer h.wg.Done()
	c.serve()
	h.unregister(c)
}

// checkHandshake checks what RFC 6455 §4.2.1 asks of an opening handshake
// beside its method and Upgrade header (checked before it), exactly as
// websocket.Accept does or more strictly, so that what it lets through
// Accept accepts: HTTP/1.1 or later, the token "upgrade" in Connection,
// one Sec-WebSocket-Version of 13 (a refusal of another version carries
// Sec-WebSocket-Version: 13, as §4.4 asks) and one Sec-WebSocket-Key that
// is 16 bytes in base64. A refusal is 400 bad_request.
func checkHandshake(w http.ResponseWriter, r *http.Request) *mizan.Error {
	if !r.ProtoAtLeast(1, 1) {
		return mizan.Errorf(mizan.CodeBadRequest, "a WebSocket handshake needs HTTP/1.1 or later, not %s (RFC 6455 §4.1)", r.Proto)
	}
	if !headerHasToken(r.Header, "Connection", "upgrade") {
		return mizan.NewError(mizan.CodeBadRequest, `a WebSocket handshake needs the token "Upgrade" in its Connection header (RFC 6455 §4.2.1)`)
	}
	if v := r.Header.Values("Sec-WebSocket-Version"); len(v) != 1 || v[0] != "13" {
		w.Header().Set("Sec-WebSocket-Version", "13")
		return mizan.Errorf(mizan.CodeBadRequest, "WebSocket version %s is not supported: send Sec-WebSocket-Version: 13 (RFC 6455 §4.2.1)",
			quote(strings.Join(v, ", ")))
	}
	keys := r.Header.Values("Sec-WebSocket-Key")
	if len(keys) != 1 {
		return mizan.NewError(mizan.CodeBadRequest, "a WebSocket handshake needs one Sec-WebSocket-Key header (RFC 6455 §4.2.1)")
	}
	if b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(keys[0])); err != nil || len(b) != 16 {
		return mizan.NewError(mizan.CodeBadRequest, "Sec-WebSocket-Key must be 16 random bytes in base64 (RFC 6455 §4.2.1)")
	}
	return nil
}

// hijacker finds the http.Hijacker of w as websocket.Accept does, through
// the Unwrap methods of wrapping writers.
func hijacker(w http.ResponseWriter) (http.Hijacker, bool) {
	for {
		switch t := w.(type) {
		case http.Hijacker:
			return t, true
		case interface{ Unwrap() http.ResponseWriter }:
			w = t.Unwrap()
		default:
			return nil, false
		}
	}
}

// clientAddr is the address whose connections MaxConnectionsPerClient
// bounds: the host of r.RemoteAddr (which a middleware in front of the app
// may have set from a trusted proxy's header), or all of it when it has no
// port.
func clientAddr(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
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
// scheme) matches a pattern, case-insensitively, with path.Match; a
// malformed pattern refuses the origins that reach it, so that what passes
// here Accept lets through too.
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
		ok, err := path.Match(strings.ToLower(p), strings.ToLower(target))
		if err != nil {
			return false // as websocket.Accept: a bad pattern refuses the origins it is tried on
		}
		if ok {
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
