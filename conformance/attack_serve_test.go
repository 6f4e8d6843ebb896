package conformance_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The slow-client attacks of the outside run, against fixture processes of
// their own whose limits the fixture's flags lower to a second: a body sent
// a byte at a time and never finished, and a keep-alive connection left
// idle, were held forever (200 of each still open after 60 s) before
// mizan.Serve set a read and an idle timeout; and one client address could
// open WebSockets without bound (2,000 in half a second) before the hub
// capped them. Each test would hang on its guard, or count one connection
// too many, without the limit it checks.

// serveTimeout is the read or idle timeout the fixture of these tests is
// given: short, so that the tests wait a second, not a minute.
const serveTimeout = time.Second

// slowByte is the pace of a slow body: a byte every slowByte, never the
// last one.
const slowByte = 200 * time.Millisecond

// ownFixture starts a fixture process for t alone, with args added to
// -addr 127.0.0.1:0, its origin cache and pub/sub in memory, and stops it
// when t ends.
func ownFixture(t *testing.T, args ...string) *fixtureProc {
	t.Helper()
	needProcess(t)
	p, err := startFixtureEnv(server.bin, []string{"MIZAN_PUBSUB_REDIS_URL=", "MIZAN_CACHE_REDIS_URL=", "MIZAN_CACHE_SECRET="},
		append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.stop(); err != nil {
			t.Errorf("fixture %q at %s: %v\nstderr:\n%s", args, p.url, err, p.stderr.String())
		}
	})
	return p
}

// closedBy is how a connection ended: the server closed it after
// (measured from before the client dialled, so never less than the
// server's timeout), and what the server sent before, if anything.
type closedBy struct {
	after time.Duration
	raw   string
}

// answer is the status line of what the server sent, "" for nothing.
func (c closedBy) answer() string {
	line, _, _ := strings.Cut(c.raw, "\n")
	return strings.TrimSpace(line)
}

// wantBadRequestIfAny fails t unless what the server sent before closing a
// slow body's connection is nothing or the envelope of §5, 400
// bad_request: whatever it answers is an answer of the protocol. (Nothing
// is possible: a reset after the answer may discard it.)
func wantBadRequestIfAny(t *testing.T, c closedBy) {
	t.Helper()
	if c.raw == "" {
		return
	}
	res, err := http.ReadResponse(bufio.NewReader(strings.NewReader(c.raw)), nil)
	if err != nil {
		t.Errorf("the server sent %q: %v", short(c.raw), err)
		return
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	wantRefusal(t, response{status: res.StatusCode, header: res.Header, body: body}, http.StatusBadRequest, "bad_request")
}

// untilClosed reads conn until the server closes it (EOF or a reset), at
// most until deadline, and reports when that was, counted from start. A
// connection still open at the deadline is an error: the server held it.
func untilClosed(conn net.Conn, r *bufio.Reader, start, deadline time.Time) (closedBy, error) {
	if err := conn.SetReadDeadline(deadline); err != nil {
		return closedBy{}, err
	}
	var got strings.Builder
	_, err := io.Copy(&got, r)
	c := closedBy{after: time.Since(start), raw: got.String()}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return c, fmt.Errorf("still open after %v: the server holds it (read %d bytes: %q)", c.after.Round(time.Millisecond), got.Len(), short(got.String()))
	}
	return c, nil // io.Copy's nil is EOF; any other error is a reset
}

// slowBody opens a connection to base and posts to call/ a body of
// 100,000 declared bytes, sending one every slowByte, never all of them,
// until the server closes the connection or the guard ends. It returns
// once the connection is closed.
func slowBody(base string, guard time.Duration) (closedBy, error) {
	start := time.Now()
	conn, err := net.DialTimeout("tcp", hostOf(base), attackWait)
	if err != nil {
		return closedBy{}, err
	}
	defer conn.Close()
	head := "POST " + prefix + "call/ HTTP/1.1\r\nHost: " + hostOf(base) +
		"\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n" + `{"fn":"update_profile","args":{"user_id":3,"name":"`
	if _, err := io.WriteString(conn, head); err != nil {
		return closedBy{}, fmt.Errorf("writing the headers: %w", err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(slowByte)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if _, err := conn.Write([]byte("x")); err != nil {
					return // closed by the server
				}
			}
		}
	}()
	c, err := untilClosed(conn, bufio.NewReader(conn), start, start.Add(guard))
	close(done)
	wg.Wait()
	return c, err
}

