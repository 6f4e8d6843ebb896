package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testNow is the clock of the test store.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// newTestServer serves a taskboard over a new, seeded database in a
// temporary directory, with the origin cache on and ui as the fallback.
func newTestServer(t *testing.T, ui http.Handler) *httptest.Server {
	t.Helper()
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, created, err := openDB(ctx, filepath.Join(t.TempDir(), "taskboard.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if !created {
		t.Fatal("openDB: a new database was not reported as created")
	}
	key, err := jwtKey(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	c, err := newMemoryCache(logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s := &store{db: db, now: func() time.Time { return testNow }}
	app, hub, _, err := newApp(s, appConfig{cache: c, ui: ui, logger: logger, jwtKey: key})
	if err != nil {
		t.Fatal(err)
	}
	checkAffects(t, app)
	srv := httptest.NewServer(app)
	t.Cleanup(func() {
		_ = hub.Close()
		srv.Close()
	})
	return srv
}

// client is a caller like the browser UI: it keeps cookies, sends the
// CSRF token with every call once it has one, and, once signed in, its
// access token as Authorization: Bearer.
type client struct {
	t       *testing.T
	base    string
	hc      *http.Client
	csrf    string
	access  string // the access token, once signed in
	refresh string // the refresh token, once signed in
}

func newClient(t *testing.T, srv *httptest.Server) *client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &client{t: t, base: srv.URL, hc: &http.Client{Jar: jar}}
}

// reply is a response of the server.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// envelope is the shape of call/ answers and of errors.
type envelope struct {
	Result     json.RawMessage `json:"result"`
	Invalidate json.RawMessage `json:"invalidate"`
	Error      *struct {
		Code    string            `json:"code"`
		Message string            `json:"message"`
		Fields  map[string]string `json:"fields"`
	} `json:"error"`
}

func (r reply) envelope(t *testing.T) envelope {
	t.Helper()
	var e envelope
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("not a JSON envelope (status %d): %q", r.status, r.body)
	}
	return e
}

// code returns the error code of an error reply, or "".
func (r reply) code(t *testing.T) string {
	t.Helper()
	if e := r.envelope(t); e.Error != nil {
		return e.Error.Code
	}
	return ""
}

func (c *client) do(method, path, contentType, body string) reply {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.csrf != "" {
		req.Header.Set("X-CSRFToken", c.csrf)
	}
	if c.access != "" {
		req.Header.Set("Authorization", "Bearer "+c.access)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return reply{status: res.StatusCode, header: res.Header, body: b}
}

// session fetches the CSRF token, as the generated client does before its
// first call.
func (c *client) session() {
	c.t.Helper()
	r := c.do("GET", "/api/mizan/session/", "", "")
	var v struct {
		Token string `json:"csrf_token"`
	}
	if err := json.Unmarshal(r.body, &v); err != nil || v.Token == "" {
		c.t.Fatalf("session/: %d %q", r.status, r.body)
	}
	c.csrf = v.Token
}

// call runs function fn with args.
func (c *client) call(fn string, args any) reply {
	c.t.Helper()
	body, err := json.Marshal(map[string]any{"fn": fn, "args": args})
	if err != nil {
		c.t.Fatal(err)
	}
	return c.do("POST", "/api/mizan/call/", "application/json", string(body))
}

// mustCall runs fn and fails the test unless it succeeds.
func (c *client) mustCall(fn string, args any) envelope {
	c.t.Helper()
	r := c.call(fn, args)
	if r.status != http.StatusOK {
		c.t.Fatalf("%s: status %d: %s", fn, r.status, r.body)
	}
	return r.envelope(c.t)
}

// demoLogins are the usernames of the seeded users, by id; each one's
// password is its username.
var demoLogins = map[int]string{1: "ada", 2: "grace", 3: "alan", 4: "katherine"}

// signIn signs c in as user id, with the demo password, as the UI does:
// auth/token/ answers a pair of JWTs, and the access token goes on every
// request from then on.
func (c *client) signIn(id int) {
	c.t.Helper()
	c.session()
	body, _ := json.Marshal(map[string]string{"username": demoLogins[id], "password": demoLogins[id]})
	r := c.do("POST", "/api/mizan/auth/token/", "application/json", string(body))
	var pair struct{ Access, Refresh string }
	if err := json.Unmarshal(r.body, &pair); r.status != http.StatusOK || err != nil || pair.Access == "" || pair.Refresh == "" {
		c.t.Fatalf("auth/token/ as %s: %d %s", demoLogins[id], r.status, r.body)
	}
	c.access, c.refresh = pair.Access, pair.Refresh
}

// fetch gets a context bundle into out and returns the reply.
func (c *client) fetch(ctx, query string, out any) reply {
	c.t.Helper()
	r := c.do("GET", "/api/mizan/ctx/"+ctx+"/"+query, "", "")
	if out != nil {
		if r.status != http.StatusOK {
			c.t.Fatalf("ctx/%s/%s: status %d: %s", ctx, query, r.status, r.body)
		}
		if err := json.Unmarshal(r.body, out); err != nil {
			c.t.Fatalf("ctx/%s/%s: %v: %s", ctx, query, err, r.body)
		}
	}
	return r
}

// projectBundle is the project context's answer.
type projectBundle struct {
	Info  Project    `json:"project_info"`
	Stats Stats      `json:"project_stats"`
	Tasks []TaskCard `json:"project_tasks"`
}

func TestReads(t *testing.T) {
	c := newClient(t, newTestServer(t, nil))

	var board struct {
		Projects []Project `json:"projects"`
		Team     []Person  `json:"team"`
	}
	c.fetch("board", "", &board)
	if len(board.Projects) != 2 || board.Projects[0].Name != "Mobile app" || board.Projects[1].Name != "Website relaunch" {
		t.Errorf("projects = %+v, want Mobile app and Website relaunch, by name", board.Projects)
	}
	if want := []Person{{1, "Ada Lovelace"}, {3, "Alan Turing"}, {2, "Grace Hopper"}, {4, "Katherine Johnson"}}; !slices.Equal(board.Team, want) {
		t.Errorf("team = %+v, want %+v", board.Team, want)
	}

	var p projectBundle
	c.fetch("project", "?project_id=1", &p)
	if p.Info.Name != "Website relaunch" || len(p.Tasks) != 5 {
		t.Errorf("project 1 = %+v", p)
	}
	if want := (Stats{Todo: 2, Doing: 1, Done: 2, Total: 5}); p.Stats != want {
		t.Errorf("project 1 stats = %+v, want %+v", p.Stats, want)
	}
	if got := p.Tasks[2]; got.Title != "Build the pricing page" || got.Comments != 2 || got.Assignee == nil || got.Assignee.Name != "Alan Turing" {
		t.Errorf("task 3 card = %+v", got)
	}
	if p.Tasks[3].Assignee != nil {
		t.Errorf("task 4 has assignee %+v, want none", p.Tasks[3].Assignee)
	}

	var task struct {
		Detail   TaskDetail    `json:"task_detail"`
		Comments []TaskComment `json:"task_comments"`
	}
	c.fetch("task", "?task_id=3", &task)
	if task.Detail.ProjectName != "Website relaunch" || task.Detail.CreatedBy.Name != "Ada Lovelace" || task.Detail.Status != StatusDoing {
		t.Errorf("task 3 = %+v", task.Detail)
	}
	if len(task.Comments) != 2 || task.Comments[0].Author.Name != "Grace Hopper" {
		t.Errorf("task 3 comments = %+v", task.Comments)
	}

	var global struct {
		CurrentUser *User `json:"current_user"`
	}
	c.fetch("global", "", &global)
	if global.CurrentUser != nil {
		t.Errorf("anonymous current_user = %+v, want null", global.CurrentUser)
	}

	for _, tc := range []struct {
		ctx, query string
		status     int
		code       string
	}{
		{"project", "?project_id=99", 404, "not_found"},
		{"task", "?task_id=99", 404, "not_found"},
		{"project", "?project_id=abc", 400, "invalid_args"},
		{"project", "", 400, "invalid_args"},
		{"project", "?project_id=1&x=1", 400, "invalid_args"},
		{"nope", "", 404, "not_found"},
	} {
		r := c.fetch(tc.ctx, tc.query, nil)
		if r.status != tc.status || r.code(t) != tc.code {
			t.Errorf("ctx/%s/%s = %d %s, want %d %s", tc.ctx, tc.query, r.status, r.body, tc.status, tc.code)
		}
	}
}

// TestWhatIsPublic checks what an anonymous caller can read: every
// context the pages show, but no email address and no staff flag, which
// only signed-in members get, from the guarded directory context.
func TestWhatIsPublic(t *testing.T) {
	srv := newTestServer(t, nil)
	anon := newClient(t, srv)

	// Every public context, every instance of the demo data: no email
	// address, and no staff flag outside the demo's account list.
	public := []string{"global/", "board/", "demo/", "project/?project_id=1", "project/?project_id=2"}
	for id := 1; id <= len(seedTasks); id++ {
		public = append(public, "task/?task_id="+strconv.Itoa(id))
	}
	for _, path := range public {
		r := anon.do("GET", "/api/mizan/ctx/"+path, "", "")
		if r.status != 200 {
			t.Errorf("anonymous ctx/%s = %d %s", path, r.status, r.body)
			continue
		}
		if strings.Contains(string(r.body), "@") {
			t.Errorf("anonymous ctx/%s shows an email address: %s", path, r.body)
		}
		if path != "demo/" && strings.Contains(string(r.body), `"staff"`) {
			t.Errorf("anonymous ctx/%s shows staff flags: %s", path, r.body)
		}
	}
	// The team is names only: no field but id and name.
	var board struct {
		Team []map[string]any `json:"team"`
	}
	anon.fetch("board", "", &board)
	for _, p := range board.Team {
		if len(p) != 2 || p["id"] == nil || p["name"] == nil {
			t.Errorf("a public team entry is %v, want only id and name", p)
		}
	}
	// The demo's sign-in list: usernames (the demo passwords) and roles,
	// published on purpose.
	var demo struct {
		Accounts []DemoAccount `json:"demo_accounts"`
	}
	anon.fetch("demo", "", &demo)
	if want := []DemoAccount{{1, "ada", true}, {2, "grace", false}, {3, "alan", false}, {4, "katherine", false}}; !slices.Equal(demo.Accounts, want) {
		t.Errorf("demo_accounts = %+v, want %+v", demo.Accounts, want)
	}

	// The directory is refused to anonymous callers...
	refused := func(who string, c *client) {
		t.Helper()
		r := c.fetch("directory", "", nil)
		if r.status != 401 || r.code(t) != "unauthorized" || strings.Contains(string(r.body), "@") {
			t.Errorf("%s ctx/directory/ = %d %s, want 401 unauthorized", who, r.status, r.body)
		}
	}
	refused("anonymous", anon)
	// ... given to any member, staff or not, in the order of team...
	want := []Member{{1, "ada@example.com", true}, {3, "alan@example.com", false}, {2, "grace@example.com", false}, {4, "katherine@example.com", false}}
	grace := newClient(t, srv)
	grace.signIn(2)
	var dir struct {
		Members []Member `json:"members"`
	}
	r := grace.fetch("directory", "", &dir)
	if !slices.Equal(dir.Members, want) {
		t.Errorf("members for Grace = %+v, want %+v", dir.Members, want)
	}
	if got := r.header.Get("X-Mizan-Cache"); got != "miss" {
		t.Errorf("first ctx/directory/: X-Mizan-Cache %q, want miss", got)
	}
	// ... from one cache entry that members share (Shared)...
	alan := newClient(t, srv)
	alan.signIn(3)
	dir.Members = nil
	if r := alan.fetch("directory", "", &dir); r.header.Get("X-Mizan-Cache") != "hit" || !slices.Equal(dir.Members, want) {
		t.Errorf("ctx/directory/ for Alan = %s %+v, want a cache hit with %+v", r.header.Get("X-Mizan-Cache"), dir.Members, want)
	}
	// ... which an anonymous caller still does not get: the guard comes
	// before the cache. Nor does a caller whose session has ended.
	refused("anonymous, once cached,", anon)
	if r := alan.do("POST", "/api/mizan/auth/logout/", "", ""); r.status != 200 {
		t.Fatalf("auth/logout/ = %d %s", r.status, r.body)
	}
	refused("signed out", alan)

	// (The pages are rendered from the public contexts only: the browser
	// test checks that /team and /signin are pre-rendered without an email
	// address, and that a signed-in member's team page shows them.)
}

func TestInvalidationTargets(t *testing.T) {
	srv := newTestServer(t, nil)
	ada := newClient(t, srv)
	ada.signIn(1)

	for _, tc := range []struct {
		fn         string
		args       string
		invalidate string // the body's targets, as JSON
		header     string
	}{
		{"add_task", `{"project_id":2,"title":"Dark mode","assignee_id":3,"due_date":"2026-12-24"}`,
			`[{"context":"project","params":{"project_id":2}}]`, "project;project_id=2"},
		{"move_task", `{"project_id":1,"task_id":4,"status":"doing"}`,
			`[{"context":"project","params":{"project_id":1}},{"context":"task","params":{"task_id":4}}]`, "project;project_id=1, task;task_id=4"},
		{"assign_task", `{"project_id":1,"task_id":4,"assignee_id":null}`,
			`[{"context":"project","params":{"project_id":1}},{"context":"task","params":{"task_id":4}}]`, "project;project_id=1, task;task_id=4"},
		{"add_comment", `{"project_id":1,"task_id":4,"body":"On it."}`,
			`[{"context":"task","params":{"task_id":4}},{"context":"project","function":"project_tasks","params":{"project_id":1}}]`, "task;task_id=4, project;project_id=1"},
		{"rename_project", `{"project_id":1,"name":"Website","description":"Relaunch."}`,
			`[{"context":"project","function":"project_info","params":{"project_id":1}},"board","task"]`, "project;project_id=1, board, task"},
		{"rename_user", `{"user_id":4,"name":"Katherine G. Johnson"}`,
			`["global","board","project","task","directory"]`, "global, board, project, task, directory"},
		{"delete_task", `{"project_id":2,"task_id":9}`,
			`[{"context":"project","params":{"project_id":2}},{"context":"task","params":{"task_id":9}}]`, "project;project_id=2, task;task_id=9"},
		// A formset: the project (scoped by the argument) and each task
		// edited (run-time scopes, one per row).
		{"edit_tasks", `{"project_id":1,"tasks":[{"task_id":4,"title":"Redirects","status":"doing"},{"task_id":5,"title":"Audit","status":"done"}]}`,
			`[{"context":"project","params":{"project_id":1}},{"context":"task","params":{"task_id":4}},{"context":"task","params":{"task_id":5}}]`,
			"project;project_id=1, task;task_id=4, task;task_id=5"},
		{"create_project", `{"name":"Docs"}`, `["board"]`, "board"},
		{"delete_project", `{"project_id":3}`,
			`["board",{"context":"project","params":{"project_id":3}},"task"]`, "board, project;project_id=3, task"},
	} {
		t.Run(tc.fn, func(t *testing.T) {
			r := ada.do("POST", "/api/mizan/call/", "application/json", `{"fn":"`+tc.fn+`","args":`+tc.args+`}`)
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if tc.fn == "add_task" {
				const want = `{"assignee":{"id":3,"name":"Alan Turing"},"comments":0,"due_date":"2026-12-24","id":10,"status":"todo","title":"Dark mode"}`
				if got := compactJSON(t, r.envelope(t).Result); got != want {
					t.Errorf("result = %s, want %s", got, want)
				}
			}
			if got := compactJSON(t, r.envelope(t).Invalidate); got != tc.invalidate {
				t.Errorf("invalidate = %s\nwant         %s", got, tc.invalidate)
			}
			if got := r.header.Get("X-Mizan-Invalidate"); got != tc.header {
				t.Errorf("X-Mizan-Invalidate = %q, want %q", got, tc.header)
			}
		})
	}

	// The data changed as the mutations said.
	var p1, p2 projectBundle
	ada.fetch("project", "?project_id=1", &p1)
	ada.fetch("project", "?project_id=2", &p2)
	if p1.Info.Name != "Website" || p1.Tasks[3].Status != StatusDoing || p1.Tasks[3].Comments != 1 || p1.Tasks[4].Assignee.Name != "Katherine G. Johnson" {
		t.Errorf("project 1 after the mutations = %+v", p1)
	}
	if last := p2.Tasks[len(p2.Tasks)-1]; last.Title != "Dark mode" || last.Assignee == nil || last.Assignee.Name != "Alan Turing" || len(p2.Tasks) != 4 {
		t.Errorf("project 2 after the mutations = %+v", p2.Tasks)
	}
	if r := ada.fetch("project", "?project_id=3", nil); r.status != 404 {
		t.Errorf("deleted project 3 = %d", r.status)
	}
}

// compactJSON returns raw without insignificant space.
func compactJSON(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestBadInput(t *testing.T) {
	c := newClient(t, newTestServer(t, nil))
	c.signIn(2)
	for _, tc := range []struct {
		name, fn, args string
		status         int
		code, field    string
	}{
		{"empty title", "add_task", `{"project_id":1,"title":""}`, 400, "invalid_args", "title"},
		{"title too long", "add_task", `{"project_id":1,"title":"` + strings.Repeat("x", 201) + `"}`, 400, "invalid_args", "title"},
		{"missing project", "add_task", `{"title":"x"}`, 400, "invalid_args", "project_id"},
		{"unknown argument", "add_task", `{"project_id":1,"title":"x","due":"today"}`, 400, "invalid_args", "due"},
		{"string id", "add_task", `{"project_id":"1","title":"x"}`, 400, "invalid_args", "project_id"},
		{"unknown project", "add_task", `{"project_id":99,"title":"x"}`, 404, "not_found", ""},
		{"unknown assignee", "add_task", `{"project_id":1,"title":"x","assignee_id":99}`, 400, "invalid_args", "assignee_id"},
		{"bad status", "move_task", `{"project_id":1,"task_id":1,"status":"blocked"}`, 400, "invalid_args", "status"},
		{"task of another project", "move_task", `{"project_id":2,"task_id":1,"status":"done"}`, 404, "not_found", ""},
		{"assignee required", "assign_task", `{"project_id":1,"task_id":1}`, 400, "invalid_args", "assignee_id"},
		{"empty comment", "add_comment", `{"project_id":1,"task_id":1,"body":""}`, 400, "invalid_args", "body"},
		{"unknown task", "delete_task", `{"project_id":1,"task_id":99}`, 404, "not_found", ""},
		{"empty name", "rename_user", `{"user_id":2,"name":""}`, 400, "invalid_args", "name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.do("POST", "/api/mizan/call/", "application/json", `{"fn":"`+tc.fn+`","args":`+tc.args+`}`)
			e := r.envelope(t)
			if r.status != tc.status || e.Error == nil || e.Error.Code != tc.code {
				t.Fatalf("= %d %s, want %d %s", r.status, r.body, tc.status, tc.code)
			}
			if tc.field != "" && e.Error.Fields[tc.field] == "" {
				t.Errorf("fields = %v, want a message for %s", e.Error.Fields, tc.field)
			}
			if h := r.header.Get("X-Mizan-Invalidate"); h != "" {
				t.Errorf("a failed mutation invalidates %q", h)
			}
		})
	}
	if r := c.do("POST", "/api/mizan/call/", "application/json", `{"fn":`); r.status != 400 || r.code(t) != "bad_request" {
		t.Errorf("malformed JSON = %d %s", r.status, r.body)
	}
	ada := newClient(t, newTestServer(t, nil))
	ada.signIn(1)
	if r := ada.call("create_project", map[string]any{"name": "mobile APP"}); r.status != 409 || r.envelope(t).Error.Fields["name"] == "" {
		t.Errorf("create_project with a taken name = %d %s, want 409 with a name field", r.status, r.body)
	}
}

func TestOriginCachePurge(t *testing.T) {
	c := newClient(t, newTestServer(t, nil))
	c.signIn(2)
	cacheState := func(query string) string {
		t.Helper()
		return c.fetch("project", query, nil).header.Get("X-Mizan-Cache")
	}
	for _, q := range []string{"?project_id=1", "?project_id=2"} {
		if got := cacheState(q); got != "miss" {
			t.Errorf("first fetch of %s: %s, want miss", q, got)
		}
		if got := cacheState(q); got != "hit" {
			t.Errorf("second fetch of %s: %s, want hit", q, got)
		}
	}
	c.mustCall("add_task", map[string]any{"project_id": 2, "title": "Only project 2"})
	if got := cacheState("?project_id=1"); got != "hit" {
		t.Errorf("project 1 after a task in project 2: %s, want hit (purge is scoped)", got)
	}
	if got := cacheState("?project_id=2"); got != "miss" {
		t.Errorf("project 2 after a task in project 2: %s, want miss", got)
	}
	c.mustCall("rename_user", map[string]any{"user_id": 2, "name": "G. Hopper"})
	if got := cacheState("?project_id=1"); got != "miss" {
		t.Errorf("project 1 after rename_user: %s, want miss (purge is broad)", got)
	}
}

func TestPrintView(t *testing.T) {
	srv := newTestServer(t, nil)
	c := newClient(t, srv)
	r := c.do("GET", "/projects/1/print/", "", "")
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("print page = %d %v", r.status, r.header)
	}
	page := string(r.body)
	for _, want := range []string{
		"<title>Website relaunch · Taskboard</title>",
		"5 tasks: 2 to do, 1 in progress, 2 done",
		"<h2>In progress (1)</h2>",
		"<strong>Build the pricing page</strong> — Alan Turing",
		"Yes, with the saving in brackets.",
		"Printed 1 Mar 2026 12:00 UTC",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("print page lacks %q", want)
		}
	}
	if strings.Contains(page, "<script") {
		t.Error("print page has a script")
	}

	// Escaped, and current after a mutation.
	c.signIn(2)
	c.mustCall("add_task", map[string]any{"project_id": 1, "title": "<b>bold</b> & co"})
	page = string(c.do("GET", "/projects/1/print/", "", "").body)
	if !strings.Contains(page, "&lt;b&gt;bold&lt;/b&gt; &amp; co") || !strings.Contains(page, "6 tasks") {
		t.Errorf("print page after add_task lacks the escaped new task")
	}

	for path, want := range map[string]int{"/projects/99/print/": 404, "/projects/x/print/": 400} {
		r := c.do("GET", path, "", "")
		if r.status != want || r.code(t) == "" {
			t.Errorf("GET %s = %d %s, want %d with an error envelope", path, r.status, r.body, want)
		}
	}
}
