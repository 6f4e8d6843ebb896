package live

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/protocol"
)

// subscription is one context instance a connection watches.
type subscription struct {
	c *conn
	// inst is the instance as [App.CheckContext] returned it: its params
	// normalized through their declared types ({"user_id": "01"} is
	// user_id=1) and sorted, what the matching rule compares targets with.
	inst protocol.Instance
	// caller is who the connection was signed in as when it subscribed
	// (nil: anonymous), for targets narrowed to their caller. A
	// connection's caller does not change: its credentials are checked
	// again on every subscription, and a connection whose caller would
	// change is closed.
	caller *mizan.Identity
}

// conn is one WebSocket connection. Its reader runs on the handler's
// goroutine; a writer goroutine drains out; each call runs on a goroutine
// of its own, at most Options.MaxConcurrentCalls at once.
type conn struct {
	h      *Hub
	ws     *websocket.Conn
	r      *http.Request // the upgrade request
	key    string        // the client's id, for skipping its own calls' pushes
	addr   string        // the client's address, whose slot it holds (Options.MaxConnectionsPerClient)
	ctx    context.Context
	cancel context.CancelFunc
	out    chan []byte
	calls  chan struct{} // a semaphore of running calls
	wg     sync.WaitGroup
	gone   atomic.Bool // closing: send nothing more

	closing   atomic.Bool   // closeWith has started a close handshake
	closeDone chan struct{} // closed when that handshake is over

	mu      sync.Mutex // guards caller, authReq and subs
	caller  *mizan.Identity
	authReq *http.Request            // what caller was authenticated from; nil when anonymous
	subs    map[string]*subscription // by instance key

	// Read by the reader goroutine only.
	messages int       // messages read so far
	tokens   float64   // rate limit bucket
	last     time.Time // when tokens was last refilled
}

func newConn(h *Hub, ws *websocket.Conn, r *http.Request, caller *mizan.Identity, key string) *conn {
	c := &conn{
		h: h, ws: ws, r: r, key: key, caller: caller,
		out:       make(chan []byte, h.opts.SendQueue),
		closeDone: make(chan struct{}),
		calls:     make(chan struct{}, h.opts.MaxConcurrentCalls),
		subs:      map[string]*subscription{},
		tokens:    float64(h.opts.MessageBurst),
		last:      time.Now(),
	}
	// The connection outlives the upgrade request: its context keeps the
	// request's values (a function may read them) but ends with the hub.
	if caller != nil {
		c.authReq = r
	}
	c.ctx, c.cancel = context.WithCancel(context.WithoutCancel(r.Context()))
	stop := context.AfterFunc(h.ctx, c.cancel)
	context.AfterFunc(c.ctx, func() { stop() })
	return c
}

// serve runs the connection until it closes.
func (c *conn) serve() {
	c.wg.Add(1)
	go c.writeLoop()
	if c.h.opts.PingInterval > 0 {
		c.wg.Add(1)
		go c.pingLoop()
	}
	c.readLoop()
	c.gone.Store(true)
	if c.closing.Load() {
		<-c.closeDone // let the close frame out (the library bounds the wait)
	}
	c.cancel()
	c.wg.Wait()
	_ = c.ws.CloseNow()
}

// readLoop reads and handles messages until the connection fails or closes.
func (c *conn) readLoop() {
	for {
		typ, data, err := c.ws.Read(c.ctx)
		if err != nil {
			return // closed by the peer, by the hub, or over the read limit (1009)
		}
		if typ != websocket.MessageText {
			c.closeWith(websocket.StatusUnsupportedData, "text messages only: JSON objects of docs/spec.md §9")
			return
		}
		c.handle(data)
	}
}

// handle answers one message. Every message counts against the rate
// limit before it is read, a malformed one as much as any: one over the
// limit is not parsed, only peeked at for its id, and is answered
// rate_limited.
func (c *conn) handle(data []byte) {
	c.messages++
	if !c.allow(time.Now()) {
		c.send(appendError(nil, peekID(data), mizan.Errorf(CodeRateLimited,
			"too many messages: at most %g a second on average, in bursts of %d; this one was not handled",
			c.h.opts.MessageRate, c.h.opts.MessageBurst).WithStatus(http.StatusTooManyRequests)))
		return
	}
	req, merr := parseRequest(data)
	if merr != nil {
		c.send(appendError(nil, req.ID, merr))
		return
	}
	switch req.Type {
	case typeAuth:
		c.authenticate(req)
	case typeSubscribe:
		c.subscribe(req)
	case typeUnsubscribe:
		c.unsubscribe(req)
	case typeCall:
		c.call(req)
	}
}

