package ssr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// components is the template directory of the tests.
const components = "testdata/components"

// patient bounds what a test waits for; generous, for a loaded machine.
const patient = 2 * time.Minute

// requireBun skips the test when no Bun executable is found, or fails it
// when CI=true (CI installs Bun with npm ci in frontends/).
func requireBun(t testing.TB) {
	t.Helper()
	if _, err := FindBun("", "../frontends/ssr"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("bun is required when CI=true: %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
}

// quiet is a logger that drops everything (the workers' stderr).
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// newRenderer returns a Renderer over testdata/components, closed at the
// end of the test.
func newRenderer(t testing.TB, cfg Config) *Renderer {
	t.Helper()
	requireBun(t)
	if cfg.Dirs == nil {
		cfg.Dirs = []string{components}
	}
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), patient)
		defer cancel()
		if err := r.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return r
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), patient)
	t.Cleanup(cancel)
	return ctx
}

func TestRenderHello(t *testing.T) {
	r := newRenderer(t, Config{Workers: 1})
	ctx := testContext(t)
	html, err := r.Render(ctx, "Hello.tsx", map[string]any{"name": "Ada <&>"})
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	if want := "<p>Hello, <!-- -->Ada &lt;&amp;&gt;<!-- -->!</p>"; html != want {
		t.Errorf("html = %q, want %q", html, want)
	}
	html, err = r.Render(ctx, "nested/Deep.jsx", map[string]string{"who": "jsx"})
	if err != nil {
		t.Fatalf("Render nested/Deep.jsx: %v", err)
	}
	if want := "<em>deep <!-- -->jsx</em>"; html != want {
		t.Errorf("html = %q, want %q", html, want)
	}
	if err := r.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if st := r.Stats(); st.Renders != 2 || st.Starts != 1 {
		t.Errorf("Stats = %+v, want 2 renders by 1 process", st)
	}
}

// TestParallelRendersCorrelated runs 100 renders from 16 goroutines on two
// workers; each render's reply must be its own, although the workers answer
// out of order (each render spins a different time).
func TestParallelRendersCorrelated(t *testing.T) {
	r := newRenderer(t, Config{Workers: 2})
	ctx := testContext(t)
	const renders, goroutines = 100, 16
	jobs := make(chan int)
	errs := make(chan error, renders)
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for id := range jobs {
				html, err := r.Render(ctx, "Echo.tsx", map[string]any{"id": id, "spin": (id * 7) % 5})
				if err != nil {
					errs <- fmt.Errorf("render %d: %w", id, err)
					continue
				}
				if want := fmt.Sprintf(`<span data-id="%d">echo <!-- -->%d</span>`, id, id); html != want {
					errs <- fmt.Errorf("render %d got %q, want %q", id, html, want)
				}
			}
		})
	}
	for id := 1; id <= renders; id++ {
		jobs <- id
	}
	close(jobs)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if st := r.Stats(); st.Renders != renders || st.Failures != 0 || st.Starts != 2 {
		t.Errorf("Stats = %+v, want %d renders by 2 processes", st, renders)
	}
}

// TestWorkerKilledMidFlight kills the worker while it holds renders: each
// is retried on the new worker that replaces it, and succeeds.
func TestWorkerKilledMidFlight(t *testing.T) {
	r := newRenderer(t, Config{Workers: 1, Timeout: patient})
	ctx := testContext(t)
	if _, err := r.Render(ctx, "Hello.tsx", map[string]any{"name": "first"}); err != nil {
		t.Fatalf("first render: %v", err)
	}
	first := r.slots[0].current()
	const inFlight = 6
	errs := make(chan error, inFlight)
	for range inFlight {
		go func() {
			html, err := r.Render(ctx, "Sleep.tsx", map[string]any{"ms": 200})
			if err == nil && html != "<p>slept <!-- -->200</p>" {
				err = fmt.Errorf("html = %q", html)
			}
			errs <- err
		}()
	}
	for first.inflight.Load() < inFlight {
		select {
		case <-ctx.Done():
			t.Fatal("the renders never got in flight")
		case <-time.After(time.Millisecond):
		}
	}
	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill: %v", err)
	}
	for range inFlight {
		if err := <-errs; err != nil {
			t.Errorf("in-flight render: %v, want it retried on the new worker", err)
		}
	}
	if r.slots[0].current() == first {
		t.Error("the dead process was not replaced")
	}
	if st := r.Stats(); st.Starts != 2 || st.Failures != 0 || st.Retries != inFlight {
		t.Errorf("Stats = %+v, want 2 starts, no failure and %d retries", st, inFlight)
	}
}

