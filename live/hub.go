package live

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/protocol"
	"github.com/redis/go-redis/v9"
)

// Defaults of [Options].
const (
	DefaultPath               = "ws/"
	DefaultChannel            = "mizan:invalidate"
	DefaultMaxMessageBytes    = 64 << 10
	DefaultMaxSubscriptions   = 100
	DefaultMessageRate        = 50
	DefaultMessageBurst       = 100
	DefaultMaxConcurrentCalls = 8
	DefaultSendQueue          = 256
	DefaultPingInterval       = 30 * time.Second
	DefaultWriteTimeout       = 10 * time.Second
	// DefaultMaxConnections bounds the connections of one hub.
	DefaultMaxConnections = 10000
	// DefaultMaxConnectionsPerClient bounds the connections of one client
	// address.
	DefaultMaxConnectionsPerClient = 64
)

// RetryAfterSeconds is the Retry-After of an upgrade refused because its
// client address holds Options.MaxConnectionsPerClient connections.
const RetryAfterSeconds = 5

// HeaderClient is the request header in which a client names itself on its
// HTTP calls, with the id it gave in the client query parameter of ws/: the
// hub does not push the invalidations of a client's own calls back to it
// (it has applied them from the response).
const HeaderClient = "X-Mizan-Client"

// The error codes of this package, beside those of docs/spec.md §5.
const (
	// CodeRateLimited refuses a message sent faster than
	// Options.MessageRate allows.
	CodeRateLimited = mizan.CodeRateLimited
	// CodeTooManySubscriptions refuses a subscribe beyond
	// Options.MaxSubscriptions.
	CodeTooManySubscriptions mizan.Code = "too_many_subscriptions"
)

// The close codes the hub closes connections with (RFC 6455 §7.4).
const (
	// CloseSlowConsumer closes a connection whose queue of outgoing
	// messages is full (StatusPolicyViolation, 1008).
	CloseSlowConsumer = websocket.StatusPolicyViolation
	// CloseCredentials closes a signed-in connection whose credentials no
	// longer hold (its session ended, its token expired), after the error
	// reply to the message that found out (StatusPolicyViolation, 1008).
	CloseCredentials = websocket.StatusPolicyViolation
	// CloseShutdown closes every connection when the hub closes
	// (StatusGoingAway, 1001).
	CloseShutdown = websocket.StatusGoingAway
)

// Options configures a [Hub]. The zero value is usable; each zero field
// means the default named in its comment.
type Options struct {
	// Path is where the endpoint is served under the app's prefix.
	// Default "ws/".
	Path string
	// RedisURL is the Redis through which the hub shares invalidations with
	// the app's other instances. Empty means the app's
	// Config.PubSubRedisURL (MIZAN_PUBSUB_REDIS_URL, or else
	// MIZAN_CACHE_REDIS_URL, with mizan.ConfigFromEnv); when that is empty
	// too, invalidations reach this process's connections only.
	RedisURL string
	// Channel is the Redis channel the instances of one app share. Default
	// "mizan:invalidate"; apps that share a Redis need one each.
	Channel string
	// OriginPatterns lists the origins, besides the request's own host,
	// whose pages may open a connection, as patterns of
	// github.com/coder/websocket ("app.example.com", "*.example.com", or
	// "https://app.example.com" to match the scheme too). Default: the
	// app's Config.TrustedOrigins.
	OriginPatterns []string
	// MaxMessageBytes bounds one client message; a larger one closes the
	// connection with status 1009 (message too big). Default 64 KiB.
	MaxMessageBytes int64
	// MaxSubscriptions bounds the subscriptions of one connection; a
	// subscribe beyond it is refused with too_many_subscriptions.
	// Default 100.
	MaxSubscriptions int
	// MessageRate is how many messages per second a connection may send
	// on average; a message beyond that is not read and is answered
	// rate_limited. Every message counts, before it is parsed: a malformed
	// one as much as any. Default 50.
	MessageRate float64
	// MessageBurst is how many messages a connection may send at once
	// above MessageRate. Default 100.
	MessageBurst int
	// MaxConcurrentCalls bounds the calls of one connection that run at
	// once; further calls wait, and the connection's messages wait behind
	// them. Default 8.
	MaxConcurrentCalls int
	// SendQueue is how many outgoing messages may wait for one connection;
	// a connection whose queue is full is a slow consumer and is closed
	// with status 1008, without delaying the others. Default 256.
	SendQueue int
	// PingInterval is how often the hub pings each connection; one that
	// does not answer within WriteTimeout is closed. Default 30s; negative
	// turns pings off.
	PingInterval time.Duration
	// WriteTimeout bounds the writing of one message and the wait for a
	// pong. Default 10s.
	WriteTimeout time.Duration
	// MaxConnections bounds the connections the hub holds at once, with
	// those being upgraded; beyond it an upgrade is refused, before it
	// happens, with 503 unavailable. Default 10,000; negative: no bound.
	MaxConnections int
	// MaxConnectionsPerClient bounds the connections of one client
	// address at once, with those being upgraded; beyond it an upgrade is
	// refused, before it happens, with 429 rate_limited and a Retry-After
	// of [RetryAfterSeconds]. The client address is the host of the
	// upgrade request's RemoteAddr: behind a reverse proxy, which makes
	// every client one address, set r.RemoteAddr from the proxy's header
	// in a middleware in front of the app (docs/live.md), or raise or turn
	// off this bound. Default 64; negative: no bound.
	MaxConnectionsPerClient int
	// Logger receives the hub's warnings and errors. Default the app's.
	Logger *slog.Logger
}

