package ssr

import (
	"context"
	"maps"
	"net/http"
	"reflect"
	"slices"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/cache"
	"github.com/mizan-afi/mizan/protocol"
)

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
	signedIn := mizan.Caller(ctx) != nil
	if rt.psr && (!signedIn || rt.shared) {
		in, err := ps.instance(rt, values)
		if err != nil {
			return nil, err
		}
		if in != nil {
			if h, err := ps.servePSR(ctx, in, signedIn); h != nil || err != nil {
				return h, err
			}
			// The page embeds an instance of a context that is not Shared,
			// read by its component: the caller gets a page of their own.
		}
	}
	ps.dynamic.Add(1)
	res, err := ps.renderPage(ctx, rt, values, nil)
	if err != nil {
		return nil, err
	}
	return page(res.html, "dynamic", func() string {
		canonical := make(map[string]string, len(values))
		for name, v := range values {
			canonical[name] = rt.canonical(name, v)
		}
		own := make([]protocol.Instance, len(rt.contexts))
		for i := range rt.contexts {
			own[i] = rt.contextInstance(i, canonical)
		}
		return edgeInstances(own, res.reads)
	}), nil
}

// edgeInstances formats the X-Mizan-Instance value of a page that shows
// the given instances (docs/spec.md §13.8): every one, so that an edge
// keeps the page only when it can tell every target that changes it.
func edgeInstances(lists ...[]protocol.Instance) string {
	var b []byte
	for _, l := range lists {
		for _, inst := range l {
			if len(b) > 0 {
				b = append(b, ", "...)
			}
			b = protocol.AppendInstance(b, inst)
		}
	}
	return string(b)
}

// servePSR answers with the stored page, or renders and stores it. For a
// signed-in caller (of a route whose contexts are all Shared) it answers
// nil when the page embeds an instance of a context that is not Shared,
// which only a render tells: a page this process has not rendered yet is
// rendered first.
func (ps *Pages) servePSR(ctx context.Context, in *instance, signedIn bool) (http.Handler, error) {
	in.mu.Lock()
	fresh := in.dirty == in.clean
	in.served = true
	known, shared := in.rendered, in.shared
	in.mu.Unlock()
	// What the page shows is known once this process has rendered it (its
	// reads): until then an edge is told nothing, and keeps nothing.
	shows := func() string {
		in.mu.Lock()
		defer in.mu.Unlock()
		if !in.rendered {
			return ""
		}
		return edgeInstances(in.ctxs, in.reads)
	}
	if signedIn && known && !shared {
		return nil, nil
	}
	if fresh && (known || !signedIn) {
		if e := ps.c.Get(ctx, in.key); e.Status == cache.Hit {
			ps.hits.Add(1)
			return page(e.Value, "psr-hit", shows), nil
		}
	}
	html, err := ps.render(ctx, in, false)
	if err != nil {
		return nil, err
	}
	if signedIn {
		in.mu.Lock()
		shared = in.shared
		in.mu.Unlock()
		if !shared {
			return nil, nil
		}
	}
	return page(html, "psr-render", shows), nil
}

// page answers with an HTML page. To an edge (docs/spec.md §13.8) it
// names the instances the page shows, which shows formats (the
// X-Mizan-Instance value; "" for none known, which an edge does not keep).
func page(html []byte, how string, shows func() string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set(HeaderRender, how)
		if _, edge := r.Header[mizan.HeaderEdgeRequest]; edge {
			if instances := shows(); instances != "" {
				h.Set(mizan.HeaderInstance, instances)
			} else {
				h.Del(mizan.HeaderInstance)
			}
		}
		_, _ = w.Write(html)
	})
}

// pageResult is a rendered page with what its component read.
type pageResult struct {
	html []byte
	// reads are the instances read beyond the route's own, canonical;
	// fetched the keys of those embedded.
	reads   []protocol.Instance
	fetched []string
	// shared reports whether every context the page embeds is Shared.
	shared bool
}

