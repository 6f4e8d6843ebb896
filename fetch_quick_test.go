package mizan

import (
	"context"
	"net/url"
	"slices"
	"testing"

	"github.com/mizan-afi/mizan/cache"
)

type quickArgs struct {
	UserID int    `json:"user_id"`
	Page   uint   `json:"page,omitempty"`
	Status string `json:"status,omitempty"`
	Mine   bool   `json:"mine,omitempty"`
}

// quickPlan is the context plan of a context with integer, unsigned,
// string and boolean parameters.
func quickPlan(tb testing.TB) *contextPlan {
	app := New(Config{})
	Query(app, func(context.Context, quickArgs) (int, error) { return 0, nil }, Name("q"), In("qc"))
	if err := app.Build(); err != nil {
		tb.Fatal(err)
	}
	return app.plan.contexts["qc"]
}

// FuzzQuickParams checks the cache hit path's query reading against the
// whole path's: whenever quickParams takes a query, url.ParseQuery takes it
// too and instanceParams names the same instance.
func FuzzQuickParams(f *testing.F) {
	for _, q := range []string{"user_id=1", "user_id=01&page=+2", "status=a%20b&user_id=-0", "user_id=1&user_id=2",
		"mine=true&status=x+y&user_id=18446744073709551615", "user_id=1;x", "user_id=%zz", "&&user_id=3&", "page=007&user_id=-05"} {
		f.Add(q)
	}
	cp := quickPlan(f)
	f.Fuzz(func(t *testing.T, raw string) {
		var dst [8]cache.Param
		got, ok := cp.quickParams(raw, dst[:0])
		if !ok {
			return
		}
		q, err := url.ParseQuery(raw)
		if err != nil {
			t.Fatalf("quickParams took %q, which url.ParseQuery refuses: %v", raw, err)
		}
		for k, vs := range q {
			if len(vs) > 1 {
				t.Fatalf("quickParams took %q, which repeats %q", raw, k)
			}
		}
		if want := instanceParams(cp, q); !slices.Equal(got, want) {
			t.Fatalf("quickParams(%q) = %v, instanceParams = %v", raw, got, want)
		}
	})
}
