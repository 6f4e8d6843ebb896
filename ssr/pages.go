package ssr

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/cache"
	"github.com/mizan-afi/mizan/protocol"
)

// HeaderRender is the response header of a page saying how it was made:
// "psr-hit" (a stored pre-rendered page, no function ran), "psr-render"
// (rendered now, and stored) or "dynamic" (rendered for this request).
const HeaderRender = "X-Mizan-Render"

// Defaults of [PagesConfig].
const (
	DefaultDebounce     = 10 * time.Millisecond
	DefaultMaxInstances = 10000
	// DefaultRenderTimeout bounds one background re-render: fetching the
	// page's bundles and rendering it.
	DefaultRenderTimeout = 30 * time.Second
)

// PagesConfig configures [Pages]. The zero value works.
type PagesConfig struct {
	// Cache stores pre-rendered pages, under keys of their own
	// ("ctx:psr:<page>:..."), with the same generations as context
	// bundles. Nil means an in-memory cache private to the Pages. With a
	// cache shared between processes (Redis), a broad invalidation makes
	// every stored instance of the affected pages unreachable, so that
	// instances only another process knows are not served stale.
	Cache *cache.Cache
	// Scripts are the module scripts of every page (the client entry that
	// hydrates), Head trusted markup for every page's head, Lang the html
	// lang attribute (see [Document]).
	Scripts []string
	Head    template.HTML
	Lang    string
	// Debounce is how long re-rendering waits after an invalidation, so
	// that a burst of mutations re-renders each page once. Zero means
	// [DefaultDebounce].
	Debounce time.Duration
	// TTL is how long a stored page lives. Zero means the cache's default
	// (24 hours: pages are re-rendered when their data changes).
	TTL time.Duration
	// Rev is part of every stored page's key: raise it when a deploy changes
	// components, scripts or the head, so that pages rendered by the
	// previous version are not served.
	Rev int
	// MaxInstances bounds the page instances (a route and its path values)
	// that are tracked for re-rendering; beyond it, new instances are
	// rendered per request and not stored. Zero means
	// [DefaultMaxInstances].
	MaxInstances int
	// Logger receives failed background renders. Nil means slog.Default().
	Logger *slog.Logger
}

// Route is one page route of [Pages].
type Route struct {
	// Pattern is the route, in net/http ServeMux syntax without a method:
	// "/projects/{project_id}/". Its wildcards are the page's parameters.
	Pattern string
	// Component is the template name of the page's component. It receives
	// the props {"params": {<wildcard>: <value>, ...}, "initialData": ...}.
	Component string
	// Contexts are the contexts whose bundles the page is rendered from.
	// Each is fetched with the path values whose names are parameters of
	// its functions.
	Contexts []mizan.Context
	// Title is the document's title.
	Title string
	// Prerender lists the path values of the instances [Pages.Start]
	// renders ahead. A route without wildcards is rendered ahead anyway.
	Prerender func(ctx context.Context) ([]map[string]string, error)
	// Name is the wire name of the view registered for the route. Empty
	// means one derived from the pattern ("/projects/{project_id}/" gives
	// page_projects_project_id).
	Name string
	// Options are added to the view's registration (auth guards).
	Options []mizan.Option
}

// PageStats counts what [Pages] did.
type PageStats struct {
	Renders   uint64 // pages rendered, for any reason
	Rerenders uint64 // of which re-renders after an invalidation
	Stored    uint64 // renders stored in the cache
	Unchanged uint64 // renders not stored: the stored page was the same
	Hits      uint64 // requests answered with a stored page
	Dynamic   uint64 // requests rendered per request (not PSR)
	Tracked   int    // page instances tracked for re-rendering now
}

