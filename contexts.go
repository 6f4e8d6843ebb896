package mizan

import (
	"github.com/mizan-afi/mizan/manifest"
	"slices"
	"strings"
	"time"
)

// RenderStrategy says how the pages of a context may be served (the
// render_strategy of the edge manifest).
type RenderStrategy string

// The render strategies.
const (
	// RenderPSR (preemptive static rendering): the context's data does not
	// depend on who asks, so its pages can be rendered ahead, stored, and
	// re-rendered when a mutation invalidates the context.
	RenderPSR RenderStrategy = manifest.PSR
	// RenderDynamicCached: the context is user-scoped; its pages are
	// rendered per request, from bundles held in the origin cache.
	RenderDynamicCached RenderStrategy = manifest.DynamicCached
)

// UserScopedParam reports whether a context parameter of this name makes
// its context user-scoped: user_id, user, owner_id or account_id (the one
// list is [manifest.UserScopedParams]).
func UserScopedParam(name string) bool { return manifest.IsUserScopedParam(name) }

// ContextMeta describes one context of a built app.
type ContextMeta struct {
	Name string
	// Functions are the wire names of the functions GET ctx/<name>/ runs,
	// sorted.
	Functions []string
	// Params are the parameters of those functions, sorted by name: what
	// ctx/<name>/ accepts and what names an instance. Type is the base type
	// (a pointer's element type); Filter is set on the context's filters.
	Params []Param
	// Filters are the parameters of the context that are filters, sorted:
	// those any function of the context (views and private ones included)
	// tags `mizan:"filter"`. They never scope an invalidation target
	// (docs/spec.md §3).
	Filters []string
	// Routes are the routes of the views in the context (its page routes),
	// sorted.
	Routes []string
	// UserScoped reports whether a parameter of any function of the context
	// names a user ([UserScopedParam]).
	UserScoped bool
	// RenderStrategy is [RenderDynamicCached] for a user-scoped context and
	// [RenderPSR] otherwise.
	RenderStrategy RenderStrategy
	// Cached reports whether the origin cache keeps the context's bundles
	// (no function says [NoCache]); TTL is their lifetime (0: the app's
	// default) and Rev the revision in their keys.
	Cached bool
	TTL    time.Duration
	Rev    int
	// Shared reports whether every function of the context is [Shared]:
	// signed-in callers share its cache entries.
	Shared bool
}

// Contexts returns the metadata of every context, sorted by name. It builds
// the app if needed.
func (a *App) Contexts() ([]ContextMeta, error) {
	if err := a.Build(); err != nil {
		return nil, err
	}
	out := make([]ContextMeta, 0, len(a.plan.contexts))
	for _, cp := range a.plan.contexts {
		out = append(out, cp.meta())
	}
	slices.SortFunc(out, func(x, y ContextMeta) int { return strings.Compare(x.Name, y.Name) })
	return out, nil
}

// ContextMeta returns the metadata of the context called name, and whether
// there is one. It builds the app if needed.
func (a *App) ContextMeta(name string) (ContextMeta, bool) {
	if err := a.Build(); err != nil {
		return ContextMeta{}, false
	}
	cp, ok := a.plan.contexts[name]
	if !ok {
		return ContextMeta{}, false
	}
	return cp.meta(), true
}

// meta describes cp.
func (cp *contextPlan) meta() ContextMeta {
	m := ContextMeta{Name: cp.name, Cached: cp.cached, TTL: cp.ttl, Rev: cp.rev, Shared: cp.shared,
		RenderStrategy: RenderPSR}
	for _, f := range cp.fetch {
		m.Functions = append(m.Functions, f.meta.Name)
	}
	for _, name := range cp.fetchParams {
		p := Param{Name: name, Type: cp.params[name], Filter: cp.filters[name]}
		for _, f := range cp.fetch {
			for _, fp := range f.meta.Params {
				if fp.Name == name {
					p.Optional = p.Optional || fp.Optional
					p.Nullable = p.Nullable || fp.Nullable
				}
			}
		}
		m.Params = append(m.Params, p)
	}
	for name := range cp.filters {
		m.Filters = append(m.Filters, name)
	}
	slices.Sort(m.Filters)
	for name := range cp.params {
		if UserScopedParam(name) {
			m.UserScoped = true
			m.RenderStrategy = RenderDynamicCached
		}
	}
	for _, f := range cp.all {
		if f.meta.ViewPath && f.meta.Route != "" && !slices.Contains(m.Routes, f.meta.Route) {
			m.Routes = append(m.Routes, f.meta.Route)
		}
	}
	slices.Sort(m.Routes)
	return m
}
