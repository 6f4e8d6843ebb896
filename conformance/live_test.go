package conformance_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/mizan-afi/mizan/internal/redistest"
)

// The WebSocket part of the wire suite (docs/spec.md §9): the messages of
// ws/ against the fixture, then invalidations across two fixture processes
// sharing one Redis, and a thousand connections held open.

// liveWait bounds each wait for a message: a safety net against a hang,
// never an assertion about speed.
const liveWait = 30 * time.Second

// wsURL returns the ws:// URL of the ws/ endpoint of the server at base.
func wsURL(base string) string {
	return "ws" + strings.TrimPrefix(base, "http") + prefix + "ws/"
}

// wsConn is one WebSocket connection of a test, read by the test itself.
type wsConn struct {
	t  testing.TB
	c  *websocket.Conn
	id int
}

// wsDial connects to the ws/ endpoint of base; headers are name, value
// pairs for the upgrade request.
func wsDial(t testing.TB, base string, headers ...string) *wsConn {
	t.Helper()
	h := http.Header{}
	for i := 0; i+1 < len(headers); i += 2 {
		h.Set(headers[i], headers[i+1])
	}
	ctx, cancel := context.WithTimeout(context.Background(), liveWait)
	defer cancel()
	c, res, err := websocket.Dial(ctx, wsURL(base), &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatalf("dial %s: %v (%v)", wsURL(base), err, res)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	return &wsConn{t: t, c: c}
}

// send writes msg, with the next id when it has none.
func (w *wsConn) send(msg map[string]any) int {
	w.t.Helper()
	if _, ok := msg["id"]; !ok {
		w.id++
		msg["id"] = w.id
	}
	b, _ := json.Marshal(msg)
	ctx, cancel := context.WithTimeout(context.Background(), liveWait)
	defer cancel()
	if err := w.c.Write(ctx, websocket.MessageText, b); err != nil {
		w.t.Fatalf("write %s: %v", b, err)
	}
	return w.id
}

// next returns the next message as raw JSON.
func (w *wsConn) next() []byte {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), liveWait)
	defer cancel()
	typ, b, err := w.c.Read(ctx)
	if err != nil {
		w.t.Fatalf("read: %v", err)
	}
	if typ != websocket.MessageText {
		w.t.Fatalf("a %v message: %q", typ, b)
	}
	return b
}

// expect fails unless the next message encodes the JSON want.
func (w *wsConn) expect(what, want string) {
	w.t.Helper()
	wantJSON(w.t.(*testing.T), what, w.next(), want)
}

// subscribe subscribes to an instance and checks the ok reply.
func (w *wsConn) subscribe(context string, params map[string]any) {
	w.t.Helper()
	id := w.send(map[string]any{"type": "subscribe", "context": context, "params": params})
	wantJSON(w.t.(*testing.T), "subscribe "+context, w.next(), fmt.Sprintf(`{"id":%d,"type":"ok"}`, id))
}

// postTo calls fn through POST call/ of the server at base and checks 200.
func postTo(t testing.TB, base, fn string, args any) []byte {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"fn": fn, "args": args})
	res, err := client.Post(base+prefix+"call/", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("call %s: %v", fn, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("call %s: %d %s", fn, res.StatusCode, b)
	}
	return b
}

