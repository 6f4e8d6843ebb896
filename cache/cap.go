package cache

import (
	"encoding/binary"
	"math"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxEntriesPerContext is the default [Options.MaxEntriesPerContext]:
// about 46 MB of the fixture's bundles (some 460 bytes an entry with its
// generation, in Redis) per context and process, ten times the memory
// backend's default size, and above what a context stores in a day unless
// more than one new instance a second of it is asked for all day.
const DefaultMaxEntriesPerContext = 100_000

// defaultEntryTTL is the lifetime the cap counts for a Put with a zero TTL
// when the backend does not say its default (both backends' default).
const defaultEntryTTL = 24 * time.Hour

// maxHeld bounds the contexts counted on their own; further contexts share
// one count (contexts are the app's, so there are few).
const maxHeld = 1024

// capWarnEvery rate-limits the warning that a context holds its cap.
const capWarnEvery = time.Hour

// held counts the entries one context stored in this process that have not
// expired yet, in buckets by expiry: no memory per entry. An entry stored
// for ttl is counted in the bucket that ends at its expiry rounded up to a
// power of two seconds no shorter than ttl/64, so it is counted at most
// 1/64 of its TTL longer than it lives, and one TTL fills at most 65
// buckets.
//
// It counts the stores of entries the lookup found absent: one that
// replaces an entry (stored again after a scoped purge) adds none. A
// broad purge (a new context generation) resets the count, since its
// cleanup removes the context's entries.
type held struct {
	mu      sync.Mutex
	n       int             // entries counted, in all buckets
	buckets map[int64]int32 // bucket end (Unix seconds) → entries expiring by then
	next    int64           // the earliest bucket end
	warned  time.Time       // of the last warning

	gen    atomic.Uint64 // the context generation last seen (0: none, or missing)
	shared bool          // of the contexts beyond maxHeld: never reset
}

func newHeld() *held { return &held{buckets: map[int64]int32{}, next: math.MaxInt64} }

// expireLocked drops the buckets that ended by now.
func (h *held) expireLocked(now int64) {
	if now < h.next {
		return
	}
	h.next = math.MaxInt64
	for end, k := range h.buckets {
		if end <= now {
			h.n -= int(k)
			delete(h.buckets, end)
		} else if end < h.next {
			h.next = end
		}
	}
}

// full reports whether the context holds max entries at now, and whether
// to log that it does (at most once every capWarnEvery).
func (h *held) full(now time.Time, max int) (full, warn bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.expireLocked(now.Unix())
	if h.n < max {
		return false, false
	}
	if now.Sub(h.warned) >= capWarnEvery {
		h.warned = now
		return true, true
	}
	return true, false
}

// add counts an entry stored at now for ttl, unless the context holds max
// entries already, and reports whether it did.
func (h *held) add(now time.Time, ttl time.Duration, max int) bool {
	s := now.Unix()
	g := int64(1)
	if q := int64(ttl / time.Second / 64); q > 1 {
		g = 1 << bits.Len64(uint64(q-1)) // a power of two ≥ ttl/64
	}
	exp := now.Add(ttl)
	end := exp.Unix()
	if exp.Nanosecond() > 0 {
		end++
	}
	end = (end + g - 1) / g * g
	h.mu.Lock()
	defer h.mu.Unlock()
	h.expireLocked(s)
	if h.n >= max {
		return false
	}
	h.n++
	h.buckets[end]++
	h.next = min(h.next, end)
	return true
}

// observe records the context generation a lookup read (nil or not a
// generation: missing). A generation that differs from the one seen
// before, or a missing one, means a broad purge (or its loss): the
// context's entries are unreachable and the purge's cleanup removes them,
// so the count starts again.
func (h *held) observe(gen []byte) {
	if h.shared {
		return
	}
	var g uint64
	if len(gen) == genLen {
		g = binary.LittleEndian.Uint64(gen) | 1 // never 0
	}
	old := h.gen.Load()
	if old == g || !h.gen.CompareAndSwap(old, g) || old == 0 {
		return // unchanged, or first seen (nothing counted before it)
	}
	h.mu.Lock()
	clear(h.buckets)
	h.n, h.next = 0, math.MaxInt64
	h.mu.Unlock()
}

// count returns the entries counted at now.
func (h *held) count(now time.Time) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.expireLocked(now.Unix())
	return h.n
}

// entryCap applies [Options.MaxEntriesPerContext].
type entryCap struct {
	max        int           // ≤ 0: no cap
	drop       bool          // at the cap, store nothing (tests: the alternative measured)
	defaultTTL time.Duration // of a Put with a zero TTL

	held   sync.Map // context name → *held
	nheld  atomic.Int32
	shared *held
}

func newEntryCap(o Options) *entryCap {
	c := &entryCap{max: o.MaxEntriesPerContext, defaultTTL: defaultEntryTTL, shared: newHeld()}
	c.shared.shared = true
	switch {
	case c.max == 0:
		c.max = DefaultMaxEntriesPerContext
	case c.max < 0:
		c.max = 0
	}
	if d, ok := o.Backend.(interface{ DefaultTTL() time.Duration }); ok && d.DefaultTTL() > 0 {
		c.defaultTTL = d.DefaultTTL()
	}
	return c
}

func (c *entryCap) of(context string) *held {
	if h, ok := c.held.Load(context); ok {
		return h.(*held)
	}
	if c.nheld.Load() >= maxHeld {
		return c.shared
	}
	h, loaded := c.held.LoadOrStore(context, newHeld())
	if !loaded {
		c.nheld.Add(1)
	}
	return h.(*held)
}

// held returns how many entries of context the cache counts against its
// cap now (for tests).
func (c *Cache) held(context string) int { return c.cap.of(context).count(c.adm.now()) }
