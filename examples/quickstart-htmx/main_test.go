package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// newTestServer serves a fresh app with stand-in scripts under a temporary
// node_modules.
func newTestServer(t *testing.T) *httptest.Server {
	t.Helper()
	app, hub, err := newApp(newStore(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hub.Close() })
	srv := httptest.NewServer(handler(app, fakeNodeModules(t)))
	t.Cleanup(srv.Close)
	return srv
}

// fakeNodeModules writes a node_modules holding stand-ins for the scripts.
func fakeNodeModules(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, file := range assets {
		p := filepath.Join(dir, filepath.FromSlash(file))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("/* "+file+" */"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// response is what a test request got back.
type response struct {
	status int
	header http.Header
	body   string
}

// do makes a request without following redirects; form, when not nil, is
// posted; htmx adds HX-Request: true.
func do(t *testing.T, srv *httptest.Server, method, path string, form url.Values, htmx bool) response {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if htmx {
		req.Header.Set("HX-Request", "true")
	}
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
	return response{res.StatusCode, res.Header, string(b)}
}

// targets returns the targets of the mizan:invalidate event of an HX-Trigger.
func targets(t *testing.T, r response) string {
	t.Helper()
	var v map[string]struct {
		Targets json.RawMessage `json:"targets"`
	}
	if err := json.Unmarshal([]byte(r.header.Get("HX-Trigger")), &v); err != nil {
		t.Fatalf("HX-Trigger %q: %v", r.header.Get("HX-Trigger"), err)
	}
	return string(v["mizan:invalidate"].Targets)
}

func TestPageDeclaresItsFragments(t *testing.T) {
	srv := newTestServer(t)
	r := do(t, srv, "GET", "/", nil, false)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %s", r.status, r.header.Get("Content-Type"))
	}
	for _, want := range []string{
		`<script src="/assets/htmx.min.js"></script>`,
		`<script src="/assets/mizan-htmx.js" data-connect="/api/mizan/ws/"></script>`,
		`<body hx-ext="mizan">`,
		`hx-get="/fragments/summary/" hx-trigger="mizan:refresh"` + "\n" + `   mizan-context="board" mizan-fn="board_info">2 open tasks on 2 boards</p>`,
		`hx-get="/fragments/boards/1/info/" hx-trigger="mizan:refresh"` + "\n" + `    mizan-context="board" mizan-params='{"board_id":1}' mizan-fn="board_info">Launch · <span class="open">2 open</span></h2>`,
		`hx-get="/fragments/boards/2/tasks/" hx-trigger="mizan:refresh"` + "\n" + `     mizan-context="board" mizan-params='{"board_id":2}' mizan-fn="board_tasks"><ul>`,
		`hx-post="/boards/1/tasks/" hx-swap="none"`,
		`hx-post="/boards/2/name/" hx-swap="none"`,
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the page lacks %s\n%s", want, r.body)
		}
	}
	for path, want := range map[string]string{
		"/assets/htmx.min.js":   "/* htmx.org/dist/htmx.min.js */",
		"/assets/mizan-htmx.js": "/* @mizan/htmx/dist/mizan-htmx.js */",
	} {
		a := do(t, srv, "GET", path, nil, false)
		if a.status != 200 || a.body != want || !strings.HasPrefix(a.header.Get("Content-Type"), "text/javascript") {
			t.Errorf("GET %s: %d %q %s", path, a.status, a.body, a.header.Get("Content-Type"))
		}
	}
}

func TestMutationsCarryTheirTargetsToHtmx(t *testing.T) {
	srv := newTestServer(t)
	r := do(t, srv, "POST", "/boards/1/tasks/", url.Values{"title": {"Try htmx"}}, true)
	if r.status != http.StatusNoContent {
		t.Fatalf("add: %d %s", r.status, r.body)
	}
	if got, want := targets(t, r), `[{"context":"board","params":{"board_id":1}}]`; got != want {
		t.Errorf("add: targets %s, want %s", got, want)
	}
	if f := do(t, srv, "GET", "/fragments/boards/1/tasks/", nil, true); !strings.Contains(f.body, `<li id="task-4">Try htmx`) {
		t.Errorf("the tasks fragment lacks the new task:\n%s", f.body)
	}
	if f := do(t, srv, "GET", "/fragments/boards/1/info/", nil, true); f.body != `Launch · <span class="open">3 open</span>` {
		t.Errorf("info fragment: %q", f.body)
	}
	if f := do(t, srv, "GET", "/fragments/summary/", nil, true); f.body != "3 open tasks on 2 boards" {
		t.Errorf("summary fragment: %q", f.body)
	}

	r = do(t, srv, "POST", "/boards/2/name/", url.Values{"name": {"Home"}}, true)
	if got, want := targets(t, r), `[{"context":"board","function":"board_info","params":{"board_id":2}}]`; r.status != 204 || got != want {
		t.Errorf("rename: %d, targets %s, want %s", r.status, got, want)
	}
	r = do(t, srv, "POST", "/boards/1/tasks/1/done/", url.Values{}, true)
	if got, want := targets(t, r), `[{"context":"board","params":{"board_id":1}}]`; r.status != 204 || got != want {
		t.Errorf("done: %d, targets %s, want %s", r.status, got, want)
	}
	r = do(t, srv, "POST", "/reset/", url.Values{}, true)
	if got, want := targets(t, r), `["board"]`; r.status != 204 || got != want {
		t.Errorf("reset: %d, targets %s, want %s", r.status, got, want)
	}
}

func TestWithoutHtmxTheFormsRedirect(t *testing.T) {
	srv := newTestServer(t)
	r := do(t, srv, "POST", "/boards/2/tasks/", url.Values{"title": {"No JavaScript"}}, false)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/" {
		t.Fatalf("add without htmx: %d, Location %q", r.status, r.header.Get("Location"))
	}
	if r.header.Get("HX-Trigger") != "" || r.header.Get("X-Mizan-Invalidate") != "board;board_id=2" {
		t.Errorf("add without htmx: HX-Trigger %q, X-Mizan-Invalidate %q", r.header.Get("HX-Trigger"), r.header.Get("X-Mizan-Invalidate"))
	}
	if page := do(t, srv, "GET", "/", nil, false); !strings.Contains(page.body, "No JavaScript") {
		t.Error("the page lacks the task added without htmx")
	}
}

