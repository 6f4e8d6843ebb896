package mizan_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/cache"
)

// benchWriter is a reusable ResponseWriter that keeps only what it is told.
type benchWriter struct {
	h    http.Header
	code int
	body bytes.Buffer
}

func (w *benchWriter) Header() http.Header { return w.h }
func (w *benchWriter) WriteHeader(c int)   { w.code = c }
func (w *benchWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = 200
	}
	return w.body.Write(b)
}
func (w *benchWriter) reset() {
	clear(w.h)
	w.code = 0
	w.body.Reset()
}

// BenchmarkCachedContextFetch compares a cache hit with a bare handler that
// writes the same pre-encoded bytes, and measures the miss path.
func BenchmarkCachedContextFetch(b *testing.B) {
	c, err := cache.New(cache.Options{Backend: cache.NewMemory(cache.MemoryOptions{}), Secret: []byte(testSecret), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	app := mizan.New(mizan.Config{Cache: c})
	s := &store{names: map[int]string{1: "Ada"}}
	mizan.Query(app, s.userProfile, mizan.In(User))
	mizan.Query(app, userOrders, mizan.In(User))
	mizan.Mutation(app, s.updateProfile, mizan.Affects(User))
	if err := app.Build(); err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/api/mizan/ctx/user/?user_id=1", nil)
	w := &benchWriter{h: http.Header{}}
	app.ServeHTTP(w, req) // fill
	w.reset()
	app.ServeHTTP(w, req)
	if w.h.Get("X-Mizan-Cache") != "hit" {
		b.Fatalf("second fetch was %q", w.h.Get("X-Mizan-Cache"))
	}
	stored := bytes.Clone(w.body.Bytes())
	bare := bareMux("/api/mizan/ctx/user/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("user_id") == "" {
			http.Error(w, "missing", 400)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		_, _ = w.Write(stored)
	}))
	var bareNs float64
	run := func(b *testing.B, h http.Handler, before func()) {
		b.ReportAllocs()
		for b.Loop() {
			if before != nil {
				before()
			}
			w.reset()
			h.ServeHTTP(w, req)
			if w.code != 200 {
				b.Fatalf("status %d", w.code)
			}
		}
	}
	b.Run("bare", func(b *testing.B) {
		run(b, bare, nil)
		bareNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	})
	b.Run("hit", func(b *testing.B) {
		run(b, app, nil)
		if bareNs > 0 {
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/bareNs, "x-bare")
		}
	})
	b.Run("miss", func(b *testing.B) {
		app.Invalidate(context.Background(), mizan.Target{Context: "user"})
		run(b, app, func() {
			app.Invalidate(context.Background(), mizan.Target{Context: "user", Params: map[string]any{"user_id": 1}})
		})
	})
}
