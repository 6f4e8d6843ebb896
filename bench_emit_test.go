package mizan_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/cache"
	"github.com/mizan-afi/mizan/live"
)

// BenchmarkMutationFanOut measures POST call/ of a mutation with three
// targets (user;user_id=1, orders;user_id=1, broad global) reaching three
// consumers: the origin cache's purge (in memory), the live hub (no
// connections) and a counting invalidator. Its allocations are the
// emission step's budget (docs/performance.md).
func BenchmarkMutationFanOut(b *testing.B) {
	c, err := cache.New(cache.Options{Backend: cache.NewMemory(cache.MemoryOptions{}), Secret: []byte(testSecret), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	app := mizan.New(mizan.Config{Cache: c, Logger: slog.New(slog.DiscardHandler)})
	s := &store{names: map[int]string{1: "Ada"}}
	mizan.Query(app, s.userProfile, mizan.In(User))
	mizan.Query(app, orderPage, mizan.In(Orders))
	mizan.Query(app, func(context.Context, struct{}) (int, error) { return 0, nil }, mizan.Name("settings"), mizan.In(mizan.Global))
	mizan.Mutation(app, s.updateProfile, mizan.Affects(User, Orders, mizan.Global))
	hub, err := live.New(app, live.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer hub.Close()
	var n atomic.Int64
	app.OnInvalidate(mizan.InvalidatorFunc(func(context.Context, mizan.Invalidation) { n.Add(1) }))
	if err := app.Build(); err != nil {
		b.Fatal(err)
	}
	body := `{"fn":"update_profile","args":{"user_id":1,"name":"Ada"}}`
	w := &benchWriter{h: http.Header{}}
	req := httptest.NewRequest(http.MethodPost, "/api/mizan/call/", nil)
	req.Header.Set("Content-Type", "application/json")
	b.ReportAllocs()
	for b.Loop() {
		w.reset()
		req.Body = readCloser{strings.NewReader(body)}
		app.ServeHTTP(w, req)
		if w.code != http.StatusOK || w.h.Get("X-Mizan-Invalidate") != "user;user_id=1, orders;user_id=1, global" {
			b.Fatalf("status %d %q: %s", w.code, w.h.Get("X-Mizan-Invalidate"), w.body.String())
		}
	}
	if n.Load() == 0 {
		b.Fatal("the third consumer was not called")
	}
}

type readCloser struct{ *strings.Reader }

func (readCloser) Close() error { return nil }
