package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestAuthGuards(t *testing.T) {
	srv := newTestServer(t, nil)

	anon := newClient(t, srv)
	for fn, args := range map[string]any{
		"add_task":       map[string]any{"project_id": 1, "title": "x"},
		"add_comment":    map[string]any{"project_id": 1, "task_id": 1, "body": "x"},
		"create_project": map[string]any{"name": "x"},
		"rename_user":    map[string]any{"user_id": 1, "name": "x"},
	} {
		if r := anon.call(fn, args); r.status != 401 || r.code(t) != "unauthorized" || r.header.Get("X-Mizan-Invalidate") != "" {
			t.Errorf("anonymous %s = %d %s, want 401 unauthorized without targets", fn, r.status, r.body)
		}
	}

	grace := newClient(t, srv)
	grace.signIn(2)
	var global struct {
		CurrentUser *User `json:"current_user"`
	}
	grace.fetch("global", "", &global)
	if global.CurrentUser == nil || global.CurrentUser.Name != "Grace Hopper" {
		t.Fatalf("current_user after sign_in = %+v", global.CurrentUser)
	}
	// A cookie caller must repeat the CSRF token.
	token := grace.csrf
	grace.csrf = ""
	if r := grace.call("add_task", map[string]any{"project_id": 1, "title": "x"}); r.status != 403 || r.code(t) != "forbidden" {
		t.Errorf("add_task without the CSRF token = %d %s, want 403", r.status, r.body)
	}
	grace.csrf = token
	grace.mustCall("add_task", map[string]any{"project_id": 1, "title": "x"})
	// Staff only, and renaming someone else.
	for fn, args := range map[string]any{
		"create_project": map[string]any{"name": "Secret"},
		"delete_project": map[string]any{"project_id": 1},
		"rename_user":    map[string]any{"user_id": 1, "name": "Mallory"},
	} {
		if r := grace.call(fn, args); r.status != 403 || r.code(t) != "forbidden" {
			t.Errorf("%s by a member = %d %s, want 403 forbidden", fn, r.status, r.body)
		}
	}
	grace.mustCall("rename_user", map[string]any{"user_id": 2, "name": "Grace B. Hopper"})

	ada := newClient(t, srv)
	ada.signIn(1)
	ada.mustCall("create_project", map[string]any{"name": "Secret"})
	ada.mustCall("rename_user", map[string]any{"user_id": 3, "name": "Alan M. Turing"})

	// Signing out drops the session.
	r := grace.call("sign_out", map[string]any{})
	if r.status != 200 || !strings.Contains(r.header.Get("Set-Cookie"), "Max-Age=0") {
		t.Errorf("sign_out = %d %v", r.status, r.header)
	}
	grace.fetch("global", "", &global)
	if global.CurrentUser != nil {
		t.Errorf("current_user after sign_out = %+v", global.CurrentUser)
	}
	if r := grace.call("add_task", map[string]any{"project_id": 1, "title": "x"}); r.status != 401 {
		t.Errorf("add_task after sign_out = %d, want 401", r.status)
	}
}

func TestSessionCookie(t *testing.T) {
	srv := newTestServer(t, nil)
	c := newClient(t, srv)
	c.session()
	for _, bad := range []map[string]any{
		{"username": "ada", "password": "grace"},
		{"username": "nobody", "password": "nobody"},
		{"username": "ada@example.com", "password": "ada"},
	} {
		if r := c.call("sign_in", bad); r.status != 401 || r.code(t) != "unauthorized" || r.header.Get("Set-Cookie") != "" {
			t.Errorf("sign_in %v = %d %s, want 401 without a cookie", bad, r.status, r.body)
		}
	}
	if r := c.call("sign_in", map[string]any{"username": "ada"}); r.status != 400 {
		t.Errorf("sign_in without a password = %d %s, want 400", r.status, r.body)
	}
	r := c.call("sign_in", map[string]any{"username": "Ada", "password": "ada"})
	cookie := r.header.Get("Set-Cookie")
	for _, want := range []string{"mizan_session=", "HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=604800"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("Set-Cookie %q lacks %q", cookie, want)
		}
	}
	var global struct {
		CurrentUser *User `json:"current_user"`
	}
	c.fetch("global", "", &global)
	if global.CurrentUser == nil || global.CurrentUser.ID != 1 {
		t.Fatalf("current_user after sign_in = %+v", global.CurrentUser)
	}

	// A made-up session id is no session.
	req, _ := http.NewRequest("GET", srv.URL+"/api/mizan/ctx/global/", nil)
	req.AddCookie(&http.Cookie{Name: "mizan_session", Value: "forged"})
	if status, body := send(t, req); status != 200 || body != `{"current_user":null}` {
		t.Errorf("forged cookie: %d %s, want an anonymous caller", status, body)
	}

	// Signing out deletes the session: a copy of the cookie kept from
	// before is refused at once.
	value := strings.TrimPrefix(strings.SplitN(cookie, ";", 2)[0], "mizan_session=")
	c.mustCall("sign_out", map[string]any{})
	req, _ = http.NewRequest("POST", srv.URL+"/api/mizan/call/", strings.NewReader(`{"fn":"add_task","args":{"project_id":1,"title":"replayed"}}`))
	req.Header.Set("Content-Type", "application/json")
	req.AddCookie(&http.Cookie{Name: "mizan_session", Value: value})
	if status, body := send(t, req); status != 401 {
		t.Errorf("add_task replaying the signed-out cookie = %d %s, want 401", status, body)
	}
}

// TestJWT signs in at auth/token/ with a demo password, calls with the
// access token, and logs out: the token is refused at once.
func TestJWT(t *testing.T) {
	srv := newTestServer(t, nil)
	post := func(path, bearer, body string) (int, string) {
		req, _ := http.NewRequest("POST", srv.URL+"/api/mizan/"+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		return send(t, req)
	}
	if status, body := post("auth/token/", "", `{"username":"grace","password":"ada"}`); status != 401 {
		t.Errorf("auth/token/ with a wrong password = %d %s", status, body)
	}
	status, body := post("auth/token/", "", `{"username":"grace","password":"grace"}`)
	var pair struct{ Access, Refresh string }
	if err := json.Unmarshal([]byte(body), &pair); status != 200 || err != nil || pair.Access == "" {
		t.Fatalf("auth/token/ = %d %s", status, body)
	}
	call := `{"fn":"add_task","args":{"project_id":1,"title":"By token"}}`
	if status, body := post("call/", pair.Access, call); status != 200 {
		t.Fatalf("add_task with the access token = %d %s", status, body)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/api/mizan/ctx/global/", nil)
	req.Header.Set("Authorization", "Bearer "+pair.Access)
	if status, body := send(t, req); status != 200 || !strings.Contains(body, `"Grace Hopper"`) {
		t.Errorf("current_user with the access token = %d %s", status, body)
	}
	if status, body := post("auth/logout/", pair.Access, ""); status != 200 {
		t.Fatalf("auth/logout/ = %d %s", status, body)
	}
	if status, body := post("call/", pair.Access, call); status != 401 || !strings.Contains(body, "session revoked") {
		t.Errorf("add_task with the logged-out token = %d %s, want 401 session revoked", status, body)
	}
	if status, body := post("auth/refresh/", "", `{"refresh":"`+pair.Refresh+`"}`); status != 401 {
		t.Errorf("auth/refresh/ after logout = %d %s, want 401", status, body)
	}
}

// send does req and returns its status and body.
func send(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}