func TestLiveMessages(t *testing.T) {
	one, two, orders := wsDial(t, server.url), wsDial(t, server.url), wsDial(t, server.url)
	one.subscribe("user", map[string]any{"user_id": "1"})
	two.subscribe("user", map[string]any{"user_id": "2"})
	orders.subscribe("orders", map[string]any{"user_id": "1", "page": "1", "status": "none"})

	// A call over WebSocket: the envelope of call/, with the id.
	caller := wsDial(t, server.url, "X-Test-User", "1")
	id := caller.send(map[string]any{"type": "call", "fn": "update_profile", "args": map[string]any{"user_id": 1, "name": "Ada"}})
	caller.expect("update_profile over WebSocket",
		fmt.Sprintf(`{"id":%d,"type":"result","result":{"ok":true},"invalidate":[{"context":"user","params":{"user_id":1}}]}`, id))
	one.expect("push of update_profile", `{"type":"invalidate","targets":[{"context":"user","params":{"user_id":1}}]}`)

	// Errors: a function not registered with websocket, bad arguments.
	id = caller.send(map[string]any{"type": "call", "fn": "reset_all"})
	wantJSON(t, "reset_all over WebSocket", caller.next(), fmt.Sprintf(`{"id":%d,"type":"error","error":{"code":"method_not_allowed","message":"function \"reset_all\" is not callable over WebSocket (it is not registered with mizan.WebSocket()); call it through call/"}}`, id))
	id = caller.send(map[string]any{"type": "call", "fn": "update_profile", "args": map[string]any{"user_id": 1}})
	wantJSON(t, "a missing argument", caller.next(), fmt.Sprintf(`{"id":%d,"type":"error","error":{"code":"invalid_args","message":"invalid arguments: name","fields":{"name":"required"}}}`, id))
	id = caller.send(map[string]any{"type": "subscribe", "context": "user", "params": map[string]any{"user_id": "1", "page": "2"}})
	wantJSON(t, "an unknown parameter", caller.next(), fmt.Sprintf(`{"id":%d,"type":"error","error":{"code":"invalid_args","message":"invalid arguments: page","fields":{"page":"unknown parameter"}}}`, id))

	// Mutations over HTTP are pushed too. The user 2 subscriber's first
	// message is user 2's: nothing was sent to it for user 1.
	postTo(t, server.url, "update_profile", map[string]any{"user_id": 2, "name": "Grace"})
	two.expect("push of an HTTP mutation", `{"type":"invalidate","targets":[{"context":"user","params":{"user_id":2}}]}`)
	// A target scoped by two of orders' parameters reaches the instance
	// that agrees on both (status "none" changes no order).
	postTo(t, server.url, "archive_orders", map[string]any{"user_id": 1, "status": "none"})
	orders.expect("push of archive_orders", `{"type":"invalidate","targets":[{"context":"orders","params":{"status":"none","user_id":1}}]}`)
	// A function-level target names its function.
	postTo(t, server.url, "update_name", map[string]any{"user_id": 1, "name": "Ada"})
	one.expect("push of update_name", `{"type":"invalidate","targets":[{"context":"user","function":"user_profile","params":{"user_id":1}}]}`)
}

// startShared starts a fixture process whose pub/sub is the Redis at url,
// stopped when t ends.
func startShared(t *testing.T, url string) *fixtureProc {
	t.Helper()
	p, err := startFixtureEnv(server.bin, []string{"MIZAN_PUBSUB_REDIS_URL=" + url, "MIZAN_CACHE_REDIS_URL=", "MIZAN_CACHE_SECRET="}, "-addr", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.stop(); err != nil {
			t.Errorf("fixture at %s: %v\nstderr:\n%s", p.url, err, p.stderr.String())
		}
	})
	return p
}

// waitSubscribed waits until a mutation on from reaches a subscriber on
// to: the processes' pub/sub is up. It uses context subscription, which no
// test watches.
func waitSubscribed(t *testing.T, from, to string) {
	t.Helper()
	w := wsDial(t, to)
	w.subscribe("subscription", nil)
	deadline := time.Now().Add(liveWait)
	got := make(chan struct{})
	readErr := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), liveWait)
		defer cancel()
		_, b, err := w.c.Read(ctx)
		if err == nil && !strings.Contains(string(b), `"type":"invalidate"`) {
			err = fmt.Errorf("the first message was not an invalidation: %s", b)
		}
		if err != nil {
			readErr <- err
			return
		}
		close(got)
	}()
	for {
		// stripe_webhook invalidates "subscription"; it is private and
		// served on its own route.
		res, err := client.Post(from+"/webhooks/stripe/", "application/json", strings.NewReader(`{}`))
		if err == nil {
			res.Body.Close()
		}
		select {
		case <-got:
			_ = w.c.CloseNow()
			return
		case err := <-readErr:
			t.Fatalf("waiting for an invalidation from %s at %s: %v", from, to, err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no invalidation from %s reached %s", from, to)
		}
	}
}

