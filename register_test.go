package mizan

import (
	"context"
	"strings"
	"testing"
)

func TestSnakeName(t *testing.T) {
	cases := map[string]string{
		"main.userProfile":                         "user_profile",
		"example.com/app/users.UpdateProfile":      "update_profile",
		"example.com/app.(*Service).UserOrders-fm": "user_orders",
		"app.getUserID":                            "get_user_id",
		"app.HTTPServerStatus":                     "http_server_status",
		"app.list[...]":                            "list",
		"app.v2Items":                              "v2_items",
		"main.main.func1":                          "",
		"app.init.func12":                          "",
		"app.already_snake":                        "already_snake",
	}
	for in, want := range cases {
		if got := snakeName(in); got != want {
			t.Errorf("snakeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func namedQuery(context.Context, struct{}) (int, error) { return 0, nil }

func TestNameDerivedFromFunction(t *testing.T) {
	app := New(Config{})
	f := Query(app, namedQuery)
	if f.Name() != "named_query" {
		t.Fatalf("name %q", f.Name())
	}
	if err := app.Build(); err != nil {
		t.Fatal(err)
	}
}

type scopedArgs struct {
	UserID int    `json:"user_id"`
	Page   *int   `json:"page"`
	Name   string `json:"name,omitempty"`
}

func TestTargetsSkipNilPointers(t *testing.T) {
	app := New(Config{})
	Query(app, func(context.Context, scopedArgs) (int, error) { return 0, nil }, Name("list"), In("items"))
	m := Mutation(app, func(context.Context, scopedArgs) (int, error) { return 0, nil }, Name("touch"), Affects("items"))
	if err := app.Build(); err != nil {
		t.Fatal(err)
	}
	page := 3
	got := targetsOf(t, m, &scopedArgs{UserID: 5, Page: &page}, allPresent)
	if len(got) != 1 || got[0].Params["user_id"] != int64(5) || got[0].Params["page"] != int64(3) || len(got[0].Params) != 3 {
		// name is a context param too (the empty string still scopes).
		t.Errorf("targets %+v", got)
	}
	got = targetsOf(t, m, &scopedArgs{UserID: 5}, allPresent)
	if _, ok := got[0].Params["page"]; ok {
		t.Errorf("nil pointer scoped the target: %+v", got)
	}
	// An optional argument the request did not give does not scope.
	got = targetsOf(t, m, &scopedArgs{UserID: 5}, 1) // only user_id (index 0) given
	if _, ok := got[0].Params["name"]; ok || got[0].Params["user_id"] != int64(5) {
		t.Errorf("absent optional argument scoped the target: %+v", got)
	}
	if !strings.Contains(strings.Join(m.Meta().Affects[0].ScopedBy, ","), "page,user_id") {
		t.Errorf("ScopedBy %v", m.Meta().Affects[0].ScopedBy)
	}
}

// targetsOf is f.targets without run-time scopes, failing on an error.
func targetsOf(t *testing.T, f *Func, in any, given presence) []Target {
	t.Helper()
	ts, err := f.targets(in, given, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}
