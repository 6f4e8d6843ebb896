package mizan

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/mizan-afi/mizan/protocol"
)

// Target is one invalidation target: a context, optionally scoped by
// parameters, optionally narrowed to one function.
type Target = protocol.Target

// Invalidation is one emission of invalidation targets: a mutation ran, or
// server code called [App.Invalidate]. The emission step computes it once;
// consumers read it and never re-derive the targets.
type Invalidation struct {
	// Source is the wire name of the mutation that emitted the targets, or ""
	// for [App.Invalidate].
	Source string
	// Targets are the targets in their body form (docs/spec.md §3), in the
	// order the mutation declares them. Do not modify them.
	Targets []Target
	// Normal holds Targets[i] normalized: params sorted, values as wire
	// strings. Match instances against these with [protocol.Match].
	Normal []protocol.Normal
	// CallerScoped, when not nil, says for each target whether the mutation
	// declared its context [CallerScoped] (tier 2): see [Invalidation.Narrowed].
	CallerScoped []bool
	// Caller is who ran the mutation, or nil.
	Caller *Identity
}

// Narrowed reports whether target i applies only to the caller's own data
// (tier 2 of docs/spec.md §3): the mutation declared its context
// [CallerScoped] and was run by a signed-in caller. A consumer holding
// per-caller entries then touches only the caller's (the origin cache
// purges entries keyed by the caller's id, the live hub pushes to the
// caller's connections); one holding only shared or anonymous entries is
// not concerned by the target at all.
func (inv Invalidation) Narrowed(i int) bool {
	return inv.Caller != nil && i < len(inv.CallerScoped) && inv.CallerScoped[i]
}

// Invalidator consumes every invalidation the app emits: the origin cache
// purges, the WebSocket hub pushes, the page pre-renderer re-renders. It is
// called synchronously, before the mutation's response is written, from the
// one emission step; an Invalidator that does slow work should hand it to a
// goroutine of its own. It must be safe for concurrent use.
type Invalidator interface {
	Invalidate(ctx context.Context, inv Invalidation)
}

// InvalidatorFunc adapts a function to [Invalidator].
type InvalidatorFunc func(ctx context.Context, inv Invalidation)

// Invalidate calls f(ctx, inv).
func (f InvalidatorFunc) Invalidate(ctx context.Context, inv Invalidation) { f(ctx, inv) }

// OnInvalidate adds a consumer of invalidations. It may be called at any time,
// before or after Build; consumers are called in the order they were added.
func (a *App) OnInvalidate(inv Invalidator) {
	for {
		old := a.invalidators.Load()
		var next []Invalidator
		if old != nil {
			next = slices.Clone(*old)
		}
		next = append(next, inv)
		if a.invalidators.CompareAndSwap(old, &next) {
			return
		}
	}
}

// Invalidate emits targets from server code (a background job, a queue
// consumer, a webhook handler outside Mizan) to every consumer, exactly as a
// mutation would. It returns an error, and emits nothing, when a target has
// an invalid name or a parameter value that is not a string, boolean or
// integer.
func (a *App) Invalidate(ctx context.Context, targets ...Target) error {
	_, err := a.emit(ctx, nil, Caller(ctx), targets)
	return err
}

// emitted is the outcome of the emission step for one response.
type emitted struct {
	inv    Invalidation
	header string // the X-Mizan-Invalidate value; "" for no targets
}

