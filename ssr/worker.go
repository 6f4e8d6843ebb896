package ssr

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrWorkerDied is wrapped by the error of a worker process that ended
// (exited, crashed, was killed, closed its stdout or its stdin) before it
// answered a request. A render in flight on it is sent
// once more, to another worker or the one that replaces it; the error of a
// render wraps ErrWorkerDied when that retry died too or no worker could
// start for it, and wraps [ErrTimeout] as well when the render's Timeout
// ran out during the retry ([ErrClosed] instead, once the renderer is
// closing). A worker that cannot start fails renders with it as well.
var ErrWorkerDied = errors.New("ssr: worker died")

// restartBackoff is how long a worker slot whose process died before it
// said ready refuses to start another, answering with that failure instead
// (a broken set-up fails fast rather than spawning a process per render).
const restartBackoff = time.Second

// stdoutGrace is how long a worker whose stdout closed has to exit before
// it is killed: it cannot answer anything any more.
const stdoutGrace = 500 * time.Millisecond

// reply is one answer of the worker.
type reply struct {
	html  string
	reads []string // the instance keys a collecting render read
	err   error    // a *RenderError
	bench *BenchResult
}

// wireReply is a reply line as the worker writes it.
type wireReply struct {
	ID    *int64       `json:"id"`
	Ready bool         `json:"ready"`
	HTML  *string      `json:"html"`
	Error *string      `json:"error"`
	Pong  bool         `json:"pong"`
	Bench *BenchResult `json:"bench"`
	Reads []string     `json:"reads"`
}

// proc is one worker process.
type proc struct {
	pid    int
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan []byte // requests for the writer goroutine
	logger loggerFunc  // Info
	warn   loggerFunc

	nextID   atomic.Int64
	inflight atomic.Int64
	replies  atomic.Uint64 // replies read so far, to tell a stuck worker from a busy one
	doomed   atomic.Bool   // being killed or asked to quit: take no new work

	mu       sync.Mutex
	pending  map[int64]chan reply // nil once dead
	killWhy  string               // why Mizan killed it, if it did
	tail     []string             // the last lines of stderr
	wasReady bool
	diedAt   time.Time
	err      error // why it died, set before dead is closed

	ready    chan struct{} // closed when the worker says ready
	dead     chan struct{} // closed once the process is gone and pending renders failed
	quit     chan struct{} // closed to make the writer close stdin after what is queued
	quitOnce sync.Once
}

// loggerFunc logs one event of a worker.
type loggerFunc func(msg string, args ...any)

const tailLines = 20

// workerArgs are Bun's options for the worker: never install a package at
// run time, and resolve imports from a symlink's own path (a package linked
// into an app's node_modules then finds the app's react, the copy the
// app's components use).
var workerArgs = []string{"--no-install", "--preserve-symlinks"}

// spawn starts a worker process; it does not wait for it to be ready.
func spawn(s *settings) (*proc, error) {
	cmd := exec.Command(s.bun, append(workerArgs[:len(workerArgs):len(workerArgs)], s.worker)...)
	cmd.Dir = filepath.Dir(s.worker)
	cmd.Env = append(os.Environ(), s.env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("ssr: starting the worker: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("ssr: starting the worker: %w", err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("ssr: starting the worker: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("ssr: starting the worker %s with %s: %w", s.worker, s.bun, err)
	}
	p := &proc{
		pid: cmd.Process.Pid, cmd: cmd, stdin: stdin, lines: make(chan []byte, 256),
		pending: map[int64]chan reply{}, ready: make(chan struct{}), dead: make(chan struct{}),
		quit: make(chan struct{}),
	}
	p.logger = func(msg string, args ...any) {
		s.logger.Info(msg, append([]any{"pid", p.pid}, args...)...)
	}
	p.warn = func(msg string, args ...any) {
		s.logger.Warn(msg, append([]any{"pid", p.pid}, args...)...)
	}
	var readers sync.WaitGroup
	readers.Go(func() { p.readReplies(stdout) })
	readers.Go(func() { p.readStderr(stderr) })
	go p.write()
	go func() {
		readers.Wait()
		werr := cmd.Wait()
		p.die(werr)
	}()
	go func() {
		t := time.NewTimer(s.startTimeout)
		defer t.Stop()
		select {
		case <-p.ready:
		case <-p.dead:
		case <-t.C:
			p.kill(fmt.Sprintf("it did not say ready within %v", s.startTimeout))
		}
	}()
	return p, nil
}

// write sends queued requests to the worker's stdin, flushing when the
// queue runs empty, until the process dies or is asked to quit: then it
// writes what is queued and closes stdin, and the worker exits once it has
// answered.
func (p *proc) write() {
	w := bufio.NewWriterSize(p.stdin, 64<<10)
	for {
		var line []byte
		select {
		case line = <-p.lines:
		case <-p.dead:
			return
		case <-p.quit:
			for len(p.lines) > 0 {
				if _, err := w.Write(<-p.lines); err != nil {
					break
				}
			}
			_ = w.Flush()
			_ = p.stdin.Close()
			return
		}
		if _, err := w.Write(line); err != nil {
			p.kill("writing to it failed: " + err.Error())
			return
		}
		if len(p.lines) == 0 {
			if err := w.Flush(); err != nil {
				p.kill("writing to it failed: " + err.Error())
				return
			}
		}
	}
}

// readReplies reads reply lines until stdout closes.
func (p *proc) readReplies(stdout io.Reader) {
	br := bufio.NewReaderSize(stdout, 64<<10)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 1 {
			p.handle(line)
		}
		if err != nil {
			p.stdoutClosed(err)
			return
		}
	}
}

