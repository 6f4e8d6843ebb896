// Package explain says what one run of a mutation with given arguments
// invalidates, from an app's manifest and IR alone (docs/explain.md): the
// targets with the rule of docs/spec.md §3 that produced each, the
// X-Mizan-Invalidate header, the origin-cache generations purged, the
// WebSocket subscriptions and pages that match, and what an edge purges.
//
// The prediction is static. A target the mutation may scope at run time
// (mizan.ScopeTo) is marked [Target.RunTime]; [Report.Compare] checks a
// prediction against what a server actually emitted.
package explain

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/mizan-afi/mizan/ir"
	"github.com/mizan-afi/mizan/manifest"
	"github.com/mizan-afi/mizan/protocol"
)

// Rule names why a target has the shape it has (docs/spec.md §3).
type Rule string

// The rules a target can be produced by.
const (
	// RuleArgument: an argument whose name is a parameter of the context
	// scopes the target to its value (tier 1).
	RuleArgument Rule = "argument"
	// RuleFilterSkipped: an argument names a filter parameter of the
	// context, so it does not scope the target.
	RuleFilterSkipped Rule = "filter-skipped"
	// RuleExplicitScope: the mutation declares mizan.ScopeBy, which
	// replaces tier 1 (an empty scope makes every target broad).
	RuleExplicitScope Rule = "explicit-scope"
	// RuleRunTime: the mutation may supply the target's parameters while it
	// runs (mizan.ScopeTo); the static target is what it emits otherwise.
	RuleRunTime Rule = "run-time-scope-possible"
	// RuleCallerScoped: the context is declared mizan.CallerScoped: the
	// target stays as it is on the wire, and narrows to the caller at the
	// origin cache, the live hub and the edge (tier 2).
	RuleCallerScoped Rule = "caller-scoped"
	// RuleBroad: no parameter scopes the target: every instance.
	RuleBroad Rule = "broad"
	// RuleFunction: the target names one function of the context
	// (mizan.AffectsFunction).
	RuleFunction Rule = "function-level"
)

// App is what explain knows of an app: its manifest (required: every
// mutation, private ones included, the contexts, pages and cache settings)
// and, when available, its IR (per-target scoping, function-level targets,
// explicit scopes, parameter types and which parameters are required).
type App struct {
	Manifest *manifest.Manifest
	IR       *ir.Document // may be nil
}

// Options are the optional inputs of [Explain].
type Options struct {
	// Caller is the id of the signed-in caller the mutation runs for; ""
	// is anonymous. It decides tier-2 narrowing.
	Caller string
	// CacheSecret, when given, is the origin cache's secret
	// (MIZAN_CACHE_SECRET): the generation keys purged are then computed
	// exactly; without it they are shown as patterns.
	CacheSecret []byte
}

// Report is what one run of a mutation does.
type Report struct {
	Mutation string         `json:"mutation"`
	Args     map[string]any `json:"args"`
	Caller   string         `json:"caller,omitempty"`
	Targets  []Target       `json:"targets"`
	// Header is the predicted X-Mizan-Invalidate value ("" for none) with
	// every run-time target in its static form.
	Header string `json:"header"`
	// Body is the predicted "invalidate" member of the call/ answer.
	Body  json.RawMessage `json:"invalidate"`
	Cache []CachePurge    `json:"cache"`
	Live  []LiveMatch     `json:"live"`
	Pages []PageMatch     `json:"pages"`
	Edge  []EdgePurge     `json:"edge"`
	// Observed is set by [Report.Compare].
	Observed *Observed `json:"observed,omitempty"`
	// Notes are remarks on the whole run.
	Notes []string `json:"notes,omitempty"`
}

// Target is one predicted target with the rules that produced it.
type Target struct {
	Context  string         `json:"context"`
	Function string         `json:"function,omitempty"`
	Params   map[string]any `json:"params,omitempty"`
	Rules    []Rule         `json:"rules"`
	// Why says, per rule, in words what happened.
	Why []string `json:"why"`
	// CallerScoped reports tier-2 narrowing for a signed-in caller.
	CallerScoped bool `json:"caller_scoped,omitempty"`
	// RunTime lists the parameters the mutation could supply at run time
	// (mizan.ScopeTo) that the static target leaves unbound; empty when
	// none could narrow it further.
	RunTime []string `json:"run_time,omitempty"`
}

