package live_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/live"
)

// waitFor bounds every wait of these tests for a message or an event. It
// is a safety net against a hang, never an assertion about speed.
const waitFor = 20 * time.Second

const (
	userCtx   mizan.Context = "user"
	ordersCtx mizan.Context = "orders"
	secretCtx mizan.Context = "secret"
	meCtx     mizan.Context = "me" // the caller's own data
)

type userArgs struct {
	UserID int `json:"user_id"`
}

type nameArgs struct {
	UserID int    `json:"user_id"`
	Name   string `json:"name"`
}

type ordersArgs struct {
	UserID int    `json:"user_id"`
	Status string `json:"status,omitempty"`
}

type okResult struct {
	OK bool `json:"ok"`
}

// testApp is a small app with the shapes the hub deals with: a scoped
// context, a context with two parameters, a guarded context, mutations
// callable over WebSocket or over HTTP only, and functions that fail.
type testApp struct {
	app *mizan.App
	hub *live.Hub
	srv *httptest.Server
	url string // ws:// URL of the endpoint
}

type appOptions struct {
	live    live.Options
	trusted []string
	// listener wraps the test server's listener (to shrink socket buffers).
	listener func(net.Listener) net.Listener
	// server, when set, configures the test server (its timeouts).
	server func(*http.Server)
}

// authenticate reads X-User (a header credential) or a Bearer token
// "tok-<id>"; "bad" values are refused.
func authenticate(r *http.Request) (*mizan.Identity, error) {
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		id, ok := strings.CutPrefix(tok, "tok-")
		if !ok {
			return nil, errors.New("unknown token")
		}
		return &mizan.Identity{ID: id, Bearer: true}, nil
	}
	switch u := r.Header.Get("X-User"); u {
	case "":
		return nil, nil
	case "bad":
		return nil, mizan.NewError(mizan.CodeUnauthorized, "bad X-User")
	default:
		return &mizan.Identity{ID: u, Bearer: true}, nil
	}
}

func newTestApp(t *testing.T, o appOptions) *testApp {
	t.Helper()
	app := mizan.New(mizan.Config{
		Authenticator:  mizan.AuthenticatorFunc(authenticate),
		TrustedOrigins: o.trusted,
		Logger:         discardLogger(),
	})
	var mu sync.Mutex
	names := map[int]string{1: "Ada", 2: "Grace", 3: "Lin"}
	mizan.Query(app, func(_ context.Context, in userArgs) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		return names[in.UserID], nil
	}, mizan.Name("user_profile"), mizan.In(userCtx))
	mizan.Query(app, func(context.Context, ordersArgs) ([]int, error) { return nil, nil }, mizan.Name("order_page"), mizan.In(ordersCtx))
	mizan.Query(app, func(context.Context, struct{}) (int, error) { return 42, nil }, mizan.Name("secret_value"), mizan.In(secretCtx), mizan.RequireAuth())
	rename := func(_ context.Context, in nameArgs) (okResult, error) {
		mu.Lock()
		defer mu.Unlock()
		names[in.UserID] = in.Name
		return okResult{true}, nil
	}
	mizan.Mutation(app, rename, mizan.Name("update_profile"), mizan.Affects(userCtx), mizan.WebSocket())
	mizan.Mutation(app, rename, mizan.Name("update_profile_http"), mizan.Affects(userCtx))
	mizan.Mutation(app, func(context.Context, ordersArgs) (okResult, error) { return okResult{true}, nil },
		mizan.Name("archive_orders"), mizan.Affects(ordersCtx), mizan.WebSocket())
	// rename_me changes only what its caller sees in "me": its target
	// narrows to the caller (tier 2).
	mizan.Query(app, func(ctx context.Context, _ struct{}) (string, error) {
		if c := mizan.Caller(ctx); c != nil {
			return c.ID, nil
		}
		return "", nil
	}, mizan.Name("my_name"), mizan.In(meCtx))
	mizan.Mutation(app, func(context.Context, struct {
		Name string `json:"name"`
	}) (okResult, error) {
		return okResult{true}, nil
	}, mizan.Name("rename_me"), mizan.CallerScoped(meCtx), mizan.WebSocket())
	mizan.Mutation(app, func(context.Context, struct{}) (okResult, error) {
		return okResult{}, mizan.NewError(mizan.CodeConflict, "it conflicts")
	}, mizan.Name("fail"), mizan.WebSocket())
	mizan.Mutation(app, func(context.Context, struct{}) (okResult, error) { panic("boom") }, mizan.Name("boom"), mizan.WebSocket())
	mizan.Mutation(app, func(ctx context.Context, _ struct{}) (string, error) {
		if r := mizan.Request(ctx); r == nil || !strings.HasSuffix(r.URL.Path, "/ws/") {
			return "", errors.New("no upgrade request in the context")
		}
		return mizan.Caller(ctx).ID, nil
	}, mizan.Name("whoami"), mizan.WebSocket(), mizan.RequireAuth())

	hub, err := live.New(app, o.live)
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Build(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(app)
	if o.listener != nil {
		srv.Listener = o.listener(srv.Listener)
	}
	if o.server != nil {
		o.server(srv.Config)
	}
	srv.Start()
	t.Cleanup(func() {
		if err := hub.Close(); err != nil {
			t.Errorf("hub.Close: %v", err)
		}
		srv.Close()
	})
	return &testApp{app: app, hub: hub, srv: srv, url: "ws" + strings.TrimPrefix(srv.URL, "http") + "/api/mizan/ws/"}
}

