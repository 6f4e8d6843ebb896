package edge

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/protocol"
)

// ErrClosed is wrapped by the error [Purger.Flush] returns once the Purger
// has stopped with invalidations the edge never acknowledged, and by that
// of a repeated [Purger.Close] after such a stop.
var ErrClosed = errors.New("edge: the purger is closed")

// Purger posts every invalidation it is given to the edge's purge endpoint,
// in order, retrying each post until the edge acknowledges it (see the
// package documentation for the wire and the guarantee). It is a
// [mizan.Invalidator]: add it to an app with [mizan.App.OnInvalidate], or
// create it with [Attach]. One goroutine sends; [Purger.Close] stops it.
// Its methods are safe for concurrent use.
type Purger struct {
	s settings

	stop   context.Context // done when the sender must give up
	cancel context.CancelFunc
	wake   chan struct{} // 1-buffered: the queue or the state changed
	done   chan struct{} // closed when the sender has returned

	mu         sync.Mutex
	queue      []*entry // waiting, oldest first; at most s.queueSize
	inflight   bool     // the sender holds a batch taken from the queue
	inflightAt time.Time
	enqueued   uint64        // invalidations accepted so far (the seq of the last)
	acked      uint64        // every invalidation up to this seq is acknowledged
	ackCh      chan struct{} // closed, and replaced, on every acknowledgement and on stop
	closing    bool          // Close was called: the sender stops once the queue is empty
	stopped    bool          // the sender has returned
	lost       uint64        // invalidations pending when the sender stopped
	stats      Stats
}

var _ mizan.Invalidator = (*Purger)(nil)

// entry is one queued invalidation, or, when broad, the broad targets that
// replaced several.
type entry struct {
	last      uint64    // seq of the latest invalidation it covers
	at        time.Time // when the earliest invalidation it covers was queued
	mutation  string
	caller    string
	hasCaller bool
	targets   []target
	broad     bool                // an overflow entry: broad targets only, no mutation or caller
	contexts  map[string]struct{} // of a broad entry: the contexts in targets
}

// target is one target of an entry, encoded.
type target struct {
	context string
	json    []byte // the body form, as protocol.Target marshals it
}

// isBroad reports whether t is the broad target of its context, the JSON
// string "ctx".
func (t target) isBroad() bool { return len(t.json) > 0 && t.json[0] == '"' }

// Stats are counters of a [Purger], for metrics and health checks.
type Stats struct {
	// Pending is the number of invalidations given to Invalidate that the
	// edge has not acknowledged yet (those coalesced into broad targets
	// included); zero once the Purger has stopped.
	Pending int
	// Sent counts the posts the edge acknowledged.
	Sent uint64
	// Attempts counts the posts made, retries included.
	Attempts uint64
	// Failures counts the attempts that were not acknowledged.
	Failures uint64
	// Coalesced counts the invalidations replaced by the broad targets of
	// their contexts because the queue was full, or because one post could
	// not carry all their targets (over 512 KiB of them).
	Coalesced uint64
	// Dropped counts the invalidations never delivered because the Purger
	// stopped: those still pending when Close gave up, and those given
	// after it had stopped. Each drop is logged as an error.
	Dropped uint64
	// LastError describes the most recent failed attempt ("" if none has
	// failed); it is kept after later attempts succeed.
	LastError string
	// OldestPending is how long the oldest invalidation not yet
	// acknowledged has waited, zero when none is pending: how far behind
	// the edge may be.
	OldestPending time.Duration
}

// New returns a Purger posting to the edge of cfg, its sender started. It
// returns an error when cfg is invalid (see [Config]). Close it when the
// server stops, after the server has stopped serving requests, so that the
// invalidations of the last requests are delivered too.
func New(cfg Config) (*Purger, error) {
	s, err := cfg.check()
	if err != nil {
		return nil, err
	}
	stop, cancel := context.WithCancel(context.Background())
	p := &Purger{
		s:      s,
		stop:   stop,
		cancel: cancel,
		wake:   make(chan struct{}, 1),
		done:   make(chan struct{}),
		ackCh:  make(chan struct{}),
	}
	go p.run()
	return p, nil
}

// Attach creates a Purger from cfg and adds it to app's consumers of
// invalidations, so that every invalidation app emits is posted to the
// edge. The caller closes the Purger when the server stops.
//
// Consumers run in the order they were added: attach the Purger after the
// app's other consumers (ssr.Pages, the live hub), so that a purge post
// does not race ahead of a page being marked for re-rendering.
func Attach(app *mizan.App, cfg Config) (*Purger, error) {
	if app == nil {
		return nil, errors.New("edge: Attach: the app is nil")
	}
	p, err := New(cfg)
	if err != nil {
		return nil, err
	}
	app.OnInvalidate(p)
	return p, nil
}

