package loadgen

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(n ...int) []time.Duration {
		out := make([]time.Duration, len(n))
		for i, v := range n {
			out[i] = time.Duration(v) * time.Millisecond
		}
		return out
	}
	ten := ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
	for _, c := range []struct {
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{nil, 50, 0},
		{ms(7), 1, 7 * time.Millisecond},
		{ms(7), 100, 7 * time.Millisecond},
		{ten, 50, 5 * time.Millisecond},
		{ten, 90, 9 * time.Millisecond},
		{ten, 99, 10 * time.Millisecond},
		{ten, 100, 10 * time.Millisecond},
		{ten, 1, 1 * time.Millisecond},
		{ms(1, 2, 3), 50, 2 * time.Millisecond},
	} {
		if got := Percentile(c.sorted, c.p); got != c.want {
			t.Errorf("Percentile(%v, %v) = %v, want %v", c.sorted, c.p, got, c.want)
		}
	}
}

// server answers body to every request and X-Served with the value of the
// request's ?served=; it counts the requests and the POST bodies it saw.
func server(t *testing.T, body string) (*httptest.Server, *atomic.Int64, *atomic.Int64) {
	t.Helper()
	var n, posted atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if r.Method == http.MethodPost {
			b, _ := io.ReadAll(r.Body)
			if string(b) != `{"x":1}` || r.Header.Get("Content-Type") != "application/json" || r.Header.Get("X-Test") != "t" {
				http.Error(w, "bad post", http.StatusBadRequest)
				return
			}
			posted.Add(1)
		}
		if v := r.URL.Query().Get("served"); v != "" {
			w.Header().Set("X-Served", v)
		}
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &n, &posted
}

func TestLoadCounts(t *testing.T) {
	srv, n, _ := server(t, "ok")
	l := Load{Client: srv.Client(), Request: Request{URL: srv.URL + "/?served=hit"}, Want: []byte("ok"), Clients: 4, Served: "X-Served"}
	res, err := l.Run(context.Background(), 103, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 103 || len(res.Latencies) != 103 || n.Load() != 103 {
		t.Fatalf("%d requests, %d latencies, %d served; want 103 each", res.Requests, len(res.Latencies), n.Load())
	}
	if res.Served != (Served{Hit: 103}) {
		t.Fatalf("served %+v, want 103 hits", res.Served)
	}
	for i := 1; i < len(res.Latencies); i++ {
		if res.Latencies[i] < res.Latencies[i-1] {
			t.Fatal("latencies not sorted")
		}
	}
	if res.Elapsed <= 0 || res.RPS() <= 0 {
		t.Fatalf("elapsed %v, %v req/s", res.Elapsed, res.RPS())
	}

	// Answers without the header, or with another value, are not counted.
	l.Request.URL = srv.URL + "/?served=stale"
	other, err := l.Run(context.Background(), 10, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if other.Requests != 10 || other.Served.Total() != 0 {
		t.Fatalf("%d requests, served %+v; want 10, none counted", other.Requests, other.Served)
	}
	res.Add(other)
	if res.Requests != 113 || len(res.Latencies) != 113 || res.Served.Hit != 103 {
		t.Fatalf("after Add: %d requests, %d latencies, served %+v", res.Requests, len(res.Latencies), res.Served)
	}
}

func TestLoadPostsBodyEachTime(t *testing.T) {
	srv, n, posted := server(t, "ok")
	l := Load{Client: srv.Client(), Want: []byte("ok"), Clients: 3, Request: Request{
		Method: http.MethodPost, URL: srv.URL, Body: []byte(`{"x":1}`), Header: http.Header{"X-Test": {"t"}},
	}}
	res, err := l.Run(context.Background(), 50, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 50 || n.Load() != 50 || posted.Load() != 50 {
		t.Fatalf("%d requests, %d served, %d bodies; want 50 each", res.Requests, n.Load(), posted.Load())
	}
}

func TestLoadWrongBodyStops(t *testing.T) {
	srv, n, _ := server(t, "not ok")
	l := Load{Client: srv.Client(), Request: Request{URL: srv.URL + "/?served=miss"}, Want: []byte("ok"), Clients: 4, Served: "X-Served"}
	res, err := l.Run(context.Background(), 100000, 10*time.Second)
	if err == nil {
		t.Fatalf("no error; result %v", res)
	}
	if want := `answer 200 (X-Served "miss"): not ok`; err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}
	if res.Requests != 0 {
		t.Fatalf("a failed run returned %d requests", res.Requests)
	}
	// Each client stops at its first wrong answer.
	if got := n.Load(); got > int64(l.Clients) {
		t.Fatalf("%d requests served after the first wrong answer, want at most %d", got, l.Clients)
	}
}

func TestLoadWrongStatusStops(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "ok", http.StatusTeapot)
	}))
	defer srv.Close()
	l := Load{Client: srv.Client(), Request: Request{URL: srv.URL}, Want: []byte("ok\n"), Clients: 2}
	_, err := l.Run(context.Background(), 10, 10*time.Second)
	if err == nil || !strings.HasPrefix(err.Error(), "answer 418: ") {
		t.Fatalf("error %v, want answer 418", err)
	}
}

func TestMutateStopsAtFailure(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) > 3 {
			http.Error(w, "gone", http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	stop := Mutate(context.Background(), srv.Client(), Request{Method: http.MethodPost, URL: srv.URL, Body: []byte(`{}`)}, time.Millisecond, nil)
	deadline := time.Now().Add(10 * time.Second)
	for calls.Load() < 4 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	lat, err := stop()
	if len(lat) != 3 {
		t.Fatalf("%d latencies, want 3", len(lat))
	}
	if err == nil || !strings.HasPrefix(err.Error(), "mutation 4: answer 500: ") {
		t.Fatalf("error %v, want mutation 4: answer 500", err)
	}
	if got := calls.Load(); got != 4 {
		t.Fatalf("%d calls, want the calls to end at the failed 4th", got)
	}
}

func TestMutateCounts(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	checked := 0
	stop := Mutate(context.Background(), srv.Client(), Request{URL: srv.URL}, time.Millisecond,
		func(status int, _ []byte, _ http.Header) error { checked++; return nil })
	time.Sleep(50 * time.Millisecond)
	lat, err := stop()
	if err != nil {
		t.Fatal(err)
	}
	if len(lat) == 0 || len(lat) != checked {
		t.Fatalf("%d latencies, %d checked", len(lat), checked)
	}
}
