package mizan

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mizan-afi/mizan/manifest"
)

type mfArgs struct {
	UserID  int    `json:"user_id"`
	OwnerID int    `json:"owner_id"`
	Slug    string `json:"slug"`
}

type mfBoardArgs struct {
	BoardID int    `json:"board_id"`
	State   string `json:"state,omitempty" mizan:"filter"`
}

type mfMoveArgs struct {
	BoardID int    `json:"board_id"`
	State   string `json:"state"`
	Slug    string `json:"slug"`
}

// newManifestApp registers the cases the fixture's golden file does not
// cover: a shared context, a private context function, a context of views
// only, function-level and multi-context affects, a private mutation
// without a route, and a prefix of its own; and from revision 2 of
// docs/spec.md §3, filters (one declared by a private function only), an
// explicit scope, an explicit empty scope, and caller-scoped contexts (one
// also named by Affects, one also the context of a function-level target).
func newManifestApp(t *testing.T, reversed bool) *App {
	t.Helper()
	app := New(Config{Prefix: "/rpc/"})
	type slug struct {
		Slug string `json:"slug"`
	}
	regs := []func(){
		func() {
			Query(app, func(context.Context, slug) (int, error) { return 0, nil }, Name("page_body"), In("page"), Shared(), Rev(3), Cache(90*time.Second))
		},
		func() {
			Query(app, func(context.Context, slug) (int, error) { return 0, nil }, Name("page_meta"), In("page"), Shared())
		},
		func() {
			Query(app, func(context.Context, struct {
				OwnerID int `json:"owner_id"`
			}) (int, error) {
				return 0, nil
			}, Name("page_owner_audit"), In("page"), Private(), Shared())
		},
		func() {
			View(app, func(context.Context, slug) (http.Handler, error) { return nil, nil }, Name("doc_page"), In("docs"), Route("/docs/{slug}/"))
		},
		func() {
			View(app, func(context.Context, slug) (http.Handler, error) { return nil, nil }, Name("doc_print"), In("docs"), Route("/docs/{slug}/print/"))
		},
		func() {
			Mutation(app, func(context.Context, mfArgs) (int, error) { return 0, nil }, Name("edit"),
				Affects("page", "docs"), AffectsFunction("page_meta"))
		},
		func() {
			Mutation(app, func(context.Context, struct{}) (int, error) { return 0, nil }, Name("nightly"), Private(), Affects("docs"))
		},
		func() {
			Query(app, func(context.Context, mfBoardArgs) (int, error) { return 0, nil }, Name("board_tasks"), In("board"))
		},
		func() {
			Query(app, func(context.Context, struct {
				Q string `json:"q,omitempty" mizan:"filter"`
			}) (int, error) {
				return 0, nil
			}, Name("board_audit"), In("board"), Private())
		},
		func() {
			Query(app, func(context.Context, struct{}) (string, error) { return "", nil }, Name("my_name"), In("me"), NoCache(), RequireAuth())
		},
		func() {
			Mutation(app, func(context.Context, mfMoveArgs) (int, error) { return 0, nil }, Name("move_task"), Affects("board", "page"))
		},
		func() {
			Mutation(app, func(context.Context, mfMoveArgs) (int, error) { return 0, nil }, Name("rename_board"), Affects("board"), ScopeBy())
		},
		func() {
			Mutation(app, func(context.Context, mfMoveArgs) (int, error) { return 0, nil }, Name("retitle"),
				Affects("board", "page"), ScopeBy("slug"))
		},
		func() {
			Mutation(app, func(context.Context, struct {
				Nick string `json:"nick"`
			}) (int, error) {
				return 0, nil
			}, Name("set_nick"), CallerScoped("me", "board"), Affects("me", "docs"))
		},
		func() {
			// board_tasks is a function-level target of board, which the
			// header names as board: board is not caller-scoped.
			Mutation(app, func(context.Context, struct {
				Nick string `json:"nick"`
			}) (int, error) {
				return 0, nil
			}, Name("set_nick_everywhere"), CallerScoped("me", "board"), AffectsFunction("board_tasks"))
		},
	}
	if reversed {
		for i := len(regs) - 1; i >= 0; i-- {
			regs[i]()
		}
	} else {
		for _, r := range regs {
			r()
		}
	}
	if err := app.Build(); err != nil {
		t.Fatal(err)
	}
	return app
}

