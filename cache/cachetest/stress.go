package cachetest

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mizan-afi/mizan/cache"
)

// StressOptions configures [Stress]. Zero values mean the defaults given.
type StressOptions struct {
	Duration  time.Duration // how long it runs: 1s
	Items     int           // instances of the context "item": 200
	Users     int           // signed-in callers: 20
	ValueSize int           // bytes of each stored value, at least: 256
	Readers   int           // goroutines reading: 8
	Mutators  int           // goroutines mutating and purging: 2
	TTL       time.Duration // of stored values: 1 minute
	Timeout   time.Duration // cache.Options.Timeout: its default
}

// StressResult counts what a [Stress] run saw.
type StressResult struct {
	Reads, Hits, Misses, Bypasses int64
	// Stale counts the hits whose value is older than the latest value
	// whose purge had completed before the read began. It must be 0.
	Stale int64
	// Mutations counts the mutations, each followed by its purge.
	Mutations int64
	// GensCreated counts the generations lookups created (set if absent
	// won); GensRecreated those of a key created before in the run, i.e.
	// lost (evicted or deleted) meanwhile.
	GensCreated, GensRecreated int64
	// BackendErrors counts the backend calls that failed, PurgeErrors the
	// purges among them (owed then: the cache that could not apply one
	// serves nothing until it has, but the others, sharing the backend,
	// are not told; see docs/cache.md, Faults). Errors holds the first few
	// distinct messages.
	BackendErrors, PurgeErrors int64
	Errors                     []string
}

// Stress runs mutations and reads over one cache per backend (the caches
// share the backends' data when the backends do, like the servers of one
// app) and counts the reads that return a value older than the latest
// whose purge had completed before the read began.
//
// The data: a context "item" with a scoping parameter "id" (Items
// instances, plus a list instance without "id"), read anonymously or by one
// of Users callers, and a per-caller context "me". Each instance's source
// is a version counter. A mutation raises a version, then purges as the app
// would: an item by its id with MayLack (the list shows every item), the
// whole "item" context now and then, or one caller's "me" (a caller-scoped
// purge). A read is a Get; on a miss it reads the source (after the
// lookup, as a handler computes after it) and puts it. Some reads pause
// between lookup and store, widening the window for a racing purge.
//
// The caches do not close the backends.
func Stress(ctx context.Context, backends []cache.Backend, o StressOptions) (StressResult, error) {
	if len(backends) == 0 {
		return StressResult{}, errors.New("cachetest: Stress with no backend")
	}
	o.defaults()
	var res StressResult
	var created sync.Map // generation keys created
	var errMu sync.Mutex
	caches := make([]*cache.Cache, len(backends))
	for i, b := range backends {
		c, err := cache.New(cache.Options{Backend: &counting{Backend: b, res: &res, created: &created, mu: &errMu},
			Secret: secret, Timeout: o.Timeout, ProbeInterval: 5 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			return res, err
		}
		caches[i] = c
	}
	defer func() {
		for _, c := range caches {
			_ = c.Close()
		}
	}()

	// Instances 0..Items-1 are items, Items the list, then one "me" per
	// user. cur is each one's source version, pub the latest version whose
	// purge completed.
	n := o.Items + 1 + o.Users
	cur := make([]atomic.Int64, n)
	pub := make([]atomic.Int64, n)
	itemScopes := []string{"id"}
	instance := func(k, user int) cache.Instance {
		var u string
		if user >= 0 {
			u = "u" + strconv.Itoa(user)
		}
		switch {
		case k < o.Items:
			return cache.Instance{Context: "item", Params: []cache.Param{{Name: "id", Value: strconv.Itoa(k)}},
				Scopes: itemScopes, User: u}
		case k == o.Items:
			return cache.Instance{Context: "item", Scopes: itemScopes, User: u}
		}
		return cache.Instance{Context: "me", User: "u" + strconv.Itoa(k-o.Items-1)}
	}
	raise := func(k int, v int64) {
		for {
			old := pub[k].Load()
			if old >= v || pub[k].CompareAndSwap(old, v) {
				return
			}
		}
	}
	pad := bytes.Repeat([]byte{'.'}, o.ValueSize)
	encode := func(v int64) []byte {
		return append(strconv.AppendInt(make([]byte, 0, 24+len(pad)), v, 10), append([]byte{';'}, pad...)...)
	}
	decode := func(b []byte) int64 {
		i := bytes.IndexByte(b, ';')
		if i < 0 {
			return -1
		}
		v, err := strconv.ParseInt(string(b[:i]), 10, 64)
		if err != nil {
			return -1
		}
		return v
	}

	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	var wg sync.WaitGroup
	for r := range o.Readers {
		c := caches[r%len(caches)]
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 1))
			for ctx.Err() == nil {
				k := rng.IntN(n)
				user := -1 // anonymous, for half the reads
				if rng.IntN(2) == 0 {
					user = rng.IntN(o.Users)
				}
				inst := instance(k, user)
				need := pub[k].Load()
				e := c.Get(context.Background(), inst)
				atomic.AddInt64(&res.Reads, 1)
				switch e.Status {
				case cache.Hit:
					atomic.AddInt64(&res.Hits, 1)
					if decode(e.Value) < need {
						atomic.AddInt64(&res.Stale, 1)
					}
				case cache.Miss:
					atomic.AddInt64(&res.Misses, 1)
					v := cur[k].Load()
					if rng.IntN(4) == 0 {
						time.Sleep(time.Duration(rng.IntN(300)) * time.Microsecond)
					}
					c.Put(context.Background(), e, encode(v), o.TTL)
				default:
					atomic.AddInt64(&res.Bypasses, 1)
					time.Sleep(100 * time.Microsecond) // the handler runs
				}
			}
		})
	}
	for m := range o.Mutators {
		c := caches[m%len(caches)]
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(m), 2))
			for ctx.Err() == nil {
				switch x := rng.IntN(100); {
				case x < 70: // one item, and the list
					k := rng.IntN(o.Items)
					v, lv := cur[k].Add(1), cur[o.Items].Add(1)
					c.Purge(context.Background(), cache.Purge{Context: "item",
						Param: cache.Param{Name: "id", Value: strconv.Itoa(k)}, MayLack: true})
					raise(k, v)
					raise(o.Items, lv)
				case x < 95: // one caller's own data
					k := o.Items + 1 + rng.IntN(o.Users)
					v := cur[k].Add(1)
					c.Purge(context.Background(), cache.Purge{Context: "me", User: instance(k, 0).User})
					raise(k, v)
				default: // everything in "item"
					vs := make([]int64, o.Items+1)
					for k := range vs {
						vs[k] = cur[k].Add(1)
					}
					c.Purge(context.Background(), cache.Purge{Context: "item"})
					for k, v := range vs {
						raise(k, v)
					}
				}
				atomic.AddInt64(&res.Mutations, 1)
				time.Sleep(time.Duration(rng.IntN(1000)) * time.Microsecond)
			}
		})
	}
	wg.Wait()
	return res, nil
}

