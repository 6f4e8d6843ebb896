package cache_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mizan-afi/mizan/cache"
	"github.com/mizan-afi/mizan/cache/cachetest"
)

func TestMemoryBackend(t *testing.T) {
	cachetest.TestBackend(t, func(t *testing.T) cache.Backend {
		m := cache.NewMemory(cache.MemoryOptions{})
		t.Cleanup(func() { _ = m.Close() })
		return m
	})
}

// clock is a settable time source for [cache.MemoryOptions.Now].
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// present returns which of keys m holds, as a string like "a c".
func present(t *testing.T, m *cache.Memory, keys ...string) string {
	t.Helper()
	vals, err := m.GetMulti(context.Background(), keys...)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i, v := range vals {
		if v != nil {
			got = append(got, keys[i])
		}
	}
	return strings.Join(got, " ")
}

func put(t *testing.T, m *cache.Memory, key string, size int) {
	t.Helper()
	if err := m.Set(context.Background(), key, make([]byte, size), 0); err != nil {
		t.Fatal(err)
	}
}

func TestMemoryEvictsLeastRecentlyUsedByCount(t *testing.T) {
	m := cache.NewMemory(cache.MemoryOptions{MaxEntries: 3})
	for _, k := range []string{"a", "b", "c"} {
		put(t, m, k, 1)
	}
	// Reading a makes b the least recently used.
	if got := present(t, m, "a"); got != "a" {
		t.Fatalf("before eviction: got %q", got)
	}
	put(t, m, "d", 1)
	if got, want := present(t, m, "a", "b", "c", "d"), "a c d"; got != want {
		t.Errorf("after adding d: present %q, want %q", got, want)
	}
	if m.Len() != 3 {
		t.Errorf("Len = %d, want 3", m.Len())
	}
	// Overwriting c makes it recent: a goes next.
	put(t, m, "c", 1)
	put(t, m, "e", 1)
	if got, want := present(t, m, "a", "c", "d", "e"), "c d e"; got != want {
		t.Errorf("after adding e: present %q, want %q", got, want)
	}
	// A read of an absent key evicts nothing.
	present(t, m, "zz")
	if m.Len() != 3 {
		t.Errorf("Len = %d, want 3", m.Len())
	}
}

func TestMemoryEvictsByBytes(t *testing.T) {
	// Each entry costs len(key)+len(value) = 1+24 = 25 bytes: four fit in 100.
	m := cache.NewMemory(cache.MemoryOptions{MaxBytes: 100})
	for _, k := range []string{"a", "b", "c", "d"} {
		put(t, m, k, 24)
	}
	if got, want := present(t, m, "a", "b", "c", "d"), "a b c d"; got != want {
		t.Fatalf("four entries of 25 bytes in 100: present %q, want %q", got, want)
	}
	// a is now the most recently used; b the least. One more byte evicts b.
	present(t, m, "a")
	put(t, m, "e", 0)
	if got, want := present(t, m, "a", "b", "c", "d", "e"), "a c d e"; got != want {
		t.Errorf("after a 1-byte entry: present %q, want %q", got, want)
	}
	// A big entry pushes out as many of the least recently used as it needs
	// (the read above left them in the order e d c a): with 60 bytes, only
	// d and e fit.
	put(t, m, "f", 59)
	if got, want := present(t, m, "a", "c", "d", "e", "f"), "d e f"; got != want {
		t.Errorf("after a 60-byte entry: present %q, want %q", got, want)
	}
	// Shrinking an entry by overwriting it frees its bytes.
	put(t, m, "f", 0)
	for _, k := range []string{"g", "h", "i"} {
		put(t, m, k, 24)
	}
	if got, want := present(t, m, "e", "f", "g", "h", "i"), "e f g h i"; got != want {
		t.Errorf("after shrinking f: present %q, want %q", got, want)
	}
	// Deleting frees bytes too.
	if err := m.Delete(context.Background(), "g", "h"); err != nil {
		t.Fatal(err)
	}
	put(t, m, "j", 24)
	put(t, m, "k", 24)
	if got, want := present(t, m, "e", "f", "i", "j", "k"), "e f i j k"; got != want {
		t.Errorf("after deleting two: present %q, want %q", got, want)
	}
	// An entry bigger than the bound is not kept.
	put(t, m, "huge", 200)
	if got := present(t, m, "huge"); got != "" {
		t.Errorf("an entry over MaxBytes was kept")
	}
}

