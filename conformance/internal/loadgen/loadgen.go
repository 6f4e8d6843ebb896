// Package loadgen is the closed-loop HTTP load shared by the loopback load
// commands (conformance/load and conformance/edgeload): C keep-alive clients
// send one request, each as soon as its previous answer is read, until a
// request count or a time limit is reached, and every answer is checked. It
// also holds the outcome of such runs with its latency percentiles, and a
// mutator that sends a call at a fixed interval alongside a run.
package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Request is one HTTP request: Method (GET when empty) to URL, with Body,
// unless nil, posted as application/json, and with the values of Header
// added.
type Request struct {
	Method string
	URL    string
	Body   []byte
	Header http.Header
}

// Build returns q as an *http.Request bound to ctx. A body is read from a
// bytes.Reader, so the request has its Content-Length and a GetBody that
// gives a fresh body to send it again.
func (q Request) Build(ctx context.Context) (*http.Request, error) {
	var body io.Reader
	if q.Body != nil {
		body = bytes.NewReader(q.Body)
	}
	req, err := http.NewRequestWithContext(ctx, q.Method, q.URL, body)
	if err != nil {
		return nil, err
	}
	if q.Body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range q.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	return req, nil
}

// rewind gives req, built by Build and perhaps sent, a fresh body to send.
func rewind(req *http.Request) error {
	if req.GetBody == nil {
		return nil
	}
	body, err := req.GetBody()
	if err != nil {
		return err
	}
	req.Body = body
	return nil
}