func TestBadRequestsGetTheEnvelope(t *testing.T) {
	srv := newTestServer(t)
	for _, c := range []struct {
		method, path string
		form         url.Values
		status       int
		code         string
	}{
		{"POST", "/boards/1/tasks/", url.Values{"title": {""}}, 400, "invalid_args"},
		{"POST", "/boards/9/tasks/", url.Values{"title": {"x"}}, 404, "not_found"},
		{"POST", "/boards/x/tasks/", url.Values{"title": {"x"}}, 400, "invalid_args"},
		{"POST", "/boards/1/tasks/3/done/", url.Values{}, 404, "not_found"},
		{"GET", "/fragments/boards/9/info/", nil, 404, "not_found"},
		{"GET", "/fragments/boards/1/tasks/", nil, 200, ""},
		{"DELETE", "/reset/", nil, 405, "method_not_allowed"},
	} {
		r := do(t, srv, c.method, c.path, c.form, true)
		if r.status != c.status {
			t.Errorf("%s %s: %d, want %d: %s", c.method, c.path, r.status, c.status, r.body)
			continue
		}
		if c.code == "" {
			continue
		}
		var env struct {
			Error struct{ Code string } `json:"error"`
		}
		if err := json.Unmarshal([]byte(r.body), &env); err != nil || env.Error.Code != c.code {
			t.Errorf("%s %s: body %s, want the envelope with %s", c.method, c.path, r.body, c.code)
		}
		if r.header.Get("HX-Trigger") != "" {
			t.Errorf("%s %s: a failed mutation carries HX-Trigger %q", c.method, c.path, r.header.Get("HX-Trigger"))
		}
	}
}

func TestRun(t *testing.T) {
	if err := run(context.Background(), []string{"-node-modules", t.TempDir()}, io.Discard, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "htmx.min.js") {
		t.Errorf("run without the scripts: %v", err)
	}
	if err := run(context.Background(), []string{"extra"}, io.Discard, io.Discard); err == nil {
		t.Error("run with an argument: no error")
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-node-modules", fakeNodeModules(t)}, pw, io.Discard)
		_ = pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	base, ok := strings.CutPrefix(strings.TrimSpace(line), "Mizan quickstart-htmx listening on ")
	if !ok {
		t.Fatalf("first line %q", line)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	res, err := http.Get(base + "/fragments/summary/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if string(b) != "2 open tasks on 2 boards" {
		t.Errorf("summary: %q", b)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not stop")
	}
}
