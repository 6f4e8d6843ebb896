package mizan_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mizan-afi/mizan"
)

const (
	User   mizan.Context = "user"
	Orders mizan.Context = "orders"
)

type profileArgs struct {
	UserID int `json:"user_id"`
}

type profile struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

type store struct {
	mu    sync.Mutex
	names map[int]string
}

func (s *store) userProfile(_ context.Context, in profileArgs) (profile, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name, ok := s.names[in.UserID]
	if !ok {
		return profile{}, mizan.NewError(mizan.CodeNotFound, "no such user")
	}
	return profile{ID: in.UserID, Name: name}, nil
}

type order struct {
	ID    int `json:"id"`
	Total int `json:"total"`
}

func userOrders(_ context.Context, in profileArgs) ([]order, error) {
	return []order{{ID: in.UserID*10 + 1, Total: 100}}, nil
}

type pageArgs struct {
	UserID int    `json:"user_id"`
	Page   int    `json:"page,omitempty"`
	Status string `json:"status"`
	Mine   *bool  `json:"mine"`
}

func orderPage(_ context.Context, in pageArgs) (map[string]any, error) {
	return map[string]any{"page": in.Page, "status": in.Status, "mine": in.Mine}, nil
}

type updateArgs struct {
	UserID int    `json:"user_id"`
	Name   string `json:"name" validate:"required,max=20"`
}

type ok struct {
	OK bool `json:"ok"`
}

func (s *store) updateProfile(_ context.Context, in updateArgs) (ok, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.names[in.UserID] = in.Name
	return ok{true}, nil
}

func resetAll(context.Context, struct{}) (ok, error) { return ok{true}, nil }

type archiveArgs struct {
	UserID int    `json:"user_id"`
	Status string `json:"status"`
}

func archiveOrders(context.Context, archiveArgs) (ok, error) { return ok{true}, nil }

func secret(context.Context, struct{}) (map[string]int, error) {
	return map[string]int{"secret": 42}, nil
}

func fail(context.Context, struct{}) (ok, error) {
	return ok{}, mizan.NewError(mizan.CodeConflict, "already done")
}

func boom(context.Context, struct{}) (ok, error) { panic("database password is hunter2") }

func leak(context.Context, struct{}) (ok, error) {
	return ok{}, errors.New("connection to 10.0.0.7 refused")
}

type echoArgs struct {
	Text string `json:"text"`
}

func echo(ctx context.Context, in echoArgs) (map[string]any, error) {
	mizan.ResponseHeader(ctx).Set("X-Echo", in.Text)
	var caller any
	if id := mizan.Caller(ctx); id != nil {
		caller = id.ID
	}
	return map[string]any{"text": in.Text, "caller": caller, "path": mizan.Request(ctx).URL.Path}, nil
}

// testAuth reads X-Test-User (a header credential) and a "sess" cookie
// (a cookie credential, subject to CSRF).
func testAuth(r *http.Request) (*mizan.Identity, error) {
	if id := r.Header.Get("X-Test-User"); id != "" {
		if id == "bad" {
			return nil, errors.New("token expired")
		}
		return &mizan.Identity{ID: id, Staff: r.Header.Get("X-Test-Staff") == "1", Bearer: true}, nil
	}
	if c, err := r.Cookie("sess"); err == nil {
		return &mizan.Identity{ID: c.Value}, nil
	}
	return nil, nil
}

type recorder struct {
	mu  sync.Mutex
	got []mizan.Invalidation
}

func (r *recorder) Invalidate(_ context.Context, inv mizan.Invalidation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, inv)
}

func (r *recorder) last() mizan.Invalidation {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.got) == 0 {
		return mizan.Invalidation{}
	}
	return r.got[len(r.got)-1]
}

type env struct {
	srv  *httptest.Server
	rec  *recorder
	logs *bytes.Buffer
}

