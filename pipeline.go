package mizan

import (
	"context"
	"mime"
	"net/http"
	"slices"
	"strings"
)

// A request to a Mizan endpoint or view passes through a pipeline of steps,
// each an ordinary middleware, composed in routes (plan.go):
//
//	protocolEndpoint  Cache-Control: no-store, the method check, panics → internal
//	sameOrigin        cross-origin state-changing requests refused (403)
//	jsonBody          Content-Type: application/json required (400)
//	authenticated     the caller found once and carried to the later steps and the functions
//	csrfProtected     a cookie-authenticated caller must repeat the CSRF token (403)
//	bodyLimit         the body bounded by Config.MaxBodyBytes (413)
//
// The function pipeline after them (guard, decoding, validation, the run,
// the emission step) is shared by HTTP, views, WebSocket calls and the
// in-process API ([App.Call], [App.Fetch]).

// step is one stage of a request pipeline.
type step = func(http.Handler) http.Handler

// pipeline wraps h in steps, the first step outermost.
func pipeline(h http.Handler, steps ...step) http.Handler {
	for i := len(steps) - 1; i >= 0; i-- {
		h = steps[i](h)
	}
	return h
}

// protocolEndpoint is the first step of every protocol endpoint: no-store
// caching, the method check, and the guarantee that nothing escapes as a
// bare 500. It passes the steps after it a *protoWriter.
func (a *App) protocolEndpoint(methods ...string) step {
	allow := strings.Join(methods, ", ")
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !slices.Contains(methods, r.Method) {
				w.Header()["Cache-Control"] = []string{"no-store"} // Set, without canonicalizing a canonical name
				w.Header().Set("Allow", allow)
				writeError(w, r, a.logger, NewError(CodeMethodNotAllowed, "method "+r.Method+" is not allowed here; use "+allow))
				return
			}
			pw := &protoWriter{ResponseWriter: w}
			pw.vals[0] = "no-store"
			w.Header()["Cache-Control"] = pw.vals[0:1:1] // Set, without canonicalizing a canonical name
			defer recoverTo(w, r, a.logger)
			next.ServeHTTP(pw, r)
		})
	}
}

// protoWriter is the ResponseWriter the steps after protocolEndpoint and
// the endpoint itself write to: the server's, with room for what a
// protocol request needs once, so that it costs one allocation.
//
// The authenticated step records the call in call rather than copying
// the request to carry it in the request's context (what
// http.Request.WithContext costs, for every request, cache hits
// included): the steps after it and the endpoint find it with callOf, and
// the functions run with &call as their context. [Request] still returns
// a request whose context carries the call, formed from the server's when
// something first asks for it (callInfo.request).
type protoWriter struct {
	http.ResponseWriter
	call   callCtx
	authed bool // authenticated filled call
	// vals holds the values of Cache-Control, Content-Type and
	// X-Mizan-Cache, each header's slice a capacity-1 window on it, so an
	// Add appends to a copy.
	vals [3]string
}

// Unwrap returns the server's ResponseWriter, for http.ResponseController.
func (w *protoWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// setHeader sets the header name, which must be canonical, to value: in
// the *protoWriter's room at slot (1 or 2; 0 is Cache-Control's) when w
// is one, with Header.Set otherwise.
func setHeader(w http.ResponseWriter, h http.Header, slot int, name, value string) {
	if pw, ok := w.(*protoWriter); ok {
		pw.vals[slot] = value
		h[name] = pw.vals[slot : slot+1 : slot+1]
		return
	}
	h.Set(name, value)
}

// unwrapProto returns the server's ResponseWriter under a *protoWriter.
func unwrapProto(w http.ResponseWriter) http.ResponseWriter {
	if pw, ok := w.(*protoWriter); ok {
		return pw.ResponseWriter
	}
	return w
}

// serverWriter returns the server's own writer under w's wrappers (the
// protoWriter, an Observer's writer: whatever has Unwrap), so that
// http.MaxBytesReader reaches the server's and, on a body too large, makes
// it close the connection rather than read the rest of the body. Regression:
// with an Observer the 413 kept the connection open.
func serverWriter(w http.ResponseWriter) http.ResponseWriter {
	w = unwrapProto(w)
	for {
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return w
		}
		w = unwrapProto(u.Unwrap())
	}
}

// callOf returns the call the authenticated step recorded for the request
// and the context its functions run with: in the *protoWriter of a
// protocol endpoint, or else in the request's context. The *callInfo is
// nil when no authenticated step ran.
func callOf(w http.ResponseWriter, r *http.Request) (context.Context, *callInfo) {
	if pw, ok := w.(*protoWriter); ok && pw.authed {
		return &pw.call, &pw.call.ci
	}
	ctx := r.Context()
	return ctx, callFrom(ctx)
}

// sameOrigin refuses cross-origin state-changing requests (not from
// Config.TrustedOrigins) with 403, as net/http's CrossOriginProtection
// decides.
func (a *App) sameOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := a.plan.cop.Check(r); err != nil {
			writeError(w, r, a.logger, NewError(CodeForbidden, "cross-origin request refused"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// jsonBody refuses a request whose body is not declared JSON.
func (a *App) jsonBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isJSONType(r.Header["Content-Type"]) {
			writeError(w, r, a.logger, NewError(CodeBadRequest, "this endpoint accepts only Content-Type: application/json"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// isJSONType reports whether the Content-Type values vs (the header's
// first value, as Header.Get reads it) declare JSON: what
// mime.ParseMediaType decides, without parsing the common exact value.
func isJSONType(vs []string) bool {
	if len(vs) == 0 {
		return false
	}
	if vs[0] == "application/json" {
		return true
	}
	mt, _, err := mime.ParseMediaType(vs[0])
	return err == nil && mt == "application/json"
}

// authenticated finds the caller once ([App.Authenticate]) and carries it,
// with the request, to the later steps and the functions, where [Caller]
// and [Request] read it: in the *protoWriter of a protocol endpoint, or
// else in the request's context. Credentials that are presented and
// refused end the request (401, or 503 when the session store is down).
func (a *App) authenticated(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller, merr := a.authenticate(r)
		if merr != nil {
			writeError(w, r, a.logger, merr)
			return
		}
		if pw, ok := w.(*protoWriter); ok && !pw.authed {
			pw.authed = true
			c := &pw.call
			c.Context = r.Context()
			c.ci.base, c.ci.ctx, c.ci.caller = r, c, caller
			next.ServeHTTP(w, r)
			return
		}
		ctx, ci := withCall(r.Context(), nil, caller)
		r = r.WithContext(ctx)
		ci.r = r
		next.ServeHTTP(w, r)
	})
}

// csrfProtected refuses a cookie-authenticated caller (found by
// authenticated) whose request does not repeat the CSRF cookie in the CSRF
// header (csrf.go).
func (a *App) csrfProtected(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var caller *Identity
		if _, ci := callOf(w, r); ci != nil {
			caller = ci.caller
		}
		if merr := a.checkCSRF(r, caller); merr != nil {
			writeError(w, r, a.logger, merr)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// bodyLimit bounds the request body by Config.MaxBodyBytes: reading past
// it fails, and the dispatcher answers 413.
func (a *App) bodyLimit(next http.Handler) http.Handler {
	if a.cfg.MaxBodyBytes <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			r.Body = http.MaxBytesReader(serverWriter(w), r.Body, a.cfg.MaxBodyBytes)
		}
		next.ServeHTTP(w, r)
	})
}
