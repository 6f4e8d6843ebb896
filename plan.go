package mizan

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-playground/validator/v10"

	"github.com/mizan-afi/mizan/protocol"
)

// plan is the immutable result of Build: everything a request needs to read.
type plan struct {
	byName   map[string]*Func // every function
	callable map[string]*Func // reachable through call/: not private, not a view, not in a context
	contexts map[string]*contextPlan
	sorted   []*Func
	mux      *http.ServeMux
	cop      *http.CrossOriginProtection
	enums    map[reflect.Type]*enumDef // declared with Enum or derived from oneof tags
}

// contextPlan is one context: its fetchable functions and its parameters.
type contextPlan struct {
	name   string
	fetch  []*Func                 // run by ctx/<name>/, sorted by name
	all    []*Func                 // every member, views and private ones included
	params map[string]reflect.Type // union of the members' scalar parameters (base types)
	// filters are the parameters some member tags mizan:"filter": they
	// never scope a target (docs/spec.md §3).
	filters map[string]bool
	// scopes are the fetch parameters that are not filters, sorted: those a
	// target can scope, and so those the origin cache keeps generations for.
	scopes []string
	// required are the fetch parameters every fetch function requires: an
	// instance always has them.
	required map[string]bool
	// fetchParams are the parameters of the fetch functions, sorted: what
	// ctx/<name>/ accepts and what names a cached instance.
	fetchParams []string
	// argsFrom[i] is the index of an earlier fetch function whose decoded
	// arguments fetch[i] can share (the same pointer-free argument type),
	// or -1.
	argsFrom []int
	// Caching, from the options of the fetch functions: cached unless one
	// says NoCache; ttl the smallest Cache TTL (0: the default); rev the
	// highest Rev; shared when every one is Shared.
	cached bool
	ttl    time.Duration
	rev    int
	shared bool
}

