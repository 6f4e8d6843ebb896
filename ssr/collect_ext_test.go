package ssr_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/ssr"
)

// The contexts of the reading fixture, besides project.
const (
	boardCtx     mizan.Context = "board"
	userCtx      mizan.Context = "user"
	directoryCtx mizan.Context = "directory"
	meCtx        mizan.Context = "me"
)

type userArgs struct {
	UserID int `json:"user_id"`
}

type renameUserArgs struct {
	UserID int    `json:"user_id"`
	Name   string `json:"name"`
}

type newProjectArgs struct {
	Name  string `json:"name"`
	Owner int    `json:"owner"`
}

type projectRow struct {
	name  string
	owner int
}

// gate holds the next fetch of project 2 after it has read the project:
// it reports on blocked and returns what it read once release is closed.
type gate struct {
	blocked chan struct{}
	release chan struct{}
}

// readsFixture is an app whose pages (testdata/components/pages/Board.tsx)
// read more than their routes' contexts: the board lists projects, each
// project names its owner (a user), and a page may read the guarded
// directory or the caller's me. Every context but me is Shared.
type readsFixture struct {
	app   *mizan.App
	pages *ssr.Pages
	r     *ssr.Renderer

	mu       sync.Mutex
	board    []int
	projects map[int]projectRow
	users    map[int]string

	gate        atomic.Pointer[gate]
	projectRuns atomic.Int64
}

