package mizan_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/mizan-afi/mizan"
)

// POST call/<fn>/ (call_alias.go) is POST call/ with {"fn": fn, "args":
// body}: every case here sends both and wants the same status, body and
// headers.

type greetArgs struct {
	Text string `json:"text"`
}

// newAliasApp is the app of mizan_ext_test.go's newTestApp, for a
// testing.TB, with greet (a standalone read setting a header of its own)
// in place of echo (whose result holds the request path, which differs
// between the two endpoints).
func newAliasApp(tb testing.TB) *env {
	tb.Helper()
	app := mizan.New(mizan.Config{
		Authenticator: mizan.AuthenticatorFunc(testAuth),
		Logger:        slog.New(slog.DiscardHandler),
		MaxBodyBytes:  aliasMaxBody,
	})
	s := &store{names: map[int]string{1: "Ada", 2: "Grace"}}
	mizan.Query(app, s.userProfile, mizan.In(User))
	mizan.Mutation(app, s.updateProfile, mizan.Affects(User))
	mizan.Mutation(app, s.updateProfile, mizan.Name("update_name"), mizan.AffectsFunction("user_profile"))
	mizan.Mutation(app, resetAll, mizan.Affects(User, Orders))
	mizan.Mutation(app, archiveOrders, mizan.Affects(Orders))
	mizan.Query(app, orderPage, mizan.In(Orders))
	mizan.Mutation(app, secret, mizan.RequireAuth())
	mizan.Mutation(app, secret, mizan.Name("admin_action"), mizan.RequireStaff())
	mizan.Mutation(app, secret, mizan.Name("super_action"), mizan.RequireSuperuser())
	mizan.Mutation(app, secret, mizan.Name("only_ada"), mizan.RequireFunc(func(_ *http.Request, c *mizan.Identity) bool {
		return c != nil && c.ID == "1"
	}))
	mizan.Mutation(app, fail)
	mizan.Mutation(app, boom)
	mizan.Query(app, func(ctx context.Context, in greetArgs) (map[string]any, error) {
		mizan.ResponseHeader(ctx).Set("X-Greet", in.Text)
		var caller any
		if id := mizan.Caller(ctx); id != nil {
			caller = id.ID
		}
		return map[string]any{"text": in.Text, "caller": caller}, nil
	}, mizan.Name("greet"))
	mizan.Mutation(app, resetAll, mizan.Name("hidden"), mizan.Private(), mizan.Affects(User))
	mizan.View(app, func(context.Context, profileArgs) (http.Handler, error) {
		return mizan.HTML(http.StatusOK, "<h1>page</h1>"), nil
	}, mizan.Name("profile_page"), mizan.In(User), mizan.Route("/profile/{user_id}/"))
	rec := &recorder{}
	app.OnInvalidate(rec)
	if err := app.Build(); err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(app)
	tb.Cleanup(srv.Close)
	return &env{srv: srv, rec: rec}
}

