package live

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/protocol"
	"github.com/redis/go-redis/v9"
)

// Tuning of the Redis pub/sub.
const (
	publishQueue    = 4096                   // invalidations waiting to be published
	publishBatch    = 256                    // published in one pipeline at most
	retryMin        = 50 * time.Millisecond  // first wait after a Redis failure
	retryMax        = 2 * time.Second        // longest wait between reconnection attempts
	brokerCloseWait = 100 * time.Millisecond // for queued publishes on Close
)

// pubSubIdle is how long a subscription may stay silent before it is
// pinged (a variable for the tests).
var pubSubIdle = 5 * time.Second

// envelope is one pub/sub message: the invalidations of a mutation on
// instance O, or, with R, word that invalidations may have been lost and
// every client should refetch.
//
// An invalidation carries what the emission step computed on O, so that
// every instance pushes exactly what O would: T, the targets in body form
// (for the pushed messages); N, each target normalized (what the matching
// rule reads; never computed again elsewhere); W, the indices of the
// targets narrowed to their caller, whose id is U (tier 2 of
// docs/spec.md §3; both omitted when nothing is narrowed); and S, the
// client whose call it was. A message without N (from an instance that
// predates it) has its targets normalized on receipt; an instance that
// predates W ignores it and pushes those targets to every matching
// subscription, as it did (more pushes, never a stale page).
type envelope struct {
	O string         `json:"o"`
	S string         `json:"s,omitempty"`
	T []mizan.Target `json:"t,omitempty"`
	N []wireNormal   `json:"n,omitempty"`
	W []int          `json:"w,omitempty"`
	U string         `json:"u,omitempty"`
	R bool           `json:"r,omitempty"`
}

// wireNormal is a [protocol.Normal] in a pub/sub message:
// {"c":"user","f":"user_profile","p":[["user_id","1"]]}, params in order.
type wireNormal struct {
	C string      `json:"c"`
	F string      `json:"f,omitempty"`
	P [][2]string `json:"p,omitempty"`
}

// envelopeOf returns the pub/sub message of a delivery.
func envelopeOf(origin string, d delivery) envelope {
	e := envelope{O: origin, S: d.skip, T: d.targets, N: make([]wireNormal, len(d.normal))}
	for i, n := range d.normal {
		w := wireNormal{C: n.Context, F: n.Function}
		if len(n.Params) > 0 {
			w.P = make([][2]string, len(n.Params))
			for j, p := range n.Params {
				w.P[j] = [2]string{p.Name, p.Value}
			}
		}
		e.N[i] = w
	}
	for i := range d.targets {
		if d.isNarrowed(i) {
			e.W = append(e.W, i)
		}
	}
	if len(e.W) > 0 {
		e.U = d.caller
	}
	return e
}

// delivery returns the local delivery of a message another instance
// published. Normal forms that do not fit the targets (a message from an
// instance that predates them) are computed from the targets.
func (e envelope) delivery() delivery {
	d := delivery{targets: e.T, skip: e.S}
	var given []protocol.Normal
	if len(e.N) == len(e.T) {
		given = make([]protocol.Normal, len(e.N))
		for i, w := range e.N {
			if w.C != e.T[i].Context {
				given = nil // not this message's targets: recompute them all
				break
			}
			n := protocol.Normal{Context: w.C, Function: w.F}
			if len(w.P) > 0 {
				n.Params = make([]protocol.Param, len(w.P))
				for j, p := range w.P {
					n.Params[j] = protocol.Param{Name: p[0], Value: p[1]}
				}
			}
			given[i] = n
		}
	}
	d.normal = normals(given, e.T)
	for _, i := range e.W {
		if i < 0 || i >= len(e.T) {
			continue
		}
		if d.narrowed == nil {
			d.narrowed = make([]bool, len(e.T))
		}
		d.narrowed[i] = true
	}
	if d.narrowed != nil {
		d.caller = e.U
	}
	return d
}

// broker shares invalidations between instances through Redis pub/sub:
// every instance publishes its invalidations on one channel and pushes
// those of the others to its own connections. Publishing is asynchronous
// and batched; the subscription reconnects by itself, and after any gap
// (a reconnect, or a publish that failed anywhere) every client is told
// to refetch what it watches, since what was sent meanwhile is lost.
type broker struct {
	h       *Hub
	rdb     *redis.Client
	channel string
	idle    time.Duration // pubSubIdle when the broker was made
	queue   chan []byte
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	up       atomic.Bool // subscribed now
	owed     atomic.Bool // a publish failed: announce a resync when Redis answers again
	wasDown  atomic.Bool // for logging transitions once
	closeMu  sync.Mutex
	isClosed bool
	ps       *redis.PubSub // the current subscription, closed by close to end a blocked receive

	published, received, lost atomic.Uint64
}

// newBroker connects to the Redis opts names and starts the publisher and the
// subscriber.
func newBroker(h *Hub, opts *redis.Options, channel string) *broker {
	b := &broker{h: h, rdb: redis.NewClient(opts), channel: channel, idle: pubSubIdle, queue: make(chan []byte, publishQueue)}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.wg.Add(2)
	go b.publishLoop()
	go b.subscribeLoop()
	return b
}

