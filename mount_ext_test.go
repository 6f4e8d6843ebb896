package mizan_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// TestMountInChi shows the app as a plain http.Handler mounted in a chi router
// next to the router's own routes and middleware.
func TestMountInChi(t *testing.T) {
	e := newTestApp(t) // built app behind e.srv; mount the same handler in chi
	r := chi.NewRouter()
	r.Use(middleware.RequestID)
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	r.Mount("/", e.srv.Config.Handler)
	srv := httptest.NewServer(r)
	defer srv.Close()

	get := func(path string) (int, string) {
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
}
