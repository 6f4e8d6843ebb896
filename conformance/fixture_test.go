package conformance_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/conformance"
)

// In-process tests of NewFixture: what the wire cannot show (registration
// metadata, per-app data, reset_all's effect) and the data store under the
// race detector.

// newFixtureServer serves a fresh fixture app on an httptest server.
func newFixtureServer(t *testing.T, cfg conformance.FixtureConfig) *httptest.Server {
	t.Helper()
	if cfg.App.Logger == nil {
		cfg.App.Logger = slog.New(slog.DiscardHandler)
	}
	app := conformance.NewFixture(cfg)
	if err := app.Build(); err != nil {
		t.Fatalf("Build: %v", err)
	}
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)
	return srv
}

// get fetches url and returns its status and body.
func get(t *testing.T, url string, headers ...string) (int, string) {
	t.Helper()
	return send(t, http.MethodGet, url, "", headers...)
}

// send sends a request; headers are name, value pairs.
func send(t *testing.T, method, url, body string, headers ...string) (int, string) {
	t.Helper()
	status, b, err := trySend(method, url, body, headers...)
	if err != nil {
		t.Fatal(err)
	}
	return status, b
}

// trySend is send for goroutines other than the test's: it returns errors.
func trySend(method, url, body string, headers ...string) (int, string, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0, "", fmt.Errorf("%s %s: %w", method, url, err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, "", fmt.Errorf("%s %s: reading the body: %w", method, url, err)
	}
	return res.StatusCode, string(b), nil
}

// post calls fn with a JSON args object through call/ of the server at base.
func post(t *testing.T, base, fn, args string, headers ...string) (int, string) {
	t.Helper()
	body := fmt.Sprintf(`{"fn":%q,"args":%s}`, fn, args)
	return send(t, http.MethodPost, base+prefix+"call/", body, append([]string{"Content-Type", "application/json"}, headers...)...)
}

