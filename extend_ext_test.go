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
	"strings"
	"testing"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/protocol"
)

// extApp is an app for the hooks of extend.go: a WebSocket mutation, an
// HTTP-only one, a private one, a guarded mutation and a guarded context.
func extApp(t *testing.T, cfg mizan.Config) (*mizan.App, *recorder, *bytes.Buffer) {
	t.Helper()
	logs := &bytes.Buffer{}
	cfg.Authenticator = mizan.AuthenticatorFunc(testAuth)
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	app := mizan.New(cfg)
	s := &store{names: map[int]string{1: "Ada", 2: "Grace"}}
	mizan.Query(app, s.userProfile, mizan.In(User))
	mizan.Query(app, orderPage, mizan.In(Orders))
	mizan.Query(app, secret, mizan.Name("staff_numbers"), mizan.In("staff"), mizan.RequireStaff())
	mizan.Mutation(app, s.updateProfile, mizan.Affects(User), mizan.WebSocket())
	mizan.Mutation(app, s.updateProfile, mizan.Name("update_http"), mizan.Affects(User))
	mizan.Mutation(app, resetAll, mizan.Name("hidden"), mizan.Private(), mizan.Affects(User), mizan.WebSocket())
	mizan.Mutation(app, secret, mizan.RequireAuth(), mizan.WebSocket())
	mizan.Mutation(app, leak, mizan.WebSocket())
	mizan.Query(app, echo, mizan.WebSocket())
	rec := &recorder{}
	app.OnInvalidate(rec)
	return app, rec, logs
}

func TestHandleServesUnderThePrefix(t *testing.T) {
	app, _, _ := extApp(t, mizan.Config{Prefix: "/rpc/"})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "live "+r.Method) })
	if err := app.Handle("live/ws/", h); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		h    http.Handler
		want string
	}{
		{"ctx/", h, "built-in endpoints"},
		{"auth/x/", h, "built-in endpoints"},
		{"ws", h, "must end with /"},
		{"a b/", h, "segment"},
		{"/ws/", h, "segment"},
		{"../", h, "segment"},
		{"ws/./", h, "segment"},
		{"ws/", nil, "nil handler"},
	} {
		if err := app.Handle(c.path, c.h); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Handle(%q): %v, want an error about %q", c.path, err, c.want)
		}
	}
	if err := app.Build(); err != nil {
		t.Fatal(err)
	}
	if err := app.Handle("late/", h); err == nil || !strings.Contains(err.Error(), "already built") {
		t.Errorf("Handle after Build: %v", err)
	}
	for _, c := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/rpc/live/ws/", 200, "live GET"},
		{"POST", "/rpc/live/ws/", 200, "live POST"},
		{"GET", "/rpc/live/ws/deeper/", 404, `"code":"not_found"`},
		{"GET", "/rpc/live/", 404, `"code":"not_found"`},
	} {
		w := httptest.NewRecorder()
		app.ServeHTTP(w, httptest.NewRequest(c.method, c.path, nil))
		if w.Code != c.status || !strings.Contains(w.Body.String(), c.body) {
			t.Errorf("%s %s: %d %s", c.method, c.path, w.Code, w.Body)
		}
	}

	// Two handlers on one path are a build error.
	app2, _, _ := extApp(t, mizan.Config{})
	_ = app2.Handle("ws/", h)
	_ = app2.Handle("ws/", h)
	if err := app2.Build(); err == nil || !strings.Contains(err.Error(), "/api/mizan/ws/") {
		t.Errorf("Build with two handlers on ws/: %v", err)
	}
}

