package mizan

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

type observeArgs struct {
	UserID int `json:"user_id"`
}

// With no Observer (telemetry off), the hooks cost nothing: the handlers
// are not wrapped, and a function run allocates exactly what the function
// and its encoding allocate.
func TestObserverOffCostsNothing(t *testing.T) {
	a := New(Config{})
	Query(a, func(_ context.Context, in observeArgs) (int, error) { return in.UserID, nil }, Name("n"))
	if err := a.Build(); err != nil {
		t.Fatal(err)
	}
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	if got := a.observed("/x", h); reflect.ValueOf(got).Pointer() != reflect.ValueOf(h).Pointer() {
		t.Error("observed wrapped a handler with no Observer")
	}
	f := a.plan.byName["n"]
	in := &observeArgs{UserID: 7}
	ctx := context.Background()
	buf := make([]byte, 0, 64)
	hooked := testing.AllocsPerRun(500, func() {
		if _, err := a.runJSON(ctx, f, in, buf[:0]); err != nil {
			t.Fatal(err)
		}
	})
	bare := testing.AllocsPerRun(500, func() {
		out, err := f.invoke(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.result.Append(buf[:0], out); err != nil {
			t.Fatal(err)
		}
	})
	if hooked > bare {
		t.Errorf("a run allocates %.0f times through runJSON, %.0f without the hooks", hooked, bare)
	}
	w := httptest.NewRecorder()
	if n := testing.AllocsPerRun(500, func() { recordErrorCode(w, CodeForbidden) }); n != 0 {
		t.Errorf("recordErrorCode allocates %.0f times with no Observer", n)
	}
}

// recorder is an Observer that counts what it sees.
type recorder struct {
	routes []string
	funcs  []string
	codes  []Code
	ended  int
}

type recWriter struct {
	http.ResponseWriter
	o *recorder
}

func (w recWriter) RecordErrorCode(c Code) { w.o.codes = append(w.o.codes, c) }

func (o *recorder) ObserveRequest(w http.ResponseWriter, r *http.Request, route string) (http.ResponseWriter, *http.Request, func()) {
	o.routes = append(o.routes, route)
	return recWriter{w, o}, r, func() { o.ended++ }
}

func (o *recorder) ObserveFunc(ctx context.Context, fn, cx string) (context.Context, func(error)) {
	return ctx, func(err error) { o.funcs = append(o.funcs, fn+"/"+cx+"/"+errString(err)) }
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

// An Observer sees each request's route, each function run with its
// outcome, and the error code of an envelope, even under a panic.
func TestObserverSeesRequestsAndRuns(t *testing.T) {
	o := &recorder{}
	a := New(Config{Observer: o, Logger: slog.New(slog.DiscardHandler)})
	Query(a, func(_ context.Context, in observeArgs) (int, error) { return in.UserID, nil }, Name("get"), In("user"))
	Query(a, func(context.Context, struct{}) (int, error) { panic("boom") }, Name("boom"))
	if err := a.Build(); err != nil {
		t.Fatal(err)
	}
	serve := func(method, target, body string) int {
		var r *http.Request
		if body != "" {
			r = httptest.NewRequest(method, target, strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
		} else {
			r = httptest.NewRequest(method, target, nil)
		}
		w := httptest.NewRecorder()
		a.ServeHTTP(w, r)
		return w.Code
	}
	if c := serve("GET", "/api/mizan/ctx/user/?user_id=3", ""); c != 200 {
		t.Fatalf("fetch: %d", c)
	}
	if c := serve("POST", "/api/mizan/call/", `{"fn":"boom"}`); c != 500 {
		t.Fatalf("panicking call: %d", c)
	}
	want := []string{"/api/mizan/ctx/{context}/{$}", "/api/mizan/call/{$}"}
	if !reflect.DeepEqual(o.routes, want) || o.ended != 2 {
		t.Errorf("routes %v (ended %d), want %v (2)", o.routes, o.ended, want)
	}
	if want := []string{"get/user/ok", "boom//" + errInternal.Error()}; !reflect.DeepEqual(o.funcs, want) {
		t.Errorf("runs %v, want %v", o.funcs, want)
	}
	if want := []Code{CodeInternal}; !reflect.DeepEqual(o.codes, want) {
		t.Errorf("error codes %v, want %v", o.codes, want)
	}
}

// unwrapping is an Observer whose writer hides the server's behind Unwrap,
// as the telemetry package's does.
type unwrapping struct{ recorder }

type unwrapWriter struct{ http.ResponseWriter }

func (w unwrapWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (o *unwrapping) ObserveRequest(w http.ResponseWriter, r *http.Request, _ string) (http.ResponseWriter, *http.Request, func()) {
	return unwrapWriter{w}, r, func() {}
}

// TestObserverKeepsTooLargeClosing: with an Observer, a body over
// MaxBodyBytes is still answered 413 with the connection closed (the
// server's writer reaches http.MaxBytesReader). Regression: it answered
// with the connection kept open, then read on up to 256 KB of the body.
func TestObserverKeepsTooLargeClosing(t *testing.T) {
	for _, obs := range []Observer{nil, &unwrapping{}} {
		app := New(Config{MaxBodyBytes: 64, Observer: obs, Logger: slog.New(slog.DiscardHandler)})
		Mutation(app, func(context.Context, struct{ S string }) (struct{}, error) { return struct{}{}, nil }, Name("echo"))
		if err := app.Build(); err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(app)
		body := `{"fn":"echo","args":{"S":"` + strings.Repeat("x", 1000) + `"}}`
		res, err := http.Post(srv.URL+"/api/mizan/call/", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		srv.Close()
		if res.StatusCode != http.StatusRequestEntityTooLarge || !res.Close {
			t.Errorf("observer %T: %d, Close %v; want 413 with the connection closed", obs, res.StatusCode, res.Close)
		}
	}
}
