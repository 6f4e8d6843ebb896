package mizan_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mizan-afi/mizan"
)

// TestStrippedPrefixSaysSo: the app matches whole paths, so mounting it
// behind http.StripPrefix makes every endpoint a 404. That 404 says what
// happened and what to do, even when a Fallback (an SPA) would otherwise
// answer the API call with a page; a path the app never served still gets
// the fallback.
func TestStrippedPrefixSaysSo(t *testing.T) {
	for _, withFallback := range []bool{false, true} {
		cfg := mizan.Config{}
		if withFallback {
			cfg.Fallback = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, "<!doctype html><title>spa</title>")
			})
		}
		app := mizan.New(cfg)
		mizan.Query(app, func(context.Context, struct{}) (int, error) { return 1, nil }, mizan.Name("one"), mizan.In("numbers"))
		if err := app.Build(); err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.Handle("/api/mizan/", http.StripPrefix("/api/mizan", app))
		mux.Handle("/app/", http.StripPrefix("/app", app))
		srv := httptest.NewServer(mux)

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
		status, body := get("/api/mizan/ctx/numbers/")
		var env struct {
			Error struct{ Code, Message string }
		}
		if err := json.Unmarshal([]byte(body), &env); err != nil || status != http.StatusNotFound || env.Error.Code != "not_found" {
			t.Fatalf("fallback %v: stripped ctx/numbers/ = %d %s, want the 404 envelope", withFallback, status, body)
		}
		for _, want := range []string{`stripped "/api/mizan"`, "http.StripPrefix", "/api/mizan/", "Config.Prefix"} {
			if !strings.Contains(env.Error.Message, want) {
				t.Errorf("fallback %v: message %q lacks %q", withFallback, env.Error.Message, want)
			}
		}
		// A stripped path that was not for the endpoints' prefix is the
		// app's usual not-found: the fallback, or the plain 404.
		status, body = get("/app/nowhere")
		switch {
		case withFallback && (status != 200 || !strings.Contains(body, "spa")):
			t.Errorf("fallback: /app/nowhere = %d %s, want the fallback's page", status, body)
		case !withFallback && (status != 404 || strings.Contains(body, "StripPrefix")):
			t.Errorf("/app/nowhere = %d %s, want the plain 404", status, body)
		}
		srv.Close()

		// Mounted whole, the endpoint is served.
		srv = httptest.NewServer(app)
		if status, body := get("/api/mizan/ctx/numbers/"); status != 200 || !strings.Contains(body, `"one":1`) {
			t.Errorf("unstripped ctx/numbers/ = %d %s", status, body)
		}
		if status, body := get("/api/mizan/nothing/"); status != 404 || strings.Contains(body, "StripPrefix") {
			t.Errorf("unstripped unknown path = %d %s, want the plain 404", status, body)
		}
		srv.Close()
	}
}
