package ssr

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/mizan-afi/mizan/protocol"
)

// ErrClosed is returned by renders after [Renderer.Close].
var ErrClosed = errors.New("ssr: renderer closed")

// ErrTimeout is wrapped by the error of a render that took longer than
// [Config.Timeout].
var ErrTimeout = errors.New("ssr: render timed out")

// RenderError is a render the worker answered with an error: the component
// threw, its file could not be imported, or it has no default export.
type RenderError struct {
	// File is the component's path.
	File string
	// Message is the worker's description of the failure.
	Message string
}

// Error returns "ssr: rendering <file>: <message>".
func (e *RenderError) Error() string {
	if e.File == "" {
		return "ssr: render failed: " + e.Message
	}
	return "ssr: rendering " + e.File + ": " + e.Message
}

// BenchResult is what the worker measured rendering one component in a
// loop ([Renderer.Bench]).
type BenchResult struct {
	// N is the number of renders.
	N int `json:"n"`
	// NS is the time they took in nanoseconds, inside the worker.
	NS int64 `json:"ns"`
	// Bytes is the length of the HTML of one render, in UTF-16 code units.
	Bytes int `json:"bytes"`
}

// Stats counts what a [Renderer] did.
type Stats struct {
	Renders  uint64 // renders answered with HTML
	Errors   uint64 // renders answered with a component error
	Timeouts uint64 // renders that timed out
	Failures uint64 // renders that failed for another reason (worker died, could not start)
	Starts   uint64 // worker processes started
	Retries  uint64 // renders sent again because their worker died with them in flight
}

// Renderer renders React components to HTML in a pool of Bun worker
// processes. Templates are .tsx or .jsx files named relative to
// [Config.Dirs]. It is safe for concurrent use: any number of goroutines may
// render at once, with several renders in flight on each worker. Create
// one with [New] and Close it when the server shuts down.
type Renderer struct {
	s      *settings
	slots  []*slot
	next   atomic.Uint64
	closed atomic.Bool

	closeOnce sync.Once
	closeErr  error

	resolved  sync.Map // template name → path, see Resolve
	nResolved atomic.Int64

	renders, errs, timeouts, failures, retries atomic.Uint64
}

// New checks cfg and returns a Renderer. No process starts until the first
// render (or [Renderer.Start]).
func New(cfg Config) (*Renderer, error) {
	s, err := cfg.settle()
	if err != nil {
		return nil, err
	}
	r := &Renderer{s: s, slots: make([]*slot, s.workers)}
	for i := range r.slots {
		r.slots[i] = &slot{s: s}
	}
	return r, nil
}

// Workers returns the size of the pool.
func (r *Renderer) Workers() int { return len(r.slots) }

// Render renders the default export of the template name with props, which
// must encode to a JSON object (nil means {}), and returns its HTML.
// Errors: a name that is refused or not found, ctx's error, [ErrTimeout],
// [ErrWorkerDied] and [ErrClosed] (wrapped), and [*RenderError]. A render
// whose worker dies before it answers is sent once more, to another worker
// or to the one that replaces it, within the same Timeout; a render that
// fails by itself (an error, a timeout) is not.
func (r *Renderer) Render(ctx context.Context, name string, props any) (string, error) {
	file, err := r.Resolve(name)
	if err != nil {
		return "", err
	}
	pj, err := encodeProps(props)
	if err != nil {
		return "", fmt.Errorf("ssr: rendering %s: %w", name, err)
	}
	html, _, err := r.renderFile(ctx, file, pj, false)
	return html, err
}

// encodeProps returns props as a JSON object on one line. Props already
// encoded (json.RawMessage) are only checked, and compacted when they hold
// line breaks.
func encodeProps(props any) ([]byte, error) {
	var b []byte
	switch p := props.(type) {
	case nil:
		return []byte("{}"), nil
	case json.RawMessage:
		if !json.Valid(p) {
			return nil, errors.New("props are not valid JSON")
		}
		b = p
		if bytes.ContainsAny(b, "\r\n") {
			var buf bytes.Buffer
			_ = json.Compact(&buf, b)
			b = buf.Bytes()
		}
	default:
		var err error
		// As results are written (docs/spec.md §4): nil slices and maps
		// are [] and {}, as the generated types say.
		if b, err = protocol.AppendResult(nil, props); err != nil {
			return nil, fmt.Errorf("encoding props: %w", err)
		}
	}
	if t := bytes.TrimSpace(b); len(t) == 0 || t[0] != '{' {
		if string(t) == "null" {
			return []byte("{}"), nil
		}
		return nil, fmt.Errorf("props must encode to a JSON object, not %.20s", t)
	}
	return b, nil
}