func TestLiveAcrossInstances(t *testing.T) {
	needProcess(t)
	r := redistest.Start(t)
	a, b := startShared(t, r.URL()), startShared(t, r.URL())
	waitSubscribed(t, a.url, b.url)

	one, two := wsDial(t, b.url), wsDial(t, b.url)
	one.subscribe("user", map[string]any{"user_id": "1"})
	one.subscribe("orders", map[string]any{"user_id": "1", "page": 1, "status": "open"})
	two.subscribe("user", map[string]any{"user_id": "2"})

	// A mutation on a reaches b's subscriber of its instance, over HTTP...
	postTo(t, a.url, "update_profile", map[string]any{"user_id": 1, "name": "Ada"})
	one.expect("HTTP mutation on the other instance", `{"type":"invalidate","targets":[{"context":"user","params":{"user_id":1}}]}`)
	// ... and over WebSocket; and the unrelated subscriber's first message
	// is this later one: it was sent nothing for user 1.
	caller := wsDial(t, a.url)
	id := caller.send(map[string]any{"type": "call", "fn": "update_profile", "args": map[string]any{"user_id": 2, "name": "Grace"}})
	wantJSON(t, "call on a", caller.next(), fmt.Sprintf(`{"id":%d,"type":"result","result":{"ok":true},"invalidate":[{"context":"user","params":{"user_id":2}}]}`, id))
	two.expect("WebSocket call on the other instance", `{"type":"invalidate","targets":[{"context":"user","params":{"user_id":2}}]}`)

	// Redis dies; a mutation on a meanwhile cannot reach b. When Redis is
	// back, b tells its clients to refetch all they watch (the
	// invalidation was lost), and invalidations flow again.
	r.Kill()
	postTo(t, a.url, "update_profile", map[string]any{"user_id": 1, "name": "Ada"})
	r.Restart()
	one.expect("resync after the pub/sub reconnect", `{"type":"invalidate","targets":["orders","user"]}`)
	two.expect("resync after the pub/sub reconnect", `{"type":"invalidate","targets":["user"]}`)
	waitSubscribed(t, a.url, b.url)
	postTo(t, a.url, "update_profile", map[string]any{"user_id": 2, "name": "Grace"})
	for {
		// a may also announce the publish it lost, which b passes on as
		// one more resync.
		m := two.next()
		if string(m) == `{"type":"invalidate","targets":["user"]}` {
			continue
		}
		wantJSON(t, "after the restart", m, `{"type":"invalidate","targets":[{"context":"user","params":{"user_id":2}}]}`)
		break
	}
}

// soakConn is one of the connections of TestLiveThousandConnections, read
// by a goroutine of its own.
type soakConn struct {
	c    *websocket.Conn
	user int
	want []byte // the push its subscription gets

	mu      sync.Mutex
	got     int    // pushes received
	problem string // the first unexpected message or error
	closing bool
}

func (s *soakConn) fail(why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.problem == "" && !s.closing {
		s.problem = why
	}
}

func (s *soakConn) read() {
	for {
		typ, b, err := s.c.Read(context.Background())
		if err != nil {
			s.fail("read: " + err.Error())
			return
		}
		if typ != websocket.MessageText || !bytes.Equal(b, s.want) {
			s.fail(fmt.Sprintf("unexpected message %q", b))
			continue
		}
		s.mu.Lock()
		s.got++
		s.mu.Unlock()
	}
}

func (s *soakConn) state() (int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got, s.problem
}

