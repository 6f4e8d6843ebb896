package conformance_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/conformance"
	"github.com/mizan-afi/mizan/conformance/internal/edgeproc"
	"github.com/mizan-afi/mizan/edge"
)

// The edge of docs/spec.md §11, end to end: the fixture (origin cache in
// a Redis of its own, the edge purge consumer on) behind the @mizan/edge
// Worker in workerd, run by `mizan-edge dev` with two locations that
// share one Durable Object namespace and each keep their own cache.

// The edge's three secrets in these tests; the fixture gets the MWT and
// purge ones too.
const (
	edgeMWTSecret   = "edge-test-mwt-secret-0123456789abcdef"
	edgeKeySecret   = "edge-test-key-secret-0123456789abcdef"
	edgePurgeSecret = "edge-test-purge-secret-0123456789ab"
)

// edgeProc is a running `mizan-edge dev`: locs are its locations' base
// URLs.
type edgeProc struct {
	*edgeproc.Proc
	locs []string
}

// repoRoot is the repository's root directory (conformance/..).
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the conformance package")
	}
	return filepath.Dir(filepath.Dir(file))
}

// freePorts returns a port p such that p .. p+n-1 are free on loopback now.
func freePorts(t *testing.T, n int) int {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := ln.Addr().(*net.TCPAddr).Port
		held := []net.Listener{ln}
		ok := true
		for i := 1; i < n; i++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+i))
			if err != nil {
				ok = false
				break
			}
			held = append(held, l)
		}
		for _, l := range held {
			_ = l.Close()
		}
		if ok {
			return p
		}
	}
	t.Fatalf("no %d consecutive free ports", n)
	return 0
}

// writeFixtureManifest writes the fixture's manifest to a file and
// returns its path.
func writeFixtureManifest(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "manifest.json")
	out, err := exec.Command(server.bin, "-manifest", path).CombinedOutput()
	if err != nil {
		t.Fatalf("fixture -manifest: %v\n%s", err, out)
	}
	return path
}

// startEdge runs `mizan-edge dev` in front of origin with the given number
// of locations on ports port, port+1, ..., waits for every one, and stops
// it when t ends.
func startEdge(t *testing.T, origin, manifestPath string, port, locations int) *edgeProc {
	t.Helper()
	needProcess(t)
	p, err := edgeproc.Start(context.Background(), edgeproc.Options{Root: repoRoot(t), Origin: origin, Manifest: manifestPath,
		Port: port, Locations: locations, MWTSecret: edgeMWTSecret, KeySecret: edgeKeySecret, PurgeSecret: edgePurgeSecret})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return &edgeProc{Proc: p, locs: p.URLs}
}

// edgeStack is the fixture behind a two-location edge.
type edgeStack struct {
	origin *fixtureProc
	edge   *edgeProc
}

// startEdgeStack starts a fixture (origin cache in Redis, the purge
// consumer posting to location 0) and the edge in front of it.
func startEdgeStack(t *testing.T) *edgeStack {
	t.Helper()
	port := freePorts(t, 2)
	origin, _ := cachedFixture(t, "JWT_PRIVATE_KEY=edge-test-jwt-key-0123456789abcdef-0123", "MIZAN_MWT_SECRET="+edgeMWTSecret,
		fmt.Sprintf("MIZAN_EDGE_PURGE_URL=http://127.0.0.1:%d/__mizan/purge", port), "MIZAN_EDGE_PURGE_SECRET="+edgePurgeSecret)
	return &edgeStack{origin: origin, edge: startEdge(t, origin.url, writeFixtureManifest(t), port, 2)}
}

// edgeUser is a caller at the edge: an access token and an MWT, both
// empty for an anonymous caller.
type edgeUser struct {
	name, id      string
	bearer, token string
}

// headers are the request headers of u.
func (u edgeUser) headers() []string {
	var h []string
	if u.bearer != "" {
		h = append(h, "Authorization", "Bearer "+u.bearer)
	}
	if u.token != "" {
		h = append(h, "X-Mizan-Token", u.token)
	}
	return h
}