// Invalidate queues inv to be posted to the edge and returns at once: it
// never waits for the network, and never blocks on a full queue (see the
// package documentation). It implements [mizan.Invalidator]; ctx is not
// used, since the post outlives the request that emitted inv.
func (p *Purger) Invalidate(ctx context.Context, inv mizan.Invalidation) {
	if len(inv.Targets) == 0 {
		return
	}
	e := &entry{mutation: inv.Source, targets: make([]target, 0, len(inv.Targets))}
	if inv.Caller != nil {
		e.hasCaller, e.caller = true, inv.Caller.ID
	}
	for _, t := range inv.Targets {
		b, err := t.MarshalJSON()
		if err != nil {
			// The emission step has already checked every target; one
			// given to Invalidate directly may be wrong. Purge its whole
			// context rather than nothing, or, when even the context is
			// not a name, leave out what no edge can hold.
			b, err = protocol.Broad(t.Context).MarshalJSON()
			if err != nil {
				p.s.log.Error("edge: an invalidation target that is not valid is left out", "mutation", inv.Source, "context", t.Context, "err", err)
				continue
			}
			p.s.log.Error("edge: an invalidation target that cannot be encoded is posted as its broad context", "mutation", inv.Source, "context", t.Context, "err", err)
		}
		e.targets = append(e.targets, target{context: t.Context, json: b})
	}
	if len(e.targets) == 0 {
		return
	}

	p.mu.Lock()
	if p.stopped {
		p.stats.Dropped++
		p.mu.Unlock()
		p.s.log.Error("edge: an invalidation given after the purger stopped is not posted to the edge", "mutation", inv.Source, "targets", len(e.targets))
		return
	}
	p.enqueued++
	e.last, e.at = p.enqueued, p.s.now()
	if len(p.queue) < p.s.queueSize {
		p.queue = append(p.queue, e)
	} else {
		p.overflow(e)
	}
	p.mu.Unlock()
	p.signal()
}

// overflow merges e, which finds the queue full, into a broad entry at the
// queue's tail: the last entry, made broad first if it is not. The tail
// covers every invalidation up to e, so acknowledging entries in order
// still acknowledges invalidations in order. p.mu is held.
func (p *Purger) overflow(e *entry) {
	n := len(p.queue) - 1
	tail := p.queue[n]
	if !tail.broad {
		b := &entry{last: tail.last, at: tail.at, broad: true, contexts: map[string]struct{}{}}
		b.addBroad(tail)
		p.queue[n] = b
		p.stats.Coalesced++
		tail = b
	}
	tail.addBroad(e)
	tail.last = e.last
	p.stats.Coalesced++
}

// addBroad adds the broad targets of e's contexts to the broad entry b.
func (b *entry) addBroad(e *entry) {
	for _, t := range e.targets {
		if _, ok := b.contexts[t.context]; ok {
			continue
		}
		j, err := protocol.Broad(t.context).MarshalJSON()
		if err != nil {
			continue // unreachable: t's context was encoded once already
		}
		b.contexts[t.context] = struct{}{}
		b.targets = append(b.targets, target{context: t.context, json: j})
	}
}

// signal wakes the sender.
func (p *Purger) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Flush waits until the edge has acknowledged every invalidation given to
// Invalidate before Flush was called. It returns ctx's error, wrapped, if
// ctx is done first, and an error wrapping [ErrClosed] if the Purger
// stops first.
func (p *Purger) Flush(ctx context.Context) error {
	p.mu.Lock()
	want := p.enqueued
	for p.acked < want {
		if p.stopped {
			left := want - min(p.acked, want)
			p.mu.Unlock()
			return fmt.Errorf("edge: flush: %d invalidations never acknowledged by the edge: %w", left, ErrClosed)
		}
		ch := p.ackCh
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			p.mu.Lock()
			left := want - min(p.acked, want)
			p.mu.Unlock()
			return fmt.Errorf("edge: flush: %d invalidations not yet acknowledged by the edge: %w", left, ctx.Err())
		}
		p.mu.Lock()
	}
	p.mu.Unlock()
	return nil
}