// stdoutClosed takes a worker whose stdout ended (EOF, or a read error) as
// dead: it gets no more work, and unless it exits within stdoutGrace (as a
// worker that crashed or was asked to quit does), it is killed, so that the
// renders it holds fail with ErrWorkerDied (and are retried) rather than
// wait for their timeout.
func (p *proc) stdoutClosed(err error) {
	p.doomed.Store(true)
	why := "its stdout closed while it was running"
	if err != io.EOF {
		why = "reading its stdout failed: " + err.Error()
	}
	go func() {
		t := time.NewTimer(stdoutGrace)
		defer t.Stop()
		select {
		case <-p.dead:
		case <-p.quit: // asked to exit: Close's context bounds it
		case <-t.C:
			p.kill(why)
		}
	}()
}

// handle dispatches one reply line.
func (p *proc) handle(line []byte) {
	m, err := parseReply(line)
	if err != nil || m.ID == nil {
		if m.Error != nil {
			p.warn("ssr: worker refused a request", "error", *m.Error)
		} else {
			p.warn("ssr: worker printed a line that is not a reply", "line", strings.TrimSpace(string(line)))
		}
		return
	}
	if *m.ID == 0 && m.Ready {
		p.mu.Lock()
		if !p.wasReady {
			p.wasReady = true
			close(p.ready)
		}
		p.mu.Unlock()
		return
	}
	p.replies.Add(1)
	p.mu.Lock()
	ch := p.pending[*m.ID]
	delete(p.pending, *m.ID)
	p.mu.Unlock()
	if ch == nil {
		return // its caller gave up (timeout or cancel)
	}
	var r reply
	switch {
	case m.Error != nil:
		r.err = &RenderError{Message: *m.Error}
	case m.HTML != nil:
		r.html, r.reads = *m.HTML, m.Reads
	case m.Bench != nil:
		r.bench = m.Bench
	}
	ch <- r
}

// readStderr logs what the worker prints on stderr and keeps its tail.
func (p *proc) readStderr(stderr io.Reader) {
	sc := bufio.NewScanner(stderr)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		p.logger("ssr: worker output", "line", line)
		p.mu.Lock()
		p.tail = append(p.tail, line)
		if len(p.tail) > tailLines {
			p.tail = p.tail[len(p.tail)-tailLines:]
		}
		p.mu.Unlock()
	}
	_, _ = io.Copy(io.Discard, stderr)
}

// kill ends the process, recording why.
func (p *proc) kill(why string) {
	p.mu.Lock()
	if p.pending == nil {
		p.mu.Unlock()
		return
	}
	if p.killWhy == "" {
		p.killWhy = why
	}
	p.doomed.Store(true)
	p.mu.Unlock()
	_ = p.cmd.Process.Kill()
}

// die records the process's end and fails every render in flight.
func (p *proc) die(waitErr error) {
	p.mu.Lock()
	why := p.killWhy
	if why != "" {
		why = "killed: " + why
	} else if waitErr != nil {
		why = "exited: " + waitErr.Error()
	} else {
		why = "exited"
	}
	msg := fmt.Sprintf("pid %d %s", p.pid, why)
	if !p.wasReady {
		msg += " before it said ready"
	}
	if len(p.tail) > 0 {
		msg += "; stderr: " + strings.Join(p.tail, " | ")
	}
	p.err = fmt.Errorf("%w: %s", ErrWorkerDied, msg)
	p.diedAt = time.Now()
	// Doomed before pending is dropped: a render that learns of the death
	// from a nil pending map and is retried at once must not be handed
	// this process again (see slot.get) while dead is not yet closed.
	p.doomed.Store(true)
	pending := p.pending
	p.pending = nil
	p.mu.Unlock()
	close(p.dead)
	_ = p.stdin.Close()
	for _, ch := range pending {
		ch <- reply{err: p.err}
	}
	select {
	case <-p.quit: // asked to exit
		p.logger("ssr: worker stopped", "reason", msg)
	default:
		p.warn("ssr: worker died; the next render starts another", "reason", msg)
	}
}

// shutdown asks the worker to exit once it has answered what was sent.
func (p *proc) shutdown() {
	p.doomed.Store(true)
	p.quitOnce.Do(func() { close(p.quit) })
}

