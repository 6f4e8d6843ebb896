package cachetest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mizan-afi/mizan/cache"
)

// secret is the cache secret of the cache-level tests.
var secret = []byte("cachetest-secret-32-bytes-long-0")

// TestCache runs the origin cache's guarantees over backends made by
// newBackend (as for [TestBackend]): purges reach exactly the entries they
// name, a lost generation never brings an older entry back, and a value
// computed before a purge is never served after it; the generations of a
// parameter's value and of a caller expire unless a store keeps them, and
// one that expires makes the next lookup a miss; each admission policy
// stores what it says, and a flood of one-off instances leaves a bounded
// number of entries.
func TestCache(t *testing.T, newBackend func(t *testing.T) cache.Backend) {
	t.Run("PurgeParam", func(t *testing.T) { testPurgeParam(t, newCacheOver(t, newBackend(t))) })
	t.Run("PurgeParamMayLack", func(t *testing.T) { testPurgeMayLack(t, newCacheOver(t, newBackend(t))) })
	t.Run("PurgeUser", func(t *testing.T) { testPurgeUser(t, newCacheOver(t, newBackend(t))) })
	t.Run("PurgeContext", func(t *testing.T) { testPurgeContext(t, newCacheOver(t, newBackend(t))) })
	t.Run("LostGeneration", func(t *testing.T) { testLostGeneration(t, newBackend(t)) })
	t.Run("PutRacingPurge", func(t *testing.T) { testPutRacingPurge(t, newBackend(t)) })
	t.Run("GenerationCreatedMeanwhile", func(t *testing.T) { testGenCreatedMeanwhile(t, newBackend(t)) })
	t.Run("GenerationExpiry", func(t *testing.T) { testGenerationExpiry(t, newBackend(t)) })
	t.Run("Admission", func(t *testing.T) { testAdmission(t, newBackend) })
	t.Run("Stress", func(t *testing.T) {
		res, err := Stress(ctxFor(t), []cache.Backend{newBackend(t)}, StressOptions{Duration: 300 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%+v", res)
		if res.Stale > 0 {
			t.Errorf("%d of %d reads returned a value older than one whose purge had completed", res.Stale, res.Reads)
		}
		if res.Hits == 0 {
			t.Error("no read was a hit")
		}
	})
}

// newCacheOver returns a cache over b, closed when t ends (b with it).
func newCacheOver(t *testing.T, b cache.Backend) *cache.Cache {
	t.Helper()
	c, err := cache.New(cache.Options{Backend: b, Secret: secret, Timeout: time.Second,
		ProbeInterval: 5 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

var (
	orderScopes = []string{"status", "user_id"}
	userScopes  = []string{"user_id"}
)

// order is an instance of context "orders" (parameters page, status and
// user_id; status and user_id scope purges). An empty status or userID
// means the parameter is absent.
func order(userID, status, user string) cache.Instance {
	ps := []cache.Param{{Name: "page", Value: "1"}}
	if status != "" {
		ps = append(ps, cache.Param{Name: "status", Value: status})
	}
	if userID != "" {
		ps = append(ps, cache.Param{Name: "user_id", Value: userID})
	}
	return cache.Instance{Context: "orders", Params: ps, Scopes: orderScopes, User: user}
}

// profile is an instance of context "user" (parameter user_id, a scope).
func profile(userID, user string) cache.Instance {
	return cache.Instance{Context: "user", Params: []cache.Param{{Name: "user_id", Value: userID}},
		Scopes: userScopes, User: user}
}

// fill stores a value for inst after a miss and checks that it is then a
// hit. The background cleanup of a context purged just before may delete
// the new entry: a miss after the store is retried a few times.
func fill(t *testing.T, c *cache.Cache, insts ...cache.Instance) {
	t.Helper()
	for _, inst := range insts {
		v := valueOf(inst)
		for try := 0; ; try++ {
			e := c.Get(ctxFor(t), inst)
			if e.Status != cache.Miss {
				t.Fatalf("fill %+v: %s, want miss", inst, e.Status)
			}
			c.Put(ctxFor(t), e, v, time.Hour)
			e = c.Get(ctxFor(t), inst)
			if e.Status == cache.Hit && bytes.Equal(e.Value, v) {
				break
			}
			if e.Status != cache.Miss || try == 5 {
				t.Fatalf("after fill %+v: %s %q, want a hit", inst, e.Status, e.Value)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func valueOf(inst cache.Instance) []byte { return fmt.Appendf(nil, "%+v", inst) }

// expect checks that each instance is a hit (hit true) or a miss.
func expect(t *testing.T, c *cache.Cache, what string, hit bool, insts ...cache.Instance) {
	t.Helper()
	for _, inst := range insts {
		e := c.Get(ctxFor(t), inst)
		switch {
		case hit && (e.Status != cache.Hit || !bytes.Equal(e.Value, valueOf(inst))):
			t.Errorf("%s: %+v is %s %q, want a hit", what, inst, e.Status, e.Value)
		case !hit && e.Status != cache.Miss:
			t.Errorf("%s: %+v is %s, want a miss", what, inst, e.Status)
		}
	}
}

func testPurgeParam(t *testing.T, c *cache.Cache) {
	mine := []cache.Instance{order("5", "open", ""), order("5", "done", "1"), order("5", "", "2")}
	rev1 := order("5", "open", "")
	rev1.Rev = 1
	mine = append(mine, rev1)
	others := []cache.Instance{
		order("6", "open", ""), order("6", "open", "1"),
		order("", "open", ""), // no user_id: kept without MayLack
		order("", "", "1"),
		order("55", "open", ""),
		profile("5", ""), profile("5", "1"), // another context
	}
	fill(t, c, mine...)
	fill(t, c, others...)
	c.Purge(ctxFor(t), cache.Purge{Context: "orders", Param: cache.Param{Name: "user_id", Value: "5"}})
	expect(t, c, "after a purge of orders with user_id=5", false, mine...)
	expect(t, c, "after a purge of orders with user_id=5", true, others...)

	// An empty value is a value, not the lack of the parameter.
	empty, lacking := order("", "open", ""), order("", "open", "")
	empty.Params = append(empty.Params, cache.Param{Name: "user_id", Value: ""})
	fill(t, c, empty)
	c.Purge(ctxFor(t), cache.Purge{Context: "orders", Param: cache.Param{Name: "user_id", Value: ""}})
	expect(t, c, "after a purge of user_id=\"\"", false, empty)
	expect(t, c, "after a purge of user_id=\"\"", true, lacking)

	// The other scope, and a parameter that is not a scope (page) is not
	// needed for a purge.
	fill(t, c, mine...)
	c.Purge(ctxFor(t), cache.Purge{Context: "orders", Param: cache.Param{Name: "status", Value: "done"}})
	expect(t, c, "after a purge of status=done", false, order("5", "done", "1"))
	expect(t, c, "after a purge of status=done", true, order("5", "open", ""), order("5", "", "2"), order("6", "open", ""))
}

func testPurgeMayLack(t *testing.T, c *cache.Cache) {
	purged := []cache.Instance{order("5", "open", ""), order("5", "", "1"),
		order("", "open", ""), order("", "", "2"), order("", "done", "1")}
	kept := []cache.Instance{order("6", "open", ""), order("6", "", "1"), profile("5", "")}
	fill(t, c, purged...)
	fill(t, c, kept...)
	c.Purge(ctxFor(t), cache.Purge{Context: "orders", Param: cache.Param{Name: "user_id", Value: "5"}, MayLack: true})
	expect(t, c, "after a purge of user_id=5 or none", false, purged...)
	expect(t, c, "after a purge of user_id=5 or none", true, kept...)
}

func testPurgeUser(t *testing.T, c *cache.Cache) {
	mine := []cache.Instance{order("5", "open", "1"), order("6", "", "1"), order("", "", "1")}
	others := []cache.Instance{order("5", "open", ""), order("5", "open", "2"), order("6", "", "2"),
		order("5", "open", "10"), profile("5", "1")}
	fill(t, c, mine...)
	fill(t, c, others...)
	c.Purge(ctxFor(t), cache.Purge{Context: "orders", User: "1"})
	expect(t, c, "after a purge of caller 1's orders", false, mine...)
	expect(t, c, "after a purge of caller 1's orders", true, others...)

	// With a parameter too: every entry of the caller in the context goes,
	// nobody else's.
	fill(t, c, mine...)
	c.Purge(ctxFor(t), cache.Purge{Context: "orders", User: "1", Param: cache.Param{Name: "user_id", Value: "6"}})
	expect(t, c, "after a purge of caller 1's orders with user_id=6", false, mine...)
	expect(t, c, "after a purge of caller 1's orders with user_id=6", true, others...)
}

func testPurgeContext(t *testing.T, c *cache.Cache) {
	all := []cache.Instance{order("5", "open", ""), order("6", "", "1"), order("", "", "")}
	kept := []cache.Instance{profile("5", ""), profile("5", "1"),
		{Context: "orders2", Params: []cache.Param{{Name: "page", Value: "1"}}}}
	fill(t, c, all...)
	fill(t, c, kept...)
	c.Purge(ctxFor(t), cache.Purge{Context: "orders"})
	expect(t, c, "after a purge of orders", false, all...)
	expect(t, c, "after a purge of orders", true, kept...)
	// The background cleanup of the context's entries must not take the
	// generations with it: a purge still applies afterwards.
	time.Sleep(50 * time.Millisecond)
	fill(t, c, all...)
	c.Purge(ctxFor(t), cache.Purge{Context: "orders", User: "1"})
	expect(t, c, "after a context purge then a user purge", false, order("6", "", "1"))
	expect(t, c, "after a context purge then a user purge", true, order("5", "open", ""))
}

// spy records the keys of the last GetMulti of more than one key (the
// cache's lookups) and lets a test act between a lookup's read and what the
// cache does next.
type spy struct {
	cache.Backend
	mu        sync.Mutex
	last      []string
	afterRead func(keys []string)
}

func (s *spy) GetMulti(ctx context.Context, keys ...string) ([][]byte, error) {
	vals, err := s.Backend.GetMulti(ctx, keys...)
	if len(keys) > 1 {
		s.mu.Lock()
		s.last = slices.Clone(keys)
		f := s.afterRead
		s.mu.Unlock()
		if f != nil {
			f(keys)
		}
	}
	return vals, err
}

// keysOf returns the keys a lookup of inst reads: the entry key, then the
// generation keys.
func (s *spy) keysOf(t *testing.T, c *cache.Cache, inst cache.Instance) []string {
	t.Helper()
	c.Get(ctxFor(t), inst)
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.last)
}

func (s *spy) del(t *testing.T, keys ...string) {
	t.Helper()
	if err := s.Backend.Delete(ctxFor(t), keys...); err != nil {
		t.Fatal(err)
	}
}

func testLostGeneration(t *testing.T, b cache.Backend) {
	s := &spy{Backend: b}
	c := newCacheOver(t, s)
	for _, inst := range []cache.Instance{order("5", "open", ""), order("5", "", "1"), profile("7", "")} {
		keys := s.keysOf(t, c, inst)
		wantGens := 1 + len(inst.Scopes)
		if inst.User != "" {
			wantGens++
		}
		if len(keys) != 1+wantGens {
			t.Fatalf("a lookup of %+v reads %d keys, want the entry and %d generations: %q", inst, len(keys), wantGens, keys)
		}
		for _, k := range keys[1:] {
			if strings.HasPrefix(k, cache.ContextPrefix(inst.Context)) || k == keys[0] {
				t.Errorf("generation key %q is an entry key or starts with %q", k, cache.ContextPrefix(inst.Context))
			}
			for _, p := range inst.Params {
				if strings.Contains(k, p.Value) && len(p.Value) > 1 {
					t.Errorf("generation key %q shows the value %q", k, p.Value)
				}
			}
		}
		// The bug this guards against: a purge, then its generation lost,
		// must not bring the entry stored before the purge back.
		purges := []cache.Purge{{Context: inst.Context}}
		for _, p := range inst.Params {
			if slices.Contains(inst.Scopes, p.Name) {
				purges = append(purges, cache.Purge{Context: inst.Context, Param: p})
			}
		}
		if inst.User != "" {
			purges = append(purges, cache.Purge{Context: inst.Context, User: inst.User})
		}
		for _, p := range purges {
			fill(t, c, inst)
			c.Purge(ctxFor(t), p)
			expect(t, c, fmt.Sprintf("after %+v", p), false, inst)
			s.del(t, keys[1:]...)
			expect(t, c, fmt.Sprintf("after %+v and the loss of every generation", p), false, inst)
		}
		// Each generation lost on its own, with or without a purge before.
		for i, k := range keys[1:] {
			for _, p := range purges {
				fill(t, c, inst)
				c.Purge(ctxFor(t), p)
				s.del(t, k)
				expect(t, c, fmt.Sprintf("after %+v and the loss of generation %d", p, i), false, inst)
			}
			fill(t, c, inst)
			s.del(t, k)
			expect(t, c, fmt.Sprintf("after the loss of generation %d", i), false, inst)
		}
		// Lost and found: the cache stores again once the generations are
		// back (recreated by the lookup that found them missing).
		fill(t, c, inst)
	}
}

func testPutRacingPurge(t *testing.T, b cache.Backend) {
	s := &spy{Backend: b}
	c := newCacheOver(t, s)
	inst := order("5", "open", "1")
	keys := s.keysOf(t, c, inst)
	purges := []cache.Purge{
		{Context: "orders"},
		{Context: "orders", Param: cache.Param{Name: "user_id", Value: "5"}},
		{Context: "orders", Param: cache.Param{Name: "status", Value: "open"}, MayLack: true},
		{Context: "orders", User: "1"},
	}
	old := []byte("computed before the purge")
	for _, p := range purges {
		// Generations present.
		fill(t, c, inst)
		c.Purge(ctxFor(t), cache.Purge{Context: "orders"})
		e := c.Get(ctxFor(t), inst) // a read starts...
		c.Purge(ctxFor(t), p)       // ...a mutation purges...
		c.Put(ctxFor(t), e, old, time.Hour)
		if got := c.Get(ctxFor(t), inst); got.Status == cache.Hit {
			t.Errorf("%+v: a value computed before it was served after it", p)
		}
		// The purge's generation then lost before the store.
		for _, k := range keys[1:] {
			e := c.Get(ctxFor(t), inst)
			c.Purge(ctxFor(t), p)
			s.del(t, k)
			c.Put(ctxFor(t), e, old, time.Hour)
			if got := c.Get(ctxFor(t), inst); got.Status == cache.Hit {
				t.Errorf("%+v, generation %q lost: a value computed before it was served after it", p, k)
			}
		}
		// Generations missing at the lookup, the purge's lost before the
		// store.
		s.del(t, keys[1:]...)
		e = c.Get(ctxFor(t), inst)
		c.Purge(ctxFor(t), p)
		s.del(t, keys[1:]...)
		c.Put(ctxFor(t), e, old, time.Hour)
		if got := c.Get(ctxFor(t), inst); got.Status == cache.Hit {
			t.Errorf("%+v, generations missing: a value computed before it was served after it", p)
		}
	}
}

// testGenCreatedMeanwhile: a lookup that finds a generation missing, which
// another process writes before the lookup creates it, is not stored.
func testGenCreatedMeanwhile(t *testing.T, b cache.Backend) {
	s := &spy{Backend: b}
	c := newCacheOver(t, s)
	inst := order("5", "open", "")
	keys := s.keysOf(t, c, inst)
	for i, k := range keys[1:] {
		s.del(t, k)
		s.mu.Lock()
		s.afterRead = func([]string) {
			if err := b.SetPermanent(context.Background(), k, []byte("purged!!")); err != nil {
				t.Error(err)
			}
		}
		s.mu.Unlock()
		e := c.Get(ctxFor(t), inst)
		s.mu.Lock()
		s.afterRead = nil
		s.mu.Unlock()
		if e.Status != cache.Miss {
			t.Fatalf("generation %d missing: %s, want miss", i, e.Status)
		}
		c.Put(ctxFor(t), e, []byte("stale"), time.Hour)
		if got := c.Get(ctxFor(t), inst); got.Status == cache.Hit {
			t.Errorf("generation %d created by another meanwhile: the value was stored and served", i)
		}
		fill(t, c, inst)
	}
}

// genTTL is the GenerationTTL of testGenerationExpiry.
const genTTL = 400 * time.Millisecond

// testGenerationExpiry: the generations of a parameter's value and of a
// caller are created with an expiry (Options.GenerationTTL), so that a
// lookup that stores nothing (a fetch that failed) leaves nothing lasting;
// those of the context and of a parameter's lack are created without one.
// A store extends the expiring ones it is stored under to outlive the
// entry. And a generation that expires, whichever, makes the next lookup a
// miss that stores fresh data, never a hit of the entry stored before.
func testGenerationExpiry(t *testing.T, b cache.Backend) {
	s := &spy{Backend: b}
	c, w := newAdmissionCache(t, s, cache.Options{GenerationTTL: genTTL})
	// user_id=5 (a value), status lacking, caller 7.
	inst := order("5", "", "7")
	keys := s.keysOf(t, c, inst) // a lookup whose fetch fails: no Put
	if len(keys) != 5 {
		t.Fatalf("a lookup of %+v reads %q, want the entry and 4 generations", inst, keys)
	}
	lasting, mortal := keys[1:3], keys[3:5] // context, status lacking; user_id=5, caller 7
	w.mu.Lock()
	for _, k := range keys[1:] {
		ttl, ok := w.gens[k]
		want := time.Duration(0)
		if slices.Contains(mortal, k) {
			want = genTTL
		}
		switch {
		case !ok:
			t.Errorf("generation %q was not created by the lookup that found it missing", k)
		case ttl != want:
			t.Errorf("generation %q created with TTL %v, want %v", k, ttl, want)
		}
	}
	w.mu.Unlock()
	for _, k := range mortal {
		if !waitAbsent(t, b, k, genTTL+expiryWait) {
			t.Errorf("generation %q of a lookup that stored nothing is still there %v after GenerationTTL %v", k, expiryWait, genTTL)
		}
	}
	for i, v := range getMulti(t, b, lasting...) {
		if v == nil {
			t.Errorf("generation %q (of the context or a parameter's lack) expired", lasting[i])
		}
	}

	// A store keeps the generations it is stored under as long as the
	// entry: past GenerationTTL, still a hit.
	fill(t, c, inst)
	w.mu.Lock()
	if got := w.extended[keys[0]]; !slices.Equal(got, mortal) {
		t.Errorf("the store extended %q, want the expiring generations %q", got, mortal)
	}
	w.mu.Unlock()
	time.Sleep(2 * genTTL)
	expect(t, c, "past GenerationTTL after a store", true, inst)

	// Each generation expiring (its value kept until then, as Redis's
	// PEXPIRE 1 would leave it): the next lookup is a miss, which stores
	// the fresh value, then a hit of it.
	for i, k := range keys[1:] {
		cur := getMulti(t, b, k)[0]
		if cur == nil {
			t.Fatalf("generation %d (%q) is absent before its expiry", i, k)
		}
		if err := b.Set(ctxFor(t), k, cur, time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if !waitAbsent(t, b, k, expiryWait) {
			t.Fatalf("generation %q set to expire in 1ms is still there", k)
		}
		e := c.Get(ctxFor(t), inst)
		if e.Status != cache.Miss {
			t.Fatalf("generation %d (%q) expired: the lookup is a %s %q, want a miss", i, k, e.Status, e.Value)
		}
		fresh := fmt.Appendf(nil, "fresh after generation %d expired", i)
		c.Put(ctxFor(t), e, fresh, time.Hour)
		if got := c.Get(ctxFor(t), inst); got.Status != cache.Hit || !bytes.Equal(got.Value, fresh) {
			t.Errorf("generation %d expired, then a store: %s %q, want a hit of %q", i, got.Status, got.Value, fresh)
		}
		// Recreated as it was: expiring or not.
		w.mu.Lock()
		ttl := w.gens[k]
		w.mu.Unlock()
		if want := time.Duration(0); slices.Contains(mortal, k) && ttl != genTTL || !slices.Contains(mortal, k) && ttl != want {
			t.Errorf("generation %q recreated with TTL %v", k, ttl)
		}
	}
}