// signIn returns fixture user name (ada, grace, lin) signed in at base,
// with an MWT.
func signIn(t *testing.T, base, name, id string) edgeUser {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": name, "password": name + "-pw"})
	r := doAt(t, base, http.MethodPost, prefix+"auth/token/", string(body), "Content-Type", "application/json")
	var tk tokens
	if r.status != http.StatusOK || json.Unmarshal(r.body, &tk) != nil || tk.Access == "" {
		t.Fatalf("signing %s in: %d %s", name, r.status, r.body)
	}
	r = doAt(t, base, http.MethodGet, prefix+"auth/mwt/", "", "Authorization", "Bearer "+tk.Access)
	var m struct {
		Token string `json:"token"`
	}
	if r.status != http.StatusOK || json.Unmarshal(r.body, &m) != nil || m.Token == "" {
		t.Fatalf("MWT of %s: %d %s", name, r.status, r.body)
	}
	return edgeUser{name: name, id: id, bearer: tk.Access, token: m.Token}
}

// edgeFetch gets path from an edge location and returns X-Mizan-Edge and
// the body, failing unless the status is 200 and the origin's edge
// headers were stripped.
func edgeFetch(t *testing.T, base, path string, headers ...string) (string, string) {
	t.Helper()
	r := doAt(t, base, http.MethodGet, path, "", headers...)
	if r.status != http.StatusOK {
		t.Fatalf("GET %s%s: %d %s", base, path, r.status, r.body)
	}
	for _, h := range []string{"X-Mizan-Identity", "X-Mizan-Instance", "X-Mizan-Edge-Meta"} {
		if v := r.header.Get(h); v != "" {
			t.Errorf("GET %s%s: the edge passed %s: %q on", base, path, h, v)
		}
	}
	return r.header.Get("X-Mizan-Edge"), string(r.body)
}

// edgeCall posts a call through base as u and checks 200.
func edgeCall(t *testing.T, base string, u edgeUser, fn string, args any) response {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"fn": fn, "args": args})
	r := doAt(t, base, http.MethodPost, prefix+"call/", string(body), append([]string{"Content-Type", "application/json"}, u.headers()...)...)
	if r.status != http.StatusOK {
		t.Fatalf("call %s at %s: %d %s", fn, base, r.status, r.body)
	}
	return r
}