func newReadsFixture(t *testing.T) *readsFixture {
	t.Helper()
	requireBun(t)
	f := &readsFixture{board: []int{1, 2},
		projects: map[int]projectRow{1: {"Apollo", 7}, 2: {"Gemini", 8}, 3: {"Mercury", 9}},
		users:    map[int]string{7: "Ada", 8: "Grace", 9: "Katherine"}}
	f.app = mizan.New(mizan.Config{Logger: quiet,
		Authenticator: mizan.AuthenticatorFunc(func(r *http.Request) (*mizan.Identity, error) {
			if id := r.Header.Get("X-User"); id != "" {
				return &mizan.Identity{ID: id, Bearer: true}, nil
			}
			return nil, nil
		})})
	mizan.Query(f.app, func(context.Context, struct{}) ([]int, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		return slices.Clone(f.board), nil
	}, mizan.In(boardCtx), mizan.Name("board_projects"), mizan.Shared())
	mizan.Query(f.app, func(_ context.Context, in projectArgs) (map[string]any, error) {
		f.projectRuns.Add(1)
		f.mu.Lock()
		p, ok := f.projects[in.ProjectID]
		f.mu.Unlock()
		if !ok {
			return nil, mizan.NewError(mizan.CodeNotFound, "no such project")
		}
		if in.ProjectID == 2 {
			if g := f.gate.Swap(nil); g != nil {
				g.blocked <- struct{}{}
				<-g.release
			}
		}
		return map[string]any{"id": in.ProjectID, "name": p.name, "owner": p.owner}, nil
	}, mizan.In(project), mizan.Name("project_info"), mizan.Shared())
	mizan.Query(f.app, func(_ context.Context, in userArgs) (map[string]any, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		return map[string]any{"name": f.users[in.UserID]}, nil
	}, mizan.In(userCtx), mizan.Name("user_info"), mizan.Shared())
	mizan.Query(f.app, func(context.Context, struct{}) ([]string, error) {
		return []string{"ada@example.com"}, nil
	}, mizan.In(directoryCtx), mizan.Name("members"), mizan.Shared(), mizan.RequireAuth())
	mizan.Query(f.app, func(ctx context.Context, _ struct{}) (*string, error) {
		if c := mizan.Caller(ctx); c != nil {
			return &c.ID, nil
		}
		return nil, nil
	}, mizan.In(meCtx), mizan.Name("me_id"))
	mizan.Mutation(f.app, func(_ context.Context, in renameArgs) (bool, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		p := f.projects[in.ProjectID]
		p.name = in.Name
		f.projects[in.ProjectID] = p
		return true, nil
	}, mizan.Affects(project), mizan.Name("rename_project"))
	mizan.Mutation(f.app, func(_ context.Context, in renameUserArgs) (bool, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.users[in.UserID] = in.Name
		return true, nil
	}, mizan.Affects(userCtx), mizan.Name("rename_user"))
	mizan.Mutation(f.app, func(_ context.Context, in newProjectArgs) (int, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		id := len(f.projects) + 1
		f.projects[id] = projectRow{in.Name, in.Owner}
		f.users[in.Owner] = fmt.Sprintf("Owner %d", in.Owner)
		f.board = append(f.board, id)
		return id, nil
	}, mizan.Affects(boardCtx), mizan.Name("add_project"))

	var err error
	f.r, err = ssr.New(ssr.Config{Dirs: []string{"testdata/components"}, Workers: 2, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	f.pages, err = ssr.NewPages(f.app, f.r, ssr.PagesConfig{Debounce: time.Hour, Logger: quiet}) // re-renders on Sync only
	if err != nil {
		t.Fatal(err)
	}
	board := []mizan.Context{boardCtx}
	f.pages.Handle(ssr.Route{Pattern: "/", Component: "pages/Board.tsx", Contexts: board})
	f.pages.Handle(ssr.Route{Pattern: "/with/{extra}/", Component: "pages/Board.tsx", Contexts: board})
	f.pages.Handle(ssr.Route{Pattern: "/teams/{team_id}/", Component: "pages/Board.tsx", Contexts: board})
	// A user-scoped context: rendered per request, for its caller.
	f.pages.Handle(ssr.Route{Pattern: "/accounts/{user_id}/{extra}/", Component: "pages/Board.tsx", Contexts: []mizan.Context{userCtx}})
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

func (f *readsFixture) get(t *testing.T, path string, header ...string) (string, string) {
	t.Helper()
	code, how, body := (&fixture{app: f.app}).get(t, path, header...)
	if code != http.StatusOK {
		t.Fatalf("GET %s = %d\n%s", path, code, body)
	}
	return how, body
}

func (f *readsFixture) call(t *testing.T, body string) {
	t.Helper()
	(&fixture{app: f.app}).call(t, body)
}

func (f *readsFixture) sync(t *testing.T, ctx context.Context) {
	t.Helper()
	if err := f.pages.Sync(ctx); err != nil {
		t.Fatal(err)
	}
}

var embeddedData = regexp.MustCompile(`<script type="application/json" id="mizan-data">(.*?)</script>`)

// embedded returns the keys of the instances a page embeds, sorted, and
// their bundles.
func embedded(t *testing.T, body string) ([]string, map[string]json.RawMessage) {
	t.Helper()
	m := embeddedData.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no data script in\n%s", body)
	}
	var data map[string]json.RawMessage
	if err := json.Unmarshal([]byte(m[1]), &data); err != nil {
		t.Fatal(err)
	}
	return slices.Sorted(maps.Keys(data)), data
}

// renders returns the component renders the worker pool has done.
func (f *readsFixture) renders() uint64 { return f.r.Stats().Renders }

// A pre-rendered page embeds every instance its component reads (the
// route declares only board), is served as it is, and is re-rendered
// when a mutation's targets hit any of them: a project the sidebar shows,
// the owner one of them names, the board that lists them; not a project
// it does not show. A re-render fetches what the previous one read first,
// and so renders once, unless the data leads to more.
func TestPSRPagesEmbedAndFollowWhatTheyRead(t *testing.T) {
	f := newReadsFixture(t)
	ctx := testContext(t)
	if err := f.pages.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// "/" was rendered ahead: three renders (the board; its projects; their
	// owners), four instances fetched besides the route's.
	if n := f.renders(); n != 3 {
		t.Errorf("rendering / ahead took %d renders, want 3", n)
	}
	if st := f.pages.Stats(); st.Renders != 1 || st.Stored != 1 || st.Collected != 4 || st.Unembedded != 0 {
		t.Errorf("after Start: %+v", st)
	}
	how, body := f.get(t, "/")
	keys, _ := embedded(t, body)
	want := []string{"board", "project?project_id=1", "project?project_id=2", "user?user_id=7", "user?user_id=8"}
	if how != "psr-hit" || !slices.Equal(keys, want) {
		t.Fatalf("GET / = %s, embedding %v; want psr-hit embedding %v", how, keys, want)
	}
	if !strings.Contains(body, "<li>Apollo<em>Ada</em></li><li>Gemini<em>Grace</em></li>") {
		t.Errorf("GET / shows\n%s", body)
	}

	// A target of a project only the component read: the page is
	// re-rendered (read-your-writes first: a request before the re-render
	// renders it at once), from what it read last time: one render.
	before := f.renders()
	f.call(t, `{"fn":"rename_project","args":{"project_id":2,"name":"Zeus"}}`)
	if how, body := f.get(t, "/"); how != "psr-render" || !strings.Contains(body, "<li>Zeus<em>Grace</em></li>") {
		t.Errorf("GET / right after renaming project 2 = %s\n%s", how, body)
	}
	if n := f.renders() - before; n != 1 {
		t.Errorf("the re-render took %d renders, want 1 (what it read last time fetched first)", n)
	}
	f.sync(t, ctx)
	if how, body := f.get(t, "/"); how != "psr-hit" || !strings.Contains(body, "Zeus") {
		t.Errorf("GET / after the re-render = %s", how)
	}

	// Three levels down: the owner of a project.
	f.call(t, `{"fn":"rename_user","args":{"user_id":8,"name":"Grace Hopper"}}`)
	f.sync(t, ctx)
	st := f.pages.Stats()
	if st.Rerenders != 1 {
		t.Errorf("renaming user 8: %d re-renders, want 1", st.Rerenders)
	}
	if how, body := f.get(t, "/"); how != "psr-hit" || !strings.Contains(body, "<em>Grace Hopper</em>") {
		t.Errorf("GET / after renaming user 8 = %s\n%s", how, body)
	}

	// A project the page does not show, a user it does not: nothing.
	runs := f.projectRuns.Load()
	f.call(t, `{"fn":"rename_project","args":{"project_id":3,"name":"Vostok"}}`)
	f.call(t, `{"fn":"rename_user","args":{"user_id":9,"name":"K"}}`)
	f.sync(t, ctx)
	if got := f.pages.Stats(); got.Rerenders != st.Rerenders || got.Renders != st.Renders || f.projectRuns.Load() != runs {
		t.Errorf("targets of nothing the page read re-rendered it: %+v", got)
	}
	if how, _ := f.get(t, "/"); how != "psr-hit" {
		t.Errorf("GET / = %s", how)
	}

	// The board lists a new project: the re-render reads it and its
	// owner, and embeds them (one render with what it read last time,
	// then one for each new level).
	before = f.renders()
	f.call(t, `{"fn":"add_project","args":{"name":"Artemis","owner":10}}`)
	f.sync(t, ctx)
	if n := f.renders() - before; n != 3 {
		t.Errorf("the re-render after add_project took %d renders, want 3", n)
	}
	how, body = f.get(t, "/")
	keys, _ = embedded(t, body)
	want = []string{"board", "project?project_id=1", "project?project_id=2", "project?project_id=4", "user?user_id=10", "user?user_id=7", "user?user_id=8"}
	if how != "psr-hit" || !slices.Equal(keys, want) || !strings.Contains(body, "<li>Artemis<em>Owner 10</em></li>") {
		t.Errorf("GET / after add_project = %s, embedding %v, want %v\n%s", how, keys, want, body)
	}
	// And what it reads now is followed.
	f.call(t, `{"fn":"rename_user","args":{"user_id":10,"name":"Neil"}}`)
	f.sync(t, ctx)
	if how, body := f.get(t, "/"); how != "psr-hit" || !strings.Contains(body, "<em>Neil</em>") {
		t.Errorf("GET / after renaming user 10 = %s\n%s", how, body)
	}
}

// A mutation that comes while a page is rendered for the first time, when
// nothing is known yet of what it reads, to an instance the render
// fetched before the mutation: the page is not stored as it was
// rendered, and the re-render shows the change.
func TestPSRMutationDuringFirstRender(t *testing.T) {
	f := newReadsFixture(t)
	ctx := testContext(t)
	if err := f.pages.Start(ctx); err != nil {
		t.Fatal(err)
	}
	g := &gate{blocked: make(chan struct{}), release: make(chan struct{})}
	f.gate.Store(g)
	got := make(chan string, 1)
	go func() {
		w := httptest.NewRecorder()
		f.app.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/teams/1/", nil))
		got <- w.Body.String()
	}()
	select {
	case <-g.blocked: // project 2 read (Gemini), its bundle not yet returned
	case <-time.After(time.Minute):
		t.Fatal("the render of /teams/1/ did not fetch project 2")
	}
	f.call(t, `{"fn":"rename_project","args":{"project_id":2,"name":"Zeus"}}`)
	close(g.release)
	if body := <-got; !strings.Contains(body, "Gemini") {
		t.Fatalf("the render in progress shows\n%s", body)
	}
	f.sync(t, ctx)
	if how, body := f.get(t, "/teams/1/"); !strings.Contains(body, "Zeus") {
		t.Errorf("GET /teams/1/ after the mutation = %s, showing\n%s", how, body)
	}
}

// A guarded context is never embedded in an anonymous page: a
// pre-rendered page that reads it leaves it out (the browser fetches it
// as itself), and so does a page rendered per request for an anonymous
// caller; a page rendered per request for a signed-in caller embeds it,
// fetched as that caller.
func TestGuardedReadsAreNotEmbeddedAnonymously(t *testing.T) {
	f := newReadsFixture(t)
	if err := f.pages.Start(testContext(t)); err != nil {
		t.Fatal(err)
	}
	before := f.pages.Stats().Unembedded
	how, body := f.get(t, "/with/directory/")
	keys, _ := embedded(t, body)
	if how != "psr-render" || slices.Contains(keys, "directory") || strings.Contains(body, "example.com") || !strings.Contains(body, `<p class="directory">…</p>`) {
		t.Errorf("anonymous GET /with/directory/ = %s, embedding %v\n%s", how, keys, body)
	}
	if n := f.pages.Stats().Unembedded - before; n != 1 {
		t.Errorf("Unembedded grew by %d, want 1", n)
	}
	// The route's contexts, and what the page embeds, are all Shared: a
	// signed-in caller gets the same page.
	if how, body := f.get(t, "/with/directory/", "X-User", "7"); how != "psr-hit" || strings.Contains(body, "example.com") {
		t.Errorf("signed-in GET /with/directory/ = %s\n%s", how, body)
	}
	// Rendered per request (user is user-scoped).
	how, body = f.get(t, "/accounts/7/directory/")
	if keys, _ := embedded(t, body); how != "dynamic" || slices.Contains(keys, "directory") {
		t.Errorf("anonymous GET /accounts/7/directory/ = %s, embedding %v", how, keys)
	}
	how, body = f.get(t, "/accounts/7/directory/", "X-User", "7")
	keys, data := embedded(t, body)
	if how != "dynamic" || !slices.Contains(keys, "directory") || string(data["directory"]) != `{"members":["ada@example.com"]}` {
		t.Errorf("signed-in GET /accounts/7/directory/ = %s, embedding %v", how, keys)
	}
}

// A page that reads a context that is not Shared (one that reads the
// caller) is pre-rendered for anonymous callers, and rendered per request
// for signed-in ones, even when its route's contexts are all Shared: its
// embedded bundle is the anonymous caller's. A page that reads only Shared
// contexts is the same for everyone.
func TestSignedInCallersGetTheirOwnPageWhenItReadsTheCaller(t *testing.T) {
	f := newReadsFixture(t)
	if err := f.pages.Start(testContext(t)); err != nil {
		t.Fatal(err)
	}
	how, body := f.get(t, "/with/me/")
	if _, data := embedded(t, body); how != "psr-render" || string(data["me"]) != `{"me_id":null}` {
		t.Errorf("anonymous GET /with/me/ = %s, me %s", how, data["me"])
	}
	how, body = f.get(t, "/with/me/", "X-User", "5")
	if _, data := embedded(t, body); how != "dynamic" || string(data["me"]) != `{"me_id":"5"}` {
		t.Errorf("signed-in GET /with/me/ = %s, me %s", how, data["me"])
	}
	// Requested first by a signed-in caller: rendered ahead of them (and
	// stored for anonymous callers), then for them.
	how, body = f.get(t, "/with/board,me/", "X-User", "6")
	if _, data := embedded(t, body); how != "dynamic" || string(data["me"]) != `{"me_id":"6"}` {
		t.Errorf("first GET /with/board,me/, signed in = %s, me %s", how, data["me"])
	}
	if how, _ := f.get(t, "/with/board,me/"); how != "psr-hit" {
		t.Errorf("anonymous GET /with/board,me/ after it = %s", how)
	}
	if how, _ := f.get(t, "/", "X-User", "5"); how != "psr-hit" {
		t.Errorf("signed-in GET / = %s, want the pre-rendered page (it reads only Shared contexts)", how)
	}
}
