package cache_test

import (
	"context"
	"log/slog"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/mizan-afi/mizan/cache"
)

// flood requests n distinct one-off instances of context "pages" from c
// (?page=1..n, a scoping parameter), storing each miss as the app does,
// and returns the seconds the flood spanned, rounded up, plus one.
func flood(t *testing.T, c *cache.Cache, n int) int {
	t.Helper()
	scopes := []string{"page"}
	start := time.Now()
	for i := range n {
		inst := cache.Instance{Context: "pages", Params: []cache.Param{{Name: "page", Value: strconv.Itoa(i + 1)}}, Scopes: scopes}
		if e := c.Get(context.Background(), inst); e.Status == cache.Miss {
			c.Put(context.Background(), e, []byte(`{"items":[],"page":1}`), 0)
		} else {
			t.Fatalf("one-off %d: %s, want miss", i+1, e.Status)
		}
	}
	return int(math.Ceil(time.Since(start).Seconds())) + 1
}

// TestOneOffFloodMemory is the regression test of one client filling the
// cache, over the memory backend: 20,000 distinct one-off instances leave
// every entry with AdmitAlways, at most the first-miss budget's with the
// default policy, and none with AdmitSecondRequest (counted with Len:
// entries and generations).
func TestOneOffFloodMemory(t *testing.T) {
	const n = 20_000
	for _, adm := range []cache.Admission{cache.AdmitAlways, cache.AdmitAuto, cache.AdmitSecondRequest} {
		t.Run(adm.String(), func(t *testing.T) {
			m := cache.NewMemory(cache.MemoryOptions{MaxEntries: 4 * n})
			c, err := cache.New(cache.Options{Backend: m, Secret: []byte(testSecret), Admission: adm, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			secs := flood(t, c, n)
			held := m.Len()
			t.Logf("%s: %d one-off requests leave %d keys (entries and generations)", adm, n, held)
			var want int
			switch adm {
			case cache.AdmitAlways:
				want = 2*n + 1 // an entry and a page generation each, the context's
				if held != want {
					t.Errorf("%d keys, want %d", held, want)
				}
			case cache.AdmitAuto:
				want = 2*cache.DefaultFirstMissRate*secs + 1
				if held > want {
					t.Errorf("%d keys, want at most %d", held, want)
				}
			case cache.AdmitSecondRequest:
				if held != 0 {
					t.Errorf("%d keys, want none", held)
				}
			}
		})
	}
}

// testSecret is the secret of this file's caches.
const testSecret = "admission-test-secret-0123456789"

func TestParseAdmission(t *testing.T) {
	for _, a := range []cache.Admission{cache.AdmitAuto, cache.AdmitAlways, cache.AdmitSecondRequest} {
		if got, err := cache.ParseAdmission(a.String()); err != nil || got != a {
			t.Errorf("ParseAdmission(%q) = %v, %v", a, got, err)
		}
	}
	if got, err := cache.ParseAdmission(""); err != nil || got != cache.AdmitAuto {
		t.Errorf(`ParseAdmission("") = %v, %v, want auto`, got, err)
	}
	if _, err := cache.ParseAdmission("sometimes"); err == nil {
		t.Error("ParseAdmission accepted an unknown name")
	}
	if _, err := cache.New(cache.Options{Backend: cache.NewMemory(cache.MemoryOptions{}), Secret: []byte(testSecret), Admission: 9}); err == nil {
		t.Error("New accepted an unknown admission")
	}
}
