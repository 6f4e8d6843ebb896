package ratelimit_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mizan-afi/mizan/internal/redistest"
	"github.com/mizan-afi/mizan/ratelimit"
)

// clock is a fake time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestMemoryBurstThenRate: Burst attempts at once, then one every
// Period/Rate; a refused attempt counts nothing; n = 0 reads the state;
// RetryAfter says when the next one fits; keys count apart; Reset forgets.
func TestMemoryBurstThenRate(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	m := ratelimit.NewMemory(c.now)
	l := ratelimit.Limit{Rate: 3, Period: 3 * time.Minute, Burst: 3} // one back a minute
	for i := range 3 {
		res, err := m.AllowN(ctx, "k", l, 1)
		if err != nil || !res.Allowed || res.Remaining != 2-i {
			t.Fatalf("attempt %d: %+v, %v; want allowed with %d remaining", i+1, res, err, 2-i)
		}
	}
	res, _ := m.AllowN(ctx, "k", l, 0)
	if !res.Allowed || res.Remaining != 0 || res.RetryAfter != time.Minute {
		t.Fatalf("state after the burst: %+v; want 0 remaining, retry after 1m", res)
	}
	if res, _ := m.AllowN(ctx, "k", l, 1); res.Allowed || res.RetryAfter != time.Minute {
		t.Fatalf("the 4th attempt: %+v; want refused, retry after 1m", res)
	}
	if res, _ := m.AllowN(ctx, "other", l, 1); !res.Allowed || res.Remaining != 2 {
		t.Fatalf("another key: %+v; want its own budget", res)
	}
	c.add(30 * time.Second)
	if res, _ := m.AllowN(ctx, "k", l, 1); res.Allowed || res.RetryAfter != 30*time.Second {
		t.Fatalf("30 s later: %+v; want refused, retry after 30s", res)
	}
	c.add(30 * time.Second)
	if res, _ := m.AllowN(ctx, "k", l, 1); !res.Allowed || res.Remaining != 0 {
		t.Fatalf("a minute later: %+v; want one allowed", res)
	}
	if err := m.Reset(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if res, _ := m.AllowN(ctx, "k", l, 0); res.Remaining != 3 {
		t.Fatalf("after Reset: %+v; want the whole burst", res)
	}
	if _, err := m.AllowN(ctx, "k", ratelimit.Limit{}, 1); err == nil {
		t.Error("a zero limit is accepted")
	}
}

// TestRedisAgreesWithMemory: the Redis limiter, over a real redis-server,
// gives the answers of the memory one for a burst and its refusal, and
// two limiters over one Redis share the counts (as two server processes
// do).
func TestRedisAgreesWithMemory(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	opt, err := redis.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	a, b := redis.NewClient(opt), redis.NewClient(opt)
	t.Cleanup(func() { _ = a.Close(); _ = b.Close() })
	ra, rb := ratelimit.NewRedis(a, "t:"), ratelimit.NewRedis(b, "t:")
	l := ratelimit.Limit{Rate: 4, Period: time.Hour, Burst: 4}
	for i := range 4 {
		lim := ra
		if i%2 == 1 {
			lim = rb
		}
		res, err := lim.AllowN(ctx, "user", l, 1)
		if err != nil || !res.Allowed || res.Remaining != 3-i {
			t.Fatalf("attempt %d: %+v, %v; want allowed with %d remaining", i+1, res, err, 3-i)
		}
	}
	res, err := rb.AllowN(ctx, "user", l, 0)
	if err != nil || res.Remaining != 0 || res.RetryAfter < 14*time.Minute || res.RetryAfter > 15*time.Minute {
		t.Fatalf("state after the burst (from the other client): %+v, %v; want 0 remaining, retry after about 15m", res, err)
	}
	if res, err := ra.AllowN(ctx, "user", l, 1); err != nil || res.Allowed || res.RetryAfter < 14*time.Minute {
		t.Fatalf("the 5th attempt: %+v, %v; want refused", res, err)
	}
	if err := rb.Reset(ctx, "user"); err != nil {
		t.Fatal(err)
	}
	if res, _ := ra.AllowN(ctx, "user", l, 0); res.Remaining != 4 {
		t.Fatalf("after Reset: %+v; want the whole burst", res)
	}
}

// TestFallbackWhenRedisIsDown: with Redis unreachable the fallback counts
// in memory (attempts stay limited) and reports the error; once Redis is
// back it counts there again.
func TestFallbackWhenRedisIsDown(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	opt, err := redis.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	opt.MaxRetries = -1
	opt.DialTimeout, opt.ReadTimeout = 200*time.Millisecond, 200*time.Millisecond
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	var mu sync.Mutex
	var reported []error
	f := ratelimit.Fallback(ratelimit.NewRedis(rdb, "f:"), ratelimit.NewMemory(nil), func(err error) {
		mu.Lock()
		defer mu.Unlock()
		reported = append(reported, err)
	})
	l := ratelimit.Limit{Rate: 2, Period: time.Hour, Burst: 2}
	if res, err := f.AllowN(ctx, "k", l, 1); err != nil || !res.Allowed {
		t.Fatalf("with Redis up: %+v, %v", res, err)
	}
	srv.Kill()
	for i := range 2 {
		res, err := f.AllowN(ctx, "k", l, 1)
		if err != nil {
			t.Fatalf("with Redis down, attempt %d: %v; want the memory limiter's answer", i+1, err)
		}
		if res.Allowed != (i < 2) {
			t.Fatalf("with Redis down, attempt %d: %+v", i+1, res)
		}
	}
	if res, _ := f.AllowN(ctx, "k", l, 1); res.Allowed {
		t.Fatal("with Redis down, the memory limiter lets a third attempt through")
	}
	mu.Lock()
	n := len(reported)
	mu.Unlock()
	if n < 3 {
		t.Fatalf("%d errors reported; want one per failed Redis call", n)
	}
	srv.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := ratelimit.NewRedis(rdb, "f:").AllowN(ctx, "k", l, 1)
		if err == nil {
			if !res.Allowed {
				t.Fatalf("Redis restarted empty: %+v; want a fresh budget", res)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Redis not back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestGiveBack: n < 0 gives attempts back, never more than were counted,
// in memory and in Redis alike (redis_rate has no give-back of its own:
// the script of this package edits its key, whose format this test pins).
func TestGiveBack(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	opt, err := redis.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	l := ratelimit.Limit{Rate: 3, Period: time.Hour, Burst: 3}
	for name, lim := range map[string]ratelimit.Limiter{"memory": ratelimit.NewMemory(nil), "redis": ratelimit.NewRedis(rdb, "g:")} {
		t.Run(name, func(t *testing.T) {
			for range 3 {
				if res, err := lim.AllowN(ctx, "k", l, 1); err != nil || !res.Allowed {
					t.Fatalf("reserving: %+v %v", res, err)
				}
			}
			if res, _ := lim.AllowN(ctx, "k", l, 1); res.Allowed {
				t.Fatal("a 4th attempt fits a burst of 3")
			}
			if res, err := lim.AllowN(ctx, "k", l, -1); err != nil || res.Remaining != 1 {
				t.Fatalf("after giving one back: %+v %v; want 1 remaining", res, err)
			}
			if res, _ := lim.AllowN(ctx, "k", l, -5); res.Remaining != 3 {
				t.Fatalf("after giving back more than counted: %+v; want the burst, no more", res)
			}
			if res, _ := lim.AllowN(ctx, "k", l, -1); res.Remaining != 3 {
				t.Fatalf("giving back with nothing counted: %+v", res)
			}
			if res, _ := lim.AllowN(ctx, "k", l, 1); !res.Allowed || res.Remaining != 2 {
				t.Fatalf("after the give-backs: %+v", res)
			}
		})
	}
	if (ratelimit.Limit{Rate: 10, Period: 5 * time.Nanosecond, Burst: 10}).Valid() {
		t.Error("a limit whose attempts come back every 0 ns is valid")
	}
}
