package mizan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// This file is what a package that plugs into the app (package live, the
// WebSocket transport) uses: an endpoint of its own under the prefix, and
// the app's authentication, context checks and calls, exactly as the HTTP
// endpoints apply them.

// extraEndpoint is an endpoint added by [App.Handle].
type extraEndpoint struct {
	path string
	h    http.Handler
}

// reservedSegments are the first path segments of the built-in endpoints.
var reservedSegments = []string{"session", "call", "ctx", "auth"}

// Handle serves h at path under the prefix: Handle("ws/", h) serves
// /api/mizan/ws/, that path only (not the paths below it), for every
// method; h answers the request as it likes. It is how a package that plugs
// into the app adds an endpoint (package live adds ws/).
//
// path is one or more segments of ASCII letters, digits, '_', '-' and '.',
// each followed by "/" (not "." or "..", which no request path keeps
// after cleaning). Handle refuses a path whose first segment is one of
// the built-in endpoints' (session, call, ctx, auth), a nil handler, and a
// call after [App.Build]; two handlers on one path are reported by Build.
func (a *App) Handle(path string, h http.Handler) error {
	if h == nil {
		return fmt.Errorf("mizan: Handle %q: nil handler", path)
	}
	if !strings.HasSuffix(path, "/") {
		return fmt.Errorf("mizan: Handle %q: the path must end with /", path)
	}
	segs := strings.Split(strings.TrimSuffix(path, "/"), "/")
	for _, s := range segs {
		if !validName(s) || s == "." || s == ".." {
			return fmt.Errorf("mizan: Handle %q: segment %q must be made of letters, digits, '_', '-' and '.', and not be . or ..", path, s)
		}
	}
	if slices.Contains(reservedSegments, segs[0]) {
		return fmt.Errorf("mizan: Handle %q: %s/ belongs to the built-in endpoints", path, segs[0])
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.built {
		return fmt.Errorf("mizan: Handle %q: the app is already built; add endpoints before Build", path)
	}
	a.extra = append(a.extra, extraEndpoint{path: path, h: h})
	return nil
}

// Config returns the app's configuration with the defaults [New] filled in
// (Prefix, MaxBodyBytes, the CSRF cookie and header names). Modifying the
// copy changes nothing in the app.
func (a *App) Config() Config {
	c := a.cfg
	c.TrustedOrigins = slices.Clone(c.TrustedOrigins)
	return c
}

// Authenticate finds the caller of r as the endpoints do: by an access
// token or session cookie when [Config.Auth] is set, then by the
// [Config.Authenticator]. It returns a nil identity and no error for an
// anonymous caller. Credentials that are presented but refused are an
// [*Error]: unauthorized, or unavailable when the session store cannot be
// reached. It builds the app if needed.
func (a *App) Authenticate(r *http.Request) (*Identity, error) {
	if err := a.Build(); err != nil {
		return nil, err
	}
	id, merr := a.authenticate(r)
	if merr != nil {
		return nil, merr
	}
	return id, nil
}

// CheckContext makes the checks GET ctx/<name>/ makes before it runs any
// function, for the instance of context name with params (their wire
// strings, PROTOCOL.md §4) fetched by caller: it reports not_found for an
// unknown context, invalid_args for unknown or malformed parameters, and
// the guards' unauthorized or forbidden, each as an [*Error]; nil means the
// fetch would be allowed. r is the request the caller came with (guards
// made with [RequireFunc] read it); nil stands for a GET of the context.
// It builds the app if needed.
func (a *App) CheckContext(r *http.Request, caller *Identity, name string, params map[string]string) error {
	if err := a.Build(); err != nil {
		return err
	}
	cp, ok := a.plan.contexts[name]
	if !ok || len(cp.fetch) == 0 {
		return NewError(CodeNotFound, "no context named "+quote(name))
	}
	query := make(url.Values, len(params))
	for k, v := range params {
		query.Set(k, v)
	}
	if r == nil {
		var err error
		target := a.cfg.Prefix + "ctx/" + url.PathEscape(name) + "/?" + query.Encode()
		if r, err = http.NewRequest(http.MethodGet, target, nil); err != nil {
			return NewError(CodeBadRequest, "cannot form a request for context "+quote(name)).WithCause(err)
		}
	}
	if _, merr := a.decodeContext(r, caller, cp, query); merr != nil {
		return merr
	}
	return nil
}

// CallRequest is one call of a function made through [App.Call].
type CallRequest struct {
	// Fn is the function's wire name.
	Fn string
	// Args is the JSON object of the arguments; empty means none.
	Args json.RawMessage
	// Request is the HTTP request the call came with (for a WebSocket, the
	// upgrade request): what [Request] returns inside the function and what
	// guards made with [RequireFunc] see. It must not be nil.
	Request *http.Request
	// Caller is who calls ([App.Authenticate]); nil is anonymous.
	Caller *Identity
	// WebSocket restricts the call to functions registered with
	// [WebSocket]: another function that call/ would run is refused with
	// method_not_allowed.
	WebSocket bool
}

// CallResult is the answer of a successful [App.Call]: what POST call/
// answers with, in two parts.
type CallResult struct {
	// Result is the JSON encoding of the function's return value.
	Result json.RawMessage
	// Invalidate holds the invalidation targets of the call, which have
	// already gone to every [Invalidator].
	Invalidate []Target
}

// Call runs a function as POST call/ does, for code that carries calls
// over another transport (package live): the same lookup (an unknown or
// private function, a context function or a view is not_found), guard,
// argument decoding and validation, panic recovery and targets, which go
// to every [Invalidator] with ctx before Call returns. The function runs
// with ctx, in which [Caller] and [Request] return req's caller and
// request. The CSRF and cross-origin checks of call/ are the transport's to
// make (a WebSocket's origin is checked when it opens).
//
// A failure is the [*Error] call/ would answer with: the function's own,
// or internal for an unexpected error, which is logged and not returned.
func (a *App) Call(ctx context.Context, req CallRequest) (CallResult, error) {
	if err := a.Build(); err != nil {
		return CallResult{}, err
	}
	if req.Request == nil {
		return CallResult{}, errors.New("mizan: Call: CallRequest.Request is nil")
	}
	if req.Fn == "" {
		return CallResult{}, NewError(CodeBadRequest, `the call is missing "fn"`)
	}
	f, ok := a.plan.callable[req.Fn]
	if !ok {
		return CallResult{}, NewError(CodeNotFound, "no function named "+quote(req.Fn))
	}
	if req.WebSocket && !f.meta.WebSocket {
		return CallResult{}, NewError(CodeMethodNotAllowed, "function "+quote(req.Fn)+" is not callable over WebSocket (it is not registered with mizan.WebSocket()); call it through call/")
	}
	ctx = withCall(ctx, &callInfo{r: req.Request, caller: req.Caller})
	out, targets, err := a.runCall(ctx, f, req.Args, nil)
	if err != nil {
		if me, ok := asError(err); ok {
			return CallResult{}, me
		}
		a.logger.Error("mizan: internal error", "fn", req.Fn, "err", err)
		return CallResult{}, errInternal
	}
	a.fanOut(ctx, Invalidation{Source: f.meta.Name, Targets: targets, Caller: req.Caller})
	return CallResult{Result: out, Invalidate: targets}, nil
}