// Pages serves server-rendered page routes of a Mizan app. A route whose
// contexts all have the render strategy psr, and whose functions have no
// auth guard, is pre-rendered: rendered ahead (or on its first request) as
// an anonymous caller, stored in the cache, served from there without
// running any function, and re-rendered in the background when a mutation
// invalidates one of its contexts. Other routes, and signed-in callers of
// pages whose contexts are not [mizan.Shared], are rendered per request
// from bundles fetched through the origin cache.
//
// Pages consumes the app's invalidations ([mizan.App.OnInvalidate]): a
// target scoped by parameters that name all of a route's wildcards
// re-renders that one instance; any other target re-renders every tracked
// instance of the routes that use its context. Re-renders wait
// [PagesConfig.Debounce] to coalesce bursts, and a re-render whose HTML
// is the same as the stored page is not stored again. A request for an
// instance invalidated but not yet re-rendered renders it at once, so a
// caller always sees its own mutations.
type Pages struct {
	app    *mizan.App
	r      *Renderer
	cfg    PagesConfig
	c      *cache.Cache
	shared bool // the cache may be read by other processes
	logger *slog.Logger

	mu       sync.Mutex
	routes   []*route
	inst     map[string]*instance
	queue    map[*instance]struct{}
	idle     chan struct{} // closed while nothing is queued or running
	isIdle   bool
	setupErr error
	setup    bool
	initDone atomic.Bool // set once init has finished: lets it skip mu
	// flights counts the background renders started by requests and
	// Start; Close waits for them before closing a private cache. stopped
	// is set by Close: such renders started later do not touch the cache.
	flights sync.WaitGroup
	stopped bool

	wake   chan struct{}
	flush  chan struct{}
	done   chan struct{}
	loop   sync.WaitGroup
	closed atomic.Bool

	renders, rerenders, stored, unchanged, hits, dynamic atomic.Uint64
}

// route is a registered route, completed by init once the app is built.
type route struct {
	Route
	params   []string // the pattern's wildcards, in order
	psr      bool     // pre-rendered
	shared   bool     // every context is Shared
	contexts []ctxInfo
}

// ctxInfo is what a route needs of one of its contexts.
type ctxInfo struct {
	name   string
	params map[string]reflect.Type // the context's fetch parameters
}

// instance is one route with its path values.
type instance struct {
	rt     *route
	id     string
	values map[string]string
	key    cache.Instance

	mu     sync.Mutex
	dirty  uint64 // bumped by every invalidation
	clean  uint64 // the dirty value the stored page reflects
	served bool   // rendered or served by this process
	// everStored reports whether a page of the instance was ever stored
	// by this process; evicted whether it is no longer tracked.
	everStored, evicted bool
	flight              *flight
}

// flight is a render in progress; requests for the same or an older
// version wait for it.
type flight struct {
	version uint64
	done    chan struct{}
	html    []byte
	err     error
}

// NewPages returns the page server of app, rendering with r, and adds it
// to app's invalidation consumers. Register routes with [Pages.Page] or
// [Pages.Handle] before app.Build; call [Pages.Start] after it.
func NewPages(app *mizan.App, r *Renderer, cfg PagesConfig) (*Pages, error) {
	if app == nil || r == nil {
		return nil, errors.New("ssr: NewPages needs an app and a renderer")
	}
	if cfg.Debounce < 0 || cfg.TTL < 0 || cfg.MaxInstances < 0 {
		return nil, errors.New("ssr: PagesConfig.Debounce, TTL and MaxInstances must not be negative")
	}
	if cfg.Debounce == 0 {
		cfg.Debounce = DefaultDebounce
	}
	if cfg.MaxInstances == 0 {
		cfg.MaxInstances = DefaultMaxInstances
	}
	ps := &Pages{app: app, r: r, cfg: cfg, c: cfg.Cache, logger: cfg.Logger,
		inst: map[string]*instance{}, queue: map[*instance]struct{}{}, idle: make(chan struct{}),
		wake: make(chan struct{}, 1), flush: make(chan struct{}, 1), done: make(chan struct{})}
	close(ps.idle)
	ps.isIdle = true
	if ps.logger == nil {
		ps.logger = slog.Default()
	}
	if ps.c == nil {
		secret := make([]byte, cache.MinSecretLen)
		_, _ = rand.Read(secret)
		c, err := cache.New(cache.Options{Backend: cache.NewMemory(cache.MemoryOptions{}), Secret: secret, Logger: ps.logger})
		if err != nil {
			return nil, fmt.Errorf("ssr: page cache: %w", err)
		}
		ps.c = c
	}
	ps.shared = !ps.c.InProcess()
	app.OnInvalidate(ps)
	ps.loop.Go(ps.run)
	return ps, nil
}

