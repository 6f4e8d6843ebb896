package ssr_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/cache"
	"github.com/mizan-afi/mizan/ssr"
)

const (
	project mizan.Context = "project"
	account mizan.Context = "account"
)

type projectArgs struct {
	ProjectID int `json:"project_id"`
}

type renameArgs struct {
	ProjectID int    `json:"project_id"`
	Name      string `json:"name"`
}

type accountArgs struct {
	UserID int `json:"user_id"`
}

// fixture is an app with a psr context (project), a user-scoped one
// (account), and counters of every function run.
type fixture struct {
	app   *mizan.App
	pages *ssr.Pages
	r     *ssr.Renderer

	mu    sync.Mutex
	names map[int]string

	infoRuns, taskRuns, accountRuns atomic.Int64
}

func requireBun(t testing.TB) {
	t.Helper()
	if _, err := ssr.FindBun("", "../frontends/ssr"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("bun is required when CI=true: %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newFixture(t *testing.T, debounce time.Duration, configure ...func(*ssr.PagesConfig)) *fixture {
	t.Helper()
	requireBun(t)
	f := &fixture{names: map[int]string{1: "Apollo", 2: "Gemini", 3: "Mercury"}}
	// A generous Timeout: the default (100 ms per operation) treats a Get
	// that a loaded machine under -race delays as a failure, and serves a
	// fresh render instead of the stored page (right, but not what these
	// tests count).
	c, err := cache.New(cache.Options{Backend: cache.NewMemory(cache.MemoryOptions{}), Secret: []byte(strings.Repeat("s", 32)), Logger: quiet, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	f.app = mizan.New(mizan.Config{Cache: c, Logger: quiet,
		Authenticator: mizan.AuthenticatorFunc(func(r *http.Request) (*mizan.Identity, error) {
			if id := r.Header.Get("X-User"); id != "" {
				return &mizan.Identity{ID: id, Bearer: true}, nil
			}
			return nil, nil
		})})
	name := func(id int) (string, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		n, ok := f.names[id]
		if !ok {
			return "", mizan.NewError(mizan.CodeNotFound, "no such project")
		}
		return n, nil
	}
	mizan.Query(f.app, func(_ context.Context, in projectArgs) (map[string]any, error) {
		f.infoRuns.Add(1)
		n, err := name(in.ProjectID)
		return map[string]any{"id": in.ProjectID, "name": n}, err
	}, mizan.In(project), mizan.Name("project_info"))
	mizan.Query(f.app, func(_ context.Context, in projectArgs) ([]string, error) {
		f.taskRuns.Add(1)
		return []string{"launch"}, nil
	}, mizan.In(project), mizan.Name("project_tasks"))
	mizan.Mutation(f.app, func(_ context.Context, in renameArgs) (bool, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.names[in.ProjectID] = in.Name
		return true, nil
	}, mizan.Affects(project), mizan.Name("rename_project"))
	mizan.Mutation(f.app, func(_ context.Context, in projectArgs) (bool, error) {
		return true, nil // changes nothing: the re-render is the same page
	}, mizan.Affects(project), mizan.Name("touch_project"))
	mizan.Mutation(f.app, func(_ context.Context, _ struct{}) (bool, error) {
		return true, nil
	}, mizan.Affects(project), mizan.Name("reset_projects"))
	mizan.Query(f.app, func(_ context.Context, in accountArgs) (map[string]any, error) {
		f.accountRuns.Add(1)
		return map[string]any{"user_id": in.UserID, "plan": "free"}, nil
	}, mizan.In(account), mizan.Name("account_info"))

	f.r, err = ssr.New(ssr.Config{Dirs: []string{"testdata/components"}, Workers: 2, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	cfg := ssr.PagesConfig{Debounce: debounce, Scripts: []string{"/assets/entry.js"}, Logger: quiet}
	for _, c := range configure {
		c(&cfg)
	}
	f.pages, err = ssr.NewPages(f.app, f.r, cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.pages.Handle(ssr.Route{
		Pattern: "/projects/{project_id}/", Component: "Data.tsx", Contexts: []mizan.Context{project}, Title: "Project",
		Prerender: func(context.Context) ([]map[string]string, error) {
			return []map[string]string{{"project_id": "1"}, {"project_id": "2"}}, nil
		},
	})
	f.pages.Page("/accounts/{user_id}/", "Data.tsx", account)
	if err := f.app.Build(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := f.pages.Close(ctx); err != nil {
			t.Errorf("Pages.Close: %v", err)
		}
		if err := f.r.Close(ctx); err != nil {
			t.Errorf("Renderer.Close: %v", err)
		}
	})
	return f
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// get requests path and returns the response's status, X-Mizan-Render and body.
func (f *fixture) get(t *testing.T, path string, header ...string) (int, string, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	f.app.ServeHTTP(w, req)
	return w.Code, w.Header().Get(ssr.HeaderRender), w.Body.String()
}

// call runs a mutation through POST call/.
func (f *fixture) call(t *testing.T, body string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/api/mizan/call/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	f.app.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		t.Fatalf("call %s: %d %s", body, w.Code, w.Body)
	}
}

// runs returns how many times the project functions ran (each runs once
// per bundle).
func (f *fixture) runs(t *testing.T) int64 {
	t.Helper()
	info, tasks := f.infoRuns.Load(), f.taskRuns.Load()
	if info != tasks {
		t.Fatalf("project_info ran %d times and project_tasks %d: a bundle runs both", info, tasks)
	}
	return info
}

// expect checks the page counters.
func (f *fixture) expect(t *testing.T, step string, want ssr.PageStats) {
	t.Helper()
	if got := f.pages.Stats(); got != want {
		t.Errorf("%s: Stats = %+v, want %+v", step, got, want)
	}
}

func (f *fixture) sync(t *testing.T, ctx context.Context) {
	t.Helper()
	if err := f.pages.Sync(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestPSRCounts follows function runs and renders through pre-rendering,
// serving, re-rendering after mutations (scoped, coalesced, unchanged,
// broad), read-your-writes and per-request pages.
func TestPSRCounts(t *testing.T) {
	f := newFixture(t, time.Hour) // re-renders run only when Sync asks: deterministic
	ctx := testContext(t)

	if m, _ := f.app.ContextMeta("project"); m.RenderStrategy != mizan.RenderPSR || len(m.Routes) != 1 {
		t.Errorf("project context: %+v, want psr with one page route", m)
	}
	if m, _ := f.app.ContextMeta("account"); m.RenderStrategy != mizan.RenderDynamicCached || !m.UserScoped {
		t.Errorf("account context: %+v, want dynamic_cached", m)
	}

	// Rendered ahead: projects 1 and 2, one bundle each.
	if err := f.pages.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if n := f.runs(t); n != 2 {
		t.Errorf("after Start the project functions ran %d times, want 2", n)
	}
	f.expect(t, "start", ssr.PageStats{Renders: 2, Stored: 2, Tracked: 2})

	// Served pre-rendered: no function runs, no render.
	code, how, body := f.get(t, "/projects/1/")
	if code != http.StatusOK || how != "psr-hit" || !strings.Contains(body, "Apollo") {
		t.Fatalf("GET /projects/1/ = %d %s\n%s", code, how, body)
	}
	for _, want := range []string{
		`<script type="application/json" id="mizan-data">{"project?project_id=1":{"project_info":{"id":1,"name":"Apollo"},"project_tasks":["launch"]}}</script>`,
		`<script type="application/json" id="mizan-props">{"params":{"project_id":"1"}}</script>`,
		`<script type="module" src="/assets/entry.js"></script>`,
		"<title>Project</title>",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s:\n%s", want, body)
		}
	}
	if n := f.runs(t); n != 2 {
		t.Errorf("serving a pre-rendered page ran the functions (%d runs)", n)
	}
	f.expect(t, "hit", ssr.PageStats{Renders: 2, Stored: 2, Hits: 1, Tracked: 2})

	// A page not rendered ahead is rendered on its first request, then served.
	if _, how, body := f.get(t, "/projects/3/"); how != "psr-render" || !strings.Contains(body, "Mercury") {
		t.Errorf("first GET /projects/3/ = %s", how)
	}
	if _, how, _ := f.get(t, "/projects/03/"); how != "psr-hit" {
		t.Errorf("GET /projects/03/ = %s, want the stored page of project 3", how)
	}
	if n := f.runs(t); n != 3 {
		t.Errorf("project functions ran %d times, want 3", n)
	}
	f.expect(t, "first request", ssr.PageStats{Renders: 3, Stored: 3, Hits: 2, Tracked: 3})

	// A burst of scoped mutations re-renders project 1 once, and only it.
	for _, name := range []string{"A", "B", "C", "D", "Zeus"} {
		f.call(t, `{"fn":"rename_project","args":{"project_id":1,"name":"`+name+`"}}`)
	}
	f.sync(t, ctx)
	if n := f.runs(t); n != 4 {
		t.Errorf("after 5 renames the functions ran %d times, want 4 (one re-render)", n)
	}
	f.expect(t, "burst", ssr.PageStats{Renders: 4, Rerenders: 1, Stored: 4, Hits: 2, Tracked: 3})
	if _, how, body := f.get(t, "/projects/1/"); how != "psr-hit" || !strings.Contains(body, "Zeus") {
		t.Errorf("GET /projects/1/ after the renames = %s, want the re-rendered page with Zeus:\n%s", how, body)
	}
	if _, how, body := f.get(t, "/projects/2/"); how != "psr-hit" || !strings.Contains(body, "Gemini") {
		t.Errorf("GET /projects/2/ = %s", how)
	}
	if n := f.runs(t); n != 4 {
		t.Errorf("serving after the re-render ran the functions (%d runs)", n)
	}
	f.expect(t, "served", ssr.PageStats{Renders: 4, Rerenders: 1, Stored: 4, Hits: 4, Tracked: 3})

	// A mutation that changes nothing re-renders the same HTML: not stored.
	f.call(t, `{"fn":"touch_project","args":{"project_id":2}}`)
	f.sync(t, ctx)
	f.expect(t, "unchanged", ssr.PageStats{Renders: 5, Rerenders: 2, Stored: 4, Unchanged: 1, Hits: 4, Tracked: 3})
	if _, how, _ := f.get(t, "/projects/2/"); how != "psr-hit" {
		t.Errorf("GET /projects/2/ after an unchanged re-render = %s, want psr-hit", how)
	}

	// A broad mutation re-renders every page of the context.
	f.call(t, `{"fn":"reset_projects","args":{}}`)
	f.sync(t, ctx)
	if n := f.runs(t); n != 8 {
		t.Errorf("after the broad mutation the functions ran %d times, want 8", n)
	}
	f.expect(t, "broad", ssr.PageStats{Renders: 8, Rerenders: 5, Stored: 4, Unchanged: 4, Hits: 5, Tracked: 3})

	// Read-your-writes: a request right after a mutation, before the
	// re-render ran, renders the page at once; the queued re-render is then
	// skipped.
	f.call(t, `{"fn":"rename_project","args":{"project_id":1,"name":"Hera"}}`)
	if _, how, body := f.get(t, "/projects/1/"); how != "psr-render" || !strings.Contains(body, "Hera") {
		t.Errorf("GET right after a rename = %s, want a fresh render with Hera:\n%s", how, body)
	}
	f.sync(t, ctx)
	f.expect(t, "read-your-writes", ssr.PageStats{Renders: 9, Rerenders: 5, Stored: 5, Unchanged: 4, Hits: 5, Tracked: 3})
	if _, how, body := f.get(t, "/projects/1/"); how != "psr-hit" || !strings.Contains(body, "Hera") {
		t.Errorf("GET /projects/1/ = %s, want the stored page with Hera", how)
	}

	// A signed-in caller of a context that is not Shared gets a page of its
	// own, rendered per request (the functions may read the caller).
	if _, how, _ := f.get(t, "/projects/2/", "X-User", "9"); how != "dynamic" {
		t.Errorf("GET as a signed-in caller = %s, want dynamic", how)
	}

	// A user-scoped context is rendered per request, from the origin cache.
	for i := range 2 {
		code, how, body := f.get(t, "/accounts/7/")
		if code != http.StatusOK || how != "dynamic" || !strings.Contains(body, `account?user_id=7`) {
			t.Errorf("GET /accounts/7/ #%d = %d %s\n%s", i, code, how, body)
		}
	}
	if n := f.accountRuns.Load(); n != 1 {
		t.Errorf("account_info ran %d times for two pages, want 1 (the second bundle from the origin cache)", n)
	}

	// Errors of the functions are the page's: an unknown project is 404,
	// a malformed id 400, and neither stays tracked.
	if code, _, _ := f.get(t, "/projects/99/"); code != http.StatusNotFound {
		t.Errorf("GET /projects/99/ = %d, want 404", code)
	}
	if code, _, _ := f.get(t, "/projects/x/"); code != http.StatusBadRequest {
		t.Errorf("GET /projects/x/ = %d, want 400", code)
	}
	if st := f.pages.Stats(); st.Tracked != 3 {
		t.Errorf("Tracked = %d after failed pages, want 3", st.Tracked)
	}
}

// TestPSRDebounce lets the background loop re-render by itself after a
// short debounce: it waits for the re-render to begin without calling Sync
// (which would cut the debounce short), then for it to finish, without
// timing assertions.
func TestPSRDebounce(t *testing.T) {
	f := newFixture(t, time.Millisecond)
	ctx := testContext(t)
	if err := f.pages.Start(ctx); err != nil {
		t.Fatal(err)
	}
	f.call(t, `{"fn":"rename_project","args":{"project_id":2,"name":"Artemis"}}`)
	for deadline := time.Now().Add(time.Minute); f.pages.Stats().Rerenders == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no re-render after the debounce: Stats = %+v", f.pages.Stats())
		}
	}
	f.sync(t, ctx) // the re-render began: wait for it to be stored
	if _, how, body := f.get(t, "/projects/2/"); how != "psr-hit" || !strings.Contains(body, "Artemis") {
		t.Errorf("GET /projects/2/ = %s:\n%s", how, body)
	}
	if st := f.pages.Stats(); st.Rerenders != 1 {
		t.Errorf("Stats = %+v, want one re-render", st)
	}
}

func TestPagesSetupErrors(t *testing.T) {
	requireBun(t)
	app := mizan.New(mizan.Config{Logger: quiet})
	mizan.Query(app, func(context.Context, projectArgs) (int, error) { return 1, nil }, mizan.In(project), mizan.Name("p"))
	r, err := ssr.New(ssr.Config{Dirs: []string{"testdata/components"}, Workers: 1, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	pages, err := ssr.NewPages(app, r, ssr.PagesConfig{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer pages.Close(context.Background())
	pages.Page("/a/", "Missing.tsx", project)
	pages.Page("/b/", "Data.tsx", "nowhere")
	if err := app.Build(); err != nil {
		t.Fatalf("Build: %v", err)
	}
	err = pages.Start(testContext(t))
	if !errors.Is(err, ssr.ErrNoTemplate) || !strings.Contains(err.Error(), `no function is in context "nowhere"`) {
		t.Errorf("Start: err = %v, want both mistakes", err)
	}
	if _, err := ssr.NewPages(nil, r, ssr.PagesConfig{}); err == nil {
		t.Error("NewPages(nil app) succeeded")
	}
}

// sharedBackend hides the memory backend's InProcess, so that Pages takes
// the cache as shared between processes.
type sharedBackend struct{ cache.Backend }

// TestPSRInvalidationsDoNotFillTable checks that scoped invalidations of
// instances no process stored (with a shared cache, each makes the instance
// known) do not use up MaxInstances: a page requested afterwards is still
// pre-rendered.
func TestPSRInvalidationsDoNotFillTable(t *testing.T) {
	requireBun(t)
	c, err := cache.New(cache.Options{Backend: sharedBackend{cache.NewMemory(cache.MemoryOptions{})},
		Secret: []byte(strings.Repeat("p", 32)), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	f := newFixture(t, time.Hour, func(cfg *ssr.PagesConfig) {
		cfg.Cache = c
		cfg.MaxInstances = 3
	})
	ctx := testContext(t)
	if err := f.pages.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if st := f.pages.Stats(); st.Tracked != 2 {
		t.Fatalf("after Start Tracked = %d, want 2", st.Tracked)
	}
	for id := 10; id < 20; id++ {
		f.call(t, `{"fn":"touch_project","args":{"project_id":`+strconv.Itoa(id)+`}}`)
		f.sync(t, ctx)
	}
	if st := f.pages.Stats(); st.Tracked != 2 || st.Rerenders != 0 {
		t.Errorf("after invalidating 10 pages never stored: Stats = %+v, want 2 tracked and no re-render", st)
	}
	if _, how, body := f.get(t, "/projects/3/"); how != "psr-render" || !strings.Contains(body, "Mercury") {
		t.Errorf("GET /projects/3/ = %s, want psr-render:\n%s", how, body)
	}
	if _, how, _ := f.get(t, "/projects/3/"); how != "psr-hit" {
		t.Errorf("second GET /projects/3/ = %s, want psr-hit", how)
	}
}