func newPlan(a *App, funcs []*Func) (*plan, error) {
	p := &plan{
		byName:   map[string]*Func{},
		callable: map[string]*Func{},
		contexts: map[string]*contextPlan{},
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if !strings.HasPrefix(a.cfg.Prefix, "/") || !strings.HasSuffix(a.cfg.Prefix, "/") {
		bad("prefix %q must start and end with /", a.cfg.Prefix)
	}
	validate := false
	for _, f := range funcs {
		if _, dup := p.byName[f.meta.Name]; dup {
			bad("function %s: registered twice (names must be unique; set one with mizan.Name)", f.meta.Name)
			continue
		}
		p.byName[f.meta.Name] = f
		p.sorted = append(p.sorted, f)
		validate = validate || f.args.validate
		m := &f.meta
		if !m.ViewPath && (m.Route != "" || len(m.Methods) > 0) {
			bad("function %s: Route and Methods are for views; register it with mizan.View", m.Name)
		}
		if m.ViewPath && m.Route == "" {
			bad("function %s: a view needs a Route", m.Name)
		}
		if m.Context != "" {
			cp := p.contexts[m.Context]
			if cp == nil {
				cp = &contextPlan{name: m.Context, params: map[string]reflect.Type{}, filters: map[string]bool{}}
				p.contexts[m.Context] = cp
			}
			cp.all = append(cp.all, f)
			if !m.ViewPath && !m.Private {
				cp.fetch = append(cp.fetch, f)
			}
			for _, prm := range f.args.params {
				if !prm.scalar {
					if !m.ViewPath {
						bad("function %s: argument %q of type %s cannot come from a query string (context functions take strings, booleans and integers)", m.Name, prm.name, prm.typ)
					}
					continue
				}
				if prev, ok := cp.params[prm.name]; ok && kindClass(prev) != kindClass(prm.base) {
					bad("context %s: parameter %q is %s in one function and %s in another", m.Context, prm.name, prev, prm.base)
					continue
				}
				cp.params[prm.name] = prm.base
				if prm.filter {
					cp.filters[prm.name] = true
				}
			}
		} else {
			if !m.ViewPath && !m.Private {
				p.callable[m.Name] = f
			}
			for _, prm := range f.args.params {
				if prm.filter {
					bad("function %s: argument %q is tagged mizan:\"filter\", which only a context function's parameter can be", m.Name, prm.name)
				}
			}
		}
	}
	slices.SortFunc(p.sorted, func(x, y *Func) int { return strings.Compare(x.meta.Name, y.meta.Name) })
	for _, cp := range p.contexts {
		slices.SortFunc(cp.fetch, func(x, y *Func) int { return strings.Compare(x.meta.Name, y.meta.Name) })
		for _, f := range cp.fetch {
			for _, prm := range f.args.params {
				if !slices.Contains(cp.fetchParams, prm.name) {
					cp.fetchParams = append(cp.fetchParams, prm.name)
				}
			}
		}
		slices.Sort(cp.fetchParams)
		cp.required = map[string]bool{}
		for _, name := range cp.fetchParams {
			if !cp.filters[name] {
				cp.scopes = append(cp.scopes, name)
			}
			req := true
			for _, f := range cp.fetch {
				i, ok := f.args.byName[name]
				if !ok || f.args.params[i].optional || f.args.params[i].nullable {
					req = false
					break
				}
			}
			cp.required[name] = req
		}
		cp.argsFrom = sharedArgs(cp.fetch)
		if err := cp.cachePolicy(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, f := range p.sorted {
		if err := p.resolveAffects(f); err != nil {
			errs = append(errs, err)
		}
	}
	a.mu.Lock()
	declared := a.enums
	a.mu.Unlock()
	defs, enumErrs := enums(declared, p.sorted)
	errs = append(errs, enumErrs...)
	p.enums = defs
	for _, f := range p.sorted {
		f.enums = enumParams(f, defs)
	}
	a.mu.Lock()
	custom := a.customRules
	a.mu.Unlock()
	for _, f := range p.sorted {
		if f.form != nil && f.meta.Form.Role == FormSubmit {
			validate = true
			if err := buildForm(f.form, custom, defs); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if validate || len(custom) > 0 {
		a.validate = newValidator()
		if err := registerCustom(a.validate, custom); err != nil {
			errs = append(errs, err)
		}
	}
	if err := p.routes(a); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// cachePolicy derives the context's caching from its fetch functions.
func (cp *contextPlan) cachePolicy() error {
	cp.cached = true
	nShared := 0
	for _, f := range cp.fetch {
		c := f.meta.Cache
		if c.Off {
			cp.cached = false
		} else if c.Set && (cp.ttl == 0 || c.TTL < cp.ttl) {
			cp.ttl = c.TTL
		}
		cp.rev = max(cp.rev, f.meta.Rev)
		if f.meta.Shared {
			nShared++
		}
	}
	if nShared > 0 && nShared < len(cp.fetch) {
		return fmt.Errorf("context %s: Shared on some functions but not all (a context is shared only when none of its functions reads the caller)", cp.name)
	}
	cp.shared = nShared > 0
	return nil
}

// kindClass groups kinds that stringify alike, so that one function may take
// user_id as int and another as int64.
func kindClass(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	}
	return t.Kind().String()
}

// newValidator returns a validator that names fields by their JSON names.
// baseValidator is a validator without the app's tags, for asking which
// tags are the validator's own.
var baseValidator = sync.OnceValue(newValidator)

func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			return ""
		case "":
			return f.Name
		}
		return name
	})
	return v
}

// routes builds the ServeMux of the endpoints, the views and the fallback.
func (p *plan) routes(a *App) error {
	mux := http.NewServeMux()
	var errs []error
	handle := func(pattern string, h http.Handler) {
		defer func() {
			if r := recover(); r != nil {
				errs = append(errs, fmt.Errorf("route %q: %v", pattern, r))
			}
		}()
		mux.Handle(pattern, a.observed(pattern, h))
	}
	pre := a.cfg.Prefix
	p.cop = http.NewCrossOriginProtection()
	for _, o := range a.cfg.TrustedOrigins {
		if err := p.cop.AddTrustedOrigin(o); err != nil {
			errs = append(errs, fmt.Errorf("trusted origin %q: %w", o, err))
		}
	}
	get, post := []string{http.MethodGet, http.MethodHead}, []string{http.MethodPost}
	handle(pre+"session/{$}", pipeline(http.HandlerFunc(a.serveSession), a.protocolEndpoint(get...)))
	handle(pre+"call/{$}", pipeline(http.HandlerFunc(a.serveCall),
		a.protocolEndpoint(post...), a.sameOrigin, a.jsonBody, a.authenticated, a.csrfProtected, a.bodyLimit))
	handle(pre+"call/{fn}/{$}", pipeline(http.HandlerFunc(a.serveCallAlias), // call_alias.go
		a.protocolEndpoint(post...), a.sameOrigin, a.jsonBody, a.authenticated, a.csrfProtected, a.bodyLimit))
	handle(pre+"ctx/{context}/{$}", pipeline(http.HandlerFunc(a.serveContext), a.protocolEndpoint(get...), a.authenticated))
	if a.auth != nil {
		handle(pre+"auth/token/{$}", pipeline(http.HandlerFunc(a.serveToken), a.protocolEndpoint(post...), a.sameOrigin, a.jsonBody, a.bodyLimit))
		handle(pre+"auth/refresh/{$}", pipeline(http.HandlerFunc(a.serveRefresh), a.protocolEndpoint(post...), a.sameOrigin, a.jsonBody, a.bodyLimit))
		handle(pre+"auth/logout/{$}", pipeline(http.HandlerFunc(a.serveLogout), a.protocolEndpoint(post...), a.sameOrigin, a.bodyLimit))
		handle(pre+"auth/mwt/{$}", pipeline(http.HandlerFunc(a.serveMWT), a.protocolEndpoint(get...)))
	}
	for _, e := range a.extraAuth {
		if a.auth == nil {
			errs = append(errs, fmt.Errorf("auth/%s/ (HandleAuth) needs sign-in: set Config.Auth", e.name))
			continue
		}
		h := e.h
		handle(pre+"auth/"+e.name+"/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "no-store")
			defer recoverTo(w, r, a.logger)
			h.ServeHTTP(w, r)
		}))
	}
	for _, e := range a.extra {
		pattern := pre + e.path
		if strings.HasSuffix(pattern, "/") {
			pattern += "{$}" // Handle; HandleFile's names have no trailing slash
		}
		handle(pattern, e.h)
	}
	handle(pre, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		writeError(w, r, a.logger, NewError(CodeNotFound, "no such endpoint: "+r.URL.Path))
	}))
	views := map[string]map[string]*Func{} // route → method → view
	var order []string
	for _, f := range p.sorted {
		if !f.meta.ViewPath || f.meta.Route == "" {
			continue
		}
		route := f.meta.Route
		if !strings.HasPrefix(route, "/") || strings.ContainsAny(route, " \t") {
			errs = append(errs, fmt.Errorf("function %s: route %q must be a path pattern such as /profile/{user_id}/", f.meta.Name, route))
			continue
		}
		if strings.HasPrefix(route, pre) {
			errs = append(errs, fmt.Errorf("function %s: route %q lies under the endpoint prefix %q", f.meta.Name, route, pre))
			continue
		}
		methods := f.meta.Methods
		if len(methods) == 0 {
			methods = []string{http.MethodGet}
			if f.meta.Kind == KindMutation {
				methods = []string{http.MethodPost}
			}
		}
		f.meta.Methods = nil
		byMethod := views[route]
		if byMethod == nil {
			byMethod = map[string]*Func{}
			views[route] = byMethod
			order = append(order, route)
		}
		for _, m := range methods {
			m = strings.ToUpper(m)
			if prev, dup := byMethod[m]; dup {
				errs = append(errs, fmt.Errorf("function %s: %s %s is already served by %s", f.meta.Name, m, route, prev.meta.Name))
				continue
			}
			byMethod[m] = f
			f.meta.Methods = append(f.meta.Methods, m)
		}
	}
	for _, route := range order {
		pattern := route
		if strings.HasSuffix(pattern, "/") {
			pattern += "{$}"
		}
		handle(pattern, a.viewRoute(views[route]))
	}
	for _, f := range p.sorted {
		fd := f.form
		if fd == nil || fd.submit != f || fd.route == "" {
			continue
		}
		route := fd.route
		switch {
		case strings.ContainsAny(route, " \t"):
			errs = append(errs, fmt.Errorf("form %s: route %q must be a path pattern such as /contact/", fd.name, route))
			continue
		case strings.HasPrefix(route, pre):
			errs = append(errs, fmt.Errorf("form %s: route %q lies under the endpoint prefix %q", fd.name, route, pre))
			continue
		case views[route] != nil:
			errs = append(errs, fmt.Errorf("form %s: route %q is already served by a view", fd.name, route))
			continue
		}
		pattern := route
		if strings.HasSuffix(pattern, "/") {
			pattern += "{$}"
		}
		handle(pattern, a.formRoute(fd))
	}
	handle("/", a.notFound(a.cfg.Fallback))
	p.mux = mux
	return errors.Join(errs...)
}

