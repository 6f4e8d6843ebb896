package cachetest

import (
	"context"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mizan-afi/mizan/cache"
)

// writes records what a cache writes to a backend: the TTL of each entry
// stored (by key), the generations created with their TTL (zero: none),
// and the keys each store extended.
type writes struct {
	cache.Backend
	mu       sync.Mutex
	entries  map[string]time.Duration
	gens     map[string]time.Duration
	extended map[string][]string
}

func newWrites(b cache.Backend) *writes {
	return &writes{Backend: b, entries: map[string]time.Duration{}, gens: map[string]time.Duration{},
		extended: map[string][]string{}}
}

func (w *writes) Set(ctx context.Context, key string, value []byte, ttl time.Duration, extend ...string) error {
	w.mu.Lock()
	if strings.HasPrefix(key, "gen:") {
		w.gens[key] = ttl // a generation replaced
	} else {
		w.entries[key] = ttl
		w.extended[key] = slices.Clone(extend)
	}
	w.mu.Unlock()
	return w.Backend.Set(ctx, key, value, ttl, extend...)
}

func (w *writes) SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	ok, err := w.Backend.SetNX(ctx, key, value, ttl)
	if ok {
		w.mu.Lock()
		w.gens[key] = max(ttl, 0)
		w.mu.Unlock()
	}
	return ok, err
}

func (w *writes) SetPermanent(ctx context.Context, key string, value []byte) error {
	w.mu.Lock()
	w.gens[key] = 0
	w.mu.Unlock()
	return w.Backend.SetPermanent(ctx, key, value)
}

// genTTLs returns the TTLs the generations were last created with, sorted.
func (w *writes) genTTLs() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []time.Duration
	for _, ttl := range w.gens {
		out = append(out, ttl)
	}
	slices.Sort(out)
	return out
}

// counts returns how many entries and generations were written.
func (w *writes) counts() (entries, gens int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.entries), len(w.gens)
}

// ttlOf returns the TTL the entry of inst was last stored with, and
// whether it was stored.
func (w *writes) ttlOf(c *cache.Cache, inst cache.Instance) (time.Duration, bool) {
	key := c.Get(context.Background(), inst).Key()
	w.mu.Lock()
	defer w.mu.Unlock()
	ttl, ok := w.entries[key]
	return ttl, ok
}

// newAdmissionCache returns a cache with admission options o over b
// (through a writes recorder, which it returns), closed when t ends.
func newAdmissionCache(t *testing.T, b cache.Backend, o cache.Options) (*cache.Cache, *writes) {
	t.Helper()
	w := newWrites(b)
	o.Backend, o.Secret, o.Timeout = w, secret, time.Second
	o.ProbeInterval, o.Logger = 5*time.Millisecond, slog.New(slog.DiscardHandler)
	c, err := cache.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, w
}

// page is instance n of context "pages": what one client asking for
// ever new pages (?page=n, a scoping parameter) requests.
func page(n int) cache.Instance {
	return cache.Instance{Context: "pages", Params: []cache.Param{{Name: "page", Value: strconv.Itoa(n)}},
		Scopes: pageScopes}
}

var pageScopes = []string{"page"}

// request is one fetch of inst as the app does it: a lookup, and on a miss
// the value computed and put back. It returns the lookup's status.
func request(t *testing.T, c *cache.Cache, inst cache.Instance, ttl time.Duration) cache.Status {
	t.Helper()
	e := c.Get(ctxFor(t), inst)
	if e.Status == cache.Miss {
		c.Put(ctxFor(t), e, valueOf(inst), ttl)
	}
	return e.Status
}

// statuses requests inst n times and returns the statuses.
func statuses(t *testing.T, c *cache.Cache, inst cache.Instance, n int) []cache.Status {
	t.Helper()
	out := make([]cache.Status, n)
	for i := range out {
		out[i] = request(t, c, inst, time.Hour)
	}
	return out
}

func wantStatuses(t *testing.T, what string, got []cache.Status, want ...cache.Status) {
	t.Helper()
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%s: requests gave %v, want %v", what, got, want)
			return
		}
	}
}

