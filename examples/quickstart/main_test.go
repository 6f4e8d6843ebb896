package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// newTestServer serves a fresh quickstart app, with the origin cache on.
func newTestServer(t *testing.T) *httptest.Server {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := newMemoryCache(logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	app, err := newApp(newStore(), c, logger)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)
	return srv
}

// response is what a test request got back.
type response struct {
	status int
	header http.Header
	body   string
}

// json decodes the body into a generic value.
func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatalf("body is not a JSON object: %q", r.body)
	}
	return v
}

// send makes one request without following redirects.
func send(t *testing.T, req *http.Request) response {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: string(b)}
}

// request makes the request a demo curl line makes.
func (d demoCall) request(t *testing.T, base string) response {
	t.Helper()
	var body io.Reader
	if d.body != "" {
		body = strings.NewReader(d.body)
	}
	req, err := http.NewRequest(d.method, base+d.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if d.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if d.user != "" {
		req.Header.Set("X-Demo-User", d.user)
	}
	return send(t, req)
}

func get(t *testing.T, url string, headers ...string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return send(t, req)
}

func call(t *testing.T, base, fn string, args any, headers ...string) response {
	t.Helper()
	b, err := json.Marshal(map[string]any{"fn": fn, "args": args})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, base+"/api/mizan/call/", strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return send(t, req)
}

func postForm(t *testing.T, url string, form url.Values, headers ...string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return send(t, req)
}

func jsonText(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDemoCalls makes every printed curl request, in the printed order, and
// checks what a reader is told to expect.
func TestDemoCalls(t *testing.T) {
	srv := newTestServer(t)
	want := map[string]struct {
		status     int
		invalidate string // X-Mizan-Invalidate
		body       string // exact body
	}{
		"fetch": {200, "", `{"board_info":{"id":1,"name":"Launch","tasks":2,"open":2},"board_tasks":[` +
			`{"id":1,"title":"Write the docs","done":false,"created_by":"ada"},` +
			`{"id":2,"title":"Tag v0.1.0","done":false,"created_by":"ada"}]}`},
		"add": {200, "board;board_id=1",
			`{"result":{"id":4,"title":"Try Mizan","done":false,"created_by":"anonymous"},"invalidate":[{"context":"board","params":{"board_id":1}}]}`},
		"rename": {200, "board;board_id=1",
			`{"result":{"ok":true},"invalidate":[{"context":"board","function":"board_info","params":{"board_id":1}}]}`},
		"delete-anonymous": {401, "", `{"error":{"code":"unauthorized","message":"authentication required"}}`},
		"delete": {200, "board;board_id=1",
			`{"result":{"ok":true},"invalidate":[{"context":"board","params":{"board_id":1}}]}`},
		"reset":  {200, "board", `{"result":{"ok":true},"invalidate":["board"]}`},
		"global": {200, "", `{"current_user":{"id":"ada"}}`},
	}
	if len(want) != len(demoCalls) {
		t.Fatalf("%d expectations for %d demo calls", len(want), len(demoCalls))
	}
	for _, d := range demoCalls {
		w, ok := want[d.name]
		if !ok {
			t.Fatalf("no expectation for demo call %q", d.name)
		}
		r := d.request(t, srv.URL)
		if r.status != w.status || r.body != w.body {
			t.Errorf("%s: %d %s\nwant %d %s", d.name, r.status, r.body, w.status, w.body)
		}
		if got := r.header.Get("X-Mizan-Invalidate"); got != w.invalidate {
			t.Errorf("%s: X-Mizan-Invalidate %q, want %q", d.name, got, w.invalidate)
		}
		if got := r.header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("%s: Cache-Control %q", d.name, got)
		}
	}
}

// TestCurlLines checks the printed command lines themselves.
func TestCurlLines(t *testing.T) {
	var out strings.Builder
	printIntro(&out, "http://127.0.0.1:8080", true)
	for _, line := range []string{
		"Mizan quickstart listening on http://127.0.0.1:8080",
		"curl -si 'http://127.0.0.1:8080/api/mizan/ctx/board/?board_id=1'",
		`curl -si 'http://127.0.0.1:8080/api/mizan/call/' -H 'Content-Type: application/json' -d '{"fn":"add_task","args":{"board_id":1,"title":"Try Mizan"}}'`,
		`curl -si 'http://127.0.0.1:8080/api/mizan/call/' -H 'X-Demo-User: ada' -H 'Content-Type: application/json' -d '{"fn":"delete_task","args":{"board_id":1,"task_id":2}}'`,
	} {
		if !strings.Contains(out.String(), line+"\n") {
			t.Errorf("intro lacks the line\n%s\nin\n%s", line, out.String())
		}
	}
}

// TestREADMEShowsTheDemoCalls keeps the README's copy of the curl lines in
// step with the ones the example prints.
func TestREADMEShowsTheDemoCalls(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Skipf("no README next to the module: %v", err)
	}
	for _, d := range demoCalls {
		if line := d.curl("http://127.0.0.1:8080"); !strings.Contains(string(readme), line+"\n") {
			t.Errorf("README.md lacks the demo line\n%s", line)
		}
	}
}

