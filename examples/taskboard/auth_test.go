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
	// A Bearer caller needs no CSRF token (a page of another site cannot
	// make the browser send the header).
	grace.csrf = ""
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

	// Signing out (auth/logout/) drops the session: the same access token
	// is refused from the next request on.
	if r := grace.do("POST", "/api/mizan/auth/logout/", "", ""); r.status != 200 {
		t.Errorf("auth/logout/ = %d %s", r.status, r.body)
	}
	if r := grace.fetch("global", "", nil); r.status != 401 || !strings.Contains(string(r.body), "session revoked") {
		t.Errorf("ctx/global/ with the logged-out token = %d %s, want 401 session revoked", r.status, r.body)
	}
	if r := grace.call("add_task", map[string]any{"project_id": 1, "title": "x"}); r.status != 401 {
		t.Errorf("add_task after logout = %d, want 401", r.status)
	}
	grace.access = ""
	grace.fetch("global", "", &global)
	if global.CurrentUser != nil {
		t.Errorf("current_user without a token = %+v", global.CurrentUser)
	}
}

// TestSignInRefused: auth/token/ refuses a wrong password, an unknown
// user and an email address (the username is the email's local part), and
// a request without a password; a forged token is refused, not ignored.
func TestSignInRefused(t *testing.T) {
	srv := newTestServer(t, nil)
	c := newClient(t, srv)
	for _, bad := range []string{
		`{"username":"ada","password":"grace"}`,
		`{"username":"nobody","password":"nobody"}`,
		`{"username":"ada@example.com","password":"ada"}`,
	} {
		if r := c.do("POST", "/api/mizan/auth/token/", "application/json", bad); r.status != 401 || r.code(t) != "unauthorized" {
			t.Errorf("auth/token/ %s = %d %s, want 401", bad, r.status, r.body)
		}
	}
	if r := c.do("POST", "/api/mizan/auth/token/", "application/json", `{"username":"ada"}`); r.status != 400 {
		t.Errorf("auth/token/ without a password = %d %s, want 400", r.status, r.body)
	}
	// Usernames are case-insensitive.
	if r := c.do("POST", "/api/mizan/auth/token/", "application/json", `{"username":"Ada","password":"ada"}`); r.status != 200 {
		t.Errorf("auth/token/ as Ada = %d %s", r.status, r.body)
	}
	c.access = "forged"
	if r := c.fetch("global", "", nil); r.status != 401 || r.code(t) != "unauthorized" {
		t.Errorf("ctx/global/ with a forged token = %d %s, want 401", r.status, r.body)
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
	// An expired access token (the UI then refreshes): auth/refresh/
	// rotates the pair; the new access token works, and the spent refresh
	// token is refused.
	status, body = post("auth/refresh/", "", `{"refresh":"`+pair.Refresh+`"}`)
	var next struct{ Access, Refresh string }
	if err := json.Unmarshal([]byte(body), &next); status != 200 || err != nil || next.Access == "" || next.Refresh == pair.Refresh {
		t.Fatalf("auth/refresh/ = %d %s", status, body)
	}
	if status, body := post("call/", next.Access, strings.Replace(call, "By token", "By refreshed token", 1)); status != 200 {
		t.Fatalf("add_task with the refreshed access token = %d %s", status, body)
	}
	pair.Access = next.Access
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
