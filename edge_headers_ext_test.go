package mizan_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/cache"
)

// getHeaders gets path from srv and returns the response's headers.
func getHeaders(t *testing.T, srv *httptest.Server, method, path, body string, headers ...string) http.Header {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s", method, path, res.Status)
	}
	return res.Header
}

// TestEdgeHeadersOfContextFetches: every context fetch an edge forwards
// (X-Mizan-Edge-Request) says whom it served (X-Mizan-Identity) and which
// instance, normalized (X-Mizan-Instance), on a miss, on a hit through the
// quick path and the whole one, and without the origin cache
// (docs/spec.md §11, §13.8).
func TestEdgeHeadersOfContextFetches(t *testing.T) {
	ca := newCachedApp(t, cache.NewMemory(cache.MemoryOptions{}))
	for _, c := range []struct {
		path, user, cache, identity, instance string
	}{
		{"/api/mizan/ctx/user/?user_id=01", "", "miss", "anonymous", "user;user_id=1"},
		{"/api/mizan/ctx/user/?user_id=1", "", "hit", "anonymous", "user;user_id=1"},
		{"/api/mizan/ctx/user/?user_id=%2B1", "", "hit", "anonymous", "user;user_id=1"},
		{"/api/mizan/ctx/user/?user_id=1", "7", "miss", "7", "user;user_id=1"},
		{"/api/mizan/ctx/user/?user_id=1", "7", "hit", "7", "user;user_id=1"},
		{"/api/mizan/ctx/orders/?status=a%20b&user_id=2&page=3", "", "miss", "anonymous", "orders;page=3;status=a%20b;user_id=2"},
		{"/api/mizan/ctx/settings/", "7", "miss", "7", "settings"},
		{"/api/mizan/ctx/clock/", "", "bypass", "anonymous", "clock"},
	} {
		hs := []string{mizan.HeaderEdgeRequest, "1"}
		if c.user != "" {
			hs = append(hs, "X-Test-User", c.user)
		}
		h := getHeaders(t, ca.srv, http.MethodGet, c.path, "", hs...)
		if got := h.Get("X-Mizan-Cache"); got != c.cache {
			t.Errorf("%s as %q: X-Mizan-Cache %q, want %q", c.path, c.user, got, c.cache)
		}
		if got := h.Values(mizan.HeaderIdentity); len(got) != 1 || got[0] != c.identity {
			t.Errorf("%s as %q: X-Mizan-Identity %q, want %q", c.path, c.user, got, c.identity)
		}
		if got := h.Values(mizan.HeaderInstance); len(got) != 1 || got[0] != c.instance {
			t.Errorf("%s as %q: X-Mizan-Instance %q, want %q", c.path, c.user, got, c.instance)
		}
	}
	// Without an edge asking, neither is sent (a hit, then a miss).
	for _, path := range []string{"/api/mizan/ctx/user/?user_id=1", "/api/mizan/ctx/user/?user_id=3"} {
		h := getHeaders(t, ca.srv, http.MethodGet, path, "")
		if h.Get(mizan.HeaderInstance) != "" || h.Get(mizan.HeaderIdentity) != "" {
			t.Errorf("%s, no edge: X-Mizan-Instance %q, X-Mizan-Identity %q; want neither", path, h.Get(mizan.HeaderInstance), h.Get(mizan.HeaderIdentity))
		}
	}
	// A call says whom it ran as, and names no instance.
	h := getHeaders(t, ca.srv, http.MethodPost, "/api/mizan/call/", `{"fn":"rename","args":{"user_id":1,"name":"Ada"}}`,
		"Content-Type", "application/json", "X-Test-User", "9", mizan.HeaderEdgeRequest, "1")
	if got := h.Get(mizan.HeaderIdentity); got != "9" || h.Get(mizan.HeaderInstance) != "" {
		t.Errorf("call: X-Mizan-Identity %q, X-Mizan-Instance %q; want 9 and none", got, h.Get(mizan.HeaderInstance))
	}
}

// TestEdgeHeadersOfViews: a read view's page names its context instance
// from its arguments; a view mutation only whom it served.
func TestEdgeHeadersOfViews(t *testing.T) {
	app := mizan.New(mizan.Config{Authenticator: mizan.AuthenticatorFunc(testAuth)})
	mizan.Query(app, func(context.Context, profileArgs) (string, error) { return "", nil }, mizan.Name("profile"), mizan.In(User))
	mizan.View(app, func(context.Context, profileArgs) (http.Handler, error) {
		return mizan.HTML(http.StatusOK, "<p>page</p>"), nil
	}, mizan.Name("profile_page"), mizan.In(User), mizan.Route("/u/{user_id}/"))
	mizan.View(app, func(context.Context, updateArgs) (http.Handler, error) { return nil, nil },
		mizan.Name("rename_view"), mizan.Affects(User), mizan.Route("/u/{user_id}/rename/"))
	srv := httptest.NewServer(app)
	defer srv.Close()
	h := getHeaders(t, srv, http.MethodGet, "/u/007/", "", "X-Test-User", "4", mizan.HeaderEdgeRequest, "1")
	if h.Get(mizan.HeaderIdentity) != "4" || h.Get(mizan.HeaderInstance) != "user;user_id=7" {
		t.Errorf("read view: identity %q instance %q, want 4 and user;user_id=7", h.Get(mizan.HeaderIdentity), h.Get(mizan.HeaderInstance))
	}
	h = getHeaders(t, srv, http.MethodPost, "/u/7/rename/", "name=x", "Content-Type", "application/x-www-form-urlencoded",
		"Sec-Fetch-Site", "same-origin", mizan.HeaderEdgeRequest, "1")
	if h.Get(mizan.HeaderIdentity) != "anonymous" || h.Get(mizan.HeaderInstance) != "" {
		t.Errorf("view mutation: identity %q instance %q, want anonymous and none", h.Get(mizan.HeaderIdentity), h.Get(mizan.HeaderInstance))
	}
	if h.Get("X-Mizan-Invalidate") != "user;user_id=7" {
		t.Errorf("view mutation: X-Mizan-Invalidate %q", h.Get("X-Mizan-Invalidate"))
	}
}
