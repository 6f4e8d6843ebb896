package mizan

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mizan-afi/mizan/cache"
	"github.com/mizan-afi/mizan/protocol"
)

// HeaderCache is the response header of a context fetch saying how the
// origin cache answered: hit, miss or bypass.
const HeaderCache = "X-Mizan-Cache"

// This file is the context endpoint, GET ctx/<name>/, and its in-process
// twin [App.Fetch], which server-rendered pages use: one decoding of the
// query, one cache lookup, one run of the context's functions behind both.

// serveContext serves GET ctx/<name>/: every function of the context, run
// concurrently, bundled into one object keyed by function name, through the
// origin cache when one is configured.
func (a *App) serveContext(w http.ResponseWriter, r *http.Request) {
	cp, ok := a.plan.contexts[r.PathValue("context")]
	if !ok || len(cp.fetch) == 0 {
		writeError(w, r, a.logger, NewError(CodeNotFound, "no context named "+quote(r.PathValue("context"))))
		return
	}
	fctx, ci := callOf(w, r)
	var caller *Identity
	gr := r // the request the guards see
	if ci != nil {
		caller = ci.caller
		gr = cp.guardRequest(r, ci)
	}
	h := w.Header()
	c := a.cfg.Cache
	// A cache hit needs only the instance and the guards: the functions'
	// argument checks (decoding, validate rules) passed when the entry was
	// computed from the same normalized params. A query the quick reading
	// does not take goes the whole way.
	var e cache.Entry
	looked := false
	edge := fromEdge(r)
	instance := "" // X-Mizan-Instance, for an edge
	if c != nil && cp.cached {
		var arr [8]cache.Param
		if params, ok := cp.quickParams(r.URL.RawQuery, arr[:0]); ok {
			if merr := cp.guard(gr, caller); merr != nil {
				writeError(w, r, a.logger, merr)
				return
			}
			e, looked = c.Get(fctx, cp.instanceOf(params, caller)), true
			if edge {
				instance = cp.instanceHeader(params)
			}
			if e.Status == cache.Hit {
				setJSONHeaders(w, h, cache.Hit)
				if edge {
					setEdgeHeaders(h, caller, instance)
				}
				_, _ = w.Write(e.Value)
				return
			}
		}
	}
	var query queryArgs
	if !query.readRaw(r.URL.RawQuery) {
		values, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			writeError(w, r, a.logger, NewError(CodeBadRequest, "malformed query string"))
			return
		}
		query = queryArgs{values: values, parsed: true}
	}
	ins, merr := a.decodeQuery(gr, caller, cp, &query)
	if merr != nil {
		writeError(w, r, a.logger, merr)
		return
	}
	if edge {
		if instance == "" {
			instance = cp.queryInstanceHeader(&query)
		}
		setEdgeHeaders(h, caller, instance)
	}
	if c == nil || !cp.cached {
		setJSONHeaders(w, h, cache.Bypass)
		buf := getBuf()
		defer putBuf(buf)
		res := a.runContext(fctx, nil, caller, cp, ins, buf.b[:0], ci)
		a.writeBundle(w, r, res)
		buf.b = res.body
		return
	}
	if !looked {
		e = c.Get(fctx, cp.instanceOf(queryParams(cp, &query), caller))
	}
	switch e.Status {
	case cache.Hit:
		setJSONHeaders(w, h, cache.Hit)
		_, _ = w.Write(e.Value)
		return
	case cache.Bypass:
		setJSONHeaders(w, h, cache.Bypass)
		a.writeBundle(w, r, a.runContext(fctx, nil, caller, cp, ins, nil, ci))
		return
	}
	// A miss: concurrent misses of one instance that saw the same
	// generations run the functions once (one that saw other generations,
	// after a purge, never joins a run begun before it). The run outlives a
	// caller that goes away, since others may wait on it.
	fk := e.FlightKey()
	if fk == "" {
		res := a.runContext(fctx, nil, caller, cp, ins, nil, ci)
		if res.err == nil {
			c.Put(context.WithoutCancel(fctx), e, res.body, a.ttl(cp))
		}
		setJSONHeaders(w, h, cache.Miss)
		a.writeBundle(w, r, res)
		return
	}
	v, _, _ := a.flights.Do(fk, func() (any, error) {
		ctx := context.WithoutCancel(fctx)
		res := a.runContext(ctx, nil, caller, cp, ins, nil, ci)
		if res.err == nil {
			c.Put(ctx, e, res.body, a.ttl(cp))
		}
		return res, nil
	})
	setJSONHeaders(w, h, cache.Miss)
	a.writeBundle(w, r, v.(bundle))
}