// Page registers a page route: GET pattern renders component from the
// bundles of contexts. It is Handle(Route{Pattern: pattern, Component:
// component, Contexts: contexts}).
func (ps *Pages) Page(pattern, component string, contexts ...mizan.Context) {
	ps.Handle(Route{Pattern: pattern, Component: component, Contexts: contexts})
}

// Handle registers a page route as a view of the app (GET, in the route's
// first context, so that the context's page routes list it). Mistakes
// (a context no function belongs to, a bad component name) are reported
// by [Pages.Start] and by the app's Build for what the view itself gets
// wrong.
func (ps *Pages) Handle(rt Route) {
	r := &route{Route: rt, params: wildcards(rt.Pattern)}
	r.Contexts = slices.Clone(rt.Contexts)
	if r.Name == "" {
		r.Name = viewName(rt.Pattern)
	}
	ps.mu.Lock()
	ps.routes = append(ps.routes, r)
	ps.mu.Unlock()
	opts := []mizan.Option{mizan.Name(r.Name), mizan.Route(rt.Pattern), mizan.Methods(http.MethodGet)}
	if len(r.Contexts) > 0 {
		opts = append(opts, mizan.In(r.Contexts[0]))
	}
	opts = append(opts, rt.Options...)
	mizan.View(ps.app, func(ctx context.Context, _ struct{}) (http.Handler, error) {
		return ps.serve(ctx, r)
	}, opts...)
}

// wildcards returns the names of the wildcards of a ServeMux pattern.
func wildcards(pattern string) []string {
	var out []string
	for rest := pattern; ; {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			return out
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return out
		}
		name := strings.TrimSuffix(rest[i+1:i+j], "...")
		if name != "$" && name != "" {
			out = append(out, name)
		}
		rest = rest[i+j+1:]
	}
}

// viewName derives a view name from a pattern.
func viewName(pattern string) string {
	var b strings.Builder
	b.WriteString("page")
	sep := true
	for _, c := range pattern {
		if c < 0x80 && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			if sep {
				b.WriteByte('_')
				sep = false
			}
			b.WriteRune(c)
			continue
		}
		sep = true
	}
	if b.Len() == len("page") {
		return "page_index"
	}
	return b.String()
}

// init completes the routes from the built app, once.
func (ps *Pages) init() error {
	if ps.initDone.Load() { // setupErr and the routes are final
		return ps.setupErr
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.setup {
		return ps.setupErr
	}
	ps.setup = true
	defer ps.initDone.Store(true) // after setupErr is set, before the unlock
	if err := ps.app.Build(); err != nil {
		ps.setupErr = err
		return err
	}
	var errs []error
	for _, rt := range ps.routes {
		if err := ps.complete(rt); err != nil {
			errs = append(errs, err)
		}
	}
	ps.setupErr = errors.Join(errs...)
	return ps.setupErr
}

// complete fills in what a route needs of its contexts.
func (ps *Pages) complete(rt *route) error {
	if _, err := ps.r.Resolve(rt.Component); err != nil {
		return fmt.Errorf("ssr: page %s: %w", rt.Pattern, err)
	}
	rt.psr, rt.shared = true, true
	for _, c := range rt.Contexts {
		m, ok := ps.app.ContextMeta(string(c))
		if !ok || len(m.Functions) == 0 {
			return fmt.Errorf("ssr: page %s: no function is in context %q", rt.Pattern, c)
		}
		ci := ctxInfo{name: m.Name, params: map[string]reflect.Type{}}
		for _, p := range m.Params {
			ci.params[p.Name] = p.Type
		}
		rt.contexts = append(rt.contexts, ci)
		if m.RenderStrategy != mizan.RenderPSR {
			rt.psr = false
		}
		rt.shared = rt.shared && m.Shared
		for _, fn := range m.Functions {
			if f, ok := ps.app.Lookup(fn); ok && f.Meta().Auth != "" {
				rt.psr = false // an anonymous render would be refused
			}
		}
	}
	return nil
}

// Start checks the routes against the built app, starts the renderer's
// workers, and renders ahead the instances of pre-rendered routes (those
// without wildcards, and those their Prerender lists). Call it after
// app.Build, before serving.
func (ps *Pages) Start(ctx context.Context) error {
	if err := ps.init(); err != nil {
		return err
	}
	if err := ps.r.Start(ctx); err != nil {
		return err
	}
	ps.mu.Lock()
	routes := ps.routes
	ps.mu.Unlock()
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, ps.r.Workers())
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	for _, rt := range routes {
		if !rt.psr {
			continue
		}
		var sets []map[string]string
		switch {
		case rt.Prerender != nil:
			var err error
			if sets, err = rt.Prerender(ctx); err != nil {
				fail(fmt.Errorf("ssr: page %s: prerender: %w", rt.Pattern, err))
				continue
			}
		case len(rt.params) == 0:
			sets = []map[string]string{{}}
		}
		for _, values := range sets {
			in, err := ps.instance(rt, values)
			if err != nil {
				fail(err)
				continue
			}
			if in == nil {
				break // MaxInstances reached
			}
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				if _, err := ps.render(ctx, in, false); err != nil {
					fail(fmt.Errorf("ssr: page %s %v: %w", rt.Pattern, values, err))
				}
			})
		}
	}
	wg.Wait()
	return errors.Join(errs...)
}

