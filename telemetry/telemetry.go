// Package telemetry makes a Mizan app observable: OpenTelemetry spans for
// every request, function run and cache operation, and Prometheus metrics
// of the functions, the origin cache, invalidations, the live hub, the SSR
// renderer and the edge purge (docs/observability.md).
//
// It is off until an app sets [mizan.Config.Observer] to a [T]:
//
//	tel, err := telemetry.New(telemetry.Options{TracerProvider: tp, Registerer: reg})
//	cfg.Observer = tel
//	app := mizan.New(cfg)
//	mux.Handle("/metrics", tel.Handler())
//
// Trace context arrives in the W3C traceparent header of each request and
// goes on to the SSR worker (package ssr) and to the cache's backend
// calls. Labels are bounded by what the app registers: function, context
// and route names, error codes, never a caller or a parameter.
package telemetry

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/cache"
)

// ScopeName is the instrumentation scope of the tracer: the name the spans
// are reported under.
const ScopeName = "github.com/mizan-afi/mizan/telemetry"

// Span attributes set by Mizan, besides the HTTP ones of OpenTelemetry's
// semantic conventions (http.request.method, http.route,
// http.response.status_code).
const (
	AttrFunction  = attribute.Key("mizan.function")   // wire name of the function
	AttrContext   = attribute.Key("mizan.context")    // context of the function or the fetch
	AttrCache     = attribute.Key("mizan.cache")      // hit, miss or bypass
	AttrTargets   = attribute.Key("mizan.targets")    // invalidation targets emitted
	AttrErrorCode = attribute.Key("mizan.error_code") // code of the error envelope
	AttrPurges    = attribute.Key("mizan.purges")     // purges of one cache purge
	AttrApplied   = attribute.Key("mizan.applied")    // whether the backend applied a purge
)

// Options configure [New]. The zero value traces with the global
// TracerProvider (otel.GetTracerProvider, a no-op unless the app set one)
// and keeps metrics in a registry of its own, which [T.Handler] serves.
type Options struct {
	// TracerProvider makes the tracer of the spans. Nil means
	// otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
	// Propagator reads trace context from incoming requests. Nil means the
	// W3C Trace Context propagator (the traceparent and tracestate
	// headers).
	Propagator propagation.TextMapPropagator
	// Registerer is where the metrics are registered. Nil means a new
	// prometheus.Registry of the T's own.
	Registerer prometheus.Registerer
	// Gatherer is what [T.Handler] serves. Nil means Registerer when it is
	// a prometheus.Gatherer too (a *prometheus.Registry is), else
	// prometheus.DefaultGatherer.
	Gatherer prometheus.Gatherer
	// Buckets are the bounds, in seconds, of the latency histograms. Nil
	// means [DefaultBuckets].
	Buckets []float64
}

// DefaultBuckets are the latency histogram bounds, in seconds: 50 µs to
// 5 s, since a Mizan function served from memory takes microseconds.
var DefaultBuckets = []float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

// T is the app's telemetry: a [mizan.Observer] (with [mizan.Invalidator]
// and [mizan.CacheObserverProvider]) to set as [mizan.Config.Observer].
// Create it with [New]; it is safe for concurrent use.
type T struct {
	tracer   trace.Tracer
	prop     propagation.TextMapPropagator
	reg      prometheus.Registerer
	gatherer prometheus.Gatherer

	requests     *prometheus.CounterVec
	reqDuration  *prometheus.HistogramVec
	funcDuration *prometheus.HistogramVec
	funcErrors   *prometheus.CounterVec
	cacheLookups *prometheus.CounterVec
	cachePurges  *prometheus.CounterVec
	cacheOwed    prometheus.Counter
	invalidated  *prometheus.CounterVec
}

var (
	_ mizan.Observer              = (*T)(nil)
	_ mizan.Invalidator           = (*T)(nil)
	_ mizan.CacheObserverProvider = (*T)(nil)
	_ cache.Observer              = cacheObserver{}
)

