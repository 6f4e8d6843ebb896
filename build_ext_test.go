package mizan_test

import (
	"context"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mizan-afi/mizan"
)

func TestBuildReportsMisuse(t *testing.T) {
	nop := func(context.Context, struct{}) (int, error) { return 0, nil }
	view := func(context.Context, struct{}) (http.Handler, error) { return nil, nil }
	type listArgs struct {
		IDs []int `json:"ids"`
	}
	type strID struct {
		UserID string `json:"user_id"`
	}
	cases := []struct {
		name     string
		register func(app *mizan.App)
		want     string
	}{
		{"context and affects", func(app *mizan.App) {
			mizan.Query(app, nop, mizan.Name("a"), mizan.In("c"))
			mizan.View(app, view, mizan.Name("v"), mizan.In("c"), mizan.Affects("c"), mizan.Route("/v/"))
		}, "context and affects on one function"},
		{"query with affects", func(app *mizan.App) {
			mizan.Query(app, nop, mizan.Name("a"), mizan.In("c"))
			mizan.Query(app, nop, mizan.Name("b"), mizan.Affects("c"))
		}, "a read cannot declare affects"},
		{"mutation in a context", func(app *mizan.App) {
			mizan.Mutation(app, nop, mizan.Name("m"), mizan.In("c"))
		}, "cannot belong to context"},
		{"affects unknown context", func(app *mizan.App) {
			mizan.Mutation(app, nop, mizan.Name("m"), mizan.Affects("ghost"))
		}, `affects context "ghost"`},
		{"affects unknown function", func(app *mizan.App) {
			mizan.Mutation(app, nop, mizan.Name("m"), mizan.AffectsFunction("ghost_fn"))
		}, `"ghost_fn", which names no registered function`},
		{"affects a mutation", func(app *mizan.App) {
			mizan.Mutation(app, nop, mizan.Name("x"))
			mizan.Mutation(app, nop, mizan.Name("m"), mizan.AffectsFunction("x"))
		}, "not a context function"},
		{"duplicate name", func(app *mizan.App) {
			mizan.Mutation(app, nop, mizan.Name("m"))
			mizan.Query(app, nop, mizan.Name("m"))
		}, "registered twice"},
		{"anonymous without name", func(app *mizan.App) {
			mizan.Mutation(app, nop)
		}, "anonymous function"},
		{"list argument in a context", func(app *mizan.App) {
			mizan.Query(app, func(context.Context, listArgs) (int, error) { return 0, nil }, mizan.Name("q"), mizan.In("c"))
		}, `argument "ids"`},
		{"argument not a struct", func(app *mizan.App) {
			mizan.Query(app, func(context.Context, int) (int, error) { return 0, nil }, mizan.Name("q"))
		}, "arguments must be a struct"},
		{"param types disagree", func(app *mizan.App) {
			mizan.Query(app, func(context.Context, profileArgs) (int, error) { return 0, nil }, mizan.Name("a"), mizan.In("c"))
			mizan.Query(app, func(context.Context, strID) (int, error) { return 0, nil }, mizan.Name("b"), mizan.In("c"))
		}, `parameter "user_id"`},
		{"route on a query", func(app *mizan.App) {
			mizan.Query(app, nop, mizan.Name("q"), mizan.Route("/x/"))
		}, "Route and Methods are for views"},
		{"view without route", func(app *mizan.App) {
			mizan.View(app, view, mizan.Name("v"))
		}, "a view needs a Route"},
		{"same route and method twice", func(app *mizan.App) {
			mizan.View(app, view, mizan.Name("v1"), mizan.Route("/p/{id}/"))
			mizan.View(app, view, mizan.Name("v2"), mizan.Route("/p/{id}/"))
		}, "is already served by"},
		{"conflicting patterns", func(app *mizan.App) {
			mizan.View(app, view, mizan.Name("v1"), mizan.Route("/p/{id}/"))
			mizan.View(app, view, mizan.Name("v2"), mizan.Route("/p/{name}/"))
		}, "route"},
		{"route under the prefix", func(app *mizan.App) {
			mizan.View(app, view, mizan.Name("v"), mizan.Route("/api/mizan/mine/"))
		}, "under the endpoint prefix"},
		{"bad name", func(app *mizan.App) {
			mizan.Query(app, nop, mizan.Name("has space"))
		}, "must be made of letters"},
		{"bad context name", func(app *mizan.App) {
			mizan.Query(app, nop, mizan.Name("q"), mizan.In("a b"))
		}, "context name"},
		{"zero cache TTL", func(app *mizan.App) {
			mizan.Query(app, nop, mizan.Name("q"), mizan.Cache(0))
		}, "positive TTL"},
		{"bad form role", func(app *mizan.App) {
			mizan.Mutation(app, nop, mizan.Name("q"), mizan.FormPart("contact", "send"))
		}, "Form role"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			app := mizan.New(mizan.Config{Logger: slog.New(slog.DiscardHandler)})
			c.register(app)
			err := app.Build()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Build() = %v, want an error containing %q", err, c.want)
			}
			// A broken app never serves: every request is an internal error, not a panic.
			w := newRecorder()
			app.ServeHTTP(w, mustRequest("GET", "/api/mizan/session/"))
			if w.code != 500 {
				t.Errorf("broken app served %d", w.code)
			}
		})
	}
	app := mizan.New(mizan.Config{Prefix: "api"})
	mizan.Query(app, nop, mizan.Name("q"))
	if err := app.Build(); err == nil || !strings.Contains(err.Error(), "prefix") {
		t.Errorf("bad prefix accepted: %v", err)
	}
}