func TestCallRunsLikeCallEndpoint(t *testing.T) {
	app, rec, logs := extApp(t, mizan.Config{})
	r := httptest.NewRequest("GET", "/api/mizan/ws/", nil)
	ctx := context.Background()
	call := func(fn, args string, caller *mizan.Identity, ws bool) (mizan.CallResult, error) {
		return app.Call(ctx, mizan.CallRequest{Fn: fn, Args: json.RawMessage(args), Request: r, Caller: caller, WebSocket: ws})
	}

	res, err := call("update_profile", `{"user_id":2,"name":"G"}`, &mizan.Identity{ID: "9"}, true)
	if err != nil || string(res.Result) != `{"ok":true}` || len(res.Invalidate) != 1 ||
		jsonText(res.Invalidate[0]) != `{"context":"user","params":{"user_id":2}}` {
		t.Fatalf("update_profile: %s %v %v", res.Result, res.Invalidate, err)
	}
	// The targets went through the fan-out, with the source and caller.
	if inv := rec.last(); inv.Source != "update_profile" || inv.Caller == nil || inv.Caller.ID != "9" || len(inv.Targets) != 1 {
		t.Errorf("fan-out: %+v", inv)
	}
	// The function sees the request and the caller.
	res, err = call("echo", `{"text":"hi"}`, &mizan.Identity{ID: "3"}, true)
	if err != nil || string(res.Result) != `{"caller":"3","path":"/api/mizan/ws/","text":"hi"}` || len(res.Invalidate) != 0 {
		t.Errorf("echo: %s %v", res.Result, err)
	}
	// Over HTTP rules, a function without WebSocket() may be called.
	if _, err := call("update_http", `{"user_id":1,"name":"A"}`, nil, false); err != nil {
		t.Errorf("update_http without the WebSocket restriction: %v", err)
	}

	fails := []struct {
		fn, args string
		caller   *mizan.Identity
		code     mizan.Code
		msg      string
	}{
		{"update_http", `{"user_id":1,"name":"A"}`, nil, mizan.CodeMethodNotAllowed, "not callable over WebSocket"},
		{"nope", `{}`, nil, mizan.CodeNotFound, `no function named "nope"`},
		{"hidden", `{}`, nil, mizan.CodeNotFound, `no function named "hidden"`},
		{"user_profile", `{"user_id":1}`, nil, mizan.CodeNotFound, `no function named "user_profile"`},
		{"", `{}`, nil, mizan.CodeBadRequest, `missing "fn"`},
		{"update_profile", `{"user_id":"x","name":"A"}`, nil, mizan.CodeInvalidArgs, "invalid arguments"},
		{"update_profile", `{"user_id":1,"name":""}`, nil, mizan.CodeInvalidArgs, "invalid arguments"},
		{"secret", `{}`, nil, mizan.CodeUnauthorized, "authentication required"},
		{"leak", `{}`, nil, mizan.CodeInternal, "internal server error"},
	}
	for _, f := range fails {
		_, err := call(f.fn, f.args, f.caller, true)
		var me *mizan.Error
		if !errors.As(err, &me) || me.Code() != f.code || !strings.Contains(me.Message(), f.msg) {
			t.Errorf("%s %s: %v, want %s %q", f.fn, f.args, err, f.code, f.msg)
		}
	}
	if !strings.Contains(logs.String(), "10.0.0.7") {
		t.Error("the internal error's detail was not logged")
	}
	if _, err := call("secret", `{}`, &mizan.Identity{ID: "1"}, true); err != nil {
		t.Errorf("secret with a caller: %v", err)
	}
	if _, err := app.Call(ctx, mizan.CallRequest{Fn: "echo"}); err == nil {
		t.Error("Call without a Request: no error")
	}
}

