package ssr_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/mizan-afi/mizan"
)

// TestPagesTellTheEdgeWhatTheyShow: a page answers with X-Mizan-Instance
// naming every instance it shows, normalized, whether it was rendered
// now, served from the page cache, or rendered for one caller; an edge
// keeps a page only with it (docs/spec.md §13.8).
func TestPagesTellTheEdgeWhatTheyShow(t *testing.T) {
	f := newFixture(t, time.Millisecond)
	instance := func(path string, header ...string) (string, string) {
		t.Helper()
		req := httptest.NewRequest(http.MethodGet, path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		w := httptest.NewRecorder()
		f.app.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, w.Code, w.Body)
		}
		if _, edge := req.Header[mizan.HeaderEdgeRequest]; edge {
			if got := w.Header().Values(mizan.HeaderIdentity); len(got) != 1 {
				t.Errorf("GET %s: X-Mizan-Identity %q, want one value", path, got)
			}
		}
		return w.Header().Get(mizan.HeaderInstance), w.Header().Get("X-Mizan-Render")
	}
	if got, _ := instance("/projects/02/"); got != "" {
		t.Errorf("psr page without an edge asking: X-Mizan-Instance %q, want none", got)
	}
	edge := []string{mizan.HeaderEdgeRequest, "1"}
	for i := range 2 {
		got, how := instance("/projects/02/", edge...)
		if got != "project;project_id=2" {
			t.Errorf("psr page, request %d (%s): X-Mizan-Instance %q, want project;project_id=2", i, how, got)
		}
	}
	if got, how := instance("/accounts/7/", append(edge, "X-User", "7")...); got != "account;user_id=7" || how != "dynamic" {
		t.Errorf("dynamic page: X-Mizan-Instance %q (%s), want account;user_id=7 (dynamic)", got, how)
	}
}