// forgeMWT signs claims with secret as an MWT would be, with the given
// algorithm and typ (alg "none" is unsigned).
func forgeMWT(t *testing.T, alg, typ string, secret []byte, claims jwt.MapClaims) string {
	t.Helper()
	var method jwt.SigningMethod
	var key any = secret
	switch alg {
	case "HS256":
		method = jwt.SigningMethodHS256
	case "HS512":
		method = jwt.SigningMethodHS512
	case "none":
		method, key = jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType
	default:
		t.Fatalf("forgeMWT: alg %s", alg)
	}
	tok := jwt.NewWithClaims(method, claims)
	tok.Header["typ"] = typ
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// mwtClaims are the claims of an MWT of user sub expiring at exp.
func mwtClaims(sub string, exp time.Time) jwt.MapClaims {
	return jwt.MapClaims{"sub": sub, "staff": false, "super": false, "type": "mwt", "iat": time.Now().Unix(), "exp": exp.Unix()}
}

// waitEdge polls path at base until cond holds of (X-Mizan-Edge, body), or
// fails after limit; it returns how long it took.
func waitEdge(t *testing.T, base, path string, limit time.Duration, cond func(status, body string) bool, headers ...string) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		status, body := edgeFetch(t, base, path, headers...)
		if cond(status, body) {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("%s%s: still %q %s after %v", base, path, status, body, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestEdge runs the edge checks of docs/spec.md §11 against one fixture
// behind one two-location edge.
func TestEdge(t *testing.T) {
	st := startEdgeStack(t)
	loc0, loc1 := st.edge.locs[0], st.edge.locs[1]
	ada, grace, lin := signIn(t, loc0, "ada", "1"), signIn(t, loc0, "grace", "2"), signIn(t, loc0, "lin", "3")
	anon := edgeUser{name: "anonymous"}

	t.Run("CachePerInstanceAfterMutations", func(t *testing.T) {
		testEdgeCachePerInstance(t, st, grace, lin)
	})
	t.Run("PerUserSeparation", func(t *testing.T) {
		settleEdge()
		for _, path := range []string{prefix + "ctx/global/", prefix + "ctx/user/?user_id=1"} {
			bodies := map[string]string{}
			for _, loc := range st.edge.locs {
				for _, u := range []edgeUser{ada, grace, lin, anon} {
					first, body := edgeFetch(t, loc, path, u.headers()...)
					second, again := edgeFetch(t, loc, path, u.headers()...)
					if second != "hit" || again != body {
						t.Errorf("%s as %s at %s: %s then %s (%s / %s), want the same body as a hit", path, u.name, loc, first, second, body, again)
					}
					if prev, ok := bodies[u.name]; ok && prev != body {
						t.Errorf("%s as %s: %s at one location, %s at the other", path, u.name, prev, body)
					}
					bodies[u.name] = body
				}
			}
			if strings.HasSuffix(path, "global/") {
				for _, u := range []edgeUser{ada, grace, lin} {
					if !strings.Contains(bodies[u.name], fmt.Sprintf(`"id":%s`, u.id)) {
						t.Errorf("global as %s: %s, want user %s's current_user", u.name, bodies[u.name], u.id)
					}
				}
				if !strings.Contains(bodies["anonymous"], `"current_user":null`) {
					t.Errorf("global as anonymous: %s", bodies["anonymous"])
				}
			}
		}
	})
	t.Run("ForgedMWTs", func(t *testing.T) {
		settleEdge()
		path := prefix + "ctx/global/"
		// grace's own entry is cached; no forged MWT claiming grace may reach it.
		edgeFetch(t, loc0, path, grace.headers()...)
		if status, _ := edgeFetch(t, loc0, path, grace.headers()...); status != "hit" {
			t.Fatalf("grace's global: %s, want hit", status)
		}
		now := time.Now()
		forged := map[string]string{
			"wrong key":     forgeMWT(t, "HS256", "MWT", []byte("not-the-edge-secret-0123456789abc"), mwtClaims("2", now.Add(time.Hour))),
			"alg none":      forgeMWT(t, "none", "MWT", nil, mwtClaims("2", now.Add(time.Hour))),
			"HS512":         forgeMWT(t, "HS512", "MWT", []byte(edgeMWTSecret), mwtClaims("2", now.Add(time.Hour))),
			"typ JWT":       forgeMWT(t, "HS256", "JWT", []byte(edgeMWTSecret), mwtClaims("2", now.Add(time.Hour))),
			"expired":       forgeMWT(t, "HS256", "MWT", []byte(edgeMWTSecret), mwtClaims("2", now.Add(-time.Minute))),
			"not a token":   "a.b.c",
			"no type mwt":   forgeMWT(t, "HS256", "MWT", []byte(edgeMWTSecret), jwt.MapClaims{"sub": "2", "exp": now.Add(time.Hour).Unix()}),
			"sub anonymous": forgeMWT(t, "HS256", "MWT", []byte(edgeMWTSecret), mwtClaims("anonymous", now.Add(time.Hour))),
		}
		for name, tok := range forged {
			// With credentials: bypassed, and the origin answers as grace.
			r := doAt(t, loc0, http.MethodGet, path, "", "Authorization", "Bearer "+grace.bearer, "X-Mizan-Token", tok)
			if got := r.header.Get("X-Mizan-Edge"); r.status != 200 || got != "bypass" || !strings.Contains(string(r.body), `"id":2`) {
				t.Errorf("%s with grace's bearer: %d %q %s, want 200 bypass with grace's data", name, r.status, got, r.body)
			}
			// Without: treated as anonymous, never grace's entry.
			status, body := edgeFetch(t, loc0, path, "X-Mizan-Token", tok)
			if status == "bypass" || !strings.Contains(body, `"current_user":null`) {
				t.Errorf("%s alone: %s %s, want the anonymous entry", name, status, body)
			}
		}
	})
	t.Run("MWTBearerMismatch", func(t *testing.T) {
		path := prefix + "ctx/global/"
		// grace's global entries are purged (tier 2: hers only).
		edgeCall(t, loc0, grace, "update_my_name", map[string]any{"name": "Grace"})
		// ada's bearer with grace's MWT: keyed as grace, answered by the
		// origin as ada, so never stored: every one is a miss with ada's data.
		mixed := []string{"Authorization", "Bearer " + ada.bearer, "X-Mizan-Token", grace.token}
		for i := range 3 {
			status, body := edgeFetch(t, loc1, path, mixed...)
			if status != "miss" || !strings.Contains(body, `"id":1`) {
				t.Fatalf("mixed request %d: %s %s, want a miss with ada's data", i, status, body)
			}
		}
		// Nothing of ada's was put under grace's key.
		for _, loc := range st.edge.locs {
			status, body := edgeFetch(t, loc, path, grace.headers()...)
			if status != "miss" || !strings.Contains(body, `"id":2`) {
				t.Fatalf("grace at %s after the mixed requests: %s %s, want a miss with her own data", loc, status, body)
			}
		}
	})
	t.Run("MutationAtTheOrigin", func(t *testing.T) {
		path := prefix + "ctx/user/?user_id=3"
		for _, loc := range st.edge.locs {
			edgeFetch(t, loc, path)
			waitEdge(t, loc, path, time.Second, func(s, _ string) bool { return s == "hit" })
		}
		name := fmt.Sprintf("Lin %d", time.Now().UnixNano())
		callAt(t, st.origin.url, "", "update_profile", map[string]any{"user_id": 3, "name": name})
		for _, loc := range st.edge.locs {
			took := waitEdge(t, loc, path, time.Second, func(_, body string) bool { return strings.Contains(body, name) })
			t.Logf("a call at the origin reached %s in %v", loc, took)
		}
	})
	t.Run("WebSocketCall", func(t *testing.T) {
		path := prefix + "ctx/user/?user_id=2"
		for _, loc := range st.edge.locs {
			edgeFetch(t, loc, path)
			waitEdge(t, loc, path, time.Second, func(s, _ string) bool { return s == "hit" })
		}
		// The socket goes through the edge (an upgrade it passes on).
		ws := wsDial(t, loc0, "Authorization", "Bearer "+grace.bearer)
		name := fmt.Sprintf("Grace %d", time.Now().UnixNano())
		id := ws.send(map[string]any{"type": "call", "fn": "update_profile", "args": map[string]any{"user_id": 2, "name": name}})
		ws.expect("update_profile over the edge's WebSocket",
			fmt.Sprintf(`{"id":%d,"type":"result","result":{"ok":true},"invalidate":[{"context":"user","params":{"user_id":2}}]}`, id))
		for _, loc := range st.edge.locs {
			took := waitEdge(t, loc, path, time.Second, func(_, body string) bool { return strings.Contains(body, name) })
			t.Logf("a WebSocket call reached %s in %v", loc, took)
		}
	})
	t.Run("PSRPage", func(t *testing.T) {
		settleEdge()
		page := "/tasks/3/"
		for _, loc := range st.edge.locs {
			edgeFetch(t, loc, page)
			if status, body := edgeFetch(t, loc, page); status != "hit" || !strings.Contains(body, `<h1 id="title">`) {
				t.Fatalf("%s at %s: %s %s, want a hit of the page", page, loc, status, body)
			}
			if status, _ := edgeFetch(t, loc, "/tasks/4/"); status != "miss" {
				t.Fatalf("/tasks/4/ at %s: %s, want its own entry", loc, status)
			}
		}
		title := fmt.Sprintf("Page %d", time.Now().UnixNano())
		edgeCall(t, loc1, anon, "rename_task", map[string]any{"task_id": 3, "title": title})
		for _, loc := range st.edge.locs {
			if status, body := edgeFetch(t, loc, page); status != "miss" || !strings.Contains(body, title) {
				t.Fatalf("%s at %s after rename_task: %s %s, want a miss with the new title", page, loc, status, body)
			}
		}
		// A dynamic_cached context's page is not one the edge keeps.
		if status, _ := edgeFetch(t, loc0, "/profile/1/"); status != "bypass" {
			t.Errorf("/profile/1/ (user is dynamic_cached): %s, want bypass", status)
		}
	})
	t.Run("NoStaleReads", func(t *testing.T) {
		testEdgeNoStaleReads(t, st)
	})
}

// settleEdge waits for the origin's purge post of the last mutation, which
// reaches the edge a few milliseconds after the mutation's answer (that
// purged the edge on its way through already): a second purge of the same
// entries, which would turn an expected hit into a miss.
func settleEdge() { time.Sleep(200 * time.Millisecond) }

// testEdgeCachePerInstance is TestCachePerInstanceAfterMutations through
// the edge, at both locations: after each mutation (made through location
// 0), exactly the instances its targets match miss, with fresh data;
// every other instance still hits, at either location.
func testEdgeCachePerInstance(t *testing.T, st *edgeStack, grace, lin edgeUser) {
	type probe struct {
		path string
		user edgeUser
	}
	anon := edgeUser{name: "anonymous"}
	probes := []probe{
		{"tasks/?project_id=1&state=todo", anon},
		{"tasks/?project_id=1&state=doing", anon},
		{"tasks/?project_id=1", anon},
		{"tasks/?project_id=2", anon},
		{"task/?task_id=2", anon},
		{"task/?task_id=1", anon},
		{"global/", anon},
		{"global/", grace},
		{"global/", lin},
		{"user/?user_id=2", anon},
		{"user/?user_id=1", anon},
	}
	name := func(p probe) string { return p.path + " as " + p.user.name }
	settle := settleEdge
	// warm caches every probe at both locations: it fetches them all until
	// one pass answers every one from the cache. The origin also posts each
	// mutation's purge to the edge, a few milliseconds after the mutation's
	// answer purged it on the way through; warm waits for that post first
	// (settle), and a pass it purged again is simply repeated.
	warm := func() map[string]string {
		settle()
		deadline := time.Now().Add(5 * time.Second)
		for {
			bodies := map[string]string{}
			all := true
			for _, loc := range st.edge.locs {
				for _, p := range probes {
					status, body := edgeFetch(t, loc, prefix+"ctx/"+p.path, p.user.headers()...)
					if status != "hit" {
						all = false
						status, body = edgeFetch(t, loc, prefix+"ctx/"+p.path, p.user.headers()...)
					}
					if status != "hit" {
						all = false
					}
					bodies[loc+" "+name(p)] = body
				}
			}
			if all {
				return bodies
			}
			if time.Now().After(deadline) {
				t.Fatalf("the probes are not all cached after 5 s of fetching")
			}
		}
	}
	check := func(step string, before map[string]string, stale ...int) {
		t.Helper()
		for _, loc := range st.edge.locs {
			for i, p := range probes {
				status, body := edgeFetch(t, loc, prefix+"ctx/"+p.path, p.user.headers()...)
				want := "hit"
				for _, s := range stale {
					if s == i {
						want = "miss"
					}
				}
				if status != want {
					t.Errorf("after %s: %s at %s is %q, want %q", step, name(p), loc, status, want)
				}
				if want == "hit" && body != before[loc+" "+name(p)] {
					t.Errorf("after %s: %s at %s changed on a hit", step, name(p), loc)
				}
			}
		}
	}
	loc0 := st.edge.locs[0]
	restore := func() {
		edgeCall(t, loc0, anon, "set_task_state", map[string]any{"task_id": 2, "state": "doing"})
	}
	restore()
	t.Cleanup(restore)

	// A scoped purge: task 2 (project 1) from doing to todo.
	before := warm()
	edgeCall(t, loc0, anon, "set_task_state", map[string]any{"task_id": 2, "state": "todo"})
	check("set_task_state", before, 0, 1, 2, 4)
	if _, body := edgeFetch(t, st.edge.locs[1], prefix+"ctx/tasks/?project_id=1&state=doing"); strings.Contains(body, `"id":2,`) {
		t.Errorf("task 2 still listed as doing at location 1: %s", body)
	}
	// A broad purge of one context: rename_task's empty scope.
	before = warm()
	edgeCall(t, loc0, anon, "rename_task", map[string]any{"task_id": 1, "title": "Ship it"})
	check("rename_task", before, 4, 5)
	// add_task in project 2: its list only.
	before = warm()
	edgeCall(t, loc0, anon, "add_task", map[string]any{"project_id": 2, "title": "Retro"})
	check("add_task", before, 3)
	// Tier 2: update_my_name by grace purges only her global entry, and
	// user 2's profile (its run-time scope); lin's global, the anonymous
	// one and user 1 stay cached at both locations.
	before = warm()
	edgeCall(t, loc0, grace, "update_my_name", map[string]any{"name": "Grace H."})
	check("update_my_name", before, 7, 9)
	// A function-level target: update_name purges user 1's instances.
	before = warm()
	edgeCall(t, loc0, anon, "update_name", map[string]any{"user_id": 1, "name": "Ada L."})
	check("update_name", before, 10)
	if _, body := edgeFetch(t, st.edge.locs[1], prefix+"ctx/user/?user_id=1"); !strings.Contains(body, "Ada L.") {
		t.Errorf("user 1 at location 1 after update_name: %s", body)
	}
	// A broad purge of two contexts: reset_all.
	before = warm()
	edgeCall(t, loc0, anon, "reset_all", map[string]any{})
	check("reset_all", before, 9, 10)
}

// testEdgeNoStaleReads: 50 readers and a writer for 10 s, through both
// locations. A read that starts after write i was acknowledged must show
// write i or a later one; the test counts those that do not (stale reads)
// and fails on any.
func testEdgeNoStaleReads(t *testing.T, st *edgeStack) {
	const readers = 50
	duration := 10 * time.Second
	path := prefix + "ctx/user/?user_id=1"
	version := regexp.MustCompile(`"name":"w-(\d+)"`)
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: readers + 4}}
	var acked atomic.Int64
	acked.Store(-1)
	var reads, hits, stale, failures atomic.Int64
	var firstStale atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			loc := st.edge.locs[r%len(st.edge.locs)]
			for {
				select {
				case <-stop:
					return
				default:
				}
				floor := acked.Load()
				res, err := hc.Get(loc + path)
				if err != nil {
					failures.Add(1)
					continue
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					failures.Add(1)
					continue
				}
				reads.Add(1)
				if res.Header.Get("X-Mizan-Edge") == "hit" {
					hits.Add(1)
				}
				n := int64(-1)
				if m := version.FindSubmatch(b); m != nil {
					fmt.Sscan(string(m[1]), &n)
				}
				if n < floor {
					stale.Add(1)
					firstStale.CompareAndSwap(nil, fmt.Sprintf("at %s: read w-%d after w-%d was acknowledged (%s)", loc, n, floor, res.Header.Get("X-Mizan-Edge")))
				}
			}
		}()
	}
	writes := int64(0)
	deadline := time.Now().Add(duration)
	for i := int64(0); time.Now().Before(deadline); i++ {
		loc := st.edge.locs[i%int64(len(st.edge.locs))]
		body, _ := json.Marshal(map[string]any{"fn": "update_profile", "args": map[string]any{"user_id": 1, "name": fmt.Sprintf("w-%d", i)}})
		res, err := hc.Post(loc+prefix+"call/", "application/json", strings.NewReader(string(body)))
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("write %d: %s", i, res.Status)
		}
		acked.Store(i)
		writes++
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	t.Logf("stale reads: %d of %d reads (%d hits, %.0f%%), %d writes, %d failed requests, %d readers over %v",
		stale.Load(), reads.Load(), hits.Load(), 100*float64(hits.Load())/float64(max(reads.Load(), 1)), writes, failures.Load(), readers, duration)
	if stale.Load() != 0 {
		t.Errorf("%d stale reads; the first %v", stale.Load(), firstStale.Load())
	}
	if failures.Load() != 0 {
		t.Errorf("%d failed reads", failures.Load())
	}
	if hits.Load() == 0 || writes < 5 {
		t.Errorf("%d hits and %d writes: the run did not exercise the cache", hits.Load(), writes)
	}
}