func newTestApp(t *testing.T) *env {
	t.Helper()
	logs := &bytes.Buffer{}
	app := mizan.New(mizan.Config{
		Authenticator: mizan.AuthenticatorFunc(testAuth),
		Logger:        slog.New(slog.NewTextHandler(logs, nil)),
		MaxBodyBytes:  4096,
	})
	s := &store{names: map[int]string{1: "Ada", 2: "Grace"}}
	mizan.Query(app, s.userProfile, mizan.In(User))
	mizan.Query(app, userOrders, mizan.In(User))
	mizan.Query(app, orderPage, mizan.In(Orders))
	mizan.Mutation(app, s.updateProfile, mizan.Affects(User))
	mizan.Mutation(app, s.updateProfile, mizan.Name("update_name"), mizan.AffectsFunction("user_profile"))
	mizan.Mutation(app, resetAll, mizan.Affects(User, Orders))
	mizan.Mutation(app, archiveOrders, mizan.Affects(Orders))
	mizan.Mutation(app, secret, mizan.RequireAuth())
	mizan.Mutation(app, secret, mizan.Name("admin_action"), mizan.RequireStaff())
	mizan.Mutation(app, secret, mizan.Name("super_action"), mizan.RequireSuperuser())
	mizan.Mutation(app, secret, mizan.Name("only_ada"), mizan.RequireFunc(func(_ *http.Request, c *mizan.Identity) bool {
		return c != nil && c.ID == "1"
	}))
	mizan.Mutation(app, fail)
	mizan.Mutation(app, boom)
	mizan.Mutation(app, leak)
	mizan.Query(app, echo)
	mizan.Mutation(app, resetAll, mizan.Name("hidden"), mizan.Private(), mizan.Affects(User))
	mizan.View(app, func(ctx context.Context, in profileArgs) (http.Handler, error) {
		p, err := s.userProfile(ctx, in)
		if err != nil {
			return nil, err
		}
		return mizan.HTML(http.StatusOK, "<h1>"+p.Name+"</h1>"), nil
	}, mizan.Name("profile_page"), mizan.In(User), mizan.Route("/profile/{user_id}/"))
	mizan.View(app, func(ctx context.Context, in updateArgs) (http.Handler, error) {
		if _, err := s.updateProfile(ctx, in); err != nil {
			return nil, err
		}
		return http.RedirectHandler("/profile/"+itoa(in.UserID)+"/", http.StatusFound), nil
	}, mizan.Name("update_profile_view"), mizan.Affects(User), mizan.Route("/profile/{user_id}/update/"))
	mizan.View(app, func(ctx context.Context, _ struct{}) (http.Handler, error) {
		body, err := io.ReadAll(mizan.Request(ctx).Body)
		if err != nil || !json.Valid(body) {
			return nil, mizan.NewError(mizan.CodeBadRequest, "event must be JSON")
		}
		return nil, nil
	}, mizan.Name("stripe_webhook"), mizan.Private(), mizan.Affects("subscription"),
		mizan.Route("/webhooks/stripe/"), mizan.Methods("POST"))
	mizan.Query(app, func(context.Context, struct{}) (map[string]string, error) {
		return map[string]string{"plan": "free"}, nil
	}, mizan.Name("plan"), mizan.In("subscription"))
	rec := &recorder{}
	app.OnInvalidate(rec)
	if err := app.Build(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)
	return &env{srv: srv, rec: rec, logs: logs}
}

func itoa(n int) string { return strconv.Itoa(n) }

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

type resp struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (e *env) do(t *testing.T, method, path, body string, headers ...string) resp {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := resp{status: res.StatusCode, header: res.Header, raw: string(raw)}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			t.Fatalf("%s %s: body is not JSON: %q", method, path, raw)
		}
	}
	return r
}

func (e *env) call(t *testing.T, fn string, args any, headers ...string) resp {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"fn": fn, "args": args})
	return e.do(t, http.MethodPost, "/api/mizan/call/", string(body), headers...)
}

// errOf returns the code of an error envelope and its fields.
func errOf(t *testing.T, r resp) (string, map[string]any) {
	t.Helper()
	e, ok := r.body["error"].(map[string]any)
	if !ok {
		t.Fatalf("status %d, no error envelope: %s", r.status, r.raw)
	}
	if msg, _ := e["message"].(string); msg == "" {
		t.Errorf("error envelope without message: %s", r.raw)
	}
	fields, _ := e["fields"].(map[string]any)
	return e["code"].(string), fields
}