// guardRequest returns the request the guards of cp's fetch functions are
// given in a call ci of the context endpoint: the call's own request
// (which [Request] returns) when a guard is a predicate that reads it, r
// otherwise.
func (cp *contextPlan) guardRequest(r *http.Request, ci *callInfo) *http.Request {
	for _, f := range cp.fetch {
		if f.cfg.auth.kind == "predicate" {
			return ci.request()
		}
	}
	return r
}

// Headers the origin sends for an edge in front of it (docs/spec.md §11,
// §13.8), on every context fetch, page and call an edge forwards (it says
// so with HeaderEdgeRequest). An edge stores a response only when they say
// whom the origin served and which instance, and strips them before
// answering. Requests that do not come through an edge pay nothing for
// them.
const (
	// HeaderIdentity is whom the origin served: the caller's user id, or
	// "anonymous".
	HeaderIdentity = "X-Mizan-Identity"
	// HeaderInstance, on a context fetch and a read view's page, names the
	// context instance the response shows, normalized (§4), as one
	// header-form entry of X-Mizan-Invalidate: "user;user_id=5". An edge
	// matches invalidation targets against it, since it cannot normalize
	// a query through the parameters' declared types itself.
	HeaderInstance = "X-Mizan-Instance"
	// HeaderEdgeRequest, on a request, says an edge forwarded it and asks
	// for HeaderIdentity and HeaderInstance.
	HeaderEdgeRequest = "X-Mizan-Edge-Request"
)

// fromEdge reports whether r asks for the edge headers.
func fromEdge(r *http.Request) bool {
	_, ok := r.Header[HeaderEdgeRequest]
	return ok
}

// anonymous is the X-Mizan-Identity of a caller who is not signed in.
const anonymous = "anonymous"

// identityOf is the X-Mizan-Identity value for caller.
func identityOf(caller *Identity) string {
	if caller == nil {
		return anonymous
	}
	return caller.ID
}

// instanceHeader formats the X-Mizan-Instance value naming cp's instance
// with params (sorted by name, values normalized): the context's name
// alone when there are none.
func (cp *contextPlan) instanceHeader(params []cache.Param) string {
	if len(params) == 0 {
		return cp.name
	}
	var arr [128]byte
	b := append(arr[:0], cp.name...)
	for _, p := range params {
		b = append(b, ';')
		b = protocol.AppendPercent(b, p.Name)
		b = append(b, '=')
		b = protocol.AppendPercent(b, p.Value)
	}
	return string(b)
}

// queryInstanceHeader is instanceHeader of the params queryParams reads
// from query, without collecting them first.
func (cp *contextPlan) queryInstanceHeader(query *queryArgs) string {
	var arr [128]byte
	b := append(arr[:0], cp.name...)
	for _, name := range cp.fetchParams {
		v, ok := cp.queryValue(query, name)
		if !ok {
			continue
		}
		b = append(b, ';')
		b = protocol.AppendPercent(b, name)
		b = append(b, '=')
		b = protocol.AppendPercent(b, v)
	}
	if len(b) == len(cp.name) {
		return cp.name
	}
	return string(b)
}

// setEdgeHeaders sets X-Mizan-Identity and, when instance is not "",
// X-Mizan-Instance (for an edge's requests only: their allocations are not
// on every request's path).
func setEdgeHeaders(h http.Header, caller *Identity, instance string) {
	h[HeaderIdentity] = []string{identityOf(caller)}
	if instance != "" {
		h[HeaderInstance] = []string{instance}
	}
}

