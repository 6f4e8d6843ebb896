package conformance_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mizan-afi/mizan/cache"
	"github.com/redis/go-redis/v9"
)

// TestAttackLostGeneration: a generation key that disappears (deleted,
// evicted by Redis) never revives an entry stored before it: the lookup
// is a miss with fresh data (docs/cache.md, "A missing generation"). It
// once did: a missing generation read as zero, the value entries stored
// before an instance's first purge carried, so deleting the generations
// after update_profile served the old name again.
func TestAttackLostGeneration(t *testing.T) {
	p, r := cachedFixture(t)
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	// dropGenerations deletes every generation key, as an eviction or an
	// operator could, and returns how many there were.
	dropGenerations := func() int {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var keys []string
		iter := rdb.Scan(ctx, 0, "mizan:gen:*", 1000).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Fatalf("SCAN mizan:gen:*: %v", err)
		}
		if len(keys) > 0 {
			if err := rdb.Del(ctx, keys...).Err(); err != nil {
				t.Fatalf("DEL %q: %v", keys, err)
			}
		}
		return len(keys)
	}
	const path = "user/?user_id=3"
	want := func(step, status, name string) {
		t.Helper()
		got, body := fetchAt(t, p.url, path)
		if got != status || !strings.Contains(body, `"name":"`+name+`"`) {
			t.Fatalf("%s: %q %s, want %q with the name %q", step, got, body, status, name)
		}
	}

	want("the first fetch", "miss", "Lin")
	want("the second fetch", "hit", "Lin")
	callAt(t, p.url, "", "update_profile", map[string]any{"user_id": 3, "name": "Lin Lost"})
	if n := dropGenerations(); n == 0 {
		t.Fatal("no mizan:gen:* key in Redis: the fixture's cache is not where docs/cache.md says")
	}
	want("after update_profile and the generations lost", "miss", "Lin Lost")
	want("the fetch after that", "hit", "Lin Lost")

	// Once more with the newer entry cached when its generations go: the
	// lookup misses again rather than trusting what it cannot check, and
	// serves no older name.
	callAt(t, p.url, "", "update_profile", map[string]any{"user_id": 3, "name": "Lin Found"})
	want("after the second update_profile", "miss", "Lin Found")
	want("the fetch after that", "hit", "Lin Found")
	dropGenerations()
	want("the generations lost again", "miss", "Lin Found")
	want("and cached again", "hit", "Lin Found")
}

// cacheFill is what one client's flood of distinct instances left in the
// origin cache's Redis.
type cacheFill struct {
	policy          string
	requests        int
	statuses        map[string]int // X-Mizan-Cache of the flood's answers
	keys, ctx, gens int64          // DBSIZE, mizan:ctx:* (entries), mizan:gen:*
	memory          string         // Redis's used_memory_human
	elapsed         time.Duration
	seconds         int64    // the wall-clock seconds the flood and probe spanned
	probe           []string // X-Mizan-Cache of the last instance, three times
}