func TestContextFetchBundlesAndCoerces(t *testing.T) {
	e := newTestApp(t)
	r := e.do(t, "GET", "/api/mizan/ctx/user/?user_id=1", "")
	if r.status != 200 || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("status %d cache-control %q: %s", r.status, r.header.Get("Cache-Control"), r.raw)
	}
	want := `{"user_orders":[{"id":11,"total":100}],"user_profile":{"id":1,"name":"Ada"}}`
	if r.raw != want {
		t.Fatalf("got %s, want %s", r.raw, want)
	}
	r = e.do(t, "GET", "/api/mizan/ctx/orders/?user_id=1&status=open&mine=true", "")
	if r.status != 200 || jsonText(r.body["order_page"]) != `{"mine":true,"page":0,"status":"open"}` {
		t.Fatalf("orders: %d %s", r.status, r.raw)
	}
}

func TestContextFetchErrors(t *testing.T) {
	e := newTestApp(t)
	cases := []struct {
		path   string
		status int
		code   string
		fields []string
	}{
		{"/api/mizan/ctx/user/", 400, "invalid_args", []string{"user_id"}},
		{"/api/mizan/ctx/user/?user_id=abc", 400, "invalid_args", []string{"user_id"}},
		{"/api/mizan/ctx/user/?user_id=1&user_id=2", 400, "invalid_args", []string{"user_id"}},
		{"/api/mizan/ctx/user/?user_id=1&extra=2", 400, "invalid_args", []string{"extra"}},
		{"/api/mizan/ctx/orders/?user_id=1&status=x&mine=yes", 400, "invalid_args", []string{"mine"}},
		{"/api/mizan/ctx/orders/?user_id=99999999999999999999&status=x", 400, "invalid_args", []string{"user_id"}},
		{"/api/mizan/ctx/user/?user_id=%zz", 400, "bad_request", nil},
		{"/api/mizan/ctx/user/?user_id=7", 404, "not_found", nil},
		{"/api/mizan/ctx/nope/", 404, "not_found", nil},
		{"/api/mizan/nothing/", 404, "not_found", nil},
	}
	for _, c := range cases {
		r := e.do(t, "GET", c.path, "")
		code, fields := errOf(t, r)
		if r.status != c.status || code != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.path, r.status, code, c.status, c.code)
		}
		for _, f := range c.fields {
			if _, ok := fields[f]; !ok {
				t.Errorf("%s: fields %v lack %q", c.path, fields, f)
			}
		}
		if r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: error without Cache-Control: no-store", c.path)
		}
	}
	r := e.do(t, "POST", "/api/mizan/ctx/user/?user_id=1", "{}")
	if code, _ := errOf(t, r); r.status != 405 || code != "method_not_allowed" || r.header.Get("Allow") == "" {
		t.Errorf("POST ctx: %d %s allow=%q", r.status, code, r.header.Get("Allow"))
	}
}

func TestContextFunctionsRunConcurrently(t *testing.T) {
	app := mizan.New(mizan.Config{})
	started := make(chan struct{}, 2)
	wait := func(ctx context.Context) error {
		started <- struct{}{}
		for len(started) < 2 { // each waits until the other has started
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Millisecond):
			}
		}
		return nil
	}
	mizan.Query(app, func(ctx context.Context, _ struct{}) (int, error) { return 1, wait(ctx) }, mizan.Name("a"), mizan.In("pair"))
	mizan.Query(app, func(ctx context.Context, _ struct{}) (int, error) { return 2, wait(ctx) }, mizan.Name("b"), mizan.In("pair"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, "GET", "/api/mizan/ctx/pair/", nil)
	w := httptest.NewRecorder()
	app.ServeHTTP(w, req)
	if w.Code != 200 || w.Body.String() != `{"a":1,"b":2}` {
		t.Fatalf("sequential execution or wrong bundle: %d %s", w.Code, w.Body)
	}
}