// New returns the telemetry of o, its metrics registered. It fails when a
// metric of the same name is registered already (two T on one
// Registerer).
func New(o Options) (*T, error) {
	tp := o.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	t := &T{tracer: tp.Tracer(ScopeName), prop: o.Propagator, reg: o.Registerer, gatherer: o.Gatherer}
	if t.prop == nil {
		t.prop = propagation.TraceContext{}
	}
	if t.reg == nil {
		r := prometheus.NewRegistry()
		t.reg = r
	}
	if t.gatherer == nil {
		if g, ok := t.reg.(prometheus.Gatherer); ok {
			t.gatherer = g
		} else {
			t.gatherer = prometheus.DefaultGatherer
		}
	}
	buckets := o.Buckets
	if buckets == nil {
		buckets = DefaultBuckets
	}
	t.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mizan_requests_total",
		Help: "Requests served, by route pattern and outcome (ok or the error envelope's code).",
	}, []string{"route", "code"})
	t.reqDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "mizan_request_duration_seconds",
		Help:    "Time to serve a request, by route pattern.",
		Buckets: buckets,
	}, []string{"route"})
	t.funcDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "mizan_function_duration_seconds",
		Help:    "Time one run of a server function takes, result encoding included, by function.",
		Buckets: buckets,
	}, []string{"function"})
	t.funcErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mizan_function_errors_total",
		Help: "Runs of a server function that returned an error, by function and error code.",
	}, []string{"function", "code"})
	t.cacheLookups = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mizan_cache_lookups_total",
		Help: "Origin cache lookups, by context and result (hit, miss, bypass).",
	}, []string{"context", "result"})
	t.cachePurges = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mizan_cache_purges_total",
		Help: "Origin cache purges, by context.",
	}, []string{"context"})
	t.cacheOwed = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "mizan_cache_purge_failures_total",
		Help: "Origin cache purge operations the backend did not apply (owed until it answers).",
	})
	t.invalidated = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mizan_invalidations_total",
		Help: "Invalidation targets emitted, by context.",
	}, []string{"context"})
	for _, c := range []prometheus.Collector{t.requests, t.reqDuration, t.funcDuration, t.funcErrors, t.cacheLookups, t.cachePurges, t.cacheOwed, t.invalidated} {
		if err := t.reg.Register(c); err != nil {
			return nil, fmt.Errorf("telemetry: registering metrics: %w", err)
		}
	}
	return t, nil
}

// Handler serves the metrics in the Prometheus exposition format, for the
// app to mount (at /metrics, say, outside the endpoints' prefix and
// behind whatever guards its operations endpoints).
func (t *T) Handler() http.Handler {
	return promhttp.HandlerFor(t.gatherer, promhttp.HandlerOpts{})
}

// Tracer returns the tracer of the spans, for the app's own.
func (t *T) Tracer() trace.Tracer { return t.tracer }

// methods are the request methods a span name keeps; others are _OTHER,
// as OpenTelemetry's HTTP conventions say, so that span names stay few.
var methods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
}

// ObserveRequest begins the server span of one request, a child of the
// trace context the request carries, and returns a writer that records the
// response's status and error code; the returned function ends the span
// and counts the request. It implements [mizan.Observer].
func (t *T) ObserveRequest(w http.ResponseWriter, r *http.Request, route string) (http.ResponseWriter, *http.Request, func()) {
	start := time.Now()
	ctx := t.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	method := r.Method
	if !methods[method] {
		method = "_OTHER"
	}
	ctx, span := t.tracer.Start(ctx, method+" "+route, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", method), attribute.String("http.route", route)))
	r = r.WithContext(ctx)
	// Every request is recorded through the writer, a WebSocket upgrade
	// too (it hijacks through it: 101). Regression: any request carrying
	// an Upgrade header went unwrapped, and its errors were counted "ok".
	rw := &writer{ResponseWriter: w}
	return rw, r, func() {
		status := rw.status
		if status == 0 {
			status = http.StatusOK
		}
		span.SetAttributes(attribute.Int("http.response.status_code", status))
		if c := w.Header().Get(mizan.HeaderCache); c != "" {
			span.SetAttributes(AttrCache.String(c))
		}
		code := "ok"
		if rw.code != "" {
			code = string(rw.code)
			span.SetAttributes(AttrErrorCode.String(code))
		}
		if status >= 500 {
			span.SetStatus(codes.Error, code)
		}
		span.End()
		t.requests.WithLabelValues(route, code).Inc()
		t.reqDuration.WithLabelValues(route).Observe(time.Since(start).Seconds())
	}
}

// ObserveFunc begins the span of one function run, a child of the
// request's, and returns the function that ends it and records the run's
// latency and error. It implements [mizan.Observer].
func (t *T) ObserveFunc(ctx context.Context, fn, contextName string) (context.Context, func(error)) {
	start := time.Now()
	attrs := []attribute.KeyValue{AttrFunction.String(fn)}
	if contextName != "" {
		attrs = append(attrs, AttrContext.String(contextName))
	}
	if parent := trace.SpanFromContext(ctx); parent.IsRecording() {
		if contextName == "" {
			parent.SetAttributes(AttrFunction.String(fn))
		} else {
			parent.SetAttributes(AttrContext.String(contextName))
		}
	}
	ctx, span := t.tracer.Start(ctx, "mizan.function "+fn, trace.WithAttributes(attrs...))
	return ctx, func(err error) {
		t.funcDuration.WithLabelValues(fn).Observe(time.Since(start).Seconds())
		if err != nil {
			code := errorCode(err)
			span.SetAttributes(AttrErrorCode.String(string(code)))
			if code == mizan.CodeInternal {
				span.SetStatus(codes.Error, string(code))
			}
			t.funcErrors.WithLabelValues(fn, string(code)).Inc()
		}
		span.End()
	}
}

// errorCode is the code the app answers err with: its own for a
// [*mizan.Error], internal for anything else.
func errorCode(err error) mizan.Code {
	var me *mizan.Error
	if errors.As(err, &me) {
		return me.Code()
	}
	return mizan.CodeInternal
}

// Invalidate counts the targets of one emission by context and records
// how many there were on the span of the request that emitted them. It
// implements [mizan.Invalidator]; [mizan.New] adds it to the app's
// consumers.
func (t *T) Invalidate(ctx context.Context, inv mizan.Invalidation) {
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.SetAttributes(AttrTargets.Int(len(inv.Targets)))
		span.AddEvent("mizan.invalidate", trace.WithAttributes(AttrTargets.Int(len(inv.Targets))))
	}
	for _, tg := range inv.Targets {
		t.invalidated.WithLabelValues(tg.Context).Inc()
	}
}

