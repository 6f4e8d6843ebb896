package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Defaults of "mizan dev".
const (
	defaultDevAddr   = "127.0.0.1:8080"
	defaultDevTarget = "react=web/src/gen"
	defaultDevWeb    = "web"
	defaultDevPoll   = 500 * time.Millisecond
	// devStopTimeout is how long a child has to exit after SIGINT before
	// its process group is killed.
	devStopTimeout = 10 * time.Second
	// devSettle is how long the Go files must stay unchanged after a change
	// is seen before rebuilding (an editor saving several files, a git
	// checkout).
	devSettle = 300 * time.Millisecond
)

// Environment variables "mizan dev" sets for its children: the server's
// listening address (the scaffold's main.go takes it as its -addr
// default) and the origin Vite proxies the API to (@mizan/vite reads it).
const (
	envDevAddr   = "MIZAN_ADDR"
	envDevTarget = "MIZAN_TARGET"
)

// devConfig is a "mizan dev" run.
type devConfig struct {
	dir        string        // the Go module's directory, where go build runs
	pkg        string        // the main package to build, relative to dir
	targets    string        // the --target list given to mizan generate
	web        string        // the Vite project, relative to dir; "" runs no Vite
	addr       string        // the server's address (MIZAN_ADDR)
	poll       time.Duration // how often the Go files are looked at
	serverArgs []string      // passed to the server
	stdout     io.Writer
	stderr     io.Writer
}

// runDev implements "mizan dev".
func runDev(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("dev", "[flags] [-- server arguments...]", stderr)
	cfg := devConfig{stdout: stdout, stderr: stderr}
	fs.StringVar(&cfg.dir, "C", ".", "run in `DIR`, the app's Go module")
	fs.StringVar(&cfg.pkg, "pkg", ".", "the main `PACKAGE` of the server, built with go build")
	fs.StringVar(&cfg.targets, "target", defaultDevTarget, "the clients to regenerate, as mizan generate --target `T=DIR,...` takes them")
	fs.StringVar(&cfg.web, "web", defaultDevWeb, "the Vite project's `DIR` (its node_modules/.bin/vite is run); empty for none")
	fs.StringVar(&cfg.addr, "addr", envOr(envDevAddr, defaultDevAddr), "the server's `host:port`, given to it as $"+envDevAddr+" and to Vite as $"+envDevTarget+"=http://host:port;\nthe default is $"+envDevAddr+" when set")
	fs.DurationVar(&cfg.poll, "poll", defaultDevPoll, "how often to look for changed Go files (their modification times)")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	cfg.serverArgs = fs.Args()
	if cfg.poll <= 0 {
		fmt.Fprintln(stderr, "mizan dev: -poll must be positive")
		return exitUsage
	}
	if _, err := parseTargets(cfg.targets, ""); err != nil {
		fmt.Fprintln(stderr, "mizan dev:", err)
		return exitUsage
	}
	// One Ctrl+C (SIGINT, to the terminal's foreground group: this process)
	// or SIGTERM stops everything; the children run in process groups of
	// their own, so each gets the signal from here, once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := dev(ctx, cfg); err != nil {
		fmt.Fprintln(stderr, "mizan dev:", err)
		return exitFail
	}
	return exitOK
}

// dev builds the server, regenerates the clients from its IR and runs it,
// with Vite beside it; whenever the Go files change it builds again,
// regenerates and restarts the server. It returns when ctx ends (after
// stopping both) or when Vite exits.
func dev(ctx context.Context, cfg devConfig) error {
	dir, err := filepath.Abs(cfg.dir)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		return fmt.Errorf("%s has no go.mod: run mizan dev in the app's Go module (or give -C DIR)", dir)
	}
	logf := func(format string, args ...any) { fmt.Fprintf(cfg.stderr, "mizan dev: "+format+"\n", args...) }
	// The clients' directories are relative to dir, like the rest.
	targets, err := parseTargets(cfg.targets, "")
	if err != nil {
		return err
	}
	var list []string
	for _, t := range targets {
		if !filepath.IsAbs(t.dir) {
			t.dir = filepath.Join(cfg.dir, t.dir)
		}
		list = append(list, t.name+"="+t.dir)
	}
	targetList := strings.Join(list, ",")

	tmp, err := os.MkdirTemp("", "mizan-dev-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "server")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}

	var vite *child
	if cfg.web != "" {
		web := filepath.Join(dir, cfg.web)
		viteBin := filepath.Join(web, "node_modules", ".bin", "vite")
		if _, err := os.Stat(viteBin); err != nil {
			return fmt.Errorf("%s not found: install the UI's packages first (cd %s && npm install)", viteBin, cfg.web)
		}
		cmd := exec.Command(viteBin)
		cmd.Dir = web
		cmd.Env = append(os.Environ(), envDevTarget+"=http://"+cfg.addr)
		cmd.Stdout, cmd.Stderr = cfg.stdout, cfg.stderr
		if vite, err = startChild("vite", cmd, true); err != nil {
			return err
		}
		logf("Vite in %s, proxying %s to http://%s", cfg.web, "/api/mizan/", cfg.addr)
	}

	var server *child
	stopAll := func() {
		server.stop(devStopTimeout)
		vite.stop(devStopTimeout)
	}
	defer stopAll()

	// rebuild builds, regenerates the clients and (re)starts the server. A
	// failed build or generation leaves the running server as it is.
	rebuild := func() {
		start := time.Now()
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, cfg.pkg)
		build.Dir = dir
		build.Stdout, build.Stderr = cfg.stderr, cfg.stderr
		killGroup(build)
		if err := build.Run(); err != nil {
			if ctx.Err() == nil {
				logf("go build %s failed (%v); waiting for a change", cfg.pkg, err)
			}
			return
		}
		// The app writes its IR and exits: no port is taken, so the
		// server of the previous build keeps serving meanwhile.
		gen := []string{"--cmd", shellQuote(bin), "--target", targetList}
		if code := runGenerate(gen, nil, cfg.stderr, cfg.stderr); code != exitOK {
			logf("generating the clients failed; the server is not restarted; waiting for a change")
			return
		}
		if ctx.Err() != nil {
			return
		}
		if server != nil {
			server.stop(devStopTimeout)
		}
		cmd := exec.Command(bin, cfg.serverArgs...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), envDevAddr+"="+cfg.addr)
		cmd.Stdout, cmd.Stderr = cfg.stdout, cfg.stderr
		s, err := startChild("server", cmd, false)
		if err != nil {
			logf("%v", err)
			server = nil
			return
		}
		server = s
		logf("server built and started in %s (http://%s)", time.Since(start).Round(time.Millisecond), cfg.addr)
	}

	seen, err := scanGoFiles(dir)
	if err != nil {
		return err
	}
	rebuild()
	logf("watching the Go files under %s (polling every %s); Ctrl+C stops everything", dir, cfg.poll)

	tick := time.NewTicker(cfg.poll)
	defer tick.Stop()
	var serverDone, viteDone <-chan struct{}
	for {
		serverDone = nil
		if server != nil {
			serverDone = server.done
		}
		viteDone = nil
		if vite != nil {
			viteDone = vite.done
		}
		select {
		case <-ctx.Done():
			logf("stopping")
			return nil
		case <-viteDone:
			return fmt.Errorf("vite exited (%v)", vite.err)
		case <-serverDone:
			logf("the server exited (%v); waiting for a change", server.err)
			server = nil
		case <-tick.C:
			now, err := scanGoFiles(dir)
			if err != nil {
				logf("%v", err)
				continue
			}
			if sameStamps(seen, now) {
				continue
			}
			// Wait for the files to settle, then rebuild from what is there.
			for {
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(devSettle):
				}
				again, err := scanGoFiles(dir)
				if err == nil && sameStamps(now, again) {
					break
				}
				now = again
			}
			logf("%s changed; rebuilding", describeChange(seen, now))
			seen = now
			rebuild()
		}
	}
}

