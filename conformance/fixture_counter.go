package conformance

import (
	"context"
	"sync"

	"github.com/mizan-afi/mizan"
)

// The fixture's counter (docs/spec.md §7, revision 2): bump increments it
// and returns its new value, count reads it. It starts at 0 and belongs to
// one app (one process): the idempotency tests (§12) count how many times
// bump ran.

const counterContext mizan.Context = "counter"

// counter is the fixture's counter, safe for concurrent use.
type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) register(app *mizan.App) {
	mizan.Mutation(app, c.bump, mizan.Name("bump"), mizan.Affects(counterContext))
	mizan.Query(app, c.count, mizan.Name("count"), mizan.In(counterContext))
}

func (c *counter) bump(context.Context, struct{}) (countResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return countResult{Count: c.n}, nil
}

func (c *counter) count(context.Context, struct{}) (countResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return countResult{Count: c.n}, nil
}
