package ssr

import (
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/cache"
	"github.com/mizan-afi/mizan/protocol"
)

var (
	intType    = reflect.TypeFor[int]()
	stringType = reflect.TypeFor[string]()
)

// psrRoutes are routes as init completes them, without an app or a
// renderer: the shapes the re-render decision deals with.
func psrRoutes() []*route {
	project := map[string]reflect.Type{"project_id": intType}
	mk := func(name, pattern string, psr bool, ctxs ...any) *route {
		rt := &route{Route: Route{Pattern: pattern, Name: name}, params: wildcards(pattern), psr: psr}
		for i := 0; i+1 < len(ctxs); i += 2 {
			rt.addContext(ctxs[i].(string), ctxs[i+1].(map[string]reflect.Type))
		}
		return rt
	}
	return []*route{
		mk("proj", "/projects/{project_id}/", true, "project", project),
		// Two contexts; tasks has both wildcards as params.
		mk("tasks", "/projects/{project_id}/tasks/{state}/", true,
			"project", project, "tasks", map[string]reflect.Type{"project_id": intType, "state": stringType}),
		// A wildcard that is no param of the context.
		mk("userproj", "/u/{user_id}/p/{project_id}/", true, "project", project),
		mk("about", "/about/", true, "global", map[string]reflect.Type{}),
		mk("admin", "/admin/{project_id}/", false, "project", project), // not pre-rendered
	}
}

// psrPages returns Pages tracking instances of psrRoutes, as requests and
// Start would have made them, without a renderer or a loop.
func psrPages(t testing.TB, shared bool) *Pages {
	t.Helper()
	ps := &Pages{cfg: PagesConfig{MaxInstances: 1000}, inst: map[string]*instance{}, queue: map[*instance]struct{}{},
		routes: psrRoutes(), shared: shared, setup: true}
	for _, tr := range []struct {
		route  int
		values []string
	}{
		{0, []string{"project_id", "1"}}, {0, []string{"project_id", "2"}}, {0, []string{"project_id", "03"}},
		{1, []string{"project_id", "1", "state", "todo"}}, {1, []string{"project_id", "1", "state", "done"}},
		{1, []string{"project_id", "2", "state", "todo"}}, {1, []string{"project_id", "1", "state", "01"}},
		{2, []string{"user_id", "7", "project_id", "1"}}, {2, []string{"user_id", "8", "project_id", "2"}},
		{3, nil},
		{4, []string{"project_id", "1"}},
	} {
		values := map[string]string{}
		for i := 0; i+1 < len(tr.values); i += 2 {
			values[tr.values[i]] = tr.values[i+1]
		}
		if _, err := ps.instance(ps.routes[tr.route], values); err != nil {
			t.Fatal(err)
		}
	}
	return ps
}

// pageName names a tracked page for messages: route?name=value&...
func pageName(in *instance) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(in.values)) {
		parts = append(parts, k+"="+in.values[k])
	}
	return in.rt.Name + "?" + strings.Join(parts, "&")
}

func pageNames(m map[*instance]struct{}) []string {
	var out []string
	for in := range m {
		out = append(out, pageName(in))
	}
	slices.Sort(out)
	return out
}

// invalidation is what the emission step makes of targets: each
// normalized, narrowed where narrowed says so (for caller ada).
func invalidation(t testing.TB, targets []mizan.Target, narrowed []bool) mizan.Invalidation {
	t.Helper()
	inv := mizan.Invalidation{Targets: targets, CallerScoped: narrowed, Caller: &mizan.Identity{ID: "ada"}}
	for _, tg := range targets {
		n, err := protocol.Normalize(tg)
		if err != nil {
			t.Fatal(err)
		}
		inv.Normal = append(inv.Normal, n)
	}
	return inv
}

// stringOf is str(v) of docs/spec.md §4 for the values these tests use.
func stringOf(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case int:
		return strconv.Itoa(v)
	case bool:
		return strconv.FormatBool(v)
	}
	panic("unexpected value")
}