// serve answers one request of a page route.
func (ps *Pages) serve(ctx context.Context, rt *route) (http.Handler, error) {
	if err := ps.init(); err != nil {
		return nil, err
	}
	req := mizan.Request(ctx)
	values := make(map[string]string, len(rt.params))
	for _, name := range rt.params {
		values[name] = req.PathValue(name)
	}
	if rt.psr && (mizan.Caller(ctx) == nil || rt.shared) {
		in, err := ps.instance(rt, values)
		if err != nil {
			return nil, err
		}
		if in != nil {
			return ps.servePSR(ctx, in)
		}
	}
	ps.dynamic.Add(1)
	html, err := ps.renderPage(ctx, rt, values)
	if err != nil {
		return nil, err
	}
	return page(html, "dynamic"), nil
}

// servePSR answers with the stored page, or renders and stores it.
func (ps *Pages) servePSR(ctx context.Context, in *instance) (http.Handler, error) {
	in.mu.Lock()
	fresh := in.dirty == in.clean
	in.served = true
	in.mu.Unlock()
	if fresh {
		if e := ps.c.Get(ctx, in.key); e.Status == cache.Hit {
			ps.hits.Add(1)
			return page(e.Value, "psr-hit"), nil
		}
	}
	html, err := ps.render(ctx, in, false)
	if err != nil {
		return nil, err
	}
	return page(html, "psr-render"), nil
}

// page answers with an HTML page.
func page(html []byte, how string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set(HeaderRender, how)
		_, _ = w.Write(html)
	})
}

// instance returns the tracked instance of rt with values, creating it;
// nil when MaxInstances are tracked already.
func (ps *Pages) instance(rt *route, values map[string]string) (*instance, error) {
	vals := make(map[string]string, len(rt.params))
	params := make([]cache.Param, 0, len(rt.params))
	for _, name := range rt.params {
		v, ok := values[name]
		if !ok {
			return nil, fmt.Errorf("ssr: page %s: no value for {%s}", rt.Pattern, name)
		}
		v = rt.canonical(name, v)
		vals[name] = v
		params = append(params, cache.Param{Name: name, Value: v})
	}
	if err := cache.SortParams(params); err != nil {
		return nil, fmt.Errorf("ssr: page %s: %w", rt.Pattern, err)
	}
	id := instanceID(rt, vals)
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if in, ok := ps.inst[id]; ok {
		return in, nil
	}
	if len(ps.inst) >= ps.cfg.MaxInstances {
		return nil, nil
	}
	in := &instance{rt: rt, id: id, values: vals,
		key: cache.Instance{Context: "psr:" + rt.Name, Params: params, Rev: ps.cfg.Rev}}
	ps.inst[id] = in
	return in, nil
}

// lookup returns the tracked instance of rt with values (canonical), or nil.
func (ps *Pages) lookup(rt *route, values map[string]string) *instance {
	id := instanceID(rt, values)
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.inst[id]
}

