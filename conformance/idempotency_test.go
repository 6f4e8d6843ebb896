package conformance_test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/conformance"
	"github.com/mizan-afi/mizan/idempotency"
	"github.com/mizan-afi/mizan/internal/redistest"
)

// Idempotent calls (docs/spec.md §12), over HTTP on the fixture's bump and
// count (§7): the suite's server for what one instance shows, and fixture
// apps of their own for Redis shared by two instances and a Redis outage.

// idemReply is one answer of call/.
type idemReply struct {
	status int
	body   string
	header http.Header
}

// newKey returns an idempotency key no other run uses.
func newKey(t testing.TB) string {
	t.Helper()
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "key-" + hex.EncodeToString(b[:])
}

// tryIdem posts fn(args) to base with the idempotency key (none when
// empty); headers are name, value pairs.
func tryIdem(base, fn, args, key string, headers ...string) (idemReply, error) {
	body := fmt.Sprintf(`{"fn":%q,"args":%s}`, fn, args)
	req, err := http.NewRequest(http.MethodPost, base+prefix+"call/", strings.NewReader(body))
	if err != nil {
		return idemReply{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := client.Do(req)
	if err != nil {
		return idemReply{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return idemReply{}, err
	}
	return idemReply{status: res.StatusCode, body: string(b), header: res.Header}, nil
}

func idemCall(t *testing.T, base, fn, args, key string, headers ...string) idemReply {
	t.Helper()
	r, err := tryIdem(base, fn, args, key, headers...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// counterAt reads the fixture's counter at base.
func counterAt(t *testing.T, base string) int {
	t.Helper()
	status, body := get(t, base+prefix+"ctx/counter/")
	var v struct {
		Count struct {
			Count *int `json:"count"`
		} `json:"count"`
	}
	if status != 200 || json.Unmarshal([]byte(body), &v) != nil || v.Count.Count == nil {
		t.Fatalf("ctx/counter/: %d %s", status, body)
	}
	return *v.Count.Count
}

// wantReplay checks that r repeats first, marked Idempotent-Replayed.
func wantReplay(t *testing.T, r, first idemReply) {
	t.Helper()
	if r.status != first.status || r.body != first.body {
		t.Errorf("repeat: %d %s, want %d %s", r.status, r.body, first.status, first.body)
	}
	if got, want := r.header.Get(headerInvalidate), first.header.Get(headerInvalidate); got != want {
		t.Errorf("repeat: %s %q, want %q", headerInvalidate, got, want)
	}
	if r.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("repeat: Idempotent-Replayed %q, want true", r.header.Get("Idempotent-Replayed"))
	}
}

// wantRan checks that r is a first run: 200 and not replayed.
func wantRan(t *testing.T, r idemReply) {
	t.Helper()
	if r.status != 200 || r.header.Get("Idempotent-Replayed") != "" {
		t.Errorf("first run: %d %s, Idempotent-Replayed %q", r.status, r.body, r.header.Get("Idempotent-Replayed"))
	}
}

func TestCounter(t *testing.T) {
	before := counterAt(t, server.url)
	r := idemCall(t, server.url, "bump", `{}`, "")
	if r.status != 200 || r.header.Get(headerInvalidate) != "counter" {
		t.Fatalf("bump: %d %s %v", r.status, r.body, r.header)
	}
	var v struct {
		Result struct {
			Count int `json:"count"`
		} `json:"result"`
	}
	if err := json.Unmarshal([]byte(r.body), &v); err != nil || v.Result.Count <= before {
		t.Errorf("bump: %s after %d", r.body, before)
	}
	if n := counterAt(t, server.url); n < v.Result.Count {
		t.Errorf("count %d after bump answered %d", n, v.Result.Count)
	}
	if n := counterAt(t, newFixtureServer(t, conformance.FixtureConfig{}).URL); n != 0 {
		t.Errorf("a new fixture's counter is %d, want 0", n)
	}
}

func TestIdempotentReplay(t *testing.T) {
	key := newKey(t)
	before := counterAt(t, server.url)
	first := idemCall(t, server.url, "bump", `{}`, key)
	wantRan(t, first)
	if first.header.Get(headerInvalidate) != "counter" {
		t.Errorf("first: %s %q", headerInvalidate, first.header.Get(headerInvalidate))
	}
	for range 3 {
		wantReplay(t, idemCall(t, server.url, "bump", `{}`, key), first)
	}
	// Arguments compare with members sorted and whitespace dropped: an
	// absent args is {}.
	wantReplay(t, idemCall(t, server.url, "bump", ` { } `, key), first)
	if n := counterAt(t, server.url); n != before+1 {
		t.Errorf("count %d after one bump and its repeats, want %d", n, before+1)
	}
	// Another function, or other arguments: 422, and nothing runs.
	r := idemCall(t, server.url, "fail", `{}`, key)
	if r.status != 422 || !strings.Contains(r.body, `"code":"idempotency_mismatch"`) || r.header.Get("Idempotent-Replayed") != "" {
		t.Errorf("another function with the key: %d %s", r.status, r.body)
	}
	key2 := newKey(t)
	args := `{"user_id":3,"name":"Lin"}`
	first = idemCall(t, server.url, "update_profile", args, key2)
	wantRan(t, first)
	wantReplay(t, idemCall(t, server.url, "update_profile", `{ "name": "Lin",  "user_id": 3 }`, key2), first)
	r = idemCall(t, server.url, "update_profile", `{"user_id":3,"name":"Lin."}`, key2)
	if r.status != 422 || !strings.Contains(r.body, `"code":"idempotency_mismatch"`) {
		t.Errorf("other arguments with the key: %d %s", r.status, r.body)
	}
}

func TestIdempotentErrorIsKept(t *testing.T) {
	key := newKey(t)
	first := idemCall(t, server.url, "fail", `{}`, key)
	if first.status != 409 || !strings.Contains(first.body, `"code":"conflict"`) || first.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("fail: %d %s", first.status, first.body)
	}
	wantReplay(t, idemCall(t, server.url, "fail", `{}`, key), first)
}

func TestIdempotentRefusedKeepsNothing(t *testing.T) {
	key := newKey(t)
	before := counterAt(t, server.url)
	// 400 invalid_args: the function did not run, the key stays free.
	r := idemCall(t, server.url, "bump", `{"by":2}`, key)
	if r.status != 400 || !strings.Contains(r.body, `"code":"invalid_args"`) {
		t.Fatalf("bump with an unknown argument: %d %s", r.status, r.body)
	}
	wantRan(t, idemCall(t, server.url, "bump", `{}`, key))
	if n := counterAt(t, server.url); n != before+1 {
		t.Errorf("count %d, want %d", n, before+1)
	}
	// 401: secret requires a caller; signed in, the same key runs.
	key = newKey(t)
	if r := idemCall(t, server.url, "secret", `{}`, key); r.status != 401 {
		t.Fatalf("secret anonymous: %d %s", r.status, r.body)
	}
	wantRan(t, idemCall(t, server.url, "secret", `{}`, key, "X-Test-User", "2"))
	// 403: admin_action needs staff.
	key = newKey(t)
	if r := idemCall(t, server.url, "admin_action", `{}`, key, "X-Test-User", "2"); r.status != 403 {
		t.Fatalf("admin_action as non-staff: %d %s", r.status, r.body)
	}
	wantRan(t, idemCall(t, server.url, "admin_action", `{}`, key, "X-Test-User", "2", "X-Test-Staff", "1"))
	// 500: panic_for_tests panics after it started: nothing is kept, a
	// repeat runs (and panics) again rather than replaying.
	key = newKey(t)
	for range 2 {
		if r := idemCall(t, server.url, "panic_for_tests", `{}`, key); r.status != 500 || r.header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("panic_for_tests: %d %s %v", r.status, r.body, r.header)
		}
	}
}

func TestIdempotencyKeyForm(t *testing.T) {
	before := counterAt(t, server.url)
	long := strings.Repeat("k", 256)
	for _, key := range []string{long, "tab\there", "caf\u00e9"} {
		r := idemCall(t, server.url, "bump", `{}`, key)
		if r.status != 400 || !strings.Contains(r.body, `"code":"bad_request"`) || strings.Contains(r.body, "kkkk") {
			t.Errorf("key %.20q: %d %s", key, r.status, r.body)
		}
	}
	// An empty key, and two keys.
	for _, keys := range [][]string{{""}, {"a", "b"}} {
		req, _ := http.NewRequest(http.MethodPost, server.url+prefix+"call/", strings.NewReader(`{"fn":"bump"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header["Idempotency-Key"] = keys
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 400 || !strings.Contains(string(b), `"code":"bad_request"`) {
			t.Errorf("keys %q: %d %s", keys, res.StatusCode, b)
		}
	}
	if n := counterAt(t, server.url); n != before {
		t.Errorf("refused keys ran bump: count %d, was %d", n, before)
	}
	// 255 printable characters, spaces included, are a key.
	key := newKey(t) + " " + strings.Repeat("~", 255-len(newKey(t))-1)
	wantRan(t, idemCall(t, server.url, "bump", `{}`, key))
}

func TestIdempotencyPerCaller(t *testing.T) {
	key := newKey(t)
	before := counterAt(t, server.url)
	first := idemCall(t, server.url, "bump", `{}`, key, "X-Test-User", "2")
	wantRan(t, first)
	wantRan(t, idemCall(t, server.url, "bump", `{}`, key, "X-Test-User", "3"))
	anon := idemCall(t, server.url, "bump", `{}`, key)
	wantRan(t, anon)
	wantReplay(t, idemCall(t, server.url, "bump", `{}`, key, "X-Test-User", "2"), first)
	wantReplay(t, idemCall(t, server.url, "bump", `{}`, key), anon)
	if n := counterAt(t, server.url); n != before+3 {
		t.Errorf("count %d, want %d: one run per caller", n, before+3)
	}
}

// redisFixtures serves two fixture apps keeping their idempotent outcomes
// in one Redis.
func redisFixtures(t *testing.T, r *redistest.Server) [2]string {
	t.Helper()
	var urls [2]string
	for i := range urls {
		store, err := idempotency.OpenRedis(r.URL(), idempotency.RedisOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = store.Close() })
		urls[i] = newFixtureServer(t, conformance.FixtureConfig{App: mizan.Config{Idempotency: store}}).URL
	}
	return urls
}

// TestIdempotencyAcrossInstances sends 20 concurrent bumps with one key to
// two instances sharing a real Redis: bump runs exactly once in all.
func TestIdempotencyAcrossInstances(t *testing.T) {
	r := redistest.Start(t)
	urls := redisFixtures(t, r)
	key := newKey(t)
	replies := make([]idemReply, 20)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range replies {
		wg.Go(func() {
			<-start
			rep, err := tryIdem(urls[i%2], "bump", `{}`, key)
			if err != nil {
				t.Error(err)
			}
			replies[i] = rep
		})
	}
	close(start)
	wg.Wait()
	ran, replayed, inFlight := 0, 0, 0
	for _, rep := range replies {
		switch {
		case rep.status == 200 && rep.header.Get("Idempotent-Replayed") == "":
			ran++
		case rep.status == 200:
			replayed++
		case rep.status == 409 && strings.Contains(rep.body, `"code":"idempotency_in_flight"`):
			inFlight++
		default:
			t.Errorf("unexpected reply %d %s", rep.status, rep.body)
		}
		if rep.status == 200 && rep.body != `{"result":{"count":1},"invalidate":["counter"]}` {
			t.Errorf("reply %s", rep.body)
		}
	}
	t.Logf("1 key, 20 requests, 2 instances: %d ran, %d replayed, %d in flight", ran, replayed, inFlight)
	if ran != 1 {
		t.Errorf("%d runs (%d replays, %d in flight), want exactly 1", ran, replayed, inFlight)
	}
	if total := counterAt(t, urls[0]) + counterAt(t, urls[1]); total != 1 {
		t.Errorf("the two counters add up to %d, want 1", total)
	}
	// Afterwards both instances replay.
	for _, u := range urls {
		rep := idemCall(t, u, "bump", `{}`, key)
		if rep.status != 200 || rep.header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("%s after: %d %s", u, rep.status, rep.body)
		}
	}
}

// TestIdempotencyRedisOutage: with its Redis down, an idempotent call is
// refused with 503 and does not run; a call without a key still runs.
func TestIdempotencyRedisOutage(t *testing.T) {
	r := redistest.Start(t)
	urls := redisFixtures(t, r)
	wantRan(t, idemCall(t, urls[0], "bump", `{}`, newKey(t)))
	r.Kill()
	before := counterAt(t, urls[0])
	rep := idemCall(t, urls[0], "bump", `{}`, newKey(t))
	if rep.status != 503 || !strings.Contains(rep.body, `"code":"unavailable"`) {
		t.Errorf("with Redis down: %d %s", rep.status, rep.body)
	}
	if n := counterAt(t, urls[0]); n != before {
		t.Errorf("bump ran with Redis down: count %d, was %d", n, before)
	}
	wantRan(t, idemCall(t, urls[0], "bump", `{}`, ""))
}

// TestIdempotencyFromEnv runs the fixture command with MIZAN_IDEMPOTENCY
// naming a Redis that is not there (a closed port): 503, nothing ran.
func TestIdempotencyFromEnv(t *testing.T) {
	needProcess(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	p, err := startFixtureEnv(server.bin, []string{"MIZAN_IDEMPOTENCY=redis://" + addr + "/0", "MIZAN_CACHE_REDIS_URL=", "MIZAN_PUBSUB_REDIS_URL="}, "-addr", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.stop(); err != nil {
			t.Errorf("fixture: %v\nstderr:\n%s", err, p.stderr.String())
		}
	})
	rep := idemCall(t, p.url, "bump", `{}`, newKey(t))
	if rep.status != 503 || !strings.Contains(rep.body, `"code":"unavailable"`) {
		t.Errorf("with no Redis: %d %s", rep.status, rep.body)
	}
	if n := counterAt(t, p.url); n != 0 {
		t.Errorf("bump ran: count %d", n)
	}
	wantRan(t, idemCall(t, p.url, "bump", `{}`, ""))
	if n := counterAt(t, p.url); n != 1 {
		t.Errorf("count %d after a bump without a key, want 1", n)
	}
	// memory (the default) replays within the process.
	m, err := startFixtureEnv(server.bin, []string{"MIZAN_IDEMPOTENCY=memory", "MIZAN_CACHE_REDIS_URL=", "MIZAN_PUBSUB_REDIS_URL="}, "-addr", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.stop() })
	key := newKey(t)
	first := idemCall(t, m.url, "bump", `{}`, key)
	wantRan(t, first)
	wantReplay(t, idemCall(t, m.url, "bump", `{}`, key), first)
}
