package cache

import (
	"context"
	"log/slog"
	"reflect"
	"testing"
)

func newObserveCache(t *testing.T) *Cache {
	t.Helper()
	c, err := New(Options{Backend: NewMemory(MemoryOptions{}), Secret: []byte("test-secret-32-bytes-long-000000"),
		Admission: AdmitAlways, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

var observeInst = Instance{Context: "user", Params: []Param{{"user_id", "5"}}, Scopes: []string{"user_id"}}

// With no observer a lookup allocates what the lookup itself does.
func TestObserveOffCostsNothing(t *testing.T) {
	c := newObserveCache(t)
	ctx := context.Background()
	c.Put(ctx, c.Get(ctx, observeInst), []byte(`{}`), 0)
	hooked := testing.AllocsPerRun(500, func() { _ = c.Get(ctx, observeInst) })
	bare := testing.AllocsPerRun(500, func() { _ = c.get(ctx, observeInst) })
	if hooked > bare {
		t.Errorf("Get allocates %.0f times, get %.0f", hooked, bare)
	}
}

type cacheRec struct{ seen []string }

func (o *cacheRec) ObserveGet(ctx context.Context, cx string) (context.Context, func(Status)) {
	return ctx, func(s Status) { o.seen = append(o.seen, "get "+cx+" "+string(s)) }
}

func (o *cacheRec) ObservePut(ctx context.Context) (context.Context, func()) {
	return ctx, func() { o.seen = append(o.seen, "put") }
}

func (o *cacheRec) ObservePurge(ctx context.Context, purges []Purge) (context.Context, func(bool)) {
	return ctx, func(applied bool) {
		s := "purge " + purges[0].Context + " not applied"
		if applied {
			s = "purge " + purges[0].Context + " applied"
		}
		o.seen = append(o.seen, s)
	}
}

// An observer sees each lookup with its status, each store of a miss
// (not the Put of a hit), and each purge.
func TestObserveSeesOperations(t *testing.T) {
	c := newObserveCache(t)
	o := &cacheRec{}
	c.Observe(o)
	ctx := context.Background()
	e := c.Get(ctx, observeInst)
	c.Put(ctx, e, []byte(`{}`), 0)
	c.Put(ctx, c.Get(ctx, observeInst), []byte(`{}`), 0) // a hit: nothing stored
	c.Purge(ctx, Purge{Context: "user"})
	_ = c.Get(ctx, observeInst)
	want := []string{"get user miss", "put", "get user hit", "purge user applied", "get user miss"}
	if !reflect.DeepEqual(o.seen, want) {
		t.Errorf("observed %v, want %v", o.seen, want)
	}
}