// post calls fn through POST call/ with headers (name, value pairs).
func (a *testApp) post(t *testing.T, fn string, args any, headers ...string) map[string]any {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"fn": fn, "args": args})
	req, _ := http.NewRequest(http.MethodPost, a.srv.URL+"/api/mizan/call/", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != 200 {
		t.Fatalf("call %s: %d %v %v", fn, res.StatusCode, out, err)
	}
	return out
}

// client is one WebSocket connection of a test.
type client struct {
	t  *testing.T
	ws *websocket.Conn
	id int
}

// dial connects to url with the request headers given as name, value pairs.
func dial(t *testing.T, url string, headers ...string) *client {
	t.Helper()
	c, res, err := dialErr(url, headers...)
	if err != nil {
		t.Fatalf("dial %s: %v (%v)", url, err, res)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	return &client{t: t, ws: c}
}

func dialErr(url string, headers ...string) (*websocket.Conn, *http.Response, error) {
	h := http.Header{}
	for i := 0; i+1 < len(headers); i += 2 {
		h.Set(headers[i], headers[i+1])
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	return websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h})
}

func (c *client) sendRaw(s string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// recv returns the next message, decoded.
func (c *client) recv() map[string]any {
	c.t.Helper()
	m, err := c.recvErr()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return m
}

func (c *client) recvErr() (map[string]any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	typ, b, err := c.ws.Read(ctx)
	if err != nil {
		return nil, err
	}
	if typ != websocket.MessageText {
		return nil, fmt.Errorf("a %v message", typ)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("not JSON: %s", b)
	}
	return m, nil
}

// do sends msg with the next id and returns its reply.
func (c *client) do(msg map[string]any) map[string]any {
	c.t.Helper()
	c.id++
	msg["id"] = c.id
	b, _ := json.Marshal(msg)
	c.sendRaw(string(b))
	m := c.recv()
	if m["id"] != float64(c.id) {
		c.t.Fatalf("reply to %s: %v", b, m)
	}
	return m
}

func (c *client) subscribe(context string, params map[string]any) {
	c.t.Helper()
	if m := c.do(map[string]any{"type": "subscribe", "context": context, "params": params}); m["type"] != "ok" {
		c.t.Fatalf("subscribe %s %v: %v", context, params, m)
	}
}

// jsonOf decodes s for comparisons with decoded messages.
func jsonOf(s string) any {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		panic(err)
	}
	return v
}