// publish queues an invalidation for the other instances. When the queue
// is full (Redis has been slow or away for a while) the invalidation is
// lost and a resync is owed.
func (b *broker) publish(d delivery) {
	msg, err := json.Marshal(envelopeOf(b.h.id, d))
	if err != nil {
		b.h.logger.Error("live: encoding an invalidation for pub/sub", "err", err)
		return
	}
	select {
	case b.queue <- msg:
	default:
		b.lost.Add(1)
		b.owed.Store(true)
	}
}

// publishLoop publishes queued invalidations, in pipelined batches.
func (b *broker) publishLoop() {
	defer b.wg.Done()
	batch := make([][]byte, 0, publishBatch)
	wait := retryMin
	for {
		select {
		case <-b.ctx.Done():
			return
		case msg := <-b.queue:
			batch = append(batch[:0], msg)
		}
	drain:
		for len(batch) < publishBatch {
			select {
			case msg := <-b.queue:
				batch = append(batch, msg)
			default:
				break drain
			}
		}
		owed := b.owed.Swap(false)
		pipe := b.rdb.Pipeline()
		if owed {
			resync, _ := json.Marshal(envelope{O: b.h.id, R: true})
			pipe.Publish(b.ctx, b.channel, resync)
		}
		for _, msg := range batch {
			pipe.Publish(b.ctx, b.channel, msg)
		}
		if _, err := pipe.Exec(b.ctx); err != nil {
			if b.ctx.Err() != nil {
				return
			}
			b.lost.Add(uint64(len(batch)))
			b.owed.Store(true)
			b.h.logger.Warn("live: pub/sub: publishing failed; other instances will be told to resync", "lost", len(batch), "err", err)
			if !sleep(b.ctx, wait) {
				return
			}
			wait = min(wait*2, retryMax)
			continue
		}
		wait = retryMin
		b.published.Add(uint64(len(batch)))
	}
}

// subscribeLoop receives the other instances' invalidations. go-redis
// reconnects and resubscribes by itself; each subscription confirmation
// after the first (or after a failure before the first) means a gap, and
// every local client is told to refetch. A subscription silent for
// pubSubIdle is pinged; one that does not answer by the next idle period is
// dropped and opened anew (a Redis that hangs without closing the socket).
func (b *broker) subscribeLoop() {
	defer b.wg.Done()
	gap := false // invalidations may have been missed since the last subscription
	wait := retryMin
	for b.ctx.Err() == nil {
		ps := b.rdb.Subscribe(b.ctx, b.channel)
		b.closeMu.Lock()
		if b.isClosed {
			b.closeMu.Unlock()
			_ = ps.Close()
			break
		}
		b.ps = ps
		b.closeMu.Unlock()
		pinged := false
		for b.ctx.Err() == nil {
			msg, err := ps.ReceiveTimeout(b.ctx, b.idle)
			if err != nil {
				if b.ctx.Err() != nil {
					break
				}
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() && b.up.Load() {
					if pinged {
						b.down(fmt.Errorf("no answer to a ping within %v", b.idle))
						gap = true
						break // open a new subscription
					}
					pinged = true
					_ = ps.Ping(b.ctx)
					continue
				}
				b.down(err)
				gap = true
				if !sleep(b.ctx, wait) {
					break
				}
				wait = min(wait*2, retryMax)
				continue // go-redis reconnects on the next receive
			}
			pinged = false
			switch m := msg.(type) {
			case *redis.Subscription:
				if m.Kind != "subscribe" {
					continue
				}
				wait = retryMin
				b.up.Store(true)
				if b.wasDown.Swap(false) {
					b.h.logger.Info("live: pub/sub: subscribed again; telling every client to refetch")
				}
				if gap {
					b.h.resyncAll()
				}
				gap = true // any later confirmation follows a reconnect
			case *redis.Message:
				b.handle(m.Payload)
			}
		}
		_ = ps.Close()
	}
	b.up.Store(false)
}

// down records a lost subscription, logging it once.
func (b *broker) down(err error) {
	b.up.Store(false)
	if !b.wasDown.Swap(true) {
		b.h.logger.Warn("live: pub/sub: lost the Redis subscription; reconnecting", "err", err)
	}
}

// handle pushes the invalidations another instance published.
func (b *broker) handle(payload string) {
	var e envelope
	if err := json.Unmarshal([]byte(payload), &e); err != nil {
		b.h.logger.Warn("live: pub/sub: ignoring a malformed message", "err", err)
		return
	}
	if e.O == b.h.id {
		return // ours, already delivered here
	}
	b.received.Add(1)
	if e.R {
		b.h.resyncAll()
		return
	}
	b.h.enqueue(e.delivery())
}

// close stops the broker, giving queued publishes a moment, and closes the
// Redis client.
func (b *broker) close() error {
	b.closeMu.Lock()
	if b.isClosed {
		b.closeMu.Unlock()
		return nil
	}
	b.isClosed = true
	ps := b.ps
	b.closeMu.Unlock()
	deadline := time.Now().Add(brokerCloseWait)
	for len(b.queue) > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	b.cancel()
	if ps != nil {
		_ = ps.Close() // ends a receive blocked on the socket
	}
	b.wg.Wait()
	if err := b.rdb.Close(); err != nil {
		return fmt.Errorf("live: closing the pub/sub Redis client: %w", err)
	}
	return nil
}

// sleep waits for d or until ctx is done; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
