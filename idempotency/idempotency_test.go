package idempotency_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/mizan-afi/mizan/idempotency"
	"github.com/mizan-afi/mizan/internal/redistest"
)

var ctx = context.Background()

// testStore runs what every Store must do.
func testStore(t *testing.T, s idempotency.Store) {
	claim, rec, err := s.Begin(ctx, "k", "fp1")
	if err != nil || rec != nil || claim == nil {
		t.Fatalf("Begin: %v %v %v", claim, rec, err)
	}
	// In flight.
	if c, rec, err := s.Begin(ctx, "k", "fp1"); err != nil || c != nil || rec == nil || rec.Outcome != nil || rec.Fingerprint != "fp1" {
		t.Fatalf("Begin in flight: %v %+v %v", c, rec, err)
	}
	out := idempotency.Outcome{Status: 200, Body: []byte(`{"result":1}`), Invalidate: "things"}
	if err := claim.Complete(ctx, out); err != nil {
		t.Fatal(err)
	}
	_, rec, err = s.Begin(ctx, "k", "fp2")
	if err != nil || rec == nil || rec.Fingerprint != "fp1" || rec.Outcome == nil ||
		rec.Outcome.Status != 200 || string(rec.Outcome.Body) != `{"result":1}` || rec.Outcome.Invalidate != "things" {
		t.Fatalf("Begin after Complete: %+v %v", rec, err)
	}
	// A released key is free again.
	claim, _, _ = s.Begin(ctx, "r", "fp")
	if err := claim.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if c, rec, err := s.Begin(ctx, "r", "fp"); err != nil || c == nil || rec != nil {
		t.Fatalf("Begin after Release: %v %v %v", c, rec, err)
	} else {
		_ = c.Release(ctx)
	}
	// Concurrent claims: exactly one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for range 20 {
		wg.Go(func() {
			c, _, err := s.Begin(ctx, "race", "fp")
			if err != nil {
				t.Error(err)
			}
			if c != nil {
				mu.Lock()
				won++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if won != 1 {
		t.Errorf("%d concurrent claims won, want 1", won)
	}
}

func TestMemory(t *testing.T) {
	testStore(t, idempotency.NewMemory(idempotency.MemoryOptions{}))
}

func TestMemoryExpiryAndBounds(t *testing.T) {
	now := time.Unix(1000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := idempotency.NewMemory(idempotency.MemoryOptions{Now: clock, MaxEntries: 3})
	for _, k := range []string{"a", "b", "c", "d"} {
		c, _, _ := s.Begin(ctx, k, "fp")
		if err := c.Complete(ctx, idempotency.Outcome{Status: 200}); err != nil {
			t.Fatal(err)
		}
	}
	if s.Len() != 3 {
		t.Errorf("%d kept, want 3 (the bound)", s.Len())
	}
	if c, _, _ := s.Begin(ctx, "a", "fp"); c == nil {
		t.Error("the oldest outcome was not dropped")
	} else {
		_ = c.Release(ctx)
	}
	if _, rec, _ := s.Begin(ctx, "d", "fp"); rec == nil {
		t.Error("the newest outcome was dropped")
	}
	mu.Lock()
	now = now.Add(idempotency.TTL)
	mu.Unlock()
	if c, rec, _ := s.Begin(ctx, "d", "fp"); c == nil || rec != nil {
		t.Error("an outcome outlived its 24 hours")
	}
	// A claim whose key was taken again cannot complete.
	s2 := idempotency.NewMemory(idempotency.MemoryOptions{MaxBytes: 10})
	c1, _, _ := s2.Begin(ctx, "x", "fp")
	_ = c1.Release(ctx)
	c2, _, _ := s2.Begin(ctx, "x", "fp")
	if err := c1.Complete(ctx, idempotency.Outcome{Status: 200}); !errors.Is(err, idempotency.ErrClaimLost) {
		t.Errorf("a released claim completed: %v", err)
	}
	if err := c2.Complete(ctx, idempotency.Outcome{Status: 200, Body: []byte(strings.Repeat("b", 11))}); err != nil {
		t.Fatal(err)
	}
	if s2.Len() != 0 {
		t.Errorf("an outcome over MaxBytes is kept")
	}
}

func TestOff(t *testing.T) {
	if _, _, err := idempotency.Off.Begin(ctx, "k", "fp"); !errors.Is(err, idempotency.ErrOff) {
		t.Errorf("Off.Begin: %v", err)
	}
}

func TestRedis(t *testing.T) {
	r := redistest.Start(t)
	s, err := idempotency.OpenRedis(r.URL(), idempotency.RedisOptions{Prefix: "t:"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	testStore(t, s)
	raw := goredis.NewClient(&goredis.Options{Addr: r.Addr})
	t.Cleanup(func() { _ = raw.Close() })
	if ttl := raw.PTTL(ctx, "t:k").Val(); ttl < 23*time.Hour || ttl > 24*time.Hour {
		t.Errorf("an outcome's TTL is %v, want 24h", ttl)
	}
	if ttl := raw.PTTL(ctx, "t:race").Val(); ttl <= 0 || ttl > idempotency.DefaultFlightTTL {
		t.Errorf("an in-flight marker's TTL is %v, want at most %v", ttl, idempotency.DefaultFlightTTL)
	}
}

func TestRedisClaimRenewedAndLost(t *testing.T) {
	r := redistest.Start(t)
	s, err := idempotency.OpenRedis(r.URL(), idempotency.RedisOptions{FlightTTL: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	raw := goredis.NewClient(&goredis.Options{Addr: r.Addr})
	t.Cleanup(func() { _ = raw.Close() })
	c, _, err := s.Begin(ctx, "long", "fp")
	if err != nil || c == nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // over three FlightTTLs: renewed meanwhile
	if _, rec, _ := s.Begin(ctx, "long", "fp"); rec == nil || rec.Outcome != nil {
		t.Fatalf("the marker of a running claim expired: %+v", rec)
	}
	if err := c.Complete(ctx, idempotency.Outcome{Status: 200}); err != nil {
		t.Fatal(err)
	}
	// A claim whose marker is gone (Redis lost it) does not complete.
	c, _, _ = s.Begin(ctx, "lost", "fp")
	raw.Del(ctx, idempotency.DefaultPrefix+"lost")
	if err := c.Complete(ctx, idempotency.Outcome{Status: 200}); !errors.Is(err, idempotency.ErrClaimLost) {
		t.Errorf("Complete of a lost claim: %v", err)
	}
	// A marker left by a process that died (no longer renewed) expires,
	// and the key can then be claimed.
	raw.Set(ctx, idempotency.DefaultPrefix+"died", `{"f":"fp","t":"gone"}`, 300*time.Millisecond)
	if _, rec, _ := s.Begin(ctx, "died", "fp"); rec == nil || rec.Outcome != nil {
		t.Fatalf("a foreign marker: %+v", rec)
	}
	time.Sleep(400 * time.Millisecond)
	left, rec, err := s.Begin(ctx, "died", "fp")
	if left == nil || rec != nil || err != nil {
		t.Fatalf("after the marker expired: %v %+v %v", left, rec, err)
	}
	// Redis down: Begin fails, so the caller does not run the call.
	r.Kill()
	if c, rec, err := s.Begin(ctx, "down", "fp"); err == nil || c != nil || rec != nil {
		t.Errorf("Begin with Redis down: %v %v %v", c, rec, err)
	}
	_ = left.Release(ctx)
}
