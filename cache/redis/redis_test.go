//go:build unix

package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/mizan-afi/mizan/cache"
	"github.com/mizan-afi/mizan/cache/cachetest"
	"github.com/mizan-afi/mizan/internal/redistest"
)

// testRedis is the Redis a test runs against: the one named by
// MIZAN_TEST_REDIS_URL, or a redis-server the test starts (srv). Tests
// isolate their keys with a prefix unique to the test and delete them at
// the end, so a shared server is not flushed.
type testRedis struct {
	url string
	srv *redistest.Server // nil for an external server
}

func newRedis(t *testing.T) *testRedis {
	t.Helper()
	if u := os.Getenv("MIZAN_TEST_REDIS_URL"); u != "" {
		return &testRedis{url: u}
	}
	s := redistest.Start(t)
	return &testRedis{url: s.URL(), srv: s}
}

// own returns the server the test started, and skips the test when it
// runs against an external server it must not stop or kill.
func (r *testRedis) own(t *testing.T) *redistest.Server {
	t.Helper()
	if r.srv == nil {
		t.Skip("stops or kills the server: needs a redis-server of its own, not MIZAN_TEST_REDIS_URL")
	}
	return r.srv
}

// backend returns a Backend on r built from o (URL filled in, and Prefix
// unless set), whose keys are deleted and client closed when t ends.
func (r *testRedis) backend(t *testing.T, o Options) *Backend {
	t.Helper()
	o.URL = r.url
	if o.Prefix == "" {
		o.Prefix = uniquePrefix(t)
	}
	b, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cleanup(b) })
	return b
}

// cleanup deletes b's keys, best effort, and closes it.
func cleanup(b *Backend) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = b.DeletePrefix(ctx, "")
	_ = b.Close()
}

