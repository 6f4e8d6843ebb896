package ssr

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/cache"
	"github.com/mizan-afi/mizan/protocol"
)

// Invalidate marks the pages a mutation's targets affect and queues their
// re-rendering; it is called by the app for every invalidation.
func (ps *Pages) Invalidate(ctx context.Context, inv mizan.Invalidation) {
	ps.mu.Lock()
	ready := ps.setup && ps.setupErr == nil
	ps.mu.Unlock()
	if ps.closed.Load() || !ready {
		return // nothing was rendered yet: Start and requests set the routes up
	}
	marked, purges := ps.affected(inv)
	if len(purges) > 0 {
		ps.c.Purge(ctx, purges...)
	}
	if len(marked) == 0 {
		return
	}
	ps.mu.Lock()
	for in := range marked {
		in.mu.Lock()
		in.dirty++
		in.mu.Unlock()
		ps.enqueueLocked(in)
	}
	ps.mu.Unlock()
}

// affected decides what an invalidation re-renders: the tracked
// pre-rendered pages one of whose context instances a target matches, by
// the matching rule of docs/spec.md §3 ([protocol.Match]) applied to the
// target as the emission step normalized it. A target narrowed to its
// caller (tier 2) affects no page: pages are pre-rendered as an anonymous
// caller, so the caller's own data is in none of them.
//
// With a cache other processes share, pages this process does not track
// may be stored too: a target that determines one page (it names every
// wildcard of the route, each a param of the target's context) also
// returns that page, tracked from now on (the re-render loop renders it if
// some process stored it, and forgets it otherwise); any other target
// also purges every stored page of the route, so that a page only another
// process tracks is rendered afresh on its next request.
func (ps *Pages) affected(inv mizan.Invalidation) (map[*instance]struct{}, []cache.Purge) {
	ps.mu.Lock()
	routes := ps.routes
	ps.mu.Unlock()
	var marked map[*instance]struct{}
	mark := func(in *instance) {
		if marked == nil {
			marked = map[*instance]struct{}{}
		}
		marked[in] = struct{}{}
	}
	var purges []cache.Purge
	purged := map[*route]bool{}
	purge := func(rt *route) {
		if ps.shared && !purged[rt] {
			purged[rt] = true
			purges = append(purges, cache.Purge{Context: pageContext(rt)})
		}
	}
	for i, n := range normals(inv.Normal, inv.Targets) {
		if inv.Narrowed(i) {
			continue
		}
		ps.notePending(n)
		for _, rt := range routes {
			if !rt.psr {
				continue
			}
			// The instances the route's pages read beyond their own, of
			// any context (a project's page shows the other projects'
			// progress): each page's last render's, as the emission step
			// normalized them, matched by the same rule.
			ps.mu.Lock()
			if rt.reads[n.Context] {
				purge(rt)
				for _, in := range ps.inst {
					if in.rt != rt {
						continue
					}
					in.mu.Lock()
					hit := in.readsMatch(n)
					in.mu.Unlock()
					if hit {
						mark(in)
					}
				}
			}
			ps.mu.Unlock()
			for ci, c := range rt.contexts {
				if c.name != n.Context {
					continue
				}
				if values, one := rt.determined(ci, n); one {
					if values == nil {
						continue // a value no tracked page can have ("01" for an integer)
					}
					if in := ps.lookup(rt, values); in != nil {
						mark(in)
					} else if ps.shared {
						if in, _ := ps.instance(rt, values); in != nil {
							mark(in)
						}
					}
					continue
				}
				purge(rt)
				ps.mu.Lock()
				for _, in := range ps.inst {
					if in.rt == rt && protocol.Match(n, in.ctxs[ci]) {
						mark(in)
					}
				}
				ps.mu.Unlock()
			}
		}
	}
	return marked, purges
}

// notePending adds target n to the pending targets of the instances being
// rendered: what they read is known when their render ends (endRender).
func (ps *Pages) notePending(n protocol.Normal) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for in := range ps.rendering {
		if len(in.pending) >= maxPending {
			in.overflow = true
			continue
		}
		in.pending = append(in.pending, n)
	}
}