func TestCheckContextAndAuthenticate(t *testing.T) {
	app, _, _ := extApp(t, mizan.Config{TrustedOrigins: []string{"https://a.example"}})
	staff := &mizan.Identity{ID: "1", Staff: true}
	for _, c := range []struct {
		ctx    string
		params map[string]string
		caller *mizan.Identity
		code   mizan.Code // "" for allowed
	}{
		{"user", map[string]string{"user_id": "1"}, nil, ""},
		{"orders", map[string]string{"user_id": "1", "status": "open"}, nil, ""},
		{"nope", nil, nil, mizan.CodeNotFound},
		{"user", map[string]string{"user_id": "1", "x": "2"}, nil, mizan.CodeInvalidArgs},
		{"user", map[string]string{"user_id": "one"}, nil, mizan.CodeInvalidArgs},
		{"user", nil, nil, mizan.CodeInvalidArgs},
		{"staff", nil, nil, mizan.CodeUnauthorized},
		{"staff", nil, &mizan.Identity{ID: "2"}, mizan.CodeForbidden},
		{"staff", nil, staff, ""},
	} {
		_, err := app.CheckContext(nil, c.caller, c.ctx, c.params)
		var me *mizan.Error
		switch {
		case c.code == "" && err != nil:
			t.Errorf("%s %v: %v", c.ctx, c.params, err)
		case c.code != "" && (!errors.As(err, &me) || me.Code() != c.code):
			t.Errorf("%s %v: %v, want %s", c.ctx, c.params, err, c.code)
		}
	}

	// The instance is normalized through the declared types, sorted.
	inst, err := app.CheckContext(nil, nil, "orders", map[string]string{"user_id": "01", "status": "open"})
	if err != nil || inst.Context != "orders" || len(inst.Params) != 2 ||
		inst.Params[0] != (protocol.Param{Name: "status", Value: "open"}) || inst.Params[1] != (protocol.Param{Name: "user_id", Value: "1"}) {
		t.Errorf("CheckContext instance %+v, %v", inst, err)
	}

	r := httptest.NewRequest("GET", "/", nil)
	if id, err := app.Authenticate(r); id != nil || err != nil {
		t.Errorf("anonymous: %v %v", id, err)
	}
	r.Header.Set("X-Test-User", "5")
	if id, err := app.Authenticate(r); err != nil || id == nil || id.ID != "5" || !id.Bearer {
		t.Errorf("X-Test-User: %+v %v", id, err)
	}
	r.Header.Set("X-Test-User", "bad")
	var me *mizan.Error
	if id, err := app.Authenticate(r); id != nil || !errors.As(err, &me) || me.Code() != mizan.CodeUnauthorized {
		t.Errorf("bad credentials: %v %v", id, err)
	}

	cfg := app.Config()
	if cfg.Prefix != mizan.DefaultPrefix || cfg.MaxBodyBytes != 1<<20 || cfg.TrustedOrigins[0] != "https://a.example" {
		t.Errorf("Config() = %+v", cfg)
	}
	cfg.TrustedOrigins[0] = "changed"
	if app.Config().TrustedOrigins[0] != "https://a.example" {
		t.Error("modifying Config()'s copy changed the app")
	}
}

func TestConfigFromEnvPubSub(t *testing.T) {
	for _, name := range []string{mizan.EnvCacheSecret, mizan.EnvCacheRedisURL, mizan.EnvJWTPrivateKey, mizan.EnvMWTSecret, mizan.EnvPubSubRedisURL} {
		t.Setenv(name, "")
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	get := func() (string, error) {
		cfg, err := mizan.ConfigFromEnv(logger)
		if err == nil {
			defer cfg.Close()
		}
		return cfg.PubSubRedisURL, err
	}
	if u, err := get(); u != "" || err != nil {
		t.Errorf("nothing set: %q %v", u, err)
	}
	// The cache's Redis is the default (the cache itself stays off
	// without its secret).
	t.Setenv(mizan.EnvCacheRedisURL, "redis://127.0.0.1:1/0")
	if u, err := get(); u != "redis://127.0.0.1:1/0" || err != nil {
		t.Errorf("cache URL only: %q %v", u, err)
	}
	t.Setenv(mizan.EnvPubSubRedisURL, "rediss://pubsub.example:6380/2")
	if u, err := get(); u != "rediss://pubsub.example:6380/2" || err != nil {
		t.Errorf("both set: %q %v", u, err)
	}
	t.Setenv(mizan.EnvPubSubRedisURL, "http://pubsub.example")
	if _, err := get(); err == nil || !strings.Contains(err.Error(), mizan.EnvPubSubRedisURL) {
		t.Errorf("a URL that is not Redis's: %v", err)
	}
	// A cache reached through a unix socket (as cache/redis accepts) is a
	// pub/sub default too, not an error.
	t.Setenv(mizan.EnvPubSubRedisURL, "")
	t.Setenv(mizan.EnvCacheRedisURL, "unix:///run/redis/redis.sock")
	if u, err := get(); u != "unix:///run/redis/redis.sock" || err != nil {
		t.Errorf("a unix socket: %q %v", u, err)
	}
}