// emit is the one emission step every path that produces targets goes
// through (call/, views and private routes, WebSocket calls through
// [App.Call], [App.Invalidate]): it normalizes the targets once, formats the
// header once, and fans the invalidation out to every consumer before the
// caller writes its response. src is the mutation, or nil.
func (a *App) emit(ctx context.Context, src *Func, caller *Identity, targets []Target) (emitted, error) {
	if len(targets) == 0 {
		return emitted{}, nil
	}
	e := emitted{inv: Invalidation{Targets: targets, Caller: caller, Normal: make([]protocol.Normal, len(targets))}}
	for i, t := range targets {
		n, err := protocol.Normalize(t)
		if err != nil {
			return emitted{}, fmt.Errorf("mizan: invalidation target %d: %w", i, err)
		}
		e.inv.Normal[i] = n
	}
	if src != nil {
		e.inv.Source = src.meta.Name
		e.inv.CallerScoped = src.callerScoped(targets)
	}
	hv, err := protocol.FormatHeader(targets)
	if err != nil {
		return emitted{}, fmt.Errorf("mizan: formatting the invalidation header: %w", err)
	}
	e.header = hv
	if l := a.invalidators.Load(); l != nil {
		for _, c := range *l {
			c.Invalidate(ctx, e.inv)
		}
	}
	return e, nil
}

// emitMutation computes the targets of one run of mutation f (its decoded
// arguments, which of them the request gave, the run-time scopes it
// recorded) and emits them. A run-time scope naming nothing f declared is
// a programming error: the declared targets are emitted broad, so that
// nothing stays stale, the mistake is logged, and errInternal returned.
func (a *App) emitMutation(ctx context.Context, f *Func, caller *Identity, in any, given presence) (emitted, error) {
	var scopes []runtimeScope
	if ci := callFrom(ctx); ci != nil {
		scopes = ci.scopesOf()
	}
	targets, serr := f.targets(in, given, scopes)
	e, err := a.emit(ctx, f, caller, targets)
	if serr == nil {
		serr = err
	}
	if serr != nil {
		a.logger.Error("mizan: invalidation targets of a mutation", "fn", f.meta.Name, "err", serr)
		return e, errInternal
	}
	return e, nil
}

// writeHeaders sets X-Mizan-Invalidate, and for an htmx request (HX-Request:
// true) the HX-Trigger event mizan:invalidate with the body-form targets,
// merged into any HX-Trigger the function set itself (docs/spec.md §3).
func (e emitted) writeHeaders(h http.Header, r *http.Request) error {
	return e.setHeaders(nil, h, r)
}

// setHeaders is writeHeaders of a response written to w, which may be the
// *protoWriter of a protocol endpoint (setHeader).
func (e emitted) setHeaders(w http.ResponseWriter, h http.Header, r *http.Request) error {
	if e.header == "" {
		return nil
	}
	setHeader(w, h, 2, protocol.HeaderInvalidate, e.header)
	if r == nil {
		return nil
	}
	if hx := r.Header["Hx-Request"]; len(hx) == 0 || hx[0] != "true" { // Header.Get("HX-Request")
		return nil
	}
	v, err := hxTrigger(h.Get("HX-Trigger"), e.inv.Targets)
	if err != nil {
		return err
	}
	h.Set("HX-Trigger", v)
	return nil
}

// hxTrigger merges the mizan:invalidate event into an HX-Trigger value the
// function may have set: a JSON object gains the member; a list of event
// names becomes an object mapping each to null.
func hxTrigger(prev string, targets []Target) (string, error) {
	ts, err := protocol.AppendTargets(nil, targets)
	if err != nil {
		return "", err
	}
	event := append(append([]byte(`{"targets":`), ts...), '}')
	merged := map[string]json.RawMessage{}
	prev = strings.TrimSpace(prev)
	switch {
	case prev == "":
	case strings.HasPrefix(prev, "{"):
		if err := json.Unmarshal([]byte(prev), &merged); err != nil {
			return "", fmt.Errorf("mizan: the function's HX-Trigger is not a JSON object: %w", err)
		}
	default:
		for _, name := range strings.Split(prev, ",") {
			if name = strings.TrimSpace(name); name != "" {
				merged[name] = json.RawMessage("null")
			}
		}
	}
	merged["mizan:invalidate"] = event
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(merged); err != nil {
		return "", fmt.Errorf("mizan: encoding HX-Trigger: %w", err)
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}