func TestCallMutationInvalidates(t *testing.T) {
	e := newTestApp(t)
	cases := []struct {
		fn     string
		args   any
		header string
		body   string
	}{
		{"update_profile", map[string]any{"user_id": 2, "name": "G"}, "user;user_id=2", `[{"context":"user","params":{"user_id":2}}]`},
		{"update_name", map[string]any{"user_id": 2, "name": "G"}, "user;user_id=2", `[{"context":"user","function":"user_profile","params":{"user_id":2}}]`},
		{"reset_all", nil, "user, orders", `["user","orders"]`},
		{"archive_orders", map[string]any{"user_id": 3, "status": "open"}, "orders;status=open;user_id=3", `[{"context":"orders","params":{"status":"open","user_id":3}}]`},
		{"echo", map[string]any{"text": "hi"}, "", `[]`},
	}
	for _, c := range cases {
		r := e.call(t, c.fn, c.args)
		if r.status != 200 {
			t.Fatalf("%s: %d %s", c.fn, r.status, r.raw)
		}
		if got := r.header.Get("X-Mizan-Invalidate"); got != c.header {
			t.Errorf("%s: header %q, want %q", c.fn, got, c.header)
		}
		if got := jsonText(r.body["invalidate"]); got != c.body {
			t.Errorf("%s: invalidate %s, want %s", c.fn, got, c.body)
		}
		if r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: no Cache-Control", c.fn)
		}
		if c.header != "" && e.rec.last().Source != c.fn {
			t.Errorf("%s: invalidator saw %+v", c.fn, e.rec.last())
		}
	}
	// The mutation changed the data the context returns.
	e.call(t, "update_profile", map[string]any{"user_id": 1, "name": "Ryth"})
	if r := e.do(t, "GET", "/api/mizan/ctx/user/?user_id=1", ""); jsonText(r.body["user_profile"]) != `{"id":1,"name":"Ryth"}` {
		t.Errorf("after update: %s", r.raw)
	}
	if got := e.rec.last(); len(got.Targets) != 1 || got.Targets[0].Params["user_id"] != int64(1) {
		t.Errorf("invalidator targets %+v", got.Targets)
	}
}

func TestCallAccessorsAndHeaders(t *testing.T) {
	e := newTestApp(t)
	r := e.call(t, "echo", map[string]any{"text": "x"}, "X-Test-User", "7")
	if r.status != 200 || r.header.Get("X-Echo") != "x" || jsonText(r.body["result"]) != `{"caller":"7","path":"/api/mizan/call/","text":"x"}` {
		t.Fatalf("%d %v %s", r.status, r.header, r.raw)
	}
}