// idleConn opens a connection to base, makes two complete requests on it
// (the second shows it is kept alive), then sends nothing more, and returns
// once the server closes it; after counts from before the second request.
func idleConn(base string, guard time.Duration) (closedBy, error) {
	conn, err := net.DialTimeout("tcp", hostOf(base), attackWait)
	if err != nil {
		return closedBy{}, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(guard))
	r := bufio.NewReader(conn)
	var start time.Time
	for i := range 2 {
		start = time.Now()
		if _, err := io.WriteString(conn, "GET "+prefix+"ctx/subscription/ HTTP/1.1\r\nHost: "+hostOf(base)+"\r\n\r\n"); err != nil {
			return closedBy{}, fmt.Errorf("request %d: %w", i+1, err)
		}
		res, err := http.ReadResponse(r, nil)
		if err != nil {
			return closedBy{}, fmt.Errorf("request %d: %w", i+1, err)
		}
		_, err = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusOK || res.Close {
			return closedBy{}, fmt.Errorf("request %d: %d, close %v, %v: want 200 on a kept-alive connection", i+1, res.StatusCode, res.Close, err)
		}
	}
	return untilClosed(conn, r, start, start.Add(guard))
}

// wantClosedAfterTimeout fails t unless c ended no sooner than the
// server's timeout: the server read (or waited) until it, rather than
// refusing the connection for another reason.
func wantClosedAfterTimeout(t *testing.T, what string, c closedBy, timeout time.Duration) {
	t.Helper()
	// The server's deadline starts after the client's clock did (after the
	// dial, or after the request was sent): only a closing for another
	// reason can come sooner. The slack is for the clocks' granularity.
	if c.after < timeout-50*time.Millisecond {
		t.Errorf("%s: closed after %v, before the %v timeout (answer %q): not by the timeout", what, c.after, timeout, c.answer())
	}
}

// TestAttackSlowBody: a POST whose body comes a byte every 200 ms, never
// finished, is closed once the read timeout has passed (-read-timeout; the
// idle timeout stays at its two minutes, and net/http's ReadHeaderTimeout
// covers only the headers). Without ReadTimeout the server would read the
// body for as long as the client sends it.
func TestAttackSlowBody(t *testing.T) {
	t.Parallel()
	p := ownFixture(t, "-read-timeout", serveTimeout.String())
	c, err := slowBody(p.url, attackWait)
	if err != nil {
		t.Fatalf("a slow body: %v", err)
	}
	wantClosedAfterTimeout(t, "a slow body", c, serveTimeout)
	wantBadRequestIfAny(t, c)
	t.Logf("a slow body (a byte every %v) under -read-timeout %v: closed after %v, answered %q", slowByte, serveTimeout, c.after.Round(time.Millisecond), c.answer())
}

// TestAttackIdleConnection: a keep-alive connection left idle after its
// requests is closed once the idle timeout has passed (-idle-timeout; the
// read timeout stays at its 30 s, which net/http would use for an idle
// connection without IdleTimeout).
func TestAttackIdleConnection(t *testing.T) {
	t.Parallel()
	p := ownFixture(t, "-idle-timeout", serveTimeout.String())
	c, err := idleConn(p.url, attackWait)
	if err != nil {
		t.Fatalf("an idle connection: %v", err)
	}
	wantClosedAfterTimeout(t, "an idle connection", c, serveTimeout)
	if c.raw != "" {
		t.Errorf("an idle connection: the server sent %q before closing it, want nothing", short(c.raw))
	}
	t.Logf("an idle keep-alive connection under -idle-timeout %v: closed after %v", serveTimeout, c.after.Round(time.Millisecond))
}

