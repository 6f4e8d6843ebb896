package cache

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures a [Cache].
type Options struct {
	// Backend stores the entries. Required.
	Backend Backend
	// Secret keys the HMAC of every cache key; at least [MinSecretLen] bytes.
	Secret []byte
	// Timeout bounds each backend operation; a slower backend is treated as
	// down. Zero means 100ms.
	Timeout time.Duration
	// ProbeInterval is how often a down backend is probed. Zero means 200ms.
	ProbeInterval time.Duration
	// Logger receives state changes (down, recovered). Nil means
	// slog.Default().
	Logger *slog.Logger

	// Admission decides which misses are stored, so that a client asking
	// for ever new instances cannot fill the backend. The zero value is
	// [AdmitAuto]: every miss while a context gets few new instances, then
	// only instances requested again (see [Admission]).
	Admission Admission
	// Doorkeeper is how many recent misses the cache remembers to
	// recognize an instance's second request (AdmitAuto,
	// AdmitSecondRequest), rounded up to a power of two; 8 bytes each, in
	// this process. Zero means [DefaultDoorkeeper], 65,536.
	Doorkeeper int
	// FirstMissRate is, per context, how many instances the doorkeeper
	// does not remember AdmitAuto stores a second (in this process). Zero
	// means [DefaultFirstMissRate], 100.
	FirstMissRate int
	// FirstMissTTL caps the lifetime of an entry AdmitAuto stored at its
	// instance's first miss; the instance's next miss, remembered, stores
	// it for its full TTL. Zero means [DefaultFirstMissTTL], 1 minute.
	FirstMissTTL time.Duration
	// MaxEntriesPerContext bounds the entries of one context this process
	// holds in the backend: it counts those it stored that have not
	// expired (entries stored under a purged generation still occupy the
	// backend until their TTL), and once a context holds the cap, a miss of
	// a new instance of it is stored only as a first miss beyond the
	// doorkeeper is: within FirstMissRate, for at most FirstMissTTL, and
	// uncounted. One warning is logged when a context reaches it (at most
	// once an hour). Zero means [DefaultMaxEntriesPerContext], 100,000; a
	// negative value, no cap.
	MaxEntriesPerContext int

	// GenerationTTL is how long a generation of a parameter's value or of a
	// caller lives after a lookup creates it, until an entry is stored
	// under it: every store extends the generations it is stored under so
	// that none expires before the entry. (A first miss that AdmitAuto
	// stores for FirstMissTTL creates them for FirstMissTTL when that is
	// shorter.) It bounds what the lookups that store nothing (a fetch that
	// fails) leave behind, and it must exceed the time a context takes to
	// compute: a value stored after its generation expired is unreachable
	// (a miss, never a stale hit). Zero means [DefaultGenerationTTL], 2
	// minutes.
	GenerationTTL time.Duration
}

// DefaultGenerationTTL is the default [Options.GenerationTTL]: twice the
// server's default write timeout (a minute), so that any value computed
// in time to be sent is stored under live generations, and short enough
// that a flood of lookups storing nothing leaves at most two minutes'
// worth of their generations.
const DefaultGenerationTTL = 2 * time.Minute