// TestTimeout renders a component that never returns: the render times
// out, the stuck worker is killed, and the next render works.
func TestTimeout(t *testing.T) {
	r := newRenderer(t, Config{Workers: 1, Timeout: time.Second})
	ctx := testContext(t)
	if err := r.Start(ctx); err != nil { // so that the timeout is the render's alone
		t.Fatalf("Start: %v", err)
	}
	_, err := r.Render(ctx, "Forever.tsx", nil)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	html, err := r.Render(ctx, "Hello.tsx", map[string]any{"name": "after"})
	if err != nil || !strings.Contains(html, "after") {
		t.Fatalf("render after the timeout = %q, %v", html, err)
	}
	if st := r.Stats(); st.Timeouts != 1 || st.Starts != 2 {
		t.Errorf("Stats = %+v, want 1 timeout and 2 starts (the stuck worker replaced)", st)
	}

	// The caller's own deadline is reported as such, not as ErrTimeout.
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = r.Render(cctx, "Sleep.tsx", map[string]any{"ms": 500})
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrTimeout) {
		t.Errorf("err = %v, want the caller's context.DeadlineExceeded", err)
	}
}

func TestComponentError(t *testing.T) {
	r := newRenderer(t, Config{Workers: 1})
	ctx := testContext(t)
	for _, c := range []struct{ name, msg string }{
		{"Boom.tsx", "boom: the component failed"},
		{"NoDefault.tsx", "has no default export that is a component"},
	} {
		_, err := r.Render(ctx, c.name, nil)
		var re *RenderError
		if !errors.As(err, &re) {
			t.Fatalf("%s: err = %v, want a *RenderError", c.name, err)
		}
		if !strings.Contains(re.Message, c.msg) || !strings.HasSuffix(re.File, c.name) {
			t.Errorf("%s: RenderError = %+v, want message %q and the file", c.name, re, c.msg)
		}
	}
	html, err := r.Render(ctx, "Hello.tsx", map[string]any{"name": "still alive"})
	if err != nil || !strings.Contains(html, "still alive") {
		t.Fatalf("render after the errors = %q, %v", html, err)
	}
	if st := r.Stats(); st.Errors != 2 || st.Starts != 1 {
		t.Errorf("Stats = %+v, want 2 errors and the first worker still running", st)
	}
}

