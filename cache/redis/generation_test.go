//go:build unix

package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/mizan-afi/mizan/cache"
	"github.com/mizan-afi/mizan/cache/cachetest"
	"github.com/mizan-afi/mizan/internal/redistest"
)

// lookupSpy records the keys of the last multi-key GetMulti: a lookup's
// entry key, then its generation keys.
type lookupSpy struct {
	cache.Backend
	mu   sync.Mutex
	last []string
}

func (s *lookupSpy) GetMulti(ctx context.Context, keys ...string) ([][]byte, error) {
	if len(keys) > 1 {
		s.mu.Lock()
		s.last = slices.Clone(keys)
		s.mu.Unlock()
	}
	return s.Backend.GetMulti(ctx, keys...)
}

func (s *lookupSpy) lastKeys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.last)
}

// rawPTTL returns the remaining lifetime of key (without b's prefix) as
// Redis holds it: -1ms for no expiry, -2ms for absent.
func rawPTTL(t *testing.T, b *Backend, key string) time.Duration {
	t.Helper()
	d, err := b.Client().PTTL(ctx(t), b.Prefix()+key).Result()
	if err != nil {
		t.Fatal(err)
	}
	if d < 0 {
		return d / time.Nanosecond * time.Millisecond // go-redis returns -1 and -2 as is
	}
	return d
}

// testGenerationTTLs checks, on the keys as Redis holds them, that a lookup
// creates the generations of a parameter's value and of a caller with
// GenerationTTL and those of the context and of a parameter's lack without
// expiry; that a store extends the expiring ones to its entry's TTL; and
// that a generation made to expire at once (PEXPIRE 1) or deleted makes the
// next lookup a miss that stores fresh data, never a hit of the old entry.
func testGenerationTTLs(t *testing.T, b *Backend) {
	const genTTL = 90 * time.Second
	s := &lookupSpy{Backend: NewFromClient(b.Client(), b.Prefix(), 0)}
	c, err := cache.New(cache.Options{Backend: s, Secret: []byte("redis-generation-secret-0123456789"),
		Timeout: time.Second, Logger: slog.New(slog.DiscardHandler), Admission: cache.AdmitAlways, GenerationTTL: genTTL})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	inst := cache.Instance{Context: "orders", Params: []cache.Param{{Name: "page", Value: "1"}, {Name: "user_id", Value: "5"}},
		Scopes: []string{"status", "user_id"}, User: "7"}
	if e := c.Get(ctx(t), inst); e.Status != cache.Miss {
		t.Fatalf("first lookup: %s", e.Status)
	}
	keys := s.lastKeys()
	if len(keys) != 5 {
		t.Fatalf("lookup keys %q, want the entry and 4 generations", keys)
	}
	names := []string{"entry", "context", "status lacking", "user_id=5", "caller 7"}
	mortal := []bool{false, false, false, true, true}
	for i, k := range keys[1:] {
		got := rawPTTL(t, b, k)
		if mortal[1+i] && (got <= 0 || got > genTTL) || !mortal[1+i] && got != -time.Millisecond {
			t.Errorf("after a lookup that stored nothing: %s generation PTTL %v, want %s", names[1+i], got,
				map[bool]string{true: "within (0, GenerationTTL]", false: "-1 (no expiry)"}[mortal[1+i]])
		}
	}
	// A store for an hour: the expiring generations now outlive it.
	e := c.Get(ctx(t), inst)
	c.Put(ctx(t), e, []byte("v1"), time.Hour)
	entry := rawPTTL(t, b, keys[0])
	for i, k := range keys[1:] {
		got := rawPTTL(t, b, k)
		// (read after the entry's: a few milliseconds less)
		if mortal[1+i] && (got < entry-time.Second || got > time.Hour) || !mortal[1+i] && got != -time.Millisecond {
			t.Errorf("after a store for 1h (entry PTTL %v): %s generation PTTL %v", entry, names[1+i], got)
		}
	}
	// Each generation lost, by PEXPIRE 1 or DEL: a miss, fresh data.
	for i, k := range keys[1:] {
		for _, how := range []string{"PEXPIRE 1", "DEL"} {
			if got := c.Get(ctx(t), inst); got.Status != cache.Hit {
				t.Fatalf("%s generation: before %s, %s", names[1+i], how, got.Status)
			}
			if how == "DEL" {
				err = b.Client().Del(ctx(t), b.Prefix()+k).Err()
			} else {
				err = b.Client().PExpire(ctx(t), b.Prefix()+k, time.Millisecond).Err()
				time.Sleep(5 * time.Millisecond)
			}
			if err != nil {
				t.Fatal(err)
			}
			e := c.Get(ctx(t), inst)
			if e.Status != cache.Miss {
				t.Fatalf("%s generation after %s: %s %q, want a miss", names[1+i], how, e.Status, e.Value)
			}
			fresh := fmt.Sprintf("fresh after %s of the %s generation", how, names[1+i])
			c.Put(ctx(t), e, []byte(fresh), time.Hour)
			if got := c.Get(ctx(t), inst); got.Status != cache.Hit || string(got.Value) != fresh {
				t.Errorf("%s generation after %s and a store: %s %q, want a hit of %q", names[1+i], how, got.Status, got.Value, fresh)
			}
			got := rawPTTL(t, b, k)
			if mortal[1+i] && got <= genTTL || !mortal[1+i] && got != -time.Millisecond {
				t.Errorf("%s generation recreated, then stored under: PTTL %v", names[1+i], got)
			}
		}
	}
}

