package ssr

import (
	"context"
	"net/http"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/cache"
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
