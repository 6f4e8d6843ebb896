package conformance_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// TestSession checks GET session/: {"csrf_token"} and the csrftoken cookie
// holding the same token.
func TestSession(t *testing.T) {
	r := do(t, http.MethodGet, prefix+"session/", "")
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if mt := r.mediaType(); mt != "application/json" {
		t.Errorf("Content-Type %q, want application/json", r.header.Get("Content-Type"))
	}
	var body map[string]string
	obj, err := decodeObject(r.body)
	if err != nil {
		t.Fatalf("body %s: %v", r.body, err)
	}
	if keys := sortedKeys(obj); len(keys) != 1 || keys[0] != "csrf_token" {
		t.Fatalf("body members %q, want exactly csrf_token", keys)
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("csrf_token is not a string: %s", r.body)
	}
	token := body["csrf_token"]
	if len(token) < 16 {
		t.Errorf("csrf_token %q is too short to be a secret", token)
	}
	var cookie *http.Cookie
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == "csrftoken" {
			cookie = c
		}
	}
	if cookie == nil {
		t.Fatalf("no csrftoken cookie set: %q", r.header.Values("Set-Cookie"))
	}
	if cookie.Value != token {
		t.Errorf("cookie %q differs from the body's csrf_token %q", cookie.Value, token)
	}
	if cookie.Path != "/" {
		t.Errorf("cookie path %q, want /", cookie.Path)
	}
	// A second session gets a token of its own.
	r2 := do(t, http.MethodGet, prefix+"session/", "")
	var body2 map[string]string
	if err := json.Unmarshal(r2.body, &body2); err != nil || body2["csrf_token"] == "" {
		t.Fatalf("second session: %d %s", r2.status, r2.body)
	}
	if body2["csrf_token"] == token {
		t.Errorf("two sessions share the token %q", token)
	}
}

