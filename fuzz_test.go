package mizan_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mizan-afi/mizan"
)

// FuzzCallBody sends arbitrary bodies to call/: the answer is always a
// success or a 4xx error envelope, never a panic or a 500.
func FuzzCallBody(f *testing.F) {
	for _, s := range []string{
		`{"fn":"update_profile","args":{"user_id":5,"name":"Ryth"}}`,
		`{"fn":"archive_orders","args":{"user_id":1,"status":"open"}}`,
		`{"fn":"echo","args":{"text":"<\u0000>"}}`,
		`{"fn":"reset_all"}`, `{"fn":`, `[]`, `null`, `{"fn":"update_profile","args":{"user_id":1e99}}`,
	} {
		f.Add(s)
	}
	app := fuzzApp(f)
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/api/mizan/call/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		app.ServeHTTP(w, req)
		checkAnswer(t, w)
	})
}

// FuzzContextQuery sends arbitrary query strings to ctx/: the same guarantee.
func FuzzContextQuery(f *testing.F) {
	for _, s := range []string{"user_id=1", "user_id=1&status=x", "user_id=%zz", "user_id=1&user_id=2", "mine=true&status=&user_id=-0"} {
		f.Add("orders", s)
		f.Add("user", s)
	}
	app := fuzzApp(f)
	f.Fuzz(func(t *testing.T, ctx, query string) {
		req, err := http.NewRequest("GET", "http://x/api/mizan/ctx/x/", nil)
		if err != nil {
			t.Skip()
		}
		req.URL.Path = "/api/mizan/ctx/" + ctx + "/"
		req.URL.RawQuery = query
		w := httptest.NewRecorder()
		app.ServeHTTP(w, req)
		checkAnswer(t, w)
	})
}

func fuzzApp(f *testing.F) *mizan.App {
	app := mizan.New(mizan.Config{Logger: slog.New(slog.DiscardHandler)})
	s := &store{names: map[int]string{1: "Ada"}}
	mizan.Query(app, s.userProfile, mizan.In(User))
	mizan.Query(app, userOrders, mizan.In(User))
	mizan.Query(app, orderPage, mizan.In(Orders))
	mizan.Mutation(app, s.updateProfile, mizan.Affects(User))
	mizan.Mutation(app, archiveOrders, mizan.Affects(Orders))
	mizan.Mutation(app, resetAll, mizan.Affects(User, Orders))
	mizan.Query(app, func(_ context.Context, in echoArgs) (echoArgs, error) { return in, nil }, mizan.Name("echo"))
	if err := app.Build(); err != nil {
		f.Fatal(err)
	}
	return app
}

func checkAnswer(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code >= 500 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if w.Code >= 300 && w.Code < 400 {
		return // net/http's redirect to the cleaned path (ctx//, ctx/a/../b/)
	}
	if !json.Valid(w.Body.Bytes()) {
		t.Fatalf("body is not JSON: %q", w.Body)
	}
	if w.Code >= 400 {
		var env struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || env.Error.Code == "" || env.Error.Message == "" {
			t.Fatalf("status %d without an error envelope: %s", w.Code, w.Body)
		}
	}
}