// allow takes a token from the connection's bucket.
func (c *conn) allow(now time.Time) bool {
	o := c.h.opts
	c.tokens = min(float64(o.MessageBurst), c.tokens+now.Sub(c.last).Seconds()*o.MessageRate)
	c.last = now
	if c.tokens < 1 {
		return false
	}
	c.tokens--
	return true
}

// authenticate handles an auth message: the token is checked as an
// "Authorization: Bearer" header of the upgrade request would be, and the
// identity it names replaces the connection's.
func (c *conn) authenticate(req request) {
	if c.messages != 1 {
		c.send(appendError(nil, req.ID, badRequest("auth must be the first message of a connection")))
		return
	}
	r := c.r.Clone(c.ctx)
	r.Header.Set("Authorization", "Bearer "+req.Token)
	id, err := c.h.app.Authenticate(r)
	if err != nil {
		c.send(appendError(nil, req.ID, asMizanError(c.h.logger, err)))
		return
	}
	if id == nil {
		c.send(appendError(nil, req.ID, mizan.NewError(mizan.CodeUnauthorized, "the token was not accepted")))
		return
	}
	c.mu.Lock()
	c.caller, c.authReq = id, r
	c.mu.Unlock()
	c.send(appendOK(nil, req.ID))
}

// current returns the connection's caller, authenticated again from what it
// was first authenticated with: a signed-in connection's credentials are
// checked on every subscription and call, as every HTTP request's are, so
// that a session that ended (a logout, a reused refresh token) or a token
// that expired stops working at once. When they no longer hold, it returns
// an unauthorized error; the caller of current then replies with it and
// closes the connection (CloseCredentials), and the client connects again
// with what credentials it has now.
func (c *conn) current() (*mizan.Identity, error) {
	c.mu.Lock()
	caller, ar := c.caller, c.authReq
	c.mu.Unlock()
	if caller == nil || ar == nil {
		return caller, nil
	}
	id, err := c.h.app.Authenticate(ar)
	if err == nil && (id == nil || id.ID != caller.ID) {
		err = mizan.NewError(mizan.CodeUnauthorized, "this connection's credentials are no longer valid: connect again")
	}
	if err != nil {
		return nil, err
	}
	return id, nil
}

// refuse replies to a message whose caller's credentials no longer hold,
// then closes the connection once the reply is written.
func (c *conn) refuse(id json.RawMessage, err error) {
	if c.send(appendError(nil, id, asMizanError(c.h.logger, err))) {
		c.send(nil) // the writer closes the connection when it reaches this
	}
}

// subscribe handles a subscribe message: the instance is checked as
// GET ctx/ would check it (the context exists, the params are its own and
// well formed, its guards let the caller in), then watched.
func (c *conn) subscribe(req request) {
	key := instanceKey(req.Context, req.Params)
	c.mu.Lock()
	_, dup := c.subs[key]
	n := len(c.subs)
	c.mu.Unlock()
	if dup {
		c.send(appendOK(nil, req.ID))
		return
	}
	if n >= c.h.opts.MaxSubscriptions {
		c.send(appendError(nil, req.ID, mizan.Errorf(CodeTooManySubscriptions,
			"this connection already has %d subscriptions, the most allowed: unsubscribe from one first", n).
			WithStatus(http.StatusTooManyRequests)))
		return
	}
	caller, err := c.current()
	if err != nil {
		c.refuse(req.ID, err)
		return
	}
	inst, err := c.h.app.CheckContext(c.r, caller, req.Context, req.Params)
	if err != nil {
		c.send(appendError(nil, req.ID, asMizanError(c.h.logger, err)))
		return
	}
	s := &subscription{c: c, inst: inst, caller: caller}
	c.h.mu.Lock()
	c.mu.Lock()
	if c.subs != nil { // nil once unregistered
		c.subs[key] = s
		c.h.addSub(s)
	}
	c.mu.Unlock()
	c.h.mu.Unlock()
	c.send(appendOK(nil, req.ID))
}

