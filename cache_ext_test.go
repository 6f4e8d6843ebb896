package mizan_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/cache"
)

const testSecret = "test-secret-32-bytes-long-000000"

// cachedApp is a small app over a counted store, with an origin cache.
type cachedApp struct {
	srv   *httptest.Server
	runs  atomic.Int64 // executions of context functions
	mu    sync.Mutex
	names map[int]string
	gate  chan struct{} // when non-nil, profile reads wait on it
}

type itemsArgs struct {
	UserID int    `json:"user_id"`
	Page   int    `json:"page,omitempty"`
	Status string `json:"status"`
}

func newCachedApp(t *testing.T, backend cache.Backend, opts ...mizan.Option) *cachedApp {
	t.Helper()
	c, err := cache.New(cache.Options{Backend: backend, Secret: []byte(testSecret), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ca := &cachedApp{names: map[int]string{1: "Ada", 2: "Grace"}}
	app := mizan.New(mizan.Config{Cache: c, Authenticator: mizan.AuthenticatorFunc(testAuth), Logger: slog.New(slog.DiscardHandler)})
	mizan.Query(app, func(ctx context.Context, in profileArgs) (map[string]any, error) {
		ca.runs.Add(1)
		if ca.gate != nil {
			<-ca.gate
		}
		ca.mu.Lock()
		defer ca.mu.Unlock()
		viewer := ""
		if id := mizan.Caller(ctx); id != nil {
			viewer = id.ID // reads the identity without a parameter saying so
		}
		return map[string]any{"name": ca.names[in.UserID], "viewer": viewer}, nil
	}, append([]mizan.Option{mizan.Name("user_profile"), mizan.In(User)}, opts...)...)
	mizan.Query(app, func(_ context.Context, in itemsArgs) (string, error) {
		ca.runs.Add(1)
		ca.mu.Lock()
		defer ca.mu.Unlock()
		return fmt.Sprintf("%s/%d/%s", ca.names[in.UserID], in.Page, in.Status), nil
	}, mizan.Name("items"), mizan.In(Orders))
	mizan.Query(app, func(context.Context, struct{}) (string, error) {
		ca.runs.Add(1)
		return "cfg", nil
	}, mizan.Name("settings"), mizan.In("settings"), mizan.Shared())
	mizan.Query(app, func(context.Context, struct{}) (int64, error) {
		return ca.runs.Add(1), nil
	}, mizan.Name("clock"), mizan.In("clock"), mizan.NoCache())
	rename := func(_ context.Context, in updateArgs) (ok, error) {
		ca.mu.Lock()
		defer ca.mu.Unlock()
		ca.names[in.UserID] = in.Name
		return ok{true}, nil
	}
	mizan.Mutation(app, rename, mizan.Name("rename"), mizan.Affects(User, Orders))
	mizan.Mutation(app, rename, mizan.Name("rename_profile"), mizan.AffectsFunction("user_profile"))
	mizan.Mutation(app, func(context.Context, struct{}) (ok, error) { return ok{true}, nil }, mizan.Name("touch_settings"), mizan.Affects("settings"))
	if err := app.Build(); err != nil {
		t.Fatal(err)
	}
	ca.srv = httptest.NewServer(app)
	t.Cleanup(ca.srv.Close)
	return ca
}

func (ca *cachedApp) get(t *testing.T, path string, headers ...string) (status, cacheStatus, body string) {
	t.Helper()
	req, _ := http.NewRequest("GET", ca.srv.URL+path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.Status, res.Header.Get("X-Mizan-Cache"), string(b)
}

func (ca *cachedApp) call(t *testing.T, body string, headers ...string) {
	t.Helper()
	req, _ := http.NewRequest("POST", ca.srv.URL+"/api/mizan/call/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("call %s: %s", body, res.Status)
	}
}

// expect fetches path and checks the cache status and body.
func (ca *cachedApp) expect(t *testing.T, path, wantCache, wantBody string, headers ...string) {
	t.Helper()
	_, got, body := ca.get(t, path, headers...)
	if got != wantCache || body != wantBody {
		t.Fatalf("GET %s %v: cache %q body %s, want %q %s", path, headers, got, body, wantCache, wantBody)
	}
}

func TestCacheHitMissAndScopedPurge(t *testing.T) {
	ca := newCachedApp(t, cache.NewMemory(cache.MemoryOptions{}))
	p1 := "/api/mizan/ctx/user/?user_id=1"
	ca.expect(t, p1, "miss", `{"user_profile":{"name":"Ada","viewer":""}}`)
	ca.expect(t, p1, "hit", `{"user_profile":{"name":"Ada","viewer":""}}`)
	ca.expect(t, "/api/mizan/ctx/user/?user_id=01", "hit", `{"user_profile":{"name":"Ada","viewer":""}}`)
	ca.expect(t, "/api/mizan/ctx/user/?user_id=2", "miss", `{"user_profile":{"name":"Grace","viewer":""}}`)
	if n := ca.runs.Load(); n != 2 {
		t.Fatalf("functions ran %d times, want 2", n)
	}
	// Signed-in viewers of user 1 get entries of their own.
	ca.expect(t, p1, "miss", `{"user_profile":{"name":"Ada","viewer":"7"}}`, "X-Test-User", "7")
	ca.expect(t, p1, "hit", `{"user_profile":{"name":"Ada","viewer":"7"}}`, "X-Test-User", "7")
	ca.expect(t, p1, "miss", `{"user_profile":{"name":"Ada","viewer":"8"}}`, "X-Test-User", "8")

	// A scoped mutation purges user 1 for every caller, and user 2 not at all.
	ca.call(t, `{"fn":"rename","args":{"user_id":1,"name":"Ryth"}}`, "X-Test-User", "9")
	ca.expect(t, p1, "miss", `{"user_profile":{"name":"Ryth","viewer":""}}`)
	ca.expect(t, p1, "miss", `{"user_profile":{"name":"Ryth","viewer":"7"}}`, "X-Test-User", "7")
	ca.expect(t, "/api/mizan/ctx/user/?user_id=2", "hit", `{"user_profile":{"name":"Grace","viewer":""}}`)

	// A function-level target purges its instance.
	ca.call(t, `{"fn":"rename_profile","args":{"user_id":2,"name":"Hopper"}}`)
	ca.expect(t, "/api/mizan/ctx/user/?user_id=2", "miss", `{"user_profile":{"name":"Hopper","viewer":""}}`)
}

func TestCachePartialTargetPurgesMatchingInstances(t *testing.T) {
	ca := newCachedApp(t, cache.NewMemory(cache.MemoryOptions{}))
	a := "/api/mizan/ctx/orders/?user_id=1&status=open&page=2"
	b := "/api/mizan/ctx/orders/?user_id=2&status=open"
	ca.expect(t, a, "miss", `{"items":"Ada/2/open"}`)
	ca.expect(t, b, "miss", `{"items":"Grace/0/open"}`)
	ca.expect(t, a, "hit", `{"items":"Ada/2/open"}`)
	// rename's user_id names only one of orders' parameters: the target
	// orders;user_id=1 matches every instance of user 1 (docs/spec.md §3),
	// whatever its status and page, and no instance of user 2.
	ca.call(t, `{"fn":"rename","args":{"user_id":1,"name":"Ryth"}}`)
	ca.expect(t, a, "miss", `{"items":"Ryth/2/open"}`)
	ca.expect(t, b, "hit", `{"items":"Grace/0/open"}`)
}

func TestCacheSharedAndOff(t *testing.T) {
	ca := newCachedApp(t, cache.NewMemory(cache.MemoryOptions{}))
	ca.expect(t, "/api/mizan/ctx/settings/", "miss", `{"settings":"cfg"}`, "X-Test-User", "1")
	ca.expect(t, "/api/mizan/ctx/settings/", "hit", `{"settings":"cfg"}`, "X-Test-User", "2")
	ca.expect(t, "/api/mizan/ctx/settings/", "hit", `{"settings":"cfg"}`)
	ca.call(t, `{"fn":"touch_settings"}`)
	ca.expect(t, "/api/mizan/ctx/settings/", "miss", `{"settings":"cfg"}`)
	_, st, first := ca.get(t, "/api/mizan/ctx/clock/")
	_, st2, second := ca.get(t, "/api/mizan/ctx/clock/")
	if st != "bypass" || st2 != "bypass" || first == second {
		t.Errorf("NoCache context: %s %s, %s %s", st, first, st2, second)
	}
}

func TestCacheRevisionBusts(t *testing.T) {
	backend := cache.NewMemory(cache.MemoryOptions{})
	ca := newCachedApp(t, backend)
	ca.expect(t, "/api/mizan/ctx/user/?user_id=1", "miss", `{"user_profile":{"name":"Ada","viewer":""}}`)
	ca.expect(t, "/api/mizan/ctx/user/?user_id=1", "hit", `{"user_profile":{"name":"Ada","viewer":""}}`)
	// The same backend, the context at revision 1: the old entry is not used.
	ca2 := newCachedApp(t, backend, mizan.Rev(1))
	ca2.expect(t, "/api/mizan/ctx/user/?user_id=1", "miss", `{"user_profile":{"name":"Ada","viewer":""}}`)
}

func TestCacheTTL(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	ca := newCachedApp(t, cache.NewMemory(cache.MemoryOptions{Now: clock}), mizan.Cache(30*time.Second))
	p := "/api/mizan/ctx/user/?user_id=1"
	ca.expect(t, p, "miss", `{"user_profile":{"name":"Ada","viewer":""}}`)
	mu.Lock()
	now = now.Add(29 * time.Second)
	mu.Unlock()
	ca.expect(t, p, "hit", `{"user_profile":{"name":"Ada","viewer":""}}`)
	mu.Lock()
	now = now.Add(2 * time.Second)
	mu.Unlock()
	ca.expect(t, p, "miss", `{"user_profile":{"name":"Ada","viewer":""}}`)
}

func TestCacheSingleFlight(t *testing.T) {
	ca := newCachedApp(t, cache.NewMemory(cache.MemoryOptions{}))
	ca.gate = make(chan struct{})
	const n = 20
	var wg sync.WaitGroup
	bodies := make([]string, n)
	for i := range n {
		wg.Go(func() { _, _, bodies[i] = ca.get(t, "/api/mizan/ctx/user/?user_id=1") })
	}
	for ca.runs.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // let the others reach the flight
	close(ca.gate)
	wg.Wait()
	if got := ca.runs.Load(); got != 1 {
		t.Errorf("%d concurrent misses ran the function %d times, want 1", n, got)
	}
	for _, b := range bodies {
		if b != `{"user_profile":{"name":"Ada","viewer":""}}` {
			t.Errorf("body %s", b)
		}
	}
}

func TestCacheMixedSharedIsABuildError(t *testing.T) {
	app := mizan.New(mizan.Config{})
	mizan.Query(app, userOrders, mizan.In(User), mizan.Shared())
	mizan.Query(app, func(context.Context, profileArgs) (int, error) { return 0, nil }, mizan.Name("p"), mizan.In(User))
	if err := app.Build(); err == nil || !strings.Contains(err.Error(), "Shared on some functions") {
		t.Fatalf("Build() = %v", err)
	}
}
