package ssr

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The tests of this file check what happens to renders in flight when
// their worker dies: they are retried once on another worker (or the
// restarted one) within the render's time, and a render that failed by
// itself (the component threw, timed out) is not retried.

// counted returns the props of Counted.tsx with a fresh count file, and a
// function that returns the pids of the workers that ran the render, one
// per render that reached a worker.
func counted(t *testing.T, mode string, ms int) (map[string]any, func() []string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "count")
	props := map[string]any{"file": file, "mode": mode, "ms": ms}
	return props, func() []string {
		t.Helper()
		b, err := os.ReadFile(file)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		return strings.Fields(string(b))
	}
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
}

// kill9 sends SIGKILL to a worker, as `kill -9 <pid>` would: the bridge
// learns of it only from the process's end.
func kill9(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %d: %v", pid, err)
	}
}

// TestWorkerKilledUnderLoad: 16 goroutines render 400 times on a pool of
// two workers, and one worker is killed with -9 while it holds renders. No
// render fails: those in flight on the dead worker are retried on the
// other one (or on its replacement).
func TestWorkerKilledUnderLoad(t *testing.T) {
	r := newRenderer(t, Config{Workers: 2})
	ctx := testContext(t)
	if err := r.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	const renders, goroutines, killAfter = 400, 16, 100
	jobs := make(chan int)
	var done, failed atomic.Int64
	errs := make(chan error, renders)
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for id := range jobs {
				html, err := r.Render(ctx, "Echo.tsx", map[string]any{"id": id, "spin": id % 3})
				done.Add(1)
				if err != nil {
					failed.Add(1)
					errs <- fmt.Errorf("render %d: %w", id, err)
					continue
				}
				if want := fmt.Sprintf(`<span data-id="%d">echo <!-- -->%d</span>`, id, id); html != want {
					errs <- fmt.Errorf("render %d got %q, want %q", id, html, want)
				}
			}
		})
	}
	var victim *proc
	var heldAtKill int64
	go func() {
		defer close(jobs)
		for id := 1; id <= renders; id++ {
			jobs <- id
		}
	}()
	waitFor(t, ctx, "renders in flight on a worker", func() bool {
		if done.Load() < killAfter {
			return false
		}
		for _, sl := range r.slots {
			if p := sl.current(); p.inflight.Load() >= 2 {
				victim, heldAtKill = p, p.inflight.Load()
				return true
			}
		}
		return false
	})
	kill9(t, victim.pid)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	<-victim.dead
	t.Logf("kill -9 of pid %d holding %d renders in flight (after %d of %d renders): %d renders failed",
		victim.pid, heldAtKill, killAfter, renders, failed.Load())
	st := r.Stats()
	if st.Renders != renders || st.Failures != 0 || st.Retries == 0 || st.Retries > uint64(goroutines) {
		t.Errorf("Stats = %+v, want %d renders, no failure, and between 1 and %d retries", st, renders, goroutines)
	}
}

