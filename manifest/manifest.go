// Package manifest holds the edge manifest of a Mizan app: the document an
// edge proxy reads to know which paths are context fetches it may cache,
// which parameters key them, which contexts are per user, and what every
// mutation invalidates. A server builds one with mizan's App.Manifest; the
// schema is described in docs/manifest.md.
//
// The package depends on no other package of this module, so an edge proxy
// can read manifests without the server.
package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// EnvWrite is the environment variable that asks a Mizan program to write
// its manifest to the file it names and exit ("mizan manifest --cmd" sets
// it; the app honours it with App.WriteManifestFromEnv).
const EnvWrite = "MIZAN_WRITE_MANIFEST"

// Paths of a context function.
const (
	PathRPC  = "rpc"  // fetched by GET <prefix>ctx/<context>/
	PathView = "view" // answers on its own route
)

// Render strategies of a context.
const (
	// PSR (pre-emptive static rendering): no parameter of the context names
	// a user, so one rendering serves everyone and can be redone when a
	// mutation invalidates it.
	PSR = "psr"
	// DynamicCached: a parameter names a user; entries are cached per
	// instance and rendered on demand.
	DynamicCached = "dynamic_cached"
)

// UserScopedParams are the parameter names that make a context user
// scoped: a context with one of them is rendered DynamicCached.
var UserScopedParams = []string{"account_id", "owner_id", "user", "user_id"}

// IsUserScopedParam reports whether name is one of [UserScopedParams].
func IsUserScopedParam(name string) bool { return slices.Contains(UserScopedParams, name) }

// Manifest is the edge manifest of an app.
type Manifest struct {
	// Contexts are the app's contexts, by name.
	Contexts map[string]Context `json:"contexts"`
	// Mutations are the app's mutations, private ones included, by wire
	// name.
	Mutations map[string]Mutation `json:"mutations"`
}

// Context is one context of the manifest.
type Context struct {
	// Functions are the context's functions, sorted by name: the
	// fetchable ones (path rpc) and the views (path view, with route).
	// Private functions that are not views are left out.
	Functions []Function `json:"functions"`
	// Endpoints are the paths that fetch the context: one,
	// <prefix>ctx/<name>/, or none when no function is fetchable.
	Endpoints []string `json:"endpoints"`
	// Params are the context's parameters, sorted: the union of its
	// functions' parameters, the names that name a cached instance.
	Params []string `json:"params"`
	// Filters are the parameters that are filters of the context, sorted:
	// those a function of the context tags filter (docs/spec.md §3). They
	// name instances like the other params but never scope an
	// invalidation target, so a target leaves them out and matches every
	// value. Every filter is one of Params.
	Filters []string `json:"filters"`
	// UserScoped reports whether a parameter names a user
	// ([UserScopedParams]).
	UserScoped bool `json:"user_scoped"`
	// RenderStrategy is PSR or DynamicCached: DynamicCached exactly when
	// UserScoped.
	RenderStrategy string `json:"render_strategy"`
	// PageRoutes are the routes of the context's views, sorted.
	PageRoutes []string `json:"page_routes"`
	// Shared reports whether the context's functions never read the
	// caller, so that signed-in callers share its cache entries: without
	// it, a cache key carries the caller's id (docs/spec.md §6).
	Shared bool `json:"shared"`
	// Rev is the context's cache revision, the "r" of its cache keys.
	Rev int `json:"rev"`
	// CacheTTL is the context's cache hint: how many seconds a cached
	// bundle of it lives (the smallest Cache TTL of its functions, or the
	// app's CacheTTL), 0 when the app says none. An edge keeps its entries
	// this long, or its own default when 0 (docs/edge.md).
	CacheTTL int `json:"cache_ttl"`
	// NoCache reports that a function of the context says NoCache: no
	// cache, the origin's or an edge's, keeps its bundles.
	NoCache bool `json:"no_cache"`
	// Guard says who may fetch the context, when its functions (views
	// included) have auth guards: "" for anyone; [GuardCaller] when a guard decides
	// by who calls (RequireAuth, RequireStaff, RequireSuperuser), so an
	// edge keys every entry per caller even when Shared; [GuardRequest]
	// when a guard is a predicate of the request, which an edge cannot
	// evaluate, so it keeps no entry.
	Guard string `json:"guard"`
}