// renderFile renders the component in file (absolute, already checked)
// with props (a JSON object). With collect, the worker also reports the
// keys of props.initialData the render looked up (see RenderPage).
func (r *Renderer) renderFile(ctx context.Context, file string, props []byte, collect bool) (string, []string, error) {
	params := make([]byte, 0, len(file)+len(props)+40)
	params = append(params, `{"file":`...)
	params, _ = appendJSONString(params, file)
	params = append(append(params, `,"props":`...), props...)
	if collect {
		params = append(params, `,"collect":true`...)
	}
	params = append(params, '}')
	rep, err := r.call(ctx, "render", params)
	if err != nil {
		var re *RenderError
		if errors.As(err, &re) {
			re.File = file
			r.errs.Add(1)
			return "", nil, re
		}
		return "", nil, fmt.Errorf("ssr: rendering %s: %w", file, err)
	}
	r.renders.Add(1)
	return rep.html, rep.reads, nil
}

// call runs one request on the least loaded worker, starting it if needed,
// with the render timeout applied once the worker is ready. When that
// worker dies before it answers, the request is sent once more (see
// retry), within the same timeout.
func (r *Renderer) call(ctx context.Context, method string, params []byte) (_ reply, err error) {
	if tctx, end := traced(ctx, method); end != nil {
		ctx = tctx
		defer func() { end(err) }()
	}
	if r.closed.Load() {
		return reply{}, ErrClosed
	}
	sl := r.pick()
	startCtx, cancel := context.WithTimeout(ctx, r.s.startTimeout)
	p, err := sl.get(startCtx, &r.closed)
	cancel()
	if err != nil {
		r.failures.Add(1)
		return reply{}, err
	}
	// One timeout bounds the render, its retry (and a restart it waits
	// for) included.
	callCtx, cancel := context.WithTimeout(ctx, r.s.timeout)
	defer cancel()
	rep, err := p.call(callCtx, method, params)
	var died error // why the first worker died, when the request was retried
	if workerDied(err) && !r.closed.Load() {
		died = err
		r.retries.Add(1)
		rep, err = r.retry(callCtx, sl, p, method, params)
	}
	var to errTimedOut
	if errors.As(err, &to) {
		if ctx.Err() != nil {
			if died != nil {
				return reply{}, fmt.Errorf("%w (retrying the render after %w)", ctx.Err(), died)
			}
			return reply{}, ctx.Err()
		}
		r.timeouts.Add(1)
		if died != nil {
			return reply{}, fmt.Errorf("%w after %v, retrying the render after %w", ErrTimeout, r.s.timeout, died)
		}
		return reply{}, fmt.Errorf("%w after %v", ErrTimeout, r.s.timeout)
	}
	if err != nil {
		var re *RenderError
		if errors.As(err, &re) {
			return reply{}, err
		}
		r.failures.Add(1)
		if r.closed.Load() && errors.Is(err, ErrWorkerDied) {
			// Sent as Close stopped the worker.
			return reply{}, fmt.Errorf("%w: %v", ErrClosed, err)
		}
		if died != nil {
			return reply{}, fmt.Errorf("%w (the render was retried once, after %w)", err, died)
		}
		return reply{}, err
	}
	return rep, nil
}

// workerDied reports whether err, from proc.call, says that the worker
// ended before it answered: the one failure after which a render is sent
// again, since the render itself did not fail (and rendering is a function
// of the props: sending it twice is harmless). An error reply
// (*RenderError) and the end of the render's context (errTimedOut) are
// the render's own failures and are never retried.
func workerDied(err error) bool {
	var re *RenderError
	var to errTimedOut
	return errors.Is(err, ErrWorkerDied) && !errors.As(err, &re) && !errors.As(err, &to)
}

// retry sends a request again after dead, the process of slot first, died
// with it in flight: to the least loaded other worker that is ready, else
// to the slot of the dead one, which starts (or has started) its
// replacement. ctx is the render's: the retry, a wait for a restart
// included, has what is left of its timeout. The retry is not retried.
func (r *Renderer) retry(ctx context.Context, first *slot, dead *proc, method string, params []byte) (reply, error) {
	sl, found, best := first, false, int64(0)
	for _, o := range r.slots {
		if p := o.current(); p != nil && p != dead && p.usable() {
			if l := p.inflight.Load(); !found || l < best {
				sl, found, best = o, true, l
			}
		}
	}
	startCtx, cancel := context.WithTimeout(ctx, r.s.startTimeout)
	p, err := sl.get(startCtx, &r.closed)
	cancel()
	if err != nil {
		if ctx.Err() != nil { // the restart is slower than the render's time
			return reply{}, errTimedOut{ctx.Err()}
		}
		return reply{}, err
	}
	return p.call(ctx, method, params)
}