func TestPathTraversalRefused(t *testing.T) {
	requireBun(t)
	root := t.TempDir()
	tpl := filepath.Join(root, "templates")
	outside := filepath.Join(root, "outside")
	for _, d := range []string{tpl, outside, filepath.Join(tpl, "sub")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	component := []byte("export default function X() { return <b>x</b>; }\n")
	for _, f := range []string{filepath.Join(tpl, "In.tsx"), filepath.Join(outside, "Out.tsx")} {
		if err := os.WriteFile(f, component, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		filepath.Join(tpl, "Link.tsx"):       filepath.Join(outside, "Out.tsx"),
		filepath.Join(tpl, "linkdir"):        outside,
		filepath.Join(tpl, "sub", "Ok.tsx"):  filepath.Join(tpl, "In.tsx"),
		filepath.Join(tpl, "Dangling.tsx"):   filepath.Join(outside, "Missing.tsx"),
		filepath.Join(tpl, "Relative.tsx"):   "../outside/Out.tsx",
		filepath.Join(tpl, "sub", "Up.tsx"):  "../../outside/Out.tsx",
		filepath.Join(tpl, "sub", "In2.tsx"): "../In.tsx",
	}
	for link, target := range links {
		if err := os.Symlink(target, link); err != nil {
			t.Skipf("no symlinks here: %v", err)
		}
	}
	r := newRenderer(t, Config{Dirs: []string{tpl}, Workers: 1})
	ctx := testContext(t)

	refused := []string{
		"../outside/Out.tsx",
		"sub/../../outside/Out.tsx",
		"sub/../In.tsx",
		"./In.tsx",
		"sub//Ok.tsx",
		filepath.Join(outside, "Out.tsx"), // absolute
		"/etc/passwd.tsx",
		`sub\..\..\outside\Out.tsx`,
		"In.ts",
		"In.tsx\x00.tsx",
		"Link.tsx",
		"linkdir/Out.tsx",
		"Relative.tsx",
		"sub/Up.tsx",
		"Dangling.tsx",
		"",
	}
	for _, name := range refused {
		if _, err := r.Render(ctx, name, nil); !errors.Is(err, ErrBadName) {
			t.Errorf("Render(%q): err = %v, want ErrBadName", name, err)
		}
	}
	if _, err := r.Render(ctx, "Missing.tsx", nil); !errors.Is(err, ErrNoTemplate) {
		t.Errorf("Render(Missing.tsx): err = %v, want ErrNoTemplate", err)
	}
	if st := r.Stats(); st.Starts != 0 {
		t.Errorf("a refused name started a worker: %+v", st)
	}
	for _, name := range []string{"In.tsx", "sub/Ok.tsx", "sub/In2.tsx"} {
		if html, err := r.Render(ctx, name, nil); err != nil || html != "<b>x</b>" {
			t.Errorf("Render(%q) = %q, %v; a symlink inside the directory is allowed", name, html, err)
		}
	}

	// The worker enforces the directories too (MIZAN_SSR_DIRS).
	_, _, err := r.renderFile(ctx, filepath.Join(outside, "Out.tsx"), []byte("{}"), false)
	var re *RenderError
	if !errors.As(err, &re) || !strings.Contains(re.Message, "outside the template directories") {
		t.Errorf("a file outside Dirs sent to the worker: err = %v, want its refusal", err)
	}
}

func TestBadProps(t *testing.T) {
	r := newRenderer(t, Config{Workers: 1})
	ctx := testContext(t)
	for _, props := range []any{[]int{1}, "x", 3, func() {}} {
		if _, err := r.Render(ctx, "Hello.tsx", props); err == nil || !strings.Contains(err.Error(), "props") {
			t.Errorf("Render with props %T: err = %v, want a props error", props, err)
		}
	}
	if st := r.Stats(); st.Starts != 0 {
		t.Errorf("bad props reached a worker: %+v", st)
	}
}

func TestClose(t *testing.T) {
	r := newRenderer(t, Config{Workers: 2})
	ctx := testContext(t)
	if err := r.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	procs := []*proc{r.slots[0].current(), r.slots[1].current()}
	// A render in flight when Close is called is answered.
	done := make(chan error, 1)
	go func() {
		_, err := r.Render(ctx, "Sleep.tsx", map[string]any{"ms": 300})
		done <- err
	}()
	for procs[0].inflight.Load()+procs[1].inflight.Load() == 0 {
		select {
		case err := <-done:
			t.Fatalf("the render ended before Close: %v", err)
		case <-ctx.Done():
			t.Fatal("the render never got in flight")
		case <-time.After(time.Millisecond):
		}
	}
	if err := r.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-done; err != nil {
		t.Errorf("the render in flight during Close: %v", err)
	}
	for _, p := range procs {
		if !p.isDead() {
			t.Errorf("worker %d still running after Close", p.pid)
		}
	}
	if _, err := r.Render(ctx, "Hello.tsx", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Render after Close: err = %v, want ErrClosed", err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "Dirs is empty"},
		{Config{Dirs: []string{"testdata/nope"}}, "template directory"},
		{Config{Dirs: []string{components}, Worker: "testdata/nope.tsx"}, "worker.tsx not found"},
		{Config{Dirs: []string{components}, Bun: "/nonexistent/bun"}, "bun not found"},
		{Config{Dirs: []string{components}, Workers: -1}, "Workers"},
	} {
		_, err := New(c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v): err = %v, want %q", c.cfg, err, c.want)
		}
	}
	if _, err := New(Config{Dirs: []string{components}, Bun: "/nonexistent/bun"}); !errors.Is(err, ErrBunNotFound) {
		t.Errorf("err = %v, want ErrBunNotFound", err)
	}
}

// TestWorkerThatCannotStart: a worker script that exits at once fails
// renders with a clear error instead of hanging, and no process is spawned
// per render while it keeps failing.
func TestWorkerThatCannotStart(t *testing.T) {
	requireBun(t)
	bad := filepath.Join(t.TempDir(), "worker.tsx")
	if err := os.WriteFile(bad, []byte("console.error('cannot start'); process.exit(3);\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bun, err := FindBun("", "../frontends/ssr")
	if err != nil {
		t.Fatal(err)
	}
	r := newRenderer(t, Config{Worker: bad, Bun: bun, Workers: 1})
	ctx := testContext(t)
	_, err = r.Render(ctx, "Hello.tsx", nil)
	if !errors.Is(err, ErrWorkerDied) || !strings.Contains(err.Error(), "before it said ready") || !strings.Contains(err.Error(), "cannot start") {
		t.Fatalf("err = %v, want a start failure with the worker's stderr", err)
	}
	_, err = r.Render(ctx, "Hello.tsx", nil)
	if err == nil {
		t.Fatal("second render succeeded with a broken worker")
	}
	if st := r.Stats(); st.Starts != 1 {
		t.Errorf("Starts = %d, want 1 (the failure is remembered for a while)", st.Starts)
	}
}
