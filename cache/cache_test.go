package cache_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mizan-afi/mizan/cache"
	"github.com/mizan-afi/mizan/cache/cachetest"
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

func (f *flaky) Set(ctx context.Context, k string, v []byte, ttl time.Duration, extend ...string) error {
	if f.down.Load() {
		return errDown
	}
	return f.Backend.Set(ctx, k, v, ttl, extend...)
}

func (f *flaky) SetPermanent(ctx context.Context, k string, v []byte) error {
	if f.down.Load() {
		return errDown
	}
	return f.Backend.SetPermanent(ctx, k, v)
}

func (f *flaky) SetNX(ctx context.Context, k string, v []byte, ttl time.Duration) (bool, error) {
	if f.down.Load() {
		return false, errDown
	}
	return f.Backend.SetNX(ctx, k, v, ttl)
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
	userScopes = []string{"user_id"}
	user5      = cache.Instance{Context: "user", Params: []cache.Param{{"user_id", "5"}}, Scopes: userScopes}
	user6      = cache.Instance{Context: "user", Params: []cache.Param{{"user_id", "6"}}, Scopes: userScopes}
	purge5     = cache.Purge{Context: "user", Param: cache.Param{Name: "user_id", Value: "5"}}
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
	c.Purge(context.Background(), purge5)
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
	for _, p := range []cache.Purge{purge5, {Context: "user"}} {
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
	c.Purge(context.Background(), purge5)
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

func TestCacheOverMemory(t *testing.T) {
	cachetest.TestCache(t, func(t *testing.T) cache.Backend { return cache.NewMemory(cache.MemoryOptions{}) })
}

// A memory backend too small for the workload evicts entries and
// generations alike, least recently used first; a chaos goroutine deletes
// random generations besides. No read may return a value older than one
// whose purge had completed.
func TestStressMemoryEviction(t *testing.T) {
	for _, max := range []int{50, 400, 3000} {
		t.Run(fmt.Sprint(max), func(t *testing.T) {
			m := cache.NewMemory(cache.MemoryOptions{MaxEntries: max})
			b := &chaos{Backend: m}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			go b.run(ctx)
			res, err := cachetest.Stress(t.Context(), []cache.Backend{b, b}, cachetest.StressOptions{Duration: 500 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%+v", res)
			if res.Stale != 0 {
				t.Errorf("%d stale reads of %d", res.Stale, res.Reads)
			}
			if res.GensRecreated == 0 {
				t.Error("no generation was lost and recreated: the test did not exercise a loss")
			}
		})
	}
}

// chaos is a backend that deletes a random generation it has seen read,
// every few hundred microseconds while run runs.
type chaos struct {
	cache.Backend
	mu   sync.Mutex
	gens []string
	seen map[string]bool
}

func (c *chaos) GetMulti(ctx context.Context, keys ...string) ([][]byte, error) {
	c.mu.Lock()
	if c.seen == nil {
		c.seen = map[string]bool{}
	}
	for _, k := range keys[min(1, len(keys)):] {
		if !c.seen[k] {
			c.seen[k] = true
			c.gens = append(c.gens, k)
		}
	}
	c.mu.Unlock()
	return c.Backend.GetMulti(ctx, keys...)
}

func (c *chaos) run(ctx context.Context) {
	for ctx.Err() == nil {
		time.Sleep(time.Duration(100+rand.IntN(400)) * time.Microsecond)
		c.mu.Lock()
		var k string
		if len(c.gens) > 0 {
			k = c.gens[rand.IntN(len(c.gens))]
		}
		c.mu.Unlock()
		if k != "" {
			_ = c.Backend.Delete(ctx, k)
		}
	}
}

// A purge of a name the instance does not scope by does not reach it;
// Scopes decide which generations a lookup reads.
func TestPurgeOfAnotherScope(t *testing.T) {
	c := newCache(t, cache.NewMemory(cache.MemoryOptions{}))
	noScopes := cache.Instance{Context: "user", Params: user5.Params}
	fill(t, c, noScopes, "v")
	c.Purge(context.Background(), purge5)
	if status(c, noScopes) != cache.Hit {
		t.Error("a purge by user_id reached an instance that does not scope by it")
	}
	// Instances of one context with other Scopes are other lookups, each
	// stored under its own generations.
	fill(t, c, user5, "v")
	c.Purge(context.Background(), purge5)
	if status(c, user5) != cache.Miss {
		t.Error("a purge by user_id left an instance scoped by it")
	}
}

// Entries stored by a cache with the previous layout (two 8-byte
// generations under gen:ctx:<context> and gen:<instance key>) are never
// hits.
func TestOldLayoutIsNotAHit(t *testing.T) {
	m := cache.NewMemory(cache.MemoryOptions{})
	c := newCache(t, m)
	for _, inst := range []cache.Instance{{Context: "user"}, user5} {
		key := c.Get(context.Background(), inst).Key()
		gen := bytes.Repeat([]byte{1}, 8)
		for _, v := range [][]byte{append(bytes.Repeat([]byte{0}, 16), "old"...), append(append(gen, make([]byte, 8)...), "old"...)} {
			_ = m.SetPermanent(context.Background(), "gen:ctx:"+inst.Context, gen)
			_ = m.Set(context.Background(), key, v, 0)
			if st := status(c, inst); st != cache.Miss {
				t.Errorf("%+v: an entry of the old layout is a %s", inst, st)
			}
		}
	}
}

// Lookups, stores and purges at once over the memory backend itself (its
// fast paths, which the wrapped backends of the stress tests do not take),
// for the race detector.
func TestConcurrentGetsOfNewInstances(t *testing.T) {
	c := newCache(t, cache.NewMemory(cache.MemoryOptions{MaxEntries: 500}))
	var wg, purger sync.WaitGroup
	stop := make(chan struct{})
	purger.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			switch i % 3 {
			case 0:
				c.Purge(context.Background(), cache.Purge{Context: "c", Param: cache.Param{Name: "id", Value: strconv.Itoa(i % 300)}})
			case 1:
				c.Purge(context.Background(), cache.Purge{Context: "c", User: "1"})
			default:
				c.Purge(context.Background(), cache.Purge{Context: "c"})
			}
			time.Sleep(100 * time.Microsecond)
		}
	})
	defer func() {
		close(stop)
		purger.Wait()
	}()
	for w := range 8 {
		wg.Go(func() {
			for i := range 300 {
				inst := cache.Instance{Context: "c", Params: []cache.Param{{"id", strconv.Itoa(i)}}, Scopes: []string{"id"}, User: strconv.Itoa(w % 2)}
				e := c.Get(context.Background(), inst)
				if e.Status == cache.Miss {
					c.Put(context.Background(), e, []byte(inst.Params[0].Value), 0)
				}
				if e := c.Get(context.Background(), inst); e.Status == cache.Hit && string(e.Value) != inst.Params[0].Value {
					t.Errorf("%+v: %q", inst, e.Value)
				}
			}
		})
	}
	wg.Wait()
}