// expect fails unless m equals the JSON want.
func expect(t *testing.T, m map[string]any, want string) {
	t.Helper()
	if !reflect.DeepEqual(any(m), jsonOf(want)) {
		got, _ := json.Marshal(m)
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestPushReachesMatchingSubscriptionsOnly(t *testing.T) {
	a := newTestApp(t, appOptions{})
	one, two, orders := dial(t, a.url), dial(t, a.url), dial(t, a.url)
	one.subscribe("user", map[string]any{"user_id": "1"})
	two.subscribe("user", map[string]any{"user_id": 2}) // numbers are wire strings too
	orders.subscribe("orders", map[string]any{"user_id": "1"})

	// A mutation over HTTP reaches the subscriber of its instance.
	a.post(t, "update_profile_http", map[string]any{"user_id": 1, "name": "Ada L."})
	expect(t, one.recv(), `{"type":"invalidate","targets":[{"context":"user","params":{"user_id":1}}]}`)
	// The next message of the user 2 subscriber is user 2's: it was sent
	// nothing for user 1.
	a.post(t, "update_profile_http", map[string]any{"user_id": 2, "name": "G."})
	expect(t, two.recv(), `{"type":"invalidate","targets":[{"context":"user","params":{"user_id":2}}]}`)
	// A target scoped by two params reaches an instance that names one of
	// them (it shows every status), and its first message is that one.
	a.post(t, "archive_orders", map[string]any{"user_id": 1, "status": "open"})
	expect(t, orders.recv(), `{"type":"invalidate","targets":[{"context":"orders","params":{"status":"open","user_id":1}}]}`)
	// Server code invalidating broadly reaches every instance of the context.
	a.app.Invalidate(context.Background(), mizan.Target{Context: "user"}, mizan.Target{Context: "global"})
	expect(t, one.recv(), `{"type":"invalidate","targets":["user"]}`)
	expect(t, two.recv(), `{"type":"invalidate","targets":["user"]}`)

	// Unsubscribed, user 1's connection gets nothing more: its next message
	// is the reply to a later request.
	if m := one.do(map[string]any{"type": "unsubscribe", "context": "user", "params": map[string]any{"user_id": "1"}}); m["type"] != "ok" {
		t.Fatalf("unsubscribe: %v", m)
	}
	a.post(t, "update_profile_http", map[string]any{"user_id": 1, "name": "Ada"})
	one.subscribe("orders", map[string]any{"user_id": "5"})
	if s := a.hub.Stats(); s.Connections != 3 || s.Subscriptions != 3 || s.Pushed != 5 {
		t.Errorf("stats %+v, want 3 connections, 3 subscriptions, 5 pushed", s)
	}
}

// A subscription's params are normalized through their declared types, as
// GET ctx/ normalizes them: {"user_id": "01"} is user 1's instance, and is
// pushed update_profile(user_id=1)'s target.
func TestSubscriptionParamsAreNormalized(t *testing.T) {
	a := newTestApp(t, appOptions{})
	padded := dial(t, a.url)
	padded.subscribe("user", map[string]any{"user_id": "01"})
	a.post(t, "update_profile_http", map[string]any{"user_id": 1, "name": "Ada"})
	// Sent next, so that a missing push shows as this one instead of a hang.
	a.app.Invalidate(context.Background(), mizan.Target{Context: "user"})
	expect(t, padded.recv(), `{"type":"invalidate","targets":[{"context":"user","params":{"user_id":1}}]}`)
	expect(t, padded.recv(), `{"type":"invalidate","targets":["user"]}`)
	// And it is not pushed another user's.
	a.post(t, "update_profile_http", map[string]any{"user_id": 10, "name": "Ten"})
	a.app.Invalidate(context.Background(), mizan.Target{Context: "user"})
	expect(t, padded.recv(), `{"type":"invalidate","targets":["user"]}`)
}

// A target narrowed to its caller (a mutation declaring its context
// mizan.CallerScoped, run by a signed-in caller) is pushed to that caller's
// connections only: not to another caller's, nor to anonymous ones, all
// subscribed to the same instance.
func TestNarrowedTargetReachesTheCallersConnectionsOnly(t *testing.T) {
	a := newTestApp(t, appOptions{})
	ada, adaCalls := dial(t, a.url, "X-User", "ada"), dial(t, a.url, "X-User", "ada")
	grace, anon := dial(t, a.url, "X-User", "grace"), dial(t, a.url)
	everyone := []*client{ada, adaCalls, grace, anon}
	for _, c := range everyone {
		c.subscribe("me", nil)
	}
	// Over the socket: ada's other connection (the calling one has the
	// targets in its reply).
	m := adaCalls.do(map[string]any{"type": "call", "fn": "rename_me", "args": map[string]any{"name": "Ada"}})
	expect(t, m, fmt.Sprintf(`{"id":%d,"type":"result","result":{"ok":true},"invalidate":["me"]}`, adaCalls.id))
	// Over HTTP: every connection of ada.
	a.post(t, "rename_me", map[string]any{"name": "Ada L."}, "X-User", "ada")
	// Then a sentinel, which everyone is pushed (server code narrows
	// nothing): each connection's pushes before it are those of the calls.
	sentinel := func() {
		t.Helper()
		a.app.Invalidate(context.Background(), mizan.Target{Context: "me", Function: "my_name"})
	}
	const me, sent = `{"type":"invalidate","targets":["me"]}`, `{"type":"invalidate","targets":[{"context":"me","function":"my_name"}]}`
	sentinel()
	for c, want := range map[*client][]string{ada: {me, me, sent}, adaCalls: {me, sent}, grace: {sent}, anon: {sent}} {
		for _, w := range want {
			expect(t, c.recv(), w)
		}
	}
	// An anonymous caller narrows nothing.
	a.post(t, "rename_me", map[string]any{"name": "?"})
	sentinel()
	for _, c := range everyone {
		expect(t, c.recv(), me)
		expect(t, c.recv(), sent)
	}
	// grace's call reaches grace only.
	a.post(t, "rename_me", map[string]any{"name": "Grace H."}, "X-User", "grace")
	sentinel()
	expect(t, grace.recv(), me)
	for _, c := range everyone {
		expect(t, c.recv(), sent)
	}
}

func TestCallsOverWebSocket(t *testing.T) {
	a := newTestApp(t, appOptions{})
	caller := dial(t, a.url, "X-Client", "x")
	watcher := dial(t, a.url)
	caller.subscribe("user", map[string]any{"user_id": "3"})
	watcher.subscribe("user", map[string]any{"user_id": "3"})

	m := caller.do(map[string]any{"type": "call", "fn": "update_profile", "args": map[string]any{"user_id": 3, "name": "Lin W."}})
	expect(t, m, fmt.Sprintf(`{"id":%d,"type":"result","result":{"ok":true},"invalidate":[{"context":"user","params":{"user_id":3}}]}`, caller.id))
	expect(t, watcher.recv(), `{"type":"invalidate","targets":[{"context":"user","params":{"user_id":3}}]}`)

	// The caller is not pushed its own call's targets (its reply carried
	// them): its next message answers its next request.
	m = caller.do(map[string]any{"type": "call", "fn": "fail"})
	expect(t, m, fmt.Sprintf(`{"id":%d,"type":"error","error":{"code":"conflict","message":"it conflicts"}}`, caller.id))

	errs := []struct {
		msg  map[string]any
		code string
		text string
	}{
		{map[string]any{"type": "call", "fn": "update_profile_http", "args": map[string]any{}}, "method_not_allowed", "not callable over WebSocket"},
		{map[string]any{"type": "call", "fn": "nope"}, "not_found", `no function named "nope"`},
		{map[string]any{"type": "call", "fn": "user_profile"}, "not_found", `no function named "user_profile"`},
		{map[string]any{"type": "call", "fn": "update_profile", "args": map[string]any{"user_id": "x"}}, "invalid_args", ""},
		{map[string]any{"type": "call", "fn": "boom"}, "internal", "internal server error"},
		{map[string]any{"type": "call", "fn": "whoami"}, "unauthorized", "authentication required"},
	}
	for _, e := range errs {
		m := caller.do(e.msg)
		er, _ := m["error"].(map[string]any)
		if m["type"] != "error" || er["code"] != e.code || !strings.Contains(fmt.Sprint(er["message"]), e.text) {
			t.Errorf("%v: %v, want %s %q", e.msg, m, e.code, e.text)
		}
	}
	if m := caller.do(map[string]any{"type": "call", "fn": "update_profile", "args": map[string]any{"user_id": "x"}}); m["error"].(map[string]any)["fields"] == nil {
		t.Errorf("invalid_args without fields: %v", m)
	}
	// A client that names itself (the client query parameter, and
	// X-Mizan-Client on its HTTP calls) is not pushed its HTTP calls' targets
	// either, while others are.
	self := dial(t, a.url+"?client=tab-0123456789")
	self.subscribe("user", map[string]any{"user_id": "3"})
	a.post(t, "update_profile_http", map[string]any{"user_id": 3, "name": "Lin"}, live.HeaderClient, "tab-0123456789")
	expect(t, watcher.recv(), `{"type":"invalidate","targets":[{"context":"user","params":{"user_id":3}}]}`)
	a.post(t, "update_profile_http", map[string]any{"user_id": 3, "name": "Lin"})
	expect(t, self.recv(), `{"type":"invalidate","targets":[{"context":"user","params":{"user_id":3}}]}`)
}

func TestMessageErrors(t *testing.T) {
	a := newTestApp(t, appOptions{})
	c := dial(t, a.url)
	raw := []struct{ in, want string }{
		{`{`, `{"type":"error","error":{"code":"bad_request","message":"a message must be one JSON object such as {\"id\": 1, \"type\": \"subscribe\", \"context\": \"user\", \"params\": {\"user_id\": \"1\"}}"}}`},
		{`{"id":5,"type":"ping"}`, `{"id":5,"type":"error","error":{"code":"bad_request","message":"unknown message type \"ping\"; want subscribe, unsubscribe, call or auth"}}`},
		{`{"id":6,"type":"subscribe","context":"nope"}`, `{"id":6,"type":"error","error":{"code":"not_found","message":"no context named \"nope\""}}`},
		{`{"id":7,"type":"subscribe","context":"user","params":{"user_id":"1","x":"2"}}`, `{"id":7,"type":"error","error":{"code":"invalid_args","message":"invalid arguments: x","fields":{"x":"unknown parameter"}}}`},
		{`{"id":8,"type":"subscribe","context":"user","params":{"user_id":"one"}}`, ``},
		{`{"id":9,"type":"subscribe","context":"secret"}`, `{"id":9,"type":"error","error":{"code":"unauthorized","message":"authentication required"}}`},
		{`{"id":10,"type":"auth","token":"tok-1"}`, `{"id":10,"type":"error","error":{"code":"bad_request","message":"auth must be the first message of a connection"}}`},
	}
	for _, r := range raw {
		c.sendRaw(r.in)
		m := c.recv()
		if r.want == "" {
			if e, _ := m["error"].(map[string]any); m["type"] != "error" || e["code"] != "invalid_args" {
				t.Errorf("%s: %v", r.in, m)
			}
			continue
		}
		expect(t, m, r.want)
	}
	// A binary message closes the connection: the protocol is JSON text.
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	_ = c.ws.Write(ctx, websocket.MessageBinary, []byte{1})
	if _, err := c.recvErr(); websocket.CloseStatus(err) != websocket.StatusUnsupportedData {
		t.Errorf("after a binary message: %v, want close 1003", err)
	}
}

func TestAuthentication(t *testing.T) {
	a := newTestApp(t, appOptions{})
	// Credentials on the upgrade request (a cookie, a header).
	h := dial(t, a.url, "X-User", "7")
	h.subscribe("secret", nil)
	expect(t, h.do(map[string]any{"type": "call", "fn": "whoami"}), fmt.Sprintf(`{"id":%d,"type":"result","result":"7","invalidate":[]}`, h.id))

	// A token as the first message.
	tok := dial(t, a.url)
	if m := tok.do(map[string]any{"type": "auth", "token": "tok-9"}); m["type"] != "ok" {
		t.Fatalf("auth: %v", m)
	}
	tok.subscribe("secret", nil)
	expect(t, tok.do(map[string]any{"type": "call", "fn": "whoami"}), fmt.Sprintf(`{"id":%d,"type":"result","result":"9","invalidate":[]}`, tok.id))

	// A refused token leaves the connection anonymous.
	bad := dial(t, a.url)
	m := bad.do(map[string]any{"type": "auth", "token": "forged"})
	expect(t, m, fmt.Sprintf(`{"id":%d,"type":"error","error":{"code":"unauthorized","message":"invalid credentials"}}`, bad.id))
	if m := bad.do(map[string]any{"type": "subscribe", "context": "secret"}); m["type"] != "error" {
		t.Errorf("anonymous subscribe to a guarded context: %v", m)
	}

	// Refused credentials on the upgrade request: the HTTP error envelope.
	_, res, err := dialErr(a.url, "X-User", "bad")
	if err == nil || res == nil || res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bad credentials: %v %v", res, err)
	}
	body, _ := io.ReadAll(res.Body)
	if string(body) != `{"error":{"code":"unauthorized","message":"bad X-User"}}` {
		t.Errorf("body %s", body)
	}
}

func TestOriginCheck(t *testing.T) {
	a := newTestApp(t, appOptions{trusted: []string{"https://app.example.com"}})
	host := strings.TrimPrefix(a.srv.URL, "http://")
	for _, c := range []struct {
		origin string
		ok     bool
	}{
		{"", true},                        // not a browser
		{"http://" + host, true},          // the server's own pages
		{"https://app.example.com", true}, // Config.TrustedOrigins
		{"http://app.example.com", false}, // the trusted origin names its scheme
		{"https://evil.example", false},   // another site, with the visitor's cookies
		{"null", false},                   // a sandboxed page
	} {
		var hs []string
		if c.origin != "" {
			hs = []string{"Origin", c.origin}
		}
		ws, res, err := dialErr(a.url, hs...)
		if c.ok {
			if err != nil {
				t.Errorf("origin %q refused: %v", c.origin, err)
				continue
			}
			_ = ws.CloseNow()
			continue
		}
		if err == nil {
			_ = ws.CloseNow()
			t.Errorf("origin %q accepted", c.origin)
			continue
		}
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusForbidden || !strings.Contains(string(body), `"code":"forbidden"`) {
			t.Errorf("origin %q: %d %s", c.origin, res.StatusCode, body)
		}
	}
	// Not an upgrade, or not GET: the error envelope too.
	res, err := http.Get(strings.Replace(a.url, "ws://", "http://", 1))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 400 || !strings.Contains(string(body), "speaks WebSocket only") {
		t.Errorf("plain GET: %d %s", res.StatusCode, body)
	}
	res, err = http.Post(strings.Replace(a.url, "ws://", "http://", 1), "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 405 {
		t.Errorf("POST: %d", res.StatusCode)
	}
}

func TestLimits(t *testing.T) {
	a := newTestApp(t, appOptions{live: live.Options{MaxMessageBytes: 256, MaxSubscriptions: 2, MessageRate: 0.001, MessageBurst: 5}})
	c := dial(t, a.url)
	c.subscribe("user", map[string]any{"user_id": "1"})
	c.subscribe("user", map[string]any{"user_id": "1"}) // again: no new subscription
	c.subscribe("user", map[string]any{"user_id": "2"})
	m := c.do(map[string]any{"type": "subscribe", "context": "user", "params": map[string]any{"user_id": "3"}})
	expect(t, m, fmt.Sprintf(`{"id":%d,"type":"error","error":{"code":"too_many_subscriptions","message":"this connection already has 2 subscriptions, the most allowed: unsubscribe from one first"}}`, c.id))
	c.subscribe("user", map[string]any{"user_id": "2"})
	// The burst of 5 is spent: the next message is refused.
	m = c.do(map[string]any{"type": "unsubscribe", "context": "user", "params": map[string]any{"user_id": "2"}})
	if e, _ := m["error"].(map[string]any); m["type"] != "error" || e["code"] != "rate_limited" || !strings.Contains(fmt.Sprint(e["message"]), "too many messages") {
		t.Errorf("over the rate: %v", m)
	}

	// A message over MaxMessageBytes closes the connection with 1009.
	big := dial(t, a.url)
	big.sendRaw(`{"id":1,"type":"call","fn":"update_profile","args":{"name":"` + strings.Repeat("x", 300) + `"}}`)
	if _, err := big.recvErr(); websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Errorf("after a big message: %v, want close 1009", err)
	}
}

