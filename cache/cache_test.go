package cache_test

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mizan-afi/mizan/cache"
)

// flaky wraps a backend and fails every call while down is set.
type flaky struct {
	cache.Backend
	down atomic.Bool
}

var errDown = errors.New("connection refused")

func (f *flaky) GetMulti(ctx context.Context, keys ...string) ([][]byte, error) {
	if f.down.Load() {
		return nil, errDown
	}
	return f.Backend.GetMulti(ctx, keys...)
}

func (f *flaky) Set(ctx context.Context, k string, v []byte, ttl time.Duration) error {
	if f.down.Load() {
		return errDown
	}
	return f.Backend.Set(ctx, k, v, ttl)
}

func (f *flaky) SetPermanent(ctx context.Context, k string, v []byte) error {
	if f.down.Load() {
		return errDown
	}
	return f.Backend.SetPermanent(ctx, k, v)
}

func (f *flaky) Delete(ctx context.Context, keys ...string) error {
	if f.down.Load() {
		return errDown
	}
	return f.Backend.Delete(ctx, keys...)
}

func (f *flaky) Ping(ctx context.Context) error {
	if f.down.Load() {
		return errDown
	}
	return nil
}

func newCache(t *testing.T, b cache.Backend) *cache.Cache {
	t.Helper()
	c, err := cache.New(cache.Options{Backend: b, Secret: []byte("test-secret-32-bytes-long-000000"),
		ProbeInterval: 5 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

var (
	user5 = cache.Instance{Context: "user", Params: []cache.Param{{"user_id", "5"}}}
	user6 = cache.Instance{Context: "user", Params: []cache.Param{{"user_id", "6"}}}
)

// fill stores value for inst and checks that it is then a hit.
func fill(t *testing.T, c *cache.Cache, inst cache.Instance, value string) {
	t.Helper()
	e := c.Get(context.Background(), inst)
	if e.Status != cache.Miss {
		t.Fatalf("fill %v: status %s", inst, e.Status)
	}
	c.Put(context.Background(), e, []byte(value), 0)
	if e := c.Get(context.Background(), inst); e.Status != cache.Hit || string(e.Value) != value {
		t.Fatalf("after fill %v: %s %q", inst, e.Status, e.Value)
	}
}

func status(c *cache.Cache, inst cache.Instance) cache.Status {
	return c.Get(context.Background(), inst).Status
}

func TestPurgeScopedReachesEveryUser(t *testing.T) {
	c := newCache(t, cache.NewMemory(cache.MemoryOptions{}))
	u5as1 := user5
	u5as1.User = "1"
	fill(t, c, user5, "anon")
	fill(t, c, u5as1, "as 1")
	fill(t, c, user6, "six")
	c.Purge(context.Background(), cache.Purge{Context: "user", Params: user5.Params})
	if status(c, user5) != cache.Miss || status(c, u5as1) != cache.Miss {
		t.Error("a scoped purge left an entry of the instance")
	}
	if status(c, user6) != cache.Hit {
		t.Error("a scoped purge reached another instance")
	}
	c.Purge(context.Background(), cache.Purge{Context: "user"})
	if status(c, user6) != cache.Miss {
		t.Error("a broad purge left an entry")
	}
}

func TestPutAfterPurgeIsNeverServed(t *testing.T) {
	c := newCache(t, cache.NewMemory(cache.MemoryOptions{}))
	for _, p := range []cache.Purge{{Context: "user", Params: user5.Params}, {Context: "user"}} {
		e := c.Get(context.Background(), user5) // a read starts...
		c.Purge(context.Background(), p)        // ...a mutation purges...
		c.Put(context.Background(), e, []byte("old"), 0)
		if got := c.Get(context.Background(), user5); got.Status == cache.Hit {
			t.Errorf("purge %+v: a value computed before it was served after it", p)
		}
	}
}

func TestBackendDownDegradesAndRecovers(t *testing.T) {
	f := &flaky{Backend: cache.NewMemory(cache.MemoryOptions{})}
	c := newCache(t, f)
	fill(t, c, user5, "old")
	fill(t, c, user6, "six")

	f.down.Store(true)
	if st := status(c, user5); st != cache.Bypass {
		t.Fatalf("read while down: %s", st)
	}
	// The purge cannot reach the backend: it is owed.
	c.Purge(context.Background(), cache.Purge{Context: "user", Params: user5.Params})
	if c.Up() {
		t.Fatal("cache up with a purge owed")
	}
	f.down.Store(false)
	deadline := time.Now().Add(2 * time.Second)
	for !c.Up() && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	if !c.Up() {
		t.Fatal("cache did not recover")
	}
	// The owed purge was applied, widened to the context, before any read.
	if st := status(c, user5); st != cache.Miss {
		t.Errorf("stale entry after recovery: %s", st)
	}
	if st := status(c, user6); st != cache.Miss {
		t.Errorf("owed purge not widened to the context: %s", st)
	}
	fill(t, c, user5, "new")
}

func TestNewRefusesBadOptions(t *testing.T) {
	if _, err := cache.New(cache.Options{Backend: cache.NewMemory(cache.MemoryOptions{}), Secret: []byte("short")}); !errors.Is(err, cache.ErrShortSecret) {
		t.Errorf("short secret: %v", err)
	}
	if _, err := cache.New(cache.Options{Secret: make([]byte, 32)}); err == nil {
		t.Error("no backend accepted")
	}
}

func TestUsesSecret(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	c, err := cache.New(cache.Options{Backend: cache.NewMemory(cache.MemoryOptions{}), Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.UsesSecret([]byte("0123456789abcdef0123456789abcdef")) {
		t.Error("UsesSecret is false for the cache's own secret")
	}
	if c.UsesSecret([]byte("0123456789abcdef0123456789abcdeF")) || c.UsesSecret(nil) {
		t.Error("UsesSecret is true for another secret")
	}
}