// Wire returns t as a protocol target.
func (t Target) Wire() protocol.Target {
	return protocol.Target{Context: t.Context, Function: t.Function, Params: t.Params}
}

// CachePurge is one origin-cache purge (docs/cache.md): the generations
// deleted, which make the matching entries unreachable.
type CachePurge struct {
	Context string `json:"context"`
	// Param and Value, when Param is set, narrow the purge to instances
	// whose Param is Value (and, with MayLack, those without it).
	Param   string `json:"param,omitempty"`
	Value   string `json:"value,omitempty"`
	MayLack bool   `json:"may_lack,omitempty"`
	// User narrows the purge to the caller's entries (tier 2).
	User string `json:"user,omitempty"`
	// Keys are the generation keys deleted: exact with a cache secret,
	// else patterns naming the HMAC message in angle brackets.
	Keys []string `json:"keys"`
	// Skipped says why nothing is purged for the target ("" when purged).
	Skipped string `json:"skipped,omitempty"`
}

// LiveMatch says which WebSocket subscriptions a target is pushed to.
type LiveMatch struct {
	Context string `json:"context"`
	// Params are the values a subscription must have, or lack.
	Params   map[string]string `json:"params,omitempty"`
	Function string            `json:"function,omitempty"`
	// CallerOnly: only the caller's connections get it (tier 2).
	CallerOnly bool   `json:"caller_only,omitempty"`
	Text       string `json:"text"`
}

// PageMatch is a page route of an affected context.
type PageMatch struct {
	Context string `json:"context"`
	Route   string `json:"route"`
	// Path is the route with the target's values put in; {name} stays
	// where the target does not bind it (every such page).
	Path string `json:"path"`
	// Strategy is the context's render strategy: psr pages are rendered
	// again ahead of the next request (ssr.Pages), dynamic_cached ones on
	// it.
	Strategy string `json:"strategy"`
}

// EdgePurge is what an edge in front of the app purges for one target.
type EdgePurge struct {
	Context    string            `json:"context"`
	Params     map[string]string `json:"params,omitempty"`
	Endpoints  []string          `json:"endpoints"`
	Pages      []string          `json:"pages"`
	CallerOnly bool              `json:"caller_only,omitempty"`
	Skipped    string            `json:"skipped,omitempty"`
}

// Explain predicts what the mutation fn does when called with args (a JSON
// object; empty means none).
func Explain(app App, fn string, args []byte, opts Options) (*Report, error) {
	if app.Manifest == nil {
		return nil, errors.New("explain: the manifest is required")
	}
	mut, ok := app.Manifest.Mutations[fn]
	if !ok {
		if f := irFunc(app.IR, fn); f != nil && f.Kind == ir.KindQuery {
			return nil, fmt.Errorf("explain: %s is a read: it invalidates nothing", fn)
		}
		return nil, fmt.Errorf("explain: the app has no mutation %q", fn)
	}
	in, err := decodeArgs(args)
	if err != nil {
		return nil, err
	}
	irf := irFunc(app.IR, fn)
	if irf != nil {
		if err := checkArgs(irf, in); err != nil {
			return nil, err
		}
	}
	r := &Report{Mutation: fn, Args: in, Caller: opts.Caller}
	decls := declared(app, fn, irf, mut)
	ctxs := contextsOf(app.IR)
	for _, d := range decls {
		r.Targets = append(r.Targets, predict(app.Manifest, ctxs, irf, mut, d, in, opts.Caller))
	}
	if irf == nil {
		r.Notes = append(r.Notes, "no IR for "+fn+" (private, or no --ir given): per-target scoping is derived from the manifest's auto_scoped_params, and function-level targets show as their context")
	}
	wire := make([]protocol.Target, len(r.Targets))
	for i, t := range r.Targets {
		wire[i] = t.Wire()
	}
	if r.Header, err = protocol.FormatHeader(wire); err != nil {
		return nil, fmt.Errorf("explain: formatting the header: %w", err)
	}
	if r.Body, err = protocol.AppendTargets(nil, wire); err != nil {
		return nil, fmt.Errorf("explain: formatting the targets: %w", err)
	}
	for i, t := range r.Targets {
		n, err := protocol.Normalize(wire[i])
		if err != nil {
			return nil, fmt.Errorf("explain: target %s: %w", t.Context, err)
		}
		c := app.Manifest.Contexts[t.Context]
		narrowed := t.CallerScoped
		r.Cache = append(r.Cache, cachePurge(c, ctxs[t.Context], n, narrowed, opts))
		r.Live = append(r.Live, liveMatch(n, narrowed))
		r.Pages = append(r.Pages, pages(t.Context, c, n)...)
		r.Edge = append(r.Edge, edgePurge(c, n, narrowed))
	}
	return r, nil
}

