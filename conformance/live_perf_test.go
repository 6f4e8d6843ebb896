package conformance_test

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/mizan-afi/mizan/internal/redistest"
)

// The figures of docs/performance.md. They run only with
// MIZAN_LIVE_PERF=1, and mean something only without -race:
//
//	MIZAN_LIVE_PERF=1 go test -run 'TestLivePerf' -v -count=1 ./conformance/
//
// MIZAN_LIVE_PERF_N sets the number of mutations of the latency run
// (default 10000).

func perfOnly(t *testing.T) {
	t.Helper()
	needProcess(t)
	if os.Getenv("MIZAN_LIVE_PERF") != "1" {
		t.Skip("set MIZAN_LIVE_PERF=1 to measure (docs/performance.md)")
	}
	if raceEnabled {
		t.Log("warning: built with -race; the figures are not representative")
	}
}

// pct returns the p-th percentile of sorted durations.
func pct(sorted []time.Duration, p float64) time.Duration {
	i := int(float64(len(sorted)-1) * p / 100)
	return sorted[i]
}

// TestLivePerfPropagation measures, over N sequential mutations, the time
// from the mutation's HTTP response on instance a to the receipt of its
// push by a WebSocket subscriber of instance b (both processes sharing one
// Redis), and from the request's start.
func TestLivePerfPropagation(t *testing.T) {
	perfOnly(t)
	n := 10000
	if v := os.Getenv("MIZAN_LIVE_PERF_N"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	r := redistest.Start(t)
	a, b := startShared(t, r.URL()), startShared(t, r.URL())
	waitSubscribed(t, a.url, b.url)
	sub := wsDial(t, b.url)
	sub.subscribe("user", map[string]any{"user_id": "1"})
	arrivals := make(chan time.Time, 1)
	go func() {
		for {
			_, _, err := sub.c.Read(context.Background())
			if err != nil {
				return
			}
			arrivals <- time.Now()
		}
	}()
	body := []byte(`{"fn":"update_profile","args":{"user_id":1,"name":"Ada"}}`)
	fromResp := make([]time.Duration, 0, n)
	fromReq := make([]time.Duration, 0, n)
	early := 0
	for range n {
		t0 := time.Now()
		res, err := client.Post(a.url+prefix+"call/", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = res.Body.Close(), res.StatusCode
		t1 := time.Now()
		var t2 time.Time
		select {
		case t2 = <-arrivals:
		case <-time.After(liveWait):
			t.Fatal("a push did not arrive")
		}
		d := t2.Sub(t1)
		if d < 0 {
			early++
			d = 0
		}
		fromResp = append(fromResp, d)
		fromReq = append(fromReq, t2.Sub(t0))
	}
	slices.Sort(fromResp)
	slices.Sort(fromReq)
	t.Logf("propagation a → Redis → b over %d mutations:", n)
	t.Logf("  from the response: p50 %v  p99 %v  max %v  (%d pushes arrived before the response: counted as 0)",
		pct(fromResp, 50), pct(fromResp, 99), fromResp[n-1], early)
	t.Logf("  from the request:  p50 %v  p99 %v  max %v", pct(fromReq, 50), pct(fromReq, 99), fromReq[n-1])
}

// TestLivePerfFanOut measures how many pushes per second one instance
// delivers to 1,000 subscribers of one context instance: M mutations are
// posted back to back, and the clock stops when every subscriber has all
// M pushes. It runs once in one process (mutations and subscribers on the
// same instance) and once across two (mutations on a, subscribers on b).
func TestLivePerfFanOut(t *testing.T) {
	perfOnly(t)
	const subscribers, m = 1000, 200
	r := redistest.Start(t)
	a, b := startShared(t, r.URL()), startShared(t, r.URL())
	waitSubscribed(t, a.url, b.url)
	for _, run := range []struct{ name, mutate, watch string }{
		{"one instance", b.url, b.url},
		{"across instances through Redis", a.url, b.url},
	} {
		var got atomic.Int64
		conns := make([]*websocket.Conn, subscribers)
		eachConn(t, subscribers, func(i int) error {
			ctx, cancel := context.WithTimeout(context.Background(), liveWait)
			defer cancel()
			c, _, err := websocket.Dial(ctx, wsURL(run.watch), nil)
			if err != nil {
				return err
			}
			_ = c.Write(ctx, websocket.MessageText, []byte(`{"id":1,"type":"subscribe","context":"user","params":{"user_id":"1"}}`))
			if _, _, err := c.Read(ctx); err != nil {
				return err
			}
			conns[i] = c
			go func() {
				for {
					if _, _, err := c.Read(context.Background()); err != nil {
						return
					}
					got.Add(1)
				}
			}()
			return nil
		})
		body := []byte(`{"fn":"update_profile","args":{"user_id":1,"name":"Ada"}}`)
		start := time.Now()
		for range m {
			res, err := client.Post(run.mutate+prefix+"call/", "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
		}
		posted := time.Since(start)
		deadline := time.Now().Add(liveWait)
		for got.Load() < subscribers*m {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d of %d pushes arrived", run.name, got.Load(), subscribers*m)
			}
			time.Sleep(time.Millisecond)
		}
		elapsed := time.Since(start)
		t.Logf("fan-out, %s: %d mutations × %d subscribers = %d pushes in %v (mutations posted in %v): %.0f pushes/s, %.0f mutations/s",
			run.name, m, subscribers, subscribers*m, elapsed.Round(time.Millisecond), posted.Round(time.Millisecond),
			float64(subscribers*m)/elapsed.Seconds(), float64(m)/elapsed.Seconds())
		for _, c := range conns {
			_ = c.CloseNow()
		}
	}
}
