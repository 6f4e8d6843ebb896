package telemetry_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/cache"
	"github.com/mizan-afi/mizan/edge"
	"github.com/mizan-afi/mizan/live"
)

func gather(t *testing.T, reg prometheus.Gatherer, expected string, names ...string) {
	t.Helper()
	if err := testutil.GatherAndCompare(reg, strings.NewReader(expected), names...); err != nil {
		t.Error(err)
	}
}

// The live hub's connections and pushes, after one connection subscribes
// and a mutation invalidates what it watches (the WebSocket upgrade goes
// through the observed route).
func TestWatchHub(t *testing.T) {
	tel, _, reg := newTelemetry(t)
	var hub *live.Hub
	app := newAppOn(t, tel, cache.NewMemory(cache.MemoryOptions{}), func(a *mizan.App) {
		var err error
		if hub, err = live.New(a, live.Options{}); err != nil {
			t.Fatal(err)
		}
	})
	t.Cleanup(func() { _ = hub.Close() })
	if err := tel.WatchHub(hub); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+prefix+"ws/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"id":1,"type":"subscribe","context":"user","params":{"user_id":"1"}}`)); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := ws.Read(ctx); err != nil || !strings.Contains(string(msg), `"ok"`) {
		t.Fatalf("subscribe: %s, %v", msg, err)
	}
	gather(t, reg, `
# HELP mizan_live_connections Open WebSocket connections of the live hub.
# TYPE mizan_live_connections gauge
mizan_live_connections 1
# HELP mizan_live_subscriptions Subscriptions of the live hub's connections.
# TYPE mizan_live_subscriptions gauge
mizan_live_subscriptions 1
`, "mizan_live_connections", "mizan_live_subscriptions")
	do(t, app, "POST", prefix+"call/", `{"fn":"rename","args":{"user_id":1,"name":"Ada"}}`, nil, 200)
	if _, msg, err := ws.Read(ctx); err != nil || !strings.Contains(string(msg), `"invalidate"`) {
		t.Fatalf("push: %s, %v", msg, err)
	}
	gather(t, reg, `
# HELP mizan_live_pushes_total Invalidate messages the live hub queued to connections.
# TYPE mizan_live_pushes_total counter
mizan_live_pushes_total 1
`, "mizan_live_pushes_total")
}

// The edge purge's backlog while the edge does not answer, and after it
// acknowledges.
func TestWatchPurger(t *testing.T) {
	release := make(chan struct{})
	edgeSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(edgeSrv.Close)
	p, err := edge.New(edge.Config{URL: edgeSrv.URL, Secret: []byte("edge-secret-of-at-least-32-bytes!!")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = p.Close(ctx)
	})
	tel, _, reg := newTelemetry(t)
	if err := tel.WatchPurger(p); err != nil {
		t.Fatal(err)
	}
	p.Invalidate(context.Background(), mizan.Invalidation{Targets: []mizan.Target{{Context: "user"}}})
	gather(t, reg, `
# HELP mizan_edge_purge_backlog Invalidations given to the edge purge that the edge has not acknowledged yet.
# TYPE mizan_edge_purge_backlog gauge
mizan_edge_purge_backlog 1
`, "mizan_edge_purge_backlog")
	close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	gather(t, reg, `
# HELP mizan_edge_purge_backlog Invalidations given to the edge purge that the edge has not acknowledged yet.
# TYPE mizan_edge_purge_backlog gauge
mizan_edge_purge_backlog 0
# HELP mizan_edge_purge_sent_total Edge purge posts the edge acknowledged.
# TYPE mizan_edge_purge_sent_total counter
mizan_edge_purge_sent_total 1
`, "mizan_edge_purge_backlog", "mizan_edge_purge_sent_total")
}
