package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
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
	r := c.call("sign_in", map[string]any{"user_id": 1})
	cookie := r.header.Get("Set-Cookie")
	for _, want := range []string{sessionCookie + "=1.", "HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=2592000"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("Set-Cookie %q lacks %q", cookie, want)
		}
	}
	if r := c.call("sign_in", map[string]any{"user_id": 99}); r.status != 404 {
		t.Errorf("sign_in as user 99 = %d %s, want 404", r.status, r.body)
	}

	// A forged cookie (user 1's signature on user 2) is no session.
	value := strings.TrimPrefix(strings.SplitN(cookie, ";", 2)[0], sessionCookie+"=")
	forged := "2" + strings.TrimPrefix(value, "1")
	req, _ := http.NewRequest("GET", srv.URL+"/api/mizan/ctx/global/", nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: forged})
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(b) != `{"current_user":null}` {
		t.Errorf("forged cookie: %d %s, want an anonymous caller", res.StatusCode, b)
	}

	s := &sessions{secret: []byte("0123456789abcdef0123456789abcdef")}
	good := s.sign(7, testNow.Add(time.Hour))
	if id, ok := s.verify(good, testNow); !ok || id != 7 {
		t.Errorf("verify(sign(7)) = %d, %v", id, ok)
	}
	other := &sessions{secret: []byte("another secret, just as long....")}
	for name, v := range map[string]string{
		"expired":      s.sign(7, testNow),
		"other secret": other.sign(7, testNow.Add(time.Hour)),
		"tampered":     strings.Replace(good, "7.", "8.", 1),
		"malformed":    "7",
		"empty":        "",
		"no expiry":    "7." + s.mac("7"),
	} {
		if id, ok := s.verify(v, testNow); ok {
			t.Errorf("verify(%s) = %d, true; want false", name, id)
		}
	}
}
