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

	"github.com/mizan-afi/mizan/manifest"
)

type mfArgs struct {
	UserID  int    `json:"user_id"`
	OwnerID int    `json:"owner_id"`
	Slug    string `json:"slug"`
}

// newManifestApp registers the cases the fixture's golden file does not
// cover: a shared context, a private context function, a context of views
// only, function-level and multi-context affects, a private mutation
// without a route, and a prefix of its own.
func newManifestApp(t *testing.T, reversed bool) *App {
	t.Helper()
	app := New(Config{Prefix: "/rpc/"})
	type slug struct {
		Slug string `json:"slug"`
	}
	regs := []func(){
		func() {
			Query(app, func(context.Context, slug) (int, error) { return 0, nil }, Name("page_body"), In("page"), Shared(), Rev(3))
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
    "docs": {
      "functions": [
        {"name": "doc_page", "path": "view", "route": "/docs/{slug}/"},
        {"name": "doc_print", "path": "view", "route": "/docs/{slug}/print/"}
      ],
      "endpoints": [],
      "params": ["slug"],
      "user_scoped": false,
      "render_strategy": "psr",
      "page_routes": ["/docs/{slug}/", "/docs/{slug}/print/"],
      "shared": false,
      "rev": 0
    },
    "page": {
      "functions": [
        {"name": "page_body", "path": "rpc"},
        {"name": "page_meta", "path": "rpc"}
      ],
      "endpoints": ["/rpc/ctx/page/"],
      "params": ["owner_id", "slug"],
      "user_scoped": true,
      "render_strategy": "dynamic_cached",
      "page_routes": [],
      "shared": true,
      "rev": 3
    }
  },
  "mutations": {
    "edit": {"affects": ["docs", "page"], "auto_scoped_params": ["owner_id", "slug"]},
    "nightly": {"affects": ["docs"], "auto_scoped_params": [], "private": true}
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
