package mizan

import (
	"bytes"
	"context"
	"net/http"
	"net/url"

	"github.com/mizan-afi/mizan/cache"
)

// Fetch returns the bundle of one context instance, the JSON object that
// GET ctx/<name>/ would answer with, for server code: a page rendered on the
// server embeds the bundles it was rendered from (package ssr). params are
// the instance's parameters as their wire strings (PROTOCOL.md §4); they
// are checked and coerced as query parameters are.
//
// The caller is the one of ctx when ctx comes from a Mizan dispatch (a view
// calling Fetch), and anonymous otherwise; auth guards apply as they do on
// the endpoint. The origin cache is used as by the endpoint (same keys, so
// an entry stored by one is a hit for the other), except that Fetch never
// joins a computation already in flight: what it returns was computed, or
// stored, after Fetch was called, so server code that fetches after a
// mutation sees that mutation. Headers the functions set through
// [ResponseHeader] are dropped.
//
// Errors are [*Error] values: not_found for an unknown context, invalid_args
// for bad parameters, the guards' unauthorized and forbidden, and whatever
// the functions return.
func (a *App) Fetch(ctx context.Context, name string, params map[string]string) ([]byte, error) {
	if err := a.Build(); err != nil {
		return nil, err
	}
	cp, ok := a.plan.contexts[name]
	if !ok || len(cp.fetch) == 0 {
		return nil, NewError(CodeNotFound, "no context named "+quote(name))
	}
	query := make(url.Values, len(params))
	for k, v := range params {
		query.Set(k, v)
	}
	caller := Caller(ctx)
	r := Request(ctx)
	if r == nil {
		var err error
		target := a.cfg.Prefix + "ctx/" + url.PathEscape(name) + "/?" + query.Encode()
		if r, err = http.NewRequestWithContext(ctx, http.MethodGet, target, nil); err != nil {
			return nil, NewError(CodeBadRequest, "cannot form a request for context "+quote(name)).WithCause(err)
		}
	}
	ins, merr := a.decodeContext(r, caller, cp, query)
	if merr != nil {
		return nil, merr
	}
	c := a.cfg.Cache
	if c == nil || !cp.cached {
		return a.fetchRun(ctx, r, caller, cp, ins)
	}
	inst := cache.Instance{Context: cp.name, Params: instanceParams(cp, query), Rev: cp.rev}
	if caller != nil && !cp.shared {
		inst.User = caller.ID
	}
	e := c.Get(ctx, inst)
	if e.Status == cache.Hit {
		return bytes.Clone(e.Value), nil
	}
	body, err := a.fetchRun(ctx, r, caller, cp, ins)
	if err == nil && e.Status == cache.Miss {
		c.Put(context.WithoutCancel(ctx), e, body, a.ttl(cp))
	}
	return body, err
}

// fetchRun runs the context's functions for Fetch.
func (a *App) fetchRun(ctx context.Context, r *http.Request, caller *Identity, cp *contextPlan, ins []any) ([]byte, error) {
	res := a.runContext(ctx, r, caller, cp, ins, nil)
	if res.err != nil {
		return nil, res.err
	}
	return res.body, nil
}
