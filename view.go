package mizan

import (
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

// viewHandler serves one route of one or more views, by method.
func (a *App) viewHandler(byMethod map[string]*Func) http.Handler {
	var methods []string
	for m := range byMethod {
		methods = append(methods, m)
	}
	slices.Sort(methods)
	allow := strings.Join(methods, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := byMethod[r.Method]
		if !ok && r.Method == http.MethodHead {
			f, ok = byMethod[http.MethodGet]
		}
		if !ok {
			w.Header().Set("Allow", allow)
			writeError(w, r, a.logger, NewError(CodeMethodNotAllowed, "method "+r.Method+" is not allowed here; use "+allow))
			return
		}
		defer recoverTo(w, r, a.logger)
		a.serveView(w, r, f)
	})
}

// serveView runs a view and answers with the handler it returns.
func (a *App) serveView(w http.ResponseWriter, r *http.Request, f *Func) {
	if err := a.plan.cop.Check(r); err != nil {
		writeError(w, r, a.logger, NewError(CodeForbidden, "cross-origin request refused"))
		return
	}
	caller, merr := a.authenticate(r)
	if merr != nil {
		writeError(w, r, a.logger, merr)
		return
	}
	if merr := f.cfg.auth.check(r, caller); merr != nil {
		writeError(w, r, a.logger, merr)
		return
	}
	if a.cfg.MaxBodyBytes > 0 && r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, a.cfg.MaxBodyBytes)
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
	if merr != nil {
		writeError(w, r, a.logger, merr)
		return
	}
	if merr := a.check(f, in); merr != nil {
		writeError(w, r, a.logger, merr)
		return
	}
	ci := &callInfo{r: r, caller: caller}
	ctx := withCall(r.Context(), ci)
	out, err := a.run(ctx, f, in)
	if err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	mergeHeader(w.Header(), ci.header)
	if targets := f.targets(in, given); len(targets) > 0 {
		hv, err := protocol.FormatHeader(targets)
		if err != nil {
			writeError(w, r, a.logger, err)
			return
		}
		w.Header().Set(protocol.HeaderInvalidate, hv)
		a.fanOut(ctx, Invalidation{Source: f.meta.Name, Targets: targets, Caller: caller})
	}
	if h, _ := out.(http.Handler); h != nil {
		h.ServeHTTP(w, r)
		return
	}
	w.WriteHeader(http.StatusOK)
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