// raw returns a plain go-redis client on r, to look at keys as stored.
func (r *testRedis) raw(t *testing.T) *goredis.Client {
	t.Helper()
	opt, err := goredis.ParseURL(r.url)
	if err != nil {
		t.Fatal(err)
	}
	c := goredis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func uniquePrefix(t *testing.T) string {
	return fmt.Sprintf("mizantest:%s:%s:", t.Name(), randHex(4))
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestSuiteSingleNode(t *testing.T) {
	t.Parallel()
	r := newRedis(t)
	cachetest.TestBackend(t, func(t *testing.T) cache.Backend { return r.backend(t, Options{}) })
}

// TestCacheSingleNode runs the cache's guarantees over Redis.
func TestCacheSingleNode(t *testing.T) {
	t.Parallel()
	r := newRedis(t)
	cachetest.TestCache(t, func(t *testing.T) cache.Backend {
		owned := r.backend(t, Options{})
		// Not owned, so that closing the cache leaves the client to the
		// cleanup, which deletes the test's keys.
		return NewFromClient(owned.Client(), owned.Prefix(), 0)
	})
}

func TestSuiteCluster(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, 3)
	cachetest.TestBackend(t, func(t *testing.T) cache.Backend {
		b, err := New(Options{Addrs: c.Addrs(), Prefix: uniquePrefix(t)})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := b.Client().(*goredis.ClusterClient); !ok {
			t.Fatalf("Addrs of a cluster gave a %T, want a *ClusterClient", b.Client())
		}
		t.Cleanup(func() { cleanup(b) })
		return b
	})
	t.Run("DeletePrefixEveryMaster", func(t *testing.T) { testDeletePrefixEveryMaster(t, c) })
	// The cache over a cluster: a lookup's keys, and a purge's, live on
	// different slots.
	t.Run("Cache", func(t *testing.T) {
		cachetest.TestCache(t, func(t *testing.T) cache.Backend {
			b, err := New(Options{Addrs: c.Addrs(), Prefix: uniquePrefix(t)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cleanup(b) })
			return NewFromClient(b.Client(), b.Prefix(), 0)
		})
	})
	// Generations' TTLs as the nodes hold them; the extension of a store
	// reaches generations on other nodes than its entry.
	t.Run("GenerationTTLs", func(t *testing.T) {
		b, err := New(Options{Addrs: c.Addrs(), Prefix: uniquePrefix(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cleanup(b) })
		testGenerationTTLs(t, b)
	})
}

func TestSuiteSentinel(t *testing.T) {
	t.Parallel()
	master := redistest.Start(t)
	sentinel := redistest.StartSentinel(t, master, "mymaster")
	cachetest.TestBackend(t, func(t *testing.T) cache.Backend {
		b, err := New(Options{Addrs: []string{sentinel.Addr}, MasterName: "mymaster", Prefix: uniquePrefix(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cleanup(b) })
		return b
	})
	// The keys went to the master the Sentinel names.
	b, err := New(Options{Addrs: []string{sentinel.Addr}, MasterName: "mymaster", Prefix: "via-sentinel:"})
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup(b)
	if err := b.Set(ctx(t), "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if got, err := redistest.Do(master.Addr, "GET", "via-sentinel:k"); got != "v" || err != nil {
		t.Errorf("GET on the master = %q, %v; want the value written through the Sentinel", got, err)
	}
}

func TestSuiteRing(t *testing.T) {
	t.Parallel()
	s1, s2 := redistest.Start(t), redistest.Start(t)
	ring := goredis.NewRing(&goredis.RingOptions{
		Addrs:       map[string]string{"a": s1.Addr, "b": s2.Addr},
		DialTimeout: DefaultDialTimeout, ReadTimeout: DefaultReadTimeout, WriteTimeout: DefaultWriteTimeout,
		PoolTimeout: DefaultReadTimeout, MaxRetries: -1, ContextTimeoutEnabled: true,
	})
	t.Cleanup(func() { _ = ring.Close() })
	cachetest.TestBackend(t, func(t *testing.T) cache.Backend {
		b := NewFromClient(ring, uniquePrefix(t), 0)
		t.Cleanup(func() { cleanup(b) })
		return b
	})
}

// testDeletePrefixEveryMaster checks that the keys of a broad purge were
// spread over every node of cluster c, and are gone from every node after
// it.
func testDeletePrefixEveryMaster(t *testing.T, c *redistest.Cluster) {
	b, err := New(Options{Addrs: c.Addrs(), Prefix: uniquePrefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cleanup(b) })
	keys := make([]string, 300)
	for i := range keys {
		keys[i] = fmt.Sprintf("ctx:item:%d", i)
	}
	writeKeys(t, b, keys...)
	writeKeys(t, b, "gen:ctx:item")
	// count returns how many of b's keys a node holds.
	count := func(addr string) int {
		list, err := redistest.Do(addr, "KEYS", escapeGlob(b.Prefix())+"*")
		if err != nil {
			t.Fatal(err)
		}
		if list == "" {
			return 0
		}
		return strings.Count(list, "\n") + 1
	}
	total := 0
	for _, node := range c.Nodes {
		n := count(node.Addr)
		if n == 0 {
			t.Errorf("node %s holds none of the keys: the test does not span the cluster", node.Addr)
		}
		total += n
	}
	if total != len(keys)+1 {
		t.Errorf("the nodes hold %d keys, want %d", total, len(keys)+1)
	}
	if err := b.DeletePrefix(ctx(t), "ctx:item:"); err != nil {
		t.Fatal(err)
	}
	total = 0
	for _, node := range c.Nodes {
		total += count(node.Addr)
	}
	if total != 1 {
		t.Errorf("after the purge the nodes hold %d keys, want 1 (the generation)", total)
	}
}

// writeKeys stores each key with itself as value.
func writeKeys(t *testing.T, b *Backend, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if err := b.Set(ctx(t), k, []byte(k), 0); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPrefixApplied(t *testing.T) {
	r := newRedis(t)
	raw := r.raw(t)
	b, err := New(Options{URL: r.url}) // the default prefix, not a unique one
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Prefix() != "mizan:" {
		t.Errorf("default prefix %q, want %q", b.Prefix(), "mizan:")
	}
	key := "x-" + randHex(6) // unique, so a shared server is not disturbed
	t.Cleanup(func() { raw.Del(context.Background(), "mizan:"+key) })
	if err := b.Set(ctx(t), key, []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if n := raw.Exists(ctx(t), "mizan:"+key).Val(); n != 1 {
		t.Errorf("key %q not stored as %q", key, "mizan:"+key)
	}
	if n := raw.Exists(ctx(t), key).Val(); n != 0 {
		t.Errorf("key %q stored without its prefix", key)
	}
	if err := b.Delete(ctx(t), key); err != nil {
		t.Fatal(err)
	}
	if n := raw.Exists(ctx(t), "mizan:"+key).Val(); n != 0 {
		t.Errorf("Delete(%q) left %q", key, "mizan:"+key)
	}
}

func TestCustomPrefix(t *testing.T) {
	r := newRedis(t)
	raw := r.raw(t)
	base := uniquePrefix(t)
	// The second prefix holds glob characters and would match the first's
	// keys as a pattern.
	p1, p2 := base+"app1:", base+"app?:"
	b1 := r.backend(t, Options{Prefix: p1})
	b2 := r.backend(t, Options{Prefix: p2})
	outside := base + "ctx:user:1" // a key of nobody's prefix
	if err := raw.Set(ctx(t), outside, "other data", 0).Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Del(context.Background(), outside) })
	for _, b := range []*Backend{b1, b2} {
		if err := b.Set(ctx(t), "ctx:user:1", []byte(b.Prefix()), 0); err != nil {
			t.Fatal(err)
		}
	}
	if got := raw.Get(ctx(t), p1+"ctx:user:1").Val(); got != p1 {
		t.Errorf("raw %q = %q, want %q", p1+"ctx:user:1", got, p1)
	}
	if err := b2.DeletePrefix(ctx(t), "ctx:"); err != nil {
		t.Fatal(err)
	}
	if v, _ := b2.GetMulti(ctx(t), "ctx:user:1"); v[0] != nil {
		t.Errorf("DeletePrefix left the backend's own key")
	}
	if v, _ := b1.GetMulti(ctx(t), "ctx:user:1"); string(v[0]) != p1 {
		t.Errorf("DeletePrefix under %q removed a key under %q", p2, p1)
	}
	if raw.Exists(ctx(t), outside).Val() != 1 {
		t.Errorf("DeletePrefix removed a key outside the backend's prefix")
	}
}

// pttl returns the remaining lifetime of a raw key: -1ms for no expiry.
func pttl(t *testing.T, raw *goredis.Client, key string) time.Duration {
	t.Helper()
	ms, err := raw.Do(ctx(t), "PTTL", key).Int64()
	if err != nil {
		t.Fatal(err)
	}
	return time.Duration(ms) * time.Millisecond
}

func TestDefaultTTL(t *testing.T) {
	r := newRedis(t)
	raw := r.raw(t)
	b := r.backend(t, Options{DefaultTTL: time.Hour})
	dflt := r.backend(t, Options{})
	cases := []struct {
		b         *Backend
		set       func(*Backend, string) error
		name      string
		lo, hi    time.Duration
		permanent bool
	}{
		{b: b, name: "ttl 0, DefaultTTL 1h", lo: time.Hour - time.Minute, hi: time.Hour,
			set: func(b *Backend, k string) error { return b.Set(ctx(t), k, []byte("v"), 0) }},
		{b: dflt, name: "ttl 0, DefaultTTL unset", lo: 24*time.Hour - time.Minute, hi: 24 * time.Hour,
			set: func(b *Backend, k string) error { return b.Set(ctx(t), k, []byte("v"), 0) }},
		{b: b, name: "ttl 90s", lo: 89 * time.Second, hi: 90 * time.Second,
			set: func(b *Backend, k string) error { return b.Set(ctx(t), k, []byte("v"), 90*time.Second) }},
		{b: b, name: "ttl 1500ms (millisecond precision)", lo: 1400 * time.Millisecond, hi: 1500 * time.Millisecond,
			set: func(b *Backend, k string) error { return b.Set(ctx(t), k, []byte("v"), 1500*time.Millisecond) }},
		{b: b, name: "SetPermanent", permanent: true,
			set: func(b *Backend, k string) error { return b.SetPermanent(ctx(t), k, []byte("v")) }},
	}
	for i, c := range cases {
		key := fmt.Sprintf("k%d", i)
		if err := c.set(c.b, key); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got := pttl(t, raw, c.b.Prefix()+key)
		if c.permanent {
			if got != -time.Millisecond {
				t.Errorf("%s: PTTL %v, want no expiry", c.name, got)
			}
		} else if got < c.lo || got > c.hi {
			t.Errorf("%s: PTTL %v, want within [%v, %v]", c.name, got, c.lo, c.hi)
		}
	}
}

func TestNewOptions(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("New without URL or Addrs: no error")
	}
	if _, err := New(Options{URL: "http://localhost:6379"}); err == nil {
		t.Error("New with an http URL: no error")
	}

	type want struct {
		pool                      int
		dial, read, write, poolTO time.Duration
		retries, dialRetries, db  int
		ctxTimeout                bool
	}
	check := func(name string, o *goredis.Options, w want) {
		t.Helper()
		got := want{o.PoolSize, o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout,
			o.MaxRetries, o.DialerRetries, o.DB, o.ContextTimeoutEnabled}
		if got != w {
			t.Errorf("%s: options %+v, want %+v", name, got, w)
		}
	}
	client := func(o Options) *goredis.Client {
		t.Helper()
		b, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		c, ok := b.Client().(*goredis.Client)
		if !ok {
			t.Fatalf("%+v gave a %T, want a *Client", o, b.Client())
		}
		return c
	}
	ms := time.Millisecond
	// go-redis stores "no retries" as 0 once a client is built.
	defaults := want{50, 200 * ms, 100 * ms, 100 * ms, 100 * ms, 0, 1, 3, true}
	check("URL, defaults", client(Options{URL: "redis://127.0.0.1:1/3"}).Options(), defaults)

	w := defaults
	w.pool, w.read, w.poolTO = 7, time.Second, time.Second
	check("URL query", client(Options{URL: "redis://127.0.0.1:1/3?pool_size=7&read_timeout=1s"}).Options(), w)

	w = want{9, 300 * ms, 400 * ms, 500 * ms, 600 * ms, 2, 1, 3, true}
	check("fields over URL query", client(Options{
		URL: "redis://127.0.0.1:1/3?pool_size=7&read_timeout=1s", PoolSize: 9, DialTimeout: 300 * ms,
		ReadTimeout: 400 * ms, WriteTimeout: 500 * ms, PoolTimeout: 600 * ms, MaxRetries: 2,
	}).Options(), w)

	one := client(Options{Addrs: []string{"127.0.0.1:1"}, DB: 3, URL: "redis://ignored:2/5"}).Options()
	check("one address", one, defaults)
	if one.Addr != "127.0.0.1:1" {
		t.Errorf("one address: Addr %q", one.Addr)
	}

	for _, o := range []Options{
		{Addrs: []string{"127.0.0.1:1", "127.0.0.1:2"}},
		{Addrs: []string{"127.0.0.1:1"}, ClusterMode: true},
	} {
		b, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		cc, ok := b.Client().(*goredis.ClusterClient)
		if !ok {
			t.Errorf("%+v gave a %T, want a *ClusterClient", o, b.Client())
			continue
		}
		co := cc.Options()
		got := want{co.PoolSize, co.DialTimeout, co.ReadTimeout, co.WriteTimeout, co.PoolTimeout,
			co.MaxRetries, co.DialerRetries, 3, co.ContextTimeoutEnabled}
		if w := (want{50, 200 * ms, 100 * ms, 100 * ms, 100 * ms, -1, 1, 3, true}); got != w {
			t.Errorf("cluster options %+v, want %+v", got, w)
		}
		_ = b.Close()
	}
}

func TestClose(t *testing.T) {
	r := newRedis(t)
	b, err := New(Options{URL: r.url})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Ping(ctx(t)); !errors.Is(err, goredis.ErrClosed) {
		t.Errorf("Ping after Close = %v, want ErrClosed", err)
	}
	// A client given to NewFromClient stays its owner's.
	raw := r.raw(t)
	if err := NewFromClient(raw, "", 0).Close(); err != nil {
		t.Fatal(err)
	}
	if err := raw.Ping(ctx(t)).Err(); err != nil {
		t.Errorf("Close closed a client it does not own: %v", err)
	}
}

func TestEscapeGlob(t *testing.T) {
	for in, want := range map[string]string{
		"":             "",
		"mizan:ctx:a:": "mizan:ctx:a:",
		"a*b?c":        `a\*b\?c`,
		"[x]":          `\[x\]`,
		`back\slash`:   `back\\slash`,
		"^-!":          "^-!",
	} {
		if got := escapeGlob(in); got != want {
			t.Errorf("escapeGlob(%q) = %q, want %q", in, got, want)
		}
	}
}

// failsFast runs op and checks that it fails within limit, returning how
// long it took.
func failsFast(t *testing.T, name string, limit time.Duration, op func(context.Context) error) time.Duration {
	t.Helper()
	start := time.Now()
	err := op(context.Background())
	d := time.Since(start)
	if err == nil {
		t.Errorf("%s: no error", name)
	}
	if d > limit {
		t.Errorf("%s took %v, want under %v (err %v)", name, d, limit, err)
	}
	return d
}

// eventually retries op until it succeeds or d has passed, returning how
// long it took.
func eventually(t *testing.T, name string, d time.Duration, op func(context.Context) error) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		err := op(context.Background())
		if err == nil {
			return time.Since(start)
		}
		if time.Since(start) > d {
			t.Fatalf("%s still failing after %v: %v", name, d, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStalledServer(t *testing.T) {
	r := newRedis(t)
	srv := r.own(t)
	b := r.backend(t, Options{})
	get := func(ctx context.Context) error { _, err := b.GetMulti(ctx, "a", "b", "c"); return err }
	set := func(ctx context.Context) error { return b.Set(ctx, "a", []byte("1"), 0) }
	if err := set(ctx(t)); err != nil {
		t.Fatal(err)
	}
	// Open a few pooled connections, so both warm and new ones are tried.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { _ = get(ctx(t)) })
	}
	wg.Wait()

	srv.Stop()
	stopped := true
	defer func() {
		if stopped {
			srv.Cont()
		}
	}()
	const limit = 300 * time.Millisecond
	t.Logf("stalled GetMulti failed after %v", failsFast(t, "GetMulti on a stalled server", limit, get))
	t.Logf("stalled Set failed after %v", failsFast(t, "Set on a stalled server", limit, set))
	t.Logf("stalled Ping failed after %v", failsFast(t, "Ping on a stalled server", limit, b.Ping))
	// A caller's shorter deadline wins over ReadTimeout.
	d := failsFast(t, "GetMulti with a 30ms deadline", 80*time.Millisecond, func(context.Context) error {
		c, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancel()
		return get(c)
	})
	t.Logf("stalled GetMulti with a 30ms deadline failed after %v", d)
	// More callers than connections: those waiting for the pool give up too.
	var mu sync.Mutex
	var slowest time.Duration
	for range 2 * DefaultPoolSize {
		wg.Go(func() {
			start := time.Now()
			err := get(context.Background())
			d := time.Since(start)
			mu.Lock()
			defer mu.Unlock()
			slowest = max(slowest, d)
			if err == nil {
				t.Error("a concurrent GetMulti on a stalled server succeeded")
			}
		})
	}
	wg.Wait()
	t.Logf("%d concurrent GetMulti on a stalled server: slowest failed after %v", 2*DefaultPoolSize, slowest)
	if slowest > 2*limit {
		t.Errorf("slowest of %d concurrent GetMulti took %v, want under %v", 2*DefaultPoolSize, slowest, 2*limit)
	}

	srv.Cont()
	stopped = false
	t.Logf("answered again %v after SIGCONT", eventually(t, "Set after SIGCONT", 2*time.Second, set))
	vals, err := b.GetMulti(ctx(t), "a", "b")
	if err != nil || string(vals[0]) != "1" || vals[1] != nil {
		t.Errorf("after the stall: GetMulti = %q, %v", vals, err)
	}
}

func TestKilledAndRestartedServer(t *testing.T) {
	r := newRedis(t)
	srv := r.own(t)
	b := r.backend(t, Options{})
	get := func(ctx context.Context) error { _, err := b.GetMulti(ctx, "a", "b"); return err }
	set := func(ctx context.Context) error { return b.Set(ctx, "a", []byte("1"), 0) }
	if err := set(ctx(t)); err != nil {
		t.Fatal(err)
	}

	srv.Kill()
	const limit = 300 * time.Millisecond
	t.Logf("GetMulti on a killed server failed after %v", failsFast(t, "GetMulti on a killed server", limit, get))
	t.Logf("Set on a killed server failed after %v", failsFast(t, "Set on a killed server", limit, set))
	// Many failures in a row (more than the pool size) keep failing fast.
	start := time.Now()
	for i := range 2 * DefaultPoolSize {
		failsFast(t, fmt.Sprintf("Ping %d on a killed server", i), limit, b.Ping)
	}
	t.Logf("%d Pings on a killed server: %v", 2*DefaultPoolSize, time.Since(start))

	srv.Restart()
	// go-redis redials in the background, once a second, after as many
	// failed dials as the pool size; allow for that.
	t.Logf("answered again %v after restart", eventually(t, "Set after restart", 3*time.Second, set))
	if err := get(ctx(t)); err != nil {
		t.Errorf("GetMulti after restart: %v", err)
	}
	if err := b.Ping(ctx(t)); err != nil {
		t.Errorf("Ping after restart: %v", err)
	}
}

// TestWithCache runs the origin cache over Redis: a miss, a hit, a purge,
// and a stall that the cache survives.
func TestWithCache(t *testing.T) {
	r := newRedis(t)
	owned := r.backend(t, Options{})
	// Not owned, so that closing the cache leaves the client to the cleanup.
	b := NewFromClient(owned.Client(), owned.Prefix(), 0)
	c, err := cache.New(cache.Options{Backend: b, Secret: []byte("0123456789abcdef0123456789abcdef"), ProbeInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	inst := cache.Instance{Context: "user", Params: []cache.Param{{Name: "user_id", Value: "5"}}, Scopes: []string{"user_id"}}
	e := c.Get(ctx(t), inst)
	if e.Status != cache.Miss {
		t.Fatalf("first Get: %s, want miss", e.Status)
	}
	c.Put(ctx(t), e, []byte(`{"user":5}`), 0)
	if e := c.Get(ctx(t), inst); e.Status != cache.Hit || string(e.Value) != `{"user":5}` {
		t.Fatalf("second Get: %s %q, want a hit", e.Status, e.Value)
	}
	c.Purge(ctx(t), cache.Purge{Context: "user"})
	if e := c.Get(ctx(t), inst); e.Status != cache.Miss {
		t.Errorf("Get after a purge: %s, want miss", e.Status)
	}
	if r.srv == nil {
		return
	}
	r.srv.Stop()
	start := time.Now()
	e = c.Get(ctx(t), inst)
	d := time.Since(start)
	r.srv.Cont()
	if e.Status != cache.Bypass || d > 200*time.Millisecond {
		t.Errorf("Get on a stalled Redis: %s after %v, want a bypass within 200ms", e.Status, d)
	}
	eventually(t, "cache back up", 3*time.Second, func(context.Context) error {
		if !c.Up() {
			return errors.New("down")
		}
		return nil
	})
}