// smallBuffers shrinks the kernel's socket buffers of accepted connections,
// so that a client that does not read blocks the server's writes soon.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

func TestSlowConsumerIsDroppedWithoutBlockingOthers(t *testing.T) {
	a := newTestApp(t, appOptions{
		live:     live.Options{SendQueue: 4},
		listener: func(l net.Listener) net.Listener { return smallBuffers{l} },
	})
	// The slow client subscribes, then never reads; its socket's receive
	// buffer is small too.
	dialer := &net.Dialer{Control: nil}
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(4096)
		}
		return c, err
	}}}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	slowWS, _, err := websocket.Dial(ctx, a.url, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	defer slowWS.CloseNow()
	slow := &client{t: t, ws: slowWS}
	slow.subscribe("user", map[string]any{"user_id": "1"})
	fast := dial(t, a.url)
	fast.subscribe("user", map[string]any{"user_id": "1"})

	// Big invalidations, one at a time: the fast client reads each before
	// the next is sent, the slow one reads none.
	long := strings.Repeat("x", 2000)
	const n = 300
	for i := range n {
		a.app.Invalidate(context.Background(), mizan.Target{Context: "user", Params: map[string]any{"user_id": 1, "pad": long + fmt.Sprint(i)}})
		m := fast.recv()
		ts, _ := m["targets"].([]any)
		if len(ts) != 1 || ts[0].(map[string]any)["params"].(map[string]any)["pad"] != long+fmt.Sprint(i) {
			t.Fatalf("fast client, message %d: %v", i, m)
		}
	}
	if s := a.hub.Stats(); s.Dropped != 1 || s.Connections != 2 && s.Connections != 1 {
		t.Fatalf("stats %+v, want one connection dropped", s)
	}
	// The slow client finds its connection closed once it reads what was
	// buffered.
	for {
		if _, err := slow.recvErr(); err != nil {
			if st := websocket.CloseStatus(err); st != -1 && st != live.CloseSlowConsumer {
				t.Errorf("slow client closed with %v, want %v", st, live.CloseSlowConsumer)
			}
			break
		}
	}
}

