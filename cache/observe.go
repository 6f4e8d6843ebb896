package cache

import (
	"context"
	"time"
)

// Observer watches a Cache's operations, for tracing and metrics (package
// telemetry implements it; docs/observability.md). Each method is called
// as an operation begins and returns the context the operation's backend
// calls run with (one carrying a span, say) and a function called once it
// has ended. It must be safe for concurrent use.
type Observer interface {
	// ObserveGet begins a lookup of an instance of the context; end gets
	// the lookup's status (a Bypass when the backend failed or is down).
	ObserveGet(ctx context.Context, contextName string) (_ context.Context, end func(Status))
	// ObservePut begins the store of a miss.
	ObservePut(ctx context.Context) (_ context.Context, end func())
	// ObservePurge begins the purges of one invalidation; end gets whether
	// the backend applied them (false: they are owed, see [Cache.Purge]).
	ObservePurge(ctx context.Context, purges []Purge) (_ context.Context, end func(applied bool))
}

// Observe has the cache report its operations to o (nil: to nobody). Call
// it before the cache is used: mizan.New calls it when the app's
// Config.Observer provides a cache observer.
func (c *Cache) Observe(o Observer) { c.obs = o }

// observedGet is Get reported to o.
func (c *Cache) observedGet(ctx context.Context, o Observer, inst Instance) Entry {
	ctx, end := o.ObserveGet(ctx, inst.Context)
	e := c.get(ctx, inst)
	end(e.Status)
	return e
}

// observedPut is Put reported to o, when there is something to store.
func (c *Cache) observedPut(ctx context.Context, o Observer, e Entry, value []byte, ttl time.Duration) {
	if e.Status != Miss || e.hdr == nil || !c.up.Load() {
		return
	}
	ctx, end := o.ObservePut(ctx)
	defer end()
	c.put(ctx, e, value, ttl)
}

// observedPurge is Purge reported to o.
func (c *Cache) observedPurge(ctx context.Context, o Observer, purges []Purge) {
	ctx, end := o.ObservePurge(ctx, purges)
	end(c.purge(ctx, purges))
}