// TestFixtureRegistration checks the metadata of every function of the
// fixture: kind, context, affects, privacy, route, methods, WebSocket, auth
// and parameters, as docs/spec.md §7 declares them.
func TestFixtureRegistration(t *testing.T) {
	app := conformance.NewFixture(conformance.FixtureConfig{})
	metas, err := app.Functions()
	if err != nil {
		t.Fatalf("Functions: %v", err)
	}
	type want struct {
		kind      mizan.Kind
		context   string
		affects   []mizan.Affect
		private   bool
		viewPath  bool
		route     string
		methods   []string
		websocket bool
		auth      string
		params    []string
	}
	userScoped := []mizan.Affect{{Context: "user", ScopedBy: []string{"user_id"}}}
	wants := map[string]want{
		"current_user": {kind: mizan.KindQuery, context: "global"},
		"user_profile": {kind: mizan.KindQuery, context: "user", params: []string{"user_id"}},
		"user_orders":  {kind: mizan.KindQuery, context: "user", params: []string{"user_id"}},
		"order_page":   {kind: mizan.KindQuery, context: "orders", params: []string{"user_id", "page", "status"}},
		"plan":         {kind: mizan.KindQuery, context: "subscription"},
		"update_profile": {kind: mizan.KindMutation, affects: userScoped, websocket: true,
			params: []string{"user_id", "name"}},
		"update_name": {kind: mizan.KindMutation, params: []string{"user_id", "name"},
			affects: []mizan.Affect{{Context: "user", Function: "user_profile", ScopedBy: []string{"user_id"}}}},
		"reset_all": {kind: mizan.KindMutation, affects: []mizan.Affect{{Context: "user"}, {Context: "orders"}}},
		"archive_orders": {kind: mizan.KindMutation, params: []string{"user_id", "status"},
			affects: []mizan.Affect{{Context: "orders", ScopedBy: []string{"status", "user_id"}}}},
		"profile_page": {kind: mizan.KindQuery, context: "user", viewPath: true, route: "/profile/{user_id}/",
			methods: []string{"GET"}, params: []string{"user_id"}},
		"task_page": {kind: mizan.KindQuery, context: "task", viewPath: true, route: "/tasks/{task_id}/",
			methods: []string{"GET"}, params: []string{"task_id"}},
		"update_profile_view": {kind: mizan.KindMutation, affects: userScoped, viewPath: true,
			route: "/profile/{user_id}/update/", methods: []string{"POST"}, params: []string{"user_id", "name"}},
		"stripe_webhook": {kind: mizan.KindMutation, affects: []mizan.Affect{{Context: "subscription"}},
			private: true, viewPath: true, route: "/webhooks/stripe/", methods: []string{"POST"}},
		"secret":          {kind: mizan.KindMutation, auth: "required"},
		"admin_action":    {kind: mizan.KindMutation, auth: "staff"},
		"fail":            {kind: mizan.KindMutation},
		"panic_for_tests": {kind: mizan.KindMutation},
		// Revision 2: a filter (state), run-time scope (set_task_state's
		// tasks, update_my_name's user), an explicit empty scope
		// (rename_task) and a caller-scoped context (update_my_name's global).
		"task_list":   {kind: mizan.KindQuery, context: "tasks", params: []string{"project_id", "state"}},
		"task_detail": {kind: mizan.KindQuery, context: "task", params: []string{"task_id"}},
		"add_task": {kind: mizan.KindMutation, websocket: true, params: []string{"project_id", "title", "state"},
			affects: []mizan.Affect{{Context: "tasks", ScopedBy: []string{"project_id"}}}},
		"set_task_state": {kind: mizan.KindMutation, websocket: true, params: []string{"task_id", "state"},
			affects: []mizan.Affect{{Context: "task", ScopedBy: []string{"task_id"}}, {Context: "tasks"}}},
		"rename_task": {kind: mizan.KindMutation, params: []string{"task_id", "title"},
			affects: []mizan.Affect{{Context: "task"}}},
		"update_my_name": {kind: mizan.KindMutation, websocket: true, auth: "required", params: []string{"name"},
			affects: []mizan.Affect{{Context: "global", CallerScoped: true}, {Context: "user"}}},
		// Forms (§10): each gives a submit mutation, _schema and _validate.
		"contact": {kind: mizan.KindMutation, params: []string{"name", "email", "age", "topic", "message"},
			affects: []mizan.Affect{{Context: "messages"}}},
		"contact_schema":   {kind: mizan.KindQuery},
		"contact_validate": {kind: mizan.KindQuery, params: []string{"name", "email", "age", "topic", "message"}},
		"order_lines": {kind: mizan.KindMutation, params: []string{"customer", "lines"},
			affects: []mizan.Affect{{Context: "orders"}}},
		"order_lines_schema":   {kind: mizan.KindQuery},
		"order_lines_validate": {kind: mizan.KindQuery, params: []string{"customer", "lines"}},
		"message_count":        {kind: mizan.KindQuery, context: "messages"},
		// The counter of the idempotency tests (§12).
		"bump":  {kind: mizan.KindMutation, affects: []mizan.Affect{{Context: "counter"}}},
		"count": {kind: mizan.KindQuery, context: "counter"},
	}
	formRoles := map[string]mizan.FormInfo{
		"contact": {Name: "contact", Role: mizan.FormSubmit}, "contact_schema": {Name: "contact", Role: mizan.FormSchema},
		"contact_validate": {Name: "contact", Role: mizan.FormValidate},
		"order_lines":      {Name: "order_lines", Role: mizan.FormSubmit}, "order_lines_schema": {Name: "order_lines", Role: mizan.FormSchema},
		"order_lines_validate": {Name: "order_lines", Role: mizan.FormValidate},
	}
	seen := map[string]bool{}
	for _, m := range metas {
		w, ok := wants[m.Name]
		if !ok {
			t.Errorf("unexpected function %s", m.Name)
			continue
		}
		seen[m.Name] = true
		var params []string
		for _, p := range m.Params {
			params = append(params, p.Name)
		}
		got := want{kind: m.Kind, context: m.Context, affects: m.Affects, private: m.Private, viewPath: m.ViewPath,
			route: m.Route, websocket: m.WebSocket, auth: m.Auth, params: params}
		if m.ViewPath {
			got.methods = m.Methods
		}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("%s:\n got %+v\nwant %+v", m.Name, got, w)
		}
		for _, p := range m.Params {
			if p.Filter != (m.Name == "task_list" && p.Name == "state") {
				t.Errorf("%s: param %s has Filter %v", m.Name, p.Name, p.Filter)
			}
		}
		if want := formRoles[m.Name]; m.Form != want {
			t.Errorf("%s: form %+v, want %+v", m.Name, m.Form, want)
		}
		if m.Name == "rename_task" && (!m.HasScope || len(m.Scope) != 0) {
			t.Errorf("rename_task: explicit scope %v %v, want an empty one", m.HasScope, m.Scope)
		}
	}
	for name := range wants {
		if !seen[name] {
			t.Errorf("function %s is not registered", name)
		}
	}
}

