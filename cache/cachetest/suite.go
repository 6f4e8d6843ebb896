// Package cachetest is the behavioural suite every [cache.Backend] must
// pass. A backend's tests call [TestBackend] with a constructor:
//
//	func TestSuite(t *testing.T) {
//		cachetest.TestBackend(t, func(t *testing.T) cache.Backend {
//			b := mybackend.New(...)
//			t.Cleanup(func() { b.Close() })
//			return b
//		})
//	}
//
// [TestCache] runs the origin cache's own guarantees over a backend made the
// same way, and [Stress] runs mutations and reads against caches over
// backends and counts stale reads.
package cachetest

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mizan-afi/mizan/cache"
)

// Timing of the suite. Redis expires with millisecond precision; the TTL
// leaves room for a slow (race-detector) run between write and first read.
const (
	shortTTL = 1100 * time.Millisecond
	// expiryWait bounds how long after shortTTL an entry may still be seen.
	expiryWait = time.Second
	// prompt is how soon an operation must return once its context is done.
	prompt = 250 * time.Millisecond
)

// prefixKeys is how many keys the broad purge test deletes: more than two
// SCAN batches of a Redis backend.
const prefixKeys = 2600

// TestBackend runs the suite against backends made by newBackend, called
// once per subtest. Each backend must start empty (or at least see no key
// written by another subtest, e.g. through its own key prefix), and
// newBackend registers with t.Cleanup whatever releases it. Some subtests
// run in parallel, so backends from one newBackend must not share keys.
func TestBackend(t *testing.T, newBackend func(t *testing.T) cache.Backend) {
	t.Run("GetMissing", func(t *testing.T) { testGetMissing(t, newBackend(t)) })
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, newBackend(t)) })
	t.Run("Overwrite", func(t *testing.T) { testOverwrite(t, newBackend(t)) })
	t.Run("SetNX", func(t *testing.T) { testSetNX(t, newBackend(t)) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, newBackend(t)) })
	t.Run("DeletePrefix", func(t *testing.T) { testDeletePrefix(t, newBackend(t)) })
	t.Run("DeletePrefixGlob", func(t *testing.T) { testDeletePrefixGlob(t, newBackend(t)) })
	t.Run("Ping", func(t *testing.T) { testPing(t, newBackend(t)) })
	t.Run("ContextDone", func(t *testing.T) { testContextDone(t, newBackend(t)) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, newBackend(t)) })
	// The three that wait for an expiry run side by side.
	t.Run("TTL", func(t *testing.T) {
		t.Parallel()
		testTTL(t, newBackend(t))
	})
	t.Run("SetPermanent", func(t *testing.T) {
		t.Parallel()
		testSetPermanent(t, newBackend(t))
	})
	t.Run("Extend", func(t *testing.T) {
		t.Parallel()
		testExtend(t, newBackend(t))
	})
}

// ctxFor returns a context bounded well above any healthy operation.
func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func set(t *testing.T, b cache.Backend, key, value string, ttl time.Duration) {
	t.Helper()
	if err := b.Set(ctxFor(t), key, []byte(value), ttl); err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
}

func setPermanent(t *testing.T, b cache.Backend, key, value string) {
	t.Helper()
	if err := b.SetPermanent(ctxFor(t), key, []byte(value)); err != nil {
		t.Fatalf("SetPermanent(%q): %v", key, err)
	}
}

func getMulti(t *testing.T, b cache.Backend, keys ...string) [][]byte {
	t.Helper()
	vals, err := b.GetMulti(ctxFor(t), keys...)
	if err != nil {
		t.Fatalf("GetMulti(%d keys): %v", len(keys), err)
	}
	if len(vals) != len(keys) {
		t.Fatalf("GetMulti(%d keys) returned %d values", len(keys), len(vals))
	}
	return vals
}

// want checks that keys hold the given values, "" meaning absent (use
// wantBytes for empty values).
func want(t *testing.T, b cache.Backend, kv ...string) {
	t.Helper()
	var keys []string
	var vals [][]byte
	for i := 0; i < len(kv); i += 2 {
		keys = append(keys, kv[i])
		if kv[i+1] != "" {
			vals = append(vals, []byte(kv[i+1]))
		} else {
			vals = append(vals, nil)
		}
	}
	wantBytes(t, b, keys, vals)
}

