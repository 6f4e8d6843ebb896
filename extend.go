package mizan

import (
	"fmt"
	"github.com/mizan-afi/mizan/protocol"
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

// authEndpoint is an endpoint added by [App.HandleAuth].
type authEndpoint struct {
	name string
	h    http.Handler
}

// builtinAuth are the names of the built-in auth/ endpoints.
var builtinAuth = []string{"token", "refresh", "logout", "mwt"}

// HandleAuth serves h for every path under auth/<name>/ below the prefix
// (HandleAuth("oidc", h) serves /api/mizan/auth/oidc/ and everything under
// it), for every method: it is how a sign-in package (auth/oidc, the
// providers; auth/passkey) adds its endpoints. h gets the request as it
// came (r.URL.Path is the whole path) with Cache-Control: no-store already
// set, and answers errors with [App.WriteError]. The app must have sign-in
// on ([Config.Auth]): Build refuses a HandleAuth without it. HandleAuth
// refuses a name that is not made of letters, digits, '_', '-' and '.',
// the built-in endpoints' names (token, refresh, logout, mwt), a nil
// handler and a call after [App.Build]; two handlers for one name are
// reported by Build.
func (a *App) HandleAuth(name string, h http.Handler) error {
	if h == nil {
		return fmt.Errorf("mizan: HandleAuth %q: nil handler", name)
	}
	if !validName(name) || slices.Contains(builtinAuth, name) {
		return fmt.Errorf("mizan: HandleAuth %q: the name must be made of letters, digits, '_', '-' and '.', and not be one of %s", name, strings.Join(builtinAuth, ", "))
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.built {
		return fmt.Errorf("mizan: HandleAuth %q: the app is already built; add endpoints before Build", name)
	}
	a.extraAuth = append(a.extraAuth, authEndpoint{name: name, h: h})
	return nil
}

// WriteError answers r with err in the protocol's error envelope
// (docs/spec.md §5), as the built-in endpoints do: a [*Error] as it is;
// an error of package auth as the auth/ endpoints answer it (429
// rate_limited with Retry-After for auth.ErrRateLimited, 401 for a wrong
// credential or token, 503 when the session store is down); any other
// error as 500 internal, its text logged and never sent. For the handlers
// of [App.HandleAuth] and [App.Handle].
func (a *App) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, r, a.logger, a.authError(w, r, err))
}

// CheckCSRF applies the CSRF check of call/ to r for caller: nil for an
// anonymous or Bearer caller (a page of another site cannot make a browser
// send an Authorization header), else the CSRF cookie must be a valid
// token and the CSRF header must repeat it (403 forbidden otherwise). For
// the endpoints of [App.HandleAuth] and [App.Handle] that a cookie caller
// may reach.
func (a *App) CheckCSRF(r *http.Request, caller *Identity) error {
	if e := a.checkCSRF(r, caller); e != nil {
		return e
	}
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
// strings, docs/spec.md §4) fetched by caller, and returns the instance the
// fetch names: its params normalized through their declared types
// (`01` → `1`, docs/spec.md §4), sorted, as the origin cache and the
// matching rule ([protocol.Match]) see them. It reports not_found for an
// unknown context, invalid_args for unknown or malformed parameters, and
// the guards' unauthorized or forbidden, each as an [*Error]. r is the
// request the caller came with (guards made with [RequireFunc] read it);
// nil stands for a GET of the context. It builds the app if needed.
func (a *App) CheckContext(r *http.Request, caller *Identity, name string, params map[string]string) (protocol.Instance, error) {
	if err := a.Build(); err != nil {
		return protocol.Instance{}, err
	}
	cp, ok := a.plan.contexts[name]
	if !ok || len(cp.fetch) == 0 {
		return protocol.Instance{}, NewError(CodeNotFound, "no context named "+quote(name))
	}
	query := make(url.Values, len(params))
	for k, v := range params {
		query.Set(k, v)
	}
	if r == nil {
		var err error
		target := a.cfg.Prefix + "ctx/" + url.PathEscape(name) + "/?" + query.Encode()
		if r, err = http.NewRequest(http.MethodGet, target, nil); err != nil {
			return protocol.Instance{}, NewError(CodeBadRequest, "cannot form a request for context "+quote(name)).WithCause(err)
		}
	}
	if _, merr := a.decodeContext(r, caller, cp, query); merr != nil {
		return protocol.Instance{}, merr
	}
	inst := protocol.Instance{Context: cp.name}
	for _, p := range instanceParams(cp, query) {
		inst.Params = append(inst.Params, protocol.Param{Name: p.Name, Value: p.Value})
	}
	return inst, nil
}
