package live_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/live"
)

// TestIdempotentCallOverWebSocket: a call message with "idempotency_key"
// runs once; its repeat (over the socket or over HTTP) is the kept answer,
// marked replayed, and pushes nothing to subscribers.
func TestIdempotentCallOverWebSocket(t *testing.T) {
	app := mizan.New(mizan.Config{Authenticator: mizan.AuthenticatorFunc(authenticate), Logger: discardLogger()})
	var n atomic.Int64
	type countResult struct {
		Count int64 `json:"count"`
	}
	mizan.Mutation(app, func(context.Context, struct{}) (countResult, error) { return countResult{n.Add(1)}, nil },
		mizan.Name("bump"), mizan.Affects("counter"), mizan.WebSocket())
	mizan.Query(app, func(context.Context, struct{}) (countResult, error) { return countResult{n.Load()}, nil },
		mizan.Name("count"), mizan.In("counter"))
	mizan.Mutation(app, func(context.Context, struct{}) (countResult, error) {
		return countResult{}, mizan.NewError(mizan.CodeConflict, "it conflicts")
	}, mizan.Name("fail"), mizan.WebSocket())
	hub, err := live.New(app, live.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Build(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app)
	t.Cleanup(func() { _ = hub.Close(); srv.Close() })
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/api/mizan/ws/"

	caller, watcher := dial(t, url), dial(t, url)
	watcher.subscribe("counter", nil)
	call := func(fn, key string) map[string]any {
		return caller.do(map[string]any{"type": "call", "fn": fn, "idempotency_key": key})
	}
	expect(t, call("bump", "k-1"), `{"id":1,"type":"result","result":{"count":1},"invalidate":["counter"]}`)
	expect(t, watcher.recv(), `{"type":"invalidate","targets":["counter"]}`)
	expect(t, call("bump", "k-1"), `{"id":2,"type":"result","result":{"count":1},"invalidate":["counter"],"replayed":true}`)
	expect(t, call("fail", "k-1"), `{"id":3,"type":"error","error":{"code":"idempotency_mismatch","message":"this Idempotency-Key was used with another function or other arguments"}}`)
	// A kept error replays as the error.
	expect(t, call("fail", "k-2"), `{"id":4,"type":"error","error":{"code":"conflict","message":"it conflicts"}}`)
	expect(t, call("fail", "k-2"), `{"id":5,"type":"error","error":{"code":"conflict","message":"it conflicts"}}`)
	// Malformed keys: refused before anything runs.
	for _, bad := range []any{"", strings.Repeat("x", 256), "caf\u00e9", 7} {
		m := caller.do(map[string]any{"type": "call", "fn": "bump", "idempotency_key": bad})
		if e, _ := m["error"].(map[string]any); m["type"] != "error" || e["code"] != "bad_request" {
			t.Errorf("key %.20v: %v", bad, m)
		}
	}

	// Over HTTP, the same caller (anonymous) and key replay the socket's
	// first run.
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/mizan/call/", strings.NewReader(`{"fn":"bump"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "k-1")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(b) != `{"result":{"count":1},"invalidate":["counter"]}` ||
		res.Header.Get("Idempotent-Replayed") != "true" || res.Header.Get("X-Mizan-Invalidate") != "counter" {
		t.Errorf("HTTP repeat: %d %s %v", res.StatusCode, b, res.Header)
	}
	// Another caller has a space of its own.
	other := dial(t, url, "X-User", "7")
	m := other.do(map[string]any{"type": "call", "fn": "bump", "idempotency_key": "k-1"})
	expect(t, m, `{"id":1,"type":"result","result":{"count":2},"invalidate":["counter"]}`)
	// The watcher got that run's push and no other: the next message it
	// reads is the reply to its own request.
	expect(t, watcher.recv(), `{"type":"invalidate","targets":["counter"]}`)
	if m := watcher.do(map[string]any{"type": "unsubscribe", "context": "counter"}); m["type"] != "ok" {
		t.Errorf("the watcher got %v, want the reply to its unsubscribe (a replay pushed)", m)
	}
	if got := n.Load(); got != 2 {
		t.Errorf("bump ran %d times, want 2", got)
	}
}