func TestCallErrors(t *testing.T) {
	e := newTestApp(t)
	big := strings.Repeat("x", 5000)
	cases := []struct {
		name    string
		body    string
		ctype   string
		status  int
		code    string
		fields  []string
		headers []string
	}{
		{"malformed json", `{"fn":`, "", 400, "bad_request", nil, nil},
		{"not an object", `[1]`, "", 400, "bad_request", nil, nil},
		{"unknown top-level key", `{"fn":"echo","args":{},"x":1}`, "", 400, "bad_request", nil, nil},
		{"missing fn", `{"args":{}}`, "", 400, "bad_request", nil, nil},
		{"args not object", `{"fn":"echo","args":[1]}`, "", 400, "bad_request", nil, nil},
		{"trailing data", `{"fn":"echo","args":{"text":"a"}} {}`, "", 400, "bad_request", nil, nil},
		{"form content type", `fn=echo`, "application/x-www-form-urlencoded", 400, "bad_request", nil, nil},
		{"text/plain", `{"fn":"echo","args":{"text":"a"}}`, "text/plain", 400, "bad_request", nil, nil},
		{"missing arg", `{"fn":"update_profile","args":{"name":"x"}}`, "", 400, "invalid_args", []string{"user_id"}, nil},
		{"unknown arg", `{"fn":"echo","args":{"text":"a","zzz":1}}`, "", 400, "invalid_args", []string{"zzz"}, nil},
		{"wrong type", `{"fn":"update_profile","args":{"user_id":"5","name":3}}`, "", 400, "invalid_args", []string{"user_id", "name"}, nil},
		{"null for int", `{"fn":"update_profile","args":{"user_id":null,"name":"a"}}`, "", 400, "invalid_args", []string{"user_id"}, nil},
		{"float for int", `{"fn":"update_profile","args":{"user_id":1.5,"name":"a"}}`, "", 400, "invalid_args", []string{"user_id"}, nil},
		{"validate tag", `{"fn":"update_profile","args":{"user_id":1,"name":"` + strings.Repeat("n", 21) + `"}}`, "", 400, "invalid_args", []string{"name"}, nil},
		{"unknown fn", `{"fn":"nope","args":{}}`, "", 404, "not_found", nil, nil},
		{"context fn via call", `{"fn":"user_profile","args":{"user_id":1}}`, "", 404, "not_found", nil, nil},
		{"too large", `{"fn":"echo","args":{"text":"` + big + `"}}`, "", 413, "payload_too_large", nil, nil},
		{"own error", `{"fn":"fail"}`, "", 409, "conflict", nil, nil},
		{"panic", `{"fn":"boom"}`, "", 500, "internal", nil, nil},
		{"plain error", `{"fn":"leak"}`, "", 500, "internal", nil, nil},
		{"bad credentials", `{"fn":"echo","args":{"text":"a"}}`, "", 401, "unauthorized", nil, []string{"X-Test-User", "bad"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := append([]string{}, c.headers...)
			if c.ctype != "" {
				h = append(h, "Content-Type", c.ctype)
			}
			r := e.do(t, "POST", "/api/mizan/call/", c.body, h...)
			code, fields := errOf(t, r)
			if r.status != c.status || code != c.code {
				t.Fatalf("%d %s, want %d %s: %s", r.status, code, c.status, c.code, r.raw)
			}
			for _, f := range c.fields {
				if _, ok := fields[f]; !ok {
					t.Errorf("fields %v lack %q", fields, f)
				}
			}
			if len(c.fields) > 0 && len(fields) != len(c.fields) {
				t.Errorf("fields %v, want exactly %v", fields, c.fields)
			}
			if r.header.Get("X-Mizan-Invalidate") != "" {
				t.Errorf("an error carries an invalidation header")
			}
		})
	}
	for _, secretText := range []string{"hunter2", "10.0.0.7"} {
		if !strings.Contains(e.logs.String(), secretText) {
			t.Errorf("detail %q was not logged", secretText)
		}
	}
	r := e.call(t, "boom", nil)
	if strings.Contains(r.raw, "hunter2") {
		t.Errorf("panic detail leaked: %s", r.raw)
	}
	r = e.do(t, "GET", "/api/mizan/call/", "")
	if code, _ := errOf(t, r); r.status != 405 || code != "method_not_allowed" {
		t.Errorf("GET call/: %d %s", r.status, code)
	}
}

func TestPrivateIsReportedLikeUnknown(t *testing.T) {
	e := newTestApp(t)
	priv := e.call(t, "hidden", nil)
	unknown := e.call(t, "hiddeX", nil)
	if priv.status != 404 || unknown.status != 404 {
		t.Fatalf("statuses %d %d", priv.status, unknown.status)
	}
	if strings.ReplaceAll(priv.raw, "hidden", "hiddeX") != unknown.raw {
		t.Errorf("private %s differs from unknown %s", priv.raw, unknown.raw)
	}
}

func TestAuthGuards(t *testing.T) {
	e := newTestApp(t)
	cases := []struct {
		fn      string
		headers []string
		status  int
	}{
		{"secret", nil, 401},
		{"secret", []string{"X-Test-User", "2"}, 200},
		{"admin_action", nil, 401},
		{"admin_action", []string{"X-Test-User", "2"}, 403},
		{"admin_action", []string{"X-Test-User", "1", "X-Test-Staff", "1"}, 200},
		{"super_action", []string{"X-Test-User", "1", "X-Test-Staff", "1"}, 403},
		{"only_ada", nil, 401},
		{"only_ada", []string{"X-Test-User", "2"}, 403},
		{"only_ada", []string{"X-Test-User", "1"}, 200},
	}
	for _, c := range cases {
		r := e.call(t, c.fn, nil, c.headers...)
		if r.status != c.status {
			t.Errorf("%s %v: %d, want %d: %s", c.fn, c.headers, r.status, c.status, r.raw)
		}
		if c.status == 200 && jsonText(r.body["result"]) != `{"secret":42}` {
			t.Errorf("%s: %s", c.fn, r.raw)
		}
	}
}

