package mizan

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/mizan-afi/mizan/protocol"
)

// Params are the parameters a mutation supplies at run time for one of its
// declared targets ([ScopeTo]): parameter names of the context, with
// string, boolean or integer values.
type Params map[string]any

// ScopeTo scopes the mutation's declared target context c with params that
// the mutation computed while it ran, from data it read (docs/spec.md §3,
// run-time scope): delete_task(task_id) looks up the task's project and
// calls ScopeTo(ctx, Tasks, mizan.Params{"project_id": p}). The supplied
// parameters replace the automatic scoping of that target; several calls
// for one context give several targets, and a call with no params makes
// the target broad. They reach the response body and header and every
// consumer, as declared targets do.
//
// c must be a context the mutation declares in [Affects] or
// [CallerScoped], and each name a parameter of it; anything else is a
// programming error: the call answers internal, the mistake is logged, and
// the mutation's declared targets are emitted broad so that nothing stays
// stale. Outside a mutation's run ScopeTo does nothing.
func ScopeTo(ctx context.Context, c Context, params Params) {
	addScope(ctx, runtimeScope{context: string(c), params: params})
}

// ScopeFunctionTo is [ScopeTo] for a function-level target the mutation
// declares with [AffectsFunction]: fn is the context function (as [Query]
// returned it) whose part of the instances changed.
func ScopeFunctionTo(ctx context.Context, fn *Func, params Params) {
	name := ""
	if fn != nil {
		name = fn.meta.Name
	}
	addScope(ctx, runtimeScope{function: name, params: params})
}

// runtimeScope is one ScopeTo or ScopeFunctionTo call.
type runtimeScope struct {
	context  string
	function string
	params   Params
}

func addScope(ctx context.Context, s runtimeScope) {
	ci := callFrom(ctx)
	if ci == nil {
		return
	}
	ci.mu.Lock()
	ci.scopes = append(ci.scopes, s)
	ci.mu.Unlock()
}

// scopesOf returns the run-time scopes the call recorded.
func (ci *callInfo) scopesOf() []runtimeScope {
	ci.mu.Lock()
	defer ci.mu.Unlock()
	return ci.scopes
}

// affectPlan is one resolved target of a mutation.
type affectPlan struct {
	context      string
	function     string
	scope        []scopeArg // arguments scoping the target, sorted by name
	params       map[string]bool
	callerScoped bool
}

// scopeArg is a mutation argument that scopes a target.
type scopeArg struct {
	name  string
	param *param
	index int // in the mutation's argSchema.params
}

// resolveAffects checks f's declared targets against the plan and computes
// their scoping: the explicit scope of [ScopeBy] when given, else tier 1
// (argument names equal to the parameters of the context, or of the
// function for a function-level target, that are not filters).
func (p *plan) resolveAffects(f *Func) error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("function %s: "+format, append([]any{f.meta.Name}, args...)...))
	}
	m := &f.meta
	if m.HasScope {
		for _, name := range m.Scope {
			if _, ok := f.args.byName[name]; !ok {
				bad("ScopeBy names %q, which is not one of its arguments", name)
			}
		}
	}
	scopeUsed := map[string]bool{}
	seen := map[string]int{}
	for i := 0; i < len(m.Affects); i++ {
		aff := &m.Affects[i]
		params := map[string]bool{} // the target's parameters: name → not a filter
		if aff.Function != "" {
			target, ok := p.byName[aff.Function]
			if !ok {
				bad("affects %q, which names no registered function", aff.Function)
				continue
			}
			if target.meta.Context == "" {
				bad("affects %q, which is not a context function", aff.Function)
				continue
			}
			aff.Context = target.meta.Context
			cp := p.contexts[aff.Context]
			for _, prm := range target.args.params {
				if prm.scalar {
					params[prm.name] = !cp.filters[prm.name]
				}
			}
		} else {
			cp, ok := p.contexts[aff.Context]
			if !ok {
				bad("affects context %q, which no registered function belongs to", aff.Context)
				continue
			}
			for name := range cp.params {
				params[name] = !cp.filters[name]
			}
			if aff.CallerScoped && cp.shared {
				bad("context %q is Shared, so it cannot be caller-scoped (its entries belong to no caller)", aff.Context)
			}
		}
		key := aff.Context + "#" + aff.Function
		if j, dup := seen[key]; dup {
			// CallerScoped and Affects naming one context: one target.
			m.Affects[j].CallerScoped = m.Affects[j].CallerScoped || aff.CallerScoped
			f.affects[j].callerScoped = m.Affects[j].CallerScoped
			m.Affects = slices.Delete(m.Affects, i, i+1)
			i--
			continue
		}
		seen[key] = len(f.affects)
		ap := affectPlan{context: aff.Context, function: aff.Function, params: map[string]bool{}, callerScoped: aff.CallerScoped}
		for name := range params {
			ap.params[name] = true
		}
		for j := range f.args.params {
			prm := &f.args.params[j]
			notFilter, isParam := params[prm.name]
			if !isParam {
				continue
			}
			if m.HasScope {
				if !slices.Contains(m.Scope, prm.name) {
					continue
				}
				scopeUsed[prm.name] = true
			} else if !notFilter {
				continue
			}
			if !prm.scalar {
				bad("argument %q scopes %s but its type %s is not a string, boolean or integer", prm.name, aff.Context, prm.typ)
				continue
			}
			ap.scope = append(ap.scope, scopeArg{name: prm.name, param: prm, index: j})
		}
		slices.SortFunc(ap.scope, func(x, y scopeArg) int { return strings.Compare(x.name, y.name) })
		aff.ScopedBy = nil
		for _, s := range ap.scope {
			aff.ScopedBy = append(aff.ScopedBy, s.name)
		}
		f.affects = append(f.affects, ap)
	}
	if m.HasScope {
		for _, name := range m.Scope {
			if _, isArg := f.args.byName[name]; isArg && !scopeUsed[name] {
				bad("ScopeBy names %q, but no context it affects has a parameter %q", name, name)
			}
		}
	}
	return errors.Join(errs...)
}