// send is env.do for a testing.TB, without decoding the body.
func send(tb testing.TB, e *env, method, path, body string, headers ...string) resp {
	tb.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := resp{status: res.StatusCode, header: res.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

// aliasPair sends args (a body text) to call/<fn>/ and, wrapped, to call/,
// and returns both answers.
func aliasPair(t *testing.T, e *env, fn, args string, headers ...string) (alias, call resp) {
	t.Helper()
	alias = send(t, e, http.MethodPost, "/api/mizan/call/"+fn+"/", args, headers...)
	body := `{"fn":` + jsonText(fn)
	if strings.TrimSpace(args) != "" {
		body += `,"args":` + args
	}
	call = send(t, e, http.MethodPost, "/api/mizan/call/", body+"}", headers...)
	return alias, call
}

// sameAnswer fails unless a and c have the same status, body and headers
// (but Date).
func sameAnswer(t *testing.T, name string, a, c resp) {
	t.Helper()
	if a.status != c.status || a.raw != c.raw {
		t.Errorf("%s: alias %d %s, call/ %d %s", name, a.status, a.raw, c.status, c.raw)
	}
	ah, ch := a.header.Clone(), c.header.Clone()
	ah.Del("Date")
	ch.Del("Date")
	if !reflect.DeepEqual(ah, ch) {
		t.Errorf("%s: headers differ:\nalias %v\ncall/ %v", name, ah, ch)
	}
}

func TestCallAliasAnswersAsCall(t *testing.T) {
	e := newAliasApp(t)
	cases := []struct {
		name, fn, args string
		headers        []string
		status         int
	}{
		{"mutation", "update_profile", `{"user_id": 1, "name": "Ada L"}`, nil, 200},
		{"function-level target", "update_name", `{"user_id": 2, "name": "G"}`, nil, 200},
		{"broad targets", "reset_all", ``, nil, 200},
		{"null args", "reset_all", `null`, nil, 200},
		{"empty object", "reset_all", `{}`, nil, 200},
		{"scoped by two", "archive_orders", `{"user_id": 1, "status": "open"}`, nil, 200},
		{"standalone read", "greet", `{"text": "a"}`, nil, 200},
		{"missing argument", "update_profile", `{"name": "x"}`, nil, 400},
		{"unknown argument", "update_profile", `{"user_id": 1, "name": "x", "zzz": 1}`, nil, 400},
		{"wrong type", "update_profile", `{"user_id": "one", "name": "x"}`, nil, 400},
		{"args not an object", "update_profile", `5`, nil, 400},
		{"args an array", "update_profile", `[1]`, nil, 400},
		{"member twice", "update_profile", `{"user_id": 1, "user_id": 2, "name": "x"}`, nil, 400},
		{"own error", "fail", `{}`, nil, 409},
		{"panic", "boom", `{}`, nil, 500},
		{"auth required, anonymous", "secret", ``, nil, 401},
		{"auth required, signed in", "secret", ``, []string{"X-Test-User", "2"}, 200},
		{"bad credentials", "secret", ``, []string{"X-Test-User", "bad"}, 401},
		{"staff, not staff", "admin_action", ``, []string{"X-Test-User", "2"}, 403},
		{"staff", "admin_action", ``, []string{"X-Test-User", "1", "X-Test-Staff", "1"}, 200},
		{"superuser", "super_action", ``, []string{"X-Test-User", "1", "X-Test-Staff", "1"}, 403},
		{"predicate refused", "only_ada", ``, []string{"X-Test-User", "2"}, 403},
		{"predicate", "only_ada", ``, []string{"X-Test-User", "1"}, 200},
		{"cookie session without CSRF", "greet", `{"text": "a"}`, []string{"Cookie", "sess=5"}, 403},
		{"cookie session, wrong CSRF", "greet", `{"text": "a"}`, []string{"Cookie", "sess=5; csrftoken=" + strings.Repeat("a", 64), "X-CSRFToken", strings.Repeat("0", 64)}, 403},
		{"cross-site", "greet", `{"text": "a"}`, []string{"Sec-Fetch-Site", "cross-site", "X-Test-User", "5"}, 403},
		{"foreign origin", "greet", `{"text": "a"}`, []string{"Origin", "https://evil.example"}, 403},
		{"too large", "greet", `{"text": "` + strings.Repeat("x", 5000) + `"}`, nil, 413},
		{"bad idempotency key", "greet", `{"text": "a"}`, []string{"Idempotency-Key", strings.Repeat("k", 256)}, 400},
		// call/'s order of checks, for an unknown function too. Regression:
		// the alias looked the function up first and answered 404.
		{"unknown function, bad idempotency key", "nope", `{}`, []string{"Idempotency-Key", strings.Repeat("k", 256)}, 400},
		{"unknown function, too large", "nope", `{"text": "` + strings.Repeat("x", 5000) + `"}`, nil, 413},
		{"unknown function", "nope", `{}`, nil, 404},
	}
	for _, c := range cases {
		a, k := aliasPair(t, e, c.fn, c.args, c.headers...)
		if a.status != c.status {
			t.Errorf("%s: alias answered %d, want %d: %s", c.name, a.status, c.status, a.raw)
		}
		sameAnswer(t, c.name, a, k)
		if c.status >= 400 {
			errOf(t, a)
		}
	}
}

func TestCallAliasInvalidatesAsCall(t *testing.T) {
	e := newAliasApp(t)
	a := send(t, e, http.MethodPost, "/api/mizan/call/update_profile/", `{"user_id": 7, "name": "Z"}`)
	fromAlias := e.rec.last()
	k := send(t, e, http.MethodPost, "/api/mizan/call/", `{"fn":"update_profile","args":{"user_id": 7, "name": "Z"}}`)
	fromCall := e.rec.last()
	if a.status != 200 || a.header.Get("X-Mizan-Invalidate") != "user;user_id=7" {
		t.Fatalf("alias: %d %q %s", a.status, a.header.Get("X-Mizan-Invalidate"), a.raw)
	}
	if a.header.Get("X-Mizan-Invalidate") != k.header.Get("X-Mizan-Invalidate") || a.raw != k.raw {
		t.Errorf("alias %q %s, call/ %q %s", a.header.Get("X-Mizan-Invalidate"), a.raw, k.header.Get("X-Mizan-Invalidate"), k.raw)
	}
	if !reflect.DeepEqual(fromAlias.Targets, fromCall.Targets) || len(fromAlias.Targets) != 1 {
		t.Errorf("invalidators saw %v from the alias, %v from call/", fromAlias.Targets, fromCall.Targets)
	}
}

func TestCallAliasWithCSRFToken(t *testing.T) {
	e := newAliasApp(t)
	token, _ := send(t, e, http.MethodGet, "/api/mizan/session/", "").body["csrf_token"].(string)
	h := []string{"Cookie", "sess=5; csrftoken=" + token, "X-CSRFToken", token}
	a, k := aliasPair(t, e, "greet", `{"text": "b"}`, h...)
	if a.status != 200 {
		t.Fatalf("cookie session with its token: %d %s", a.status, a.raw)
	}
	sameAnswer(t, "csrf", a, k)
}

func TestCallAliasIdempotencyKeySharedWithCall(t *testing.T) {
	e := newAliasApp(t)
	args := `{"user_id": 3, "name": "L"}`
	first := send(t, e, http.MethodPost, "/api/mizan/call/", `{"fn":"update_profile","args":`+args+`}`, "Idempotency-Key", "k-1")
	again := send(t, e, http.MethodPost, "/api/mizan/call/update_profile/", args, "Idempotency-Key", "k-1")
	if first.status != 200 || again.status != 200 || again.raw != first.raw || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay through the alias: %d %s, then %d %s %v", first.status, first.raw, again.status, again.raw, again.header)
	}
	if again.header.Get("X-Mizan-Invalidate") != first.header.Get("X-Mizan-Invalidate") {
		t.Errorf("replayed header %q, first %q", again.header.Get("X-Mizan-Invalidate"), first.header.Get("X-Mizan-Invalidate"))
	}
	other := send(t, e, http.MethodPost, "/api/mizan/call/update_profile/", `{"user_id": 3, "name": "M"}`, "Idempotency-Key", "k-1")
	if code, _ := errOf(t, other); other.status != 422 || code != "idempotency_mismatch" {
		t.Errorf("other arguments, same key: %d %s", other.status, other.raw)
	}
	// The alias's first use is replayed by call/ too.
	a := send(t, e, http.MethodPost, "/api/mizan/call/greet/", `{"text":"q"}`, "Idempotency-Key", "k-2")
	k := send(t, e, http.MethodPost, "/api/mizan/call/", `{"fn":"greet","args":{"text":"q"}}`, "Idempotency-Key", "k-2")
	if a.status != 200 || k.raw != a.raw || k.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("call/ after the alias: %d %s %v", k.status, k.raw, k.header)
	}
}