// pick returns the slot with the fewest requests in flight, looking from a
// rotating start so that ties spread.
func (r *Renderer) pick() *slot {
	n := len(r.slots)
	start := int(r.next.Add(1) % uint64(n))
	best := r.slots[start]
	bestLoad := best.load()
	for i := 1; i < n && bestLoad > 0; i++ {
		sl := r.slots[(start+i)%n]
		if l := sl.load(); l < bestLoad {
			best, bestLoad = sl, l
		}
	}
	return best
}

// Start starts every worker of the pool and waits until each is ready (or
// ctx ends). It is optional: workers start on first use otherwise.
func (r *Renderer) Start(ctx context.Context) error {
	return r.each(ctx, func(ctx context.Context, sl *slot) error {
		ctx, cancel := context.WithTimeout(ctx, r.s.startTimeout)
		defer cancel()
		_, err := sl.get(ctx, &r.closed)
		return err
	})
}

// Ping checks that every worker answers, starting those that are not
// running.
func (r *Renderer) Ping(ctx context.Context) error {
	return r.each(ctx, func(ctx context.Context, sl *slot) error {
		sctx, cancel := context.WithTimeout(ctx, r.s.startTimeout)
		p, err := sl.get(sctx, &r.closed)
		cancel()
		if err != nil {
			return err
		}
		cctx, cancel := context.WithTimeout(ctx, r.s.timeout)
		defer cancel()
		if _, err := p.call(cctx, "ping", nil); err != nil {
			return fmt.Errorf("ssr: ping: %w", err)
		}
		return nil
	})
}

// each runs fn on every slot concurrently and joins the errors.
func (r *Renderer) each(ctx context.Context, fn func(context.Context, *slot) error) error {
	if r.closed.Load() {
		return ErrClosed
	}
	errs := make([]error, len(r.slots))
	var wg sync.WaitGroup
	for i, sl := range r.slots {
		wg.Go(func() { errs[i] = fn(ctx, sl) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Bench renders the template n times in a loop inside one worker and
// returns what the worker measured: the cost of rendering alone, without
// the bridge, to compare [Renderer.Render] with. With encode, each
// iteration also JSON-encodes its reply as the protocol does. The render
// timeout does not apply; ctx bounds it.
func (r *Renderer) Bench(ctx context.Context, name string, props any, n int, encode bool) (BenchResult, error) {
	file, err := r.Resolve(name)
	if err != nil {
		return BenchResult{}, err
	}
	pj, err := encodeProps(props)
	if err != nil {
		return BenchResult{}, fmt.Errorf("ssr: bench %s: %w", name, err)
	}
	if r.closed.Load() {
		return BenchResult{}, ErrClosed
	}
	params, _ := appendJSONString([]byte(`{"file":`), file)
	params = fmt.Appendf(append(append(params, `,"props":`...), pj...), `,"n":%d,"encode":%t}`, n, encode)
	sctx, cancel := context.WithTimeout(ctx, r.s.startTimeout)
	p, err := r.pick().get(sctx, &r.closed)
	cancel()
	if err != nil {
		return BenchResult{}, err
	}
	rep, err := p.call(ctx, "bench", params)
	if err != nil {
		return BenchResult{}, fmt.Errorf("ssr: bench %s: %w", name, err)
	}
	if rep.bench == nil {
		return BenchResult{}, fmt.Errorf("ssr: bench %s: the worker sent no result", name)
	}
	return *rep.bench, nil
}

// Stats returns the renderer's counters.
func (r *Renderer) Stats() Stats {
	st := Stats{
		Renders: r.renders.Load(), Errors: r.errs.Load(), Timeouts: r.timeouts.Load(),
		Failures: r.failures.Load(), Retries: r.retries.Load(),
	}
	for _, sl := range r.slots {
		sl.mu.Lock()
		st.Starts += uint64(sl.starts)
		sl.mu.Unlock()
	}
	return st
}

// Close stops the workers: renders not yet sent fail with [ErrClosed], the
// workers finish the renders they have and exit, and any still running
// when ctx ends are killed. Call it when the server shuts down, for
// example from http.Server.RegisterOnShutdown or after Shutdown returns.
// Later calls return the first result.
func (r *Renderer) Close(ctx context.Context) error {
	r.closeOnce.Do(func() {
		r.closed.Store(true)
		var procs []*proc
		for _, sl := range r.slots {
			sl.mu.Lock()
			if sl.p != nil && !sl.p.isDead() {
				procs = append(procs, sl.p)
			}
			sl.mu.Unlock()
		}
		for _, p := range procs {
			p.shutdown()
		}
		var forced int
		for _, p := range procs {
			select {
			case <-p.dead:
			case <-ctx.Done():
				p.kill("the renderer closed and its context ended")
				<-p.dead
				forced++
			}
		}
		if forced > 0 {
			r.closeErr = fmt.Errorf("ssr: close: killed %d worker(s): %w", forced, ctx.Err())
		}
	})
	return r.closeErr
}