// notFound is what the app serves for a path no endpoint or view matches:
// fallback (Config.Fallback), or the not_found envelope when it is nil. A
// request for the endpoints' prefix whose path a handler in front of the
// app stripped (http.StripPrefix: the path the app sees is a tail of the
// one requested) gets a not_found that says so, even with a fallback,
// since the fallback (an SPA's index.html, say) would answer an API call
// with a page; the first such request is logged as a warning.
func (a *App) notFound(fallback http.Handler) http.Handler {
	var warned sync.Once
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if stripped, ok := strippedPrefix(r); ok && strings.HasPrefix(stripped+r.URL.Path, a.cfg.Prefix) {
			warned.Do(func() {
				a.logger.Warn("mizan: a handler in front of the app strips the path (http.StripPrefix?); mount the app unstripped or set Config.Prefix",
					"stripped", protocol.Truncate(stripped, 64), "prefix", a.cfg.Prefix)
			})
			writeError(w, r, a.logger, NewError(CodeNotFound, fmt.Sprintf(
				"not found: %s: a handler in front of the app stripped %q from the path (http.StripPrefix?); the app matches whole paths and serves its endpoints under %s: mount it unstripped, or set Config.Prefix",
				protocol.Truncate(r.URL.Path, 128), protocol.Truncate(stripped, 64), a.cfg.Prefix)))
			return
		}
		if fallback != nil {
			fallback.ServeHTTP(w, r)
			return
		}
		writeError(w, r, a.logger, NewError(CodeNotFound, "not found: "+protocol.Truncate(r.URL.Path, 128)))
	})
}

// strippedPrefix reports what was cut from the front of the request's
// path before it reached the app: the path of r.RequestURI (which
// http.StripPrefix leaves alone) minus r.URL.Path, when the latter is a
// proper tail of the former.
func strippedPrefix(r *http.Request) (string, bool) {
	if r.RequestURI == "" || r.RequestURI == "*" {
		return "", false
	}
	u, err := url.ParseRequestURI(r.RequestURI)
	if err != nil {
		return "", false
	}
	full := u.Path
	if full == r.URL.Path || len(full) <= len(r.URL.Path) || !strings.HasSuffix(full, r.URL.Path) {
		return "", false
	}
	return full[:len(full)-len(r.URL.Path)], true
}
