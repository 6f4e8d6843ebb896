package mizan

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/mizan-afi/mizan/protocol"
)

// HTML returns a handler that answers with status and an HTML body, for a
// view to return.
func HTML(status int, html string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(html))
	})
}

// View registers a view-path function: it answers on its own [Route] with the
// http.Handler it returns (a page, a redirect), not with data. Its arguments
// come from the route's path values, then the query string and form fields.
// With [Affects] it is a mutation (POST by default) and its response carries
// the X-Mizan-Invalidate header; otherwise it is a read (GET by default) and,
// with [In], part of a context's invalidation graph. A nil handler answers
// 200 with an empty body.
func View[In any](app *App, fn func(context.Context, In) (http.Handler, error), opts ...Option) *Func {
	kind := KindQuery
	var c funcConfig
	for _, o := range opts {
		o.apply(&c)
	}
	if len(c.affects) > 0 {
		kind = KindMutation
	}
	f, err := newFunc(kind, fn, opts)
	if f != nil {
		f.meta.ViewPath = true
	}
	app.add(f, err)
	return f
}

// viewRoute serves one route of one or more views, by method, through
// the view pipeline: the method check, same origin, authenticated, the body
// limit, then serveView.
func (a *App) viewRoute(byMethod map[string]*Func) http.Handler {
	var methods []string
	for m := range byMethod {
		methods = append(methods, m)
	}
	slices.Sort(methods)
	allow := strings.Join(methods, ", ")
	serve := pipeline(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := byMethod[r.Method]
		if !ok {
			f = byMethod[http.MethodGet] // HEAD, checked below
		}
		a.serveView(w, r, f)
	}), a.sameOrigin, a.authenticated, a.bodyLimit)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, ok := byMethod[r.Method]
		if !ok && r.Method == http.MethodHead {
			_, ok = byMethod[http.MethodGet]
		}
		if !ok {
			w.Header().Set("Allow", allow)
			writeError(w, r, a.logger, NewError(CodeMethodNotAllowed, "method "+r.Method+" is not allowed here; use "+allow))
			return
		}
		defer recoverTo(w, r, a.logger)
		serve.ServeHTTP(w, r)
	})
}

// serveView runs a view and answers with the handler it returns: its
// guard, its arguments from the path, the query and the form (every bad one
// reported at once), the run, and the emission step.
func (a *App) serveView(w http.ResponseWriter, r *http.Request, f *Func) {
	ci := callFrom(r.Context())
	if merr := f.cfg.auth.check(r, ci.caller); merr != nil {
		writeError(w, r, a.logger, merr)
		return
	}
	if err := parseForm(r, a.cfg.MaxBodyBytes); err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	src := func(name string) ([]string, bool) {
		if v := r.PathValue(name); v != "" {
			return []string{v}, true
		}
		vs, ok := r.Form[name]
		return vs, ok
	}
	in := f.newIn()
	given, merr := f.args.decodeStrings(src, reflectElem(in))
	if merr = a.validated(f, in, merr); merr != nil {
		writeError(w, r, a.logger, merr)
		return
	}
	ctx := r.Context()
	out, err := a.run(ctx, f, in)
	if err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	mergeHeader(w.Header(), ci.header)
	a.setViewEdgeHeaders(w.Header(), f, in, given, ci.caller, fromEdge(r))
	if f.meta.Kind == KindMutation {
		e, err := a.emitMutation(ctx, f, ci.caller, in, given)
		if err == nil {
			err = e.writeHeaders(w.Header(), r)
		}
		if err != nil {
			writeError(w, r, a.logger, err)
			return
		}
	}
	if h, _ := out.(http.Handler); h != nil {
		h.ServeHTTP(w, r)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// setViewEdgeHeaders sets, when an edge asks (edge), what it needs to know
// of a view's response (docs/spec.md §11, §13.8): X-Mizan-Identity, and for
// a read view of a context X-Mizan-Instance, the instance its arguments
// name (those that are parameters of the context, as a query names them).
func (a *App) setViewEdgeHeaders(h http.Header, f *Func, in any, given presence, caller *Identity, edge bool) {
	if !edge {
		return
	}
	h.Set(HeaderIdentity, identityOf(caller))
	cp := a.plan.contexts[f.meta.Context]
	if f.meta.Kind == KindMutation || cp == nil {
		return
	}
	t := Target{Context: cp.name}
	v := reflectElem(in)
	for i := range f.args.params {
		p := &f.args.params[i]
		if _, ok := cp.params[p.name]; !ok || !given.has(i) {
			continue
		}
		if val, ok := p.value(v); ok {
			if t.Params == nil {
				t.Params = map[string]any{}
			}
			t.Params[p.name] = val
		}
	}
	if hv, err := protocol.FormatHeader([]Target{t}); err == nil {
		h.Set(HeaderInstance, hv)
	}
}

// parseForm parses the query string, and the body when it is a form.
func parseForm(r *http.Request, max int64) error {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var err error
	if mt == "multipart/form-data" {
		if max <= 0 {
			max = 32 << 20
		}
		err = r.ParseMultipartForm(max)
	} else {
		err = r.ParseForm()
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return NewError(CodeBadRequest, "malformed form or query string").WithCause(err)
	}
	return nil
}