// instanceID is the key of an instance in Pages.inst.
func instanceID(rt *route, values map[string]string) string {
	id := rt.Name
	for _, name := range slices.Sorted(maps.Keys(values)) {
		id += "\x00" + name + "\x00" + values[name]
	}
	return id
}

// forget stops tracking an instance that was never stored (its render
// failed: an unknown id, a malformed value), so that such requests do not
// fill the table. A page of it that a concurrent render stores anyway is
// made unreachable, here or by that render (see store): a stored page is
// always one that invalidations re-render.
func (ps *Pages) forget(ctx context.Context, in *instance) {
	in.mu.Lock()
	if in.everStored {
		in.mu.Unlock()
		return
	}
	in.evicted = true
	in.mu.Unlock()
	ps.untrack(in)
	ps.c.Purge(ctx, cache.Purge{Context: in.key.Context, Params: in.key.Params, Rev: in.key.Rev})
}

// untrack removes an instance from the table, if it is still the tracked
// one of its id. It does not purge its stored page.
func (ps *Pages) untrack(in *instance) {
	ps.mu.Lock()
	if ps.inst[in.id] == in {
		delete(ps.inst, in.id)
	}
	ps.mu.Unlock()
}

// canonical returns a path value as its context parameter's wire string:
// integers in canonical decimal, so that /p/05/ and /p/5/ are one page.
func (rt *route) canonical(name, v string) string {
	for _, c := range rt.contexts {
		t, ok := c.params[name]
		if !ok {
			continue
		}
		switch t.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				return strconv.FormatInt(n, 10)
			}
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			if n, err := strconv.ParseUint(v, 10, 64); err == nil {
				return strconv.FormatUint(n, 10)
			}
		}
		return v
	}
	return v
}

// renderPage fetches the route's bundles for values, as the caller of ctx,
// and renders the page.
func (ps *Pages) renderPage(ctx context.Context, rt *route, values map[string]string) ([]byte, error) {
	data := Data{}
	for _, c := range rt.contexts {
		params := map[string]string{}
		for name, v := range values {
			if _, ok := c.params[name]; ok {
				params[name] = rt.canonical(name, v)
			}
		}
		b, err := ps.app.Fetch(ctx, c.name, params)
		if err != nil {
			return nil, err
		}
		data.Add(c.name, params, b)
	}
	props := map[string]any{"params": values}
	ps.renders.Add(1)
	return ps.r.RenderDocument(ctx, Document{Component: rt.Component, Props: props, Data: data,
		Title: rt.Title, Lang: ps.cfg.Lang, Head: ps.cfg.Head, Scripts: ps.cfg.Scripts})
}

