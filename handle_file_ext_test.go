package mizan_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mizan-afi/mizan"
)

func TestHandleFile(t *testing.T) {
	app := mizan.New(mizan.Config{Logger: slog.New(slog.DiscardHandler)})
	mizan.Mutation(app, func(context.Context, struct{}) (bool, error) { return true, nil }, mizan.Name("ping"))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "file "+r.URL.Path) })
	for _, name := range []string{"", "ws", "ws/", ".json", "a.", "a/b.json", "a b.json", "é.json"} {
		if err := app.HandleFile(name, h); err == nil {
			t.Errorf("HandleFile(%q) accepted", name)
		}
	}
	if err := app.HandleFile("x.json", nil); err == nil {
		t.Error("nil handler accepted")
	}
	if err := app.HandleFile("openapi.json", h); err != nil {
		t.Fatal(err)
	}
	if err := app.Build(); err != nil {
		t.Fatal(err)
	}
	if err := app.HandleFile("late.json", h); err == nil || !strings.Contains(err.Error(), "already built") {
		t.Errorf("after Build: %v", err)
	}
	srv := httptest.NewServer(app)
	defer srv.Close()
	for path, want := range map[string]int{"/api/mizan/openapi.json": 200, "/api/mizan/openapi.json/": 404, "/api/mizan/openapi.jsonx": 404, "/openapi.json": 404} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != want || want == 200 && string(body) != "file /api/mizan/openapi.json" {
			t.Errorf("%s: %d %q, want %d", path, res.StatusCode, body, want)
		}
	}
}

func TestHandleFileTwiceFailsBuild(t *testing.T) {
	app := mizan.New(mizan.Config{Logger: slog.New(slog.DiscardHandler)})
	h := http.NotFoundHandler()
	if err := app.HandleFile("a.json", h); err != nil {
		t.Fatal(err)
	}
	if err := app.HandleFile("a.json", h); err != nil {
		t.Fatal(err)
	}
	if err := app.Build(); err == nil || !strings.Contains(err.Error(), "a.json") {
		t.Errorf("Build with a.json twice: %v", err)
	}
}