// App is what the hub needs of a Mizan app: [*mizan.App] has every method.
// The hub reaches the app through nothing else.
type App interface {
	// Config returns the app's configuration (the pub/sub Redis URL, the
	// trusted origins, the logger).
	Config() mizan.Config
	// Handle mounts the endpoint under the app's prefix.
	Handle(path string, h http.Handler) error
	// OnInvalidate adds the hub to the consumers of the app's
	// invalidations.
	OnInvalidate(inv mizan.Invalidator)
	// Authenticate returns the caller of a request, as the app's endpoints
	// find it.
	Authenticate(r *http.Request) (*mizan.Identity, error)
	// CheckContext checks a subscription as GET ctx/ checks a fetch and
	// returns the instance, its params normalized through their declared
	// types and sorted.
	CheckContext(r *http.Request, caller *mizan.Identity, name string, params map[string]string) (protocol.Instance, error)
	// Call runs a function as POST call/ would.
	Call(ctx context.Context, req mizan.CallRequest) (mizan.CallResult, error)
}

var _ App = (*mizan.App)(nil)

// Hub is the app's WebSocket endpoint and live invalidation fan-out. It
// serves ws/ under the app's prefix (calls, subscriptions to context
// instances, pushed invalidations), consumes every invalidation of the app
// as an [mizan.Invalidator], and, with Redis, shares them with the app's
// other instances. Create it with [New] before the app is built; Close it
// when the server stops.
type Hub struct {
	app     App
	opts    Options
	logger  *slog.Logger
	origins []string
	id      string // this instance, in pub/sub messages

	ctx    context.Context // done when the hub closes
	cancel context.CancelFunc
	wg     sync.WaitGroup // connections being served

	mu     sync.RWMutex
	subs   map[string]map[*subscription]struct{} // by context
	conns  map[*conn]struct{}
	closed bool
	// slots counts the connections held or being upgraded, against
	// MaxConnections, and perClient those of each client address, against
	// MaxConnectionsPerClient (an address is deleted at zero).
	slots     int
	perClient map[string]int

	broker *broker // nil without Redis

	// Local deliveries are made by one goroutine, in order, off the
	// mutation's request: queue holds them; a full queue loses the
	// delivery and owes every client a resync instead.
	queue     chan delivery
	owed      atomic.Bool
	delivered chan struct{} // closed when the delivery goroutine ends

	pushed, dropped, resyncs, refused atomic.Uint64
}

var _ mizan.Invalidator = (*Hub)(nil)
var _ http.Handler = (*Hub)(nil)