// Close stops the Purger. It first goes on delivering what is queued, and
// what is given to Invalidate meanwhile, until the queue is empty or ctx is
// done; then it stops the sender (an attempt under way is abandoned) and
// returns. It returns nil when everything was acknowledged, and otherwise
// an error wrapping ctx's that says how many invalidations the edge never
// received (each counted in [Stats.Dropped] and logged). Invalidations
// given after Close has returned are dropped, with an error logged. Close
// may be called again: it returns at once, reporting the same loss.
func (p *Purger) Close(ctx context.Context) error {
	p.mu.Lock()
	p.closing = true
	p.mu.Unlock()
	p.signal()
	select {
	case <-p.done:
	case <-ctx.Done():
		p.cancel()
		<-p.done
	}
	p.mu.Lock()
	lost := p.lost
	p.mu.Unlock()
	if lost == 0 {
		return nil
	}
	cause := ctx.Err()
	if cause == nil {
		cause = ErrClosed
	}
	return fmt.Errorf("edge: closed with %d invalidations the edge has not acknowledged: %w", lost, cause)
}

// Stats returns the Purger's counters.
func (p *Purger) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.stats
	if !p.stopped {
		st.Pending = int(p.enqueued - p.acked)
	}
	switch {
	case p.inflight:
		st.OldestPending = p.s.now().Sub(p.inflightAt)
	case len(p.queue) > 0:
		st.OldestPending = p.s.now().Sub(p.queue[0].at)
	}
	st.OldestPending = max(st.OldestPending, 0)
	return st
}

// maxBatchTargets bounds the targets of a post that merges several
// invalidations (one invalidation with more is posted alone, whole).
const maxBatchTargets = 256

// next waits for queued entries and takes the next batch: the oldest entry
// and those after it with the same mutation and caller, up to
// maxBatchTargets targets. It returns false when the sender must stop: the
// Purger is closing and nothing is queued, or it was stopped.
func (p *Purger) next() ([]*entry, bool) {
	for {
		p.mu.Lock()
		if len(p.queue) > 0 {
			first := p.queue[0]
			k, n := 1, len(first.targets)
			for ; k < len(p.queue); k++ {
				e := p.queue[k]
				if !sameSource(first, e) || n+len(e.targets) > maxBatchTargets {
					break
				}
				n += len(e.targets)
			}
			batch := slices.Clone(p.queue[:k])
			p.queue = slices.Delete(p.queue, 0, k)
			p.inflight, p.inflightAt = true, first.at
			p.mu.Unlock()
			return batch, true
		}
		if p.closing {
			// Stopped under the lock that found the queue empty, so that
			// nothing is queued after the last look.
			p.stopped = true
			p.mu.Unlock()
			return nil, false
		}
		p.mu.Unlock()
		select {
		case <-p.wake:
		case <-p.stop.Done():
			return nil, false
		}
	}
}

// sameSource reports whether a and b were emitted by the same mutation for
// the same caller, so that one post can carry both.
func sameSource(a, b *entry) bool {
	return a.mutation == b.mutation && a.hasCaller == b.hasCaller && a.caller == b.caller
}

// run is the sender.
func (p *Purger) run() {
	defer close(p.done)
	defer p.stopSending()
	for {
		batch, ok := p.next()
		if !ok {
			return
		}
		if !p.deliver(batch) {
			return
		}
	}
}

// stopSending records that the sender has returned: what is still pending
// is lost, and Flush's waiters are woken.
func (p *Purger) stopSending() {
	p.mu.Lock()
	p.stopped = true
	p.lost = p.enqueued - p.acked
	p.stats.Dropped += p.lost
	p.queue, p.inflight = nil, false
	close(p.ackCh)
	p.ackCh = make(chan struct{})
	lost := p.lost
	p.mu.Unlock()
	p.cancel()
	if lost > 0 {
		p.s.log.Error("edge: the purger stopped before the edge acknowledged every invalidation: it may serve stale entries until they expire",
			"url", p.s.redacted, "lost", lost)
	}
}

// acknowledge records that the edge acknowledged the post of batch.
func (p *Purger) acknowledge(batch []*entry) {
	p.mu.Lock()
	p.stats.Attempts++
	p.stats.Sent++
	p.acked = batch[len(batch)-1].last
	p.inflight = false
	close(p.ackCh)
	p.ackCh = make(chan struct{})
	p.mu.Unlock()
}

// failed records a failed attempt.
func (p *Purger) failed(err error) {
	p.mu.Lock()
	p.stats.Attempts++
	p.stats.Failures++
	p.stats.LastError = err.Error()
	p.mu.Unlock()
}