func (o *StressOptions) defaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.Items, 200)
	def(&o.Users, 20)
	def(&o.ValueSize, 256)
	def(&o.Readers, 8)
	def(&o.Mutators, 2)
	if o.Duration <= 0 {
		o.Duration = time.Second
	}
	if o.TTL <= 0 {
		o.TTL = time.Minute
	}
}

// counting counts the generations created and the failed calls of a
// backend, and does not close it.
type counting struct {
	cache.Backend
	res     *StressResult
	created *sync.Map
	mu      *sync.Mutex // of res.Errors
}

func (c *counting) count(err error) error {
	if err != nil {
		atomic.AddInt64(&c.res.BackendErrors, 1)
		c.mu.Lock()
		if msg := err.Error(); len(c.res.Errors) < 5 && !slices.Contains(c.res.Errors, msg) {
			c.res.Errors = append(c.res.Errors, msg)
		}
		c.mu.Unlock()
	}
	return err
}

func (c *counting) Delete(ctx context.Context, keys ...string) error {
	err := c.Backend.Delete(ctx, keys...)
	if err != nil {
		atomic.AddInt64(&c.res.PurgeErrors, 1)
	}
	return c.count(err)
}

func (c *counting) GetMulti(ctx context.Context, keys ...string) ([][]byte, error) {
	v, err := c.Backend.GetMulti(ctx, keys...)
	return v, c.count(err)
}

func (c *counting) Set(ctx context.Context, key string, value []byte, ttl time.Duration, extend ...string) error {
	return c.count(c.Backend.Set(ctx, key, value, ttl, extend...))
}

func (c *counting) SetPermanent(ctx context.Context, key string, value []byte) error {
	return c.count(c.Backend.SetPermanent(ctx, key, value))
}

func (c *counting) SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	ok, err := c.Backend.SetNX(ctx, key, value, ttl)
	if ok {
		atomic.AddInt64(&c.res.GensCreated, 1)
		if _, again := c.created.LoadOrStore(key, true); again {
			atomic.AddInt64(&c.res.GensRecreated, 1)
		}
	}
	return ok, c.count(err)
}

func (c *counting) Close() error { return nil }
