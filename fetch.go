package mizan

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/mizan-afi/mizan/cache"
)

// HeaderCache is the response header of a context fetch saying how the
// origin cache answered: hit, miss or bypass.
const HeaderCache = "X-Mizan-Cache"

// serveContext serves GET ctx/<name>/: every function of the context, run
// concurrently, bundled into one object keyed by function name, through the
// origin cache when one is configured.
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
	ins, merr := a.decodeContext(r, caller, cp, query)
	if merr != nil {
		writeError(w, r, a.logger, merr)
		return
	}
	h := w.Header()
	c := a.cfg.Cache
	if c == nil || !cp.cached {
		setJSONHeaders(h, cache.Bypass)
		buf := getBuf()
		defer putBuf(buf)
		res := a.runContext(r.Context(), r, caller, cp, ins, buf.b[:0])
		a.writeBundle(w, r, res)
		buf.b = res.body
		return
	}
	inst := cache.Instance{Context: cp.name, Params: instanceParams(cp, query), Rev: cp.rev}
	if caller != nil && !cp.shared {
		inst.User = caller.ID
	}
	e := c.Get(r.Context(), inst)
	switch e.Status {
	case cache.Hit:
		setJSONHeaders(h, cache.Hit)
		_, _ = w.Write(e.Value)
		return
	case cache.Bypass:
		setJSONHeaders(h, cache.Bypass)
		a.writeBundle(w, r, a.runContext(r.Context(), r, caller, cp, ins, nil))
		return
	}
	// A miss: concurrent misses of one key run the functions once. The run
	// outlives a caller that goes away, since others may wait on it.
	v, _, _ := a.flights.Do(e.Key(), func() (any, error) {
		ctx := context.WithoutCancel(r.Context())
		res := a.runContext(ctx, r, caller, cp, ins, nil)
		if res.err == nil {
			c.Put(ctx, e, res.body, a.ttl(cp))
		}
		return res, nil
	})
	setJSONHeaders(h, cache.Miss)
	a.writeBundle(w, r, v.(bundle))
}

// setJSONHeaders sets Content-Type: application/json and X-Mizan-Cache on a
// context fetch's response: what Header.Set does, with the names already
// canonical and both values in one allocation (each slice's capacity is
// its length, so an Add appends to a copy).
func setJSONHeaders(h http.Header, status cache.Status) {
	vs := []string{"application/json", string(status)}
	h["Content-Type"] = vs[0:1:1]
	h[HeaderCache] = vs[1:2:2]
}

// ttl is the cache lifetime of a context's bundles.
func (a *App) ttl(cp *contextPlan) time.Duration {
	if cp.ttl > 0 {
		return cp.ttl
	}
	return a.cfg.CacheTTL
}

