package mizan_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/protocol"
)

// The scoping model of docs/spec.md §3 revision 2: filters, explicit scope,
// run-time scope, caller scope, and the one emission step.

const (
	Books mizan.Context = "books"
	Book  mizan.Context = "book"
)

type bookListArgs struct {
	ShelfID int    `json:"shelf_id"`
	Status  string `json:"status,omitempty" mizan:"filter"`
}

type bookArgs struct {
	BookID int `json:"book_id"`
}

type setStatusArgs struct {
	BookID int    `json:"book_id"`
	Status string `json:"status"`
}

type moveArgs struct {
	BookID int `json:"book_id"`
	To     int `json:"to"`
}

type renameArgs struct {
	BookID int    `json:"book_id"`
	Title  string `json:"title" validate:"required"`
}

type nameOnly struct {
	Name string `json:"name"`
}

// scopeApp is an app of books on shelves with every scoping option.
type scopeApp struct {
	app *mizan.App
	rec *recorder
	srv *httptest.Server
	log *bytes.Buffer
}

func newScopeApp(t *testing.T) *scopeApp {
	t.Helper()
	var logs bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logs}, nil))
	app := mizan.New(mizan.Config{Authenticator: mizan.AuthenticatorFunc(testAuth), Logger: logger})
	list := func(context.Context, bookListArgs) ([]int, error) { return []int{}, nil }
	one := func(context.Context, bookArgs) (int, error) { return 1, nil }
	me := func(context.Context, struct{}) (string, error) { return "me", nil }
	mizan.Query(app, list, mizan.Name("book_list"), mizan.In(Books))
	info := mizan.Query(app, one, mizan.Name("book_info"), mizan.In(Book))
	mizan.Query(app, me, mizan.Name("whoami"), mizan.In(mizan.Global))
	// set_status: status is a filter of books, so it does not scope.
	mizan.Mutation(app, func(context.Context, setStatusArgs) (ok, error) { return ok{true}, nil },
		mizan.Name("set_status"), mizan.Affects(Books, Book))
	// delete_book: scoped at run time by the shelf it looked up.
	mizan.Mutation(app, func(ctx context.Context, in bookArgs) (ok, error) {
		mizan.ScopeTo(ctx, Books, mizan.Params{"shelf_id": in.BookID * 10})
		return ok{true}, nil
	}, mizan.Name("delete_book"), mizan.Affects(Books))
	// move_book: two shelves, from a goroutine.
	mizan.Mutation(app, func(ctx context.Context, in moveArgs) (ok, error) {
		var wg sync.WaitGroup
		wg.Go(func() { mizan.ScopeTo(ctx, Books, mizan.Params{"shelf_id": in.To}) })
		wg.Wait()
		mizan.ScopeTo(ctx, Books, mizan.Params{"shelf_id": 1})
		return ok{true}, nil
	}, mizan.Name("move_book"), mizan.Affects(Books))
	// rename_book: explicit empty scope.
	mizan.Mutation(app, func(context.Context, renameArgs) (ok, error) { return ok{true}, nil },
		mizan.Name("rename_book"), mizan.Affects(Book), mizan.ScopeBy())
	// touch_book: explicit scope by one name; a function-level run-time scope.
	mizan.Mutation(app, func(ctx context.Context, in setStatusArgs) (ok, error) {
		mizan.ScopeFunctionTo(ctx, info, mizan.Params{"book_id": 99})
		return ok{true}, nil
	}, mizan.Name("touch_book"), mizan.Affects(Books), mizan.AffectsFunction("book_info"), mizan.ScopeBy("book_id"))
	// bad_scope: a ScopeTo naming an undeclared context.
	mizan.Mutation(app, func(ctx context.Context, in bookArgs) (ok, error) {
		mizan.ScopeTo(ctx, mizan.Global, nil)
		return ok{true}, nil
	}, mizan.Name("bad_scope"), mizan.Affects(Books, Book))
	// bad_param: a ScopeTo with a parameter the context lacks.
	mizan.Mutation(app, func(ctx context.Context, in bookArgs) (ok, error) {
		mizan.ScopeTo(ctx, Books, mizan.Params{"colour": "red"})
		return ok{true}, nil
	}, mizan.Name("bad_param"), mizan.Affects(Books))
	// rename_me: caller-scoped global.
	mizan.Mutation(app, func(context.Context, nameOnly) (ok, error) { return ok{true}, nil },
		mizan.Name("rename_me"), mizan.CallerScoped(mizan.Global), mizan.WebSocket())
	// A view mutation and htmx.
	mizan.View(app, func(ctx context.Context, in setStatusArgs) (http.Handler, error) {
		mizan.ResponseHeader(ctx).Set("HX-Trigger", "saved")
		return mizan.HTML(http.StatusOK, "<p>ok</p>"), nil
	}, mizan.Name("set_status_view"), mizan.Affects(Books, Book), mizan.Route("/books/{book_id}/status/"))
	rec := &recorder{}
	app.OnInvalidate(rec)
	if err := app.Build(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)
	return &scopeApp{app: app, rec: rec, srv: srv, log: &logs}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// post calls fn through call/ and returns the status, the body's