// TestWorkerKilledMidRenderPoolOfOne kills the only worker while it is
// rendering.
func TestWorkerKilledMidRenderPoolOfOne(t *testing.T) {
	// The render is retried on the restarted worker and succeeds.
	t.Run("restarted", func(t *testing.T) {
		r := newRenderer(t, Config{Workers: 1, Timeout: patient})
		ctx := testContext(t)
		if err := r.Start(ctx); err != nil {
			t.Fatalf("Start: %v", err)
		}
		props, pids := counted(t, "sleep", 1000)
		type result struct {
			html string
			err  error
		}
		res := make(chan result, 1)
		go func() {
			html, err := r.Render(ctx, "Counted.tsx", props)
			res <- result{html, err}
		}()
		waitFor(t, ctx, "the render to reach the worker", func() bool { return len(pids()) == 1 })
		first := r.slots[0].current()
		kill9(t, first.pid)
		got := <-res
		if got.err != nil || got.html != "<p>counted <!-- -->0</p>" {
			t.Fatalf("render = %q, %v; want it retried on the restarted worker", got.html, got.err)
		}
		ran := pids()
		second := r.slots[0].current()
		if want := []string{strconv.Itoa(first.pid), strconv.Itoa(second.pid)}; second == first || strings.Join(ran, " ") != strings.Join(want, " ") {
			t.Errorf("the render ran on pids %v, want %v (the killed worker, then its replacement)", ran, want)
		}
		if st := r.Stats(); st.Renders != 1 || st.Failures != 0 || st.Retries != 1 || st.Starts != 2 {
			t.Errorf("Stats = %+v, want 1 render, 1 retry, 2 starts", st)
		}
	})

	// The restart takes longer than what is left of the render's Timeout:
	// the retry is bounded by it and the render fails with ErrTimeout,
	// which also says (wraps) that the worker died.
	t.Run("restart slower than the timeout", func(t *testing.T) {
		requireBun(t)
		bun, err := FindBun("", "../frontends/ssr")
		if err != nil {
			t.Fatal(err)
		}
		realWorker, err := filepath.Abs("../frontends/ssr/worker.tsx")
		if err != nil {
			t.Fatal(err)
		}
		nodeModules, err := filepath.Abs("../frontends/node_modules")
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		// slowWorker runs the real worker, after a delay on every start
		// but the first.
		slowWorker := filepath.Join(dir, "worker.tsx")
		if err := os.WriteFile(slowWorker, []byte(`import { existsSync, writeFileSync } from 'node:fs';
const mark = process.env.MIZAN_TEST_STARTED!;
if (existsSync(mark)) await Bun.sleep(Number(process.env.MIZAN_TEST_RESTART_MS));
writeFileSync(mark, '');
await import(process.env.MIZAN_TEST_WORKER!);
`), 0o644); err != nil {
			t.Fatal(err)
		}
		const timeout, restart = 1500 * time.Millisecond, 4 * time.Second
		r := newRenderer(t, Config{
			Worker: slowWorker, Bun: bun, Workers: 1, Timeout: timeout,
			Env: []string{
				"NODE_PATH=" + nodeModules,
				"MIZAN_TEST_STARTED=" + filepath.Join(dir, "started"),
				"MIZAN_TEST_RESTART_MS=" + strconv.Itoa(int(restart/time.Millisecond)),
				"MIZAN_TEST_WORKER=" + realWorker,
			},
		})
		ctx := testContext(t)
		if err := r.Start(ctx); err != nil {
			t.Fatalf("Start: %v", err)
		}
		props, pids := counted(t, "sleep", 200)
		if _, err := r.Render(ctx, "Counted.tsx", props); err != nil { // the worker works
			t.Fatalf("first render: %v", err)
		}
		props, pids = counted(t, "sleep", 1000)
		type result struct {
			err     error
			elapsed time.Duration
		}
		res := make(chan result, 1)
		start := time.Now()
		go func() {
			_, err := r.Render(ctx, "Counted.tsx", props)
			res <- result{err, time.Since(start)}
		}()
		waitFor(t, ctx, "the render to reach the worker", func() bool { return len(pids()) == 1 })
		kill9(t, r.slots[0].current().pid)
		got := <-res
		if !errors.Is(got.err, ErrTimeout) || !errors.Is(got.err, ErrWorkerDied) {
			t.Fatalf("err = %v, want ErrTimeout wrapping ErrWorkerDied", got.err)
		}
		if !strings.Contains(got.err.Error(), "retry") {
			t.Errorf("err = %q, want it to say the render was being retried", got.err)
		}
		if got.elapsed > timeout+time.Second {
			t.Errorf("the render took %v, want about its Timeout (%v): the retry must not outlive it", got.elapsed, timeout)
		}
		if st := r.Stats(); st.Timeouts != 1 || st.Retries != 1 {
			t.Errorf("Stats = %+v, want 1 timeout after 1 retry", st)
		}
		// The slow restart goes on, and serves the next render.
		if html, err := r.Render(ctx, "Hello.tsx", map[string]any{"name": "later"}); err != nil || !strings.Contains(html, "later") {
			t.Errorf("render after the slow restart = %q, %v", html, err)
		}
	})
}

