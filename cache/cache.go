package cache

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
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
}

// Cache is the origin cache of context bundles. It derives HMAC keys, keeps
// a generation per context and per context instance so that a purge makes
// entries unreachable at once, and survives a backend that is down or
// stalled: reads fall through, writes are skipped, and purges that could not
// be applied are applied as whole-context purges when the backend answers
// again, before anything is read from it.
type Cache struct {
	b       Backend
	keyer   *Keyer
	timeout time.Duration
	probe   time.Duration
	logger  *slog.Logger

	up      atomic.Bool
	mu      sync.Mutex
	pending map[string]struct{} // contexts whose purge is owed to the backend
	probing bool
	done    chan struct{}
	wg      sync.WaitGroup

	local bool // the backend is in-process (InProcess reports true)

	secretSum [sha256.Size]byte // of the secret, for UsesSecret

	cleanMu  sync.Mutex
	cleaning map[string]bool // contexts with a prefix cleanup running
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
	c := &Cache{b: o.Backend, keyer: k, timeout: o.Timeout, probe: o.ProbeInterval, logger: o.Logger,
		pending: map[string]struct{}{}, done: make(chan struct{}), cleaning: map[string]bool{},
		secretSum: sha256.Sum256(o.Secret)}
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
	Rev     int
	User    string // "" for anonymous callers and shared contexts
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
// before a purge is never served after it.
type Entry struct {
	Status Status
	Value  []byte // the stored bytes on a hit; do not modify
	key    string
	gens   [16]byte
}

const genLen = 16

// Get looks inst up. It never fails: a backend error or timeout is a
// Bypass and marks the backend down.
func (c *Cache) Get(ctx context.Context, inst Instance) Entry {
	if !c.up.Load() {
		return Entry{Status: Bypass}
	}
	key, err := c.keyer.Key(inst.Context, inst.Params, inst.Rev, inst.User)
	if err != nil {
		return Entry{Status: Bypass}
	}
	instKey := key
	if inst.User != "" {
		if instKey, err = c.instanceKey(inst); err != nil {
			return Entry{Status: Bypass}
		}
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	vals, err := c.b.GetMulti(ctx, key, ctxGenKey(inst.Context), instGenKey(instKey))
	if err != nil || len(vals) != 3 {
		c.down(fmt.Errorf("cache: get: %w", err))
		return Entry{Status: Bypass}
	}
	e := Entry{Status: Miss, key: key}
	copy(e.gens[:8], genOf(vals[1]))
	copy(e.gens[8:], genOf(vals[2]))
	if v := vals[0]; len(v) >= genLen && [genLen]byte(v[:genLen]) == e.gens {
		e.Status, e.Value = Hit, v[genLen:]
	}
	return e
}

// Put stores value for the instance e was looked up for, if e was a miss.
func (c *Cache) Put(ctx context.Context, e Entry, value []byte, ttl time.Duration) {
	if e.Status != Miss || !c.up.Load() {
		return
	}
	buf := make([]byte, 0, genLen+len(value))
	buf = append(append(buf, e.gens[:]...), value...)
	ctx, cancel := c.bound(ctx)
	defer cancel()
	if err := c.b.Set(ctx, e.key, buf, ttl); err != nil {
		c.down(fmt.Errorf("cache: set: %w", err))
	}
}

// Purge is one invalidation to apply: a whole context (Params nil) or one
// instance of it.
type Purge struct {
	Context string
	Params  []Param // sorted; nil for the whole context
	Rev     int
}

// Purge makes the named entries unreachable before it returns, whatever the
// caller they were stored for. When the backend cannot be reached the purge
// is owed: the cache serves nothing until the backend answers again and the
// owed purges (widened to whole contexts) are applied.
func (c *Cache) Purge(ctx context.Context, purges ...Purge) {
	for _, p := range purges {
		if err := c.purgeOne(ctx, p); err != nil {
			c.mu.Lock()
			c.pending[p.Context] = struct{}{}
			c.mu.Unlock()
			c.down(fmt.Errorf("cache: purge %s: %w", p.Context, err))
		}
	}
}

func (c *Cache) purgeOne(ctx context.Context, p Purge) error {
	if !c.up.Load() {
		return errors.New("backend is down")
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	if p.Params == nil {
		if err := c.b.SetPermanent(ctx, ctxGenKey(p.Context), newGen()); err != nil {
			return err
		}
		c.cleanup(p.Context)
		return nil
	}
	instKey, err := c.instanceKey(Instance{Context: p.Context, Params: p.Params, Rev: p.Rev})
	if err != nil {
		return err
	}
	if err := c.b.SetPermanent(ctx, instGenKey(instKey), newGen()); err != nil {
		return err
	}
	// The anonymous entry is dead already; freeing it now saves memory.
	return c.b.Delete(ctx, instKey)
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

// instanceKey is the key of the instance's anonymous entry, which also names
// the instance's generation.
func (c *Cache) instanceKey(inst Instance) (string, error) {
	return c.keyer.Key(inst.Context, inst.Params, inst.Rev, "")
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
		if err := c.b.SetPermanent(ctx, ctxGenKey(name), newGen()); err != nil {
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

func ctxGenKey(context string) string { return "gen:ctx:" + context }

func instGenKey(instKey string) string { return "gen:" + instKey }

// newGen returns a fresh random generation. Generations are random, not
// counters, so that a generation key lost to eviction can never bring old
// entries back.
func newGen() []byte {
	var b [8]byte
	_, _ = rand.Read(b[:])
	if binary.BigEndian.Uint64(b[:]) == 0 {
		b[7] = 1
	}
	return b[:]
}

// genOf returns a stored generation, or eight zero bytes for none.
func genOf(v []byte) []byte {
	if len(v) != 8 {
		return make([]byte, 8)
	}
	return v
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
