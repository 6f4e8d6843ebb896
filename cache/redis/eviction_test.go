//go:build unix

package redis

import (
	"fmt"
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
// which makes the cache bypass. With two caches (two servers of one app)
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
				gensEvicted := countEvictedGens(t, srv.URL())
				backends := make([]cache.Backend, caches)
				for i := range backends {
					b, err := New(Options{URL: srv.URL(), ReadTimeout: time.Second, WriteTimeout: time.Second})
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { _ = b.Close() })
					backends[i] = b
				}
				res, err := cachetest.Stress(t.Context(), backends, cachetest.StressOptions{Duration: d, ValueSize: 512, Timeout: time.Second})
				if err != nil {
					t.Fatal(err)
				}
				evicted := info(t, srv.Addr, "stats", "evicted_keys")
				time.Sleep(50 * time.Millisecond) // the last notifications
				gens := gensEvicted.Load()
				t.Logf("%s, %d cache(s): stale %d of %d reads (%d hits, %d misses, %d bypasses), %d mutations; %d keys evicted, %d of them generations; %d backend errors (%d purges)",
					policy, caches, res.Stale, res.Reads, res.Hits, res.Misses, res.Bypasses, res.Mutations, evicted, gens, res.BackendErrors, res.PurgeErrors)
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
				case strings.HasPrefix(policy, "volatile-") && gens != 0:
					t.Errorf("%s: %d generations, which have no expiry, were evicted", policy, gens)
				}
			})
		}
	}
}

// countEvictedGens subscribes to the server's eviction notifications and
// counts the evicted generation keys until the test ends.
func countEvictedGens(t *testing.T, url string) *atomic.Int64 {
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
	var n atomic.Int64
	ch := sub.Channel(goredis.WithChannelSize(10000))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := range ch {
			if strings.HasPrefix(m.Payload, DefaultPrefix+"gen:") {
				n.Add(1)
			}
		}
	}()
	t.Cleanup(func() {
		_ = sub.Close()
		<-done
	})
	return &n
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