// TestLiveThousandConnections holds 1,000 WebSocket connections to one
// fixture process open on loopback for 30 s (MIZAN_LIVE_SOAK_HOLD sets
// another duration; -short skips the test). Every 2 s a mutation changes
// one of three users and every connection subscribed to that user must
// get exactly that push; every connection is pinged each round. Nothing
// may fail: no dial, read or ping error, no connection closed, no
// unexpected message, no push missed.
func TestLiveThousandConnections(t *testing.T) {
	needProcess(t)
	if testing.Short() {
		t.Skip("-short: the soak holds connections for 30 s")
	}
	hold := 30 * time.Second
	if v := os.Getenv("MIZAN_LIVE_SOAK_HOLD"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("MIZAN_LIVE_SOAK_HOLD: %v", err)
		}
		hold = d
	}
	const n, round = 1000, 2 * time.Second
	p, err := startFixtureEnv(server.bin, []string{"MIZAN_PUBSUB_REDIS_URL=", "MIZAN_CACHE_REDIS_URL=", "MIZAN_CACHE_SECRET="}, "-addr", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.stop(); err != nil {
			t.Errorf("fixture: %v\nstderr:\n%s", err, p.stderr.String())
		}
	})

	conns := make([]*soakConn, n)
	eachConn(t, n, func(i int) error {
		user := i%3 + 1
		ctx, cancel := context.WithTimeout(context.Background(), liveWait)
		defer cancel()
		c, _, err := websocket.Dial(ctx, wsURL(p.url), nil)
		if err != nil {
			return fmt.Errorf("dial %d: %w", i, err)
		}
		sub := fmt.Sprintf(`{"id":1,"type":"subscribe","context":"user","params":{"user_id":"%d"}}`, user)
		if err := c.Write(ctx, websocket.MessageText, []byte(sub)); err != nil {
			return fmt.Errorf("subscribe %d: %w", i, err)
		}
		if _, b, err := c.Read(ctx); err != nil || string(b) != `{"id":1,"type":"ok"}` {
			return fmt.Errorf("subscribe %d: %s %v", i, b, err)
		}
		conns[i] = &soakConn{c: c, user: user,
			want: fmt.Appendf(nil, `{"type":"invalidate","targets":[{"context":"user","params":{"user_id":%d}}]}`, user)}
		go conns[i].read()
		return nil
	})
	defer func() {
		for _, s := range conns {
			if s != nil {
				s.mu.Lock()
				s.closing = true
				s.mu.Unlock()
				_ = s.c.CloseNow()
			}
		}
	}()

	want := map[int]int{}
	start := time.Now()
	rounds := 0
	for time.Since(start) < hold || rounds < 3 {
		user := rounds%3 + 1
		rounds++
		want[user]++
		postTo(t, p.url, "update_profile", map[string]any{"user_id": user, "name": []string{"", "Ada", "Grace", "Lin"}[user]})
		eachConn(t, n, func(i int) error {
			ctx, cancel := context.WithTimeout(context.Background(), liveWait)
			defer cancel()
			if err := conns[i].c.Ping(ctx); err != nil {
				return fmt.Errorf("ping %d: %w", i, err)
			}
			return nil
		})
		deadline := time.Now().Add(liveWait)
		for _, s := range conns {
			for {
				got, problem := s.state()
				if problem != "" {
					t.Fatalf("connection of user %d: %s", s.user, problem)
				}
				if got == want[s.user] {
					break
				}
				if got > want[s.user] || time.Now().After(deadline) {
					t.Fatalf("round %d: a connection of user %d got %d pushes, want %d", rounds, s.user, got, want[s.user])
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		time.Sleep(time.Until(start.Add(time.Duration(rounds) * round)))
	}
	t.Logf("%d connections held for %v: %d rounds, each pushed to every subscriber and every connection pinged", n, time.Since(start).Round(time.Second), rounds)
}

// eachConn runs f(0) to f(n-1) on 16 goroutines and fails t with the first
// error.
func eachConn(t *testing.T, n int, f func(i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	next := make(chan int)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					once.Do(func() { first = err })
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if first != nil {
		t.Fatal(first)
	}
}