// CacheObserver returns the observer of the origin cache: a span per
// lookup, store and purge (around their backend calls, Redis's included)
// and the cache metrics. It implements [mizan.CacheObserverProvider].
func (t *T) CacheObserver() cache.Observer { return cacheObserver{t} }

// cacheObserver is the [cache.Observer] of a T.
type cacheObserver struct{ t *T }

// ObserveGet begins the span of one lookup.
func (o cacheObserver) ObserveGet(ctx context.Context, contextName string) (context.Context, func(cache.Status)) {
	ctx, span := o.t.tracer.Start(ctx, "mizan.cache.get", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(AttrContext.String(contextName)))
	return ctx, func(s cache.Status) {
		span.SetAttributes(AttrCache.String(string(s)))
		span.End()
		o.t.cacheLookups.WithLabelValues(contextName, string(s)).Inc()
	}
}

// ObservePut begins the span of one store.
func (o cacheObserver) ObservePut(ctx context.Context) (context.Context, func()) {
	ctx, span := o.t.tracer.Start(ctx, "mizan.cache.set", trace.WithSpanKind(trace.SpanKindClient))
	return ctx, func() { span.End() }
}

// ObservePurge begins the span of the purges of one invalidation.
func (o cacheObserver) ObservePurge(ctx context.Context, purges []cache.Purge) (context.Context, func(bool)) {
	ctx, span := o.t.tracer.Start(ctx, "mizan.cache.purge", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(AttrPurges.Int(len(purges))))
	return ctx, func(applied bool) {
		span.SetAttributes(AttrApplied.Bool(applied))
		if !applied {
			span.SetStatus(codes.Error, "purge owed: the cache backend did not apply it")
			o.t.cacheOwed.Inc()
		}
		span.End()
		for _, p := range purges {
			o.t.cachePurges.WithLabelValues(p.Context).Inc()
		}
	}
}

// writer is the ResponseWriter of an observed request: it records the
// status and the error envelope's code.
type writer struct {
	http.ResponseWriter
	status int
	code   mizan.Code
}

// WriteHeader records the status and writes it.
func (w *writer) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

// Write writes b, recording the implicit 200.
func (w *writer) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// RecordErrorCode records the code of the error envelope the app answers
// with. It implements [mizan.ErrorCodeRecorder].
func (w *writer) RecordErrorCode(code mizan.Code) { w.code = code }

// Unwrap returns the server's writer, for http.ResponseController.
func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack takes the connection over (a WebSocket upgrade), through the
// server's writer; the request then counts as 101 Switching Protocols.
func (w *writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && w.status == 0 {
		w.status = http.StatusSwitchingProtocols
	}
	return c, rw, err
}

// Flush flushes the server's writer, when it can.
func (w *writer) Flush() {
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}
