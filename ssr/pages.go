package ssr

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/cache"
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
	// Passes bounds the renders of one page: a page embeds, besides its
	// route's contexts, every context instance its component reads, which
	// takes a render to find out (see [Renderer.RenderPage]). Zero means
	// [DefaultPasses]; 1 renders once and embeds only the route's
	// contexts (the instances read are still tracked for re-rendering).
	Passes int
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
	// its functions, and decides, with its render strategy, guards and
	// sharing, how the page is served. The page also embeds every other
	// context instance its component reads on its first render (a
	// sidebar's, one per project): found while rendering, fetched as the
	// caller the page is rendered for, and followed like these for
	// re-rendering (see [Renderer.RenderPage]).
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
	// Collected counts the bundles fetched for pages because their
	// components read them (instances of no route context), Unembedded
	// the instances pages read and did not embed (refused to the page's
	// caller, such as a guarded context in an anonymous page, or read by
	// the last pass only).
	Collected, Unembedded uint64
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
// Every page embeds, besides its route's contexts, each context instance
// its component reads on its first render ([Renderer.RenderPage]), so
// that hydration fetches nothing: fetched as the caller the page is
// rendered for, except that a guarded context is never embedded in a page
// rendered for an anonymous caller. A signed-in caller is given a
// pre-rendered page only if every context it embeds is Shared.
//
// Pages consumes the app's invalidations ([mizan.App.OnInvalidate]): a
// target re-renders the tracked instances of pre-rendered routes whose
// context instances it matches, by the one matching rule of docs/spec.md
// §3 ([protocol.Match]): a page's instance of a context is the path values
// that are that context's params, and the instances its last render read
// count as well (a target that comes during a render is matched against
// what that render read once it is done). A target narrowed to its caller
// (tier 2) re-renders nothing, since pages are rendered anonymously. Re-renders wait
// [PagesConfig.Debounce] to coalesce bursts, and a re-render whose HTML
// is the same as the stored page is not stored again. A request for an
// instance invalidated but not yet re-rendered renders it at once, so a
// caller always sees its own mutations.
type Pages struct {
	app App
	// views registers the routes as views of the app: [mizan.View] is a
	// generic function of *mizan.App, the one thing Pages needs of the app
	// that no interface can carry.
	views  *mizan.App
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

	// rendering counts the renders in progress of each tracked instance,
	// which note the targets that come meanwhile (instance.pending).
	// Guarded by mu.
	rendering map[*instance]int
	// metas caches what a page's collection needs of each context (a
	// *readMeta by name): the built app's metadata does not change.
	metas sync.Map

	renders, rerenders, stored, unchanged, hits, dynamic, collected, unembedded atomic.Uint64
}

// route is a registered route, completed by init once the app is built.
type route struct {
	Route
	params   []string // the pattern's wildcards, in order
	psr      bool     // pre-rendered
	shared   bool     // every context is Shared
	contexts []ctxInfo
	// reads are the contexts of the instances this process's renders of
	// the route's pages read beyond the route's own instances: targets of
	// these are matched against each page's reads. Guarded by Pages.mu.
	reads map[string]bool
}

// ctxInfo is what a route needs of one of its contexts.
type ctxInfo struct {
	name   string
	params map[string]reflect.Type // the context's fetch parameters
	// wildcards are the route's wildcards that are params of the context,
	// sorted: the params of the page's instance of the context.
	wildcards []string
}

// App is what [Pages] needs of a Mizan app to render and re-render pages;
// [*mizan.App] has every method. (Registering the routes as views takes the
// *mizan.App itself: see [NewPages].)
type App interface {
	// Build builds the app, once; Pages completes its routes from it.
	Build() error
	// ContextMeta describes a context: its params, functions, render
	// strategy.
	ContextMeta(name string) (mizan.ContextMeta, bool)
	// Lookup returns a registered function, for its auth guard.
	Lookup(name string) (*mizan.Func, bool)
	// Fetch returns a context's bundle as GET ctx/ would, for the caller
	// of ctx.
	Fetch(ctx context.Context, name string, params map[string]string) ([]byte, error)
	// OnInvalidate adds Pages to the consumers of the app's invalidations.
	OnInvalidate(inv mizan.Invalidator)
}

var _ App = (*mizan.App)(nil)

// NewPages returns the page server of app, rendering with r, and adds it
// to app's invalidation consumers. Register routes with [Pages.Page] or
// [Pages.Handle] before app.Build; call [Pages.Start] after it.
//
// It takes the *mizan.App, not an [App], because [Pages.Handle] registers
// each route as a view with [mizan.View], a generic function of
// *mizan.App; everything else Pages does goes through [App].
func NewPages(app *mizan.App, r *Renderer, cfg PagesConfig) (*Pages, error) {
	if app == nil || r == nil {
		return nil, errors.New("ssr: NewPages needs an app and a renderer")
	}
	if cfg.Debounce < 0 || cfg.TTL < 0 || cfg.MaxInstances < 0 || cfg.Passes < 0 {
		return nil, errors.New("ssr: PagesConfig.Debounce, TTL, MaxInstances and Passes must not be negative")
	}
	if cfg.Debounce == 0 {
		cfg.Debounce = DefaultDebounce
	}
	if cfg.MaxInstances == 0 {
		cfg.MaxInstances = DefaultMaxInstances
	}
	ps := &Pages{app: app, views: app, r: r, cfg: cfg, c: cfg.Cache, logger: cfg.Logger,
		inst: map[string]*instance{}, queue: map[*instance]struct{}{}, idle: make(chan struct{}), rendering: map[*instance]int{},
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
	r := &route{Route: rt, params: wildcards(rt.Pattern), reads: map[string]bool{}}
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
	mizan.View(ps.views, func(ctx context.Context, _ struct{}) (http.Handler, error) {
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
		params := map[string]reflect.Type{}
		for _, p := range m.Params {
			params[p.Name] = p.Type
		}
		rt.addContext(m.Name, params)
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

// addContext adds a context the route is rendered from, with its fetch
// parameters.
func (rt *route) addContext(name string, params map[string]reflect.Type) {
	ci := ctxInfo{name: name, params: params}
	for _, w := range rt.params {
		if _, ok := params[w]; ok {
			ci.wildcards = append(ci.wildcards, w)
		}
	}
	slices.Sort(ci.wildcards)
	rt.contexts = append(rt.contexts, ci)
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

// Stats returns the counters of the Pages.
func (ps *Pages) Stats() PageStats {
	ps.mu.Lock()
	tracked := len(ps.inst)
	ps.mu.Unlock()
	return PageStats{Tracked: tracked, Renders: ps.renders.Load(), Rerenders: ps.rerenders.Load(), Stored: ps.stored.Load(),
		Unchanged: ps.unchanged.Load(), Hits: ps.hits.Load(), Dynamic: ps.dynamic.Load(),
		Collected: ps.collected.Load(), Unembedded: ps.unembedded.Load()}
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
