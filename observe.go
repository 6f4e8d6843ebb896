package mizan

import (
	"context"
	"net/http"

	"github.com/mizan-afi/mizan/cache"
)

// Observer watches an App's work for tracing and metrics: package
// telemetry implements it with OpenTelemetry spans and Prometheus metrics
// (docs/observability.md). Set it as [Config.Observer]; nil, the default,
// turns observation off, and then a request pays one nil check for it and
// no allocation.
//
// An Observer must be safe for concurrent use. When it also implements
// [Invalidator], [New] adds it to the app's consumers of invalidations;
// when it implements [CacheObserverProvider] and [Config.Cache] is set,
// New has the cache report its operations to it.
type Observer interface {
	// ObserveRequest is called as the app begins serving a request, with
	// route the pattern of the endpoint or view that matched it (a value
	// fixed when the app is built, such as "/api/mizan/call/{$}"). It
	// returns the writer and request to serve it with (the request's
	// context carrying a span, say), and a function the app calls once the
	// response is written.
	ObserveRequest(w http.ResponseWriter, r *http.Request, route string) (http.ResponseWriter, *http.Request, func())
	// ObserveFunc is called as a server function begins to run, with its
	// wire name and its context ("" for none). It returns the context to
	// run the function with and a function the app calls with the run's
	// error (nil on success; a panic is reported as the internal error it
	// becomes) once the function has returned and its result is encoded.
	ObserveFunc(ctx context.Context, fn, contextName string) (context.Context, func(err error))
}

// CacheObserverProvider is implemented by an [Observer] that watches the
// origin cache too: [New] passes what CacheObserver returns to
// [cache.Cache.Observe] of [Config.Cache].
type CacheObserverProvider interface {
	CacheObserver() cache.Observer
}

// ErrorCodeRecorder is implemented by a ResponseWriter that an
// [Observer] returned from ObserveRequest to learn the code of the error
// envelope the app answers with, if it answers with one: the app calls
// RecordErrorCode before writing the envelope.
type ErrorCodeRecorder interface {
	RecordErrorCode(code Code)
}

// observed wraps the handler of route in the observer's request hook, or
// returns it as it is when there is no observer.
func (a *App) observed(route string, h http.Handler) http.Handler {
	o := a.cfg.Observer
	if o == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w, r, end := o.ObserveRequest(w, r, route)
		defer end()
		h.ServeHTTP(w, r)
	})
}

// observeFunc begins the observation of one run of f; end is nil when
// there is no observer.
func (a *App) observeFunc(ctx context.Context, f *Func) (context.Context, func(error)) {
	if o := a.cfg.Observer; o != nil {
		return o.ObserveFunc(ctx, f.meta.Name, f.meta.Context)
	}
	return ctx, nil
}

// recordErrorCode tells the observer's writer under w, if there is one,
// the code of the error envelope about to be written.
func recordErrorCode(w http.ResponseWriter, code Code) {
	if rec, ok := unwrapProto(w).(ErrorCodeRecorder); ok {
		rec.RecordErrorCode(code)
	}
}

// observeNew wires the observer of cfg into the app's consumers of
// invalidations and into its cache.
func (a *App) observeNew() {
	o := a.cfg.Observer
	if o == nil {
		return
	}
	if inv, ok := o.(Invalidator); ok {
		a.OnInvalidate(inv)
	}
	if p, ok := o.(CacheObserverProvider); ok && a.cfg.Cache != nil {
		a.cfg.Cache.Observe(p.CacheObserver())
	}
}