// renderPage fetches the route's bundles for values, as the caller of ctx,
// and renders the page, embedding also every instance its component
// reads (fetched as that caller; prefetch first: the keys a previous
// render of the page fetched, which it most likely reads again).
func (ps *Pages) renderPage(ctx context.Context, rt *route, values map[string]string, prefetch []string) (*pageResult, error) {
	return ps.renderPageWith(ctx, rt, values, prefetch, nil)
}

// renderPageWith is renderPage with props added to the component's.
func (ps *Pages) renderPageWith(ctx context.Context, rt *route, values map[string]string, prefetch []string, extra map[string]any) (*pageResult, error) {
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
	declared := make(map[string]bool, len(data))
	for k := range data {
		declared[k] = true
	}
	props := map[string]any{"params": values}
	for k, v := range extra {
		props[k] = v
	}
	ps.renders.Add(1)
	doc := Document{Component: rt.Component, Props: props, Data: data,
		Title: rt.Title, Lang: ps.cfg.Lang, Head: ps.cfg.Head, Scripts: ps.cfg.Scripts,
		Fetch: ps.fetchRead(ctx), Passes: ps.cfg.Passes}
	out, err := ps.r.renderCollecting(ctx, doc, prefetch)
	if err != nil {
		return nil, err
	}
	res := &pageResult{html: out.HTML, shared: rt.shared, fetched: out.Fetched}
	for _, k := range out.Reads {
		if declared[k] {
			continue // one of the route's own instances (instance.ctxs)
		}
		name, params, ok := ParseInstanceKey(k)
		if !ok {
			continue
		}
		m := ps.readMeta(name)
		if m == nil {
			continue // no such context: nothing to fetch, nothing to match
		}
		res.reads = append(res.reads, m.instance(name, params))
		if _, embedded := out.Data[k]; embedded {
			res.shared = res.shared && m.shared
		} else {
			ps.unembedded.Add(1)
		}
	}
	ps.collected.Add(uint64(len(out.Fetched)))
	return res, nil
}

// readMeta is what collecting needs of a context.
type readMeta struct {
	guarded bool // a function has an auth guard
	shared  bool // every function is Shared
	params  map[string]reflect.Type
}

// readMeta returns the metadata of the context called name, or nil when
// the app has no such context.
func (ps *Pages) readMeta(name string) *readMeta {
	if m, ok := ps.metas.Load(name); ok {
		return m.(*readMeta)
	}
	cm, ok := ps.app.ContextMeta(name)
	if !ok || len(cm.Functions) == 0 {
		return nil // not cached: names come from components, unbounded
	}
	m := &readMeta{shared: cm.Shared, params: map[string]reflect.Type{}}
	for _, p := range cm.Params {
		m.params[p.Name] = p.Type
	}
	for _, fn := range cm.Functions {
		if f, ok := ps.app.Lookup(fn); ok && f.Meta().Auth != "" {
			m.guarded = true
		}
	}
	v, _ := ps.metas.LoadOrStore(name, m)
	return v.(*readMeta)
}

// instance returns the instance of context name with params as the
// matching rule sees it: integer params in canonical decimal.
func (m *readMeta) instance(name string, params map[string]string) protocol.Instance {
	inst := protocol.Instance{Context: name}
	for _, k := range slices.Sorted(maps.Keys(params)) {
		inst.Params = append(inst.Params, protocol.Param{Name: k, Value: canonicalValue(m.params[k], params[k])})
	}
	return inst
}

// fetchRead returns the FetchFunc of a page rendered for the caller of
// ctx: it fetches an instance the component read through the app, as that
// caller, unless the app has no such context, or the caller is anonymous
// and the context is guarded (a guarded context is never embedded in an
// anonymous page).
func (ps *Pages) fetchRead(ctx context.Context) FetchFunc {
	anonymous := mizan.Caller(ctx) == nil
	return func(ctx context.Context, name string, params map[string]string) ([]byte, error) {
		m := ps.readMeta(name)
		if m == nil || anonymous && m.guarded {
			return nil, nil
		}
		return ps.app.Fetch(ctx, name, params)
	}
}
