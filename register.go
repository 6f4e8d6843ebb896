package mizan

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/mizan-afi/mizan/protocol"
)

// Kind says whether a function reads or writes.
type Kind string

// The kinds of function.
const (
	KindQuery    Kind = "query"    // a read: in a context, or standalone
	KindMutation Kind = "mutation" // a write, which may declare what it affects
)

// Param is one argument of a function, as the wire sees it.
type Param struct {
	Name     string       // the JSON name
	Type     reflect.Type // the Go type of the field
	Optional bool         // omitempty: may be absent
	Nullable bool         // a pointer: may be null
	// Filter reports whether the parameter is a filter of its context (the
	// struct tag `mizan:"filter"`): it selects rows by a value mutations
	// change, so it never scopes an invalidation target (docs/spec.md §3).
	Filter bool
}

// Affect is one declared invalidation target of a mutation.
type Affect struct {
	Context  string // the context invalidated
	Function string // a single function of Context, or "" for the whole context
	// ScopedBy lists the mutation's arguments that scope the target, sorted:
	// those whose names equal parameters of the context or function that are
	// not filters (tier 1), or the ones [ScopeBy] names.
	ScopedBy []string
	// CallerScoped reports whether the target narrows to the caller at the
	// origin cache, the live hub and the edge ([CallerScoped], tier 2).
	CallerScoped bool
}

// Meta is what registration records about a function: the Go equivalent of
// the seed's _meta. Fields derived from other functions (Affect.Context of a
// function-level target, ScopedBy) are filled in by [App.Build].
type Meta struct {
	Name      string
	Kind      Kind
	Context   string   // "" for a standalone function or a mutation
	Affects   []Affect // mutations only
	Private   bool
	ViewPath  bool // registered with View: answers with its own HTTP response
	Route     string
	Methods   []string
	WebSocket bool
	Auth      string // "", "required", "staff", "superuser" or "predicate"
	Rev       int
	Cache     CachePolicy
	Shared    bool // never reads the caller: callers may share cache entries
	Form      FormInfo
	// Scope is the mutation's explicit scope ([ScopeBy]) when HasScope
	// reports true: the argument names that scope its targets, an empty
	// list making them broad.
	Scope    []string
	HasScope bool
	Params   []Param
	Args     reflect.Type // the argument struct type
	Result   reflect.Type // the result type (http.Handler for views)
}

// Func is a registered function.
type Func struct {
	meta   Meta
	cfg    funcConfig
	args   *argSchema
	result *protocol.ResultEncoder                        // encodes what invoke returns (docs/spec.md §4)
	enums  []enumParam                                    // the arguments of enum types, checked by validated (set by Build)
	newIn  func() any                                     // returns *In
	invoke func(ctx context.Context, in any) (any, error) // in is *In
	// form is the form the function belongs to, when Form registered it.
	form *formDef
	// affects is the resolved invalidation plan of a mutation (set by Build).
	affects []affectPlan
	// cost is a moving average of the function's running time in
	// nanoseconds as a context fetch sees it; 0 until first measured.
	cost atomic.Int64
}

// sample reports whether this run of f should be timed: always until it
// has been measured, then one run in eight (the clock costs more than a
// fast function's bookkeeping deserves).
func (f *Func) sample() bool {
	return f.cost.Load() == 0 || rand.Uint32()&7 == 0
}

// observe folds one running time into f.cost (an exponentially weighted
// moving average, weight 1/8). Concurrent updates may lose one another's
// sample, which an average can afford.
func (f *Func) observe(d time.Duration) {
	n := max(int64(d), 1)
	old := f.cost.Load()
	if old != 0 {
		n = old + (n-old)/8
	}
	if n != old {
		f.cost.Store(n)
	}
}

// Meta returns the function's metadata.
func (f *Func) Meta() Meta {
	m := f.meta
	m.Affects = slices.Clone(m.Affects)
	m.Methods = slices.Clone(m.Methods)
	m.Params = slices.Clone(m.Params)
	return m
}

// Name returns the function's wire name.
func (f *Func) Name() string { return f.meta.Name }

// Query registers a read. With [In] it belongs to a context and is fetched by
// GET ctx/<name>/ with the others of that context; without, it is a
// standalone function called through call/. Its arguments are the fields of
// In as encoding/json names them; a function without arguments takes
// struct{}.
func Query[In, Out any](app *App, fn func(context.Context, In) (Out, error), opts ...Option) *Func {
	f, err := newFunc(KindQuery, fn, opts)
	app.add(f, err)
	return f
}

// Mutation registers a write, called through POST call/. [Affects] and
// [AffectsFunction] say what it invalidates; every response carries those
// targets in its body and its X-Mizan-Invalidate header.
func Mutation[In, Out any](app *App, fn func(context.Context, In) (Out, error), opts ...Option) *Func {
	f, err := newFunc(KindMutation, fn, opts)
	app.add(f, err)
	return f
}