// fileStamp is what the poll compares: a file's modification time and size.
type fileStamp struct {
	mod  time.Time
	size int64
}

// scanGoFiles returns the stamps of the files whose change means a new
// build: every .go file that is not a test, go.mod and go.sum, under dir,
// leaving out node_modules, testdata and hidden directories.
func scanGoFiles(dir string) (map[string]fileStamp, error) {
	out := map[string]fileStamp{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path != dir && errors.Is(err, fs.ErrNotExist) {
				return nil // removed while walking
			}
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != dir && (name == "node_modules" || name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !(strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go")) && name != "go.mod" && name != "go.sum" {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil // removed while walking
		}
		rel, _ := filepath.Rel(dir, path)
		out[rel] = fileStamp{mod: info.ModTime(), size: info.Size()}
		return nil
	})
	return out, err
}

// sameStamps reports whether two scans found the same files, unchanged.
func sameStamps(a, b map[string]fileStamp) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !w.mod.Equal(v.mod) || w.size != v.size {
			return false
		}
	}
	return true
}

// describeChange names the files that differ between two scans ("main.go",
// "main.go and 2 more").
func describeChange(a, b map[string]fileStamp) string {
	var changed []string
	for k, v := range b {
		if w, ok := a[k]; !ok || !w.mod.Equal(v.mod) || w.size != v.size {
			changed = append(changed, k)
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			changed = append(changed, k)
		}
	}
	slices.Sort(changed)
	switch len(changed) {
	case 0:
		return "nothing"
	case 1:
		return changed[0]
	default:
		return fmt.Sprintf("%s and %d more", changed[0], len(changed)-1)
	}
}

// child is a process "mizan dev" runs in a process group of its own.
type child struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser // Vite's, held open: Vite exits when its stdin ends
	done  chan struct{}  // closed when the process has exited
	err   error          // its exit status, once done is closed
}

// startChild starts cmd in a process group of its own. With holdStdin its
// standard input is a pipe left open until the child is stopped (Vite
// treats the end of its input as a request to exit; the terminal is not
// given to it, since a background group reading it would be stopped).
func startChild(name string, cmd *exec.Cmd, holdStdin bool) (*child, error) {
	c := &child{name: name, cmd: cmd, done: make(chan struct{})}
	if holdStdin {
		w, err := cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		c.stdin = w
	}
	newProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// stop interrupts the child's process group (SIGINT, as a Ctrl+C would),
// waits up to timeout for the child to exit, and then kills whatever is
// left in the group. A nil child, or one already stopped, is left alone.
func (c *child) stop(timeout time.Duration) {
	if c == nil {
		return
	}
	select {
	case <-c.done:
		killProcessGroup(c.cmd.Process) // anything it left behind in its group
		return
	default:
	}
	interruptProcessGroup(c.cmd.Process)
	if c.stdin != nil {
		c.stdin.Close()
	}
	select {
	case <-c.done:
	case <-time.After(timeout):
	}
	killProcessGroup(c.cmd.Process)
	<-c.done
}

// shellQuote quotes a path for the shell mizan generate --cmd runs.
func shellQuote(s string) string {
	if runtime.GOOS == "windows" {
		return `"` + s + `"`
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// envOr returns the environment variable name, or def when it is empty.
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
