//go:build unix

package redis

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/mizan-afi/mizan/cache"
	"github.com/mizan-afi/mizan/cache/cachetest"
	"github.com/mizan-afi/mizan/internal/redistest"
)

// policies are every maxmemory-policy Redis offers.
var policies = []string{
	"noeviction",
	"allkeys-lru", "allkeys-lfu", "allkeys-random",
	"volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
}

// TestEvictionPolicies runs the cache's stress workload (cachetest.Stress:
// mutations that change a value's source then purge, reads that store what
// they miss) against a redis-server whose maxmemory is about 1 MiB above
// what it uses empty, far less than the workload stores, under each
// eviction policy, and counts the reads that returned a value older than
// one whose purge had completed. It must be 0 whatever Redis evicts:
// entries, generations, or (noeviction) nothing, refusing writes instead,
// which makes the cache bypass. Under volatile-* Redis evicts the
// generations that expire (of a parameter's value, of a caller), never a
// context's, which has no expiry. With two caches (two servers of one app)
// purges made by one are read by the other; there, a purge that fails (a
// timeout) is owed by the cache that made it while the other keeps
// reading, the documented limit of owed purges, so stale reads are only
// counted as failures when no purge failed.
//
// Each policy runs for 2 × 1.5s (2 × 300ms with -short).
func TestEvictionPolicies(t *testing.T) {
	d := 1500 * time.Millisecond
	if testing.Short() {
		d = 300 * time.Millisecond
	}
	for _, policy := range policies {
		for _, caches := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/%d", policy, caches), func(t *testing.T) {
				srv := redistest.Start(t)
				used := info(t, srv.Addr, "memory", "used_memory")
				config(t, srv.Addr, "maxmemory", strconv.FormatInt(used+1<<20, 10))
				config(t, srv.Addr, "maxmemory-policy", policy)
				gensEvicted, ctxGensEvicted := countEvictedGens(t, srv.URL())
				// A slow machine (the race detector, a loaded CI) may not fill
				// the memory in d, or not enough for an allkeys-* policy to
				// evict a generation (stores extend generations, which makes
				// them hot for LFU): then another round runs, up to three,
				// each under a prefix of its own (a fresh keyspace, whose
				// sources start again at version 0), the earlier rounds' keys
				// kept.
				var res cachetest.StressResult
				var evicted int64
				for round := 1; ; round++ {
					prefix := DefaultPrefix
					if round > 1 {
						prefix = fmt.Sprintf("mizan-r%d:", round)
					}
					backends := make([]cache.Backend, caches)
					for i := range backends {
						b, err := New(Options{URL: srv.URL(), Prefix: prefix, ReadTimeout: time.Second, WriteTimeout: time.Second})
						if err != nil {
							t.Fatal(err)
						}
						t.Cleanup(func() { _ = b.Close() })
						backends[i] = b
					}
					r, err := cachetest.Stress(t.Context(), backends, cachetest.StressOptions{Duration: d, ValueSize: 512, Timeout: time.Second})
					if err != nil {
						t.Fatal(err)
					}
					addResult(&res, r)
					evicted = info(t, srv.Addr, "stats", "evicted_keys")
					time.Sleep(50 * time.Millisecond) // the last notifications
					var shown bool
					switch {
					case policy == "noeviction":
						shown = res.BackendErrors > 0
					case strings.HasPrefix(policy, "allkeys-"):
						shown = gensEvicted.Load() > 0
					default:
						shown = evicted > 0
					}
					if shown || round == 3 {
						break
					}
					t.Logf("round %d (%d reads, %d keys evicted, %d generations) did not fill the memory enough: another",
						round, res.Reads, evicted, gensEvicted.Load())
				}
				gens, ctxGens := gensEvicted.Load(), ctxGensEvicted.Load()
				t.Logf("%s, %d cache(s): stale %d of %d reads (%d hits, %d misses, %d bypasses), %d mutations; %d keys evicted, %d of them generations (%d of a context); %d backend errors (%d purges)",
					policy, caches, res.Stale, res.Reads, res.Hits, res.Misses, res.Bypasses, res.Mutations, evicted, gens, ctxGens, res.BackendErrors, res.PurgeErrors)
				if len(res.Errors) > 0 {
					t.Logf("errors: %q", res.Errors)
				}
				if res.Stale != 0 && (caches == 1 || res.PurgeErrors == 0) {
					t.Errorf("%s: %d reads returned a value older than one whose purge had completed", policy, res.Stale)
				}
				switch {
				case policy == "noeviction":
					if res.BackendErrors == 0 {
						t.Error("noeviction: no write was refused: the workload did not fill the memory")
					}
				case evicted == 0:
					t.Errorf("%s: nothing was evicted: the workload did not fill the memory", policy)
				case strings.HasPrefix(policy, "allkeys-") && gens == 0:
					t.Errorf("%s: no generation was evicted", policy)
				case strings.HasPrefix(policy, "volatile-") && ctxGens != 0:
					t.Errorf("%s: %d context generations, which have no expiry, were evicted", policy, ctxGens)
				}
			})
		}
	}
}

// countEvictedGens subscribes to the server's eviction notifications and
// counts the evicted generation keys, and those of them of a context, until
// the test ends.
func countEvictedGens(t *testing.T, url string) (gens, ctxGens *atomic.Int64) {
	t.Helper()
	opt, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := goredis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	if err := c.ConfigSet(t.Context(), "notify-keyspace-events", "Ee").Err(); err != nil {
		t.Fatal(err)
	}
	sub := c.Subscribe(t.Context(), "__keyevent@0__:evicted")
	if _, err := sub.Receive(t.Context()); err != nil { // the subscription's confirmation
		t.Fatal(err)
	}
	var n, nc atomic.Int64
	ch := sub.Channel(goredis.WithChannelSize(10000))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := range ch {
			_, key, _ := strings.Cut(m.Payload, ":") // after the prefix, mizan: or mizan-r<n>:
			if strings.HasPrefix(key, "gen:") {
				n.Add(1)
			}
			if strings.HasPrefix(key, "gen:c:") {
				nc.Add(1)
			}
		}
	}()
	t.Cleanup(func() {
		_ = sub.Close()
		<-done
	})
	return &n, &nc
}

func config(t *testing.T, addr, name, value string) {
	t.Helper()
	if _, err := redistest.Do(addr, "CONFIG", "SET", name, value); err != nil {
		t.Fatalf("CONFIG SET %s %s: %v", name, value, err)
	}
}

// info returns an integer field of a section of INFO.
func info(t *testing.T, addr, section, field string) int64 {
	t.Helper()
	s, err := redistest.Do(addr, "INFO", section)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(s, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("INFO %s: %s: %v", section, line, err)
			}
			return n
		}
	}
	t.Fatalf("INFO %s has no %s", section, field)
	return 0
}

// addResult adds r's counts to res.
func addResult(res *cachetest.StressResult, r cachetest.StressResult) {
	res.Reads += r.Reads
	res.Hits += r.Hits
	res.Misses += r.Misses
	res.Bypasses += r.Bypasses
	res.Stale += r.Stale
	res.Mutations += r.Mutations
	res.GensCreated += r.GensCreated
	res.GensRecreated += r.GensRecreated
	res.BackendErrors += r.BackendErrors
	res.PurgeErrors += r.PurgeErrors
	for _, e := range r.Errors {
		if len(res.Errors) < 5 && !slices.Contains(res.Errors, e) {
			res.Errors = append(res.Errors, e)
		}
	}
}
