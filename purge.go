package mizan

import (
	"context"

	"github.com/mizan-afi/mizan/cache"
	"github.com/mizan-afi/mizan/protocol"
)

// purge is the origin cache's consumer of invalidations. A target naming
// every parameter of its context's instances purges that instance, for every
// caller; any other target purges the whole context. Function-level targets
// purge their context instance (the bundle holds every function).
func (a *App) purge(ctx context.Context, inv Invalidation) {
	if a.plan == nil {
		return
	}
	purges := make([]cache.Purge, 0, len(inv.Targets))
	for _, t := range inv.Targets {
		cp, ok := a.plan.contexts[t.Context]
		if !ok || !cp.cached {
			continue
		}
		p := cache.Purge{Context: cp.name, Rev: cp.rev}
		if params, ok := coveringParams(cp, t); ok {
			p.Params = params
		}
		purges = append(purges, p)
	}
	if len(purges) > 0 {
		a.cfg.Cache.Purge(ctx, purges...)
	}
}

// coveringParams returns the instance a scoped target names, when the target
// gives every parameter of the context's fetch functions.
func coveringParams(cp *contextPlan, t protocol.Target) ([]cache.Param, bool) {
	if len(t.Params) == 0 || len(cp.fetchParams) == 0 {
		return nil, false
	}
	out := make([]cache.Param, 0, len(cp.fetchParams))
	for _, name := range cp.fetchParams {
		v, ok := t.Params[name]
		if !ok {
			return nil, false
		}
		s, err := protocol.Stringify(v)
		if err != nil {
			return nil, false
		}
		out = append(out, cache.Param{Name: name, Value: s})
	}
	return out, true // fetchParams is sorted
}
