package mizan_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/idempotency"
)

// Idempotent calls (docs/spec.md §12) on a test app: a function that blocks
// until released (the in-flight answer), what a replay emits (nothing),
// App.Call with a key, and the outcomes that are not kept.

type idemApp struct {
	app     *mizan.App
	srv     *httptest.Server
	runs    atomic.Int64
	emitted atomic.Int64
	entered chan struct{}
	release chan struct{}
}

type slowArgs struct {
	N int `json:"n"`
}

func newIdemApp(t *testing.T, cfg mizan.Config) *idemApp {
	t.Helper()
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.Authenticator = mizan.AuthenticatorFunc(func(r *http.Request) (*mizan.Identity, error) {
		if id := r.Header.Get("X-User"); id != "" {
			return &mizan.Identity{ID: id, Bearer: true}, nil
		}
		return nil, nil
	})
	a := &idemApp{app: mizan.New(cfg), entered: make(chan struct{}, 16), release: make(chan struct{})}
	mizan.Mutation(a.app, func(_ context.Context, in slowArgs) (slowArgs, error) {
		a.runs.Add(1)
		a.entered <- struct{}{}
		<-a.release
		return in, nil
	}, mizan.Name("slow"), mizan.Affects("things"))
	mizan.Mutation(a.app, func(_ context.Context, in slowArgs) (slowArgs, error) {
		a.runs.Add(1)
		return in, nil
	}, mizan.Name("quick"), mizan.Affects("things"))
	mizan.Mutation(a.app, func(context.Context, struct{}) (slowArgs, error) {
		a.runs.Add(1)
		return slowArgs{}, mizan.NewError(mizan.CodeUnavailable, "the bank is down")
	}, mizan.Name("down"))
	mizan.Query(a.app, func(context.Context, struct{}) (int, error) { return 1, nil }, mizan.Name("things_count"), mizan.In("things"))
	a.app.OnInvalidate(mizan.InvalidatorFunc(func(context.Context, mizan.Invalidation) { a.emitted.Add(1) }))
	if err := a.app.Build(); err != nil {
		t.Fatal(err)
	}
	a.srv = httptest.NewServer(a.app)
	t.Cleanup(a.srv.Close)
	return a
}

type reply struct {
	status int
	body   string
	header http.Header
}

func (a *idemApp) post(t *testing.T, body, key string, headers ...string) reply {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, a.srv.URL+"/api/mizan/call/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set(mizan.HeaderIdempotencyKey, key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return reply{}
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return reply{res.StatusCode, string(b), res.Header}
}

func TestIdempotentInFlight(t *testing.T) {
	a := newIdemApp(t, mizan.Config{})
	first := make(chan reply, 1)
	go func() { first <- a.post(t, `{"fn":"slow","args":{"n":1}}`, "k") }()
	select {
	case <-a.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("slow did not start")
	}
	r := a.post(t, `{"fn":"slow","args":{"n":1}}`, "k")
	if r.status != 409 || r.body != `{"error":{"code":"idempotency_in_flight","message":"the first call with this Idempotency-Key is still running; retry later"}}` {
		t.Errorf("repeat in flight: %d %s", r.status, r.body)
	}
	if r := a.post(t, `{"fn":"slow","args":{"n":2}}`, "k"); r.status != 422 || !strings.Contains(r.body, "idempotency_mismatch") {
		t.Errorf("other args in flight: %d %s", r.status, r.body)
	}
	close(a.release)
	got := <-first
	if got.status != 200 || got.body != `{"result":{"n":1},"invalidate":["things"]}` || got.header.Get("X-Mizan-Invalidate") != "things" {
		t.Fatalf("first: %d %s %v", got.status, got.body, got.header)
	}
	emitted := a.emitted.Load()
	r = a.post(t, `{"fn":"slow","args":{"n":1}}`, "k")
	if r.status != 200 || r.body != got.body || r.header.Get("X-Mizan-Invalidate") != "things" ||
		r.header.Get(mizan.HeaderIdempotentReplayed) != "true" || r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("replay: %d %s %v", r.status, r.body, r.header)
	}
	if n := a.runs.Load(); n != 1 {
		t.Errorf("slow ran %d times, want 1", n)
	}
	if n := a.emitted.Load(); n != emitted {
		t.Errorf("the replay emitted %d invalidations, want none", n-emitted)
	}
}

func TestIdempotentCallInProcess(t *testing.T) {
	a := newIdemApp(t, mizan.Config{})
	req := httptest.NewRequest(http.MethodPost, "/", nil)
	call := func(args, key string, caller *mizan.Identity) (mizan.CallResult, error) {
		return a.app.Call(context.Background(), mizan.CallRequest{Fn: "quick", Args: []byte(args), Request: req, Caller: caller, IdempotencyKey: key})
	}
	res, err := call(`{"n":5}`, "k", nil)
	if err != nil || res.Replayed || string(res.Result) != `{"n":5}` {
		t.Fatalf("first: %+v %v", res, err)
	}
	res, err = call(`{"n":5}`, "k", nil)
	if err != nil || !res.Replayed || string(res.Result) != `{"n":5}` || len(res.Invalidate) != 1 || res.Invalidate[0].Context != "things" {
		t.Errorf("repeat: %+v %v", res, err)
	}
	if _, err := call(`{"n":6}`, "k", nil); mizanCode(err) != mizan.CodeIdempotencyMismatch {
		t.Errorf("other args: %v", err)
	}
	if res, err := call(`{"n":5}`, "k", &mizan.Identity{ID: "9"}); err != nil || res.Replayed {
		t.Errorf("another caller: %+v %v", res, err)
	}
	if _, err := call(`{}`, "bad\x7f", nil); mizanCode(err) != mizan.CodeBadRequest {
		t.Errorf("bad key: %v", err)
	}
	if n := a.runs.Load(); n != 2 {
		t.Errorf("quick ran %d times, want 2", n)
	}
	// The HTTP endpoint replays what App.Call kept.
	r := a.post(t, `{"fn":"quick","args":{"n":5}}`, "k")
	if r.status != 200 || r.body != `{"result":{"n":5},"invalidate":["things"]}` || r.header.Get(mizan.HeaderIdempotentReplayed) != "true" {
		t.Errorf("HTTP after App.Call: %d %s", r.status, r.body)
	}
}