// TestREADMEQuickStartBuilds compiles the Go program of the README's
// "Quick start" as it stands, against the framework in this clone: through
// an overlay, as a package of this module that exists for the build only.
func TestREADMEQuickStartBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Skipf("no README next to the module: %v", err)
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command: %v", err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Quick start\n")
	if !ok {
		t.Fatal(`README.md has no "## Quick start" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	_, code, ok := strings.Cut(section, "\n```go\n")
	if ok {
		code, _, ok = strings.Cut(code, "\n```\n")
	}
	if !ok || !strings.HasPrefix(code, "package main\n") {
		t.Fatal("the Quick start section has no ```go block holding a package main")
	}
	for _, want := range []string{"mizan.ListenAndServe(", "mizan.ServerOptions{"} {
		if !strings.Contains(code, want) {
			t.Errorf("the Quick start program does not call %s", want)
		}
	}
	tmp := t.TempDir()
	src := filepath.Join(tmp, "main.go")
	if err := os.WriteFile(src, []byte(code+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	virtual, err := filepath.Abs(filepath.Join("readme_quickstart", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	overlay, err := json.Marshal(map[string]any{"Replace": map[string]string{virtual: src}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "overlay.json"), overlay, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(goCmd, "build", "-overlay", filepath.Join(tmp, "overlay.json"), "-o", filepath.Join(tmp, "quickstart"), "./readme_quickstart")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the README's Quick start does not build: %v\n%s\n%s", err, out, code)
	}
}

// TestOriginCacheIsPurgedByMutations shows a cached bundle served until a
// mutation affecting it, and only the affected board purged.
func TestOriginCacheIsPurgedByMutations(t *testing.T) {
	srv := newTestServer(t)
	board := func(id int) response {
		return get(t, fmt.Sprintf("%s/api/mizan/ctx/board/?board_id=%d", srv.URL, id))
	}
	steps := []struct {
		do    func() response
		board int
		cache string
	}{
		{func() response { return board(1) }, 1, "miss"},
		{func() response { return board(1) }, 1, "hit"},
		{func() response { return board(2) }, 2, "miss"},
		{func() response {
			return call(t, srv.URL, "add_task", map[string]any{"board_id": 1, "title": "New"})
		}, 0, ""},
		{func() response { return board(1) }, 1, "miss"}, // purged
		{func() response { return board(2) }, 2, "hit"},  // another board: kept
		{func() response {
			return call(t, srv.URL, "rename_board", map[string]any{"board_id": 2, "name": "Home"})
		}, 0, ""},
		{func() response { return board(2) }, 2, "miss"}, // function-level target purges its instance
		{func() response { return call(t, srv.URL, "reset_demo", struct{}{}) }, 0, ""},
		{func() response { return board(1) }, 1, "miss"}, // broad: every board
		{func() response { return board(2) }, 2, "miss"},
	}
	for i, s := range steps {
		r := s.do()
		if r.status != 200 {
			t.Fatalf("step %d: %d %s", i, r.status, r.body)
		}
		if s.board == 0 {
			continue
		}
		if got := r.header.Get("X-Mizan-Cache"); got != s.cache {
			t.Errorf("step %d (board %d): X-Mizan-Cache %q, want %q", i, s.board, got, s.cache)
		}
	}
	if r := board(1); !strings.Contains(r.body, `"name":"Launch"`) || strings.Contains(r.body, `"New"`) {
		t.Errorf("after reset: %s", r.body)
	}
}

func TestErrors(t *testing.T) {
	srv := newTestServer(t)
	cases := []struct {
		name   string
		r      func() response
		status int
		code   string
		fields string // JSON of the envelope's fields, "" for none
	}{
		{"unknown board", func() response { return get(t, srv.URL+"/api/mizan/ctx/board/?board_id=9") }, 404, "not_found", ""},
		{"missing board_id", func() response { return get(t, srv.URL+"/api/mizan/ctx/board/") }, 400, "invalid_args", `{"board_id":"required"}`},
		{"empty title", func() response {
			return call(t, srv.URL, "add_task", map[string]any{"board_id": 1, "title": ""})
		}, 400, "invalid_args", `{"title":"failed the required rule"}`},
		{"wrong type", func() response {
			return call(t, srv.URL, "add_task", map[string]any{"board_id": "1", "title": "x"})
		}, 400, "invalid_args", `{"board_id":"must be an integer"}`},
		{"unknown function", func() response { return call(t, srv.URL, "drop_tables", nil) }, 404, "not_found", ""},
		{"context function through call/", func() response {
			return call(t, srv.URL, "board_info", map[string]any{"board_id": 1})
		}, 404, "not_found", ""},
		{"bad demo user", func() response {
			return call(t, srv.URL, "delete_task", map[string]any{"board_id": 1, "task_id": 1}, "X-Demo-User", "Robert'); DROP")
		}, 401, "unauthorized", ""},
	}
	for _, c := range cases {
		r := c.r()
		e, _ := r.json(t)["error"].(map[string]any)
		if r.status != c.status || e["code"] != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, r.status, r.body, c.status, c.code)
			continue
		}
		fields := ""
		if f, ok := e["fields"]; ok {
			fields = jsonText(t, f)
		}
		if fields != c.fields {
			t.Errorf("%s: fields %s, want %s", c.name, fields, c.fields)
		}
	}
}

func TestCompleteTaskConflict(t *testing.T) {
	srv := newTestServer(t)
	args := map[string]any{"board_id": 2, "task_id": 3} // done in the demo data
	r := call(t, srv.URL, "complete_task", args)
	if r.status != 409 || r.body != `{"error":{"code":"conflict","message":"the task is already done","fields":{"task_id":"already done"}}}` {
		t.Errorf("%d %s", r.status, r.body)
	}
	if r.header.Get("X-Mizan-Invalidate") != "" {
		t.Errorf("a failed mutation invalidates: %v", r.header)
	}
	r = call(t, srv.URL, "complete_task", map[string]any{"board_id": 1, "task_id": 1})
	if r.status != 200 || r.header.Get("X-Mizan-Invalidate") != "board;board_id=1" {
		t.Errorf("%d %v %s", r.status, r.header, r.body)
	}
	if r := get(t, srv.URL+"/api/mizan/ctx/board/?board_id=1"); !strings.Contains(r.body, `"open":1`) {
		t.Errorf("completed task still open: %s", r.body)
	}
}

func TestCurrentUser(t *testing.T) {
	srv := newTestServer(t)
	if r := get(t, srv.URL+"/api/mizan/ctx/global/"); r.status != 200 || r.body != `{"current_user":null}` {
		t.Errorf("anonymous: %d %s", r.status, r.body)
	}
	r := call(t, srv.URL, "add_task", map[string]any{"board_id": 1, "title": "Mine"}, "X-Demo-User", "lin")
	if r.status != 200 || !strings.Contains(r.body, `"created_by":"lin"`) {
		t.Errorf("caller not seen by the mutation: %d %s", r.status, r.body)
	}
}

func TestViews(t *testing.T) {
	srv := newTestServer(t)
	r := get(t, srv.URL+"/")
	if r.status != 200 || !strings.Contains(r.body, `<a href="/boards/1/">Launch</a> (2 open)`) {
		t.Errorf("home: %d %s", r.status, r.body)
	}
	r = get(t, srv.URL+"/boards/1/")
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") || !strings.Contains(r.body, "<h1>Launch</h1>") {
		t.Errorf("board page: %d %v %s", r.status, r.header, r.body)
	}

	r = postForm(t, srv.URL+"/boards/1/tasks/", url.Values{"title": {"<script>alert(1)</script>"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/boards/1/" {
		t.Fatalf("form post: %d %v %s", r.status, r.header, r.body)
	}
	if got := r.header.Get("X-Mizan-Invalidate"); got != "board;board_id=1" {
		t.Errorf("form post: X-Mizan-Invalidate %q", got)
	}
	r = get(t, srv.URL+"/boards/1/")
	if strings.Contains(r.body, "<script>") || !strings.Contains(r.body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("task title not escaped: %s", r.body)
	}

	if r := get(t, srv.URL+"/boards/9/"); r.status != 404 {
		t.Errorf("unknown board page: %d %s", r.status, r.body)
	}
	if r := postForm(t, srv.URL+"/boards/1/tasks/", url.Values{}); r.status != 400 {
		t.Errorf("form without title: %d %s", r.status, r.body)
	}
	r = postForm(t, srv.URL+"/boards/1/tasks/", url.Values{"title": {"x"}}, "Sec-Fetch-Site", "cross-site")
	if r.status != 403 || r.header.Get("X-Mizan-Invalidate") != "" {
		t.Errorf("cross-site form post: %d %v", r.status, r.header)
	}
}

// TestConcurrentUse runs mutations and reads at once; with -race it checks
// that the store is safe for concurrent use.
func TestConcurrentUse(t *testing.T) {
	srv := newTestServer(t)
	const workers, each = 8, 10
	// quietly makes a request from a worker goroutine, where t.Fatal must
	// not be called.
	quietly := func(method, path, body string) {
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Error(err)
			return
		}
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("%s %s: %d", method, path, res.StatusCode)
		}
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				board := 1 + (w+i)%2
				quietly("POST", "/api/mizan/call/", fmt.Sprintf(`{"fn":"add_task","args":{"board_id":%d,"title":"t%d-%d"}}`, board, w, i))
				quietly("GET", fmt.Sprintf("/api/mizan/ctx/board/?board_id=%d", board), "")
				quietly("GET", fmt.Sprintf("/boards/%d/", board), "")
			}
		})
	}
	wg.Wait()
	total := 0
	for _, id := range []int{1, 2} {
		var bundle struct {
			Info BoardInfo `json:"board_info"`
		}
		r := get(t, fmt.Sprintf("%s/api/mizan/ctx/board/?board_id=%d", srv.URL, id))
		if err := json.Unmarshal([]byte(r.body), &bundle); err != nil {
			t.Fatal(err)
		}
		total += bundle.Info.Tasks
	}
	if want := 3 + workers*each; total != want {
		t.Errorf("%d tasks after the run, want %d (a stale cached bundle or a lost write)", total, want)
	}
}

