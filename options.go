package mizan

import (
	"net/http"
	"time"
)

// Context names a group of read functions that are fetched together from
// ctx/<name>/ and invalidated together. Declare one as a constant:
//
//	const User mizan.Context = "user"
//
// A context name is made of letters, digits, '_', '-' and '.'.
type Context string

// Global is the context of app-wide reads (the current user, settings) that a
// client mounts once at its root.
const Global Context = "global"

// Option configures one registered function. Options are created by the
// functions of this package only.
type Option interface {
	apply(*funcConfig)
}

type optionFunc func(*funcConfig)

func (f optionFunc) apply(c *funcConfig) { f(c) }

// funcConfig is what the options of one registration say.
type funcConfig struct {
	name      string
	context   Context
	inContext bool
	affects   []affectDecl
	private   bool
	route     string
	methods   []string
	websocket bool
	rev       int
	cache     CachePolicy
	auth      authRule
	shared    bool
	form      FormInfo
	success   string       // Success: a form's success location
	renderer  FormRenderer // WithFormRenderer: a form's HTML
	scope     []string     // ScopeBy
	scopeSet  bool         // ScopeBy was given (an empty scope is broad)
	errs      []string     // option misuse, reported by Build
}

type affectDecl struct {
	function     bool
	name         string
	callerScoped bool
}

// Name sets the function's wire name. By default it is the snake_case of the
// Go function's name (userProfile → user_profile).
func Name(name string) Option {
	return optionFunc(func(c *funcConfig) { c.name = name })
}

// In places a read function in a context. Every function of a context is run
// by one GET ctx/<name>/ and invalidated together.
func In(ctx Context) Option {
	return optionFunc(func(c *funcConfig) {
		if c.inContext && c.context != ctx {
			c.errs = append(c.errs, "In given twice with different contexts")
		}
		c.context, c.inContext = ctx, true
	})
}

// Affects declares the contexts a mutation invalidates. Arguments of the
// mutation whose names equal parameters of a context scope the target to
// their values (see docs/protocol.md).
func Affects(ctxs ...Context) Option {
	return optionFunc(func(c *funcConfig) {
		for _, x := range ctxs {
			c.affects = append(c.affects, affectDecl{name: string(x)})
		}
	})
}

// CallerScoped declares contexts a mutation affects whose targets narrow to
// the caller (tier 2 of docs/spec.md §3): the mutation changes only what the
// caller sees there (the caller's own name in the "global" context). The
// targets stay as they are in the response, but the origin cache purges
// only the caller's entries, the live hub pushes them only to the caller's
// connections and the edge purges only the caller's entries. A context
// given here is affected; it need not be repeated in [Affects]. A [Shared]
// context cannot be caller-scoped (its entries belong to no caller): Build
// reports it.
func CallerScoped(ctxs ...Context) Option {
	return optionFunc(func(c *funcConfig) {
		for _, x := range ctxs {
			c.affects = append(c.affects, affectDecl{name: string(x), callerScoped: true})
		}
	})
}

// ScopeBy sets the explicit scope of a mutation: the names of its arguments
// that scope its targets, replacing the automatic scoping by argument names
// (tier 1 of docs/spec.md §3). ScopeBy() with no names makes every target of
// the mutation broad. Build reports a name that is not an argument of the
// mutation, or that no affected context has as a parameter.
func ScopeBy(args ...string) Option {
	return optionFunc(func(c *funcConfig) {
		c.scope = append(c.scope[:0:0], args...)
		c.scopeSet = true
	})
}

// AffectsFunction declares that a mutation invalidates single context
// functions, named by their wire names: only those functions' data is
// refetched by clients.
func AffectsFunction(names ...string) Option {
	return optionFunc(func(c *funcConfig) {
		for _, n := range names {
			c.affects = append(c.affects, affectDecl{function: true, name: n})
		}
	})
}

// Private removes the function from the RPC endpoints and from generated
// clients. It stays in the invalidation graph, and a private [View] is still
// served on its own route (a webhook).
func Private() Option {
	return optionFunc(func(c *funcConfig) { c.private = true })
}

// Route sets the URL pattern of a [View], in net/http ServeMux syntax without
// a method: "/profile/{user_id}/". A pattern ending in "/" matches that path
// only, not the subtree below it.
func Route(pattern string) Option {
	return optionFunc(func(c *funcConfig) { c.route = pattern })
}

// Methods sets the HTTP methods of a [View]'s route. The default is GET for
// reads and POST for mutations.
func Methods(methods ...string) Option {
	return optionFunc(func(c *funcConfig) { c.methods = append([]string(nil), methods...) })
}