func TestSessionAndCSRF(t *testing.T) {
	e := newTestApp(t)
	r := e.do(t, "GET", "/api/mizan/session/", "")
	token, _ := r.body["csrf_token"].(string)
	if r.status != 200 || len(token) != 64 || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("session: %d %s", r.status, r.raw)
	}
	var cookie *http.Cookie
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == "csrftoken" {
			cookie = c
		}
	}
	if cookie == nil || cookie.Value != token || cookie.SameSite != http.SameSiteLaxMode {
		t.Fatalf("cookie %+v, token %s", cookie, token)
	}
	// The same browser keeps its token.
	if r2 := e.do(t, "GET", "/api/mizan/session/", "", "Cookie", "csrftoken="+token); r2.body["csrf_token"] != token {
		t.Errorf("token rotated: %s", r2.raw)
	}
	body := `{"fn":"echo","args":{"text":"a"}}`
	cases := []struct {
		name    string
		headers []string
		status  int
	}{
		{"cookie session without token", []string{"Cookie", "sess=5"}, 403},
		{"cookie session, token header only", []string{"Cookie", "sess=5", "X-CSRFToken", token}, 403},
		{"cookie session, wrong token", []string{"Cookie", "sess=5; csrftoken=" + token, "X-CSRFToken", strings.Repeat("0", 64)}, 403},
		{"cookie session with token", []string{"Cookie", "sess=5; csrftoken=" + token, "X-CSRFToken", token}, 200},
		{"bearer exempt", []string{"X-Test-User", "5"}, 200},
		{"anonymous", nil, 200},
		{"cross-site browser request", []string{"Sec-Fetch-Site", "cross-site", "X-Test-User", "5"}, 403},
		{"foreign origin", []string{"Origin", "https://evil.example", "X-Test-User", "5"}, 403},
	}
	for _, c := range cases {
		r := e.do(t, "POST", "/api/mizan/call/", body, c.headers...)
		if r.status != c.status {
			t.Errorf("%s: %d, want %d: %s", c.name, r.status, c.status, r.raw)
		}
		if c.status == 403 {
			if code, _ := errOf(t, r); code != "forbidden" {
				t.Errorf("%s: code %s", c.name, code)
			}
		}
	}
}

func TestViews(t *testing.T) {
	e := newTestApp(t)
	r := e.do(t, "GET", "/profile/1/", "")
	if r.status != 200 || r.raw != "<h1>Ada</h1>" {
		t.Fatalf("page: %d %s", r.status, r.raw)
	}
	if r := e.do(t, "GET", "/profile/1/extra", ""); r.status != 404 {
		t.Errorf("route matched a subtree: %d", r.status)
	}
	if r := e.do(t, "GET", "/profile/x/", ""); r.status != 400 {
		t.Errorf("bad path value: %d %s", r.status, r.raw)
	}
	r = e.do(t, "POST", "/profile/2/update/", "name=Hopper", "Content-Type", "application/x-www-form-urlencoded")
	if r.status != 302 || r.header.Get("Location") != "/profile/2/" || r.header.Get("X-Mizan-Invalidate") != "user;user_id=2" {
		t.Fatalf("view mutation: %d %v", r.status, r.header)
	}
	if e.rec.last().Source != "update_profile_view" {
		t.Errorf("view mutation not fanned out: %+v", e.rec.last())
	}
	if r := e.do(t, "GET", "/profile/2/", ""); r.raw != "<h1>Hopper</h1>" {
		t.Errorf("after view mutation: %s", r.raw)
	}
	if r := e.do(t, "GET", "/profile/2/update/", ""); r.status != 405 || r.header.Get("Allow") != "POST" {
		t.Errorf("GET on POST view: %d %v", r.status, r.header)
	}
	r = e.do(t, "POST", "/webhooks/stripe/", `{"type":"invoice.paid"}`)
	if r.status != 200 || r.header.Get("X-Mizan-Invalidate") != "subscription" {
		t.Errorf("webhook: %d %v %s", r.status, r.header, r.raw)
	}
	if r := e.do(t, "POST", "/webhooks/stripe/", `not json`); r.status != 400 || r.header.Get("X-Mizan-Invalidate") != "" {
		t.Errorf("failed webhook: %d %v", r.status, r.header)
	}
	if r := e.call(t, "stripe_webhook", nil); r.status != 404 {
		t.Errorf("private view reachable through call/: %d", r.status)
	}
	if r := e.do(t, "POST", "/profile/2/update/", "name=X", "Content-Type", "application/x-www-form-urlencoded", "Sec-Fetch-Site", "cross-site"); r.status != 403 {
		t.Errorf("cross-site form post to a view: %d", r.status)
	}
}