// TestEdgeOriginDown: with its origin unreachable the edge answers 503 in
// the protocol's envelope and caches nothing; once the origin is up the
// same request is a miss, then a hit; with the origin gone again, a fresh
// entry is still served and an instance not cached is a 503 again.
func TestEdgeOriginDown(t *testing.T) {
	needProcess(t)
	ports := freePorts(t, 2)
	origin := fmt.Sprintf("127.0.0.1:%d", ports)
	e := startEdge(t, "http://"+origin, writeFixtureManifest(t), ports+1, 1)
	loc := e.locs[0]
	path := prefix + "ctx/task/?task_id=1"
	for i := range 2 {
		r := doAt(t, loc, http.MethodGet, path, "")
		if r.status != http.StatusServiceUnavailable {
			t.Fatalf("origin down, request %d: %d %s, want 503", i, r.status, r.body)
		}
		wantError(t, r, http.StatusServiceUnavailable, "unavailable")
		if got := r.header.Get("X-Mizan-Edge"); got == "hit" || got == "" {
			t.Fatalf("origin down, request %d: X-Mizan-Edge %q", i, got)
		}
	}
	p, err := startFixture(server.bin, "-addr", origin)
	if err != nil {
		t.Fatal(err)
	}
	if status, _ := edgeFetch(t, loc, path); status != "miss" {
		t.Fatalf("origin up: %s, want a miss (nothing was cached while it was down)", status)
	}
	if status, _ := edgeFetch(t, loc, path); status != "hit" {
		t.Fatalf("origin up, again: %s, want a hit", status)
	}
	if err := p.stop(); err != nil {
		t.Logf("fixture stop: %v", err)
	}
	if status, _ := edgeFetch(t, loc, path); status != "hit" {
		t.Fatalf("origin down again, a fresh entry: %s, want a hit", status)
	}
	wantError(t, doAt(t, loc, http.MethodGet, prefix+"ctx/task/?task_id=2", ""), http.StatusServiceUnavailable, "unavailable")
}