// WebSocket makes the function callable over the WebSocket transport too.
func WebSocket() Option {
	return optionFunc(func(c *funcConfig) { c.websocket = true })
}

// Rev sets the cache revision of a context function. Raising it on deploy
// makes every cached entry of the context unreachable.
func Rev(rev int) Option {
	return optionFunc(func(c *funcConfig) { c.rev = rev })
}

// CachePolicy is the origin-cache setting of a function.
type CachePolicy struct {
	// Set reports whether the function said anything about caching; when it
	// did not, the app's default applies.
	Set bool
	// Off reports whether the function's context must never be cached.
	Off bool
	// TTL is how long an entry lives, when Set and not Off.
	TTL time.Duration
}

// Cache sets the time an origin-cache entry of the function's context lives.
func Cache(ttl time.Duration) Option {
	return optionFunc(func(c *funcConfig) {
		if ttl <= 0 {
			c.errs = append(c.errs, "Cache needs a positive TTL (use NoCache to turn caching off)")
		}
		c.cache = CachePolicy{Set: true, TTL: ttl}
	})
}

// NoCache turns the origin cache off for the function's whole context.
func NoCache() Option {
	return optionFunc(func(c *funcConfig) { c.cache = CachePolicy{Set: true, Off: true} })
}

// Shared declares that the function never reads the caller's identity, so
// its result is the same for every caller. When every function of a context
// is Shared, signed-in callers share the context's cache entries; otherwise
// each signed-in caller has entries of their own (docs/spec.md §6). Marking
// some functions of a context Shared and not others is a build error.
func Shared() Option {
	return optionFunc(func(c *funcConfig) { c.shared = true })
}

// FormRole is the part a function plays in a server-driven form.
type FormRole string

// The roles of a form function.
const (
	FormSchema   FormRole = "schema"
	FormValidate FormRole = "validate"
	FormSubmit   FormRole = "submit"
)

// FormInfo is the form metadata of a function.
type FormInfo struct {
	Name string   // form name, "" when the function is not part of a form
	Role FormRole // its role in the form
}

// FormPart marks the function as one role of the named form, for a form
// put together by hand. [Form] registers a whole form, its three functions
// marked, from one submit function.
func FormPart(name string, role FormRole) Option {
	return optionFunc(func(c *funcConfig) {
		switch role {
		case FormSchema, FormValidate, FormSubmit:
		default:
			c.errs = append(c.errs, "Form role "+string(role)+" is not schema, validate or submit")
		}
		c.form = FormInfo{Name: name, Role: role}
	})
}

// authRule is an auth guard.
type authRule struct {
	kind string // "", "required", "staff", "superuser", "predicate"
	pred func(r *http.Request, caller *Identity) bool
}

// RequireAuth refuses anonymous callers with 401.
func RequireAuth() Option {
	return optionFunc(func(c *funcConfig) { c.auth = authRule{kind: "required"} })
}

// RequireStaff refuses anonymous callers with 401 and callers who are neither
// staff nor superuser with 403.
func RequireStaff() Option {
	return optionFunc(func(c *funcConfig) { c.auth = authRule{kind: "staff"} })
}

// RequireSuperuser refuses anonymous callers with 401 and other non-superusers
// with 403.
func RequireSuperuser() Option {
	return optionFunc(func(c *funcConfig) { c.auth = authRule{kind: "superuser"} })
}

// RequireFunc guards the function with a predicate on the request and its
// caller (nil when anonymous). When it reports false the call is refused:
// 401 for an anonymous caller, 403 otherwise.
func RequireFunc(allow func(r *http.Request, caller *Identity) bool) Option {
	return optionFunc(func(c *funcConfig) {
		if allow == nil {
			c.errs = append(c.errs, "RequireFunc needs a non-nil predicate")
		}
		c.auth = authRule{kind: "predicate", pred: allow}
	})
}

// check applies the guard; nil means allowed.
func (a authRule) check(r *http.Request, caller *Identity) *Error {
	var ok bool
	switch a.kind {
	case "":
		return nil
	case "required":
		ok = caller != nil
	case "staff":
		ok = caller != nil && (caller.Staff || caller.Superuser)
	case "superuser":
		ok = caller != nil && caller.Superuser
	case "predicate":
		ok = a.pred(r, caller)
	}
	switch {
	case ok:
		return nil
	case caller == nil:
		return NewError(CodeUnauthorized, "authentication required")
	default:
		return NewError(CodeForbidden, "you do not have permission to call this function")
	}
}