// usable reports whether the process said ready and takes work.
func (p *proc) usable() bool {
	select {
	case <-p.ready:
		return !p.doomed.Load() && !p.isDead()
	default:
		return false
	}
}

// isDead reports whether the process has ended.
func (p *proc) isDead() bool {
	select {
	case <-p.dead:
		return true
	default:
		return false
	}
}

// errTimedOut is what call returns when ctx ended; the caller decides
// whether that was its own deadline.
type errTimedOut struct{ cause error }

func (e errTimedOut) Error() string { return e.cause.Error() }
func (e errTimedOut) Unwrap() error { return e.cause }

// call sends one request (params is a JSON object or nil) and waits for its
// reply, the process's death or the end of ctx. When ctx ends and the
// worker has answered nothing since the request was queued, the worker is
// taken as stuck and killed.
//
// Its errors are of three kinds, which decide whether a render is retried
// (see workerDied):
//   - a *RenderError: the worker answered with an error (the component
//     threw, could not be imported, has no default export; a malformed
//     request). The render failed by itself.
//   - errTimedOut: ctx ended (the render's timeout or its caller's
//     cancellation). The render failed by itself, too.
//   - p.err, wrapping [ErrWorkerDied]: the process ended before it
//     answered (whatever the cause: killed, crashed, EOF on its stdout, a
//     write to its stdin failed, killed by Mizan as stuck because of
//     another render). The render did not fail; its worker did.
func (p *proc) call(ctx context.Context, method string, params []byte) (reply, error) {
	id := p.nextID.Add(1)
	ch := make(chan reply, 1)
	p.mu.Lock()
	if p.pending == nil {
		err := p.err
		p.mu.Unlock()
		return reply{}, err
	}
	p.pending[id] = ch
	p.mu.Unlock()

	line := make([]byte, 0, 64+len(method)+len(params))
	line = fmt.Appendf(line, `{"id":%d,"method":%q`, id, method)
	line = appendTraceparent(ctx, line)
	if params != nil {
		line = append(append(line, `,"params":`...), params...)
	}
	line = append(line, "}\n"...)
	seen := p.replies.Load()
	select {
	case p.lines <- line:
	case <-p.dead:
		return p.await(ch)
	case <-ctx.Done():
		p.forget(id)
		return reply{}, errTimedOut{ctx.Err()}
	}
	p.inflight.Add(1)
	defer p.inflight.Add(-1)
	select {
	case r := <-ch:
		return r, r.err
	case <-p.dead:
		return p.await(ch)
	case <-ctx.Done():
		p.forget(id)
		if p.replies.Load() == seen {
			p.kill("it answered nothing while a render timed out (a component that never returns?)")
		}
		return reply{}, errTimedOut{ctx.Err()}
	}
}

// await returns the reply in ch once the process is dead: die delivers the
// death to every pending render, unless the reply came first.
func (p *proc) await(ch chan reply) (reply, error) {
	r := <-ch
	return r, r.err
}

// forget drops a pending render whose caller gave up.
func (p *proc) forget(id int64) {
	p.mu.Lock()
	if p.pending != nil {
		delete(p.pending, id)
	}
	p.mu.Unlock()
}

// slot is one place in the pool: the current process, replaced when it dies.
type slot struct {
	s  *settings
	mu sync.Mutex
	p  *proc
	// starts counts the processes started in this slot.
	starts int
}

// get returns the slot's running process, starting one if there is none
// (or it died), and waits until it is ready, the start fails, or ctx ends.
func (sl *slot) get(ctx context.Context, closed *atomic.Bool) (*proc, error) {
	sl.mu.Lock()
	p := sl.p
	if p == nil || p.isDead() || p.doomed.Load() {
		if closed.Load() {
			sl.mu.Unlock()
			return nil, ErrClosed
		}
		if p != nil {
			if ready, diedAt, err := p.state(); !ready && time.Since(diedAt) < restartBackoff {
				sl.mu.Unlock()
				return nil, fmt.Errorf("ssr: worker failed to start: %w", err)
			}
		}
		np, err := spawn(sl.s)
		if err != nil {
			sl.mu.Unlock()
			return nil, err
		}
		sl.p, p = np, np
		sl.starts++
	}
	sl.mu.Unlock()
	select {
	case <-p.ready:
		return p, nil
	case <-p.dead:
		return nil, fmt.Errorf("ssr: worker failed to start: %w", p.err)
	case <-ctx.Done():
		return nil, fmt.Errorf("ssr: waiting for the worker to start: %w", ctx.Err())
	}
}

// state reports, under p.mu, whether the process ever said ready, when it
// died and why (zero while it runs).
func (p *proc) state() (wasReady bool, diedAt time.Time, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.wasReady, p.diedAt, p.err
}

// current returns the slot's process, if any.
func (sl *slot) current() *proc {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	return sl.p
}

// load is the number of requests in flight on the slot's process.
func (sl *slot) load() int64 {
	if p := sl.current(); p != nil && !p.isDead() && !p.doomed.Load() {
		return p.inflight.Load()
	}
	return 0
}