// setJSONHeaders sets Content-Type: application/json and X-Mizan-Cache on a
// context fetch's response: what Header.Set does, with the names already
// canonical and both values in the *protoWriter's room, or in one
// allocation (each slice's capacity is its length, so an Add appends to a
// copy).
func setJSONHeaders(w http.ResponseWriter, h http.Header, status cache.Status) {
	var vs []string
	if pw, ok := w.(*protoWriter); ok {
		vs = pw.vals[1:3]
		vs[0], vs[1] = "application/json", string(status)
	} else {
		vs = []string{"application/json", string(status)}
	}
	h["Content-Type"] = vs[0:1:1]
	h[HeaderCache] = vs[1:2:2]
}

// maxQuickPairs is how many parameters a query read by queryArgs.readRaw
// may have.
const maxQuickPairs = 8

// queryArgs is a parsed query string: the url.Values of url.ParseQuery
// (parsed), or the pairs of a raw query that readRaw took without
// allocating.
type queryArgs struct {
	values url.Values
	parsed bool
	n      int
	names  [maxQuickPairs]string
	vals   [maxQuickPairs]string
}

// readRaw reads raw as url.ParseQuery would when that needs no
// allocation: at most maxQuickPairs pairs, none with '%', '+' or ';', no
// name repeated. It reports false, for url.ParseQuery to decide, otherwise.
func (q *queryArgs) readRaw(raw string) bool {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		if q.n == maxQuickPairs || strings.ContainsAny(pair, "%+;") {
			return false
		}
		name, value, _ := strings.Cut(pair, "=")
		if slices.Contains(q.names[:q.n], name) {
			return false
		}
		q.names[q.n], q.vals[q.n] = name, value
		q.n++
	}
	return true
}

// lookup returns the values of the parameter name, as url.Values holds them.
func (q *queryArgs) lookup(name string) ([]string, bool) {
	if q.parsed {
		vs, ok := q.values[name]
		return vs, ok
	}
	for i := range q.n {
		if q.names[i] == name {
			return q.vals[i : i+1 : i+1], true
		}
	}
	return nil, false
}

// first returns the first value of the parameter name and how many it
// has, as decodeValues reads them.
func (q *queryArgs) first(name string) (string, int) {
	if q.parsed {
		vs := q.values[name]
		if len(vs) == 0 {
			return "", 0
		}
		return vs[0], len(vs)
	}
	for i := range q.n {
		if q.names[i] == name {
			return q.vals[i], 1
		}
	}
	return "", 0
}

// unknown adds to fields the query's parameters that cp does not take.
func (q *queryArgs) unknown(cp *contextPlan, fields map[string]string) map[string]string {
	add := func(k string) {
		if !slices.Contains(cp.fetchParams, k) {
			if fields == nil {
				fields = map[string]string{}
			}
			fields[k] = "unknown parameter"
		}
	}
	if q.parsed {
		for k := range q.values {
			add(k)
		}
	} else {
		for _, k := range q.names[:q.n] {
			add(k)
		}
	}
	return fields
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
	return a.decodeQuery(r, caller, cp, &queryArgs{values: query, parsed: true})
}