// decl is one declared target of the mutation.
type decl struct {
	context, function string
	scopedBy          []string
	callerScoped      bool
}

// declared returns the mutation's declared targets: the IR's when it has
// the function, else the manifest's (one per context, scoped by the
// auto-scoped parameters the context has and does not filter).
func declared(app App, fn string, irf *ir.Function, mut manifest.Mutation) []decl {
	var out []decl
	if irf != nil {
		for _, a := range irf.Affects {
			out = append(out, decl{context: a.Context, function: a.Function, scopedBy: a.ScopedBy, callerScoped: a.CallerScoped})
		}
		return out
	}
	for _, c := range mut.Affects {
		mc := app.Manifest.Contexts[c]
		var by []string
		for _, p := range mut.AutoScopedParams {
			if slices.Contains(mc.Params, p) && !slices.Contains(mc.Filters, p) {
				by = append(by, p)
			}
		}
		out = append(out, decl{context: c, scopedBy: by, callerScoped: slices.Contains(mut.CallerScoped, c)})
	}
	return out
}

// predict computes one target and the rules behind it.
func predict(m *manifest.Manifest, ctxs map[string]ir.Context, irf *ir.Function, mut manifest.Mutation, d decl, in map[string]any, caller string) Target {
	t := Target{Context: d.context, Function: d.function}
	why := func(r Rule, format string, a ...any) {
		if !slices.Contains(t.Rules, r) {
			t.Rules = append(t.Rules, r)
		}
		t.Why = append(t.Why, fmt.Sprintf(format, a...))
	}
	mc := m.Contexts[d.context]
	params := mc.Params
	if d.function != "" {
		why(RuleFunction, "names only the function %s of context %s", d.function, d.context)
		if f := irFuncIn(ctxs[d.context], d.function); f != nil {
			params = nil
			for _, p := range f.Params {
				params = append(params, p.Name)
			}
		}
	}
	if irf != nil && irf.HasScope {
		if len(irf.Scope) == 0 {
			why(RuleExplicitScope, "the mutation declares an empty scope (mizan.ScopeBy()): every target is broad")
		} else {
			why(RuleExplicitScope, "the mutation declares scope %s (mizan.ScopeBy), replacing scoping by argument names", strings.Join(irf.Scope, ", "))
		}
	}
	bound := map[string]bool{}
	for _, name := range d.scopedBy {
		v, given := in[name]
		switch {
		case !given:
			why(RuleBroad, "argument %s is not given, so it does not scope %s", name, d.context)
		case v == nil:
			why(RuleBroad, "argument %s is null, so it does not scope %s", name, d.context)
		default:
			if _, err := protocol.Stringify(v); err != nil {
				why(RuleBroad, "argument %s is not a string, boolean or integer, so it does not scope %s", name, d.context)
				continue
			}
			if t.Params == nil {
				t.Params = map[string]any{}
			}
			t.Params[name] = v
			bound[name] = true
			why(RuleArgument, "%s=%v from the argument %s (a parameter of %s)", name, wireString(v), name, d.context)
		}
	}
	for name := range in {
		if slices.Contains(mc.Filters, name) && !bound[name] {
			why(RuleFilterSkipped, "the argument %s names a filter of %s, which never scopes a target", name, d.context)
		} else if slices.Contains(params, name) && !bound[name] && !slices.Contains(d.scopedBy, name) && irf != nil && irf.HasScope {
			why(RuleExplicitScope, "the argument %s is a parameter of %s but not in the scope", name, d.context)
		}
	}
	if d.callerScoped {
		if caller != "" {
			t.CallerScoped = true
			why(RuleCallerScoped, "narrows to caller %s at the origin cache, the live hub and the edge; sent as it is", caller)
		} else {
			why(RuleCallerScoped, "declared caller-scoped, but an anonymous caller narrows nothing")
		}
	}
	for _, p := range params {
		if !bound[p] && !slices.Contains(mc.Filters, p) {
			t.RunTime = append(t.RunTime, p)
		}
	}
	sort.Strings(t.RunTime)
	if len(t.RunTime) > 0 {
		why(RuleRunTime, "the mutation may scope it at run time (mizan.ScopeTo) by %s; without that it is as shown", strings.Join(t.RunTime, ", "))
	}
	if len(t.Params) == 0 && !slices.Contains(t.Rules, RuleBroad) {
		why(RuleBroad, "no parameter scopes it: every instance of %s", d.context)
	}
	return t
}