// "invalidate" (or error) and the response header.
func (s *scopeApp) post(t *testing.T, fn string, args any, headers ...string) (int, string, http.Header) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"fn": fn, "args": args})
	req, _ := http.NewRequest(http.MethodPost, s.srv.URL+"/api/mizan/call/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Invalidate json.RawMessage `json:"invalidate"`
		Error      json.RawMessage `json:"error"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if out.Error != nil {
		return res.StatusCode, string(out.Error), res.Header
	}
	return res.StatusCode, string(out.Invalidate), res.Header
}

func TestScopingTiers(t *testing.T) {
	s := newScopeApp(t)
	cases := []struct {
		fn, args, body, header string
	}{
		// The filter status does not scope books; book_id scopes book.
		{"set_status", `{"book_id":7,"status":"read"}`, `["books",{"context":"book","params":{"book_id":7}}]`, "books, book;book_id=7"},
		// Run-time scope replaces tier 1.
		{"delete_book", `{"book_id":3}`, `[{"context":"books","params":{"shelf_id":30}}]`, "books;shelf_id=30"},
		// Several run-time scopes for one context: several targets.
		{"move_book", `{"book_id":3,"to":4}`, `[{"context":"books","params":{"shelf_id":4}},{"context":"books","params":{"shelf_id":1}}]`, "books;shelf_id=4, books;shelf_id=1"},
		// Explicit empty scope: broad, though book_id is book's parameter.
		{"rename_book", `{"book_id":3,"title":"x"}`, `["book"]`, "book"},
		// ScopeBy("book_id") and a function-level run-time scope.
		{"touch_book", `{"book_id":3,"status":"x"}`, `["books",{"context":"book","function":"book_info","params":{"book_id":99}}]`, "books, book;book_id=99"},
	}
	for _, c := range cases {
		t.Run(c.fn, func(t *testing.T) {
			var args any
			_ = json.Unmarshal([]byte(c.args), &args)
			status, body, h := s.post(t, c.fn, args)
			if status != 200 {
				t.Fatalf("%d %s", status, body)
			}
			if !jsonSame(body, c.body) {
				t.Errorf("body targets %s, want %s", body, c.body)
			}
			if got := h.Get("X-Mizan-Invalidate"); got != c.header {
				t.Errorf("header %q, want %q", got, c.header)
			}
			// The consumer received exactly what the body says, normalized.
			inv := s.rec.last()
			if inv.Source != c.fn {
				t.Fatalf("consumer source %q", inv.Source)
			}
			got, _ := protocol.AppendTargets(nil, inv.Targets)
			if !jsonSame(string(got), c.body) {
				t.Errorf("consumer targets %s, want %s", got, c.body)
			}
			if len(inv.Normal) != len(inv.Targets) {
				t.Fatalf("%d normal targets for %d", len(inv.Normal), len(inv.Targets))
			}
			for i, n := range inv.Normal {
				want, err := protocol.Normalize(inv.Targets[i])
				if err != nil || n.String() != want.String() {
					t.Errorf("normal %d = %s, want %s (%v)", i, n, want, err)
				}
			}
		})
	}
}

func TestRunTimeScopeMistakesAreInternalAndBroad(t *testing.T) {
	s := newScopeApp(t)
	for _, c := range []struct{ fn, broad, log string }{
		{"bad_scope", `["books","book"]`, `ScopeTo names context \"global\", which the function does not declare`},
		{"bad_param", `["books"]`, `the parameter \"colour\", which it does not have`},
	} {
		status, body, h := s.post(t, c.fn, map[string]any{"book_id": 1})
		if status != 500 || !strings.Contains(body, `"internal"`) {
			t.Errorf("%s: %d %s, want 500 internal", c.fn, status, body)
		}
		if h.Get("X-Mizan-Invalidate") != "" {
			t.Errorf("%s: an error response carries %q", c.fn, h.Get("X-Mizan-Invalidate"))
		}
		inv := s.rec.last()
		got, _ := protocol.AppendTargets(nil, inv.Targets)
		if inv.Source != c.fn || !jsonSame(string(got), c.broad) {
			t.Errorf("%s: consumers got %s from %q, want the declared targets broad %s", c.fn, got, inv.Source, c.broad)
		}
		if !strings.Contains(s.log.String(), c.log) || !strings.Contains(s.log.String(), "fn="+c.fn) {
			t.Errorf("%s: log does not name the mistake:\n%s", c.fn, s.log.String())
		}
	}
}