// specMatch is the matching rule as docs/spec.md §3 words it, written
// independently of package protocol, for a page: target T applies to the
// page when, for one of the route's contexts C, T.context == C and every
// param k of T is either absent from the page's instance of C (the path
// values that are params of C) or equal, as a wire string, to its value.
func specMatch(tg mizan.Target, in *instance) bool {
	for _, c := range in.rt.contexts {
		if c.name != tg.Context {
			continue
		}
		ok := true
		for k, v := range tg.Params {
			_, isParam := c.params[k]
			pv, isWildcard := in.values[k]
			if isParam && isWildcard && pv != stringOf(v) {
				ok = false
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// wantMarked is what an invalidation must re-render: every tracked page of a
// pre-rendered route that an un-narrowed target applies to. It also checks
// that protocol.Match agrees with the rule on every page's instances.
func wantMarked(t testing.TB, ps *Pages, inv mizan.Invalidation) []string {
	t.Helper()
	var out []string
	for _, in := range ps.inst {
		hit := false
		for i, tg := range inv.Targets {
			spec := specMatch(tg, in)
			pm := false
			for ci, c := range in.rt.contexts {
				pm = pm || c.name == inv.Normal[i].Context && protocol.Match(inv.Normal[i], in.ctxs[ci])
			}
			if pm != spec {
				t.Fatalf("page %s, target %v: protocol.Match says %v, the rule %v", pageName(in), inv.Normal[i], pm, spec)
			}
			hit = hit || spec && !inv.Narrowed(i)
		}
		if hit && in.rt.psr {
			out = append(out, pageName(in))
		}
	}
	slices.Sort(out)
	return out
}

func TestPSRRerendersWhatProtocolMatches(t *testing.T) {
	type target = mizan.Target
	cases := []struct {
		name     string
		target   target
		narrowed bool
		want     []string // the pages re-rendered (the rule decides; this spells it out)
	}{
		{"broad", target{Context: "project"}, false,
			[]string{"proj?project_id=1", "proj?project_id=2", "proj?project_id=3",
				"tasks?project_id=1&state=01", "tasks?project_id=1&state=done", "tasks?project_id=1&state=todo", "tasks?project_id=2&state=todo",
				"userproj?project_id=1&user_id=7", "userproj?project_id=2&user_id=8"}},
		{"scoped", target{Context: "project", Params: map[string]any{"project_id": 1}}, false,
			[]string{"proj?project_id=1", "tasks?project_id=1&state=01", "tasks?project_id=1&state=done", "tasks?project_id=1&state=todo",
				"userproj?project_id=1&user_id=7"}},
		{"canonical", target{Context: "project", Params: map[string]any{"project_id": 3}}, false,
			[]string{"proj?project_id=3"}}, // /projects/03/ is project 3
		{"function-level", target{Context: "project", Function: "project_info", Params: map[string]any{"project_id": 2}}, false,
			[]string{"proj?project_id=2", "tasks?project_id=2&state=todo", "userproj?project_id=2&user_id=8"}},
		{"narrowed", target{Context: "project", Params: map[string]any{"project_id": 1}}, true, nil},
		{"narrowed broad", target{Context: "global"}, true, nil},
		{"not a wire string of a page", target{Context: "project", Params: map[string]any{"project_id": "01"}}, false, nil},
		{"string param", target{Context: "tasks", Params: map[string]any{"state": "todo"}}, false,
			[]string{"tasks?project_id=1&state=todo", "tasks?project_id=2&state=todo"}},
		{"string param, not canonicalized", target{Context: "tasks", Params: map[string]any{"state": "01"}}, false,
			[]string{"tasks?project_id=1&state=01"}},
		{"one page", target{Context: "tasks", Params: map[string]any{"project_id": 1, "state": "done"}}, false,
			[]string{"tasks?project_id=1&state=done"}},
		{"a param the pages lack", target{Context: "tasks", Params: map[string]any{"project_id": 2, "owner": "x"}}, false,
			[]string{"tasks?project_id=2&state=todo"}},
		{"a wildcard the context lacks", target{Context: "project", Params: map[string]any{"user_id": 7}}, false,
			[]string{"proj?project_id=1", "proj?project_id=2", "proj?project_id=3",
				"tasks?project_id=1&state=01", "tasks?project_id=1&state=done", "tasks?project_id=1&state=todo", "tasks?project_id=2&state=todo",
				"userproj?project_id=1&user_id=7", "userproj?project_id=2&user_id=8"}},
		{"no params", target{Context: "global"}, false, []string{"about?"}},
		{"another context", target{Context: "elsewhere"}, false, nil},
	}
	ps := psrPages(t, false)
	var all []target
	var allNarrowed []bool
	for _, c := range cases {
		inv := invalidation(t, []target{c.target}, []bool{c.narrowed})
		marked, purges := ps.affected(inv)
		got := pageNames(marked)
		if want := wantMarked(t, ps, inv); !slices.Equal(got, want) || !slices.Equal(got, c.want) {
			t.Errorf("%s: re-renders %v\nthe rule: %v\n    want: %v", c.name, got, want, c.want)
		}
		if len(purges) > 0 {
			t.Errorf("%s: purges %v of a cache no other process reads", c.name, purges)
		}
		all = append(all, c.target)
		allNarrowed = append(allNarrowed, c.narrowed)
	}
	// All at once: the union.
	inv := invalidation(t, all, allNarrowed)
	marked, _ := ps.affected(inv)
	if got, want := pageNames(marked), wantMarked(t, ps, inv); !slices.Equal(got, want) {
		t.Errorf("all targets: re-renders %v, want %v", got, want)
	}
	if st := len(ps.inst); st != 11 {
		t.Errorf("the decision changed the tracked pages: %d", st)
	}
}

// With a cache other processes read, a target that determines one page
// makes it known (some process may have stored it) and any other purges
// the stored pages of the routes it may reach; a narrowed target touches
// nothing.
func TestPSRSharedCacheDecisions(t *testing.T) {
	ps := psrPages(t, true)
	purgedRoutes := func(ps []cache.Purge) []string {
		var out []string
		for _, p := range ps {
			if p.Param.Name != "" || p.User != "" {
				t.Errorf("purge %+v is not of a whole route", p)
			}
			out = append(out, p.Context)
		}
		slices.Sort(out)
		return out
	}
	inv := invalidation(t, []mizan.Target{{Context: "project", Params: map[string]any{"project_id": 5}}}, nil)
	marked, purges := ps.affected(inv)
	if got := pageNames(marked); !slices.Equal(got, []string{"proj?project_id=5"}) {
		t.Errorf("exact target of an unknown page: re-renders %v", got)
	}
	// tasks and userproj have wildcards project does not determine.
	if got := purgedRoutes(purges); !slices.Equal(got, []string{"psr:tasks", "psr:userproj"}) {
		t.Errorf("purges %v", got)
	}
	inv = invalidation(t, []mizan.Target{{Context: "project"}, {Context: "project", Params: map[string]any{"project_id": 1}}}, nil)
	if _, purges = ps.affected(inv); !slices.Equal(purgedRoutes(purges), []string{"psr:proj", "psr:tasks", "psr:userproj"}) {
		t.Errorf("broad target: purges %v", purgedRoutes(purges))
	}
	inv = invalidation(t, []mizan.Target{{Context: "project"}, {Context: "project", Params: map[string]any{"project_id": 9}}}, []bool{true, true})
	if marked, purges = ps.affected(inv); len(marked) != 0 || len(purges) != 0 || ps.lookup(ps.routes[0], map[string]string{"project_id": "9"}) != nil {
		t.Errorf("narrowed targets: re-render %v, purge %v", pageNames(marked), purges)
	}
}

// An Invalidation that was not made by the emission step (no Normal) is
// normalized by Pages itself.
func TestPSRInvalidationWithoutNormalForms(t *testing.T) {
	ps := psrPages(t, false)
	marked, _ := ps.affected(mizan.Invalidation{Targets: []mizan.Target{{Context: "tasks", Params: map[string]any{"state": "done"}}}})
	if got := pageNames(marked); !slices.Equal(got, []string{"tasks?project_id=1&state=done"}) {
		t.Errorf("re-renders %v", got)
	}
}

// fuzz vocabulary: names the routes use and others, values whose wire
// strings collide (1 and "1") or nearly do ("01").
var (
	psrFuzzContexts = []string{"project", "tasks", "global", "other"}
	psrFuzzParams   = []string{"project_id", "state", "user_id", "owner"}
	psrFuzzValues   = []any{1, 2, 3, "1", "01", "03", "todo", "done", 7, true}
)

// FuzzPSRMatchesProtocol checks the re-render decision against the
// matching rule for random targets (broad, scoped, function-level, some
// narrowed): Pages re-renders exactly the tracked pages of pre-rendered
// routes that an un-narrowed target applies to.
func FuzzPSRMatchesProtocol(f *testing.F) {
	for _, s := range []string{"", "\x00\x01\x02\x03", "\x01\x05\x01\x02\x00\x07\x03", "\xff\x10\x20\x30\x40\x50\x60\x70\x80\x90"} {
		f.Add([]byte(s))
	}
	ps := psrPages(f, false)
	f.Fuzz(func(t *testing.T, data []byte) {
		pick := func(n int) int {
			if len(data) == 0 {
				return 0
			}
			v := int(data[0]) % n
			data = data[1:]
			return v
		}
		var targets []mizan.Target
		var narrowed []bool
		for range 1 + pick(3) {
			tg := mizan.Target{Context: psrFuzzContexts[pick(len(psrFuzzContexts))]}
			if pick(3) == 0 {
				tg.Function = "fn"
			}
			for _, name := range psrFuzzParams {
				if pick(2) == 1 {
					if tg.Params == nil {
						tg.Params = map[string]any{}
					}
					tg.Params[name] = psrFuzzValues[pick(len(psrFuzzValues))]
				}
			}
			targets = append(targets, tg)
			narrowed = append(narrowed, pick(4) == 0)
		}
		inv := invalidation(t, targets, narrowed)
		if pick(4) == 0 {
			inv.Caller = nil // nothing is narrowed without a caller
		}
		marked, _ := ps.affected(inv)
		if got, want := pageNames(marked), wantMarked(t, ps, inv); !slices.Equal(got, want) {
			t.Fatalf("targets %v (narrowed %v, caller %v): re-renders %v, the rule says %v", targets, narrowed, inv.Caller, got, want)
		}
	})
}

// psrReadingPages is psrPages with pages whose last render read instances
// beyond their route's own (as a sidebar reads every project): /about/
// read projects 1 and 02 (a key as a component may spell it) and the todo
// tasks of project 2; /projects/1/ read project 2; the admin page (not
// pre-rendered) read project 5.
func psrReadingPages(t testing.TB, shared bool) *Pages {
	t.Helper()
	ps := psrPages(t, shared)
	ps.rendering = map[*instance]int{}
	for _, rt := range ps.routes {
		rt.reads = map[string]bool{}
	}
	project := map[string]reflect.Type{"project_id": intType}
	tasks := map[string]reflect.Type{"project_id": intType, "state": stringType}
	read := func(route int, values map[string]string, keys ...string) {
		in := ps.lookup(ps.routes[route], values)
		if in == nil {
			t.Fatalf("no page %d %v", route, values)
		}
		for _, k := range keys {
			name, params, ok := ParseInstanceKey(k)
			if !ok {
				t.Fatalf("bad key %q", k)
			}
			m := &readMeta{params: project}
			if name == "tasks" {
				m.params = tasks
			}
			in.reads = append(in.reads, m.instance(name, params))
			in.rt.reads[name] = true
		}
	}
	read(3, map[string]string{}, "project?project_id=1", "project?project_id=02", "tasks?project_id=2&state=todo")
	read(0, map[string]string{"project_id": "1"}, "project?project_id=2")
	read(4, map[string]string{"project_id": "1"}, "project?project_id=5")
	return ps
}

// specReadMatch is the rule of docs/spec.md §3 for one instance a page
// read (params as canonical wire strings): same context, and every param
// of the target absent from the instance or equal to its value.
func specReadMatch(tg mizan.Target, r protocol.Instance) bool {
	if tg.Context != r.Context {
		return false
	}
	for k, v := range tg.Params {
		if pv, ok := r.Lookup(k); ok && pv != stringOf(v) {
			return false
		}
	}
	return true
}

// wantMarkedReading is wantMarked with the instances pages read.
func wantMarkedReading(t testing.TB, ps *Pages, inv mizan.Invalidation) []string {
	t.Helper()
	var out []string
	for _, in := range ps.inst {
		hit := false
		for i, tg := range inv.Targets {
			spec := specMatch(tg, in)
			for _, r := range in.reads {
				spec = spec || specReadMatch(tg, r)
			}
			hit = hit || spec && !inv.Narrowed(i)
		}
		if hit && in.rt.psr {
			out = append(out, pageName(in))
		}
	}
	slices.Sort(out)
	return out
}

// A target re-renders the pages one of whose reads it matches, by the
// same rule as their own instances.
func TestPSRRerendersWhatPagesRead(t *testing.T) {
	type target = mizan.Target
	cases := []struct {
		name     string
		target   target
		narrowed bool
		want     []string
	}{
		{"scoped, read by a page of another route and of the same", target{Context: "project", Params: map[string]any{"project_id": 2}}, false,
			[]string{"about?", "proj?project_id=1", "proj?project_id=2", "tasks?project_id=2&state=todo", "userproj?project_id=2&user_id=8"}},
		{"scoped, read as 1 only", target{Context: "project", Params: map[string]any{"project_id": 1}}, false,
			[]string{"about?", "proj?project_id=1", "tasks?project_id=1&state=01", "tasks?project_id=1&state=done", "tasks?project_id=1&state=todo",
				"userproj?project_id=1&user_id=7"}},
		{"read only by a page that is not pre-rendered", target{Context: "project", Params: map[string]any{"project_id": 5}}, false, nil},
		{"a read of another context", target{Context: "tasks", Params: map[string]any{"state": "todo"}}, false,
			[]string{"about?", "tasks?project_id=1&state=todo", "tasks?project_id=2&state=todo"}},
		{"a read of another context, other values", target{Context: "tasks", Params: map[string]any{"state": "done"}}, false,
			[]string{"tasks?project_id=1&state=done"}},
		{"a param the read lacks", target{Context: "tasks", Params: map[string]any{"owner": "x", "project_id": 2}}, false,
			[]string{"about?", "tasks?project_id=2&state=todo"}},
		{"narrowed", target{Context: "project", Params: map[string]any{"project_id": 2}}, true, nil},
	}
	ps := psrReadingPages(t, false)
	for _, c := range cases {
		inv := invalidation(t, []target{c.target}, []bool{c.narrowed})
		marked, purges := ps.affected(inv)
		got := pageNames(marked)
		if want := wantMarkedReading(t, ps, inv); !slices.Equal(got, want) || !slices.Equal(got, c.want) {
			t.Errorf("%s: re-renders %v\nthe rule: %v\n    want: %v", c.name, got, want, c.want)
		}
		if len(purges) > 0 {
			t.Errorf("%s: purges %v of a cache no other process reads", c.name, purges)
		}
	}
	// With a shared cache, a target of a context the pages of a route
	// read purges the route's stored pages, as a target that may reach
	// several pages does.
	ps = psrReadingPages(t, true)
	inv := invalidation(t, []target{{Context: "tasks", Params: map[string]any{"state": "todo"}}}, nil)
	_, purges := ps.affected(inv)
	var routes []string
	for _, p := range purges {
		routes = append(routes, p.Context)
	}
	slices.Sort(routes)
	if !slices.Equal(routes, []string{"psr:about", "psr:tasks"}) {
		t.Errorf("shared cache: purges %v", routes)
	}
}

// FuzzPSRReadsMatchProtocol is FuzzPSRMatchesProtocol for pages that read
// instances beyond their route's own.
func FuzzPSRReadsMatchProtocol(f *testing.F) {
	for _, s := range []string{"", "\x00\x01\x02\x03", "\x01\x05\x01\x02\x00\x07\x03", "\x02\x00\x01\x01\x01\x00\x00\x00"} {
		f.Add([]byte(s))
	}
	ps := psrReadingPages(f, false)
	f.Fuzz(func(t *testing.T, data []byte) {
		pick := func(n int) int {
			if len(data) == 0 {
				return 0
			}
			v := int(data[0]) % n
			data = data[1:]
			return v
		}
		var targets []mizan.Target
		var narrowed []bool
		for range 1 + pick(3) {
			tg := mizan.Target{Context: psrFuzzContexts[pick(len(psrFuzzContexts))]}
			for _, name := range psrFuzzParams {
				if pick(2) == 1 {
					if tg.Params == nil {
						tg.Params = map[string]any{}
					}
					tg.Params[name] = psrFuzzValues[pick(len(psrFuzzValues))]
				}
			}
			targets = append(targets, tg)
			narrowed = append(narrowed, pick(4) == 0)
		}
		inv := invalidation(t, targets, narrowed)
		marked, _ := ps.affected(inv)
		if got, want := pageNames(marked), wantMarkedReading(t, ps, inv); !slices.Equal(got, want) {
			t.Fatalf("targets %v (narrowed %v): re-renders %v, the rule says %v", targets, narrowed, got, want)
		}
	})
}

// A target that comes while a page renders is matched against what that
// render read, once it is known: the render may have fetched the instance
// before the mutation, so the page is invalidated again and queued (and
// its store declined); a target it did not read changes nothing.
func TestPSRTargetDuringRender(t *testing.T) {
	for _, c := range []struct {
		name  string
		reads []string
		stale bool
	}{
		{"read", []string{"project?project_id=7"}, true},
		{"not read", []string{"project?project_id=8"}, false},
		{"nothing read", nil, false},
	} {
		ps := psrReadingPages(t, false)
		ps.idle, ps.isIdle = make(chan struct{}), true
		ps.wake = make(chan struct{}, 1)
		in := ps.lookup(ps.routes[3], map[string]string{}) // /about/
		in.reads = nil                                     // its first render
		before := in.dirty
		ps.beginRender(in)
		// A target of project 7 comes: nothing the page is known to read.
		marked, _ := ps.affected(invalidation(t, []mizan.Target{{Context: "project", Params: map[string]any{"project_id": 7}}}, nil))
		if len(marked) != 0 {
			t.Fatalf("%s: marked %v before the render said what it read", c.name, pageNames(marked))
		}
		res := &pageResult{shared: true}
		for _, k := range c.reads {
			name, params, _ := ParseInstanceKey(k)
			res.reads = append(res.reads, (&readMeta{params: map[string]reflect.Type{"project_id": intType}}).instance(name, params))
		}
		ps.endRender(in, res)
		_, queued := ps.queue[in]
		if stale := in.dirty != before; stale != c.stale || queued != c.stale {
			t.Errorf("%s: invalidated %v, queued %v; want %v", c.name, stale, queued, c.stale)
		}
		if len(ps.rendering) != 0 || in.pending != nil {
			t.Errorf("%s: still noted as rendering: %v, pending %v", c.name, ps.rendering, in.pending)
		}
		// From now on the reads are known: a target of them marks the page.
		if c.stale {
			marked, _ = ps.affected(invalidation(t, []mizan.Target{{Context: "project", Params: map[string]any{"project_id": 7}}}, nil))
			if !slices.Contains(pageNames(marked), "about?") {
				t.Errorf("%s: a target of what the page read marks %v", c.name, pageNames(marked))
			}
		}
	}
}