// TestOwnFailuresNotRetried: a render that fails by itself reaches a
// worker once; only a render whose worker died is sent again, once.
func TestOwnFailuresNotRetried(t *testing.T) {
	r := newRenderer(t, Config{Workers: 2, Timeout: time.Second})
	ctx := testContext(t)
	if err := r.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}

	// The component throws: one render, a *RenderError.
	props, pids := counted(t, "throw", 0)
	_, err := r.Render(ctx, "Counted.tsx", props)
	var re *RenderError
	if !errors.As(err, &re) || !strings.Contains(re.Message, "counted: the component failed") {
		t.Errorf("throw: err = %v, want the component's *RenderError", err)
	}
	if n := len(pids()); n != 1 {
		t.Errorf("throw: the render reached a worker %d times, want 1", n)
	}
	// No default export: an error reply too.
	if _, err := r.Render(ctx, "NoDefault.tsx", nil); !errors.As(err, &re) {
		t.Errorf("NoDefault: err = %v, want a *RenderError", err)
	}
	if st := r.Stats(); st.Errors != 2 || st.Retries != 0 || st.Starts != 2 {
		t.Errorf("Stats = %+v, want 2 errors, no retry, the 2 workers still up", st)
	}

	// The component never returns: one render, ErrTimeout (the stuck
	// worker is killed for it, and the render is not sent again).
	props, pids = counted(t, "hang", 0)
	_, err = r.Render(ctx, "Counted.tsx", props)
	if !errors.Is(err, ErrTimeout) || errors.Is(err, ErrWorkerDied) {
		t.Errorf("hang: err = %v, want ErrTimeout alone", err)
	}
	if n := len(pids()); n != 1 {
		t.Errorf("hang: the render reached a worker %d times, want 1", n)
	}

	// The component ends its worker: the render is retried once, on
	// another worker, which it ends as well; then it fails.
	props, pids = counted(t, "exit", 0)
	_, err = r.Render(ctx, "Counted.tsx", props)
	if !errors.Is(err, ErrWorkerDied) || !strings.Contains(err.Error(), "exit status 7") {
		t.Errorf("exit: err = %v, want ErrWorkerDied with the exit status", err)
	}
	ran := pids()
	if len(ran) != 2 || ran[0] == ran[1] {
		t.Errorf("exit: the render ran on pids %v, want two different workers (one retry)", ran)
	}
	if st := r.Stats(); st.Retries != 1 || st.Timeouts != 1 || st.Failures != 1 {
		t.Errorf("Stats = %+v, want 1 retry, 1 timeout, 1 failure", st)
	}
	if html, err := r.Render(ctx, "Hello.tsx", map[string]any{"name": "after"}); err != nil || !strings.Contains(html, "after") {
		t.Errorf("render after the failures = %q, %v", html, err)
	}
}

// TestWorkerStdoutClosed: a worker that closes its stdout, but goes on
// running, can answer nothing: it is taken as dead (killed after
// stdoutGrace) and its render is retried, instead of waiting for the
// render's Timeout. The component does it again on the retry's worker,
// and the render fails with ErrWorkerDied.
func TestWorkerStdoutClosed(t *testing.T) {
	const timeout = 10 * time.Second
	r := newRenderer(t, Config{Workers: 2, Timeout: timeout})
	ctx := testContext(t)
	if err := r.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	props, pids := counted(t, "closestdout", 0)
	start := time.Now()
	_, err := r.Render(ctx, "Counted.tsx", props)
	elapsed := time.Since(start)
	if !errors.Is(err, ErrWorkerDied) || errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "stdout closed") {
		t.Errorf("err = %v, want ErrWorkerDied: its stdout closed", err)
	}
	if elapsed > timeout/2 {
		t.Errorf("the render took %v: the closed stdout was not taken as the worker's death", elapsed)
	}
	if ran := pids(); len(ran) != 2 || ran[0] == ran[1] {
		t.Errorf("the render ran on pids %v, want two different workers (one retry)", ran)
	}
	if html, err := r.Render(ctx, "Hello.tsx", map[string]any{"name": "after"}); err != nil || !strings.Contains(html, "after") {
		t.Errorf("render after = %q, %v", html, err)
	}
}
