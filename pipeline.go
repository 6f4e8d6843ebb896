package mizan

import (
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
//	authenticated     the caller found once and carried in the request's context
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
// bare 500.
func (a *App) protocolEndpoint(methods ...string) step {
	allow := strings.Join(methods, ", ")
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Cache-Control"] = []string{"no-store"} // Set, without canonicalizing a canonical name
			if !slices.Contains(methods, r.Method) {
				w.Header().Set("Allow", allow)
				writeError(w, r, a.logger, NewError(CodeMethodNotAllowed, "method "+r.Method+" is not allowed here; use "+allow))
				return
			}
			defer recoverTo(w, r, a.logger)
			next.ServeHTTP(w, r)
		})
	}
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
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			writeError(w, r, a.logger, NewError(CodeBadRequest, "this endpoint accepts only Content-Type: application/json"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authenticated finds the caller once ([App.Authenticate]) and carries it,
// with the request, in the request's context, where [Caller], [Request]
// and the later steps read it. Credentials that are presented and refused
// end the request (401, or 503 when the session store is down).
func (a *App) authenticated(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller, merr := a.authenticate(r)
		if merr != nil {
			writeError(w, r, a.logger, merr)
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
		if merr := a.checkCSRF(r, Caller(r.Context())); merr != nil {
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
			r.Body = http.MaxBytesReader(w, r.Body, a.cfg.MaxBodyBytes)
		}
		next.ServeHTTP(w, r)
	})
}
