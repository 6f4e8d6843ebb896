package redis

import (
	"context"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/mizan-afi/mizan/cache"
)

// TestOneOffFlood is the regression test of one client filling the cache,
// over a real redis-server: 5,000 distinct one-off instances of one
// context (?page=n, a scoping parameter) leave an entry and a generation
// each with AdmitAlways, at most the first-miss budget's with the default
// policy, and nothing with AdmitSecondRequest, counted as the keys under
// the backend's prefix (KEYS).
func TestOneOffFlood(t *testing.T) {
	t.Parallel()
	const n = 5_000
	r := newRedis(t)
	raw := r.raw(t)
	for _, adm := range []cache.Admission{cache.AdmitAlways, cache.AdmitAuto, cache.AdmitSecondRequest} {
		t.Run(adm.String(), func(t *testing.T) {
			owned := r.backend(t, Options{})
			c, err := cache.New(cache.Options{Backend: NewFromClient(owned.Client(), owned.Prefix(), 0),
				Secret: []byte("redis-admission-secret-0123456789"), Admission: adm, Timeout: time.Second,
				Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			scopes := []string{"page"}
			start := time.Now()
			for i := range n {
				inst := cache.Instance{Context: "pages", Params: []cache.Param{{Name: "page", Value: strconv.Itoa(i + 1)}}, Scopes: scopes}
				e := c.Get(ctx(t), inst)
				if e.Status != cache.Miss {
					t.Fatalf("one-off %d: %s, want miss", i+1, e.Status)
				}
				c.Put(ctx(t), e, []byte(`{"items":[],"page":1}`), 0)
			}
			secs := int(math.Ceil(time.Since(start).Seconds())) + 1
			keys, err := raw.Keys(context.Background(), owned.Prefix()+"*").Result()
			if err != nil {
				t.Fatal(err)
			}
			held := len(keys)
			t.Logf("%s: %d one-off requests in %v leave %d keys", adm, n, time.Since(start).Round(time.Millisecond), held)
			switch adm {
			case cache.AdmitAlways:
				if want := 2*n + 1; held != want {
					t.Errorf("%d keys, want %d", held, want)
				}
			case cache.AdmitAuto:
				if want := 2*cache.DefaultFirstMissRate*secs + 1; held > want {
					t.Errorf("%d keys, want at most %d", held, want)
				}
				for _, k := range keys {
					if ttl := raw.TTL(context.Background(), k).Val(); ttl > cache.DefaultFirstMissTTL {
						t.Errorf("%s: TTL %v, want at most %v", k, ttl, cache.DefaultFirstMissTTL)
					}
				}
			case cache.AdmitSecondRequest:
				if held != 0 {
					t.Errorf("%d keys, want none", held)
				}
			}
		})
	}
}

// TestRepeatTwiceFlood is the regression test of one client filling the
// cache by asking for each new instance twice (which the doorkeeper
// admits), over a real redis-server: 20,000 distinct instances of one
// context, each requested twice, leave an entry and a generation each for
// the full TTL without a cap, and at most MaxEntriesPerContext entries
// living longer than FirstMissTTL with one. It logs the keys and bytes
// (MEMORY USAGE) held:
//
//	go test -run TestRepeatTwiceFlood -v ./cache/redis/
func TestRepeatTwiceFlood(t *testing.T) {
	// (Not in parallel: it loads the machine, which other tests time.)
	const n, max = 20_000, 5_000
	r := newRedis(t)
	raw := r.raw(t)
	for _, limit := range []int{-1, max} {
		t.Run(strconv.Itoa(limit), func(t *testing.T) {
			owned := r.backend(t, Options{})
			c, err := cache.New(cache.Options{Backend: NewFromClient(owned.Client(), owned.Prefix(), 0),
				Secret: []byte("redis-admission-secret-0123456789"), Timeout: time.Second, MaxEntriesPerContext: limit,
				Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			scopes := []string{"page"}
			start := time.Now()
			for i := range 2 * n {
				inst := cache.Instance{Context: "pages", Params: []cache.Param{{Name: "page", Value: strconv.Itoa(i/2 + 1)}}, Scopes: scopes}
				if e := c.Get(ctx(t), inst); e.Status == cache.Miss {
					c.Put(ctx(t), e, []byte(`{"items":[],"page":1}`), 0)
				}
			}
			elapsed := time.Since(start)
			keys, err := raw.Keys(context.Background(), owned.Prefix()+"*").Result()
			if err != nil {
				t.Fatal(err)
			}
			p := raw.Pipeline()
			ttls := make([]*goredis.DurationCmd, len(keys))
			sizes := make([]*goredis.IntCmd, len(keys))
			for i, k := range keys {
				ttls[i], sizes[i] = p.PTTL(context.Background(), k), p.MemoryUsage(context.Background(), k)
			}
			if _, err := p.Exec(context.Background()); err != nil {
				t.Fatal(err)
			}
			var entries, long int
			var bytes int64
			for i, k := range keys {
				bytes += sizes[i].Val()
				if strings.HasPrefix(k, owned.Prefix()+"ctx:") {
					entries++
					if ttls[i].Val() > cache.DefaultFirstMissTTL {
						long++
					}
				}
			}
			t.Logf("cap %d: %d instances asked for twice in %v leave %d keys (%.1f MB): %d entries, %d of them for longer than FirstMissTTL",
				limit, n, elapsed.Round(time.Millisecond), len(keys), float64(bytes)/1e6, entries, long)
			switch {
			case limit < 0 && long < n*9/10:
				t.Errorf("no cap: %d entries for their TTL, want about %d", long, n)
			case limit > 0 && long > max:
				t.Errorf("cap %d: %d entries for longer than FirstMissTTL", max, long)
			}
		})
	}
}
