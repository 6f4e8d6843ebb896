package manifest_test

import (
	"strings"
	"testing"

	"github.com/mizan-afi/mizan/manifest"
)

func TestEncodeParseRoundTrip(t *testing.T) {
	m := &manifest.Manifest{
		Contexts: map[string]manifest.Context{
			"user": {Functions: []manifest.Function{{Name: "user_profile", Path: manifest.PathRPC}},
				Endpoints: []string{"/api/mizan/ctx/user/"}, Params: []string{"user_id"}, UserScoped: true,
				RenderStrategy: manifest.DynamicCached, PageRoutes: []string{}},
		},
		Mutations: map[string]manifest.Mutation{
			"hook": {Affects: []string{"user"}, AutoScopedParams: []string{}, Private: true, Route: "/hook/", Methods: []string{"POST"}},
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
}

func TestParseRefuses(t *testing.T) {
	cases := map[string]string{
		"not JSON":        `nope`,
		"no mutations":    `{"contexts": {}}`,
		"unknown member":  `{"contexts": {}, "mutations": {}, "extra": 1}`,
		"trailing":        `{"contexts": {}, "mutations": {}} {}`,
		"bad path":        `{"contexts": {"c": {"functions": [{"name": "f", "path": "ws"}], "render_strategy": "psr"}}, "mutations": {}}`,
		"bad strategy":    `{"contexts": {"c": {"render_strategy": "ssr"}}, "mutations": {}}`,
		"wrong type":      `{"contexts": [], "mutations": {}}`,
		"unknown in item": `{"contexts": {}, "mutations": {"m": {"affects": [], "ttl": 3}}}`,
	}
	for name, src := range cases {
		if _, err := manifest.Parse([]byte(src)); err == nil {
			t.Errorf("%s: accepted %s", name, src)
		}
	}
	if _, err := manifest.Parse([]byte(`{"contexts": {}, "mutations": {}}`)); err != nil {
		t.Errorf("an empty manifest: %v", err)
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