// determined reports whether target n, of the route's context ci, can
// match one page of the route only: the route has wildcards, each is a
// param of the context, and n names them all. It then returns the page's
// values, or nil when one of n's values is not a canonical path value
// (such as "01" for an integer wildcard), which no page has.
func (rt *route) determined(ci int, n protocol.Normal) (map[string]string, bool) {
	c := rt.contexts[ci]
	if len(rt.params) == 0 || len(c.wildcards) != len(rt.params) {
		return nil, false
	}
	values := make(map[string]string, len(rt.params))
	for _, name := range c.wildcards {
		v, ok := n.Lookup(name)
		if !ok {
			return nil, false
		}
		values[name] = v
	}
	for name, v := range values {
		if rt.canonical(name, v) != v {
			return nil, true
		}
	}
	return values, true
}

// normals returns the normal forms of targets: given, as the emission step
// computed them, when there is one for each target; computed here for an
// Invalidation that was not made by the emission step. A target that
// cannot be normalized becomes broad (its context only), so that nothing
// stays stale.
func normals(given []protocol.Normal, targets []mizan.Target) []protocol.Normal {
	if len(given) == len(targets) {
		return given
	}
	out := make([]protocol.Normal, len(targets))
	for i, t := range targets {
		n, err := protocol.Normalize(t)
		if err != nil {
			n = protocol.Normal{Context: t.Context}
		}
		out[i] = n
	}
	return out
}

// run is the re-render loop: it waits for invalidations, lets a burst
// settle for Debounce (or not, when Sync asks), and re-renders what is
// queued.
func (ps *Pages) run() {
	for {
		select {
		case <-ps.done:
			return
		case <-ps.flush:
		case <-ps.wake:
			t := time.NewTimer(ps.cfg.Debounce)
			select {
			case <-ps.done:
				t.Stop()
				return
			case <-t.C:
			case <-ps.flush:
				t.Stop()
			}
		}
		ps.mu.Lock()
		batch := make([]*instance, 0, len(ps.queue))
		for in := range ps.queue {
			batch = append(batch, in)
		}
		clear(ps.queue)
		ps.mu.Unlock()
		ps.rerender(batch)
		ps.mu.Lock()
		if len(ps.queue) == 0 && !ps.isIdle {
			close(ps.idle)
			ps.isIdle = true
		}
		ps.mu.Unlock()
	}
}

// rerender renders a batch of invalidated instances, as many at once as the
// renderer has workers.
func (ps *Pages) rerender(batch []*instance) {
	sem := make(chan struct{}, ps.r.Workers())
	var wg sync.WaitGroup
	for _, in := range batch {
		in.mu.Lock()
		skip := in.dirty == in.clean // a request rendered it already
		served := in.served
		in.mu.Unlock()
		if skip {
			continue
		}
		if !served {
			// Known only from a target: re-render it only if some process
			// stored it. Otherwise stop tracking it, so that invalidations
			// alone do not fill the table.
			if e := ps.c.Get(context.Background(), in.key); e.Status != cache.Hit {
				ps.mu.Lock()
				in.mu.Lock()
				in.clean = in.dirty
				if !in.served && ps.inst[in.id] == in { // no request took it meanwhile
					delete(ps.inst, in.id)
				}
				in.mu.Unlock()
				ps.mu.Unlock()
				continue
			}
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if _, err := ps.render(context.Background(), in, true); err != nil {
				ps.logger.Warn("ssr: re-rendering a page failed; it is rendered on its next request", "page", in.rt.Pattern, "values", in.values, "err", err)
			}
		})
	}
	wg.Wait()
}

// Sync re-renders at once what invalidations have queued (without waiting
// for the debounce) and returns when no re-render is queued or running, or
// when ctx ends. Tests and graceful shutdowns use it.
func (ps *Pages) Sync(ctx context.Context) error {
	ps.mu.Lock()
	idle := ps.idle
	ps.mu.Unlock()
	select {
	case ps.flush <- struct{}{}:
	default:
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("ssr: waiting for page re-renders: %w", ctx.Err())
	}
}