// newFunc builds the registration record of fn.
func newFunc[In, Out any](kind Kind, fn func(context.Context, In) (Out, error), opts []Option) (*Func, error) {
	f := &Func{}
	for _, o := range opts {
		o.apply(&f.cfg)
	}
	c := &f.cfg
	name := c.name
	if name == "" && fn != nil {
		name = snakeName(runtime.FuncForPC(reflect.ValueOf(fn).Pointer()).Name())
	}
	f.meta = Meta{
		Name: name, Kind: kind, Context: string(c.context), Private: c.private,
		Route: c.route, Methods: c.methods, WebSocket: c.websocket, Auth: c.auth.kind,
		Rev: c.rev, Cache: c.cache, Shared: c.shared, Form: c.form,
		Scope: slices.Clone(c.scope), HasScope: c.scopeSet,
		Args: reflect.TypeFor[In](), Result: reflect.TypeFor[Out](),
	}
	for _, d := range c.affects {
		if d.function {
			f.meta.Affects = append(f.meta.Affects, Affect{Function: d.name})
		} else {
			f.meta.Affects = append(f.meta.Affects, Affect{Context: d.name, CallerScoped: d.callerScoped})
		}
	}
	fail := func(format string, args ...any) (*Func, error) {
		label := name
		if label == "" {
			label = "(unnamed)"
		}
		return f, fmt.Errorf("function %s: %s", label, fmt.Sprintf(format, args...))
	}
	if fn == nil {
		return fail("function is nil")
	}
	if name == "" {
		return fail("cannot derive a name from an anonymous function; give one with mizan.Name")
	}
	if !validFuncName(name) {
		return fail("name %q must be made of letters, digits and '_', not starting with a digit", name)
	}
	if len(c.errs) > 0 {
		return fail("%s", strings.Join(c.errs, "; "))
	}
	if c.inContext && len(c.affects) > 0 {
		return fail("context and affects on one function: a read belongs to a context, a mutation affects one")
	}
	if kind == KindQuery && len(c.affects) > 0 {
		return fail("a read cannot declare affects; register a write with mizan.Mutation")
	}
	if kind == KindQuery && c.scopeSet {
		return fail("ScopeBy is for mutations: it scopes what they affect")
	}
	if kind == KindMutation && c.inContext {
		return fail("a mutation cannot belong to context %q; use Affects", c.context)
	}
	if c.inContext && !validName(string(c.context)) {
		return fail("context name %q must be made of letters, digits, '_', '-' and '.'", c.context)
	}
	args, err := newArgSchema(f.meta.Args)
	if err != nil {
		return fail("%v", err)
	}
	f.args = args
	for _, p := range args.params {
		f.meta.Params = append(f.meta.Params, Param{Name: p.name, Type: p.typ, Optional: p.optional, Nullable: p.nullable, Filter: p.filter})
	}
	f.result = protocol.ResultEncoderFor(reflect.TypeFor[Out]())
	f.newIn = func() any { return new(In) }
	f.invoke = func(ctx context.Context, in any) (any, error) { return fn(ctx, *in.(*In)) }
	return f, nil
}

// validFuncName reports whether s can name a function: an identifier of
// ASCII letters, digits and '_' that generated clients can use as it is.
func validFuncName(s string) bool {
	for i, r := range s {
		if !(r < 0x80 && (unicode.IsLetter(r) || r == '_' || (i > 0 && unicode.IsDigit(r)))) {
			return false
		}
	}
	return s != ""
}

// validName reports whether s is a usable function or context name: letters,
// digits, '_', '-' and '.', as the X-Mizan-Invalidate header allows.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r < 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-' || r == '.')) {
			return false
		}
	}
	return true
}

// snakeName turns a runtime function name ("example.com/app.userProfile",
// "app.(*Service).UpdateProfile-fm", "app.list[...]") into snake_case
// ("user_profile", "update_profile", "list"). It returns "" for closures.
func snakeName(full string) string {
	if i := strings.LastIndexByte(full, '/'); i >= 0 {
		full = full[i+1:]
	}
	full = strings.TrimSuffix(full, "-fm")
	full = strings.ReplaceAll(full, "[...]", "")
	if i := strings.LastIndexByte(full, '.'); i >= 0 {
		full = full[i+1:]
	}
	if full == "" || strings.HasPrefix(full, "func") && strings.IndexFunc(full[4:], func(r rune) bool { return r < '0' || r > '9' }) < 0 {
		return "" // an anonymous function: pkg.outer.func1
	}
	var b strings.Builder
	rs := []rune(full)
	for i, r := range rs {
		if unicode.IsUpper(r) {
			prevLower := i > 0 && (unicode.IsLower(rs[i-1]) || unicode.IsDigit(rs[i-1]))
			nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
			if i > 0 && (prevLower || (nextLower && unicode.IsUpper(rs[i-1]))) && rs[i-1] != '_' {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(r))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
