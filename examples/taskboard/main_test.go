package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestUIHandler(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "ui")
	if err := os.MkdirAll(filepath.Join(dir, "assets"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(parent, "secret.txt"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{
		"index.html":       "<!doctype html><div id=root></div>",
		"assets/app-1.js":  "console.log(1)",
		"favicon.svg":      "<svg/>",
		"assets/style.css": "body{}",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := newClient(t, newTestServer(t, uiHandler(dir)))
	for _, tc := range []struct {
		method, path string
		status       int
		body, cache  string
	}{
		{"GET", "/", 200, "<div id=root>", "no-cache"},
		{"GET", "/projects/1", 200, "<div id=root>", "no-cache"},
		{"GET", "/projects/1/tasks/3", 200, "<div id=root>", "no-cache"},
		{"GET", "/assets/app-1.js", 200, "console.log(1)", "public, max-age=31536000, immutable"},
		{"GET", "/favicon.svg", 200, "<svg/>", ""},
		{"GET", "/assets/missing.js", 404, "", ""},
		{"GET", "/../secret.txt", 404, "", ""},
		{"GET", "/assets/../../secret.txt", 404, "", ""},
		{"POST", "/projects/1", 405, "", ""},
		{"GET", "/api/mizan/nope/", 404, `"not_found"`, "no-store"}, // the endpoints are Mizan's, not the UI's
		{"GET", "/projects/1/print/", 200, "Website relaunch", "no-store"},
	} {
		r := c.do(tc.method, tc.path, "", "")
		if r.status != tc.status || !strings.Contains(string(r.body), tc.body) || r.header.Get("Cache-Control") != tc.cache {
			t.Errorf("%s %s = %d %q (Cache-Control %q), want %d with %q (%q)",
				tc.method, tc.path, r.status, r.body, r.header.Get("Cache-Control"), tc.status, tc.body, tc.cache)
		}
	}

	unbuilt := newClient(t, newTestServer(t, uiHandler(filepath.Join(dir, "missing"))))
	if r := unbuilt.do("GET", "/", "", ""); r.status != 503 || !strings.Contains(string(r.body), "bash examples/taskboard/run.sh") {
		t.Errorf("GET / without a built UI = %d %s", r.status, r.body)
	}
}

func TestOpenDB(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "dir", "taskboard.db")
	count := func() (n int) {
		db, _, err := openDB(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.QueryRow("SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM tasks)").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	first := count()
	if want := len(seedUsers) + len(seedTasks); first != want {
		t.Fatalf("seeded %d users and tasks, want %d", first, want)
	}
	db, created, err := openDB(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if created {
		t.Error("the second openDB reported a new database")
	}
	key, err := jwtKey(ctx, db)
	if err != nil || len(key) != 32 {
		t.Errorf("jwtKey = %x, %v", key, err)
	}
	db.Close()
	if count() != first {
		t.Error("reopening seeded the database again")
	}
	db, _, err = openDB(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA user_version = 7"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, _, err := openDB(ctx, path); err == nil || !strings.Contains(err.Error(), "schema version 7") {
		t.Errorf("openDB of a database of another version: %v", err)
	}
	if _, _, err := openDB(ctx, "a?b"); err == nil {
		t.Error("openDB accepted a path with '?'")
	}
}

func TestRunWritesIR(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ir.kdl")
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"-ir", path, "-db", "/nonexistent/dir/never-opened.db"}, io.Discard, &stderr); code != 0 {
		t.Fatalf("run -ir = %d: %s", code, stderr.String())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ir := string(b)
	for _, want := range []string{
		`function "add_task" kind="mutation" auth="required"`,
		`function "create_project" kind="mutation" auth="staff"`,
		`function "members" kind="query" context="directory" auth="required" shared=true`,
		`affects context="project" function="project_tasks"`,
		`function "project_print"`,
		`route "/projects/{project_id}/print/"`,
	} {
		if !strings.Contains(ir, want) {
			t.Errorf("the IR lacks %s", want)
		}
	}
	for _, args := range [][]string{{"extra"}, {"-nope"}} {
		if code := run(context.Background(), args, io.Discard, io.Discard); code != 2 {
			t.Errorf("run %q = %d, want 2", args, code)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRunServes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db := filepath.Join(t.TempDir(), "taskboard.db")
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-db", db, "-ui", t.TempDir()}, &stdout, &stderr)
	}()

	listening := regexp.MustCompile(`Taskboard listening on (http://\S+)/`)
	var base string
	for deadline := time.Now().Add(10 * time.Second); base == ""; time.Sleep(20 * time.Millisecond) {
		if m := listening.FindStringSubmatch(stdout.String()); m != nil {
			base = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("no URL printed in 10s; stdout %q, stderr %q", stdout.String(), stderr.String())
		}
	}
	// The UI directory has no build manifest: the pages are rendered in
	// the browser, and stderr says why.
	if !strings.Contains(stderr.String(), "SSR off, pages are rendered in the browser") || !strings.Contains(stdout.String(), "Pages: in the browser") {
		t.Errorf("no word of SSR being off: stdout %q, stderr %q", stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), db+" (created and seeded)") {
		t.Errorf("stdout %q does not say the database was created", stdout.String())
	}
	res, err := http.Get(base + "/api/mizan/ctx/board/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(b), "Website relaunch") {
		t.Errorf("ctx/board/ = %d %s", res.StatusCode, b)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("run = %d after shutdown: %s", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after its context was cancelled")
	}

	// A second start opens the same database without seeding it again.
	stdout = syncBuffer{}
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() { done <- run(ctx2, []string{"-addr", "127.0.0.1:0", "-db", db}, &stdout, io.Discard) }()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(stdout.String(), "listening on"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("second start: no URL in 10s: %q", stdout.String())
		}
	}
	cancel2()
	<-done
	if !strings.Contains(stdout.String(), db+" (opened)") {
		t.Errorf("second start: stdout %q does not say the database was opened", stdout.String())
	}
}

func TestPageErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("<!doctype html><div id=root></div>"), 0o644); err != nil {
		t.Fatal(err)
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/projects/1", "/projects/1/print/", "/projects/1/tasks/new":
			w.Header().Set("X-Mizan-Render", "psr-hit")
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write([]byte("rendered"))
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":{"code":"not_found"}}`))
		}
	})
	srv := httptest.NewServer(pageErrors(app, dir))
	defer srv.Close()
	for _, tc := range []struct {
		path, render, body string
		status             int
	}{
		{"/projects/1", "psr-hit", "rendered", 200},
		{"/projects/999", "", "<!doctype html><div id=root></div>", 404},
		{"/projects/1/print/", "psr-hit", "rendered", 200},
		{"/projects/1/tasks/new", "psr-hit", "rendered", 200},
		{"/projects/999/tasks/new", "", "<!doctype html><div id=root></div>", 404},
		{"/projects/999/tasks/edit", "", "<!doctype html><div id=root></div>", 404},
		{"/projects/999/tasks/3", "", `{"error":{"code":"not_found"}}`, 404},
		{"/projects/999/print/", "", `{"error":{"code":"not_found"}}`, 404},
		{"/api/mizan/ctx/nope/", "", `{"error":{"code":"not_found"}}`, 404},
	} {
		res, err := http.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tc.status || string(b) != tc.body || res.Header.Get("X-Mizan-Render") != tc.render {
			t.Errorf("GET %s = %d %q (render %q), want %d %q (%q)", tc.path, res.StatusCode, b, res.Header.Get("X-Mizan-Render"), tc.status, tc.body, tc.render)
		}
	}
}
