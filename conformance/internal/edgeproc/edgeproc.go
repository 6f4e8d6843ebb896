// Package edgeproc runs the Mizan edge locally, as the conformance tests
// and the edgeload command do: `node frontends/edge/bin/mizan-edge.mjs dev`
// (the @mizan/edge Worker in workerd, through Miniflare) in a process group
// of its own, in front of an origin, with one or more locations.
package edgeproc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options says what edge to run.
type Options struct {
	// Node is the node executable; "" looks it up on PATH.
	Node string
	// Root is the repository's root directory (frontends/ is below it).
	Root string
	// Origin is the origin's base URL; Manifest the path of its manifest.
	Origin, Manifest string
	// Port is the first location's port; location i listens on Port+i.
	Port int
	// Locations is how many locations to run (at least 1).
	Locations int
	// MWTSecret, KeySecret and PurgeSecret are the edge's three secrets.
	MWTSecret, KeySecret, PurgeSecret string
	// Ready bounds the wait for every location to listen; 0 means 90 s.
	Ready time.Duration
}

// Proc is a running edge.
type Proc struct {
	// URLs are the base URLs of the locations, in order.
	URLs   []string
	cmd    *exec.Cmd
	stderr *tail
	done   chan struct{}
}

var listening = regexp.MustCompile(`^mizan-edge: location (\d+) listening on (http://\S+)$`)

// Start runs the edge and waits until every location listens (the dev
// command prints one line per location when it does).
func Start(ctx context.Context, o Options) (*Proc, error) {
	if o.Locations < 1 {
		o.Locations = 1
	}
	if o.Ready <= 0 {
		o.Ready = 90 * time.Second
	}
	node := o.Node
	if node == "" {
		var err error
		if node, err = exec.LookPath("node"); err != nil {
			return nil, fmt.Errorf("edgeproc: the edge needs Node.js: %w", err)
		}
	}
	bin := filepath.Join(o.Root, "frontends", "edge", "bin", "mizan-edge.mjs")
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("edgeproc: %w (run from the repository, after npm ci in frontends/)", err)
	}
	if _, err := os.Stat(filepath.Join(o.Root, "frontends", "node_modules", "miniflare")); err != nil {
		return nil, fmt.Errorf("edgeproc: frontends/node_modules has no miniflare: run npm ci in frontends/ (%w)", err)
	}
	cmd := exec.Command(node, bin, "dev", "--origin", o.Origin, "--manifest", o.Manifest,
		"--port", strconv.Itoa(o.Port), "--locations", strconv.Itoa(o.Locations))
	cmd.Env = append(os.Environ(), "MIZAN_MWT_SECRET="+o.MWTSecret,
		"MIZAN_EDGE_KEY_SECRET="+o.KeySecret, "MIZAN_EDGE_PURGE_SECRET="+o.PurgeSecret)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("edgeproc: %w", err)
	}
	p := &Proc{URLs: make([]string, o.Locations), cmd: cmd, stderr: &tail{max: 64 << 10}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("edgeproc: starting mizan-edge: %w", err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		seen := 0
		for sc.Scan() {
			m := listening.FindStringSubmatch(strings.TrimSpace(sc.Text()))
			if m == nil {
				continue
			}
			i, _ := strconv.Atoi(m[1])
			if i >= 0 && i < len(p.URLs) && p.URLs[i] == "" {
				p.URLs[i] = m[2]
				if seen++; seen == len(p.URLs) {
					ready <- nil
					_, _ = io.Copy(io.Discard, out)
					return
				}
			}
		}
		ready <- errors.New("mizan-edge ended its output before every location listened")
	}()
	var werr error
	select {
	case err := <-ready:
		if err == nil {
			return p, nil
		}
		werr = err
	case <-time.After(o.Ready):
		werr = fmt.Errorf("mizan-edge not ready after %v", o.Ready)
	case <-ctx.Done():
		werr = ctx.Err()
	}
	p.Stop()
	return nil, fmt.Errorf("edgeproc: %w\nstderr:\n%s", werr, p.Stderr())
}

// Stop ends the edge's process group (workerd included): SIGTERM, then
// SIGKILL after 10 s.
func (p *Proc) Stop() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// Stderr returns the last 64 KiB the edge wrote to its standard error.
func (p *Proc) Stderr() string { return p.stderr.String() }

// tail keeps the last max bytes written to it, safe for concurrent use.
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

// Write keeps the tail of what was written.
func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, b...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(b), nil
}

// String returns what is kept.
func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
