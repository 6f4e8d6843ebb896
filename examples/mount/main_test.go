package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5/middleware"
)

// TestMountInChi shows the app as a plain http.Handler mounted in a chi
// router next to the router's own routes and middleware.
func TestMountInChi(t *testing.T) {
	app, err := newApp(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	// A handler between chi and the app sees chi's middleware ran first.
	var reqIDs []string
	srv := httptest.NewServer(newRouter(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqIDs = append(reqIDs, middleware.GetReqID(r.Context()))
		app.ServeHTTP(w, r)
	})))
	defer srv.Close()

	get := func(path string) (int, string) {
		t.Helper()
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || body != "ok" {
		t.Errorf("chi's own route: %d %s", code, body)
	}
	if code, body := get("/api/mizan/ctx/user/?user_id=2"); code != 200 || !strings.Contains(body, `"name":"Grace"`) {
		t.Errorf("context fetch through chi: %d %s", code, body)
	}
	if code, body := get("/profile/1/"); code != 200 || body != "<h1>Ada</h1>" {
		t.Errorf("view through chi: %d %s", code, body)
	}
	res, err := http.Post(srv.URL+"/api/mizan/call/", "application/json", strings.NewReader(`{"fn":"update_profile","args":{"user_id":2,"name":"G"}}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("X-Mizan-Invalidate") != "user;user_id=2" {
		t.Errorf("call through chi: %d %v", res.StatusCode, res.Header)
	}
	if code, body := get("/api/mizan/ctx/user/?user_id=2"); code != 200 || !strings.Contains(body, `"name":"G"`) {
		t.Errorf("context fetch after the call: %d %s", code, body)
	}
	if code, _ := get("/no/such/route/"); code != 404 {
		t.Errorf("unknown path through chi: %d, want 404", code)
	}
	if len(reqIDs) != 5 {
		t.Fatalf("the app saw %d requests, want 5", len(reqIDs))
	}
	for i, id := range reqIDs {
		if id == "" {
			t.Errorf("request %d reached the app without chi's request ID", i)
		}
	}
}

// TestServe runs serve on a free port: it prints the address, answers
// through the router, and returns nil once its context is done.
func TestServe(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := serve(ctx, "127.0.0.1:0", pw, slog.New(slog.DiscardHandler))
		pw.CloseWithError(err)
		done <- err
	}()
	lines := bufio.NewScanner(pr)
	if !lines.Scan() {
		t.Fatalf("no output: %v", lines.Err())
	}
	rest, ok := strings.CutPrefix(lines.Text(), "listening on ")
	base, _, _ := strings.Cut(rest, " ")
	if !ok || !strings.HasPrefix(base, "http://127.0.0.1:") || strings.HasSuffix(base, ":0") {
		t.Fatalf("first line %q does not give the address", lines.Text())
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	res, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(b) != "ok" {
		t.Errorf("GET /healthz = %d %q", res.StatusCode, b)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return after its context was cancelled")
	}
	if err := serve(context.Background(), "256.0.0.1:99999", io.Discard, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("an unusable address was accepted")
	}
}