func TestGenerationTTLs(t *testing.T) {
	t.Parallel()
	r := newRedis(t)
	testGenerationTTLs(t, r.backend(t, Options{}))
}

// TestExtendWithoutGT runs the backend suite with the extension by Lua
// script, which a server without PEXPIRE ... GT (before Redis 7.0) gets.
func TestExtendWithoutGT(t *testing.T) {
	t.Parallel()
	r := newRedis(t)
	noGT := func(t *testing.T) *Backend {
		b := r.backend(t, Options{})
		b.noGT.Store(true)
		return b
	}
	cachetest.TestBackend(t, func(t *testing.T) cache.Backend { return noGT(t) })
	t.Run("GenerationTTLs", func(t *testing.T) {
		b := noGT(t)
		testGenerationTTLs(t, b)
		if !b.noGT.Load() {
			t.Error("the backend went back to GT")
		}
	})
}

// redisErr is an error reply of the server, as go-redis reports them.
type redisErr string

func (e redisErr) Error() string { return string(e) }
func (redisErr) RedisError()     {}

// lacksGT recognizes the replies of servers without GT, and nothing else.
func TestLacksGT(t *testing.T) {
	cmd := func(err error) goredis.Cmder {
		c := goredis.NewBoolCmd(context.Background(), "pexpire", "k", 1, "gt")
		c.SetErr(err)
		return c
	}
	for _, c := range []struct {
		err  error
		want bool
	}{
		{redisErr("ERR wrong number of arguments for 'pexpire' command"), true},
		{redisErr("ERR syntax error"), true},
		{redisErr("ERR Unsupported option gt"), true},
		{redisErr("OOM command not allowed when used memory > 'maxmemory'."), false},
		{redisErr("MOVED 1234 127.0.0.1:7001"), false},
		{errors.New("dial tcp: connection refused: wrong number of arguments"), false}, // not a server reply
		{context.DeadlineExceeded, false},
		{nil, false},
	} {
		if got := lacksGT([]goredis.Cmder{cmd(nil), cmd(c.err)}); got != c.want {
			t.Errorf("lacksGT(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// TestFloodLeavesNoPermanentKeys is the regression test of generations
// without expiry piling up: under volatile-lru with maxmemory (a policy
// that evicts only keys with an expiry), FloodRequests one-off values of a
// scoping parameter, looked up only (fetches that fail, as a 404 does) or
// stored, with every admission policy, leave as keys without expiry only
// the context's generation and the lacking parameter's of the instance
// read all along; and no write is refused meanwhile (the cache never
// bypasses).
func TestFloodLeavesNoPermanentKeys(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	used := info(t, srv.Addr, "memory", "used_memory")
	config(t, srv.Addr, "maxmemory", strconv.FormatInt(used+1<<20, 10))
	config(t, srv.Addr, "maxmemory-policy", "volatile-lru")
	value := make([]byte, 300)
	for _, adm := range []cache.Admission{cache.AdmitAlways, cache.AdmitAuto, cache.AdmitSecondRequest} {
		for _, stores := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/stores=%v", adm, stores), func(t *testing.T) {
				b, err := New(Options{URL: srv.URL(), Prefix: uniquePrefix(t)})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { cleanup(b) })
				c, err := cache.New(cache.Options{Backend: NewFromClient(b.Client(), b.Prefix(), 0),
					Secret: []byte("redis-flood-secret-0123456789abcdef"), Admission: adm, Timeout: time.Second,
					Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				scopes := []string{"user_id"}
				hot := cache.Instance{Context: "user", Scopes: scopes} // no user_id
				bypasses := 0
				for i := range cachetest.FloodRequests {
					for _, inst := range []cache.Instance{
						{Context: "user", Params: []cache.Param{{Name: "user_id", Value: strconv.Itoa(i + 1)}}, Scopes: scopes},
						hot,
					} {
						e := c.Get(ctx(t), inst)
						if e.Status == cache.Bypass {
							bypasses++
						}
						if e.Status == cache.Miss && (stores || inst.Params == nil) {
							c.Put(ctx(t), e, value, 0)
						}
					}
				}
				if bypasses > 0 || !c.Up() {
					t.Errorf("%d lookups bypassed (up: %v): a write was refused", bypasses, c.Up())
				}
				total, permanent := 0, []string{}
				iter := b.Client().Scan(ctx(t), 0, escapeGlob(b.Prefix())+"*", 1000).Iterator()
				for iter.Next(ctx(t)) {
					total++
					if d := b.Client().PTTL(ctx(t), iter.Val()).Val(); d == -1 {
						permanent = append(permanent, iter.Val()[len(b.Prefix()):])
					}
				}
				if err := iter.Err(); err != nil {
					t.Fatal(err)
				}
				t.Logf("%d one-off values (%s, stored: %v): %d keys left, %d without expiry %q; %d keys evicted in this server so far",
					cachetest.FloodRequests, adm, stores, total, len(permanent), permanent, info(t, srv.Addr, "stats", "evicted_keys"))
				for _, k := range permanent {
					if k != "gen:c:user" && !(len(k) > 11 && k[:11] == "gen:p:user:") {
						t.Errorf("key %q has no expiry", k)
					}
				}
				if len(permanent) > 2 {
					t.Errorf("%d keys without expiry, want at most 2 (the context's generation, the lacking parameter's)", len(permanent))
				}
			})
		}
	}
}
