package manifest_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/mizan-afi/mizan/manifest"
)

func TestEncodeParseRoundTrip(t *testing.T) {
	m := &manifest.Manifest{
		Contexts: map[string]manifest.Context{
			"user": {Functions: []manifest.Function{{Name: "user_profile", Path: manifest.PathRPC}},
				Endpoints: []string{"/api/mizan/ctx/user/"}, Params: []string{"user_id"}, Filters: []string{}, UserScoped: true,
				RenderStrategy: manifest.DynamicCached, PageRoutes: []string{}},
			"tasks": {Functions: []manifest.Function{{Name: "task_list", Path: manifest.PathRPC}},
				Endpoints: []string{"/api/mizan/ctx/tasks/"}, Params: []string{"project_id", "state"}, Filters: []string{"state"},
				RenderStrategy: manifest.PSR, PageRoutes: []string{}},
		},
		Mutations: map[string]manifest.Mutation{
			"hook":      {Affects: []string{"user"}, AutoScopedParams: []string{}, CallerScoped: []string{}, Private: true, Route: "/hook/", Methods: []string{"POST"}},
			"rename_me": {Affects: []string{"global", "user"}, AutoScopedParams: []string{"user_id"}, CallerScoped: []string{"global"}},
		},
	}
	b, err := manifest.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(b), "}\n") || !strings.Contains(string(b), "\n  \"contexts\": {") {
		t.Errorf("not indented JSON ending in a newline: %s", b)
	}
	back, err := manifest.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := manifest.Encode(back)
	if string(again) != string(b) {
		t.Errorf("round trip changed the manifest:\n%s\n%s", b, again)
	}
	if !reflect.DeepEqual(back, m) {
		t.Errorf("round trip changed the model:\n got %+v\nwant %+v", back, m)
	}
	for _, member := range []string{
		`"filters": [
        "state"
      ]`,
		`"filters": []`,
		`"caller_scoped": [
        "global"
      ]`,
		`"caller_scoped": []`,
	} {
		if !strings.Contains(string(b), member) {
			t.Errorf("the encoding lacks %s:\n%s", member, b)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	cases := map[string]string{
		"not JSON":                   `nope`,
		"no mutations":               `{"contexts": {}}`,
		"unknown member":             `{"contexts": {}, "mutations": {}, "extra": 1}`,
		"trailing":                   `{"contexts": {}, "mutations": {}} {}`,
		"bad path":                   `{"contexts": {"c": {"functions": [{"name": "f", "path": "ws"}], "render_strategy": "psr"}}, "mutations": {}}`,
		"bad strategy":               `{"contexts": {"c": {"render_strategy": "ssr"}}, "mutations": {}}`,
		"wrong type":                 `{"contexts": [], "mutations": {}}`,
		"unknown in item":            `{"contexts": {}, "mutations": {"m": {"affects": [], "ttl": 3}}}`,
		"filter not a param":         `{"contexts": {"c": {"params": ["a"], "filters": ["b"], "render_strategy": "psr"}}, "mutations": {}}`,
		"filters not a list":         `{"contexts": {"c": {"filters": "a", "render_strategy": "psr"}}, "mutations": {}}`,
		"caller_scoped not affected": `{"contexts": {}, "mutations": {"m": {"affects": ["a"], "caller_scoped": ["b"]}}}`,
		"caller_scoped not a list":   `{"contexts": {}, "mutations": {"m": {"affects": ["a"], "caller_scoped": true}}}`,
	}
	for name, src := range cases {
		if _, err := manifest.Parse([]byte(src)); err == nil {
			t.Errorf("%s: accepted %s", name, src)
		}
	}
	if _, err := manifest.Parse([]byte(`{"contexts": {}, "mutations": {}}`)); err != nil {
		t.Errorf("an empty manifest: %v", err)
	}
	ok := `{"contexts": {"c": {"params": ["a", "b"], "filters": ["b"], "render_strategy": "psr"}},
		"mutations": {"m": {"affects": ["c"], "auto_scoped_params": ["a"], "caller_scoped": ["c"]}}}`
	if _, err := manifest.Parse([]byte(ok)); err != nil {
		t.Errorf("filters and caller_scoped: %v", err)
	}
}

// TestParseFillsAbsentLists reads a manifest that predates filters and
// caller_scoped (and leaves other lists out): they read as empty and encode
// as [], never null.
func TestParseFillsAbsentLists(t *testing.T) {
	m, err := manifest.Parse([]byte(`{"contexts": {"c": {"params": ["a"], "render_strategy": "psr"}},
		"mutations": {"m": {"affects": ["c"], "auto_scoped_params": null}}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := &manifest.Manifest{
		Contexts: map[string]manifest.Context{"c": {Functions: []manifest.Function{}, Endpoints: []string{},
			Params: []string{"a"}, Filters: []string{}, RenderStrategy: manifest.PSR, PageRoutes: []string{}}},
		Mutations: map[string]manifest.Mutation{"m": {Affects: []string{"c"}, AutoScopedParams: []string{}, CallerScoped: []string{}}},
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("parsed %+v, want %+v", m, want)
	}
	b, _ := manifest.Encode(m)
	if strings.Contains(string(b), "null") {
		t.Errorf("encoded with null:\n%s", b)
	}
}

func TestUserScopedParams(t *testing.T) {
	for _, p := range []string{"user_id", "user", "owner_id", "account_id"} {
		if !manifest.IsUserScopedParam(p) {
			t.Errorf("%s is not user scoped", p)
		}
	}
	for _, p := range []string{"board_id", "userid", "", "users"} {
		if manifest.IsUserScopedParam(p) {
			t.Errorf("%q is user scoped", p)
		}
	}
}