// Send sends q once with client and returns the answer's status, body and
// header.
func Send(ctx context.Context, client *http.Client, q Request) (int, []byte, http.Header, error) {
	req, err := q.Build(ctx)
	if err != nil {
		return 0, nil, nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, resp.Header, err
}

// Load is a closed-loop load of one request: Clients keep-alive clients
// sharing Client each send Request, the next as soon as the answer to the
// previous one is read, and every answer must be 200 with the bytes Want.
type Load struct {
	Client  *http.Client
	Request Request
	Want    []byte
	Clients int
	// Served, when not empty, names a response header whose values hit,
	// miss and bypass are counted in Result.Served (X-Mizan-Cache,
	// X-Mizan-Edge); it is also quoted in the error of a wrong answer.
	Served string
}

// Run sends up to n requests, stopping at limit, and returns the outcome.
// The first error (a request that fails while the run is not over, or an
// answer that is not 200 with the bytes l.Want) stops every client, and Run
// returns it with no result.
func (l Load) Run(ctx context.Context, n int, limit time.Duration) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var (
		issued  atomic.Int64
		mu      sync.Mutex
		all     []time.Duration
		served  Served
		firstEr error
		wg      sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if firstEr == nil {
			firstEr = err
		}
		mu.Unlock()
		cancel()
	}
	begin := time.Now()
	for range l.Clients {
		wg.Go(func() {
			lat := make([]time.Duration, 0, max(n, 0)/l.Clients+1)
			var s Served
			buf := bytes.NewBuffer(make([]byte, 0, 2*len(l.Want)))
			req, err := l.Request.Build(ctx)
			if err != nil {
				fail(err)
				return
			}
			for ctx.Err() == nil && issued.Add(1) <= int64(n) {
				if err := rewind(req); err != nil {
					fail(err)
					break
				}
				t0 := time.Now()
				resp, err := l.Client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						fail(err)
					}
					break
				}
				buf.Reset()
				_, err = buf.ReadFrom(resp.Body)
				resp.Body.Close()
				d := time.Since(t0)
				if err != nil {
					if ctx.Err() == nil {
						fail(err)
					}
					break
				}
				if resp.StatusCode != http.StatusOK || !bytes.Equal(buf.Bytes(), l.Want) {
					fail(l.wrong(resp, buf.Bytes()))
					break
				}
				if l.Served != "" {
					s.count(resp.Header.Get(l.Served))
				}
				lat = append(lat, d)
			}
			mu.Lock()
			all = append(all, lat...)
			served.add(s)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(begin)
	if firstEr != nil {
		return Result{}, firstEr
	}
	slices.Sort(all)
	return Result{Requests: len(all), Elapsed: elapsed, Latencies: all, Served: served}, nil
}

// wrong is the error of an answer that is not 200 with the bytes l.Want.
func (l Load) wrong(resp *http.Response, body []byte) error {
	if l.Served != "" {
		return fmt.Errorf("answer %d (%s %q): %s", resp.StatusCode, l.Served, resp.Header.Get(l.Served), body)
	}
	return fmt.Errorf("answer %d: %s", resp.StatusCode, body)
}

// Served counts answers by how they were served: the values hit, miss and
// bypass of the header named by Load.Served. Answers without one of them
// are not counted.
type Served struct {
	Hit, Miss, Bypass int
}

// Total is the number of answers counted.
func (s Served) Total() int { return s.Hit + s.Miss + s.Bypass }

func (s *Served) count(v string) {
	switch v {
	case "hit":
		s.Hit++
	case "miss":
		s.Miss++
	case "bypass":
		s.Bypass++
	}
}

func (s *Served) add(o Served) {
	s.Hit += o.Hit
	s.Miss += o.Miss
	s.Bypass += o.Bypass
}

// Result is the outcome of one or more runs of a Load.
type Result struct {
	Requests  int
	Elapsed   time.Duration
	Latencies []time.Duration // sorted
	Served    Served
}

// Add merges o into the total r, keeping r.Latencies sorted.
func (r *Result) Add(o Result) {
	r.Requests += o.Requests
	r.Elapsed += o.Elapsed
	r.Latencies = append(r.Latencies, o.Latencies...)
	slices.Sort(r.Latencies)
	r.Served.add(o.Served)
}

// RPS is the throughput, in requests per second.
func (r Result) RPS() float64 { return float64(r.Requests) / r.Elapsed.Seconds() }

// Pct is the p-th percentile of the latencies.
func (r Result) Pct(p float64) time.Duration { return Percentile(r.Latencies, p) }

// String gives the requests, the time, the throughput and the p50, p90,
// p99 and maximum latency of r on one line of fixed-width columns.
func (r Result) String() string {
	return fmt.Sprintf("%7d req in %6.2fs = %8.0f req/s   p50 %7s  p90 %7s  p99 %7s  max %7s",
		r.Requests, r.Elapsed.Seconds(), r.RPS(),
		r.Pct(50).Round(time.Microsecond), r.Pct(90).Round(time.Microsecond),
		r.Pct(99).Round(time.Microsecond), r.Pct(100).Round(time.Microsecond))
}

// Percentile is the p-th percentile (0 < p <= 100) of sorted, by the
// nearest rank; 0 when sorted is empty.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// Mutate sends q with client every interval (a time.Ticker: ticks that come
// while a call is in flight are dropped) until the returned stop is called.
// Each answer is checked by check; a nil check wants status 200. The first
// call that fails, to send or the check, ends the calls. stop reports the
// latencies of the calls that passed, sorted, and that first failure, as
// "mutation N: ...". A call cut short by stop is neither counted nor a
// failure.
func Mutate(ctx context.Context, client *http.Client, q Request, every time.Duration,
	check func(status int, body []byte, hdr http.Header) error) (stop func() ([]time.Duration, error)) {
	if check == nil {
		check = func(status int, body []byte, _ http.Header) error {
			if status != http.StatusOK {
				return fmt.Errorf("answer %d: %s", status, body)
			}
			return nil
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	type outcome struct {
		lat []time.Duration
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		var lat []time.Duration
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				done <- outcome{lat: lat}
				return
			case <-t.C:
			}
			t0 := time.Now()
			status, body, hdr, err := Send(ctx, client, q)
			d := time.Since(t0)
			if ctx.Err() != nil {
				done <- outcome{lat: lat}
				return
			}
			if err == nil {
				err = check(status, body, hdr)
			}
			if err != nil {
				done <- outcome{lat: lat, err: fmt.Errorf("mutation %d: %w", len(lat)+1, err)}
				return
			}
			lat = append(lat, d)
		}
	}()
	return func() ([]time.Duration, error) {
		cancel()
		o := <-done
		slices.Sort(o.lat)
		return o.lat, o.err
	}
}
