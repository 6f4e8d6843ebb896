//go:build unix

// Package redistest runs throwaway redis-server processes for tests: a
// single node ([Start]), a Sentinel ([StartSentinel]) or a small Redis
// Cluster ([StartCluster]), on free loopback ports, with their files in a
// temporary directory, killed when the test ends.
//
// When redis-server is not on PATH the test is skipped, except when the
// environment variable CI is "true": a test that needs Redis then fails, so
// that a CI machine without Redis cannot pass by skipping.
package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds how long a server may take to answer PING.
const startTimeout = 10 * time.Second

// Server is one redis-server process started by [Start].
type Server struct {
	// Addr is the server's host:port on the loopback interface.
	Addr string

	t       testing.TB
	bin     string
	dir     string
	port    int
	cluster bool
	monitor string // for a Sentinel: "<master name> <master port>"

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	log  string
	gen  int // number of processes started, for log names
}

// Start starts a redis-server on a free loopback port, with persistence off
// and its files in a temporary directory, waits until it answers PING, and
// kills it when the test ends. It skips the test when redis-server is not
// installed, unless CI is "true", where it fails the test.
func Start(t testing.TB) *Server {
	t.Helper()
	return start(t, false)
}

// StartSentinel starts a Redis Sentinel that monitors master under the
// given master name, like [Start] otherwise, and waits until it reports the
// master's address. Clients reach the master through it with the master
// name and the Sentinel's Addr.
func StartSentinel(t testing.TB, master *Server, name string) *Server {
	t.Helper()
	s := startMode(t, false, name+" "+strconv.Itoa(master.port))
	deadline := time.Now().Add(startTimeout)
	for {
		addr, err := Do(s.Addr, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", name)
		if err == nil && addr == "127.0.0.1\n"+strconv.Itoa(master.port) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: sentinel does not report master %q at %s: %q, %v", name, master.Addr, addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func start(t testing.TB, cluster bool) *Server {
	t.Helper()
	return startMode(t, cluster, "")
}

func startMode(t testing.TB, cluster bool, monitor string) *Server {
	t.Helper()
	bin := lookPath(t)
	dir := t.TempDir()
	var lastErr error
	for range 5 { // a free port can be taken between probe and use; retry
		port, err := freePort()
		if err != nil {
			t.Fatalf("redistest: %v", err)
		}
		s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), t: t, bin: bin, dir: dir, port: port,
			cluster: cluster, monitor: monitor}
		if lastErr = s.launch(); lastErr == nil {
			t.Cleanup(s.cleanup)
			return s
		}
	}
	t.Fatalf("redistest: %v", lastErr)
	return nil
}

// lookPath finds redis-server, or skips (fails in CI) without it.
func lookPath(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redistest: redis-server is required in CI (CI=true): %v", err)
		}
		t.Skipf("redistest: redis-server not installed: %v", err)
	}
	return bin
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// launch starts a process on s.port and waits until it answers PING.
func (s *Server) launch() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	s.log = filepath.Join(s.dir, fmt.Sprintf("redis-%d-%d.log", s.port, s.gen))
	logf, err := os.Create(s.log)
	if err != nil {
		return err
	}
	defer logf.Close()
	var args []string
	if s.monitor != "" {
		// A Sentinel must run from a config file it can rewrite.
		name, port, _ := strings.Cut(s.monitor, " ")
		conf := filepath.Join(s.dir, fmt.Sprintf("sentinel-%d-%d.conf", s.port, s.gen))
		body := fmt.Sprintf("sentinel monitor %s 127.0.0.1 %s 1\n", name, port)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			return err
		}
		args = []string{conf, "--sentinel"}
	}
	args = append(args,
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--dir", s.dir,
		"--dbfilename", fmt.Sprintf("dump-%d.rdb", s.port),
	)
	if s.cluster {
		args = append(args,
			"--cluster-enabled", "yes",
			"--cluster-config-file", fmt.Sprintf("nodes-%d-%d.conf", s.port, s.gen),
			"--cluster-node-timeout", "5000")
	}
	cmd := exec.Command(s.bin, args...)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	s.cmd, s.done = cmd, done

	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-done:
			return fmt.Errorf("redis-server on port %d exited at start: %s", s.port, s.tail())
		default:
		}
		// The server answering must be ours, not one that took the port.
		if info, err := Do(s.Addr, "INFO", "server"); err == nil {
			if !strings.Contains(info, "process_id:"+strconv.Itoa(cmd.Process.Pid)+"\r\n") {
				_ = cmd.Process.Kill()
				<-done
				return fmt.Errorf("port %d answered by another process", s.port)
			}
			return nil
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			return fmt.Errorf("redis-server on port %d did not answer PING within %v: %s", s.port, startTimeout, s.tail())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// tail returns the end of the current log, for error messages.
func (s *Server) tail() string {
	b, _ := os.ReadFile(s.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// URL returns the server's URL, database 0: redis://127.0.0.1:<port>/0.
func (s *Server) URL() string { return "redis://" + s.Addr + "/0" }

// Pid returns the process id of the running server, 0 when killed.
func (s *Server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Stop suspends the server (SIGSTOP): connections stay open and the kernel
// keeps accepting new ones, but nothing is answered — a stalled Redis.
func (s *Server) Stop() { s.signal(syscall.SIGSTOP) }

// Cont resumes a server suspended by [Server.Stop] (SIGCONT).
func (s *Server) Cont() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		s.t.Fatalf("redistest: signal %v: server on port %d is not running", sig, s.port)
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("redistest: signal %v: %v", sig, err)
	}
}

// Kill kills the server (SIGKILL) and waits for it to exit; its port then
// refuses connections. Its data is lost.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kill()
}

func (s *Server) kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGCONT) // a stopped process dies on SIGKILL too, but be plain
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd, s.done = nil, nil
}