func TestUnknownPathFallsBack(t *testing.T) {
	e := newTestApp(t)
	if r := e.do(t, "GET", "/nowhere", ""); r.status != 404 {
		t.Errorf("%d", r.status)
	}
	app := mizan.New(mizan.Config{Fallback: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "spa")
	})})
	mizan.Query(app, resetAll, mizan.Name("x"))
	w := httptest.NewRecorder()
	app.ServeHTTP(w, httptest.NewRequest("GET", "/app/page", nil))
	if w.Body.String() != "spa" {
		t.Errorf("fallback not used: %q", w.Body)
	}
}

type panicky struct{}

func (panicky) MarshalJSON() ([]byte, error) { panic("marshal exploded") }

// TestResultEncodingPanicIsInternal: a result whose MarshalJSON panics, in a
// context fetched concurrently, is an internal error, not a dead server.
func TestResultEncodingPanicIsInternal(t *testing.T) {
	app := mizan.New(mizan.Config{Logger: slog.New(slog.DiscardHandler)})
	mizan.Query(app, func(context.Context, struct{}) (int, error) { return 1, nil }, mizan.Name("a"), mizan.In("p"))
	mizan.Query(app, func(context.Context, struct{}) (panicky, error) { return panicky{}, nil }, mizan.Name("b"), mizan.In("p"))
	mizan.Mutation(app, func(context.Context, struct{}) (panicky, error) { return panicky{}, nil }, mizan.Name("m"))
	for _, req := range []*http.Request{
		httptest.NewRequest("GET", "/api/mizan/ctx/p/", nil),
		httptest.NewRequest("POST", "/api/mizan/call/", strings.NewReader(`{"fn":"m"}`)),
	} {
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		app.ServeHTTP(w, req)
		if w.Code != 500 || !strings.Contains(w.Body.String(), `"internal"`) {
			t.Errorf("%s: %d %s", req.URL, w.Code, w.Body)
		}
	}
}

type address struct {
	City string `json:"city" validate:"required"`
}

type signupArgs struct {
	Address address `json:"address"`
}

// TestNestedValidateTags: validate tags on nested structs are enforced.
func TestNestedValidateTags(t *testing.T) {
	app := mizan.New(mizan.Config{})
	mizan.Mutation(app, func(context.Context, signupArgs) (ok, error) { return ok{true}, nil }, mizan.Name("signup"))
	req := httptest.NewRequest("POST", "/api/mizan/call/", strings.NewReader(`{"fn":"signup","args":{"address":{}}}`))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	app.ServeHTTP(w, req)
	if w.Code != 400 || !strings.Contains(w.Body.String(), `"address.city"`) {
		t.Errorf("nested validate tag ignored: %d %s", w.Code, w.Body)
	}
}

type noteArgs struct {
	UserID int    `json:"user_id,omitempty"`
	Text   string `json:"text"`
}

// TestAbsentOptionalArgumentDoesNotScope: an omitempty argument the call did
// not give leaves the target broad instead of scoping it to a zero value.
func TestAbsentOptionalArgumentDoesNotScope(t *testing.T) {
	app := mizan.New(mizan.Config{})
	mizan.Query(app, userOrders, mizan.In(User))
	mizan.Mutation(app, func(context.Context, noteArgs) (ok, error) { return ok{true}, nil }, mizan.Name("note"), mizan.Affects(User))
	for body, want := range map[string]string{
		`{"fn":"note","args":{"text":"x"}}`:             "user",
		`{"fn":"note","args":{"text":"x","user_id":0}}`: "user;user_id=0",
	} {
		req := httptest.NewRequest("POST", "/api/mizan/call/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		app.ServeHTTP(w, req)
		if got := w.Header().Get("X-Mizan-Invalidate"); got != want {
			t.Errorf("%s: header %q, want %q", body, got, want)
		}
	}
}
