package ssr

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"sync"

	"github.com/mizan-afi/mizan/cache"
	"github.com/mizan-afi/mizan/protocol"
)

// instance is one route with its path values: one pre-rendered page,
// tracked for re-rendering.
type instance struct {
	rt     *route
	id     string
	values map[string]string // canonical path values
	// ctxs holds, for each of rt.contexts, the context instance the page
	// is rendered from: the path values that are that context's params,
	// as wire strings, sorted. Invalidations are matched against these.
	ctxs []protocol.Instance
	key  cache.Instance // where the page is stored
	// pending holds the targets that came while a render of the page was
	// in progress (Pages.rendering), to be matched against what that
	// render read once it is known; overflow says some were dropped.
	// Guarded by Pages.mu.
	pending  []protocol.Normal
	overflow bool

	mu     sync.Mutex
	dirty  uint64 // bumped by every invalidation
	clean  uint64 // the dirty value the stored page reflects
	served bool   // rendered or served by this process
	// everStored reports whether a page of the instance was ever stored
	// by this process; evicted whether it is no longer tracked.
	everStored, evicted bool
	flight              *flight
	// reads are the other instances the last render read (beyond ctxs,
	// embedded or not: a target of one re-renders the page), canonical;
	// prefetch the keys it fetched for that, which the next render fetches
	// with the route's contexts, so that it usually renders once.
	reads    []protocol.Instance
	prefetch []string
	// rendered reports whether this process has rendered the page; shared,
	// then, whether every context it embeds is Shared (a signed-in caller
	// may be given it).
	rendered, shared bool
}

// maxPending bounds instance.pending.
const maxPending = 64

// readsMatch reports whether target n matches one of the instances the
// page's last render read. in.mu is held.
func (in *instance) readsMatch(n protocol.Normal) bool {
	for _, r := range in.reads {
		if protocol.Match(n, r) {
			return true
		}
	}
	return false
}

// pageScope is the parameter of a stored page's cache key that names the
// page itself (its path values as a query string), the one scope of
// every page key, so that one page can be purged alone. It cannot be a
// wildcard's name (those are Go identifiers).
const pageScope = "psr.page"

// pageScopes is cache.Instance.Scopes of every page key.
var pageScopes = []string{pageScope}

// canonical returns a path value as its context parameter's wire string:
// integers in canonical decimal, so that /p/05/ and /p/5/ are one page.
func (rt *route) canonical(name, v string) string {
	for _, c := range rt.contexts {
		if t, ok := c.params[name]; ok {
			return canonicalValue(t, v)
		}
	}
	return v
}

// canonicalValue returns v, a wire string of a parameter of type t, in
// canonical form: an integer in canonical decimal; anything else as it is.
func canonicalValue(t reflect.Type, v string) string {
	if t == nil {
		return v
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

// contextInstance returns the instance of the route's context i that the
// page with canonical values is rendered from (see instance.ctxs).
func (rt *route) contextInstance(i int, values map[string]string) protocol.Instance {
	c := rt.contexts[i]
	inst := protocol.Instance{Context: c.name}
	for _, name := range c.wildcards {
		inst.Params = append(inst.Params, protocol.Param{Name: name, Value: values[name]})
	}
	return inst
}

// instance returns the tracked instance of rt with values, creating it;
// nil when MaxInstances are tracked already.
func (ps *Pages) instance(rt *route, values map[string]string) (*instance, error) {
	vals := make(map[string]string, len(rt.params))
	params := make([]cache.Param, 0, len(rt.params)+1)
	page := url.Values{}
	for _, name := range rt.params {
		v, ok := values[name]
		if !ok {
			return nil, fmt.Errorf("ssr: page %s: no value for {%s}", rt.Pattern, name)
		}
		v = rt.canonical(name, v)
		vals[name] = v
		params = append(params, cache.Param{Name: name, Value: v})
		page.Set(name, v)
	}
	params = append(params, cache.Param{Name: pageScope, Value: page.Encode()})
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
	in := &instance{rt: rt, id: id, values: vals, ctxs: make([]protocol.Instance, len(rt.contexts)),
		key: cache.Instance{Context: pageContext(rt), Params: params, Scopes: pageScopes, Rev: ps.cfg.Rev}}
	for i := range rt.contexts {
		in.ctxs[i] = rt.contextInstance(i, vals)
	}
	ps.inst[id] = in
	return in, nil
}

// pageContext is the cache context of the stored pages of rt.
func pageContext(rt *route) string { return "psr:" + rt.Name }

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

// purgePage makes the stored page of in unreachable (at every rev).
func (ps *Pages) purgePage(ctx context.Context, in *instance) {
	for _, p := range in.key.Params {
		if p.Name == pageScope {
			ps.c.Purge(ctx, cache.Purge{Context: in.key.Context, Param: p})
			return
		}
	}
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
	ps.purgePage(ctx, in)
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