// testAdmission checks each admission policy: which requests of an
// instance hit, what is stored and for how long. Admission never makes a
// lookup return another value: only more misses.
func testAdmission(t *testing.T, newBackend func(t *testing.T) cache.Backend) {
	t.Run("Auto", func(t *testing.T) {
		c, w := newAdmissionCache(t, newBackend(t), cache.Options{FirstMissTTL: 30 * time.Second})
		// Within the budget: the second request hits, the first miss is
		// stored for FirstMissTTL at most.
		wantStatuses(t, "a new instance", statuses(t, c, page(1), 3), cache.Miss, cache.Hit, cache.Hit)
		if ttl, ok := w.ttlOf(c, page(1)); !ok || ttl != 30*time.Second {
			t.Errorf("first miss stored for %v (stored %v), want FirstMissTTL 30s", ttl, ok)
		}
		// Its generation (of page=1) was created for FirstMissTTL too,
		// shorter than GenerationTTL; the context's without expiry.
		if got := w.genTTLs(); !slices.Equal(got, []time.Duration{0, 30 * time.Second}) {
			t.Errorf("a first miss created generations with TTLs %v, want [0s 30s]", got)
		}
		// Its next miss (after a purge) is remembered: the full TTL, and
		// its generation, created again, GenerationTTL.
		c.Purge(ctxFor(t), cache.Purge{Context: "pages", Param: cache.Param{Name: "page", Value: "1"}})
		wantStatuses(t, "after a purge", statuses(t, c, page(1), 2), cache.Miss, cache.Hit)
		if ttl, _ := w.ttlOf(c, page(1)); ttl != time.Hour {
			t.Errorf("second miss stored for %v, want the full TTL 1h", ttl)
		}
		if got := w.genTTLs(); !slices.Equal(got, []time.Duration{0, cache.DefaultGenerationTTL}) {
			t.Errorf("a remembered miss created generations with TTLs %v, want [0s %v]", got, cache.DefaultGenerationTTL)
		}
		// A TTL below FirstMissTTL is kept.
		request(t, c, page(2), time.Second)
		if ttl, _ := w.ttlOf(c, page(2)); ttl != time.Second {
			t.Errorf("first miss with TTL 1s stored for %v", ttl)
		}
	})
	t.Run("AutoBeyondBudget", func(t *testing.T) {
		// A budget of one first miss a second: requests of new instances
		// within one second store one; the others are stored at their
		// second miss, and hit from their third request on.
		var c *cache.Cache
		var w *writes
		for {
			start := time.Now()
			c, w = newAdmissionCache(t, newBackend(t), cache.Options{FirstMissRate: 1})
			for n := range 5 {
				request(t, c, page(n), time.Hour)
			}
			if time.Now().Unix() == start.Unix() {
				break // all five in one second (else retry)
			}
		}
		if entries, _ := w.counts(); entries != 1 {
			t.Fatalf("5 new instances in one second with FirstMissRate 1: %d entries stored, want 1", entries)
		}
		for n := 1; n < 5; n++ {
			wantStatuses(t, "a not admitted instance "+strconv.Itoa(n), statuses(t, c, page(n), 2), cache.Miss, cache.Hit)
		}
	})
	t.Run("SecondRequest", func(t *testing.T) {
		c, w := newAdmissionCache(t, newBackend(t), cache.Options{Admission: cache.AdmitSecondRequest})
		request(t, c, page(1), time.Hour)
		if entries, gens := w.counts(); entries != 0 || gens != 0 {
			t.Fatalf("a one-off instance: %d entries, %d generations written, want none", entries, gens)
		}
		wantStatuses(t, "a repeated instance", statuses(t, c, page(1), 3), cache.Miss, cache.Hit, cache.Hit)
		if ttl, _ := w.ttlOf(c, page(1)); ttl != time.Hour {
			t.Errorf("stored for %v, want the full TTL", ttl)
		}
		// (A purge by the parameter: a broad one's background cleanup could
		// delete the entry stored again right after it.)
		c.Purge(ctxFor(t), cache.Purge{Context: "pages", Param: cache.Param{Name: "page", Value: "1"}})
		wantStatuses(t, "remembered across a purge", statuses(t, c, page(1), 2), cache.Miss, cache.Hit)
	})
	t.Run("Always", func(t *testing.T) {
		c, w := newAdmissionCache(t, newBackend(t), cache.Options{Admission: cache.AdmitAlways, FirstMissRate: 1})
		for n := range 5 {
			wantStatuses(t, "any instance", statuses(t, c, page(n), 2), cache.Miss, cache.Hit)
		}
		if entries, _ := w.counts(); entries != 5 {
			t.Errorf("5 instances: %d entries, want 5", entries)
		}
		if ttl, _ := w.ttlOf(c, page(0)); ttl != time.Hour {
			t.Errorf("stored for %v, want the full TTL", ttl)
		}
	})
	t.Run("OneOffFlood", func(t *testing.T) { testOneOffFlood(t, newBackend(t)) })
	t.Run("RepeatTwiceFlood", func(t *testing.T) {
		testRepeatTwiceFlood(t, newBackend(t), -1)
		testRepeatTwiceFlood(t, newBackend(t), FloodCap)
	})
}