func TestCallerScopedIsNarrowedForConsumersOnly(t *testing.T) {
	s := newScopeApp(t)
	status, body, h := s.post(t, "rename_me", map[string]any{"name": "x"}, "X-Test-User", "5")
	if status != 200 || body != `["global"]` || h.Get("X-Mizan-Invalidate") != "global" {
		t.Fatalf("rename_me: %d %s %q", status, body, h.Get("X-Mizan-Invalidate"))
	}
	inv := s.rec.last()
	if !inv.Narrowed(0) || inv.Caller == nil || inv.Caller.ID != "5" {
		t.Errorf("rename_me by 5: Narrowed(0) = %v, caller %+v", inv.Narrowed(0), inv.Caller)
	}
	s.post(t, "rename_me", map[string]any{"name": "x"})
	if inv := s.rec.last(); inv.Narrowed(0) {
		t.Errorf("rename_me by an anonymous caller is narrowed")
	}
	s.post(t, "set_status", map[string]any{"book_id": 1, "status": "x"})
	if inv := s.rec.last(); inv.Narrowed(0) || inv.Narrowed(1) {
		t.Errorf("set_status is narrowed")
	}
	m, _ := s.app.Lookup("rename_me")
	if a := m.Meta().Affects; len(a) != 1 || a[0].Context != "global" || !a[0].CallerScoped {
		t.Errorf("rename_me affects %+v", a)
	}
}