// Restart starts a new, empty server on the same port, killing the current
// one first if it still runs, and waits until it answers PING.
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	var err error
	for range 50 { // the port may linger briefly after the kill
		if err = s.launch(); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("redistest: restart: %v", err)
}

func (s *Server) cleanup() { s.Kill() }

// Cluster is a Redis Cluster of masters without replicas, started by
// [StartCluster].
type Cluster struct {
	// Nodes are the cluster's masters.
	Nodes []*Server
}

// Addrs returns the addresses of the cluster's nodes, the seeds a cluster
// client takes.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = n.Addr
	}
	return addrs
}

// StartCluster starts a Redis Cluster of n masters (n >= 1), the 16384 hash
// slots split evenly between them, and waits until every node reports the
// cluster healthy and knows every other node — about two seconds, as a
// Redis master waits that long after start before it declares its cluster
// usable. The nodes are killed when the test ends. Like [Start] it skips
// the test without redis-server, except in CI.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	if n < 1 {
		t.Fatalf("redistest: a cluster needs at least one node, not %d", n)
	}
	c := &Cluster{}
	for range n {
		c.Nodes = append(c.Nodes, start(t, true))
	}
	const slots = 16384
	for i, node := range c.Nodes {
		lo, hi := i*slots/n, (i+1)*slots/n-1
		if _, err := Do(node.Addr, "CLUSTER", "ADDSLOTSRANGE", strconv.Itoa(lo), strconv.Itoa(hi)); err != nil {
			t.Fatalf("redistest: assign slots %d-%d to %s: %v", lo, hi, node.Addr, err)
		}
	}
	// Every pair meets directly, rather than learning of each other by
	// gossip, which takes longer.
	for i, a := range c.Nodes {
		for _, b := range c.Nodes[i+1:] {
			if _, err := Do(a.Addr, "CLUSTER", "MEET", "127.0.0.1", strconv.Itoa(b.port)); err != nil {
				t.Fatalf("redistest: cluster meet %s %s: %v", a.Addr, b.Addr, err)
			}
		}
	}
	deadline := time.Now().Add(startTimeout)
	for !c.ready() {
		if time.Now().After(deadline) {
			info, _ := Do(c.Nodes[0].Addr, "CLUSTER", "INFO")
			t.Fatalf("redistest: cluster of %d nodes not ready within %v:\n%s", n, startTimeout, info)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return c
}

// ready reports whether every node sees a healthy cluster of all nodes.
func (c *Cluster) ready() bool {
	want := "cluster_known_nodes:" + strconv.Itoa(len(c.Nodes))
	for _, node := range c.Nodes {
		info, err := Do(node.Addr, "CLUSTER", "INFO")
		if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, want) {
			return false
		}
	}
	return true
}

// Do sends one command to the server at addr on a new connection and
// returns its reply as text: a status or bulk string as is, an integer in
// decimal, a nil reply as "", an array as its elements one per line. A Redis
// error reply is returned as an error. It is for setting servers up; tests
// of the code under test use a real client.
func Do(addr string, args ...string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(conn, b.String()); err != nil {
		return "", err
	}
	return readReply(bufio.NewReader(conn))
}

// readReply reads one RESP2 reply.
func readReply(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", errors.New("redistest: empty reply line")
	}
	switch body := line[1:]; line[0] {
	case '+', ':':
		return body, nil
	case '-':
		return "", errors.New(body)
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return "", err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil {
			return "", err
		}
		elems := make([]string, 0, max(n, 0))
		for range n {
			e, err := readReply(r)
			if err != nil {
				return "", err
			}
			elems = append(elems, e)
		}
		return strings.Join(elems, "\n"), nil
	default:
		return "", fmt.Errorf("redistest: unexpected reply %q", line)
	}
}