// TestAttackManySlowClients: 50 slow bodies and 50 idle connections at
// once are all closed: the timeouts are per connection, and holding many
// buys a client nothing.
func TestAttackManySlowClients(t *testing.T) {
	t.Parallel()
	const slow, idle = 50, 50
	p := ownFixture(t, "-read-timeout", serveTimeout.String(), "-idle-timeout", serveTimeout.String())
	start := time.Now()
	type result struct {
		kind string
		c    closedBy
		err  error
	}
	results := make(chan result, slow+idle)
	for i := range slow + idle {
		go func() {
			if i < slow {
				c, err := slowBody(p.url, attackWait)
				results <- result{"a slow body", c, err}
				return
			}
			c, err := idleConn(p.url, attackWait)
			results <- result{"an idle connection", c, err}
		}()
	}
	closed := map[string]int{}
	var longest time.Duration
	for range slow + idle {
		r := <-results
		if r.err != nil {
			t.Errorf("%s: %v", r.kind, r.err)
			continue
		}
		wantClosedAfterTimeout(t, r.kind, r.c, serveTimeout)
		if r.kind == "a slow body" {
			wantBadRequestIfAny(t, r.c)
		} else if r.c.raw != "" {
			t.Errorf("an idle connection: the server sent %q before closing it, want nothing", short(r.c.raw))
		}
		closed[r.kind]++
		longest = max(longest, r.c.after)
	}
	if closed["a slow body"] != slow || closed["an idle connection"] != idle {
		t.Errorf("closed by the server: %d of %d slow bodies, %d of %d idle connections", closed["a slow body"], slow, closed["an idle connection"], idle)
	}
	t.Logf("%d slow bodies and %d idle connections at once under timeouts of %v: %d and %d closed by the server, the last after %v (all within %v)",
		slow, idle, serveTimeout, closed["a slow body"], closed["an idle connection"], longest.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// wsHeld is an upgrade request to ws/ of base on a connection of its own:
// the connection, kept open when the answer is 101, and the answer.
func wsHeld(t *testing.T, base string) (net.Conn, response) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", hostOf(base), attackWait)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(attackWait))
	if _, err := io.WriteString(conn, wsUpgrade(base)); err != nil {
		conn.Close()
		t.Fatalf("writing the upgrade: %v", err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		conn.Close()
		t.Fatalf("reading the answer to the upgrade: %v", err)
	}
	if res.StatusCode == http.StatusSwitchingProtocols {
		_ = conn.SetDeadline(time.Time{})
		t.Cleanup(func() { _ = conn.Close() })
		return conn, response{status: res.StatusCode, header: res.Header}
	}
	defer conn.Close()
	body, _ := io.ReadAll(res.Body)
	return nil, response{status: res.StatusCode, header: res.Header, body: body}
}

// TestAttackWSConnectionCap: one client address holds at most
// -ws-max-per-client WebSockets; the next upgrade is refused before it
// happens with the envelope of docs/live.md, 429 rate_limited and
// Retry-After: 5, and a socket closed frees its slot for a new one. The
// hub's total cap (-ws-max-connections) likewise refuses with 503
// unavailable.
func TestAttackWSConnectionCap(t *testing.T) {
	t.Parallel()
	const limit = 4
	// open holds limit sockets on base.
	open := func(t *testing.T, base string) []net.Conn {
		t.Helper()
		held := make([]net.Conn, 0, limit)
		for i := range limit {
			conn, r := wsHeld(t, base)
			if r.status != http.StatusSwitchingProtocols {
				t.Fatalf("upgrade %d of %d: %d %s, want 101", i+1, limit, r.status, short(string(r.body)))
			}
			held = append(held, conn)
		}
		return held
	}

	t.Run("per client", func(t *testing.T) {
		p := ownFixture(t, "-ws-max-per-client", strconv.Itoa(limit))
		held := open(t, p.url)
		_, r := wsHeld(t, p.url)
		wantRefusal(t, r, http.StatusTooManyRequests, "rate_limited")
		if got := r.header.Get("Retry-After"); got != "5" {
			t.Errorf("Retry-After %q, want 5 (live.RetryAfterSeconds)", got)
		}
		// Closing one frees its slot once the hub has seen the close: until
		// then an upgrade is still refused, with the same answer.
		_ = held[0].Close()
		deadline := time.Now().Add(attackWait)
		refused := 0
		for {
			conn, r := wsHeld(t, p.url)
			if conn != nil {
				break
			}
			if wantRefusal(t, r, http.StatusTooManyRequests, "rate_limited"); t.Failed() {
				return
			}
			if refused++; time.Now().After(deadline) {
				t.Fatalf("a socket closed, yet %d upgrades in %v were refused: its slot was not freed", refused, attackWait)
			}
			time.Sleep(20 * time.Millisecond)
		}
		// The new socket took the freed slot: the cap holds again.
		_, r = wsHeld(t, p.url)
		wantRefusal(t, r, http.StatusTooManyRequests, "rate_limited")
		t.Logf("-ws-max-per-client %d: upgrade %d refused with 429 rate_limited; after a close, %d refused while the hub noticed, then one accepted", limit, limit+1, refused)
	})

	t.Run("in total", func(t *testing.T) {
		p := ownFixture(t, "-ws-max-connections", strconv.Itoa(limit), "-ws-max-per-client", "-1")
		open(t, p.url)
		_, r := wsHeld(t, p.url)
		wantRefusal(t, r, http.StatusServiceUnavailable, "unavailable")
	})
}

// TestCommandLimitFlags: a limit flag that the options would read as
// "the default" (a timeout of zero or less, a cap of zero) is a usage
// error, exit status 2, rather than a limit silently not lowered.
func TestCommandLimitFlags(t *testing.T) {
	needProcess(t)
	for _, args := range [][]string{
		{"-read-timeout", "0s"}, {"-idle-timeout", "-1s"}, {"-write-timeout", "0s"}, {"-read-header-timeout", "0s"},
		{"-ws-max-connections", "0"}, {"-ws-max-per-client", "0"}, {"-read-timeout", "soon"}, {"-ws-max-per-client", "four"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, server.bin, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Fatalf("exit %v, want status 2\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
			}
			if !strings.Contains(stderr.String(), args[0]) {
				t.Errorf("stderr %q does not name %s", stderr.String(), args[0])
			}
		})
	}
}