// decodeContext checks the query against the context's parameters and the
// callers's rights, and decodes each function's arguments.
func (a *App) decodeContext(r *http.Request, caller *Identity, cp *contextPlan, query url.Values) ([]any, *Error) {
	var fields map[string]string
	for k := range query {
		if !slices.Contains(cp.fetchParams, k) {
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
			return nil, merr
		}
		if j := cp.argsFrom[i]; j >= 0 {
			// The same arguments, decoded and checked already. Functions
			// get their arguments by value and these hold no pointers, so
			// they can share one decoded struct.
			ins[i] = ins[j]
			continue
		}
		ins[i] = f.newIn()
		_, merr := f.args.decodeStrings(src, reflectElem(ins[i]))
		if merr == nil {
			merr = a.check(f, ins[i])
		}
		if merr != nil {
			if merr.code != CodeInvalidArgs {
				return nil, merr
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
		return nil, invalidArgs(fields)
	}
	return ins, nil
}

// sharedArgs returns, for each function of fetch, the index of an earlier
// one whose argument struct is of the same pointer-free type, or -1: the
// functions that can share one decoded struct (contextPlan.argsFrom).
func sharedArgs(fetch []*Func) []int {
	from := make([]int, len(fetch))
	for i, f := range fetch {
		from[i] = -1
		if !f.args.plain {
			continue
		}
		for j := range i {
			if fetch[j].args.typ == f.args.typ {
				from[i] = j
				break
			}
		}
	}
	return from
}

// instanceParams returns the wire strings of the query's parameters, sorted
// by name: integers canonical ("05" and "5" are one instance).
func instanceParams(cp *contextPlan, query url.Values) []cache.Param {
	var out []cache.Param
	for _, name := range cp.fetchParams {
		vs, ok := query[name]
		if !ok || len(vs) == 0 {
			continue
		}
		v := vs[0]
		if kindClass(cp.params[name]) == "integer" {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				v = strconv.FormatInt(n, 10)
			} else if u, err := strconv.ParseUint(v, 10, 64); err == nil {
				v = strconv.FormatUint(u, 10)
			}
		}
		out = append(out, cache.Param{Name: name, Value: v})
	}
	return out
}

// bundle is the outcome of running a context's functions.
type bundle struct {
	body   []byte
	header http.Header // headers the functions added, merged in name order
	err    error
}

// writeBundle writes a bundle or its error.
func (a *App) writeBundle(w http.ResponseWriter, r *http.Request, b bundle) {
	if b.err != nil {
		w.Header().Del(HeaderCache)
		writeError(w, r, a.logger, b.err)
		return
	}
	mergeHeader(w.Header(), b.header)
	_, _ = w.Write(b.body)
}

// concurrent reports whether the functions of cp should run concurrently:
// when there are several and overlapping them is expected to save more than
// the threshold (see [Config.ConcurrencyThreshold]).
func (cp *contextPlan) concurrent(threshold time.Duration) bool {
	if len(cp.fetch) < 2 {
		return false
	}
	if threshold < 0 {
		return true
	}
	var sum, largest int64
	for _, f := range cp.fetch {
		c := f.cost.Load()
		if c == 0 {
			return true // not measured yet: assume it is slow
		}
		sum += c
		largest = max(largest, c)
	}
	return sum-largest > int64(threshold)
}

// runContext runs every fetch function of cp and encodes the bundle into
// dst: one after another on this goroutine, or concurrently when that pays
// (the first here, the others on goroutines of their own).
func (a *App) runContext(ctx context.Context, r *http.Request, caller *Identity, cp *contextPlan, ins []any, dst []byte) bundle {
	if cp.concurrent(a.cfg.ConcurrencyThreshold) {
		return a.runConcurrently(ctx, r, caller, cp, ins, dst)
	}
	b := append(dst, '{')
	var header http.Header
	for i, f := range cp.fetch {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendMember(b, f.meta.Name)
		ci := callInfo{r: r, caller: caller}
		measure := f.sample()
		var start time.Time
		if measure {
			start = time.Now()
		}
		var err error
		b, err = a.runJSON(withCall(ctx, &ci), f, ins[i], b)
		if measure {
			f.observe(time.Since(start))
		}
		if err != nil {
			return bundle{err: err, body: dst}
		}
		header = addHeader(header, ci.header)
	}
	return bundle{body: append(b, '}'), header: header}
}

// runConcurrently is runContext on goroutines: each function's result is
// encoded on its own, then the bundle is put together in order.
func (a *App) runConcurrently(ctx context.Context, r *http.Request, caller *Identity, cp *contextPlan, ins []any, dst []byte) bundle {
	type result struct {
		data []byte
		err  error
		ci   callInfo
	}
	results := make([]result, len(cp.fetch))
	runOne := func(i int) {
		res := &results[i]
		res.ci = callInfo{r: r, caller: caller}
		f := cp.fetch[i]
		start := time.Now()
		res.data, res.err = a.runJSON(withCall(ctx, &res.ci), f, ins[i], nil)
		f.observe(time.Since(start))
	}
	var wg sync.WaitGroup
	for i := 1; i < len(cp.fetch); i++ {
		wg.Go(func() { runOne(i) })
	}
	runOne(0)
	wg.Wait()
	b := append(dst, '{')
	var header http.Header
	for i := range results {
		if results[i].err != nil {
			return bundle{err: results[i].err, body: dst}
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = appendMember(b, cp.fetch[i].meta.Name)
		b = append(b, results[i].data...)
		header = addHeader(header, results[i].ci.header)
	}
	return bundle{body: append(b, '}'), header: header}
}

// appendMember appends `"name":` (function names are identifiers: no
// escaping needed).
func appendMember(b []byte, name string) []byte {
	b = append(b, '"')
	b = append(b, name...)
	return append(b, `":`...)
}

// addHeader merges the headers a function added into dst, allocating dst
// on first use.
func addHeader(dst, add http.Header) http.Header {
	if add == nil {
		return dst
	}
	if dst == nil {
		dst = make(http.Header)
	}
	mergeHeader(dst, add)
	return dst
}
