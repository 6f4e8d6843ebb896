package ssr

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

// benchProps are the props of testdata/components/Board.tsx: a board of 20
// tasks, about 2.6 KB of HTML, encoded once (a page passes bundles it
// already holds as JSON; encoding a map per call is the caller's cost).
func benchProps() json.RawMessage {
	tasks := make([]map[string]any, 20)
	for i := range tasks {
		tasks[i] = map[string]any{"id": i, "title": fmt.Sprintf("Task number %d of the board", i), "done": i%3 == 0, "tags": []string{"ops", "v2"}}
	}
	b, err := json.Marshal(map[string]any{"name": "Launch <board>", "tasks": tasks})
	if err != nil {
		panic(err)
	}
	return b
}

// BenchmarkRender renders Board.tsx through the bridge from 16 goroutines
// (RunParallel with GOMAXPROCS*parallelism goroutines) with pools of 1, 2
// and 4 workers, and reports renders/s and the p50 and p99 latency of one
// Render call.
func BenchmarkRender(b *testing.B) {
	props := benchProps()
	for _, workers := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			r := newRenderer(b, Config{Workers: workers, Timeout: time.Minute})
			ctx := context.Background()
			if err := r.Start(ctx); err != nil {
				b.Fatal(err)
			}
			for range 200 { // warm up: imports, JIT
				if _, err := r.Render(ctx, "Board.tsx", props); err != nil {
					b.Fatal(err)
				}
			}
			var mu sync.Mutex
			var lat []time.Duration
			b.SetParallelism(parallelism(16))
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				var mine []time.Duration
				for pb.Next() {
					t0 := time.Now()
					if _, err := r.Render(ctx, "Board.tsx", props); err != nil {
						b.Error(err)
						return
					}
					mine = append(mine, time.Since(t0))
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			})
			elapsed := time.Since(start)
			b.StopTimer()
			reportLatency(b, lat, elapsed)
		})
	}
}

// parallelism returns the RunParallel parallelism that gives about n
// goroutines.
func parallelism(n int) int {
	p := runtime.GOMAXPROCS(0)
	return max(1, (n+p-1)/p)
}

// reportLatency reports renders/s and the p50 and p99 of lat.
func reportLatency(b *testing.B, lat []time.Duration, elapsed time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "renders/s")
	b.ReportMetric(q(0.50), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
}

// BenchmarkInWorker renders Board.tsx b.N times in a loop inside one
// worker (the bench method): the cost of rendering alone, the ceiling the
// bridge is measured against; encode=true also JSON-encodes each reply.
func BenchmarkInWorker(b *testing.B) {
	for _, encode := range []bool{false, true} {
		b.Run(fmt.Sprintf("encode=%t", encode), func(b *testing.B) {
			r := newRenderer(b, Config{Workers: 1, Timeout: time.Minute})
			ctx := context.Background()
			props := benchProps()
			if _, err := r.Bench(ctx, "Board.tsx", props, 2000, encode); err != nil { // warm up
				b.Fatal(err)
			}
			b.ResetTimer()
			res, err := r.Bench(ctx, "Board.tsx", props, b.N, encode)
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(float64(res.NS)/float64(res.N), "worker-ns/render")
			b.ReportMetric(float64(res.N)/(float64(res.NS)/1e9), "renders/s")
		})
	}
}

// BenchmarkColdStart starts one worker until it says ready, renders once
// and closes it.
func BenchmarkColdStart(b *testing.B) {
	requireBun(b)
	ctx := context.Background()
	var ready, first time.Duration
	for range b.N {
		r, err := New(Config{Dirs: []string{components}, Workers: 1, Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		if err := r.Start(ctx); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := r.Render(ctx, "Board.tsx", benchProps()); err != nil {
			b.Fatal(err)
		}
		ready += t1.Sub(t0)
		first += time.Since(t1)
		if err := r.Close(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(ready.Milliseconds())/float64(b.N), "ms-to-ready")
	b.ReportMetric(float64(first.Microseconds())/float64(b.N)/1000, "ms-first-render")
}

// BenchmarkRenderSequential renders Board.tsx from one goroutine, one
// render at a time: the latency of a render with nothing queued.
func BenchmarkRenderSequential(b *testing.B) {
	r := newRenderer(b, Config{Workers: 1, Timeout: time.Minute})
	ctx := context.Background()
	props := benchProps()
	for range 200 {
		if _, err := r.Render(ctx, "Board.tsx", props); err != nil {
			b.Fatal(err)
		}
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		t0 := time.Now()
		if _, err := r.Render(ctx, "Board.tsx", props); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	elapsed := time.Since(start)
	b.StopTimer()
	reportLatency(b, lat, elapsed)
}

// BenchmarkRenderPageCollect renders pages/Board.tsx (a board, two
// projects, two users, over @mizan/react hooks) on one worker from the
// five bundles it reads, without collection (RenderDocument, no Fetch)
// and with it (RenderPage with Fetch, one pass since nothing is missing):
// the cost of noting what the page reads.
func BenchmarkRenderPageCollect(b *testing.B) {
	r := newRenderer(b, Config{Workers: 1, Timeout: time.Minute})
	ctx := context.Background()
	full, err := r.RenderPage(ctx, boardDoc(&boardApp{}))
	if err != nil {
		b.Fatal(err)
	}
	for _, collect := range []bool{false, true} {
		b.Run(fmt.Sprintf("collect=%v", collect), func(b *testing.B) {
			d := Document{Component: "pages/Board.tsx", Data: full.Data}
			if collect {
				d.Fetch = (&boardApp{}).fetch
			}
			for range 200 {
				if _, err := r.RenderPage(ctx, d); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for b.Loop() {
				if _, err := r.RenderPage(ctx, d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
