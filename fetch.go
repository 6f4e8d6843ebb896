package mizan

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync"
)

// fetchResult is the outcome of one function of a context fetch.
type fetchResult struct {
	data []byte
	err  error
	ci   callInfo
}

// serveContext serves GET ctx/<name>/: every function of the context, run
// concurrently, bundled into one object keyed by function name.
func (a *App) serveContext(w http.ResponseWriter, r *http.Request) {
	cp, ok := a.plan.contexts[r.PathValue("context")]
	if !ok || len(cp.fetch) == 0 {
		writeError(w, r, a.logger, NewError(CodeNotFound, "no context named "+quote(r.PathValue("context"))))
		return
	}
	caller, merr := a.authenticate(r)
	if merr != nil {
		writeError(w, r, a.logger, merr)
		return
	}
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeError(w, r, a.logger, NewError(CodeBadRequest, "malformed query string"))
		return
	}
	var fields map[string]string
	for k := range query {
		if _, ok := cp.params[k]; !ok {
			if fields == nil {
				fields = map[string]string{}
			}
			fields[k] = "unknown parameter"
		}
	}
	src := func(name string) ([]string, bool) { vs, ok := query[name]; return vs, ok }
	ins := make([]any, len(cp.fetch))
	for i, f := range cp.fetch {
		if merr := f.cfg.auth.check(r, caller); merr != nil {
			writeError(w, r, a.logger, merr)
			return
		}
		ins[i] = f.newIn()
		merr := f.args.decodeStrings(src, reflectElem(ins[i]))
		if merr == nil {
			merr = a.check(f, ins[i])
		}
		if merr != nil {
			if merr.code != CodeInvalidArgs {
				writeError(w, r, a.logger, merr)
				return
			}
			if fields == nil {
				fields = map[string]string{}
			}
			for k, v := range merr.fields {
				fields[k] = v
			}
		}
	}
	if fields != nil {
		writeError(w, r, a.logger, invalidArgs(fields))
		return
	}

	results := make([]fetchResult, len(cp.fetch))
	runOne := func(i int) {
		res := &results[i]
		res.ci = callInfo{r: r, caller: caller}
		out, err := a.run(withCall(r.Context(), &res.ci), cp.fetch[i], ins[i])
		if err != nil {
			res.err = err
			return
		}
		res.data, res.err = json.Marshal(out)
		if res.err != nil {
			res.err = fmt.Errorf("encoding the result of %s: %w", cp.fetch[i].meta.Name, res.err)
		}
	}
	if len(cp.fetch) > 1 {
		var wg sync.WaitGroup
		for i := 1; i < len(cp.fetch); i++ {
			wg.Go(func() { runOne(i) })
		}
		runOne(0)
		wg.Wait()
	} else {
		runOne(0)
	}

	buf := getBuf()
	defer putBuf(buf)
	b := append(buf.b[:0], '{')
	h := w.Header()
	for i := range results {
		if results[i].err != nil {
			writeError(w, r, a.logger, results[i].err)
			return
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, cp.fetch[i].meta.Name...)
		b = append(b, `":`...)
		b = append(b, results[i].data...)
	}
	b = append(b, '}')
	for i := range results {
		mergeHeader(h, results[i].ci.header)
	}
	h.Set("Content-Type", "application/json")
	_, _ = w.Write(b)
	buf.b = b
}
