package telemetry_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/cache"
	"github.com/mizan-afi/mizan/cache/redis"
	"github.com/mizan-afi/mizan/internal/redistest"
	"github.com/mizan-afi/mizan/telemetry"
)

const (
	traceID  = "4bf92f3577b34da6a3ce929d0e0e4736"
	parentID = "00f067aa0ba902b7"
	prefix   = mizan.DefaultPrefix
)

type userArgs struct {
	UserID int `json:"user_id"`
}

type renameArgs struct {
	UserID int    `json:"user_id"`
	Name   string `json:"name"`
}

type okResult struct {
	OK bool `json:"ok"`
}

// newApp is a small app: a cached context "user" of one function, a
// mutation that affects it and one that fails, observed by obs (nil: off).
func newApp(t testing.TB, obs mizan.Observer) *mizan.App {
	t.Helper()
	return newAppOn(t, obs, cache.NewMemory(cache.MemoryOptions{}), nil)
}

// newAppOn is newApp with the cache on backend; setup, when not nil, runs
// before the app is built.
func newAppOn(t testing.TB, obs mizan.Observer, backend cache.Backend, setup func(*mizan.App)) *mizan.App {
	t.Helper()
	c, err := cache.New(cache.Options{Backend: backend, Secret: []byte("telemetry-test-secret-32-bytes-x"),
		Admission: cache.AdmitAlways, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	app := mizan.New(mizan.Config{Cache: c, Observer: obs, Logger: slog.New(slog.DiscardHandler)})
	mizan.Query(app, func(_ context.Context, in userArgs) (string, error) {
		return fmt.Sprintf("user %d", in.UserID), nil
	}, mizan.Name("profile"), mizan.In("user"))
	mizan.Mutation(app, func(context.Context, renameArgs) (okResult, error) {
		return okResult{true}, nil
	}, mizan.Name("rename"), mizan.Affects("user"))
	mizan.Mutation(app, func(context.Context, userArgs) (okResult, error) {
		return okResult{}, mizan.NewError(mizan.CodeForbidden, "not yours")
	}, mizan.Name("fail"), mizan.Affects("user"))
	if setup != nil {
		setup(app)
	}
	if err := app.Build(); err != nil {
		t.Fatal(err)
	}
	return app
}

// do serves one request and checks its status.
func do(t testing.TB, h http.Handler, method, target, body string, header http.Header, want int) *httptest.ResponseRecorder {
	t.Helper()
	var r *http.Request
	if body == "" {
		r = httptest.NewRequest(method, target, nil)
	} else {
		r = httptest.NewRequest(method, target, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range header {
		r.Header[k] = vs
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, target, w.Code, want, w.Body)
	}
	return w
}

// traffic is the known traffic of the tests: a miss and a hit of one
// instance (the first with a traceparent), a mutation that invalidates it
// and one that fails.
func traffic(t testing.TB, h http.Handler) {
	t.Helper()
	tp := http.Header{"Traceparent": {"00-" + traceID + "-" + parentID + "-01"}}
	if got := do(t, h, "GET", prefix+"ctx/user/?user_id=1", "", tp, 200).Header().Get(mizan.HeaderCache); got != "miss" {
		t.Fatalf("first fetch: X-Mizan-Cache %q, want miss", got)
	}
	if got := do(t, h, "GET", prefix+"ctx/user/?user_id=1", "", nil, 200).Header().Get(mizan.HeaderCache); got != "hit" {
		t.Fatalf("second fetch: X-Mizan-Cache %q, want hit", got)
	}
	do(t, h, "POST", prefix+"call/", `{"fn":"rename","args":{"user_id":1,"name":"Ada"}}`, nil, 200)
	do(t, h, "POST", prefix+"call/", `{"fn":"fail","args":{"user_id":1}}`, nil, 403)
}

func newTelemetry(t *testing.T) (*telemetry.T, *tracetest.SpanRecorder, *prometheus.Registry) {
	t.Helper()
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	reg := prometheus.NewRegistry()
	tel, err := telemetry.New(telemetry.Options{TracerProvider: tp, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	return tel, sr, reg
}

func attr(s sdktrace.ReadOnlySpan, key attribute.Key) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

func wantAttr(t *testing.T, s sdktrace.ReadOnlySpan, key attribute.Key, want any) {
	t.Helper()
	v, ok := attr(s, key)
	if !ok {
		t.Errorf("span %q: no attribute %s (want %v); has %v", s.Name(), key, want, s.Attributes())
		return
	}
	if got := v.AsInterface(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("span %q: %s = %v, want %v", s.Name(), key, got, want)
	}
}

func TestSpans(t *testing.T) {
	tel, sr, _ := newTelemetry(t)
	app := newApp(t, tel)
	traffic(t, app)
	spans := sr.Ended()
	var requests []sdktrace.ReadOnlySpan
	byParent := map[trace.SpanID][]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		if s.SpanKind() == trace.SpanKindServer {
			requests = append(requests, s)
		}
		byParent[s.Parent().SpanID()] = append(byParent[s.Parent().SpanID()], s)
	}
	if len(requests) != 4 {
		t.Fatalf("%d server spans, want 4 (one a request): %v", len(requests), names(spans))
	}
	children := func(s sdktrace.ReadOnlySpan) []string { return names(byParent[s.SpanContext().SpanID()]) }

	miss, hit, rename, fail := requests[0], requests[1], requests[2], requests[3]
	if want := "GET " + prefix + "ctx/{context}/{$}"; miss.Name() != want {
		t.Errorf("request span %q, want %q", miss.Name(), want)
	}
	if got := miss.SpanContext().TraceID().String(); got != traceID {
		t.Errorf("trace id %s, want %s from traceparent", got, traceID)
	}
	if got := miss.Parent().SpanID().String(); got != parentID || !miss.Parent().IsRemote() {
		t.Errorf("parent %s (remote %v), want the traceparent's %s", got, miss.Parent().IsRemote(), parentID)
	}
	wantAttr(t, miss, telemetry.AttrCache, "miss")
	wantAttr(t, miss, telemetry.AttrContext, "user")
	wantAttr(t, miss, "http.response.status_code", 200)
	if got, want := children(miss), []string{"mizan.cache.get", "mizan.function profile", "mizan.cache.set"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("children of the miss: %v, want %v", got, want)
	}
	for _, c := range byParent[miss.SpanContext().SpanID()] {
		if c.SpanContext().TraceID() != miss.SpanContext().TraceID() {
			t.Errorf("child %q in trace %s, not the request's", c.Name(), c.SpanContext().TraceID())
		}
		switch c.Name() {
		case "mizan.function profile":
			wantAttr(t, c, telemetry.AttrFunction, "profile")
			wantAttr(t, c, telemetry.AttrContext, "user")
		case "mizan.cache.get":
			wantAttr(t, c, telemetry.AttrCache, "miss")
		}
	}

	wantAttr(t, hit, telemetry.AttrCache, "hit")
	if hit.SpanContext().TraceID() == miss.SpanContext().TraceID() {
		t.Error("a request without traceparent joined the trace of another")
	}
	if got, want := children(hit), []string{"mizan.cache.get"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("children of the hit: %v, want %v (no function runs)", got, want)
	}

	if want := "POST " + prefix + "call/{$}"; rename.Name() != want {
		t.Errorf("call span %q, want %q", rename.Name(), want)
	}
	wantAttr(t, rename, telemetry.AttrFunction, "rename")
	wantAttr(t, rename, telemetry.AttrTargets, 1)
	if _, ok := attr(rename, telemetry.AttrErrorCode); ok {
		t.Error("a successful call has an error code")
	}
	if got, want := children(rename), []string{"mizan.function rename", "mizan.cache.purge"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("children of the call: %v, want %v", got, want)
	}

	wantAttr(t, fail, telemetry.AttrErrorCode, "forbidden")
	wantAttr(t, fail, "http.response.status_code", 403)
	fn := byParent[fail.SpanContext().SpanID()]
	if len(fn) != 1 || fn[0].Name() != "mizan.function fail" {
		t.Fatalf("children of the failing call: %v", names(fn))
	}
	wantAttr(t, fn[0], telemetry.AttrErrorCode, "forbidden")
}

// With a Redis backend, each cache operation's span wraps its Redis
// round trip, in the request's trace.
func TestCacheSpansRedis(t *testing.T) {
	srv := redistest.Start(t)
	b, err := redis.New(redis.Options{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	tel, sr, _ := newTelemetry(t)
	traffic(t, newAppOn(t, tel, b, nil))
	got := map[string]int{}
	for _, s := range sr.Ended() {
		if strings.HasPrefix(s.Name(), "mizan.cache.") {
			got[s.Name()]++
			if !s.Parent().IsValid() {
				t.Errorf("cache span %q has no parent", s.Name())
			}
			if s.Name() == "mizan.cache.purge" {
				wantAttr(t, s, telemetry.AttrApplied, true)
			}
		}
	}
	if want := map[string]int{"mizan.cache.get": 2, "mizan.cache.set": 1, "mizan.cache.purge": 1}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("cache spans %v, want %v", got, want)
	}
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name())
	}
	return out
}

func TestMetrics(t *testing.T) {
	tel, _, reg := newTelemetry(t)
	app := newApp(t, tel)
	traffic(t, app)
	expected := `
# HELP mizan_cache_lookups_total Origin cache lookups, by context and result (hit, miss, bypass).
# TYPE mizan_cache_lookups_total counter
mizan_cache_lookups_total{context="user",result="hit"} 1
mizan_cache_lookups_total{context="user",result="miss"} 1
# HELP mizan_cache_purges_total Origin cache purges, by context.
# TYPE mizan_cache_purges_total counter
mizan_cache_purges_total{context="user"} 1
# HELP mizan_function_errors_total Runs of a server function that returned an error, by function and error code.
# TYPE mizan_function_errors_total counter
mizan_function_errors_total{code="forbidden",function="fail"} 1
# HELP mizan_invalidations_total Invalidation targets emitted, by context.
# TYPE mizan_invalidations_total counter
mizan_invalidations_total{context="user"} 1
# HELP mizan_requests_total Requests served, by route pattern and outcome (ok or the error envelope's code).
# TYPE mizan_requests_total counter
mizan_requests_total{code="forbidden",route="/api/mizan/call/{$}"} 1
mizan_requests_total{code="ok",route="/api/mizan/call/{$}"} 1
mizan_requests_total{code="ok",route="/api/mizan/ctx/{context}/{$}"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(expected),
		"mizan_cache_lookups_total", "mizan_cache_purges_total", "mizan_function_errors_total",
		"mizan_invalidations_total", "mizan_requests_total"); err != nil {
		t.Error(err)
	}
	for fn, want := range map[string]uint64{"profile": 1, "rename": 1, "fail": 1} {
		if got := histogramCount(t, reg, "mizan_function_duration_seconds", "function", fn); got != want {
			t.Errorf("mizan_function_duration_seconds{function=%q}: %d observations, want %d", fn, got, want)
		}
	}
	// The handler serves them.
	body := do(t, tel.Handler(), "GET", "/metrics", "", nil, 200).Body.String()
	if !strings.Contains(body, `mizan_invalidations_total{context="user"} 1`) {
		t.Errorf("/metrics lacks the invalidation count:\n%s", body)
	}
}

func histogramCount(t *testing.T, g prometheus.Gatherer, name, label, value string) uint64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if hasLabel(m, label, value) {
				return m.GetHistogram().GetSampleCount()
			}
		}
	}
	return 0
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, lp := range m.GetLabel() {
		if lp.GetName() == name && lp.GetValue() == value {
			return true
		}
	}
	return false
}

// TestOff: without an Observer Mizan makes no span (even with a global
// TracerProvider set) and registers no metric.
func TestOff(t *testing.T) {
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(prev) })
	app := newApp(t, nil)
	traffic(t, app)
	if got := sr.Ended(); len(got) != 0 {
		t.Errorf("telemetry off made %d spans: %v", len(got), names(got))
	}
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "mizan_") {
			t.Errorf("telemetry off registered %s", mf.GetName())
		}
	}
}

// TestOffAllocatesLess: a call with telemetry off allocates no more than
// with it on (the hooks themselves are checked to cost nothing in the
// mizan and cache packages' own tests).
func TestOffAllocatesLess(t *testing.T) {
	tel, _, _ := newTelemetry(t)
	on, off := newApp(t, tel), newApp(t, nil)
	call := func(h http.Handler) func() {
		return func() {
			r := httptest.NewRequest("POST", prefix+"call/", strings.NewReader(`{"fn":"rename","args":{"user_id":1,"name":"Ada"}}`))
			r.Header.Set("Content-Type", "application/json")
			h.ServeHTTP(httptest.NewRecorder(), r)
		}
	}
	aOff, aOn := testing.AllocsPerRun(200, call(off)), testing.AllocsPerRun(200, call(on))
	if aOff > aOn {
		t.Errorf("a call allocates %.0f times with telemetry off, more than the %.0f with it on", aOff, aOn)
	}
	t.Logf("allocations of a call: %.0f off, %.0f on", aOff, aOn)
}

func TestNewTwiceOnOneRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := telemetry.New(telemetry.Options{Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := telemetry.New(telemetry.Options{Registerer: reg}); err == nil {
		t.Error("a second T registered the same metrics without an error")
	}
}

// A view gets a request span named by its route and a function span.
func TestViewSpans(t *testing.T) {
	tel, sr, _ := newTelemetry(t)
	app := mizan.New(mizan.Config{Observer: tel, Logger: slog.New(slog.DiscardHandler)})
	mizan.View(app, func(_ context.Context, in userArgs) (http.Handler, error) {
		return mizan.HTML(http.StatusOK, fmt.Sprintf("<p>%d</p>", in.UserID)), nil
	}, mizan.Name("hello"), mizan.Route("/hello/{user_id}/"))
	if err := app.Build(); err != nil {
		t.Fatal(err)
	}
	do(t, app, "GET", "/hello/5/", "", nil, 200)
	spans := sr.Ended()
	if got, want := names(spans), []string{"mizan.function hello", "GET /hello/{user_id}/{$}"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("spans %v, want %v", got, want)
	}
	if spans[0].Parent().SpanID() != spans[1].SpanContext().SpanID() {
		t.Error("the view's function span is not a child of its request span")
	}
	wantAttr(t, spans[1], telemetry.AttrFunction, "hello")
}

// TestUpgradeHeaderStillRecorded: a request that merely carries an Upgrade
// header is recorded like any other, its error code included. Regression:
// it went unwrapped and counted as ok (hiding failed calls from metrics).
func TestUpgradeHeaderStillRecorded(t *testing.T) {
	tel, _, reg := newTelemetry(t)
	app := newApp(t, tel)
	for _, up := range []string{"x", "websocket"} {
		req := httptest.NewRequest(http.MethodPost, "/api/mizan/call/", strings.NewReader(`{"fn":"no_such_fn"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Upgrade", up)
		req.Header.Set("Connection", "upgrade")
		w := httptest.NewRecorder()
		app.ServeHTTP(w, req)
		if w.Code != http.StatusNotFound {
			t.Fatalf("Upgrade: %s: %d %s", up, w.Code, w.Body)
		}
	}
	expected := `
# HELP mizan_requests_total Requests served, by route pattern and outcome (ok or the error envelope's code).
# TYPE mizan_requests_total counter
mizan_requests_total{code="not_found",route="/api/mizan/call/{$}"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(expected), "mizan_requests_total"); err != nil {
		t.Error(err)
	}
}