// TestNewFixtureDataIsPerApp checks that two fixtures do not share data.
func TestNewFixtureDataIsPerApp(t *testing.T) {
	a := newFixtureServer(t, conformance.FixtureConfig{})
	b := newFixtureServer(t, conformance.FixtureConfig{})
	if status, body := post(t, a.URL, "update_profile", `{"user_id":1,"name":"Ada L."}`); status != http.StatusOK {
		t.Fatalf("update_profile: %d %s", status, body)
	}
	const path = prefix + "ctx/user/?user_id=1"
	if _, body := get(t, a.URL+path); !strings.Contains(body, `"name":"Ada L."`) {
		t.Errorf("the updated app: %s", body)
	}
	if _, body := get(t, b.URL+path); !strings.Contains(body, `"name":"Ada"`) {
		t.Errorf("the other app saw the update: %s", body)
	}
}

// TestResetAllRestoresData checks that reset_all brings back the initial
// names and order statuses.
func TestResetAllRestoresData(t *testing.T) {
	srv := newFixtureServer(t, conformance.FixtureConfig{})
	for _, c := range []struct{ fn, args string }{
		{"update_profile", `{"user_id":2,"name":"G"}`},
		{"archive_orders", `{"user_id":2,"status":"open"}`},
	} {
		if status, body := post(t, srv.URL, c.fn, c.args); status != http.StatusOK {
			t.Fatalf("%s: %d %s", c.fn, status, body)
		}
	}
	const orders = prefix + "ctx/orders/?user_id=2&page=1&status=archived"
	if _, body := get(t, srv.URL+orders); !strings.Contains(body, `"id":201`) {
		t.Fatalf("archived orders before the reset: %s", body)
	}
	if status, body := post(t, srv.URL, "reset_all", `{}`); status != http.StatusOK {
		t.Fatalf("reset_all: %d %s", status, body)
	}
	if _, body := get(t, srv.URL+prefix+"ctx/user/?user_id=2"); !strings.Contains(body, `"name":"Grace"`) {
		t.Errorf("name after reset_all: %s", body)
	}
	if _, body := get(t, srv.URL+orders); body != `{"order_page":{"items":[],"page":1}}` {
		t.Errorf("archived orders after reset_all: %s", body)
	}
}

// TestFixtureConfig checks that the configuration is honoured: the prefix,
// and an authenticator given in place of the test one.
func TestFixtureConfig(t *testing.T) {
	srv := newFixtureServer(t, conformance.FixtureConfig{App: mizan.Config{
		Prefix: "/rpc/",
		Authenticator: mizan.AuthenticatorFunc(func(*http.Request) (*mizan.Identity, error) {
			return &mizan.Identity{ID: "42", Bearer: true}, nil
		}),
	}})
	status, body := get(t, srv.URL+"/rpc/ctx/global/", "X-Test-User", "1")
	if status != http.StatusOK || body != `{"current_user":{"id":42}}` {
		t.Errorf("ctx/global/ under /rpc/: %d %s", status, body)
	}
	if status, _ := get(t, srv.URL+prefix+"ctx/global/"); status != http.StatusNotFound {
		t.Errorf("the default prefix still answers: %d", status)
	}
}

// TestFixtureConcurrentUse runs reads and writes of one fixture at once; the
// race detector checks the store.
func TestFixtureConcurrentUse(t *testing.T) {
	srv := newFixtureServer(t, conformance.FixtureConfig{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 10 {
				calls := []struct{ fn, args string }{
					{"update_profile", fmt.Sprintf(`{"user_id":%d,"name":"N%d"}`, w%3+1, i)},
					{"archive_orders", fmt.Sprintf(`{"user_id":%d,"status":"open"}`, w%3+1)},
					{"reset_all", `{}`},
				}
				for _, c := range calls {
					body := fmt.Sprintf(`{"fn":%q,"args":%s}`, c.fn, c.args)
					status, b, err := trySend(http.MethodPost, srv.URL+prefix+"call/", body, "Content-Type", "application/json")
					if err != nil || status != http.StatusOK {
						t.Errorf("%s: %d %s %v", c.fn, status, b, err)
					}
				}
				for _, path := range []string{"ctx/user/?user_id=1", "ctx/orders/?user_id=2&page=1&status=open"} {
					status, b, err := trySend(http.MethodGet, srv.URL+prefix+path, "")
					if err != nil || status != http.StatusOK {
						t.Errorf("%s: %d %s %v", path, status, b, err)
					}
				}
			}
		})
	}
	wg.Wait()
}
