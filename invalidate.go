package mizan

import (
	"context"
	"fmt"
	"slices"

	"github.com/mizan-afi/mizan/protocol"
)

// Target is one invalidation target: a context, optionally scoped by
// parameters, optionally narrowed to one function.
type Target = protocol.Target

// Invalidation is one emission of invalidation targets: a mutation ran, or
// server code called [App.Invalidate].
type Invalidation struct {
	// Source is the wire name of the mutation that emitted the targets, or ""
	// for [App.Invalidate].
	Source string
	// Targets are the targets, in the order the mutation declares them. Do
	// not modify them.
	Targets []Target
	// Caller is who ran the mutation, or nil.
	Caller *Identity
}

// Invalidator consumes every invalidation the app emits: the origin cache
// purges, the WebSocket hub pushes, the page pre-renderer re-renders. It is
// called synchronously, before the mutation's response is written, from the
// one place that computes targets; an Invalidator that does slow work should
// hand it to a goroutine of its own. It must be safe for concurrent use.
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
// consumer) to every consumer, exactly as a mutation would.
func (a *App) Invalidate(ctx context.Context, targets ...Target) {
	a.fanOut(ctx, Invalidation{Targets: targets, Caller: Caller(ctx)})
}

// fanOut is the single point every invalidation passes through.
func (a *App) fanOut(ctx context.Context, inv Invalidation) {
	if len(inv.Targets) == 0 {
		return
	}
	if l := a.invalidators.Load(); l != nil {
		for _, c := range *l {
			c.Invalidate(ctx, inv)
		}
	}
}

// affectPlan is one resolved target of a mutation.
type affectPlan struct {
	context  string
	function string
	scope    []scopeArg // arguments scoping the target, sorted by name
}

// scopeArg is a mutation argument whose name equals a target parameter.
type scopeArg struct {
	name  string
	param *param
	index int // in the mutation's argSchema.params
}

// resolveAffects checks f's declared targets against the plan and computes
// their auto-scoping (tier 1: argument names equal to the parameters of the
// context, or of the function for a function-level target).
func (p *plan) resolveAffects(f *Func) error {
	for i := range f.meta.Affects {
		aff := &f.meta.Affects[i]
		var params []string
		var isParam func(string) bool
		if aff.Function != "" {
			target, ok := p.byName[aff.Function]
			if !ok {
				return fmt.Errorf("function %s: affects %q, which names no registered function", f.meta.Name, aff.Function)
			}
			if target.meta.Context == "" {
				return fmt.Errorf("function %s: affects %q, which is not a context function", f.meta.Name, aff.Function)
			}
			aff.Context = target.meta.Context
			for _, prm := range target.args.params {
				if prm.scalar {
					params = append(params, prm.name)
				}
			}
			isParam = func(n string) bool { return slices.Contains(params, n) }
		} else {
			cp, ok := p.contexts[aff.Context]
			if !ok {
				return fmt.Errorf("function %s: affects context %q, which no registered function belongs to", f.meta.Name, aff.Context)
			}
			isParam = func(n string) bool { _, ok := cp.params[n]; return ok }
		}
		ap := affectPlan{context: aff.Context, function: aff.Function}
		for j := range f.args.params {
			prm := &f.args.params[j]
			if isParam(prm.name) {
				if !prm.scalar {
					return fmt.Errorf("function %s: argument %q scopes %s but its type %s is not a string, boolean or integer", f.meta.Name, prm.name, aff.Context, prm.typ)
				}
				ap.scope = append(ap.scope, scopeArg{name: prm.name, param: prm, index: j})
			}
		}
		slices.SortFunc(ap.scope, func(x, y scopeArg) int {
			if x.name < y.name {
				return -1
			}
			return 1
		})
		aff.ScopedBy = nil
		for _, s := range ap.scope {
			aff.ScopedBy = append(aff.ScopedBy, s.name)
		}
		f.affects = append(f.affects, ap)
	}
	return nil
}

// targets computes the invalidation targets of one run of mutation f whose
// decoded arguments are in (a *In); an argument the request did not give
// does not scope (the target is broader, never wrong).
func (f *Func) targets(in any, given presence) []Target {
	if len(f.affects) == 0 {
		return nil
	}
	v := reflectElem(in)
	out := make([]Target, 0, len(f.affects))
	for _, ap := range f.affects {
		t := Target{Context: ap.context, Function: ap.function}
		for _, s := range ap.scope {
			if !given.has(s.index) {
				continue
			}
			val, ok := s.param.value(v)
			if !ok {
				continue
			}
			if t.Params == nil {
				t.Params = make(map[string]any, len(ap.scope))
			}
			t.Params[s.name] = val
		}
		out = append(out, t)
	}
	return out
}