// Cache is the origin cache of context bundles. It derives HMAC keys, keeps
// generations (per context, per value of each scoping parameter, per user)
// so that a purge makes entries unreachable at once, and survives a backend
// that is down or stalled: reads fall through, writes are skipped, and
// purges that could not be applied are applied as whole-context purges when
// the backend answers again, before anything is read from it.
//
// An entry is a hit only while every generation it was stored under is
// still there with the same value. Generations are random and never
// reused, a missing one makes a lookup a miss, and a lookup creates the
// missing ones (set if absent) before the value is computed, so neither a
// purge nor a generation lost to eviction, deletion or expiry can ever
// make an older entry valid again. The generations of a parameter's value
// and of a caller expire ([Options.GenerationTTL], extended by each store
// to outlive the entry); those of a context and of a parameter's lack do
// not.
type Cache struct {
	b       Backend
	keyer   *Keyer
	timeout time.Duration
	probe   time.Duration
	logger  *slog.Logger

	genTTL time.Duration // of a mortal generation a lookup creates

	up      atomic.Bool
	mu      sync.Mutex
	pending map[string]struct{} // contexts whose purge is owed to the backend
	probing bool
	done    chan struct{}
	wg      sync.WaitGroup

	local bool // the backend is in-process (InProcess reports true)

	memo *lookupMemo // keys of instances looked up

	adm *admitter // which misses are stored
	cap *entryCap // how many entries a context may hold

	secretSum [sha256.Size]byte // of the secret, for UsesSecret

	cleanMu  sync.Mutex
	cleaning map[string]bool // contexts with a prefix cleanup running

	obs Observer // set by Observe; nil: none
}

