package mizan_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/cache"
)

type fetchArgs struct {
	UserID int `json:"user_id"`
}

type fetchRename struct {
	UserID int    `json:"user_id"`
	Name   string `json:"name"`
}

// fetchApp is an app whose "member" context counts its runs and says who
// asked, with an origin cache when cached.
type fetchApp struct {
	app  *mizan.App
	runs atomic.Int64
	name atomic.Value
	// viewGot is what the view's Fetch returned.
	viewGot []byte
}

func newFetchApp(t *testing.T, cached bool) *fetchApp {
	t.Helper()
	fa := &fetchApp{}
	fa.name.Store("Ada")
	cfg := mizan.Config{Logger: slog.New(slog.DiscardHandler),
		Authenticator: mizan.AuthenticatorFunc(func(r *http.Request) (*mizan.Identity, error) {
			if id := r.Header.Get("X-Who"); id != "" {
				return &mizan.Identity{ID: id, Bearer: true}, nil
			}
			return nil, nil
		})}
	if cached {
		c, err := cache.New(cache.Options{Backend: cache.NewMemory(cache.MemoryOptions{}), Secret: []byte(strings.Repeat("k", 32)), Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		cfg.Cache = c
	}
	fa.app = mizan.New(cfg)
	mizan.Query(fa.app, func(ctx context.Context, in fetchArgs) (map[string]any, error) {
		fa.runs.Add(1)
		viewer := ""
		if id := mizan.Caller(ctx); id != nil {
			viewer = id.ID
		}
		return map[string]any{"id": in.UserID, "name": fa.name.Load(), "viewer": viewer}, nil
	}, mizan.In("member"), mizan.Name("member_info"))
	mizan.Mutation(fa.app, func(_ context.Context, in fetchRename) (bool, error) {
		fa.name.Store(in.Name)
		return true, nil
	}, mizan.Affects("member"), mizan.Name("rename_member"))
	mizan.Query(fa.app, func(context.Context, struct{}) (int, error) { return 42, nil },
		mizan.In("vault"), mizan.Name("vault_total"), mizan.RequireAuth())
	mizan.View(fa.app, func(ctx context.Context, in fetchArgs) (http.Handler, error) {
		b, err := fa.app.Fetch(ctx, "member", map[string]string{"user_id": "1"})
		if err != nil {
			return nil, err
		}
		fa.viewGot = b
		return mizan.HTML(http.StatusOK, "ok"), nil
	}, mizan.Route("/members/{user_id}/"), mizan.Name("member_page"))
	if err := fa.app.Build(); err != nil {
		t.Fatal(err)
	}
	return fa
}

func (fa *fetchApp) get(path string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	fa.app.ServeHTTP(w, req)
	return w
}

func TestFetchSharesTheEndpointsCache(t *testing.T) {
	fa := newFetchApp(t, true)
	ctx := context.Background()
	b, err := fa.app.Fetch(ctx, "member", map[string]string{"user_id": "01"})
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if want := `{"member_info":{"id":1,"name":"Ada","viewer":""}}`; string(b) != want {
		t.Errorf("Fetch = %s, want %s", b, want)
	}
	if _, err := fa.app.Fetch(ctx, "member", map[string]string{"user_id": "1"}); err != nil || fa.runs.Load() != 1 {
		t.Errorf("second Fetch ran the function again (%d runs, %v)", fa.runs.Load(), err)
	}
	w := fa.get("/api/mizan/ctx/member/?user_id=1")
	if w.Header().Get(mizan.HeaderCache) != "hit" || w.Body.String() != string(b) {
		t.Errorf("GET ctx/member/ = %s %s, want a hit with the same bundle", w.Header().Get(mizan.HeaderCache), w.Body)
	}

	// A mutation purges the entry; the next Fetch sees it.
	req := httptest.NewRequest(http.MethodPost, "/api/mizan/call/", strings.NewReader(`{"fn":"rename_member","args":{"user_id":1,"name":"Grace"}}`))
	req.Header.Set("Content-Type", "application/json")
	rw := httptest.NewRecorder()
	fa.app.ServeHTTP(rw, req)
	if rw.Code != http.StatusOK {
		t.Fatalf("rename: %d %s", rw.Code, rw.Body)
	}
	b, err = fa.app.Fetch(ctx, "member", map[string]string{"user_id": "1"})
	if err != nil || !strings.Contains(string(b), "Grace") || fa.runs.Load() != 2 {
		t.Errorf("Fetch after the mutation = %s, %v (%d runs)", b, err, fa.runs.Load())
	}
}

func TestFetchAsTheViewsCaller(t *testing.T) {
	fa := newFetchApp(t, true)
	if w := fa.get("/members/1/", "X-Who", "7"); w.Code != http.StatusOK {
		t.Fatalf("GET /members/1/ = %d %s", w.Code, w.Body)
	}
	if want := `{"member_info":{"id":1,"name":"Ada","viewer":"7"}}`; string(fa.viewGot) != want {
		t.Errorf("Fetch inside the view = %s, want %s (the view's caller)", fa.viewGot, want)
	}
	// The caller's own entry: an anonymous Fetch does not see it.
	b, err := fa.app.Fetch(context.Background(), "member", map[string]string{"user_id": "1"})
	if err != nil || strings.Contains(string(b), `"viewer":"7"`) || fa.runs.Load() != 2 {
		t.Errorf("anonymous Fetch = %s, %v (%d runs), want its own entry", b, err, fa.runs.Load())
	}
}

func TestFetchErrors(t *testing.T) {
	fa := newFetchApp(t, false)
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		params map[string]string
		code   mizan.Code
	}{
		{"nowhere", nil, mizan.CodeNotFound},
		{"member", map[string]string{"user_id": "x"}, mizan.CodeInvalidArgs},
		{"member", nil, mizan.CodeInvalidArgs},
		{"member", map[string]string{"user_id": "1", "extra": "2"}, mizan.CodeInvalidArgs},
		{"vault", nil, mizan.CodeUnauthorized},
	} {
		_, err := fa.app.Fetch(ctx, c.name, c.params)
		var me *mizan.Error
		if !errors.As(err, &me) || me.Code() != c.code {
			t.Errorf("Fetch(%s, %v): err = %v, want %s", c.name, c.params, err, c.code)
		}
	}
	// Without a cache, every Fetch runs the functions.
	for range 2 {
		if _, err := fa.app.Fetch(ctx, "member", map[string]string{"user_id": "1"}); err != nil {
			t.Fatal(err)
		}
	}
	if n := fa.runs.Load(); n != 2 {
		t.Errorf("%d runs without a cache, want 2", n)
	}
}

func TestContextsMeta(t *testing.T) {
	app := mizan.New(mizan.Config{Logger: slog.New(slog.DiscardHandler)})
	type boardArgs struct {
		BoardID int     `json:"board_id"`
		Filter  *string `json:"filter,omitempty"`
	}
	type ownerArgs struct {
		OwnerID int64 `json:"owner_id"`
	}
	mizan.Query(app, func(context.Context, boardArgs) (int, error) { return 0, nil }, mizan.In("board"), mizan.Name("board_tasks"), mizan.Shared(), mizan.Shared(), mizan.Rev(2), mizan.Cache(time.Minute))
	mizan.Query(app, func(context.Context, fetchArgs) (int, error) { return 0, nil }, mizan.In("board"), mizan.Name("board_info"), mizan.Shared())
	mizan.Query(app, func(context.Context, ownerArgs) (int, error) { return 0, nil }, mizan.In("inbox"), mizan.Name("inbox_items"), mizan.NoCache())
	mizan.Query(app, func(context.Context, struct{}) (int, error) { return 0, nil }, mizan.In("settings"), mizan.Name("settings_all"))
	mizan.View(app, func(context.Context, struct{}) (http.Handler, error) { return nil, nil }, mizan.In("settings"), mizan.Route("/settings/"), mizan.Name("settings_page"))
	metas, err := app.Contexts()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range metas {
		names = append(names, m.Name)
	}
	if !reflect.DeepEqual(names, []string{"board", "inbox", "settings"}) {
		t.Fatalf("contexts %v", names)
	}
	board := metas[0]
	if board.RenderStrategy != mizan.RenderDynamicCached || !board.UserScoped {
		t.Errorf("board takes user_id: %+v, want dynamic_cached", board)
	}
	if !reflect.DeepEqual(board.Functions, []string{"board_info", "board_tasks"}) || !board.Shared || !board.Cached || board.Rev != 2 || board.TTL != time.Minute {
		t.Errorf("board: %+v", board)
	}
	wantParams := []mizan.Param{
		{Name: "board_id", Type: reflect.TypeFor[int]()},
		{Name: "filter", Type: reflect.TypeFor[string](), Optional: true, Nullable: true},
		{Name: "user_id", Type: reflect.TypeFor[int]()},
	}
	if !reflect.DeepEqual(board.Params, wantParams) {
		t.Errorf("board params %+v, want %+v", board.Params, wantParams)
	}
	if m := metas[1]; m.RenderStrategy != mizan.RenderDynamicCached || m.Cached {
		t.Errorf("inbox takes owner_id and says NoCache: %+v", m)
	}
	if m, ok := app.ContextMeta("settings"); !ok || m.RenderStrategy != mizan.RenderPSR || m.UserScoped || !reflect.DeepEqual(m.Routes, []string{"/settings/"}) {
		t.Errorf("settings: %+v, %v; want psr with its page route", m, ok)
	}
	if _, ok := app.ContextMeta("nope"); ok {
		t.Error("ContextMeta of an unknown context reported one")
	}
	for name, want := range map[string]bool{"user_id": true, "user": true, "owner_id": true, "account_id": true, "users": false, "board_id": false} {
		if mizan.UserScopedParam(name) != want {
			t.Errorf("UserScopedParam(%q) = %v", name, !want)
		}
	}
}