// FloodCap is the MaxEntriesPerContext of [testRepeatTwiceFlood].
const FloodCap = 1000

// testRepeatTwiceFlood is the regression test of one client filling the
// cache by asking for each new instance twice, which the doorkeeper
// admits: FloodRequests distinct instances of one context, each requested
// twice in a row, under the default admission with MaxEntriesPerContext
// max. With a cap (max > 0) at most max entries are stored for longer than
// FirstMissTTL, and the others within the first-miss budget (its rate for
// each second the flood spans); with none (max < 0) about every instance
// is stored for its full TTL. The instance requested all along meanwhile
// stays a hit.
func testRepeatTwiceFlood(t *testing.T, b cache.Backend, max int) {
	c, w := newAdmissionCache(t, b, cache.Options{MaxEntriesPerContext: max})
	hot := cache.Instance{Context: "pages", Scopes: pageScopes}
	request(t, c, hot, time.Hour)
	request(t, c, hot, time.Hour)
	start := time.Now()
	for n := range FloodRequests {
		request(t, c, page(n+1), 0)
		request(t, c, page(n+1), 0)
		if n%100 == 0 {
			if s := request(t, c, hot, time.Hour); s != cache.Hit {
				t.Fatalf("the hot instance during the flood: %s, want hit", s)
			}
		}
	}
	secs := int(math.Ceil(time.Since(start).Seconds())) + 1
	w.mu.Lock()
	defer w.mu.Unlock()
	long := 0
	for _, ttl := range w.entries {
		if ttl <= 0 || ttl > cache.DefaultFirstMissTTL {
			long++
		}
	}
	t.Logf("cap %d: %d instances asked for twice in %v: %d entries stored, %d for longer than FirstMissTTL",
		max, FloodRequests, time.Since(start).Round(time.Millisecond), len(w.entries), long)
	budget := cache.DefaultFirstMissRate * secs
	if max < 0 {
		if long < FloodRequests-budget {
			t.Errorf("no cap: %d entries stored for their TTL, want about %d", long, FloodRequests)
		}
		return
	}
	// The hot instance's entry is one of them.
	if long > max {
		t.Errorf("cap %d: %d entries stored for longer than FirstMissTTL", max, long)
	}
	if len(w.entries) > max+budget {
		t.Errorf("cap %d: %d entries stored, want at most the cap and the budget, %d", max, len(w.entries), max+budget)
	}
}

// FloodRequests is how many one-off instances [testOneOffFlood] requests.
const FloodRequests = 3000

// testOneOffFlood is the regression test of one client filling the cache:
// FloodRequests distinct one-off instances of one context, as fast as the
// backend answers, under the default admission leave at most the budget's
// entries (DefaultFirstMissRate for each second the flood spans), and
// about as many generations; the instance requested all along meanwhile
// stays a hit.
func testOneOffFlood(t *testing.T, b cache.Backend) {
	c, w := newAdmissionCache(t, b, cache.Options{})
	hot := cache.Instance{Context: "pages", Scopes: pageScopes} // no page: the first page
	request(t, c, hot, time.Hour)
	start := time.Now()
	for n := range FloodRequests {
		request(t, c, page(n+1), 0)
		if n%100 == 0 {
			if s := request(t, c, hot, time.Hour); s != cache.Hit {
				t.Fatalf("the hot instance during the flood: %s, want hit", s)
			}
		}
	}
	secs := int(math.Ceil(time.Since(start).Seconds())) + 1
	entries, gens := w.counts()
	bound := cache.DefaultFirstMissRate * secs
	t.Logf("%d one-off requests in %v: %d entries, %d generations written (bound %d)",
		FloodRequests, time.Since(start).Round(time.Millisecond), entries, gens, bound)
	if entries > bound+1 {
		t.Errorf("%d one-off requests: %d entries stored, want at most %d", FloodRequests, entries, bound+1)
	}
	// One page generation per stored one-off, the context's, and the hot
	// instance's (it lacks page).
	if gens > bound+2 {
		t.Errorf("%d one-off requests: %d generations created, want at most %d", FloodRequests, gens, bound+2)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, ttl := range w.entries {
		if ttl <= 0 || ttl > cache.DefaultFirstMissTTL {
			t.Errorf("a first miss stored for %v, want at most %v", ttl, cache.DefaultFirstMissTTL)
			break
		}
	}
}
