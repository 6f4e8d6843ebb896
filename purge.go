package mizan

import (
	"context"

	"github.com/mizan-afi/mizan/cache"
	"github.com/mizan-afi/mizan/protocol"
)

// purge is the origin cache's consumer of invalidations. Each target purges
// what the matching rule (docs/spec.md §3) says it matches, or a superset:
//   - a broad target, or one scoped only by parameters that are not among
//     the context's scopes (filters, names the context lacks), purges the
//     whole context;
//   - a scoped target purges the instances whose value of one of its
//     parameters agrees (and, when that parameter is optional, those
//     without it), choosing a parameter every instance has when there is
//     one;
//   - a target narrowed to the caller (tier 2) purges only the caller's
//     entries of the context.
//
// Function-level targets purge their context's instances (a bundle holds
// every function).
func (a *App) purge(ctx context.Context, inv Invalidation) {
	if a.plan == nil {
		return
	}
	purges := make([]cache.Purge, 0, len(inv.Normal))
	for i, n := range inv.Normal {
		cp, ok := a.plan.contexts[n.Context]
		if !ok || !cp.cached {
			continue
		}
		p := cache.Purge{Context: cp.name}
		if inv.Narrowed(i) {
			p.User = inv.Caller.ID
		}
		if anchor, ok := cp.anchor(n); ok {
			p.Param = cache.Param{Name: anchor.Name, Value: anchor.Value}
			p.MayLack = !cp.required[anchor.Name]
		}
		purges = append(purges, p)
	}
	if len(purges) > 0 {
		a.cfg.Cache.Purge(ctx, purges...)
	}
}

// anchor chooses the parameter of target n that its purge narrows by: one
// of the context's scopes, preferring one every instance has (so that no
// instance lacking it must be purged too), else the first by name.
func (cp *contextPlan) anchor(n protocol.Normal) (protocol.Param, bool) {
	var best protocol.Param
	found := false
	for _, p := range n.Params {
		if _, ok := cp.params[p.Name]; !ok || cp.filters[p.Name] {
			continue
		}
		if cp.required[p.Name] {
			return p, true
		}
		if !found {
			best, found = p, true
		}
	}
	return best, found
}