func TestMetadataIsReadable(t *testing.T) {
	app := mizan.New(mizan.Config{})
	mizan.Query(app, func(context.Context, profileArgs) (profile, error) { return profile{}, nil },
		mizan.Name("user_profile"), mizan.In(User), mizan.Rev(3), mizan.Cache(time.Minute), mizan.RequireAuth())
	mizan.Mutation(app, func(context.Context, updateArgs) (ok, error) { return ok{}, nil },
		mizan.Name("update_profile"), mizan.Affects(User), mizan.AffectsFunction("user_profile"), mizan.WebSocket(),
		mizan.RequireStaff(), mizan.FormPart("profile", mizan.FormSubmit))
	mizan.View(app, func(context.Context, struct{}) (http.Handler, error) { return nil, nil },
		mizan.Name("hook"), mizan.Private(), mizan.Affects(User), mizan.Route("/hook/"), mizan.NoCache())
	metas, err := app.Functions()
	if err != nil {
		t.Fatal(err)
	}
	if len(metas) != 3 || metas[0].Name != "hook" || metas[2].Name != "user_profile" {
		t.Fatalf("functions %+v", metas)
	}
	hook, upd, prof := metas[0], metas[1], metas[2]
	if !hook.Private || !hook.ViewPath || hook.Route != "/hook/" || !reflect.DeepEqual(hook.Methods, []string{"POST"}) ||
		hook.Kind != mizan.KindMutation || !hook.Cache.Off {
		t.Errorf("hook meta %+v", hook)
	}
	wantAffects := []mizan.Affect{
		{Context: "user", ScopedBy: []string{"user_id"}},
		{Context: "user", Function: "user_profile", ScopedBy: []string{"user_id"}},
	}
	if !reflect.DeepEqual(upd.Affects, wantAffects) || !upd.WebSocket || upd.Auth != "staff" ||
		upd.Form != (mizan.FormInfo{Name: "profile", Role: mizan.FormSubmit}) || upd.Kind != mizan.KindMutation {
		t.Errorf("update meta %+v", upd)
	}
	if prof.Context != "user" || prof.Rev != 3 || prof.Cache.TTL != time.Minute || prof.Auth != "required" ||
		len(prof.Params) != 1 || prof.Params[0].Name != "user_id" || prof.Result != reflect.TypeFor[profile]() {
		t.Errorf("profile meta %+v", prof)
	}
	if f, ok := app.Lookup("user_profile"); !ok || f.Meta().Name != "user_profile" {
		t.Errorf("Lookup failed")
	}
}

// recorder is a minimal ResponseWriter for tests that need no httptest server.
type miniRecorder struct {
	code int
	h    http.Header
	body strings.Builder
}

func newRecorder() *miniRecorder { return &miniRecorder{h: http.Header{}} }

func (r *miniRecorder) Header() http.Header { return r.h }
func (r *miniRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}
func (r *miniRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = 200
	}
	return r.body.Write(b)
}

func mustRequest(method, target string) *http.Request {
	r, err := http.NewRequest(method, "http://example.test"+target, nil)
	if err != nil {
		panic(err)
	}
	return r
}