// TestRun starts the real server on a free port, reads the URL it prints,
// fetches from it and shuts it down.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, []string{"-addr", "127.0.0.1:0"}, pw, io.Discard)
		pw.CloseWithError(err)
		done <- err
	}()
	lines := bufio.NewScanner(pr)
	if !lines.Scan() {
		t.Fatalf("no output: %v", lines.Err())
	}
	base, ok := strings.CutPrefix(lines.Text(), "Mizan quickstart listening on ")
	if !ok {
		t.Fatalf("first line %q does not give the URL", lines.Text())
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	r := get(t, base+"/api/mizan/ctx/board/?board_id=1")
	if r.status != 200 || !strings.Contains(r.body, `"board_info"`) {
		t.Errorf("GET from the running server: %d %s", r.status, r.body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after its context was cancelled")
	}
}

func TestRunFlags(t *testing.T) {
	var stderr strings.Builder
	if err := run(context.Background(), []string{"-nope"}, io.Discard, &stderr); err == nil {
		t.Error("unknown flag accepted")
	}
	if err := run(context.Background(), []string{"extra"}, io.Discard, io.Discard); err == nil {
		t.Error("stray argument accepted")
	}
	stderr.Reset()
	if err := run(context.Background(), []string{"-h"}, io.Discard, &stderr); err != nil || !strings.Contains(stderr.String(), "-addr") {
		t.Errorf("-h: %v %q", err, stderr.String())
	}
	if err := run(context.Background(), []string{"-addr", "256.0.0.1:99999"}, io.Discard, io.Discard); err == nil {
		t.Error("unusable address accepted")
	}
}

func TestBaseURL(t *testing.T) {
	cases := map[string]string{
		"127.0.0.1:8080": "http://127.0.0.1:8080",
		"0.0.0.0:8080":   "http://localhost:8080",
		"[::]:9000":      "http://localhost:9000",
		"[::1]:9000":     "http://[::1]:9000",
	}
	for in, want := range cases {
		if got := baseURL(fakeAddr(in)); got != want {
			t.Errorf("baseURL(%s) = %s, want %s", in, got, want)
		}
	}
}

type fakeAddr string

func (a fakeAddr) Network() string { return "tcp" }
func (a fakeAddr) String() string  { return string(a) }

// TestUIHandler checks -ui: the built front end's files under /ui/, its
// index.html for the app's other paths under /ui/, and a 404 elsewhere.
func TestUIHandler(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("<div id=app></div>"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "assets"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "assets", "app.js"), []byte("console.log(1)"), 0o644); err != nil {
		t.Fatal(err)
	}
	app, err := newApp(newStore(), nil, slog.New(slog.NewTextHandler(io.Discard, nil)), uiHandler(dir))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app)
	defer srv.Close()
	for _, tc := range []struct {
		path, body string
		status     int
	}{
		{"/ui/", "<div id=app></div>", 200},
		{"/ui/assets/app.js", "console.log(1)", 200},
		{"/ui/boards/1", "<div id=app></div>", 200},
		{"/nope", "404 page not found\n", 404},
	} {
		res, err := http.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tc.status || string(b) != tc.body {
			t.Errorf("GET %s = %d %q, want %d %q", tc.path, res.StatusCode, b, tc.status, tc.body)
		}
	}
}