// New creates the hub of app: it mounts the endpoint under the app's
// prefix ([mizan.App.Handle]), registers the hub as a consumer of the
// app's invalidations ([mizan.App.OnInvalidate]) and, with a Redis URL,
// starts sharing invalidations through Redis pub/sub (Redis need not be
// up: the hub connects, and reconnects, in the background). Call it before
// the app is built.
func New(app App, opts Options) (*Hub, error) {
	if app == nil {
		return nil, errors.New("live: New needs an app")
	}
	cfg := app.Config()
	if opts.Path == "" {
		opts.Path = DefaultPath
	}
	if opts.RedisURL == "" {
		opts.RedisURL = cfg.PubSubRedisURL
	}
	if opts.Channel == "" {
		opts.Channel = DefaultChannel
	}
	if opts.OriginPatterns == nil {
		opts.OriginPatterns = cfg.TrustedOrigins
	}
	if opts.MaxMessageBytes <= 0 {
		opts.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if opts.MaxSubscriptions <= 0 {
		opts.MaxSubscriptions = DefaultMaxSubscriptions
	}
	if opts.MessageRate <= 0 {
		opts.MessageRate = DefaultMessageRate
	}
	if opts.MessageBurst <= 0 {
		opts.MessageBurst = DefaultMessageBurst
	}
	if opts.MaxConcurrentCalls <= 0 {
		opts.MaxConcurrentCalls = DefaultMaxConcurrentCalls
	}
	if opts.SendQueue <= 0 {
		opts.SendQueue = DefaultSendQueue
	}
	if opts.PingInterval == 0 {
		opts.PingInterval = DefaultPingInterval
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	if opts.MaxConnections == 0 {
		opts.MaxConnections = DefaultMaxConnections
	}
	if opts.MaxConnectionsPerClient == 0 {
		opts.MaxConnectionsPerClient = DefaultMaxConnectionsPerClient
	}
	logger := opts.Logger
	if logger == nil {
		logger = cfg.Logger
	}
	if logger == nil {
		logger = slog.Default()
	}
	var raw [8]byte
	_, _ = rand.Read(raw[:])
	h := &Hub{
		app: app, opts: opts, logger: logger, origins: opts.OriginPatterns,
		id:        hex.EncodeToString(raw[:]),
		subs:      map[string]map[*subscription]struct{}{},
		conns:     map[*conn]struct{}{},
		perClient: map[string]int{},
	}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	h.queue = make(chan delivery, deliveryQueue)
	h.delivered = make(chan struct{})
	// Check the Redis URL first: a hub that fails must leave nothing
	// mounted behind it.
	var ropts *redis.Options
	if opts.RedisURL != "" {
		var err error
		if ropts, err = redis.ParseURL(opts.RedisURL); err != nil {
			h.cancel()
			return nil, fmt.Errorf("live: pub/sub Redis URL: %w", err)
		}
	}
	if err := app.Handle(opts.Path, h); err != nil {
		h.cancel()
		return nil, fmt.Errorf("live: mounting the endpoint: %w", err)
	}
	if ropts != nil {
		h.broker = newBroker(h, ropts, opts.Channel)
	}
	go h.deliverLoop()
	app.OnInvalidate(h)
	return h, nil
}

// deliveryQueue bounds the invalidations waiting for local delivery.
const deliveryQueue = 4096

// delivery is one invalidation waiting for local delivery: what the
// emission step computed, as the hub needs it.
type delivery struct {
	// targets are the body forms, in the mutation's order, for the pushed
	// messages; normal[i] is targets[i] normalized by the emission step,
	// which the matching rule reads.
	targets []mizan.Target
	normal  []protocol.Normal
	// narrowed, when not nil, says which targets apply only to the data of
	// the caller whose id is caller (tier 2 of docs/spec.md §3): those go
	// to that caller's connections only.
	narrowed []bool
	caller   string
	// skip is the client whose call it was, pushed nothing.
	skip string
}

// isNarrowed reports whether target i goes to the caller's connections only.
func (d *delivery) isNarrowed(i int) bool {
	return i < len(d.narrowed) && d.narrowed[i]
}

// enqueue queues a local delivery without waiting; when the queue is full
// the delivery is lost and every client will be told to refetch.
func (h *Hub) enqueue(d delivery) {
	select {
	case h.queue <- d:
	default:
		h.owed.Store(true)
	}
}

// deliverLoop makes the local deliveries until the hub closes.
func (h *Hub) deliverLoop() {
	defer close(h.delivered)
	for {
		select {
		case <-h.ctx.Done():
			return
		case d := <-h.queue:
			h.deliver(d)
			if h.owed.Swap(false) {
				h.logger.Warn("live: invalidations came faster than they could be pushed; telling every client to refetch")
				h.resyncAll()
			}
		}
	}
}

// Stats are the hub's counters: gauges of now, and totals since New.
type Stats struct {
	Connections   int // open connections
	Subscriptions int // subscriptions of those connections
	// Pushed counts invalidate messages queued to connections.
	Pushed uint64
	// Dropped counts connections closed as slow consumers.
	Dropped uint64
	// Resyncs counts the times every connection was told to refetch what
	// it watches after invalidations may have been lost (a pub/sub
	// reconnect, or another instance's failed publish).
	Resyncs uint64
	// Refused counts the upgrades refused over MaxConnections or
	// MaxConnectionsPerClient.
	Refused uint64
	// PubSub reports whether the hub uses Redis, and PubSubUp whether it is
	// subscribed to it now.
	PubSub, PubSubUp bool
	// Published counts invalidations published to Redis; Received those
	// received from other instances; Lost those that could not be
	// published (Redis down, or the publish queue full).
	Published, Received, Lost uint64
}

// Stats returns the hub's counters.
func (h *Hub) Stats() Stats {
	h.mu.RLock()
	s := Stats{Connections: len(h.conns)}
	for _, m := range h.subs {
		s.Subscriptions += len(m)
	}
	h.mu.RUnlock()
	s.Pushed, s.Dropped, s.Resyncs, s.Refused = h.pushed.Load(), h.dropped.Load(), h.resyncs.Load(), h.refused.Load()
	if b := h.broker; b != nil {
		s.PubSub, s.PubSubUp = true, b.up.Load()
		s.Published, s.Received, s.Lost = b.published.Load(), b.received.Load(), b.lost.Load()
	}
	return s
}

// Close closes every connection (status 1001, going away), stops the
// pub/sub and waits for the connections' goroutines. New connections are
// refused with 503 from then on. It is safe to call more than once.
func (h *Hub) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	conns := make([]*conn, 0, len(h.conns))
	for c := range h.conns {
		conns = append(conns, c)
	}
	h.mu.Unlock()
	for _, c := range conns {
		c.closeWith(CloseShutdown, "server shutting down")
	}
	h.wg.Wait() // each close handshake is bounded by the library (5s)
	h.cancel()
	<-h.delivered
	if h.broker != nil {
		return h.broker.close()
	}
	return nil
}

// skipKey is the context key of the client whose call is running: the
// hub pushes that call's invalidations to every connection but the
// client's own.
type skipKey struct{}

// Invalidate is the hub's part of the app's fan-out: it queues the
// targets for this process's matching connections and for the other
// instances, and returns; the pushes are made by goroutines of the hub, so
// a mutation's response never waits for them, for a slow connection or
// for Redis. It reads the targets as the emission step normalized them
// (inv.Normal) and narrows those inv.Narrowed names to the caller's
// connections.
func (h *Hub) Invalidate(ctx context.Context, inv mizan.Invalidation) {
	if len(inv.Targets) == 0 {
		return
	}
	skip, _ := ctx.Value(skipKey{}).(string)
	if skip == "" {
		if r := mizan.Request(ctx); r != nil {
			if id := r.Header.Get(HeaderClient); validClientID(id) {
				skip = id
			}
		}
	}
	d := newDelivery(inv, skip)
	h.enqueue(d)
	if h.broker != nil {
		h.broker.publish(d)
	}
}

// newDelivery returns the delivery of inv, to every connection but those
// of client skip.
func newDelivery(inv mizan.Invalidation, skip string) delivery {
	d := delivery{targets: inv.Targets, normal: normals(inv.Normal, inv.Targets), skip: skip}
	for i := range inv.Targets {
		if inv.Narrowed(i) {
			if d.narrowed == nil {
				d.narrowed = make([]bool, len(inv.Targets))
			}
			d.narrowed[i] = true
		}
	}
	if d.narrowed != nil {
		d.caller = inv.Caller.ID
	}
	return d
}

// normals returns the normal forms of targets: given, as the emission step
// computed them, when there is one for each target. Otherwise (an
// Invalidation not made by the app's emission step, or a message of an
// instance that predates normalized targets) they are computed here; a
// target that cannot be normalized becomes broad (its context only), so
// that nothing stays stale.
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

// deliver pushes the targets to the connections with a matching
// subscription, each receiving one message with the targets that match its
// subscriptions, except the connections of client d.skip.
func (h *Hub) deliver(d delivery) {
	hits := h.recipients(&d)
	msgs := map[uint64][]byte{}
	for c, mask := range hits {
		msg, ok := msgs[mask]
		if !ok {
			sel := make([]mizan.Target, 0, len(d.targets))
			for i, t := range d.targets {
				if mask&(uint64(1)<<min(i, 63)) != 0 {
					sel = append(sel, t)
				}
			}
			var err error
			if msg, err = appendInvalidate(nil, sel); err != nil {
				h.logger.Error("live: encoding an invalidation", "err", err)
				continue // this connection misses it; the others still get theirs
			}
			msgs[mask] = msg
		}
		if c.send(msg) {
			h.pushed.Add(1)
		}
	}
}

// recipients decides who is pushed what: for each connection with a
// subscription that target i applies to, bit i of its mask (bit 63 for
// every i >= 63). Target i applies to a subscription when the matching
// rule of docs/spec.md §3 ([protocol.Match]) says so, except that a
// narrowed target applies only to the subscriptions of connections signed
// in as its caller, and that the connections of client d.skip get nothing.
func (h *Hub) recipients(d *delivery) map[*conn]uint64 {
	if len(d.normal) == 0 {
		return nil
	}
	var hits map[*conn]uint64
	h.mu.RLock()
	defer h.mu.RUnlock()
	for i, n := range d.normal {
		bit := uint64(1) << min(i, 63)
		narrowed := d.isNarrowed(i)
		for s := range h.subs[n.Context] {
			if d.skip != "" && s.c.key == d.skip {
				continue
			}
			if narrowed && (s.caller == nil || s.caller.ID != d.caller) {
				continue
			}
			if protocol.Match(n, s.inst) {
				if hits == nil {
					hits = map[*conn]uint64{}
				}
				hits[s.c] |= bit
			}
		}
	}
	return hits
}

// resyncAll tells every connection to refetch everything it watches: one
// invalidate message with a broad target for each context it subscribes to.
func (h *Hub) resyncAll() {
	h.resyncs.Add(1)
	h.mu.RLock()
	conns := make([]*conn, 0, len(h.conns))
	for c := range h.conns {
		conns = append(conns, c)
	}
	h.mu.RUnlock()
	for _, c := range conns {
		c.resync()
	}
}

// admit takes a connection slot for an upgrade from client address addr,
// before the upgrade: it returns the refusal when the hub is closed (503
// unavailable), holds MaxConnections connections (503 unavailable) or addr
// holds MaxConnectionsPerClient (429 rate_limited). A slot taken is given
// back by release, or by unregister once it is a connection's.
func (h *Hub) admit(addr string) *mizan.Error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return mizan.NewError(mizan.CodeUnavailable, "the server is shutting down")
	}
	if limit := h.opts.MaxConnections; limit > 0 && h.slots >= limit {
		h.refused.Add(1)
		return mizan.Errorf(mizan.CodeUnavailable, "the server holds %d WebSocket connections, the most it allows: try again later", limit)
	}
	if limit := h.opts.MaxConnectionsPerClient; limit > 0 && h.perClient[addr] >= limit {
		h.refused.Add(1)
		return mizan.Errorf(CodeRateLimited, "this client already has %d WebSocket connections, the most allowed: close one first", limit).
			WithStatus(http.StatusTooManyRequests)
	}
	h.slots++
	h.perClient[addr]++
	return nil
}