func mizanCode(err error) mizan.Code {
	if me, ok := err.(*mizan.Error); ok {
		return me.Code()
	}
	return ""
}

func TestIdempotentNotKept(t *testing.T) {
	a := newIdemApp(t, mizan.Config{MaxBodyBytes: 64})
	// A function's own 5xx error is not kept: the repeat runs again.
	for range 2 {
		if r := a.post(t, `{"fn":"down"}`, "k5"); r.status != 503 || r.header.Get(mizan.HeaderIdempotentReplayed) != "" {
			t.Errorf("down: %d %s", r.status, r.body)
		}
	}
	if n := a.runs.Load(); n != 2 {
		t.Errorf("down ran %d times, want 2", n)
	}
	// 413 keeps nothing.
	if r := a.post(t, `{"fn":"quick","args":{"n":1}}`+strings.Repeat(" ", 100), "k4"); r.status != 413 {
		t.Errorf("large body: %d %s", r.status, r.body)
	}
	if r := a.post(t, `{"fn":"quick","args":{"n":1}}`, "k4"); r.status != 200 || r.header.Get(mizan.HeaderIdempotentReplayed) != "" {
		t.Errorf("after 413: %d %s", r.status, r.body)
	}
	// 404: an unknown function keeps nothing either.
	if r := a.post(t, `{"fn":"nope"}`, "k6"); r.status != 404 {
		t.Errorf("unknown function: %d %s", r.status, r.body)
	}
	if r := a.post(t, `{"fn":"quick","args":{"n":1}}`, "k6"); r.status != 200 || r.header.Get(mizan.HeaderIdempotentReplayed) != "" {
		t.Errorf("after 404: %d %s", r.status, r.body)
	}
}

func TestIdempotencyOff(t *testing.T) {
	a := newIdemApp(t, mizan.Config{Idempotency: mizan.NoIdempotency})
	for range 2 {
		if r := a.post(t, `{"fn":"quick","args":{"n":1}}`, "k"); r.status != 200 || r.header.Get(mizan.HeaderIdempotentReplayed) != "" {
			t.Errorf("off: %d %s", r.status, r.body)
		}
	}
	if r := a.post(t, `{"fn":"quick","args":{"n":1}}`, strings.Repeat("k", 256)); r.status != 400 {
		t.Errorf("off, a bad key: %d %s", r.status, r.body)
	}
	if n := a.runs.Load(); n != 2 {
		t.Errorf("quick ran %d times, want 2", n)
	}
}

// TestIdempotencyStoreShared: two apps given one store agree.
func TestIdempotencyStoreShared(t *testing.T) {
	store := idempotency.NewMemory(idempotency.MemoryOptions{})
	a, b := newIdemApp(t, mizan.Config{Idempotency: store}), newIdemApp(t, mizan.Config{Idempotency: store})
	first := a.post(t, `{"fn":"quick","args":{"n":1}}`, "k", "X-User", "1")
	r := b.post(t, `{"fn":"quick","args":{"n":1}}`, "k", "X-User", "1")
	if r.status != 200 || r.body != first.body || r.header.Get(mizan.HeaderIdempotentReplayed) != "true" || b.runs.Load() != 0 {
		t.Errorf("the other app: %d %s (%d runs)", r.status, r.body, b.runs.Load())
	}
}

func FuzzParseIdempotencyKey(f *testing.F) {
	for _, s := range []string{"", "k", "a b", "\x00", "\x7f", "~", strings.Repeat("x", 255), strings.Repeat("x", 256), "caf\u00e9", "\t"} {
		f.Add(s)
	}
	_, refusal := mizan.ParseIdempotencyKey("")
	f.Fuzz(func(t *testing.T, s string) {
		want := len(s) >= 1 && len(s) <= 255
		for i := range len(s) {
			if s[i] < ' ' || s[i] > '~' {
				want = false
			}
		}
		got, err := mizan.ParseIdempotencyKey(s)
		if (err == nil) != want || (err == nil && got != s) {
			t.Fatalf("ParseIdempotencyKey(%q) = %q, %v; want ok=%v", s, got, err, want)
		}
		if err != nil {
			// One fixed message, which never repeats the key.
			if me, ok := err.(*mizan.Error); !ok || me.Code() != mizan.CodeBadRequest || err.Error() != refusal.Error() {
				t.Fatalf("ParseIdempotencyKey(%q): error %v", s, err)
			}
		}
	})
}