// decodeQuery is decodeContext of a queryArgs.
func (a *App) decodeQuery(r *http.Request, caller *Identity, cp *contextPlan, query *queryArgs) ([]any, *Error) {
	fields := query.unknown(cp, nil)
	src := query.first
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
		_, merr := f.args.decodeValues(src, reflectElem(ins[i]))
		if merr = a.validated(f, ins[i], merr); merr != nil {
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

// instance names the cache instance of a fetch of cp by caller.
func (cp *contextPlan) instance(query url.Values, caller *Identity) cache.Instance {
	return cp.instanceOf(instanceParams(cp, query), caller)
}

// instanceOf names the cache instance of params (sorted wire strings).
func (cp *contextPlan) instanceOf(params []cache.Param, caller *Identity) cache.Instance {
	inst := cache.Instance{Context: cp.name, Params: params, Rev: cp.rev, Scopes: cp.scopes}
	if caller != nil && !cp.shared {
		inst.User = caller.ID
	}
	return inst
}

// guard applies the auth guards of cp's fetch functions.
func (cp *contextPlan) guard(r *http.Request, caller *Identity) *Error {
	for _, f := range cp.fetch {
		if merr := f.cfg.auth.check(r, caller); merr != nil {
			return merr
		}
	}
	return nil
}

// quickParams reads a raw query as instanceParams reads its parse, without
// allocating when nothing in it is escaped: the instance's params, sorted,
// appended to dst. It reports false for anything it does not take —
// an unknown or repeated name, an integer that does not parse, a ';',
// more params than dst holds — which the whole path then decodes (and
// reports, when it is an error).
func (cp *contextPlan) quickParams(raw string, dst []cache.Param) ([]cache.Param, bool) {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		if strings.IndexByte(pair, ';') >= 0 || len(dst) == cap(dst) {
			return nil, false
		}
		name, value, _ := strings.Cut(pair, "=")
		var err error
		if name, err = quickUnescape(name); err != nil {
			return nil, false
		}
		if value, err = quickUnescape(value); err != nil {
			return nil, false
		}
		t, known := cp.params[name]
		if !known || !slices.Contains(cp.fetchParams, name) {
			return nil, false
		}
		for _, p := range dst {
			if p.Name == name {
				return nil, false
			}
		}
		if kindClass(t) == "integer" {
			if value, err = canonicalInt(value); err != nil {
				return nil, false
			}
		}
		dst = append(dst, cache.Param{Name: name, Value: value})
	}
	slices.SortFunc(dst, func(a, b cache.Param) int { return strings.Compare(a.Name, b.Name) })
	return dst, true
}

// quickUnescape is url.QueryUnescape, which it calls only when s has
// something to unescape.
func quickUnescape(s string) (string, error) {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s, nil
	}
	return url.QueryUnescape(s)
}

// canonicalInt returns the decimal integer s in canonical form ("05" and
// "+5" are "5"), as instanceParams does, allocating only when s is not
// already canonical.
func canonicalInt(s string) (string, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if canonical := s != "" && s != "-0" && s[0] != '+' && !(s[0] == '0' && len(s) > 1) && !strings.HasPrefix(s, "-0"); canonical {
			return s, nil
		}
		return strconv.FormatInt(n, 10), nil
	}
	u, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return "", err
	}
	if s[0] != '+' && s[0] != '0' {
		return s, nil
	}
	return strconv.FormatUint(u, 10), nil
}

// instanceParams returns the wire strings of the query's parameters, sorted
// by name: integers canonical ("05" and "5" are one instance).
func instanceParams(cp *contextPlan, query url.Values) []cache.Param {
	return queryParams(cp, &queryArgs{values: query, parsed: true})
}

// queryParams is instanceParams of a queryArgs.
func queryParams(cp *contextPlan, query *queryArgs) []cache.Param {
	var out []cache.Param
	for _, name := range cp.fetchParams {
		if v, ok := cp.queryValue(query, name); ok {
			out = append(out, cache.Param{Name: name, Value: v})
		}
	}
	return out
}

// queryValue is the normalized value (§4) of the parameter name in query,
// as an instance of cp names it, and false when query lacks it.
func (cp *contextPlan) queryValue(query *queryArgs, name string) (string, bool) {
	vs, ok := query.lookup(name)
	if !ok || len(vs) == 0 {
		return "", false
	}
	v := vs[0]
	if kindClass(cp.params[name]) == "integer" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			v = strconv.FormatInt(n, 10)
		} else if u, err := strconv.ParseUint(v, 10, 64); err == nil {
			v = strconv.FormatUint(u, 10)
		}
	}
	return v, true
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
// (the first here, the others on goroutines of their own). When own is the
// request's *callInfo, already in ctx (the context endpoint), functions
// run one after another share it: they add their headers to it in name
// order, which is the order the bundle merges them in anyway; r may then
// be nil, for own's request.
func (a *App) runContext(ctx context.Context, r *http.Request, caller *Identity, cp *contextPlan, ins []any, dst []byte, own *callInfo) bundle {
	if cp.concurrent(a.cfg.ConcurrencyThreshold) {
		if r == nil && own != nil {
			r = own.request()
		}
		return a.runConcurrently(ctx, r, caller, cp, ins, dst)
	}
	b := append(dst, '{')
	var header http.Header
	for i, f := range cp.fetch {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendMember(b, f.meta.Name)
		fctx, ci := ctx, own
		if ci == nil {
			fctx, ci = withCall(ctx, r, caller)
		}
		measure := f.sample()
		var start time.Time
		if measure {
			start = time.Now()
		}
		var err error
		b, err = a.runJSON(fctx, f, ins[i], b)
		if measure {
			f.observe(time.Since(start))
		}
		if err != nil {
			return bundle{err: err, body: dst}
		}
		if own == nil {
			header = addHeader(header, ci.header)
		}
	}
	if own != nil {
		header = own.header
	}
	return bundle{body: append(b, '}'), header: header}
}