func TestViewMutationAndHTMX(t *testing.T) {
	s := newScopeApp(t)
	req, _ := http.NewRequest(http.MethodPost, s.srv.URL+"/books/7/status/", strings.NewReader("status=read"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("HX-Request", "true")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("X-Mizan-Invalidate") != "books, book;book_id=7" {
		t.Fatalf("view: %d %q", res.StatusCode, res.Header.Get("X-Mizan-Invalidate"))
	}
	if !jsonSame(res.Header.Get("HX-Trigger"), `{"saved":null,"mizan:invalidate":{"targets":["books",{"context":"book","params":{"book_id":7}}]}}`) {
		t.Errorf("HX-Trigger %s", res.Header.Get("HX-Trigger"))
	}
	if inv := s.rec.last(); inv.Source != "set_status_view" || len(inv.Normal) != 2 {
		t.Errorf("view consumers got %+v", inv)
	}
	// call/ with HX-Request: true carries HX-Trigger too; without, not.
	_, _, h := s.post(t, "delete_book", map[string]any{"book_id": 2}, "HX-Request", "true")
	if !jsonSame(h.Get("HX-Trigger"), `{"mizan:invalidate":{"targets":[{"context":"books","params":{"shelf_id":20}}]}}`) {
		t.Errorf("call/ HX-Trigger %q", h.Get("HX-Trigger"))
	}
	if _, _, h := s.post(t, "delete_book", map[string]any{"book_id": 2}); h.Get("HX-Trigger") != "" {
		t.Errorf("HX-Trigger without HX-Request: %q", h.Get("HX-Trigger"))
	}
}

func TestAppCallAndInvalidateUseTheEmissionStep(t *testing.T) {
	s := newScopeApp(t)
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	res, err := s.app.Call(context.Background(), mizan.CallRequest{Fn: "delete_book", Args: json.RawMessage(`{"book_id":4}`), Request: req})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := protocol.AppendTargets(nil, res.Invalidate)
	if string(got) != `[{"context":"books","params":{"shelf_id":40}}]` {
		t.Errorf("App.Call targets %s", got)
	}
	if inv := s.rec.last(); inv.Source != "delete_book" || inv.Normal[0].String() != "books;shelf_id=40" {
		t.Errorf("App.Call consumers: %+v", inv)
	}
	if err := s.app.Invalidate(context.Background(), mizan.Target{Context: "books", Params: map[string]any{"shelf_id": int64(2)}}); err != nil {
		t.Fatal(err)
	}
	if inv := s.rec.last(); inv.Source != "" || inv.Normal[0].String() != "books;shelf_id=2" {
		t.Errorf("App.Invalidate consumers: %+v", inv)
	}
	before := len(s.rec.got)
	if err := s.app.Invalidate(context.Background(), mizan.Target{Context: "books", Params: map[string]any{"x": 1.5}}); err == nil {
		t.Error("App.Invalidate accepted a fractional value")
	}
	if err := s.app.Invalidate(context.Background(), mizan.Target{Context: "no such"}); err == nil {
		t.Error("App.Invalidate accepted an invalid name")
	}
	if len(s.rec.got) != before {
		t.Error("a refused App.Invalidate reached the consumers")
	}
}

func TestScopeBuildErrors(t *testing.T) {
	list := func(context.Context, bookListArgs) (int, error) { return 0, nil }
	mut := func(context.Context, setStatusArgs) (ok, error) { return ok{true}, nil }
	shared := func(context.Context, struct{}) (int, error) { return 0, nil }
	cases := []struct {
		name string
		reg  func(app *mizan.App)
		want string
	}{
		{"ScopeBy names no argument", func(app *mizan.App) {
			mizan.Mutation(app, mut, mizan.Name("m"), mizan.Affects(Books), mizan.ScopeBy("shelf"))
		}, `ScopeBy names "shelf", which is not one of its arguments`},
		{"ScopeBy names no parameter", func(app *mizan.App) {
			mizan.Mutation(app, mut, mizan.Name("m"), mizan.Affects(Books), mizan.ScopeBy("book_id"))
		}, `ScopeBy names "book_id", but no context it affects has a parameter "book_id"`},
		{"CallerScoped on a shared context", func(app *mizan.App) {
			mizan.Query(app, shared, mizan.Name("catalog"), mizan.In("catalog"), mizan.Shared())
			mizan.Mutation(app, mut, mizan.Name("m"), mizan.CallerScoped("catalog"))
		}, `context "catalog" is Shared, so it cannot be caller-scoped`},
		{"CallerScoped on an unknown context", func(app *mizan.App) {
			mizan.Mutation(app, mut, mizan.Name("m"), mizan.CallerScoped("nowhere"))
		}, `affects context "nowhere", which no registered function belongs to`},
		{"filter on a mutation", func(app *mizan.App) {
			mizan.Mutation(app, func(context.Context, bookListArgs) (ok, error) { return ok{true}, nil }, mizan.Name("m"), mizan.Affects(Books))
		}, `argument "status" is tagged mizan:"filter", which only a context function's parameter can be`},
		{"unknown mizan tag", func(app *mizan.App) {
			type bad struct {
				X int `json:"x" mizan:"filtre"`
			}
			mizan.Query(app, func(context.Context, bad) (int, error) { return 0, nil }, mizan.Name("q"), mizan.In("q"))
		}, `unknown mizan tag option "filtre"`},
		{"ScopeBy on a read", func(app *mizan.App) {
			mizan.Query(app, list, mizan.Name("q"), mizan.In(Books), mizan.ScopeBy())
		}, "ScopeBy is for mutations"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			app := mizan.New(mizan.Config{})
			mizan.Query(app, list, mizan.Name("book_list"), mizan.In(Books))
			c.reg(app)
			err := app.Build()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Build() = %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func TestFilterAndScopeInMeta(t *testing.T) {
	s := newScopeApp(t)
	f, _ := s.app.Lookup("book_list")
	if p := f.Meta().Params; len(p) != 2 || p[1].Name != "status" || !p[1].Filter || p[0].Filter {
		t.Errorf("book_list params %+v", p)
	}
	m, _ := s.app.Lookup("set_status")
	a := m.Meta().Affects
	if len(a) != 2 || len(a[0].ScopedBy) != 0 || strings.Join(a[1].ScopedBy, ",") != "book_id" {
		t.Errorf("set_status affects %+v", a)
	}
	r, _ := s.app.Lookup("rename_book")
	if rm := r.Meta(); !rm.HasScope || len(rm.Scope) != 0 || len(rm.Affects[0].ScopedBy) != 0 {
		t.Errorf("rename_book meta scope %v %v %+v", rm.HasScope, rm.Scope, rm.Affects)
	}
}

// jsonSame reports whether two JSON texts encode the same value.
func jsonSame(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}
