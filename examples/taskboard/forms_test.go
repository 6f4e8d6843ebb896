package main

import (
	"context"
	"database/sql"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// formClient is c not following redirects, so that a form's 303 shows.
func formClient(t *testing.T, c *client) *client {
	t.Helper()
	c.hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

// post sends values to a form's route as a browser without JavaScript does.
func (c *client) post(path string, values url.Values) reply {
	c.t.Helper()
	return c.do("POST", path, "application/x-www-form-urlencoded", values.Encode())
}

// TestAddTaskForm checks add_task, the form that creates a task, over its
// three paths: JSON (call/ and add_task_validate), and the urlencoded post
// of its route, with the errors only the server finds (a title taken in
// the project, a malformed due date) on their fields.
func TestAddTaskForm(t *testing.T) {
	srv := newTestServer(t, nil)
	anon := newClient(t, srv)
	ada := formClient(t, newClient(t, srv))
	ada.signIn(1)

	// The schema: the client rules, and server_only where only the server
	// can tell (free_title, datetime).
	r := anon.call("add_task_schema", map[string]any{})
	if r.status != http.StatusUnauthorized {
		t.Errorf("add_task_schema anonymous: %d, want 401 (the submit's guard)", r.status)
	}
	schema := string(ada.mustCall("add_task_schema", map[string]any{}).Result)
	for _, want := range []string{
		`{"name":"title","type":"string","label":"Title","required":true,"max":200,"server_only":true}`,
		`{"name":"due_date","type":"string","label":"Due date","required":false,"server_only":true,"widget":"date"}`,
		`{"name":"project_id","type":"int","label":"Project id","required":true,"widget":"hidden"}`,
	} {
		if !strings.Contains(schema, want) {
			t.Errorf("the schema lacks %s:\n%s", want, schema)
		}
	}

	// _validate: the server-only rules, changing nothing.
	v := ada.mustCall("add_task_validate", map[string]any{"project_id": 1, "title": "pick a FONT pairing", "due_date": "24/12/2026"})
	if got, want := compactJSON(t, v.Result), `{"errors":{"due_date":["Enter a date as YYYY-MM-DD."],"title":["A task with this title is already in the project."]},"valid":false}`; got != want {
		t.Errorf("add_task_validate = %s, want %s", got, want)
	}
	v = ada.mustCall("add_task_validate", map[string]any{"project_id": 2, "title": "Pick a font pairing"})
	if got := compactJSON(t, v.Result); got != `{"errors":{},"valid":true}` {
		t.Errorf("add_task_validate in another project = %s", got)
	}

	// JSON submit: every failure at once.
	r = ada.call("add_task", map[string]any{"project_id": 1, "title": "Pick a font pairing", "due_date": "tomorrow", "description": strings.Repeat("x", 2001)})
	if e := r.envelope(t); r.status != 400 || e.Error == nil || e.Error.Code != "invalid_args" ||
		e.Error.Fields["title"] != msgTitleTaken || e.Error.Fields["due_date"] != msgDueDate ||
		e.Error.Fields["description"] != "Use at most 2000 characters." {
		t.Errorf("add_task with three bad fields = %d %s", r.status, r.body)
	}

	// The urlencoded post of the route (DefaultFormRenderer here: the
	// test server has no SSR; the browser test covers the project page).
	path := "/projects/1/tasks/new"
	r = ada.post(path, url.Values{"title": {"Pick a font pairing"}, "due_date": {"2026-02-30"}, "assignee_id": {""}})
	body := string(r.body)
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(body, msgTitleTaken) ||
		!strings.Contains(body, "Enter a date as YYYY-MM-DD.") || !strings.Contains(body, `value="Pick a font pairing"`) {
		t.Errorf("an invalid post = %d:\n%s", r.status, body)
	}
	if h := r.header.Get("X-Mizan-Invalidate"); h != "" {
		t.Errorf("an invalid post invalidated %q", h)
	}
	r = ada.post(path, url.Values{"title": {"Choose the hosting"}, "description": {"Compare two."}, "due_date": {"2026-04-01"}, "assignee_id": {"2"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/projects/1" || r.header.Get("X-Mizan-Invalidate") != "project;project_id=1" {
		t.Fatalf("a valid post = %d %v %s", r.status, r.header, r.body)
	}
	var task struct {
		TaskDetail TaskDetail `json:"task_detail"`
	}
	var tasks struct {
		Tasks []TaskCard `json:"project_tasks"`
	}
	anon.fetch("project", "?project_id=1", &tasks)
	last := tasks.Tasks[len(tasks.Tasks)-1]
	if last.Title != "Choose the hosting" || last.DueDate == nil || *last.DueDate != "2026-04-01" || last.Assignee == nil || last.Assignee.ID != 2 {
		t.Fatalf("the new task = %+v", last)
	}
	anon.fetch("task", "?task_id="+strconv.Itoa(last.ID), &task)
	if task.TaskDetail.Description != "Compare two." {
		t.Errorf("the new task's description = %q", task.TaskDetail.Description)
	}
	// The same title again, in another letter case: taken.
	r = ada.post(path, url.Values{"title": {"choose THE hosting"}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), msgTitleTaken) {
		t.Errorf("a taken title = %d", r.status)
	}
	// Anonymous: the guard, before anything runs.
	if r := formClient(t, anon).post(path, url.Values{"title": {"Sneaky"}}); r.status != http.StatusUnauthorized {
		t.Errorf("an anonymous post = %d", r.status)
	}
}

// TestEditTasksForm checks edit_tasks, the bulk-edit formset: the errors
// of a row are keyed tasks.<i>.<field> and shown on that row; a valid post
// changes every row at once and invalidates the project and each task
// edited, nothing else.
func TestEditTasksForm(t *testing.T) {
	srv := newTestServer(t, nil)
	ada := formClient(t, newClient(t, srv))
	ada.signIn(1)

	// JSON: a blank title (a client rule), a title another task of the
	// project has, a task of another project, two rows with one title.
	r := ada.call("edit_tasks", map[string]any{"project_id": 1, "tasks": []map[string]any{
		{"task_id": 1, "title": "", "status": "done"},
		{"task_id": 2, "title": "Run an accessibility audit", "status": "done"},
		{"task_id": 6, "title": "Mine now", "status": "todo"},
	}})
	e := r.envelope(t)
	if r.status != 400 || e.Error == nil || len(e.Error.Fields) != 1 || e.Error.Fields["tasks.0.title"] != "This field is required." {
		t.Errorf("a blank row title = %d %s", r.status, r.body)
	}
	r = ada.call("edit_tasks", map[string]any{"project_id": 1, "tasks": []map[string]any{
		{"task_id": 1, "title": "Copy", "status": "done"},
		{"task_id": 2, "title": "Run an accessibility audit", "status": "done"},
		{"task_id": 6, "title": "Mine now", "status": "todo"},
		{"task_id": 3, "title": "copy", "status": "todo"},
	}})
	e = r.envelope(t)
	want := map[string]string{
		"tasks.1.title":   msgTitleTaken,
		"tasks.2.task_id": "No such task in this project.",
		"tasks.3.title":   "Another row has this title (row 1).",
	}
	if r.status != 400 || e.Error == nil || len(e.Error.Fields) != len(want) {
		t.Fatalf("bad rows = %d %s", r.status, r.body)
	}
	for k, m := range want {
		if e.Error.Fields[k] != m {
			t.Errorf("fields[%s] = %q, want %q", k, e.Error.Fields[k], m)
		}
	}

	// Swapping two titles is fine: a title a row gives up is free for
	// another row.
	path := "/projects/1/tasks/edit"
	r = ada.post(path, url.Values{
		"tasks.0.task_id": {"1"}, "tasks.0.title": {"Pick a font pairing"}, "tasks.0.status": {"done"},
		"tasks.1.task_id": {"2"}, "tasks.1.title": {"Draft the new home page copy"}, "tasks.1.status": {"doing"},
		"tasks.2.task_id": {""}, "tasks.2.title": {""}, "tasks.2.status": {""}, // the spare row, dropped
	})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/projects/1" ||
		r.header.Get("X-Mizan-Invalidate") != "project;project_id=1, task;task_id=1, task;task_id=2" {
		t.Fatalf("a valid bulk edit = %d %v %s", r.status, r.header, r.body)
	}
	var tasks struct {
		Tasks []TaskCard `json:"project_tasks"`
	}
	ada.fetch("project", "?project_id=1", &tasks)
	if a, b := tasks.Tasks[0], tasks.Tasks[1]; a.Title != "Pick a font pairing" || b.Title != "Draft the new home page copy" || b.Status != StatusDoing {
		t.Errorf("after the bulk edit: %+v %+v", a, b)
	}

	// A row error on the HTML path: 422, the row's message beside its
	// field, the other rows' values kept.
	r = ada.post(path, url.Values{
		"tasks.0.task_id": {"1"}, "tasks.0.title": {"Fine"}, "tasks.0.status": {"done"},
		"tasks.1.task_id": {"2"}, "tasks.1.title": {"Fine"}, "tasks.1.status": {"someday"},
	})
	body := string(r.body)
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(body, `data-field="tasks.1.status"`) ||
		!strings.Contains(body, "Select one of: todo, doing, done.") || !strings.Contains(body, `value="Fine"`) {
		t.Errorf("an invalid bulk edit = %d:\n%s", r.status, body)
	}
	// An empty formset: the formset's own error.
	r = ada.call("edit_tasks", map[string]any{"project_id": 1, "tasks": []any{}})
	if e := r.envelope(t); r.status != 400 || e.Error == nil || e.Error.Fields["tasks"] == "" {
		t.Errorf("no rows = %d %s", r.status, r.body)
	}
}

// TestSignInForm checks sign_in, the sign-in page's form for browsers
// without JavaScript: a wrong pair is one error of the whole form, the
// same for an unknown user; a right one starts a cookie session, with
// which the forms' posts are the user's.
func TestSignInForm(t *testing.T) {
	srv := newTestServer(t, nil)
	b := formClient(t, newClient(t, srv))
	for _, v := range []url.Values{
		{"username": {"grace"}, "password": {"wrong"}},
		{"username": {"nobody"}, "password": {"nobody"}},
	} {
		r := b.post("/signin/password", v)
		if r.status != http.StatusUnauthorized || !strings.Contains(string(r.body), msgSignIn) || r.header.Get("Set-Cookie") != "" {
			t.Errorf("sign_in %v = %d %v", v, r.status, r.header)
		}
	}
	r := b.post("/signin/password", url.Values{"username": {""}, "password": {""}})
	if r.status != http.StatusUnprocessableEntity || strings.Count(string(r.body), "This field is required.") != 2 {
		t.Errorf("an empty sign-in = %d:\n%s", r.status, r.body)
	}
	r = b.post("/signin/password", url.Values{"username": {"grace"}, "password": {"grace"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/" || !strings.Contains(r.header.Get("Set-Cookie"), "mizan_session=") {
		t.Fatalf("sign_in = %d %v", r.status, r.header)
	}
	var global struct {
		User *User `json:"current_user"`
	}
	b.fetch("global", "", &global)
	if global.User == nil || global.User.Name != "Grace Hopper" {
		t.Fatalf("current_user with the session cookie = %+v", global.User)
	}
	r = b.post("/projects/2/tasks/new", url.Values{"title": {"From a plain form"}})
	if r.status != http.StatusSeeOther || r.header.Get("X-Mizan-Invalidate") != "project;project_id=2" {
		t.Errorf("add_task with the session cookie = %d %v %s", r.status, r.header, r.body)
	}
	// A cross-site post is refused even with the cookie.
	req, _ := http.NewRequest("POST", srv.URL+"/projects/2/tasks/new", strings.NewReader("title=Forged"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	for _, c := range b.hc.Jar.Cookies(req.URL) {
		req.AddCookie(c)
	}
	if status, body := send(t, req); status != http.StatusForbidden {
		t.Errorf("a cross-site post = %d %s", status, body)
	}
}

// TestSchemaUpgrade checks that a database of schema version 1 (before
// tasks had a description and a due date, and users a password hash) is
// upgraded in place, its data kept, and its users given the argon2id hash
// of their demo password.
func TestSchemaUpgrade(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v1.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	v1 := strings.NewReplacer("\tdescription TEXT NOT NULL DEFAULT '',\n\tdue_date    TEXT,\n", "",
		"\tstaff INTEGER NOT NULL DEFAULT 0,\n\t-- argon2id in PHC format (package auth/password); '' until set\n\tpassword_hash TEXT NOT NULL DEFAULT ''\n",
		"\tstaff INTEGER NOT NULL DEFAULT 0\n").Replace(schema)
	if strings.Contains(v1, "password_hash") || strings.Contains(v1, "due_date") {
		t.Fatal("the test's version 1 schema has columns of later versions")
	}
	if v1 == schema {
		t.Fatal("the test's version 1 schema is the current one")
	}
	for _, q := range []string{v1,
		"INSERT INTO users (name, email) VALUES ('Old', 'old@example.com')",
		"INSERT INTO projects (name) VALUES ('Kept')",
		"INSERT INTO tasks (project_id, title, created_by, created_at) VALUES (1, 'An old task', 1, 0)",
		"INSERT INTO settings (key, value) VALUES ('cookie_secret', '" + strings.Repeat("ab", 32) + "')",
		"PRAGMA user_version = 1"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	db, created, err := openDB(ctx, path)
	if err != nil || created {
		t.Fatalf("openDB of a version 1 database: created %v, %v", created, err)
	}
	defer db.Close()
	var version int
	var title, desc string
	var due sql.NullString
	if err := db.QueryRow("PRAGMA user_version").Scan(&version); err != nil || version != schemaVersion {
		t.Errorf("version %d (%v), want %d", version, err, schemaVersion)
	}
	if err := db.QueryRow("SELECT title, description, due_date FROM tasks").Scan(&title, &desc, &due); err != nil ||
		title != "An old task" || desc != "" || due.Valid {
		t.Errorf("the old task: %q %q %v (%v)", title, desc, due, err)
	}
	var hash string
	if err := db.QueryRow("SELECT password_hash FROM users WHERE email = 'old@example.com'").Scan(&hash); err != nil {
		t.Fatal(err)
	}
	if ok, _, err := passwords.Verify("old", hash); !ok || err != nil {
		t.Errorf("the old user's password hash %q does not verify their demo password (%v)", hash, err)
	}
}