// decodeArgs reads the arguments: integers as int64 (or uint64), other
// numbers as json.Number, the rest as encoding/json decodes them.
func decodeArgs(b []byte) (map[string]any, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("explain: the arguments must be a JSON object: %w", err)
	}
	if dec.More() {
		return nil, errors.New("explain: the arguments must be one JSON object")
	}
	if m == nil {
		m = map[string]any{}
	}
	for k, v := range m {
		if n, ok := v.(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				m[k] = i
			} else if u, err := strconv.ParseUint(n.String(), 10, 64); err == nil {
				m[k] = u
			}
		}
	}
	return m, nil
}

// checkArgs refuses an argument the function does not take, and a
// scalar one of the wrong JSON type, as the server would (invalid_args).
func checkArgs(f *ir.Function, in map[string]any) error {
	var unknown []string
	for name, v := range in {
		i := slices.IndexFunc(f.Params, func(p ir.Field) bool { return p.Name == name })
		if i < 0 {
			unknown = append(unknown, name)
			continue
		}
		if v == nil {
			continue
		}
		k := f.Params[i].Type.Kind
		var ok bool
		switch {
		case k.IsInteger():
			_, isInt := v.(int64)
			_, isUint := v.(uint64)
			ok = isInt || isUint
		case k == ir.String || k == ir.Time || k == ir.Bytes:
			_, ok = v.(string)
		case k == ir.Bool:
			_, ok = v.(bool)
		default:
			ok = true
		}
		if !ok {
			return fmt.Errorf("explain: argument %s of %s must be of type %s", name, f.Name, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("explain: %s takes no argument %s", f.Name, strings.Join(unknown, ", "))
	}
	return nil
}

func irFunc(d *ir.Document, name string) *ir.Function {
	if d == nil {
		return nil
	}
	for i := range d.Functions {
		if d.Functions[i].Name == name {
			return &d.Functions[i]
		}
	}
	return nil
}

func irFuncIn(c ir.Context, name string) *ir.Function {
	for _, f := range c.Functions {
		if f.Name == name {
			return f
		}
	}
	return nil
}

func contextsOf(d *ir.Document) map[string]ir.Context {
	out := map[string]ir.Context{}
	if d == nil {
		return out
	}
	for _, c := range d.Contexts() {
		out[c.Name] = c
	}
	return out
}

func wireString(v any) string {
	s, err := protocol.Stringify(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return s
}

// cachePurge is the origin cache's purge of target n, as mizan's purge
// consumer computes it (purge.go): the caller's generation when narrowed,
// else that of one scoping parameter (preferring one every instance has),
// else the context's.
func cachePurge(c manifest.Context, ic ir.Context, n protocol.Normal, narrowed bool, opts Options) CachePurge {
	p := CachePurge{Context: n.Context}
	if c.NoCache {
		p.Skipped = "the context is not cached (mizan.NoCache)"
		return p
	}
	required := map[string]bool{}
	for _, f := range ic.Params {
		required[f.Name] = !f.Optional
	}
	found := false
	for _, prm := range n.Params {
		if !slices.Contains(c.Params, prm.Name) || slices.Contains(c.Filters, prm.Name) {
			continue
		}
		if required[prm.Name] {
			p.Param, p.Value, p.MayLack, found = prm.Name, prm.Value, false, true
			break
		}
		if !found {
			p.Param, p.Value, p.MayLack, found = prm.Name, prm.Value, true, true
		}
	}
	if narrowed {
		p.User = opts.Caller
	}
	switch {
	case p.User != "":
		p.Keys = []string{genKey(opts.CacheSecret, "gen:u:", n.Context, userGenMsg(n.Context, p.User))}
	case p.Param != "":
		p.Keys = []string{genKey(opts.CacheSecret, "gen:p:", n.Context, paramGenMsg(n.Context, p.Param, p.Value, true))}
		if p.MayLack {
			p.Keys = append(p.Keys, genKey(opts.CacheSecret, "gen:p:", n.Context, paramGenMsg(n.Context, p.Param, "", false)))
		}
	default:
		p.Keys = []string{"gen:c:" + n.Context}
	}
	return p
}

// genKey is a generation key: prefix + context + ":" + the hex
// HMAC-SHA256 of msg under secret, or with no secret a pattern showing
// the message.
func genKey(secret []byte, prefix, context, msg string) string {
	if len(secret) == 0 {
		return prefix + context + ":<hmac " + msg + ">"
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(msg))
	return prefix + context + ":" + hex.EncodeToString(mac.Sum(nil))
}

func paramGenMsg(context, name, value string, has bool) string {
	s := `{"g":"p","c":` + jsString(context) + `,"n":` + jsString(name)
	if has {
		s += `,"v":` + jsString(value)
	}
	return s + "}"
}

func userGenMsg(context, user string) string {
	return `{"g":"u","c":` + jsString(context) + `,"u":` + jsString(user) + "}"
}

// jsString quotes s as ECMAScript's JSON.stringify does (docs/spec.md §6).
func jsString(s string) string {
	const hexDigits = "0123456789abcdef"
	b := []byte{'"'}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\f':
			b = append(b, '\\', 'f')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		default:
			b = append(b, c)
		}
	}
	return string(append(b, '"'))
}

func paramMap(n protocol.Normal) map[string]string {
	if len(n.Params) == 0 {
		return nil
	}
	m := make(map[string]string, len(n.Params))
	for _, p := range n.Params {
		m[p.Name] = p.Value
	}
	return m
}

func liveMatch(n protocol.Normal, narrowed bool) LiveMatch {
	l := LiveMatch{Context: n.Context, Params: paramMap(n), Function: n.Function, CallerOnly: narrowed}
	var b strings.Builder
	b.WriteString("every subscription to " + n.Context)
	if len(n.Params) > 0 {
		var parts []string
		for _, p := range n.Params {
			parts = append(parts, p.Name+"="+p.Value)
		}
		b.WriteString(" whose params agree on " + strings.Join(parts, ", ") + " (or leave them out)")
	}
	if narrowed {
		b.WriteString(", on the caller's connections only")
	}
	b.WriteString(", except the calling client's own")
	if n.Function != "" {
		b.WriteString("; the push names the function " + n.Function)
	}
	l.Text = b.String()
	return l
}

// pages returns the page routes of context c, with n's values put in.
func pages(name string, c manifest.Context, n protocol.Normal) []PageMatch {
	var out []PageMatch
	for _, route := range c.PageRoutes {
		path := route
		for _, p := range n.Params {
			path = strings.ReplaceAll(path, "{"+p.Name+"}", string(protocol.AppendPercent(nil, p.Value)))
		}
		out = append(out, PageMatch{Context: name, Route: route, Path: path, Strategy: c.RenderStrategy})
	}
	return out
}

// edgePurge is what an edge purges for n: the context's cacheable fetches
// and, for a psr context, its pages, whose instances the target matches.
func edgePurge(c manifest.Context, n protocol.Normal, narrowed bool) EdgePurge {
	e := EdgePurge{Context: n.Context, Params: paramMap(n), CallerOnly: narrowed, Endpoints: []string{}, Pages: []string{}}
	switch {
	case c.NoCache:
		e.Skipped = "the context is not cached (no_cache)"
		return e
	case c.Guard == manifest.GuardRequest:
		e.Skipped = "the edge keeps nothing of a context guarded by a request predicate"
		return e
	}
	e.Endpoints = append(e.Endpoints, c.Endpoints...)
	if c.RenderStrategy == manifest.PSR {
		e.Pages = append(e.Pages, c.PageRoutes...)
	}
	return e
}