func TestCallAliasRefusals(t *testing.T) {
	e := newAliasApp(t)
	for _, c := range []struct {
		name, method, path, body, ctype string
		status                          int
		code                            string
	}{
		{"unknown function", "POST", "/api/mizan/call/nope/", `{}`, "application/json", 404, "not_found"},
		{"private function", "POST", "/api/mizan/call/hidden/", `{}`, "application/json", 404, "not_found"},
		{"context function", "POST", "/api/mizan/call/user_profile/", `{"user_id": 1}`, "application/json", 404, "not_found"},
		{"view", "POST", "/api/mizan/call/profile_page/", `{"user_id": 1}`, "application/json", 404, "not_found"},
		{"not JSON", "POST", "/api/mizan/call/greet/", `{"text": `, "application/json", 400, "bad_request"},
		{"two values", "POST", "/api/mizan/call/greet/", `{} {}`, "application/json", 400, "bad_request"},
		{"injected members", "POST", "/api/mizan/call/reset_all/", `{}, "fn": "secret"`, "application/json", 400, "bad_request"},
		{"not declared JSON", "POST", "/api/mizan/call/greet/", `{"text": "a"}`, "text/plain", 400, "bad_request"},
		{"GET", "GET", "/api/mizan/call/greet/", ``, "", 405, "method_not_allowed"},
		{"below the function", "POST", "/api/mizan/call/greet/x/", `{}`, "application/json", 404, "not_found"},
	} {
		h := []string{}
		if c.ctype != "" {
			h = append(h, "Content-Type", c.ctype)
		}
		r := send(t, e, c.method, c.path, c.body, h...)
		if r.status != c.status {
			t.Errorf("%s: %d, want %d: %s", c.name, r.status, c.status, r.raw)
			continue
		}
		if code, _ := errOf(t, r); code != c.code {
			t.Errorf("%s: code %s, want %s", c.name, code, c.code)
		}
		if r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", c.name, r.header.Get("Cache-Control"))
		}
	}
}

