package mizan_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mizan-afi/mizan"
)

// startServer serves h with mizan.Serve and opts on a loopback port, and
// returns its address and a function that shuts it down and returns what
// Serve returned.
func startServer(t *testing.T, h http.Handler, o mizan.ServerOptions) (string, func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mizan.Serve(ctx, ln, h, o) }()
	stopped := false
	stop := func() error {
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			return fmt.Errorf("Serve did not return")
		}
	}
	t.Cleanup(func() {
		if !stopped {
			_ = stop()
		}
	})
	return ln.Addr().String(), stop
}

// closedWithin reports whether the server closes c within d (a read
// returns an error: EOF or reset), reading and discarding what it sends.
func closedWithin(c net.Conn, d time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// TestServerClosesSlowBodiesAndIdleConnections: the attack run held 200
// slow-body POSTs and 200 idle keep-alives open for 60 s against servers
// that set only ReadHeaderTimeout.
func TestServerClosesSlowBodiesAndIdleConnections(t *testing.T) {
	app := mizan.New(mizan.Config{})
	mizan.Mutation(app, func(context.Context, struct{}) (ok, error) { return ok{true}, nil }, mizan.Name("noop"))
	addr, _ := startServer(t, app, mizan.ServerOptions{ReadTimeout: 300 * time.Millisecond, IdleTimeout: 300 * time.Millisecond})

	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fmt.Fprintf(slow, "POST /api/mizan/call/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
	go func() { // one byte now and then, never the whole body
		for range 100 {
			time.Sleep(50 * time.Millisecond)
			if _, err := slow.Write([]byte(" ")); err != nil {
				return
			}
		}
	}()
	if !closedWithin(slow, 10*time.Second) {
		t.Error("a slow body was still open after 10 s with a 300 ms ReadTimeout")
	}

	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	fmt.Fprintf(idle, "GET /api/mizan/session/ HTTP/1.1\r\nHost: x\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(idle), nil)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("keep-alive request: %v %v", res, err)
	}
	if !closedWithin(idle, 10*time.Second) {
		t.Error("an idle keep-alive was still open after 10 s with a 300 ms IdleTimeout")
	}
}

// TestServeDrainsThenShutsDown: a request in flight when shutdown starts
// completes; OnShutdown runs after it; Serve returns nil.
func TestServeDrainsThenShutsDown(t *testing.T) {
	started := make(chan struct{})
	var finished, hooked atomic.Bool
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(200 * time.Millisecond)
		finished.Store(true)
		_, _ = io.WriteString(w, "done")
	})
	addr, stop := startServer(t, h, mizan.ServerOptions{OnShutdown: []func(context.Context) error{
		func(context.Context) error {
			if !finished.Load() {
				return fmt.Errorf("OnShutdown ran before the request drained")
			}
			hooked.Store(true)
			return nil
		},
	}})
	got := make(chan string, 1)
	go func() {
		res, err := http.Get("http://" + addr + "/")
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		got <- string(b)
	}()
	<-started
	if err := stop(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if body := <-got; body != "done" {
		t.Errorf("the request in flight got %q", body)
	}
	if !hooked.Load() {
		t.Error("OnShutdown was not called")
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("still accepting connections after shutdown")
	}
}

func TestNewServerDefaults(t *testing.T) {
	s := mizan.NewServer(":0", http.NotFoundHandler(), mizan.ServerOptions{})
	if s.ReadHeaderTimeout != mizan.DefaultReadHeaderTimeout || s.ReadTimeout != mizan.DefaultReadTimeout ||
		s.WriteTimeout != mizan.DefaultWriteTimeout || s.IdleTimeout != mizan.DefaultIdleTimeout ||
		s.MaxHeaderBytes != mizan.DefaultMaxHeaderBytes || !strings.HasPrefix(s.Addr, ":") {
		t.Errorf("defaults: %+v", s)
	}
}