// Guards of a context ([Context.Guard]).
const (
	GuardCaller  = "caller"
	GuardRequest = "request"
)

// Function is one function of a context.
type Function struct {
	Name  string `json:"name"`
	Path  string `json:"path"`            // PathRPC or PathView
	Route string `json:"route,omitempty"` // the route pattern of a view
}

// Mutation is one mutation of the manifest.
type Mutation struct {
	// Affects are the contexts the mutation invalidates, sorted (a
	// function-level target appears as its context, as in the
	// X-Mizan-Invalidate header).
	Affects []string `json:"affects"`
	// AutoScopedParams are the mutation's arguments that scope its
	// targets, sorted: those whose names equal parameters of an affected
	// context that are not filters, or those of its explicit scope
	// (docs/spec.md §3). Empty when every target is broad.
	AutoScopedParams []string `json:"auto_scoped_params"`
	// CallerScoped are the affected contexts whose targets narrow to the
	// caller (tier 2 of docs/spec.md §3), sorted: an edge purges only the
	// caller's entries of these (docs/spec.md §11). Every one is one of
	// Affects, and every target the mutation declares in it is
	// caller-scoped (a function-level target never is).
	CallerScoped []string `json:"caller_scoped"`
	// Private reports whether the mutation has no RPC endpoint.
	Private bool `json:"private,omitempty"`
	// Route and Methods are those of a view mutation (a webhook, a form
	// post), absent for one called through call/.
	Route   string   `json:"route,omitempty"`
	Methods []string `json:"methods,omitempty"`
}

// Encode returns m as indented JSON ending in a newline. Object members
// come in a fixed order (maps sorted by key), so equal manifests encode to
// equal bytes.
func Encode(m *Manifest) ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("manifest: encoding: %w", err)
	}
	return append(b, '\n'), nil
}

// Parse decodes a manifest, refusing unknown members, trailing data, a
// document without its two maps, and members that contradict one another
// (a filter that is not a parameter, a caller-scoped context that is not
// affected). A list member that is absent or null is read as empty, so that
// a manifest written before a member existed (filters, caller_scoped) reads
// as saying none, and encodes again with [] as the schema says.
func Parse(b []byte) (*Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if dec.More() {
		return nil, errors.New("manifest: data after the document")
	}
	if m.Contexts == nil || m.Mutations == nil {
		return nil, errors.New(`manifest: "contexts" and "mutations" are required objects`)
	}
	for name, c := range m.Contexts {
		for _, l := range []*[]string{&c.Endpoints, &c.Params, &c.Filters, &c.PageRoutes} {
			orEmpty(l)
		}
		if c.Functions == nil {
			c.Functions = []Function{}
		}
		m.Contexts[name] = c
		for _, f := range c.Functions {
			if f.Path != PathRPC && f.Path != PathView {
				return nil, fmt.Errorf("manifest: context %s: function %s has path %q, not rpc or view", name, f.Name, f.Path)
			}
		}
		if c.Guard != "" && c.Guard != GuardCaller && c.Guard != GuardRequest {
			return nil, fmt.Errorf("manifest: context %s: guard %q is not caller or request", name, c.Guard)
		}
		if c.RenderStrategy != PSR && c.RenderStrategy != DynamicCached {
			return nil, fmt.Errorf("manifest: context %s: render_strategy %q is not psr or dynamic_cached", name, c.RenderStrategy)
		}
		for _, f := range c.Filters {
			if !slices.Contains(c.Params, f) {
				return nil, fmt.Errorf("manifest: context %s: filter %q is not one of its params", name, f)
			}
		}
	}
	for name, mu := range m.Mutations {
		for _, l := range []*[]string{&mu.Affects, &mu.AutoScopedParams, &mu.CallerScoped} {
			orEmpty(l)
		}
		m.Mutations[name] = mu
		for _, c := range mu.CallerScoped {
			if !slices.Contains(mu.Affects, c) {
				return nil, fmt.Errorf("manifest: mutation %s: caller_scoped context %q is not one it affects", name, c)
			}
		}
	}
	return &m, nil
}

// orEmpty makes a nil list empty.
func orEmpty(l *[]string) {
	if *l == nil {
		*l = []string{}
	}
}
