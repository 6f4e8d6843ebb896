package mizan_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"unicode/utf8"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/cache"
	"github.com/mizan-afi/mizan/protocol"
)

// purgeArgs are the parameters of the fuzzed context: a required integer,
// an optional string and an optional filter.
type purgeArgs struct {
	A int    `json:"a"`
	B string `json:"b,omitempty"`
	F string `json:"f,omitempty" mizan:"filter"`
}

// FuzzPurgeAgreesWithMatch is the differential check of the origin cache's
// purge against the one matching rule (docs/spec.md §3): after a target is
// emitted, an instance the target matches is never a hit, and one it does
// not match whose required parameter differs from the target's is still a
// hit (the purge is narrow where it can be).
func FuzzPurgeAgreesWithMatch(f *testing.F) {
	f.Add(uint8(1), uint8(0b001), "x", "y", uint8(0b011), uint8(1), "x", "z")
	f.Add(uint8(2), uint8(0b111), "", "y", uint8(0b100), uint8(2), "x", "y")
	f.Add(uint8(0), uint8(0b001), "", "", uint8(0), uint8(0), "", "")
	f.Add(uint8(3), uint8(0b011), "y", "", uint8(0b010), uint8(3), "x", "")
	f.Fuzz(func(t *testing.T, ia, imask uint8, ib, ifv string, tmask, ta uint8, tb, tf string) {
		for _, s := range []string{ib, ifv, tb, tf} {
			if !utf8.ValidString(s) {
				t.Skip("param values are UTF-8 (keys refuse others)")
			}
		}
		// A fresh cache each time: a whole-context purge deletes the old
		// entries in the background, which would race the next run.
		c, err := cache.New(cache.Options{Backend: cache.NewMemory(cache.MemoryOptions{}),
			Secret: []byte("fuzz-secret-fuzz-secret-fuzz-secret!"), Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		app := mizan.New(mizan.Config{Cache: c, Logger: slog.New(slog.DiscardHandler)})
		mizan.Query(app, func(context.Context, purgeArgs) (int, error) { return 1, nil }, mizan.Name("items"), mizan.In("fz"))
		if err := app.Build(); err != nil {
			t.Fatal(err)
		}
		// The instance: a always (required), b and f when their bits say.
		q := url.Values{"a": {itoa(int(ia % 4))}}
		inst := protocol.Instance{Context: "fz", Params: []protocol.Param{{Name: "a", Value: itoa(int(ia % 4))}}}
		if imask&2 != 0 {
			q.Set("b", ib)
			inst.Params = append(inst.Params, protocol.Param{Name: "b", Value: ib})
		}
		if imask&4 != 0 {
			q.Set("f", ifv)
			inst.Params = append(inst.Params, protocol.Param{Name: "f", Value: ifv})
		}
		protocol.SortParams(inst.Params)
		target := mizan.Target{Context: "fz", Params: map[string]any{}}
		if tmask&1 != 0 {
			target.Params["a"] = int(ta % 4)
		}
		if tmask&2 != 0 {
			target.Params["b"] = tb
		}
		if tmask&4 != 0 {
			target.Params["f"] = tf
		}
		if tmask&8 != 0 {
			target.Params["unknown"] = "u"
		}
		path := "/api/mizan/ctx/fz/?" + q.Encode()
		fetch := func() string {
			w := httptest.NewRecorder()
			app.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
			if w.Code != http.StatusOK {
				t.Fatalf("GET %s: %d %s", path, w.Code, w.Body)
			}
			return w.Header().Get(mizan.HeaderCache)
		}
		fetch()
		if got := fetch(); got != "hit" {
			t.Fatalf("GET %s twice: %q, want hit", path, got)
		}
		if err := app.Invalidate(context.Background(), target); err != nil {
			t.Fatal(err)
		}
		n, err := protocol.Normalize(target)
		if err != nil {
			t.Fatal(err)
		}
		got := fetch()
		switch match := protocol.Match(n, inst); {
		case match && got != "miss":
			t.Fatalf("target %s matches %s, which is still %q", n, path, got)
		case !match && tmask&1 != 0 && int(ta%4) != int(ia%4) && got != "hit":
			t.Fatalf("target %s does not match %s (another a), which became %q", n, path, got)
		}
	})
}