func wantBytes(t *testing.T, b cache.Backend, keys []string, vals [][]byte) {
	t.Helper()
	got := getMulti(t, b, keys...)
	for i, k := range keys {
		switch {
		case vals[i] == nil && got[i] != nil:
			t.Errorf("key %q: got %s, want absent", k, show(got[i]))
		case vals[i] != nil && got[i] == nil:
			t.Errorf("key %q: absent, want %s", k, show(vals[i]))
		case !bytes.Equal(got[i], vals[i]):
			t.Errorf("key %q: got %s, want %s", k, show(got[i]), show(vals[i]))
		}
	}
}

func show(v []byte) string {
	if len(v) > 40 {
		return fmt.Sprintf("%q... (%d bytes)", v[:40], len(v))
	}
	return fmt.Sprintf("%q", v)
}

func testGetMissing(t *testing.T, b cache.Backend) {
	vals, err := b.GetMulti(ctxFor(t))
	if err != nil || len(vals) != 0 {
		t.Errorf("GetMulti() = %d values, %v; want 0, nil", len(vals), err)
	}
	want(t, b, "ctx:a:1", "", "gen:ctx:a", "", "gen:ctx:a:1", "")
	// Present and absent keys mixed, in any order, repeated.
	set(t, b, "k2", "two", 0)
	set(t, b, "k4", "four", 0)
	want(t, b, "k1", "", "k2", "two", "k3", "", "k4", "four", "k2", "two", "k5", "")
	want(t, b, "k4", "four", "k1", "", "k2", "two")
	// The keys are the caller's: the cache passes slices it reuses.
	keys := []string{"k1", "k2", "k4"}
	getMulti(t, b, keys...)
	if keys[0] != "k1" || keys[1] != "k2" || keys[2] != "k4" {
		t.Errorf("GetMulti modified its keys: %q", keys)
	}
}

func testRoundTrip(t *testing.T, b cache.Backend) {
	big := make([]byte, 256<<10)
	for i := range big {
		big[i] = byte(rand.IntN(256))
	}
	cases := []struct {
		key   string
		value []byte
	}{
		{"ctx:user:0123abcd", []byte(`{"user":{"id":5,"name":"Ann"}}`)},
		{"zero bytes", []byte{0, 0, 'a', 0, 0xff, 0xfe, '\r', '\n', 0}},
		{"invalid utf-8", []byte{0xc3, 0x28, 0xa0, 0xa1, 0x80}},
		{"empty value", []byte{}},
		{"big", big},
		{"key with spaces, ünïcödé and *?[glob]\\", []byte("odd key")},
		{"k\x00nul", []byte("nul in key")},
	}
	for _, c := range cases {
		v := bytes.Clone(c.value)
		if err := b.Set(ctxFor(t), c.key, v, 0); err != nil {
			t.Fatalf("Set(%q): %v", c.key, err)
		}
		// The backend keeps its own copy.
		for i := range v {
			v[i] ^= 0x55
		}
	}
	keys := make([]string, len(cases))
	vals := make([][]byte, len(cases))
	for i, c := range cases {
		keys[i], vals[i] = c.key, c.value
	}
	wantBytes(t, b, keys, vals)
	got := getMulti(t, b, "empty value")
	if got[0] == nil {
		t.Errorf("an empty value reads back as absent (nil), want a non-nil empty slice")
	}
}

func testOverwrite(t *testing.T, b cache.Backend) {
	set(t, b, "k", "first, a longer value", 0)
	set(t, b, "k", "second", 0)
	want(t, b, "k", "second")
	setPermanent(t, b, "k", "third")
	want(t, b, "k", "third")
	set(t, b, "k", "fourth", time.Hour)
	want(t, b, "k", "fourth")
}

// setNX is SetNX without expiry.
func setNX(t *testing.T, b cache.Backend, key, value string) bool {
	t.Helper()
	return setNXFor(t, b, key, value, 0)
}

func setNXFor(t *testing.T, b cache.Backend, key, value string, ttl time.Duration) bool {
	t.Helper()
	ok, err := b.SetNX(ctxFor(t), key, []byte(value), ttl)
	if err != nil {
		t.Fatalf("SetNX(%q, %v): %v", key, ttl, err)
	}
	return ok
}

