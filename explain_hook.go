package mizan

import (
	"context"
	"sync"
)

// funcNameKey is the context key of the running function's wire name.
type funcNameKey struct{}

// tracked are the functions FunctionNames has wrapped, so that a second
// call does not wrap them again.
var tracked sync.Map // *Func → struct{}

// FunctionNames is for development tools (package affects, which records
// the tables each function reads and writes): it builds a, makes every
// function registered on it run with a context that names it, and returns
// the function that reads that name back from a context derived from it
// ("" for any other context). Call it once every function is registered
// and before a serves a request; it is not for production, where a
// function's context carries nothing more than mizan puts in it.
func FunctionNames(a *App) (func(ctx context.Context) string, error) {
	if err := a.Build(); err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, f := range a.funcs {
		if _, done := tracked.LoadOrStore(f, struct{}{}); done {
			continue
		}
		inner, name := f.invoke, f.meta.Name
		f.invoke = func(ctx context.Context, in any) (any, error) {
			return inner(context.WithValue(ctx, funcNameKey{}, name), in)
		}
	}
	return func(ctx context.Context) string {
		name, _ := ctx.Value(funcNameKey{}).(string)
		return name
	}, nil
}