// FuzzCallAlias checks that whatever the body, call/<fn>/ answers as call/
// with that body as its arguments, and never with a 5xx.
// aliasMaxBody is the body limit of the alias tests' app.
const aliasMaxBody = 4096

func FuzzCallAlias(f *testing.F) {
	for _, s := range []string{``, `{}`, `null`, `{"text":"a"}`, `{"text":1}`, `[`, `{}, "fn": "secret"`, `"x"`, `{"text":"a","text":"b"}`, "{\"text\":\"\xff\"}"} {
		f.Add("greet", s)
		f.Add("update_profile", s)
	}
	f.Add("reset_all", `{}`)
	// Found by the fuzzer once the alias checked the size first, as call/
	// does: a large body that is not JSON is a 413.
	f.Add("greet", "0."+strings.Repeat("\xdd", 5000))
	e := newAliasApp(f)
	f.Fuzz(func(t *testing.T, fn, args string) {
		if fn != "greet" && fn != "update_profile" && fn != "reset_all" && fn != "fail" {
			fn = "greet"
		}
		a := send(t, e, http.MethodPost, "/api/mizan/call/"+fn+"/", args)
		if a.status >= 500 {
			t.Fatalf("%s %q: %d %s", fn, args, a.status, a.raw)
		}
		if !json.Valid([]byte(args)) && strings.TrimSpace(args) != "" {
			// As on call/, the size is checked before the JSON: an
			// oversized body is a 413 whatever it holds.
			want := http.StatusBadRequest
			if len(args) > aliasMaxBody {
				want = http.StatusRequestEntityTooLarge
			}
			if a.status != want {
				t.Fatalf("%s %q: not JSON, answered %d %s; want %d", fn, args, a.status, a.raw, want)
			}
			return
		}
		body := `{"fn":` + jsonText(fn)
		if strings.TrimSpace(args) != "" {
			body += `,"args":` + args
		}
		k := send(t, e, http.MethodPost, "/api/mizan/call/", body+"}")
		if a.status != k.status || a.raw != k.raw {
			t.Fatalf("%s %q: alias %d %s, call/ %d %s", fn, args, a.status, a.raw, k.status, k.raw)
		}
	})
}
