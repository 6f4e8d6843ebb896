package mizan

import (
	"context"
	"net/http"
	"sync"
)

// Identity is the caller of a request, as an [Authenticator] established it.
type Identity struct {
	// ID identifies the user. It is the "u" of user-scoped cache keys and must
	// be stable for one user.
	ID string
	// Staff reports whether the user may call functions guarded by
	// [RequireStaff].
	Staff bool
	// Superuser reports whether the user may call functions guarded by
	// [RequireSuperuser] (a superuser passes RequireStaff too).
	Superuser bool
	// Bearer reports whether the credential came in a request header that a
	// browser never attaches on its own (Authorization: Bearer, an API key).
	// Such callers are exempt from the CSRF check; the zero value, for cookie
	// credentials, is checked.
	Bearer bool
}

// Authenticator finds the caller of a request. It returns a nil identity and a
// nil error for an anonymous caller, and an error when credentials were
// presented but are not valid (the request is then refused with 401; an
// [*Error] returned here is sent as it is).
type Authenticator interface {
	Authenticate(r *http.Request) (*Identity, error)
}

// AuthenticatorFunc adapts a function to [Authenticator].
type AuthenticatorFunc func(r *http.Request) (*Identity, error)

// Authenticate calls f(r).
func (f AuthenticatorFunc) Authenticate(r *http.Request) (*Identity, error) { return f(r) }

// callInfo is what a running server function can reach through its context.
type callInfo struct {
	// r is the request of the call (what [Request] returns). When base is
	// set, r is formed from it on first use, under mu (see request).
	r *http.Request
	// base, when not nil, is the request as the server gave it to a
	// protocol endpoint, which does not copy it to carry the call in its
	// context (pipeline.go, protoWriter); ctx is then the call's context.
	base   *http.Request
	ctx    context.Context
	caller *Identity
	header http.Header // response headers the function adds; allocated on first use

	mu     sync.Mutex     // guards scopes, and r when base is set: a function may call ScopeTo or Request from goroutines
	scopes []runtimeScope // recorded by ScopeTo and ScopeFunctionTo
}

// request returns the request of the call: r, or, for a protocol
// endpoint, base carrying the call's context, formed on first use so
// that a request whose functions never ask for it does not pay for the
// copy (http.Request.WithContext).
func (ci *callInfo) request() *http.Request {
	if ci.base == nil {
		return ci.r
	}
	ci.mu.Lock()
	defer ci.mu.Unlock()
	if ci.r == nil {
		ci.r = ci.base.WithContext(ci.ctx)
	}
	return ci.r
}

// guardRequest returns the request a guard of kind rule is given: the
// call's request for a predicate ([RequireFunc]), which reads it; the
// other guards read only the caller, so they get the request without
// forming it.
func (ci *callInfo) guardRequest(rule authRule) *http.Request {
	if rule.kind == "predicate" {
		return ci.request()
	}
	if ci.base != nil {
		return ci.base
	}
	return ci.r
}

// callKey is the context key of the *callInfo.
type callKey struct{}

// callCtx is a context carrying a *callInfo: one allocation for both.
type callCtx struct {
	context.Context
	ci callInfo
}

// Value returns the call's *callInfo for callKey, and defers to the parent
// context otherwise.
func (c *callCtx) Value(key any) any {
	if _, ok := key.(callKey); ok {
		return &c.ci
	}
	return c.Context.Value(key)
}

// withCall returns a context carrying a new *callInfo for the call by caller
// of r (r may be set later, through the returned pointer).
func withCall(ctx context.Context, r *http.Request, caller *Identity) (context.Context, *callInfo) {
	c := &callCtx{Context: ctx, ci: callInfo{r: r, caller: caller}}
	return c, &c.ci
}

func callFrom(ctx context.Context) *callInfo {
	ci, _ := ctx.Value(callKey{}).(*callInfo)
	return ci
}

// Request returns the HTTP request a server function is serving, or nil when
// ctx does not come from a Mizan dispatch. The body of a call/ request has
// already been read.
func Request(ctx context.Context) *http.Request {
	if ci := callFrom(ctx); ci != nil {
		return ci.request()
	}
	return nil
}

// Caller returns the identity of the caller, or nil for an anonymous caller or
// when ctx does not come from a Mizan dispatch.
func Caller(ctx context.Context) *Identity {
	if ci := callFrom(ctx); ci != nil {
		return ci.caller
	}
	return nil
}

// ResponseHeader returns the header map whose entries are added to the
// response of the current call (cookies, for example). Inside a server
// function it is never nil; each function of a context fetch has its own, and
// they are merged in function-name order. Outside a dispatch it returns nil.
func ResponseHeader(ctx context.Context) http.Header {
	ci := callFrom(ctx)
	if ci == nil {
		return nil
	}
	if ci.header == nil {
		ci.header = make(http.Header)
	}
	return ci.header
}

// mergeHeader copies src's entries into dst.
func mergeHeader(dst, src http.Header) {
	for k, vs := range src {
		for _, v := range vs {
			dst.Add(k, v)
		}
	}
}