// unsubscribe handles an unsubscribe message; unsubscribing from an
// instance not watched is not an error.
func (c *conn) unsubscribe(req request) {
	key := instanceKey(req.Context, req.Params)
	c.h.mu.Lock()
	c.mu.Lock()
	if s, ok := c.subs[key]; ok {
		delete(c.subs, key)
		c.h.removeSub(s)
	}
	c.mu.Unlock()
	c.h.mu.Unlock()
	c.send(appendOK(nil, req.ID))
}

// call handles a call message on a goroutine of its own, once fewer than
// MaxConcurrentCalls are running.
func (c *conn) call(req request) {
	select {
	case c.calls <- struct{}{}:
	case <-c.ctx.Done():
		return
	}
	c.wg.Add(1)
	go func() {
		defer func() {
			<-c.calls
			c.wg.Done()
		}()
		caller, err := c.current()
		if err != nil {
			c.refuse(req.ID, err)
			return
		}
		ctx := context.WithValue(c.ctx, skipKey{}, c.key)
		res, err := c.h.app.Call(ctx, mizan.CallRequest{
			Fn: req.Fn, Args: req.Args, Request: c.r, Caller: caller, WebSocket: true,
			IdempotencyKey: req.IdempotencyKey,
		})
		if err != nil {
			c.send(appendError(nil, req.ID, asMizanError(c.h.logger, err)))
			return
		}
		msg, err := appendResult(nil, req.ID, res.Result, res.Invalidate, res.Replayed)
		if err != nil {
			c.send(appendError(nil, req.ID, asMizanError(c.h.logger, err)))
			return
		}
		c.send(msg)
	}()
}

// resync queues one invalidate message with a broad target for each
// context the connection watches.
func (c *conn) resync() {
	c.mu.Lock()
	var ctxs []string
	for _, s := range c.subs {
		if !slices.Contains(ctxs, s.inst.Context) {
			ctxs = append(ctxs, s.inst.Context)
		}
	}
	c.mu.Unlock()
	if len(ctxs) == 0 {
		return
	}
	slices.Sort(ctxs)
	ts := make([]mizan.Target, len(ctxs))
	for i, name := range ctxs {
		ts[i] = mizan.Target{Context: name}
	}
	msg, err := appendInvalidate(nil, ts)
	if err != nil {
		c.h.logger.Error("live: encoding a resync", "err", err)
		return
	}
	if c.send(msg) {
		c.h.pushed.Add(1)
	}
}

// send queues msg without waiting. A connection whose queue is full is a
// slow consumer: it is closed (status 1008), so that it delays no one, and
// its client reconnects and refetches. It reports whether msg was queued.
func (c *conn) send(msg []byte) bool {
	if c.gone.Load() {
		return false
	}
	select {
	case c.out <- msg:
		return true
	default:
		if !c.gone.Load() {
			c.h.dropped.Add(1)
			c.h.logger.Warn("live: dropping a slow consumer", "client", c.key, "queued", len(c.out))
		}
		c.closeWith(CloseSlowConsumer, "slow consumer: messages were not read fast enough; reconnect and refetch")
		return false
	}
}

// closeWith closes the connection with a status and a reason, without
// waiting (the close handshake waits for the peer).
func (c *conn) closeWith(code websocket.StatusCode, reason string) {
	c.gone.Store(true)
	if c.closing.Swap(true) {
		return
	}
	go func() {
		defer close(c.closeDone)
		_ = c.ws.Close(code, reason)
		c.cancel()
	}()
}

// writeLoop writes queued messages, each within WriteTimeout; a failed
// write closes the connection.
func (c *conn) writeLoop() {
	defer c.wg.Done()
	for {
		select {
		case <-c.ctx.Done():
			return
		case msg := <-c.out:
			if c.gone.Load() {
				continue // closing: let the close frame through
			}
			if msg == nil { // queued by refuse, after its reply
				c.closeWith(CloseCredentials, "credentials no longer valid: connect again")
				continue
			}
			ctx, cancel := context.WithTimeout(c.ctx, c.h.opts.WriteTimeout)
			err := c.ws.Write(ctx, websocket.MessageText, msg)
			cancel()
			if err != nil {
				c.cancel()
				return
			}
		}
	}
}

// pingLoop pings the peer every PingInterval; one that does not answer
// within WriteTimeout is gone.
func (c *conn) pingLoop() {
	defer c.wg.Done()
	t := time.NewTicker(c.h.opts.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(c.ctx, c.h.opts.WriteTimeout)
			err := c.ws.Ping(ctx)
			cancel()
			if err != nil {
				c.cancel()
				return
			}
		}
	}
}