// scopeError is a run-time scope that names nothing the mutation declared,
// or parameters its target does not have: a programming error.
type scopeError struct {
	fn, msg string
}

func (e *scopeError) Error() string {
	return "mizan: function " + e.fn + ": " + e.msg
}

// targets computes the invalidation targets of one run of mutation f whose
// decoded arguments are in (a *In), with the run-time scopes the run
// recorded. An argument the request did not give does not scope (the
// target is broader, never wrong). A run-time scope that names nothing f
// declared is reported, with every declared target made broad.
func (f *Func) targets(in any, given presence, scopes []runtimeScope) ([]Target, error) {
	if len(f.affects) == 0 {
		if len(scopes) > 0 {
			return nil, &scopeError{fn: f.meta.Name, msg: "ScopeTo called in a function that declares no targets"}
		}
		return nil, nil
	}
	out := make([]Target, 0, len(f.affects)+len(scopes))
	if len(scopes) > 0 {
		if err := f.checkScopes(scopes); err != nil {
			for _, ap := range f.affects {
				out = append(out, Target{Context: ap.context, Function: ap.function})
			}
			return out, err
		}
	}
	var v reflect.Value
	for i := range f.affects {
		ap := &f.affects[i]
		supplied := false
		for _, s := range scopes {
			if s.matches(ap) {
				supplied = true
				t := Target{Context: ap.context, Function: ap.function}
				if len(s.params) > 0 {
					t.Params = make(map[string]any, len(s.params))
					for k, val := range s.params {
						t.Params[k] = val
					}
				}
				out = append(out, t)
			}
		}
		if supplied {
			continue
		}
		t := Target{Context: ap.context, Function: ap.function}
		for _, s := range ap.scope {
			if !given.has(s.index) {
				continue
			}
			if !v.IsValid() {
				v = reflectElem(in)
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
	return out, nil
}

// matches reports whether the run-time scope s is for the declared target ap.
func (s runtimeScope) matches(ap *affectPlan) bool {
	if s.function != "" {
		return ap.function == s.function
	}
	return ap.function == "" && ap.context == s.context
}

// checkScopes reports a run-time scope that matches no declared target, or
// that names a parameter its target does not have or a value no wire
// string stands for.
func (f *Func) checkScopes(scopes []runtimeScope) error {
	for _, s := range scopes {
		var ap *affectPlan
		for i := range f.affects {
			if s.matches(&f.affects[i]) {
				ap = &f.affects[i]
				break
			}
		}
		what := "context " + quote(s.context)
		if s.function != "" || s.context == "" {
			what = "function " + quote(s.function)
		}
		if ap == nil {
			return &scopeError{fn: f.meta.Name, msg: "ScopeTo names " + what + ", which the function does not declare in Affects, AffectsFunction or CallerScoped"}
		}
		for k, val := range s.params {
			if !ap.params[k] {
				return &scopeError{fn: f.meta.Name, msg: "ScopeTo gives " + what + " the parameter " + quote(k) + ", which it does not have"}
			}
			if _, err := protocol.Stringify(val); err != nil {
				return &scopeError{fn: f.meta.Name, msg: "ScopeTo gives " + what + " parameter " + quote(k) + " a value that is not a string, boolean or integer"}
			}
		}
	}
	return nil
}

// callerScoped reports, for each target of f in order, whether it narrows to
// the caller.
func (f *Func) callerScoped(ts []Target) []bool {
	var out []bool
	for i, t := range ts {
		for j := range f.affects {
			ap := &f.affects[j]
			if ap.callerScoped && ap.context == t.Context && ap.function == t.Function {
				if out == nil {
					out = make([]bool, len(ts))
				}
				out[i] = true
			}
		}
	}
	return out
}