// release gives back a slot taken by admit, of an upgrade that did not
// become a registered connection.
func (h *Hub) release(addr string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.releaseLocked(addr)
}

// releaseLocked is release with h.mu held.
func (h *Hub) releaseLocked(addr string) {
	h.slots--
	if n := h.perClient[addr] - 1; n > 0 {
		h.perClient[addr] = n
	} else {
		delete(h.perClient, addr)
	}
}

// register adds c, unless the hub is closed, and counts it in h.wg (under
// h.mu, so that no Add can follow Close's Wait). From then on c holds the
// slot its upgrade was admitted with, until unregister.
func (h *Hub) register(c *conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.conns[c] = struct{}{}
	h.wg.Add(1)
	return true
}

// unregister removes c and its subscriptions, and gives back its slot.
func (h *Hub) unregister(c *conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.conns, c)
	h.releaseLocked(c.addr)
	c.mu.Lock()
	for _, s := range c.subs {
		h.removeSub(s)
	}
	c.subs = nil
	c.mu.Unlock()
}

// addSub indexes s; removeSub un-indexes it. h.mu must be held.
func (h *Hub) addSub(s *subscription) {
	m := h.subs[s.inst.Context]
	if m == nil {
		m = map[*subscription]struct{}{}
		h.subs[s.inst.Context] = m
	}
	m[s] = struct{}{}
}

func (h *Hub) removeSub(s *subscription) {
	if m := h.subs[s.inst.Context]; m != nil {
		delete(m, s)
		if len(m) == 0 {
			delete(h.subs, s.inst.Context)
		}
	}
}
