package telemetry_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/telemetry"
)

const benchBody = `{"fn":"echo","args":{"user_id":1}}`

// benchApp is an app of one callable function, observed by obs (nil: off).
func benchApp(b *testing.B, obs mizan.Observer) http.Handler {
	app := mizan.New(mizan.Config{Observer: obs, Logger: slog.New(slog.DiscardHandler)})
	mizan.Query(app, func(_ context.Context, in userArgs) (int, error) { return in.UserID, nil }, mizan.Name("echo"))
	if err := app.Build(); err != nil {
		b.Fatal(err)
	}
	return app
}

// bare is the same call by hand with net/http and encoding/json.
var bare = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Fn   string   `json:"fn"`
		Args userArgs `json:"args"`
	}
	body, err := io.ReadAll(r.Body)
	if err != nil || json.Unmarshal(body, &req) != nil || req.Fn != "echo" {
		http.Error(w, `{"error":{"code":"bad_request"}}`, http.StatusBadRequest)
		return
	}
	out, _ := json.Marshal(req.Args.UserID)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(append(append([]byte(`{"result":`), out...), `,"invalidate":[]}`...))
})

// BenchmarkCall is one POST call/ in process: telemetry off, on (every
// span sampled and ended, the metrics updated), and a bare net/http
// handler doing the same by hand. See docs/performance.md.
func BenchmarkCall(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tel, err := telemetry.New(telemetry.Options{TracerProvider: tp, Registerer: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		h    http.Handler
	}{{"off", benchApp(b, nil)}, {"on", benchApp(b, tel)}, {"nethttp", bare}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			r := httptest.NewRequest("POST", mizan.DefaultPrefix+"call/", nil)
			r.Header.Set("Content-Type", "application/json")
			body := strings.NewReader(benchBody)
			w := &benchWriter{h: http.Header{}}
			for b.Loop() {
				body.Reset(benchBody)
				r.Body = io.NopCloser(body)
				w.reset()
				c.h.ServeHTTP(w, r)
				if w.status != http.StatusOK {
					b.Fatalf("status %d", w.status)
				}
			}
		})
	}
}

// benchWriter is a ResponseWriter that keeps nothing, so that the
// benchmark measures the handler.
type benchWriter struct {
	h      http.Header
	status int
}

func (w *benchWriter) Header() http.Header { return w.h }
func (w *benchWriter) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
}
func (w *benchWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(b), nil
}
func (w *benchWriter) reset() {
	clear(w.h)
	w.status = 0
}