// New returns a Cache over o.Backend.
func New(o Options) (*Cache, error) {
	if o.Backend == nil {
		return nil, errors.New("cache: no backend")
	}
	k, err := NewKeyer(o.Secret)
	if err != nil {
		return nil, err
	}
	if o.Timeout <= 0 {
		o.Timeout = 100 * time.Millisecond
	}
	if o.ProbeInterval <= 0 {
		o.ProbeInterval = 200 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.GenerationTTL <= 0 {
		o.GenerationTTL = DefaultGenerationTTL
	}
	adm, err := newAdmitter(o)
	if err != nil {
		return nil, err
	}
	if m, ok := o.Backend.(*Memory); ok {
		adm.now = m.now // one clock, the tests'
	}
	c := &Cache{adm: adm, cap: newEntryCap(o), b: o.Backend, keyer: k, timeout: o.Timeout, probe: o.ProbeInterval, logger: o.Logger, genTTL: o.GenerationTTL,
		pending: map[string]struct{}{}, done: make(chan struct{}), cleaning: map[string]bool{},
		secretSum: sha256.Sum256(o.Secret), memo: newLookupMemo()}
	if l, ok := o.Backend.(interface{ InProcess() bool }); ok {
		c.local = l.InProcess()
	}
	c.up.Store(true)
	return c, nil
}

// UsesSecret reports whether secret is the cache's secret, so that a
// server can refuse to start with one secret used for two purposes (the
// cache secret, the JWT key and the MWT secret must be distinct).
func (c *Cache) UsesSecret(secret []byte) bool {
	sum := sha256.Sum256(secret)
	return subtle.ConstantTimeCompare(sum[:], c.secretSum[:]) == 1
}

// Instance names one context instance, the unit of caching.
type Instance struct {
	Context string
	Params  []Param // sorted by name ([SortParams])
	// Scopes are the names of the context's parameters that a [Purge] may
	// name in Purge.Param: sorted, and the same for every instance of the
	// context (pass one immutable slice). A Purge of a name that is not
	// among them reaches no instance.
	Scopes []string
	Rev    int
	User   string // "" for anonymous callers and shared contexts
}

// Status is the outcome of a lookup, sent as X-Mizan-Cache.
type Status string

// The lookup outcomes.
const (
	Hit    Status = "hit"
	Miss   Status = "miss"
	Bypass Status = "bypass" // not looked up: cache off, backend down, or no key
)

// Entry is the result of [Cache.Get]. Store it back with [Cache.Put] after a
// miss: it remembers the generations the lookup saw, so a value computed
// before a purge is never served after it, and whether the admission
// policy lets the miss be stored.
type Entry struct {
	Status Status
	Value  []byte // the stored bytes on a hit; do not modify
	key    string
	// hdr is what a Put stores before the value: the number of generations
	// then each generation the lookup saw. nil when the miss must not be
	// stored (not admitted, or another lookup created a missing generation
	// first).
	hdr []byte
	// ttlCap, when not zero, caps the TTL of the Put (a first miss that
	// AdmitAuto stores).
	ttlCap time.Duration
	// extend are the keys of the expiring generations the entry is stored
	// under, which the Put extends (the lookup's, shared: not modified).
	extend []string
	// held, when not nil, counts the entry against its context's cap
	// (Options.MaxEntriesPerContext) when it is stored: a new entry.
	held *held
	// gens are the generations the lookup saw (or created), in order, when
	// it knows every one: what FlightKey adds to the key. nil otherwise.
	gens []byte
}

// genLen is the length of a generation.
const genLen = 8

// lookupBuf is how many keys a lookup over the memory backend reads
// without allocating.
const lookupBuf = 8

// Get looks inst up in one backend round trip: the entry and every
// generation it depends on. It never fails: a backend error or timeout is a
// Bypass and marks the backend down.
//
// A lookup that finds a generation missing (never written, evicted,
// expired or deleted) is a miss, and creates it before returning (set if
// absent, one more round trip), so that the value the caller then computes
// is computed after the generation it is stored under came to be. If
// another lookup created one of them first, the miss is not stored (the
// next one is, once it has read that value). A generation of a
// parameter's value or of a caller is created for [Options.GenerationTTL]
// (or [Options.FirstMissTTL] when shorter, for a first miss that
// AdmitAuto stores): if the caller stores nothing (its computation
// failed), it expires then.
//
// A miss is recorded by the admission policy ([Options.Admission]); one it
// does not admit is not stored and creates no generation.
func (c *Cache) Get(ctx context.Context, inst Instance) Entry {
	if o := c.obs; o != nil {
		return c.observedGet(ctx, o, inst)
	}
	return c.get(ctx, inst)
}

// get is Get without the observer.
func (c *Cache) get(ctx context.Context, inst Instance) Entry {
	if !c.up.Load() {
		return Entry{Status: Bypass}
	}
	l, err := c.lookupOf(inst)
	if err != nil {
		return Entry{Status: Bypass}
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	var vals [][]byte
	if m, ok := c.b.(*Memory); ok && len(l.keys) <= lookupBuf {
		// The memory backend reads into a buffer on the stack.
		var buf [lookupBuf][]byte
		vals = m.getInto(buf[:len(l.keys)], l.keys)
	} else {
		vals, err = c.b.GetMulti(ctx, l.keys...)
	}
	if err != nil || len(vals) != len(l.keys) {
		c.down(fmt.Errorf("cache: get: %w", err))
		return Entry{Status: Bypass}
	}
	gens := vals[1:]
	n := len(gens)
	all := true
	for _, g := range gens {
		if len(g) != genLen {
			all = false
			break
		}
	}
	if v := vals[0]; all && len(v) >= 1+n*genLen && int(v[0]) == n && sameGens(v[1:], gens) {
		return Entry{Status: Hit, Value: v[1+n*genLen:], key: l.keys[0]}
	}
	e := Entry{Status: Miss, key: l.keys[0]}
	// unstored is e for a miss that is not stored: it still names the
	// generations it saw, when it saw every one, for FlightKey.
	unstored := func() Entry {
		if all {
			e.gens = slices.Concat(gens...)
		}
		return e
	}
	ok, ttlCap := c.adm.admit(inst.Context, e.key)
	if !ok {
		return unstored() // not admitted: not storable
	}
	if c.cap.max > 0 {
		h := c.cap.of(inst.Context)
		h.observe(gens[0])
		if vals[0] == nil { // a new entry (one stored again replaces its own)
			if full, warn := h.full(c.adm.now(), c.cap.max); !full {
				e.held = h
			} else {
				if warn {
					c.logger.Warn("cache: a context holds its cap of entries; its new instances are stored for FirstMissTTL at most until they expire",
						"context", inst.Context, "max_entries_per_context", c.cap.max)
				}
				// At the cap: a new entry is stored as a first miss is.
				if c.cap.drop {
					return unstored()
				}
				if ttlCap == 0 {
					if !c.adm.budgetOf(inst.Context).take(c.adm.rate, c.adm.now()) {
						return unstored()
					}
					ttlCap = c.adm.firstTTL
				}
			}
		}
	}
	e.ttlCap = ttlCap
	e.extend = l.extend
	// The TTL of a mortal generation created now: GenerationTTL, or less
	// for a first miss that AdmitAuto stores for less (a later store for
	// longer extends it).
	genTTL := c.genTTL
	if ttlCap > 0 && ttlCap < genTTL {
		genTTL = ttlCap
	}
	hdr := make([]byte, 1+n*genLen)
	hdr[0] = byte(n)
	storable := true
	for i, g := range gens {
		if len(g) != genLen {
			var ok bool
			var ttl time.Duration // never expires
			if l.mortal[i] {
				ttl = genTTL
			}
			if g, ok, err = c.createGen(ctx, l.keys[1+i], g, ttl); err != nil {
				c.down(fmt.Errorf("cache: create generation: %w", err))
				return Entry{Status: Bypass}
			}
			if !ok {
				// Another lookup created it first: this miss is not
				// storable, but it may share that lookup's run when it
				// reads the generation the other created (alive now, so
				// no purge came between).
				storable = false
				if g = c.readGen(ctx, l.keys[1+i]); g == nil {
					return e
				}
			}
		}
		copy(hdr[1+i*genLen:], g)
	}
	if !storable {
		e.gens = hdr[1:]
		return e
	}
	e.hdr = hdr
	e.gens = hdr[1:]
	return e
}

// createGen writes a new generation under key, which held old (nil: absent,
// else a value that is no generation), and reports whether the generation
// returned is the one stored under key now. It expires after ttl unless a
// store extends it, or never when ttl is zero (a context's, a lacking
// parameter's).
//
// Expiring a generation is always safe: like a purge, it only makes the
// entries stored under it unreachable, and the value that replaces it is
// new. It costs hits only if an entry outlives it, which the stores'
// extension prevents.
func (c *Cache) createGen(ctx context.Context, key string, old []byte, ttl time.Duration) ([]byte, bool, error) {
	g := newGen()
	if old != nil {
		// Not a generation (written by something else): replace it. Like a
		// purge, this only makes entries unreachable.
		if ttl > 0 {
			return g, true, c.b.Set(ctx, key, g, ttl)
		}
		return g, true, c.b.SetPermanent(ctx, key, g)
	}
	ok, err := c.b.SetNX(ctx, key, g, ttl)
	return g, ok, err
}

// readGen returns the generation stored under key, or nil when there is
// none (or the backend cannot say).
func (c *Cache) readGen(ctx context.Context, key string) []byte {
	vals, err := c.b.GetMulti(ctx, key)
	if err != nil || len(vals) != 1 || len(vals[0]) != genLen {
		return nil
	}
	return bytes.Clone(vals[0])
}

// sameGens reports whether stored, the generations an entry was stored
// under (and then its value), starts with the current ones.
func sameGens(stored []byte, gens [][]byte) bool {
	for i, g := range gens {
		if string(stored[i*genLen:(i+1)*genLen]) != string(g) {
			return false
		}
	}
	return true
}

// Put stores value for the instance e was looked up for, if e was a miss
// that may be stored (see [Options.Admission]), for ttl (zero: the
// backend's default), or less for a first miss that AdmitAuto stores. In
// the same round trip it extends the expiring generations the entry is
// stored under (of its parameters' values, of its caller) that would
// expire before it, so that the entry stays reachable for its whole TTL;
// it never creates one (one purged meanwhile stays purged).
func (c *Cache) Put(ctx context.Context, e Entry, value []byte, ttl time.Duration) {
	if o := c.obs; o != nil {
		c.observedPut(ctx, o, e, value, ttl)
		return
	}
	c.put(ctx, e, value, ttl)
}

// put is Put without the observer.
func (c *Cache) put(ctx context.Context, e Entry, value []byte, ttl time.Duration) {
	if e.Status != Miss || e.hdr == nil || !c.up.Load() {
		return
	}
	if e.ttlCap > 0 && (ttl <= 0 || ttl > e.ttlCap) {
		ttl = e.ttlCap
	}
	if e.held != nil {
		counted := ttl
		if counted <= 0 {
			counted = c.cap.defaultTTL
		}
		if !e.held.add(c.adm.now(), counted, c.cap.max) {
			return // the context reached its cap since the lookup
		}
	}
	buf := make([]byte, 0, len(e.hdr)+len(value))
	buf = append(append(buf, e.hdr...), value...)
	if m, ok := c.b.(*Memory); ok {
		m.setOwned(e.key, buf, ttl, e.extend) // buf is nobody else's: no copy
		return
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	if err := c.b.Set(ctx, e.key, buf, ttl, e.extend...); err != nil {
		c.down(fmt.Errorf("cache: set: %w", err))
	}
}

// Purge is one invalidation to apply, to every rev and every caller unless
// User narrows it.
type Purge struct {
	Context string
	// Param, when Param.Name != "", narrows the purge to the instances
	// whose parameter Param.Name equals Param.Value; with MayLack also
	// those that do not have the parameter at all. Param.Name must be one
	// of the context's [Instance.Scopes] (any other name reaches no
	// instance). An empty Param.Name purges every instance of the context.
	Param   Param
	MayLack bool
	// User, when not "", narrows the purge to the entries stored for that
	// user (Instance.User == User): tier-2 caller scoping. Anonymous and
	// other users' entries stay. With Param also given, every entry of the
	// user in the context is purged (Param is not applied: the purge
	// over-invalidates that one user's entries, never another's).
	User string
}

// Purge makes the named entries unreachable before it returns, whatever the
// caller they were stored for, in one backend round trip: it deletes
// exactly the generations the purges name (a lookup that finds one missing
// is a miss, and creates a new random one). Deleting rather than writing
// lets a purge through even a Redis that refuses writes (noeviction with
// its memory full).
//
// The purge is attempted even while the backend is marked down, since
// other servers may be reading it. When it cannot be applied it is owed:
// this cache serves nothing until the backend answers again and the owed
// purges, widened to whole contexts, are applied.
func (c *Cache) Purge(ctx context.Context, purges ...Purge) {
	if len(purges) == 0 {
		return
	}
	if o := c.obs; o != nil {
		c.observedPurge(ctx, o, purges)
		return
	}
	_ = c.purge(ctx, purges)
}

// purge is Purge without the observer; it reports whether the backend
// applied the purges (false: they are owed).
func (c *Cache) purge(ctx context.Context, purges []Purge) bool {
	keys := make([]string, 0, len(purges)+1)
	for _, p := range purges {
		keys = c.appendGens(keys, p)
	}
	bctx, cancel := c.bound(ctx)
	err := c.b.Delete(bctx, keys...)
	cancel()
	if err != nil {
		c.mu.Lock()
		for _, p := range purges {
			c.pending[p.Context] = struct{}{}
		}
		c.mu.Unlock()
		c.down(fmt.Errorf("cache: purge %s: %w", purges[0].Context, err))
		return false
	}
	for _, p := range purges {
		if p.User == "" && p.Param.Name == "" {
			c.cleanup(p.Context)
		}
	}
	return true
}

// appendGens appends the keys of the generations p names. A purge whose
// keys cannot be derived (a string that is not UTF-8) is widened to its
// context.
func (c *Cache) appendGens(keys []string, p Purge) []string {
	switch {
	case p.User != "":
		if k, err := c.keyer.userGenKey(p.Context, p.User); err == nil {
			return append(keys, k)
		}
	case p.Param.Name != "":
		k, err := c.keyer.paramGenKey(p.Context, p.Param.Name, p.Param.Value, true)
		if err == nil && !p.MayLack {
			return append(keys, k)
		}
		if err == nil {
			var lack string
			if lack, err = c.keyer.paramGenKey(p.Context, p.Param.Name, "", false); err == nil {
				return append(keys, k, lack)
			}
		}
	}
	return append(keys, ctxGenKey(p.Context))
}

// cleanup removes a purged context's dead entries in the background (they
// are unreachable already; this only frees memory sooner than their TTL).
func (c *Cache) cleanup(context string) {
	c.cleanMu.Lock()
	if c.cleaning[context] {
		c.cleanMu.Unlock()
		return
	}
	c.cleaning[context] = true
	c.cleanMu.Unlock()
	c.wg.Go(func() {
		defer func() {
			c.cleanMu.Lock()
			delete(c.cleaning, context)
			c.cleanMu.Unlock()
		}()
		ctx, cancel := contextUntil(c.done, 30*time.Second)
		defer cancel()
		if err := c.b.DeletePrefix(ctx, ContextPrefix(context)); err != nil {
			c.logger.Warn("cache: cleanup of a purged context failed; entries expire by TTL", "context", context, "err", err)
		}
	})
}

// bound limits a backend operation to the cache's timeout. An in-process
// backend cannot stall, and is spared the timer.
func (c *Cache) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.local {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, c.timeout)
}

// Up reports whether the backend is in use (not down, no purge owed).
func (c *Cache) Up() bool { return c.up.Load() }

// down marks the backend down and starts probing it.
func (c *Cache) down(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.up.Swap(false) {
		c.logger.Warn("cache: backend down; serving without cache until it answers", "err", err)
	}
	if c.probing {
		return
	}
	select {
	case <-c.done:
		return
	default:
	}
	c.probing = true
	c.wg.Go(c.probeLoop)
}

// probeLoop pings the backend until it answers and every owed purge is
// applied, then puts the cache back in use.
func (c *Cache) probeLoop() {
	t := time.NewTicker(c.probe)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		if c.recover() {
			return
		}
	}
}

func (c *Cache) recover() bool {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	if c.b.Ping(ctx) != nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for name := range c.pending {
		if err := c.b.Delete(ctx, ctxGenKey(name)); err != nil {
			return false
		}
		delete(c.pending, name)
		c.cleanup(name)
	}
	c.probing = false
	c.up.Store(true)
	c.logger.Info("cache: backend answers again; cache back in use")
	return true
}

// Close stops the cache's background work and closes the backend.
func (c *Cache) Close() error {
	select {
	case <-c.done:
	default:
		close(c.done)
	}
	c.wg.Wait()
	return c.b.Close()
}

// newGen returns a fresh random generation. Generations are random, not
// counters, so that a value, once replaced or lost, never comes back: an
// entry stored under it stays unreachable.
func newGen() []byte {
	b := make([]byte, genLen)
	_, _ = rand.Read(b)
	return b
}

// contextUntil returns a context that ends after d or when done closes.
func contextUntil(done <-chan struct{}, d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	go func() {
		select {
		case <-done:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// Key returns the cache key the entry was looked up under ("" for a
// bypass).
func (e Entry) Key() string { return e.key }

// FlightKey returns the key under which concurrent misses may share one
// computation of the value: the cache key and every generation the lookup
// saw, so that a lookup made after a purge never joins a computation
// begun before it (it sees another generation). It is "" when the lookup
// does not know every generation (one was missing and this lookup did not
// create it): such a miss must compute on its own.
func (e Entry) FlightKey() string {
	if e.Status != Miss || e.gens == nil {
		return ""
	}
	return e.key + "\x00" + string(e.gens)
}