// TestContextFetch checks the result of every context of the fixture
// through GET ctx/<name>/, exactly.
func TestContextFetch(t *testing.T) {
	cases := []struct {
		name    string
		path    string
		headers []string
		want    string
	}{
		{"current_user anonymous", "ctx/global/", nil, `{"current_user": null}`},
		{"current_user integer id", "ctx/global/", []string{"X-Test-User", "1"}, `{"current_user": {"id": 1}}`},
		{"current_user staff", "ctx/global/", []string{"X-Test-User", "2", "X-Test-Staff", "1"}, `{"current_user": {"id": 2}}`},
		{"current_user string id", "ctx/global/", []string{"X-Test-User", "svc-bot"}, `{"current_user": {"id": "svc-bot"}}`},
		{"user 1", "ctx/user/?user_id=1", nil, `{
			"user_profile": {"id": 1, "name": "Ada", "email": "ada@example.com"},
			"user_orders": [{"id": 101, "total": 1200}, {"id": 102, "total": 4550}]}`},
		{"user 1 as a caller", "ctx/user/?user_id=1", []string{"X-Test-User", "2"}, `{
			"user_profile": {"id": 1, "name": "Ada", "email": "ada@example.com"},
			"user_orders": [{"id": 101, "total": 1200}, {"id": 102, "total": 4550}]}`},
		{"order_page", "ctx/orders/?user_id=2&page=1&status=open", nil,
			`{"order_page": {"items": [{"id": 201, "total": 1200, "status": "open"}], "page": 1}}`},
		{"order_page shipped", "ctx/orders/?status=shipped&page=1&user_id=2", nil,
			`{"order_page": {"items": [{"id": 202, "total": 4550, "status": "shipped"}], "page": 1}}`},
		{"order_page past the end", "ctx/orders/?user_id=2&page=2&status=open", nil,
			`{"order_page": {"items": [], "page": 2}}`},
		{"order_page no such status", "ctx/orders/?user_id=2&page=1&status=" + url.QueryEscape("on hold"), nil,
			`{"order_page": {"items": [], "page": 1}}`},
		{"plan", "ctx/subscription/", nil, `{"plan": {"plan": "free"}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := do(t, http.MethodGet, prefix+c.path, "", c.headers...)
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if mt := r.mediaType(); mt != "application/json" {
				t.Errorf("Content-Type %q, want application/json", r.header.Get("Content-Type"))
			}
			wantHeader(t, r, headerInvalidate, "")
			wantJSON(t, "bundle", r.body, c.want)
		})
	}
}

// TestCallResultsAndInvalidation checks every callable function's result and
// its invalidation targets, in the body and in the header, exactly.
func TestCallResultsAndInvalidation(t *testing.T) {
	cases := []struct {
		name       string
		fn         string
		args       any
		headers    []string
		result     string
		invalidate string
		header     string
	}{
		{"secret", "secret", nil, []string{"X-Test-User", "2"}, `{"secret": 42}`, `[]`, ""},
		{"admin_action", "admin_action", nil, []string{"X-Test-User", "1", "X-Test-Staff", "1"}, `{"ok": true}`, `[]`, ""},
		{"update_profile scoped by user_id", "update_profile", map[string]any{"user_id": 2, "name": "Grace H."}, nil, `{"ok": true}`,
			`[{"context": "user", "params": {"user_id": 2}}]`, "user;user_id=2"},
		{"update_name function-level", "update_name", map[string]any{"user_id": 3, "name": "Lin N."}, nil, `{"ok": true}`,
			`[{"context": "user", "function": "user_profile", "params": {"user_id": 3}}]`, "user;user_id=3"},
		{"reset_all broad", "reset_all", nil, nil, `{"ok": true}`, `["user", "orders"]`, "user, orders"},
		{"reset_all with empty args", "reset_all", map[string]any{}, nil, `{"ok": true}`, `["user", "orders"]`, "user, orders"},
		{"archive_orders scoped by both", "archive_orders", map[string]any{"user_id": 1, "status": "open"}, nil, `{"ok": true}`,
			`[{"context": "orders", "params": {"status": "open", "user_id": 1}}]`, "orders;status=open;user_id=1"},
		{"archive_orders percent-encoded", "archive_orders", map[string]any{"user_id": 3, "status": "on hold/é+,;"}, nil, `{"ok": true}`,
			`[{"context": "orders", "params": {"status": "on hold/é+,;", "user_id": 3}}]`,
			"orders;status=on%20hold%2F%C3%A9%2B%2C%3B;user_id=3"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := call(t, c.fn, c.args, c.headers...)
			wantResult(t, r, c.result, c.invalidate, c.header)
		})
	}
}

// TestMutationsChangeData checks that each data-changing mutation changes
// what the affected context returns right after it.
func TestMutationsChangeData(t *testing.T) {
	profile := func(t *testing.T, id int) string {
		t.Helper()
		r := do(t, http.MethodGet, fmt.Sprintf("%sctx/user/?user_id=%d", prefix, id), "")
		if r.status != http.StatusOK {
			t.Fatalf("ctx/user/ of %d: %d %s", id, r.status, r.body)
		}
		obj, err := decodeObject(r.body)
		if err != nil {
			t.Fatalf("ctx/user/ of %d: %v", id, err)
		}
		return string(obj["user_profile"])
	}
	t.Run("update_profile", func(t *testing.T) {
		wantResult(t, call(t, "update_profile", map[string]any{"user_id": 2, "name": "Grace Hopper"}),
			`{"ok": true}`, `[{"context": "user", "params": {"user_id": 2}}]`, "user;user_id=2")
		wantJSON(t, "user_profile of 2", []byte(profile(t, 2)), `{"id": 2, "name": "Grace Hopper", "email": "grace@example.com"}`)
		wantResult(t, call(t, "update_profile", map[string]any{"user_id": 2, "name": "Grace"}),
			`{"ok": true}`, `[{"context": "user", "params": {"user_id": 2}}]`, "user;user_id=2")
		wantJSON(t, "user_profile of 2", []byte(profile(t, 2)), `{"id": 2, "name": "Grace", "email": "grace@example.com"}`)
	})
	t.Run("update_name", func(t *testing.T) {
		wantResult(t, call(t, "update_name", map[string]any{"user_id": 3, "name": "Lin Yutang"}),
			`{"ok": true}`, `[{"context": "user", "function": "user_profile", "params": {"user_id": 3}}]`, "user;user_id=3")
		wantJSON(t, "user_profile of 3", []byte(profile(t, 3)), `{"id": 3, "name": "Lin Yutang", "email": "lin@example.com"}`)
	})
	t.Run("archive_orders", func(t *testing.T) {
		wantResult(t, call(t, "archive_orders", map[string]any{"user_id": 1, "status": "open"}),
			`{"ok": true}`, `[{"context": "orders", "params": {"status": "open", "user_id": 1}}]`, "orders;status=open;user_id=1")
		r := do(t, http.MethodGet, prefix+"ctx/orders/?user_id=1&page=1&status=open", "")
		wantJSON(t, "open orders of 1 after archiving them", r.body, `{"order_page": {"items": [], "page": 1}}`)
		r = do(t, http.MethodGet, prefix+"ctx/orders/?user_id=1&page=1&status=shipped", "")
		wantJSON(t, "shipped orders of 1", r.body, `{"order_page": {"items": [{"id": 102, "total": 4550, "status": "shipped"}], "page": 1}}`)
	})
	t.Run("unknown user", func(t *testing.T) {
		wantError(t, call(t, "update_profile", map[string]any{"user_id": 99, "name": "Nobody"}), http.StatusNotFound, "not_found")
		wantError(t, do(t, http.MethodGet, prefix+"ctx/user/?user_id=99", ""), http.StatusNotFound, "not_found")
	})
}

// TestConcurrentRequests sends reads and writes at once. Every one must
// succeed; under -race the fixture, built with the race detector, must not
// report a race when it stops (TestMain checks).
func TestConcurrentRequests(t *testing.T) {
	const workers, rounds = 8, 20
	var wg sync.WaitGroup
	errs := make(chan string, workers*rounds*4)
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				name := fmt.Sprintf("Lin %d-%d", w, i)
				reqs := []struct {
					method, path, body string
				}{
					{http.MethodPost, prefix + "call/", fmt.Sprintf(`{"fn":"update_profile","args":{"user_id":3,"name":%q}}`, name)},
					{http.MethodGet, prefix + "ctx/user/?user_id=3", ""},
					{http.MethodGet, prefix + "ctx/orders/?user_id=3&page=1&status=shipped", ""},
					{http.MethodPost, prefix + "call/", `{"fn":"archive_orders","args":{"user_id":3,"status":"none"}}`},
				}
				for _, q := range reqs {
					req, err := http.NewRequest(q.method, server.url+q.path, strings.NewReader(q.body))
					if err != nil {
						errs <- err.Error()
						continue
					}
					req.Header.Set("Content-Type", "application/json")
					res, err := client.Do(req)
					if err != nil {
						errs <- fmt.Sprintf("%s %s: %v", q.method, q.path, err)
						continue
					}
					res.Body.Close()
					if res.StatusCode != http.StatusOK {
						errs <- fmt.Sprintf("%s %s: status %d", q.method, q.path, res.StatusCode)
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	// The last write won: the name is one of those written.
	r := do(t, http.MethodGet, prefix+"ctx/user/?user_id=3", "")
	if !regexp.MustCompile(`"name":\s*"Lin \d+-\d+"`).Match(r.body) {
		t.Errorf("after concurrent updates: %s", r.body)
	}
}