// TestEdgeAppInvalidate: App.Invalidate in a server process (what a
// background job does) reaches the edge through the purge post, within a
// second, at every location; and the purger reports nothing pending after.
func TestEdgeAppInvalidate(t *testing.T) {
	needProcess(t)
	port := freePorts(t, 2)
	app := conformance.NewFixture(conformance.FixtureConfig{})
	purger, err := edge.Attach(app, edge.Config{
		URL:    fmt.Sprintf("http://127.0.0.1:%d/__mizan/purge", port),
		Secret: []byte(edgePurgeSecret),
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = purger.Close(context.Background()) })
	if err := app.Build(); err != nil {
		t.Fatal(err)
	}
	manifestPath := filepath.Join(t.TempDir(), "manifest.json")
	if err := app.WriteManifestFile(manifestPath); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)
	e := startEdge(t, srv.URL, manifestPath, port, 2)
	path, other := prefix+"ctx/task/?task_id=1", prefix+"ctx/task/?task_id=2"
	for _, loc := range e.locs {
		for _, p := range []string{path, other} {
			edgeFetch(t, loc, p)
			if status, _ := edgeFetch(t, loc, p); status != "hit" {
				t.Fatalf("%s at %s: %s, want a hit", p, loc, status)
			}
		}
	}
	if err := app.Invalidate(context.Background(), mizan.Target{Context: "task", Params: map[string]any{"task_id": 1}}); err != nil {
		t.Fatal(err)
	}
	for _, loc := range e.locs {
		took := waitEdge(t, loc, path, time.Second, func(s, _ string) bool { return s == "miss" })
		t.Logf("App.Invalidate reached %s in %v", loc, took)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := purger.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if st := purger.Stats(); st.Pending != 0 || st.Sent == 0 {
		t.Errorf("purger stats after the flush: %+v, want nothing pending and a post sent", st)
	}
	// Another task stayed cached: the post was scoped.
	for _, loc := range e.locs {
		if status, _ := edgeFetch(t, loc, other); status != "hit" {
			t.Errorf("%s at %s after App.Invalidate of task 1: %s, want a hit", other, loc, status)
		}
	}
}