// runConcurrently is runContext on goroutines: each function's result is
// encoded on its own, then the bundle is put together in order.
func (a *App) runConcurrently(ctx context.Context, r *http.Request, caller *Identity, cp *contextPlan, ins []any, dst []byte) bundle {
	type result struct {
		data []byte
		err  error
		ci   *callInfo
	}
	results := make([]result, len(cp.fetch))
	runOne := func(i int) {
		res := &results[i]
		fctx, ci := withCall(ctx, r, caller)
		res.ci = ci
		f := cp.fetch[i]
		start := time.Now()
		res.data, res.err = a.runJSON(fctx, f, ins[i], nil)
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

// Fetch returns the bundle of one context instance, the JSON object that
// GET ctx/<name>/ would answer with, for server code: a page rendered on the
// server embeds the bundles it was rendered from (package ssr). params are
// the instance's parameters as their wire strings (docs/spec.md §4); they
// are checked and coerced as query parameters are.
//
// The caller is the one of ctx when ctx comes from a Mizan dispatch (a view
// calling Fetch), and anonymous otherwise; auth guards apply as they do on
// the endpoint. The origin cache is used as by the endpoint (same keys, so
// an entry stored by one is a hit for the other), except that Fetch never
// joins a computation already in flight: what it returns was computed, or
// stored, after Fetch was called, so server code that fetches after a
// mutation sees that mutation. Headers the functions set through
// [ResponseHeader] are dropped.
//
// Errors are [*Error] values: not_found for an unknown context, invalid_args
// for bad parameters, the guards' unauthorized and forbidden, and whatever
// the functions return.
func (a *App) Fetch(ctx context.Context, name string, params map[string]string) ([]byte, error) {
	if err := a.Build(); err != nil {
		return nil, err
	}
	cp, ok := a.plan.contexts[name]
	if !ok || len(cp.fetch) == 0 {
		return nil, NewError(CodeNotFound, "no context named "+quote(name))
	}
	query := make(url.Values, len(params))
	for k, v := range params {
		query.Set(k, v)
	}
	caller := Caller(ctx)
	r := Request(ctx)
	if r == nil {
		var err error
		target := a.cfg.Prefix + "ctx/" + url.PathEscape(name) + "/?" + query.Encode()
		if r, err = http.NewRequestWithContext(ctx, http.MethodGet, target, nil); err != nil {
			return nil, NewError(CodeBadRequest, "cannot form a request for context "+quote(name)).WithCause(err)
		}
	}
	ins, merr := a.decodeContext(r, caller, cp, query)
	if merr != nil {
		return nil, merr
	}
	c := a.cfg.Cache
	if c == nil || !cp.cached {
		return a.fetchRun(ctx, r, caller, cp, ins)
	}
	e := c.Get(ctx, cp.instance(query, caller))
	if e.Status == cache.Hit {
		return bytes.Clone(e.Value), nil
	}
	body, err := a.fetchRun(ctx, r, caller, cp, ins)
	if err == nil && e.Status == cache.Miss {
		c.Put(context.WithoutCancel(ctx), e, body, a.ttl(cp))
	}
	return body, err
}

// fetchRun runs the context's functions for Fetch.
func (a *App) fetchRun(ctx context.Context, r *http.Request, caller *Identity, cp *contextPlan, ins []any) ([]byte, error) {
	res := a.runContext(ctx, r, caller, cp, ins, nil, nil)
	if res.err != nil {
		return nil, res.err
	}
	return res.body, nil
}
