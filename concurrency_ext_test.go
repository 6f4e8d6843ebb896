package mizan_test

import (
	"bytes"
	"context"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mizan-afi/mizan"
)

// goroutineID is the number runtime.Stack prints for the calling goroutine.
func goroutineID() int {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	buf = bytes.TrimPrefix(buf, []byte("goroutine "))
	n, _ := strconv.Atoi(string(buf[:bytes.IndexByte(buf, ' ')]))
	return n
}

// pairApp registers context "pair" with functions a and b, each sleeping for
// pause and recording the goroutine it ran on.
func pairApp(t *testing.T, cfg mizan.Config, pause time.Duration) (*mizan.App, func() (int, int)) {
	t.Helper()
	app := mizan.New(cfg)
	var mu sync.Mutex
	var ga, gb int
	fn := func(slot *int, v int) func(context.Context, struct{}) (int, error) {
		return func(context.Context, struct{}) (int, error) {
			if pause > 0 {
				time.Sleep(pause)
			}
			mu.Lock()
			*slot = goroutineID()
			mu.Unlock()
			return v, nil
		}
	}
	mizan.Query(app, fn(&ga, 1), mizan.Name("a"), mizan.In("pair"))
	mizan.Query(app, fn(&gb, 2), mizan.Name("b"), mizan.In("pair"))
	if err := app.Build(); err != nil {
		t.Fatal(err)
	}
	fetch := func() (int, int) {
		w := httptest.NewRecorder()
		app.ServeHTTP(w, httptest.NewRequest("GET", "/api/mizan/ctx/pair/", nil))
		if w.Code != 200 || w.Body.String() != `{"a":1,"b":2}` {
			t.Fatalf("fetch: %d %s", w.Code, w.Body)
		}
		mu.Lock()
		defer mu.Unlock()
		return ga, gb
	}
	return app, fetch
}

// Functions not yet measured run concurrently; once measured as quick they
// run one after another on the request's goroutine (a goroutine would cost
// more than it saves). The threshold is set far above what the functions
// take, even under the race detector.
func TestQuickContextFunctionsRunInline(t *testing.T) {
	_, fetch := pairApp(t, mizan.Config{ConcurrencyThreshold: time.Second}, 0)
	if a, b := fetch(); a == b {
		t.Fatalf("first fetch (unmeasured functions) ran both on goroutine %d, want concurrent", a)
	}
	for range 3 {
		if a, b := fetch(); a != b {
			t.Errorf("quick functions ran on goroutines %d and %d, want one", a, b)
		}
	}
}

// Functions that take longer than the threshold keep running concurrently.
func TestSlowContextFunctionsStayConcurrent(t *testing.T) {
	_, fetch := pairApp(t, mizan.Config{ConcurrencyThreshold: 50 * time.Microsecond}, time.Millisecond)
	for i := range 4 {
		if a, b := fetch(); a == b {
			t.Errorf("fetch %d: functions sleeping 1ms ran on one goroutine %d, want concurrent", i, a)
		}
	}
}

// A negative threshold makes every fetch concurrent.
func TestNegativeConcurrencyThresholdAlwaysConcurrent(t *testing.T) {
	_, fetch := pairApp(t, mizan.Config{ConcurrencyThreshold: -1}, 0)
	for i := range 4 {
		if a, b := fetch(); a == b {
			t.Errorf("fetch %d: ran on one goroutine %d with ConcurrencyThreshold -1", i, a)
		}
	}
}

type sharedArgs struct {
	ID int `json:"id"`
}

type pointerArgs struct {
	ID *int `json:"id"`
}

// Functions of one context with the same argument type each get the
// decoded arguments; a function writing through a pointer argument does not
// change what the next one receives.
func TestContextFunctionsWithSameArguments(t *testing.T) {
	app := mizan.New(mizan.Config{ConcurrencyThreshold: time.Hour}) // inline, in order
	mizan.Query(app, func(_ context.Context, in sharedArgs) (int, error) { return in.ID, nil }, mizan.Name("a"), mizan.In("same"))
	mizan.Query(app, func(_ context.Context, in sharedArgs) (int, error) { return in.ID * 2, nil }, mizan.Name("b"), mizan.In("same"))
	mizan.Query(app, func(_ context.Context, in pointerArgs) (int, error) {
		v := *in.ID
		*in.ID = 99 // a careless function
		return v, nil
	}, mizan.Name("c"), mizan.In("ptr"))
	mizan.Query(app, func(_ context.Context, in pointerArgs) (int, error) { return *in.ID, nil }, mizan.Name("d"), mizan.In("ptr"))
	if err := app.Build(); err != nil {
		t.Fatal(err)
	}
	for range 3 { // the first fetch is concurrent (unmeasured), the rest inline
		for path, want := range map[string]string{
			"/api/mizan/ctx/same/?id=7": `{"a":7,"b":14}`,
			"/api/mizan/ctx/ptr/?id=7":  `{"c":7,"d":7}`,
		} {
			w := httptest.NewRecorder()
			app.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
			if w.Code != 200 || w.Body.String() != want {
				t.Errorf("%s: %d %s, want %s", path, w.Code, w.Body, want)
			}
		}
	}
}