func TestCloseEndsConnections(t *testing.T) {
	a := newTestApp(t, appOptions{})
	c := dial(t, a.url)
	c.subscribe("user", map[string]any{"user_id": "1"})
	done := make(chan error, 1)
	go func() { done <- a.hub.Close() }()
	if _, err := c.recvErr(); websocket.CloseStatus(err) != live.CloseShutdown {
		t.Errorf("on Close: %v, want close 1001", err)
	}
	if err := <-done; err != nil {
		t.Errorf("Close: %v", err)
	}
	_, res, err := dialErr(a.url)
	if err == nil || res == nil || res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("dial after Close: %v %v, want 503", res, err)
	}
	if s := a.hub.Stats(); s.Connections != 0 || s.Subscriptions != 0 {
		t.Errorf("stats after Close %+v", s)
	}
}

func TestNewRefusesABuiltApp(t *testing.T) {
	app := mizan.New(mizan.Config{})
	mizan.Query(app, func(context.Context, struct{}) (int, error) { return 1, nil }, mizan.Name("one"), mizan.In(mizan.Global))
	if err := app.Build(); err != nil {
		t.Fatal(err)
	}
	if _, err := live.New(app, live.Options{}); err == nil || !strings.Contains(err.Error(), "already built") {
		t.Errorf("New after Build: %v", err)
	}
	app2 := mizan.New(mizan.Config{})
	if _, err := live.New(app2, live.Options{RedisURL: "http://nope"}); err == nil {
		t.Error("New with a URL that is not Redis's: no error")
	}
	// The failed New left nothing mounted: a second New and Build work.
	mizan.Query(app2, func(context.Context, struct{}) (int, error) { return 1, nil }, mizan.Name("one"), mizan.In(mizan.Global))
	hub, err := live.New(app2, live.Options{})
	if err != nil {
		t.Fatalf("New after a failed New: %v", err)
	}
	defer hub.Close()
	if err := app2.Build(); err != nil {
		t.Errorf("Build after a failed New: %v", err)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestSocketsOutliveTheServersTimeouts: the read and write timeouts of
// mizan.NewServer bound requests; net/http clears them on the hijacked
// connection of a socket, so a push still arrives after both have passed.
func TestSocketsOutliveTheServersTimeouts(t *testing.T) {
	a := newTestApp(t, appOptions{server: func(s *http.Server) {
		s.ReadTimeout, s.WriteTimeout = 200*time.Millisecond, 200*time.Millisecond
	}})
	c := dial(t, a.url)
	c.subscribe("user", map[string]any{"user_id": "1"})
	time.Sleep(600 * time.Millisecond)
	a.post(t, "update_profile_http", map[string]any{"user_id": 1, "name": "Ada"})
	if msg := c.recv(); msg["type"] != "invalidate" {
		t.Fatalf("after the timeouts: %v", msg)
	}
}
