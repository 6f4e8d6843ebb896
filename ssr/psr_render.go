package ssr

import (
	"bytes"
	"context"

	"github.com/mizan-afi/mizan/cache"
)

// flight is a render in progress; requests for the same or an older
// version wait for it.
type flight struct {
	version uint64
	done    chan struct{}
	html    []byte
	err     error
}

// render renders a pre-rendered instance at its current version and stores
// it, or joins a render of that version (or a newer one) in progress. The
// render runs as an anonymous caller, whatever ctx carries, and is not
// cut short when ctx ends (others may wait for it).
func (ps *Pages) render(ctx context.Context, in *instance, rerender bool) ([]byte, error) {
	in.mu.Lock()
	in.served = in.served || !rerender
	v := in.dirty
	if f := in.flight; f != nil && f.version >= v {
		in.mu.Unlock()
		select {
		case <-f.done:
			return f.html, f.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f := &flight{version: v, done: make(chan struct{})}
	in.flight = f
	in.mu.Unlock()

	// Re-renders are waited for by the loop, which Close waits for; a
	// render for a request or Start may outlive its caller, so it is
	// counted in flights, unless Close has begun.
	usable, counted := true, false
	if !rerender {
		ps.mu.Lock()
		usable = !ps.stopped
		if usable {
			ps.flights.Add(1)
			counted = true
		}
		ps.mu.Unlock()
	}
	go func() {
		if counted {
			defer ps.flights.Done()
		}
		rctx, cancel := context.WithTimeout(context.Background(), DefaultRenderTimeout)
		defer cancel()
		if rerender {
			ps.rerenders.Add(1)
		}
		prefetch := ps.beginRender(in)
		res, err := ps.renderPage(rctx, in.rt, in.values, prefetch)
		ps.endRender(in, res)
		f.err = err
		if res != nil {
			f.html = res.html
		}
		switch {
		case !usable: // Close has begun: the cache may be closed
		case f.err == nil:
			ps.store(rctx, in, v, f.html)
		default:
			ps.forget(rctx, in)
		}
		in.mu.Lock()
		if in.flight == f {
			in.flight = nil
		}
		in.mu.Unlock()
		close(f.done)
	}()
	select {
	case <-f.done:
		return f.html, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// store puts a page rendered at version v in the cache, unless the stored
// page is the same or the instance was invalidated again meanwhile.
func (ps *Pages) store(ctx context.Context, in *instance, v uint64, html []byte) {
	e := ps.c.Get(ctx, in.key)
	if e.Status == cache.Hit && bytes.Equal(e.Value, html) {
		ps.unchanged.Add(1)
		ps.markClean(in, v)
		return
	}
	if e.Status == cache.Hit {
		ps.purgePage(ctx, in)
		e = ps.c.Get(ctx, in.key)
	}
	if e.Status != cache.Miss {
		return // the backend is down: serve rendered pages until it is back
	}
	in.mu.Lock()
	current := in.dirty == v
	in.mu.Unlock()
	if !current {
		return // invalidated again; the queued re-render stores the newer page
	}
	ps.c.Put(ctx, e, html, ps.cfg.TTL)
	ps.stored.Add(1)
	ps.markClean(in, v)
	in.mu.Lock()
	evicted := in.evicted
	in.mu.Unlock()
	if evicted { // forgotten meanwhile: nothing would re-render this page
		ps.purgePage(ctx, in)
	}
}

// markClean records that the stored page reflects version v.
func (ps *Pages) markClean(in *instance, v uint64) {
	in.mu.Lock()
	in.everStored = true
	if v > in.clean {
		in.clean = v
	}
	in.mu.Unlock()
}

// beginRender records that a render of in is starting: targets that come
// from now on are noted, to be matched against what the render reads. It
// returns the keys the previous render fetched because it read them.
func (ps *Pages) beginRender(in *instance) []string {
	ps.mu.Lock()
	ps.rendering[in]++
	ps.mu.Unlock()
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.prefetch
}

// endRender records what a render of in read (res; nil when it failed)
// and whether a target noted during the render hits one of those
// instances: the page rendered may then be stale (its bundle fetched
// before the mutation), so it is invalidated like any other and queued for
// a re-render (store then declines to keep it).
func (ps *Pages) endRender(in *instance, res *pageResult) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	pending, overflow := in.pending, in.overflow
	if ps.rendering[in]--; ps.rendering[in] <= 0 {
		delete(ps.rendering, in)
		in.pending, in.overflow = nil, false
	}
	if res == nil {
		return
	}
	if in.rt.reads == nil && len(res.reads) > 0 {
		in.rt.reads = map[string]bool{}
	}
	for _, r := range res.reads {
		in.rt.reads[r.Context] = true
	}
	in.mu.Lock()
	in.reads, in.prefetch = res.reads, res.fetched
	in.rendered, in.shared = true, res.shared
	stale := overflow && len(res.reads) > 0
	for _, n := range pending {
		if stale {
			break
		}
		stale = in.readsMatch(n)
	}
	if stale {
		in.dirty++
	}
	in.mu.Unlock()
	if stale && !ps.closed.Load() {
		ps.enqueueLocked(in)
	}
}

// enqueueLocked queues in for a re-render; ps.mu is held and in.dirty
// already bumped.
func (ps *Pages) enqueueLocked(in *instance) {
	if ps.isIdle {
		ps.idle, ps.isIdle = make(chan struct{}), false
	}
	ps.queue[in] = struct{}{}
	select {
	case ps.wake <- struct{}{}:
	default:
	}
}