func testSetNX(t *testing.T, b cache.Backend) {
	if !setNX(t, b, "gen:a", "g1") {
		t.Error("SetNX of an absent key: false, want true")
	}
	if setNX(t, b, "gen:a", "g2") {
		t.Error("SetNX of a present key: true, want false")
	}
	if setNXFor(t, b, "gen:a", "g3", time.Hour) {
		t.Error("SetNX with a TTL of a present key: true, want false")
	}
	if !setNXFor(t, b, "gen:t", "t1", time.Hour) {
		t.Error("SetNX with a TTL of an absent key: false, want true")
	}
	if setNX(t, b, "gen:t", "t2") {
		t.Error("SetNX of a key set with a TTL: true, want false")
	}
	want(t, b, "gen:t", "t1")
	want(t, b, "gen:a", "g1")
	// Whatever the key holds, and however it was written.
	set(t, b, "ttl", "t", time.Hour)
	setPermanent(t, b, "perm", "p")
	if err := b.Set(ctxFor(t), "empty", []byte{}, time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"ttl", "perm", "empty"} {
		if setNX(t, b, k, "new") {
			t.Errorf("SetNX over %q: true, want false", k)
		}
	}
	want(t, b, "ttl", "t", "perm", "p")
	// A deleted key is absent again; binary values round-trip.
	if err := b.Delete(ctxFor(t), "gen:a"); err != nil {
		t.Fatal(err)
	}
	bin := string([]byte{0, 0xff, 0, '\n', 0x80})
	if !setNX(t, b, "gen:a", bin) {
		t.Error("SetNX after Delete: false, want true")
	}
	want(t, b, "gen:a", bin)
	// Racing writers: exactly one wins, and its value is the one stored.
	const racers = 16
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []string
	)
	ctx := ctxFor(t)
	for i := range racers {
		wg.Go(func() {
			v := fmt.Sprintf("racer %d", i)
			ok, err := b.SetNX(ctx, "gen:race", []byte(v), time.Hour)
			if err != nil {
				t.Errorf("SetNX: %v", err)
				return
			}
			if ok {
				mu.Lock()
				winners = append(winners, v)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("%d of %d racing SetNX won, want 1: %q", len(winners), racers, winners)
	}
	want(t, b, "gen:race", winners[0])
}

func testDelete(t *testing.T, b cache.Backend) {
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		set(t, b, k, "v"+k, 0)
	}
	setPermanent(t, b, "gen:a", "g")
	ctx := ctxFor(t)
	if err := b.Delete(ctx, "a", "c", "absent", "gen:a"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	want(t, b, "a", "", "b", "vb", "c", "", "d", "vd", "e", "ve", "gen:a", "")
	if err := b.Delete(ctx, "e"); err != nil {
		t.Fatalf("Delete one: %v", err)
	}
	if err := b.Delete(ctx); err != nil {
		t.Errorf("Delete(no keys): %v", err)
	}
	if err := b.Delete(ctx, "absent", "e"); err != nil {
		t.Errorf("Delete(absent keys): %v", err)
	}
	want(t, b, "b", "vb", "d", "vd", "e", "")
}

func testDeletePrefix(t *testing.T, b cache.Backend) {
	doomed := make([]string, prefixKeys)
	for i := range doomed {
		doomed[i] = fmt.Sprintf("ctx:user:%064x", i)
	}
	// Keys that must survive: other contexts, a context whose name extends
	// the purged one, the purged name without its colon, generations.
	survivors := []string{
		"ctx:user2:1", "ctx:users:1", "ctx:user", "ctx:use:1", "gen:ctx:user",
		"gen:ctx:user:1", "xctx:user:1", "Ctx:user:1", "ctx:other:ctx:user:1",
	}
	writeAll(t, b, doomed)
	writeAll(t, b, survivors)
	if err := b.DeletePrefix(ctxFor(t), "ctx:user:"); err != nil {
		t.Fatalf("DeletePrefix: %v", err)
	}
	left := 0
	for chunk := range slicesChunk(doomed, 500) {
		for i, v := range getMulti(t, b, chunk...) {
			if v != nil {
				left++
				if left <= 3 {
					t.Errorf("key %q survived DeletePrefix(%q)", chunk[i], "ctx:user:")
				}
			}
		}
	}
	if left > 0 {
		t.Errorf("%d of %d keys with the prefix survived", left, len(doomed))
	}
	for i, v := range getMulti(t, b, survivors...) {
		if string(v) != survivors[i] {
			t.Errorf("key %q without the prefix: got %s, want it kept", survivors[i], show(v))
		}
	}
	// Nothing to delete is not an error; the purged keys can be written again.
	if err := b.DeletePrefix(ctxFor(t), "ctx:nothing:"); err != nil {
		t.Errorf("DeletePrefix of an unused prefix: %v", err)
	}
	set(t, b, doomed[0], "again", 0)
	want(t, b, doomed[0], "again")
}

// slicesChunk yields s in chunks of at most n.
func slicesChunk(s []string, n int) func(func([]string) bool) {
	return func(yield func([]string) bool) {
		for len(s) > 0 {
			c := s[:min(n, len(s))]
			s = s[len(c):]
			if !yield(c) {
				return
			}
		}
	}
}

// writeAll stores each key with itself as value, from a few goroutines.
func writeAll(t *testing.T, b cache.Backend, keys []string) {
	t.Helper()
	ctx := ctxFor(t)
	const workers = 8
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(keys); i += workers {
				if err := b.Set(ctx, keys[i], []byte(keys[i]), 0); err != nil {
					errs <- fmt.Errorf("Set(%q): %w", keys[i], err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func testDeletePrefixGlob(t *testing.T, b cache.Backend) {
	// Each prefix holds a glob character; the survivor matches the prefix
	// read as a glob pattern but does not start with it literally.
	cases := []struct{ prefix, doomed, survivor string }{
		{"g:a*b:", "g:a*b:1", "g:axyzb:1"},
		{"g:a?c:", "g:a?c:1", "g:abc:1"},
		{"g:[ab]:", "g:[ab]:1", "g:a:1"},
		{"g:[^x]:", "g:[^x]:1", "g:y:1"},
		{`g:x\y:`, `g:x\y:1`, "g:xy:1"},
		{"g:]:", "g:]:1", "g:):1"},
		{"h:*", "h:*x", "h:y"},
	}
	var keys []string
	for _, c := range cases {
		keys = append(keys, c.doomed, c.survivor)
	}
	writeAll(t, b, keys)
	for _, c := range cases {
		if err := b.DeletePrefix(ctxFor(t), c.prefix); err != nil {
			t.Fatalf("DeletePrefix(%q): %v", c.prefix, err)
		}
	}
	for _, c := range cases {
		got := getMulti(t, b, c.doomed, c.survivor)
		if got[0] != nil {
			t.Errorf("DeletePrefix(%q) left %q", c.prefix, c.doomed)
		}
		if got[1] == nil {
			t.Errorf("DeletePrefix(%q) removed %q, which does not start with it", c.prefix, c.survivor)
		}
	}
}

func testPing(t *testing.T, b cache.Backend) {
	if err := b.Ping(ctxFor(t)); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

// inProcess reports whether b does no I/O ([cache.Memory]): it may then
// complete an operation whatever its context, since it cannot block.
func inProcess(b cache.Backend) bool {
	l, ok := b.(interface{ InProcess() bool })
	return ok && l.InProcess()
}

func testContextDone(t *testing.T, b cache.Backend) {
	keys := make([]string, 50)
	for i := range keys {
		keys[i] = fmt.Sprintf("ctx:c:%d", i)
	}
	writeAll(t, b, keys)
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	expired, cancel2 := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel2()
	ops := []struct {
		name string
		do   func(context.Context) error
	}{
		{"GetMulti", func(ctx context.Context) error { _, err := b.GetMulti(ctx, keys...); return err }},
		{"Set", func(ctx context.Context) error { return b.Set(ctx, "ctx:c:new", []byte("v"), 0) }},
		{"SetExtend", func(ctx context.Context) error {
			return b.Set(ctx, "ctx:c:new", []byte("v"), 0, "gen:p:c:1", "gen:u:c:1")
		}},
		{"SetPermanent", func(ctx context.Context) error { return b.SetPermanent(ctx, "gen:ctx:c", []byte("v")) }},
		{"SetNX", func(ctx context.Context) error {
			_, err := b.SetNX(ctx, "gen:ctx:nx", []byte("v"), time.Minute)
			return err
		}},
		{"Delete", func(ctx context.Context) error { return b.Delete(ctx, keys[:10]...) }},
		{"DeletePrefix", func(ctx context.Context) error { return b.DeletePrefix(ctx, "ctx:c:") }},
		{"Ping", func(ctx context.Context) error { return b.Ping(ctx) }},
	}
	for _, ctx := range []struct {
		name string
		ctx  context.Context
	}{{"canceled", canceled}, {"expired", expired}} {
		for _, op := range ops {
			start := time.Now()
			err := op.do(ctx.ctx)
			if d := time.Since(start); d > prompt {
				t.Errorf("%s with a %s context took %v, want under %v", op.name, ctx.name, d, prompt)
			}
			if err == nil && !inProcess(b) {
				t.Errorf("%s with a %s context: no error", op.name, ctx.name)
			}
		}
	}
	// A canceled operation leaves the backend usable.
	set(t, b, "after", "ok", 0)
	want(t, b, "after", "ok")
	if !inProcess(b) {
		// Nothing was deleted by the canceled calls.
		want(t, b, keys[0], keys[0], keys[49], keys[49])
	}
}

func testConcurrent(t *testing.T, b cache.Backend) {
	const (
		workers = 16
		rounds  = 60
	)
	ctx := ctxFor(t)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			fail := func(format string, args ...any) {
				errs <- fmt.Errorf("worker %d: "+format, append([]any{w}, args...)...)
			}
			own := func(i int) string { return fmt.Sprintf("ctx:w%d:%d", w, i) }
			for i := range rounds {
				v := []byte(strings.Repeat(fmt.Sprintf("%d/%d;", w, i), 1+i%7))
				if err := b.Set(ctx, own(i), v, time.Hour); err != nil {
					fail("Set: %v", err)
					return
				}
				// Shared keys everyone writes and reads.
				if err := b.SetPermanent(ctx, fmt.Sprintf("gen:shared:%d", i%4), v); err != nil {
					fail("SetPermanent: %v", err)
					return
				}
				got, err := b.GetMulti(ctx, own(i), "gen:shared:0", own(i+1000), own(i))
				if err != nil {
					fail("GetMulti: %v", err)
					return
				}
				if len(got) != 4 || !bytes.Equal(got[0], v) || !bytes.Equal(got[3], v) || got[2] != nil {
					fail("GetMulti round %d: got %q", i, got)
					return
				}
				if i%3 == 0 {
					if err := b.Delete(ctx, own(i)); err != nil {
						fail("Delete: %v", err)
						return
					}
				}
				if i%20 == 19 {
					if err := b.DeletePrefix(ctx, fmt.Sprintf("ctx:w%d:", w)); err != nil {
						fail("DeletePrefix: %v", err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Each worker's last round ends with a purge of its own keys, which no
	// other worker writes: none may be left.
	var keys []string
	for w := range workers {
		for i := range rounds {
			keys = append(keys, fmt.Sprintf("ctx:w%d:%d", w, i))
		}
	}
	for i, v := range getMulti(t, b, keys...) {
		if v != nil {
			t.Errorf("key %q survived its worker's DeletePrefix", keys[i])
			break
		}
	}
}

func testTTL(t *testing.T, b cache.Backend) {
	set(t, b, "short", "s", shortTTL)
	set(t, b, "long", "l", time.Hour)
	set(t, b, "default", "d", 0)
	// A Set replaces the TTL: renewed outlives shortTTL, shortened does not.
	set(t, b, "renewed", "r1", shortTTL)
	set(t, b, "renewed", "r2", time.Hour)
	set(t, b, "shortened", "x1", time.Hour)
	set(t, b, "shortened", "x2", shortTTL)
	want(t, b, "short", "s", "long", "l", "default", "d", "renewed", "r2", "shortened", "x2")

	for _, k := range []string{"short", "shortened"} {
		if !waitAbsent(t, b, k, shortTTL+expiryWait) {
			t.Fatalf("entry %q set with ttl %v is still there %v later", k, shortTTL, shortTTL+expiryWait)
		}
	}
	want(t, b, "short", "", "shortened", "", "long", "l", "default", "d", "renewed", "r2")
}

func testSetPermanent(t *testing.T, b cache.Backend) {
	setPermanent(t, b, "gen:ctx:a", "g1")
	// SetPermanent over an entry with a TTL removes the TTL.
	set(t, b, "gen:ctx:b", "old", shortTTL)
	setPermanent(t, b, "gen:ctx:b", "g2")
	// SetNX with no TTL stores without expiry too.
	if !setNX(t, b, "gen:ctx:nx", "g3") {
		t.Fatal("SetNX of an absent key: false")
	}
	// A key that expires, and is then absent for SetNX.
	set(t, b, "gen:ctx:expiring", "old", shortTTL)
	// SetNX with a TTL expires like Set; a long one does not meanwhile.
	if !setNXFor(t, b, "gen:p:nx", "g4", shortTTL) || !setNXFor(t, b, "gen:p:long", "g5", time.Hour) {
		t.Fatal("SetNX with a TTL of an absent key: false")
	}
	// The control: an entry with a TTL, which must expire meanwhile.
	set(t, b, "control", "c", shortTTL)
	if !waitAbsent(t, b, "control", shortTTL+expiryWait) {
		t.Fatalf("the control entry with ttl %v did not expire", shortTTL)
	}
	want(t, b, "gen:ctx:a", "g1", "gen:ctx:b", "g2", "gen:ctx:nx", "g3", "gen:p:long", "g5")
	if !waitAbsent(t, b, "gen:ctx:expiring", expiryWait) {
		t.Fatalf("the entry with ttl %v did not expire", shortTTL)
	}
	if !waitAbsent(t, b, "gen:p:nx", expiryWait) {
		t.Fatalf("the key SetNX stored with ttl %v did not expire", shortTTL)
	}
	if !setNX(t, b, "gen:ctx:expiring", "new") {
		t.Error("SetNX of an expired key: false, want true")
	}
	if !setNXFor(t, b, "gen:p:nx", "new", time.Hour) {
		t.Error("SetNX with a TTL of a key that expired: false, want true")
	}
	want(t, b, "gen:ctx:expiring", "new", "gen:p:nx", "new")
}

// testExtend checks Set's extend: each key given that would expire before
// the entry gets the entry's expiry; none is created, shortened, given an
// expiry it lacked, or changed.
func testExtend(t *testing.T, b cache.Backend) {
	// Generations created for a short while, then an entry stored under
	// them for longer: they must outlive shortTTL.
	if !setNXFor(t, b, "gen:p:short", "s", shortTTL/2) {
		t.Fatal("SetNX of an absent key: false")
	}
	set(t, b, "gen:u:short", "u", shortTTL/2)
	set(t, b, "gen:p:long", "l", time.Hour)
	setPermanent(t, b, "gen:c:perm", "p")
	if err := b.Set(ctxFor(t), "ctx:e:long", []byte("e"), 2*shortTTL,
		"gen:p:short", "gen:u:short", "gen:p:long", "gen:c:perm", "gen:p:absent"); err != nil {
		t.Fatalf("Set with extend: %v", err)
	}
	// An entry stored for less than what a key has left: the key keeps it.
	set(t, b, "gen:p:kept", "k", time.Hour)
	if err := b.Set(ctxFor(t), "ctx:e:short", []byte("f"), shortTTL, "gen:p:kept"); err != nil {
		t.Fatalf("Set with extend: %v", err)
	}
	// A key extended to the entry's expiry expires with it.
	set(t, b, "gen:p:with", "w", shortTTL/2)
	if err := b.Set(ctxFor(t), "ctx:e:with", []byte("g"), shortTTL, "gen:p:with"); err != nil {
		t.Fatalf("Set with extend: %v", err)
	}
	want(t, b, "gen:p:short", "s", "gen:u:short", "u", "gen:p:long", "l", "gen:c:perm", "p", "gen:p:absent", "",
		"ctx:e:long", "e", "gen:p:kept", "k", "ctx:e:short", "f", "gen:p:with", "w")
	if !waitAbsent(t, b, "ctx:e:short", shortTTL+expiryWait) {
		t.Fatalf("the entry with ttl %v did not expire", shortTTL)
	}
	if !waitAbsent(t, b, "gen:p:with", expiryWait) {
		t.Errorf("a key extended to an entry's ttl %v outlived it by %v", shortTTL, expiryWait)
	}
	// Past shortTTL: the keys extended to the long entry are still there,
	// so is the one with a longer TTL of its own, and nothing was created.
	want(t, b, "gen:p:short", "s", "gen:u:short", "u", "gen:p:long", "l", "gen:c:perm", "p", "gen:p:absent", "",
		"ctx:e:long", "e", "gen:p:kept", "k")
	// They expire with the long entry, except those with a longer TTL or
	// none.
	if !waitAbsent(t, b, "ctx:e:long", shortTTL+expiryWait) {
		t.Fatal("the long entry did not expire")
	}
	for _, k := range []string{"gen:p:short", "gen:u:short"} {
		if !waitAbsent(t, b, k, expiryWait) {
			t.Errorf("%q, extended to the long entry's expiry, outlived it by %v", k, expiryWait)
		}
	}
	want(t, b, "gen:p:long", "l", "gen:c:perm", "p", "gen:p:kept", "k", "gen:p:absent", "")
}

// waitAbsent polls until key is absent, and reports whether it was within d.
func waitAbsent(t *testing.T, b cache.Backend, key string, d time.Duration) bool {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if getMulti(t, b, key)[0] == nil {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}