func TestManifestCases(t *testing.T) {
	m, err := newManifestApp(t, false).Manifest()
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "contexts": {
    "board": {
      "functions": [
        {"name": "board_tasks", "path": "rpc"}
      ],
      "endpoints": ["/rpc/ctx/board/"],
      "params": ["board_id", "q", "state"],
      "filters": ["q", "state"],
      "user_scoped": false,
      "render_strategy": "psr",
      "page_routes": [],
      "shared": false,
      "rev": 0,
      "cache_ttl": 0,
      "no_cache": false,
      "guard": ""
    },
    "docs": {
      "functions": [
        {"name": "doc_page", "path": "view", "route": "/docs/{slug}/"},
        {"name": "doc_print", "path": "view", "route": "/docs/{slug}/print/"}
      ],
      "endpoints": [],
      "params": ["slug"],
      "filters": [],
      "user_scoped": false,
      "render_strategy": "psr",
      "page_routes": ["/docs/{slug}/", "/docs/{slug}/print/"],
      "shared": false,
      "rev": 0,
      "cache_ttl": 0,
      "no_cache": false,
      "guard": ""
    },
    "page": {
      "functions": [
        {"name": "page_body", "path": "rpc"},
        {"name": "page_meta", "path": "rpc"}
      ],
      "endpoints": ["/rpc/ctx/page/"],
      "params": ["owner_id", "slug"],
      "filters": [],
      "user_scoped": true,
      "render_strategy": "dynamic_cached",
      "page_routes": [],
      "shared": true,
      "rev": 3,
      "cache_ttl": 90,
      "no_cache": false,
      "guard": ""
    },
    "me": {
      "functions": [
        {"name": "my_name", "path": "rpc"}
      ],
      "endpoints": ["/rpc/ctx/me/"],
      "params": [],
      "filters": [],
      "user_scoped": false,
      "render_strategy": "psr",
      "page_routes": [],
      "shared": false,
      "rev": 0,
      "cache_ttl": 0,
      "no_cache": true,
      "guard": "caller"
    }
  },
  "mutations": {
    "edit": {"affects": ["docs", "page"], "auto_scoped_params": ["owner_id", "slug"], "caller_scoped": []},
    "nightly": {"affects": ["docs"], "auto_scoped_params": [], "caller_scoped": [], "private": true},
    "move_task": {"affects": ["board", "page"], "auto_scoped_params": ["board_id", "slug"], "caller_scoped": []},
    "rename_board": {"affects": ["board"], "auto_scoped_params": [], "caller_scoped": []},
    "retitle": {"affects": ["board", "page"], "auto_scoped_params": ["slug"], "caller_scoped": []},
    "set_nick": {"affects": ["board", "docs", "me"], "auto_scoped_params": [], "caller_scoped": ["board", "me"]},
    "set_nick_everywhere": {"affects": ["board", "me"], "auto_scoped_params": [], "caller_scoped": ["me"]}
  }
}`
	var w, g any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	gotText, _ := json.Marshal(m)
	_ = json.Unmarshal(gotText, &g)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("manifest\n got %s\nwant %s", gotText, want)
	}
}

// TestContextMetaFilters checks the filters the manifest takes from
// ContextMeta: every function's tagged parameters, a private one's too.
func TestContextMetaFilters(t *testing.T) {
	app := newManifestApp(t, false)
	m, ok := app.ContextMeta("board")
	if !ok {
		t.Fatal("no context board")
	}
	if !reflect.DeepEqual(m.Filters, []string{"q", "state"}) {
		t.Errorf("filters %v", m.Filters)
	}
	for _, p := range m.Params {
		if p.Filter != (p.Name == "state") {
			t.Errorf("param %+v: only state, a fetched parameter, is a filter", p)
		}
	}
	if d, _ := app.ContextMeta("docs"); d.Filters != nil {
		t.Errorf("docs filters %v", d.Filters)
	}
}

func TestManifestIsDeterministic(t *testing.T) {
	var a, b bytes.Buffer
	if err := newManifestApp(t, false).WriteManifest(&a); err != nil {
		t.Fatal(err)
	}
	if err := newManifestApp(t, true).WriteManifest(&b); err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() {
		t.Errorf("registration order changed the manifest:\n%s\n%s", a.String(), b.String())
	}
	if _, err := manifest.Parse(a.Bytes()); err != nil {
		t.Errorf("the written manifest does not parse: %v", err)
	}
	broken := New(Config{})
	Mutation(broken, func(context.Context, struct{}) (int, error) { return 0, nil }, Name("m"), Affects("nowhere"))
	if _, err := broken.Manifest(); err == nil {
		t.Error("Manifest of an app that fails to build succeeded")
	}
}

func TestWriteManifestFromEnv(t *testing.T) {
	app := newManifestApp(t, false)
	var stderr bytes.Buffer
	if code, done := app.writeManifestFromEnv("", &stderr); done || code != 0 {
		t.Errorf("unset: code %d, done %v", code, done)
	}
	path := filepath.Join(t.TempDir(), "manifest.json")
	if code, done := app.writeManifestFromEnv(path, &stderr); !done || code != 0 {
		t.Fatalf("set: code %d, done %v, stderr %q", code, done, stderr.String())
	}
	var want bytes.Buffer
	_ = app.WriteManifest(&want)
	if got, _ := os.ReadFile(path); !bytes.Equal(got, want.Bytes()) {
		t.Errorf("wrote %q", got)
	}
	bad := filepath.Join(t.TempDir(), "no", "such", "dir.json")
	if code, done := app.writeManifestFromEnv(bad, &stderr); !done || code != 1 || !strings.Contains(stderr.String(), "mizan: writing the manifest") {
		t.Errorf("unwritable: code %d, stderr %q", code, stderr.String())
	}
}

// TestManifestGuards: the strictest auth guard of a context's fetch
// functions, for an edge (docs/spec.md §13.8): a guard by who calls keys
// entries per caller, a predicate of the request keeps the edge out.
func TestManifestGuards(t *testing.T) {
	app := New(Config{})
	Query(app, func(context.Context, struct{}) (int, error) { return 0, nil }, Name("open"), In("open"), Shared())
	Query(app, func(context.Context, struct{}) (int, error) { return 0, nil }, Name("team"), In("team"), Shared(), RequireAuth())
	Query(app, func(context.Context, struct{}) (int, error) { return 0, nil }, Name("team_more"), In("team"), Shared())
	Query(app, func(context.Context, struct{}) (int, error) { return 0, nil }, Name("admin"), In("admin"), RequireStaff())
	Query(app, func(context.Context, struct{}) (int, error) { return 0, nil }, Name("office"), In("office"), RequireStaff())
	Query(app, func(context.Context, struct{}) (int, error) { return 0, nil }, Name("office_ip"), In("office"),
		RequireFunc(func(r *http.Request, _ *Identity) bool { return strings.HasPrefix(r.RemoteAddr, "10.") }))
	m, err := app.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	for ctx, want := range map[string]string{"open": "", "team": "caller", "admin": "caller", "office": "request"} {
		if got := m.Contexts[ctx].Guard; got != want {
			t.Errorf("context %s: guard %q, want %q", ctx, got, want)
		}
	}
}