// fillCache starts a fixture process with the origin cache in a Redis of
// its own under the admission policy (MIZAN_CACHE_ADMISSION), requests n
// distinct valid instances of context orders from one client (pages
// 1..n of user 1's open orders: every page is valid, past the last one
// empty), the last one alone and then twice more, and counts the keys.
func fillCache(t *testing.T, policy string, n int) cacheFill {
	t.Helper()
	p, r := cachedFixture(t, "MIZAN_CACHE_ADMISSION="+policy)
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr})
	t.Cleanup(func() { _ = rdb.Close() })

	const workers = 4
	tr := &http.Transport{MaxIdleConnsPerHost: workers}
	t.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr, Timeout: attackWait}
	get := func(page int) (string, error) {
		res, err := hc.Get(fmt.Sprintf("%s%sctx/orders/?user_id=1&status=open&page=%d", p.url, prefix, page))
		if err != nil {
			return "", err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil || res.StatusCode != http.StatusOK || !strings.Contains(string(b), fmt.Sprintf(`"page":%d`, page)) {
			return "", fmt.Errorf("page %d: %d %s (%v)", page, res.StatusCode, short(string(b)), err)
		}
		return res.Header.Get("X-Mizan-Cache"), nil
	}

	f := cacheFill{policy: policy, requests: n, statuses: map[string]int{}}
	start := time.Now()
	// Page 1 alone, which creates the generations every page shares (the
	// context's, user_id=1's, status=open's: concurrent first lookups
	// would race to create them, and the losers' misses are not stored);
	// then pages 2..n-1 from workers at once; then page n alone, so that
	// between its first request and the next no other miss reaches the
	// doorkeeper.
	st, err := get(1)
	if err != nil {
		t.Fatalf("%s: %v", policy, err)
	}
	f.statuses[st]++
	var mu sync.Mutex
	var failed error
	pages := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for page := range pages {
				st, err := get(page)
				mu.Lock()
				if err != nil && failed == nil {
					failed = err
				}
				f.statuses[st]++
				mu.Unlock()
			}
		})
	}
	for page := 2; page < n; page++ {
		pages <- page
	}
	close(pages)
	wg.Wait()
	if failed != nil {
		t.Fatalf("%s: %v", policy, failed)
	}
	for range 3 {
		st, err := get(n)
		if err != nil {
			t.Fatalf("%s: %v", policy, err)
		}
		f.probe = append(f.probe, st)
	}
	f.statuses[f.probe[0]]++
	f.elapsed = time.Since(start)
	// The first-miss budget is per wall-clock second (cache/admission.go):
	// count the seconds the flood touched.
	f.seconds = time.Now().Unix() - start.Unix() + 1

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if f.keys, err = rdb.DBSize(ctx).Result(); err != nil {
		t.Fatalf("DBSIZE: %v", err)
	}
	count := func(pattern string) int64 {
		var n int64
		iter := rdb.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			n++
		}
		if err := iter.Err(); err != nil {
			t.Fatalf("SCAN %s: %v", pattern, err)
		}
		return n
	}
	f.ctx, f.gens = count("mizan:ctx:*"), count("mizan:gen:*")
	if info, err := rdb.Info(ctx, "memory").Result(); err == nil {
		for _, line := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory_human:"); ok {
				f.memory = v
			}
		}
	}
	t.Logf("admission %s: %d requests of distinct instances in %v (%.0f/s, %d wall-clock seconds): X-Mizan-Cache %v; "+
		"Redis holds %d keys (%d entries, %d generations; used_memory %s); the last instance, three times: %v",
		policy, n, f.elapsed.Round(time.Millisecond), float64(n)/f.elapsed.Seconds(), f.seconds, f.statuses,
		f.keys, f.ctx, f.gens, f.memory, f.probe)
	if f.statuses["bypass"] > 0 {
		t.Errorf("%s: %d answers bypassed the cache (its Redis marked down): the figures measure nothing\nstderr:\n%s",
			policy, f.statuses["bypass"], p.stderr.String())
	}
	// Asked twice more, the last instance is stored (a second request:
	// the doorkeeper remembers it, whatever the budget) and then a hit.
	if f.probe[0] != "miss" || f.probe[2] != "hit" {
		t.Errorf("%s: the last instance, three times: %v, want a miss first and a hit last", policy, f.probe)
	}
	return f
}

// TestAttackCacheFill: one client asking for ever new valid instances of
// a context once stored one entry per request (140,760 in 10 s, each for
// 24 h). Under the default admission policy (auto) the cache stores first
// misses only within a budget per context of cache.DefaultFirstMissRate a
// second, so 3,000 distinct instances leave far fewer entries than
// requests, while an instance asked for again is still a hit; under
// MIZAN_CACHE_ADMISSION=always, as before admission existed, every one of
// them is stored (which shows that the first bound is admission's doing).
func TestAttackCacheFill(t *testing.T) {
	t.Parallel()
	const n = 3000
	auto := fillCache(t, "auto", n)
	always := fillCache(t, "always", n)

	// At most the budget per second the flood spanned, and the last
	// instance's second miss (admitted outside the budget).
	// Each instance stored holds an entry and a generation of its own
	// (page is a scoping parameter), and every page shares three more.
	bound := int64(cache.DefaultFirstMissRate)*auto.seconds + 1
	if auto.ctx > bound || auto.keys > 2*bound+3 {
		t.Errorf("auto: %d entries, %d keys after %d requests over %d seconds, want at most %d and %d (%d first misses a second)",
			auto.ctx, auto.keys, n, auto.seconds, bound, 2*bound+3, cache.DefaultFirstMissRate)
	}
	if auto.keys >= n/2 {
		t.Errorf("auto: Redis holds %d keys after %d distinct requests, want far fewer (under %d)", auto.keys, n, n/2)
	}
	if always.ctx < n || always.keys < n {
		t.Errorf("always: %d entries, %d keys after %d distinct requests, want every instance stored (at least %d)",
			always.ctx, always.keys, n, n)
	}
	t.Logf("keys held after %d distinct requests: auto %d (%d entries, bound %d), always %d (%d entries): %.1f times fewer",
		n, auto.keys, auto.ctx, bound, always.keys, always.ctx, float64(always.keys)/float64(max(auto.keys, 1)))
}
