package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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