// render renders a pre-rendered instance at its current version and stores
// it, or joins a render of that version (or a newer one) in progress. The
// render runs as an anonymous caller, whatever ctx carries, and is not
// cut short when ctx ends (others may wait for it).
func (ps *Pages) render(ctx context.Context, in *instance, rerender bool) ([]byte, error) {
	in.mu.Lock()
	in.served = in.served || !rerender
	v := in.dirty
	if f := in.flight; f != nil && f.version >= v {
		in.mu.Unlock()
		select {
		case <-f.done:
			return f.html, f.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f := &flight{version: v, done: make(chan struct{})}
	in.flight = f
	in.mu.Unlock()

	// Re-renders are waited for by the loop, which Close waits for; a
	// render for a request or Start may outlive its caller, so it is
	// counted in flights, unless Close has begun.
	usable, counted := true, false
	if !rerender {
		ps.mu.Lock()
		usable = !ps.stopped
		if usable {
			ps.flights.Add(1)
			counted = true
		}
		ps.mu.Unlock()
	}
	go func() {
		if counted {
			defer ps.flights.Done()
		}
		rctx, cancel := context.WithTimeout(context.Background(), DefaultRenderTimeout)
		defer cancel()
		if rerender {
			ps.rerenders.Add(1)
		}
		f.html, f.err = ps.renderPage(rctx, in.rt, in.values)
		switch {
		case !usable: // Close has begun: the cache may be closed
		case f.err == nil:
			ps.store(rctx, in, v, f.html)
		default:
			ps.forget(rctx, in)
		}
		in.mu.Lock()
		if in.flight == f {
			in.flight = nil
		}
		in.mu.Unlock()
		close(f.done)
	}()
	select {
	case <-f.done:
		return f.html, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// store puts a page rendered at version v in the cache, unless the stored
// page is the same or the instance was invalidated again meanwhile.
func (ps *Pages) store(ctx context.Context, in *instance, v uint64, html []byte) {
	e := ps.c.Get(ctx, in.key)
	if e.Status == cache.Hit && bytes.Equal(e.Value, html) {
		ps.unchanged.Add(1)
		ps.markClean(in, v)
		return
	}
	if e.Status == cache.Hit {
		ps.c.Purge(ctx, cache.Purge{Context: in.key.Context, Params: in.key.Params, Rev: in.key.Rev})
		e = ps.c.Get(ctx, in.key)
	}
	if e.Status != cache.Miss {
		return // the backend is down: serve rendered pages until it is back
	}
	in.mu.Lock()
	current := in.dirty == v
	in.mu.Unlock()
	if !current {
		return // invalidated again; the queued re-render stores the newer page
	}
	ps.c.Put(ctx, e, html, ps.cfg.TTL)
	ps.stored.Add(1)
	ps.markClean(in, v)
	in.mu.Lock()
	evicted := in.evicted
	in.mu.Unlock()
	if evicted { // forgotten meanwhile: nothing would re-render this page
		ps.c.Purge(ctx, cache.Purge{Context: in.key.Context, Params: in.key.Params, Rev: in.key.Rev})
	}
}

// markClean records that the stored page reflects version v.
func (ps *Pages) markClean(in *instance, v uint64) {
	in.mu.Lock()
	in.everStored = true
	if v > in.clean {
		in.clean = v
	}
	in.mu.Unlock()
}

// Invalidate marks the pages a mutation's targets affect and queues their
// re-rendering; it is called by the app for every invalidation.
func (ps *Pages) Invalidate(ctx context.Context, inv mizan.Invalidation) {
	ps.mu.Lock()
	ready := ps.setup && ps.setupErr == nil
	ps.mu.Unlock()
	if ps.closed.Load() || !ready {
		return // nothing was rendered yet: Start and requests set the routes up
	}
	ps.mu.Lock()
	routes := ps.routes
	ps.mu.Unlock()
	var marked []*instance
	var purges []cache.Purge
	for _, t := range inv.Targets {
		for _, rt := range routes {
			if !rt.psr || !rt.uses(t.Context) {
				continue
			}
			given := map[string]string{}
			for _, name := range rt.params {
				if v, ok := t.Params[name]; ok {
					if s, err := protocol.Stringify(v); err == nil {
						given[name] = rt.canonical(name, s)
					}
				}
			}
			if len(rt.params) > 0 && len(given) == len(rt.params) {
				// One instance. Unknown here, it matters only when another
				// process may have stored it.
				if in := ps.lookup(rt, given); in != nil {
					marked = append(marked, in)
				} else if ps.shared {
					if in, _ := ps.instance(rt, given); in != nil {
						marked = append(marked, in)
					}
				}
				continue
			}
			if ps.shared {
				purges = append(purges, cache.Purge{Context: "psr:" + rt.Name, Rev: ps.cfg.Rev})
			}
			ps.mu.Lock()
			for _, in := range ps.inst {
				if in.rt == rt && in.agrees(given) {
					marked = append(marked, in)
				}
			}
			ps.mu.Unlock()
		}
	}
	if len(purges) > 0 {
		ps.c.Purge(ctx, purges...)
	}
	if len(marked) == 0 {
		return
	}
	ps.mu.Lock()
	for _, in := range marked {
		in.mu.Lock()
		in.dirty++
		in.mu.Unlock()
		if ps.isIdle {
			ps.idle, ps.isIdle = make(chan struct{}), false
		}
		ps.queue[in] = struct{}{}
	}
	ps.mu.Unlock()
	select {
	case ps.wake <- struct{}{}:
	default:
	}
}

// uses reports whether the route is rendered from context name.
func (rt *route) uses(name string) bool {
	for _, c := range rt.contexts {
		if c.name == name {
			return true
		}
	}
	return false
}

// agrees reports whether the instance's values equal the given ones.
func (in *instance) agrees(given map[string]string) bool {
	for k, v := range given {
		if in.values[k] != v {
			return false
		}
	}
	return true
}

// run is the re-render loop: it waits for invalidations, lets a burst
// settle for Debounce (or not, when Sync asks), and re-renders what is
// queued.
func (ps *Pages) run() {
	for {
		select {
		case <-ps.done:
			return
		case <-ps.flush:
		case <-ps.wake:
			t := time.NewTimer(ps.cfg.Debounce)
			select {
			case <-ps.done:
				t.Stop()
				return
			case <-t.C:
			case <-ps.flush:
				t.Stop()
			}
		}
		ps.mu.Lock()
		batch := make([]*instance, 0, len(ps.queue))
		for in := range ps.queue {
			batch = append(batch, in)
		}
		clear(ps.queue)
		ps.mu.Unlock()
		ps.rerender(batch)
		ps.mu.Lock()
		if len(ps.queue) == 0 && !ps.isIdle {
			close(ps.idle)
			ps.isIdle = true
		}
		ps.mu.Unlock()
	}
}

// rerender renders a batch of invalidated instances, as many at once as the
// renderer has workers.
func (ps *Pages) rerender(batch []*instance) {
	sem := make(chan struct{}, ps.r.Workers())
	var wg sync.WaitGroup
	for _, in := range batch {
		in.mu.Lock()
		skip := in.dirty == in.clean // a request rendered it already
		served := in.served
		in.mu.Unlock()
		if skip {
			continue
		}
		if !served {
			// Known only from a target: re-render it only if some process
			// stored it. Otherwise stop tracking it, so that invalidations
			// alone do not fill the table.
			if e := ps.c.Get(context.Background(), in.key); e.Status != cache.Hit {
				ps.mu.Lock()
				in.mu.Lock()
				in.clean = in.dirty
				if !in.served && ps.inst[in.id] == in { // no request took it meanwhile
					delete(ps.inst, in.id)
				}
				in.mu.Unlock()
				ps.mu.Unlock()
				continue
			}
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if _, err := ps.render(context.Background(), in, true); err != nil {
				ps.logger.Warn("ssr: re-rendering a page failed; it is rendered on its next request", "page", in.rt.Pattern, "values", in.values, "err", err)
			}
		})
	}
	wg.Wait()
}

// Sync re-renders at once what invalidations have queued (without waiting
// for the debounce) and returns when no re-render is queued or running, or
// when ctx ends. Tests and graceful shutdowns use it.
func (ps *Pages) Sync(ctx context.Context) error {
	ps.mu.Lock()
	idle := ps.idle
	ps.mu.Unlock()
	select {
	case ps.flush <- struct{}{}:
	default:
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("ssr: waiting for page re-renders: %w", ctx.Err())
	}
}

// Stats returns the counters of the Pages.
func (ps *Pages) Stats() PageStats {
	ps.mu.Lock()
	tracked := len(ps.inst)
	ps.mu.Unlock()
	return PageStats{Tracked: tracked, Renders: ps.renders.Load(), Rerenders: ps.rerenders.Load(), Stored: ps.stored.Load(),
		Unchanged: ps.unchanged.Load(), Hits: ps.hits.Load(), Dynamic: ps.dynamic.Load()}
}

// Close stops re-rendering, after the batch and the renders in progress
// (or when ctx ends). It does not close the renderer, nor a cache given in
// the config.
func (ps *Pages) Close(ctx context.Context) error {
	if ps.closed.Swap(true) {
		return nil
	}
	close(ps.done)
	ps.mu.Lock()
	ps.stopped = true // no flights.Add after this: Wait may run
	ps.mu.Unlock()
	finished := make(chan struct{})
	go func() {
		ps.loop.Wait()
		ps.flights.Wait()
		close(finished)
	}()
	select {
	case <-finished:
	case <-ctx.Done():
		return fmt.Errorf("ssr: closing pages: %w", ctx.Err())
	}
	if ps.cfg.Cache == nil {
		return ps.c.Close()
	}
	return nil
}

// Make sure Pages consumes invalidations.
var _ mizan.Invalidator = (*Pages)(nil)