func TestMemoryTTL(t *testing.T) {
	clk := newClock()
	m := cache.NewMemory(cache.MemoryOptions{DefaultTTL: time.Hour, Now: clk.Now})
	ctx := context.Background()
	set := func(k string, ttl time.Duration) {
		t.Helper()
		if err := m.Set(ctx, k, []byte(k), ttl); err != nil {
			t.Fatal(err)
		}
	}
	set("ten", 10*time.Second)
	set("default", 0)
	set("negative", -time.Second) // taken as the default
	set("renewed", 10*time.Second)
	if err := m.SetPermanent(ctx, "gen", []byte("g")); err != nil {
		t.Fatal(err)
	}
	all := []string{"ten", "default", "negative", "renewed", "gen"}

	clk.Advance(9 * time.Second)
	set("renewed", 10*time.Second) // expires at 19s now
	if got, want := present(t, m, all...), "ten default negative renewed gen"; got != want {
		t.Errorf("at 9s: present %q, want %q", got, want)
	}
	clk.Advance(time.Second) // 10s: an entry expires at exactly its TTL
	if got, want := present(t, m, all...), "default negative renewed gen"; got != want {
		t.Errorf("at 10s: present %q, want %q", got, want)
	}
	if m.Len() != 4 {
		t.Errorf("Len after reading an expired entry = %d, want 4 (it is dropped)", m.Len())
	}
	clk.Advance(9 * time.Second) // 19s
	if got, want := present(t, m, all...), "default negative gen"; got != want {
		t.Errorf("at 19s: present %q, want %q", got, want)
	}
	clk.Advance(time.Hour - 19*time.Second - time.Nanosecond)
	if got, want := present(t, m, all...), "default negative gen"; got != want {
		t.Errorf("just before 1h: present %q, want %q", got, want)
	}
	clk.Advance(time.Nanosecond)
	if got, want := present(t, m, all...), "gen"; got != want {
		t.Errorf("at 1h (the default TTL): present %q, want %q", got, want)
	}
	clk.Advance(100 * 365 * 24 * time.Hour)
	if got, want := present(t, m, all...), "gen"; got != want {
		t.Errorf("a century later: present %q, want %q", got, want)
	}
	// SetPermanent over an entry with a TTL removes the TTL.
	set("x", time.Second)
	if err := m.SetPermanent(ctx, "x", []byte("x")); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	if got := present(t, m, "x"); got != "x" {
		t.Errorf("SetPermanent over a TTL entry: it expired")
	}
}

func TestMemoryDefaultsAndInProcess(t *testing.T) {
	clk := newClock()
	m := cache.NewMemory(cache.MemoryOptions{Now: clk.Now})
	if !m.InProcess() {
		t.Error("InProcess = false, want true")
	}
	put(t, m, "k", 1)
	clk.Advance(24*time.Hour - time.Second)
	if present(t, m, "k") != "k" {
		t.Error("an entry with ttl 0 expired before 24h")
	}
	clk.Advance(time.Second)
	if present(t, m, "k") != "" {
		t.Error("an entry with ttl 0 outlived the 24h default")
	}
	for i := range 10_001 {
		put(t, m, string(rune('a'+i%26))+strings.Repeat("x", i/26), 0)
	}
	if m.Len() != 10_000 {
		t.Errorf("Len after 10,001 entries = %d, want the default bound 10,000", m.Len())
	}
}

// Set's extend, by the clock: a key that would expire before the entry
// gets its expiry; one that expires later, or never, keeps its own; an
// absent or expired one stays absent; SetNX with a TTL expires.
func TestMemoryExtend(t *testing.T) {
	clk := newClock()
	m := cache.NewMemory(cache.MemoryOptions{DefaultTTL: time.Hour, Now: clk.Now})
	ctx := context.Background()
	nx := func(k string, ttl time.Duration) {
		t.Helper()
		if ok, err := m.SetNX(ctx, k, []byte(k), ttl); !ok || err != nil {
			t.Fatalf("SetNX(%q, %v) = %v, %v", k, ttl, ok, err)
		}
	}
	nx("short", time.Minute)
	nx("long", 2*time.Hour)
	nx("never", 0)
	nx("gone", time.Second)
	clk.Advance(time.Second) // "gone" expires
	if err := m.Set(ctx, "entry", []byte("e"), 0, "short", "long", "never", "gone", "absent"); err != nil {
		t.Fatal(err)
	}
	all := []string{"entry", "short", "long", "never", "gone", "absent"}
	if got, want := present(t, m, all...), "entry short long never"; got != want {
		t.Errorf("after the store: present %q, want %q", got, want)
	}
	clk.Advance(time.Hour - time.Nanosecond) // the default TTL of the entry, less 1ns
	if got, want := present(t, m, all...), "entry short long never"; got != want {
		t.Errorf("just before the entry expires: present %q, want %q", got, want)
	}
	clk.Advance(time.Nanosecond)
	if got, want := present(t, m, all...), "long never"; got != want {
		t.Errorf("when the entry expires: present %q, want %q (the extended key with it)", got, want)
	}
	clk.Advance(time.Hour)
	if got, want := present(t, m, all...), "never"; got != want {
		t.Errorf("at 2h: present %q, want %q", got, want)
	}
	// A shorter store does not shorten.
	nx("kept", time.Hour)
	if err := m.Set(ctx, "brief", []byte("b"), time.Minute, "kept"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	if got, want := present(t, m, "brief", "kept"), "kept"; got != want {
		t.Errorf("after a shorter store: present %q, want %q", got, want)
	}
}
