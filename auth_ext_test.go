package mizan_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/auth"
	"github.com/mizan-afi/mizan/auth/mwt"
	"github.com/mizan-afi/mizan/auth/session"
	"github.com/mizan-afi/mizan/cache"
	"github.com/mizan-afi/mizan/internal/redistest"
)

// The JWT tests run an app with Config.Auth over httptest and sign in
// through the auth/ endpoints, as a client would.

var (
	jwtKey    = []byte("jwt-key-for-tests-0123456789abcdef-0123")
	mwtKey    = []byte("mwt-key-for-tests-0123456789abcdef-0123")
	cacheKey  = []byte("cache-key-for-tests-0123456789abcdef-01")
	authStart = time.Unix(1_800_000_000, 0)
)

// testClock is a settable clock shared by the auth service.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// checkPassword accepts ada (staff), grace and root (superuser), password
// name + "-pw".
func checkPassword(_ context.Context, username, password string) (*auth.User, error) {
	users := map[string]auth.User{"ada": {ID: "1", Staff: true}, "grace": {ID: "2"}, "root": {ID: "9", Superuser: true}}
	if u, ok := users[username]; ok && password == username+"-pw" {
		return &u, nil
	}
	if username == "broken" {
		return nil, errors.New("user database unreachable")
	}
	return nil, nil
}

type authEnv struct {
	*env
	app   *mizan.App
	clock *testClock
}

// newAuthApp serves an app with JWT sign-in: whoami in global, secret
// (RequireAuth), admin_action (RequireStaff), sign_in (a cookie session)
// and the app's own Authenticator (X-Test-User) behind the JWT one.
func newAuthApp(t *testing.T, ac auth.Config, mutate ...func(*mizan.Config)) *authEnv {
	t.Helper()
	clk := &testClock{t: authStart}
	if ac.PrivateKey == nil {
		ac.PrivateKey = jwtKey
	}
	if ac.MWTSecret == nil {
		ac.MWTSecret = mwtKey
	}
	if ac.Credentials == nil {
		ac.Credentials = checkPassword
	}
	if ac.Now == nil {
		ac.Now = clk.now
	}
	logs := &bytes.Buffer{}
	cfg := mizan.Config{Auth: &ac, Authenticator: mizan.AuthenticatorFunc(testAuth),
		Logger: slog.New(slog.NewTextHandler(logs, nil)), MaxBodyBytes: 4096}
	for _, m := range mutate {
		m(&cfg)
	}
	app := mizan.New(cfg)
	mizan.Query(app, func(ctx context.Context, _ struct{}) (any, error) {
		if c := mizan.Caller(ctx); c != nil {
			return map[string]any{"id": c.ID, "staff": c.Staff, "bearer": c.Bearer}, nil
		}
		return nil, nil
	}, mizan.Name("whoami"), mizan.In(mizan.Global))
	mizan.Mutation(app, secret, mizan.RequireAuth())
	mizan.Mutation(app, secret, mizan.Name("admin_action"), mizan.RequireStaff())
	mizan.Mutation(app, func(ctx context.Context, in struct {
		ID string `json:"id"`
	}) (ok, error) {
		c, err := app.Auth().StartCookieSession(ctx, auth.User{ID: in.ID})
		if err != nil {
			return ok{}, err
		}
		mizan.ResponseHeader(ctx).Add("Set-Cookie", c.String())
		return ok{true}, nil
	}, mizan.Name("sign_in"))
	if err := app.Build(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)
	return &authEnv{env: &env{srv: srv, logs: logs}, app: app, clock: clk}
}

// login signs in with a password and returns the pair.
func (e *authEnv) login(t *testing.T, user string) auth.Pair {
	t.Helper()
	r := e.do(t, http.MethodPost, "/api/mizan/auth/token/", `{"username":"`+user+`","password":"`+user+`-pw"}`)
	if r.status != http.StatusOK {
		t.Fatalf("login %s: %d %s", user, r.status, r.raw)
	}
	return pairOf(t, r)
}

func pairOf(t *testing.T, r resp) auth.Pair {
	t.Helper()
	var p auth.Pair
	if err := json.Unmarshal([]byte(r.raw), &p); err != nil || p.Access == "" || p.Refresh == "" || len(r.body) != 2 {
		t.Fatalf("want exactly {access, refresh}, got %s", r.raw)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q on a token response", cc)
	}
	return p
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

// wantErr fails unless r is an error envelope with status and code, and
// returns its message.
func wantErr(t *testing.T, r resp, status int, code string) string {
	t.Helper()
	if r.status != status {
		t.Errorf("status %d, want %d: %s", r.status, status, r.raw)
	}
	got, _ := errOf(t, r)
	if got != code {
		t.Errorf("code %q, want %q: %s", got, code, r.raw)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q on an error", cc)
	}
	msg, _ := r.body["error"].(map[string]any)["message"].(string)
	return msg
}

func TestJWTSignInCallsAndRefresh(t *testing.T) {
	e := newAuthApp(t, auth.Config{})
	pair := e.login(t, "ada")

	if r := e.call(t, "secret", nil, bearer(pair.Access)...); r.status != 200 || jsonText(r.body["result"]) != `{"secret":42}` {
		t.Errorf("secret with a bearer token: %d %s", r.status, r.raw)
	}
	r := e.do(t, http.MethodGet, "/api/mizan/ctx/global/", "", bearer(pair.Access)...)
	if jsonText(r.body) != `{"whoami":{"bearer":true,"id":"1","staff":true}}` {
		t.Errorf("whoami: %s", r.raw)
	}
	// Without a token the app's own Authenticator still runs.
	if r := e.do(t, http.MethodGet, "/api/mizan/ctx/global/", "", "X-Test-User", "77"); !strings.Contains(r.raw, `"id":"77"`) {
		t.Errorf("X-Test-User without a bearer token: %s", r.raw)
	}

	// Refresh rotates: a new pair, and the old refresh token is spent.
	e.clock.advance(time.Minute)
	r = e.do(t, http.MethodPost, "/api/mizan/auth/refresh/", `{"refresh":"`+pair.Refresh+`"}`)
	next := pairOf(t, r)
	if next.Refresh == pair.Refresh || next.Access == pair.Access {
		t.Fatal("refresh returned the same tokens")
	}
	if r := e.call(t, "secret", nil, bearer(next.Access)...); r.status != 200 {
		t.Errorf("secret with the refreshed token: %d %s", r.status, r.raw)
	}
	// Presenting the spent refresh token revokes the whole session.
	r = e.do(t, http.MethodPost, "/api/mizan/auth/refresh/", `{"refresh":"`+pair.Refresh+`"}`)
	if msg := wantErr(t, r, 401, "unauthorized"); !strings.Contains(msg, "already used") {
		t.Errorf("reuse message %q", msg)
	}
	for name, tok := range map[string]string{"first access": pair.Access, "new access": next.Access} {
		r := e.call(t, "secret", nil, bearer(tok)...)
		if msg := wantErr(t, r, 401, "unauthorized"); !strings.Contains(msg, "revoked") {
			t.Errorf("%s after reuse: %q", name, msg)
		}
	}
	r = e.do(t, http.MethodPost, "/api/mizan/auth/refresh/", `{"refresh":"`+next.Refresh+`"}`)
	wantErr(t, r, 401, "unauthorized")
}

func TestJWTLogoutRevokesAtOnce(t *testing.T) {
	e := newAuthApp(t, auth.Config{})
	pair := e.login(t, "grace")
	other := e.login(t, "grace") // a second sign-in, a session of its own
	r := e.do(t, http.MethodPost, "/api/mizan/auth/logout/", "", bearer(pair.Access)...)
	if r.status != 200 || r.raw != `{"ok":true}` || r.header.Get("Set-Cookie") != "" {
		t.Fatalf("logout: %d %s %q", r.status, r.raw, r.header.Get("Set-Cookie"))
	}
	if msg := wantErr(t, e.call(t, "secret", nil, bearer(pair.Access)...), 401, "unauthorized"); !strings.Contains(msg, "revoked") {
		t.Errorf("access after logout: %q", msg)
	}
	wantErr(t, e.do(t, http.MethodGet, "/api/mizan/ctx/global/", "", bearer(pair.Access)...), 401, "unauthorized")
	wantErr(t, e.do(t, http.MethodPost, "/api/mizan/auth/refresh/", `{"refresh":"`+pair.Refresh+`"}`), 401, "unauthorized")
	wantErr(t, e.do(t, http.MethodPost, "/api/mizan/auth/logout/", "", bearer(pair.Access)...), 401, "unauthorized")
	// The other session is untouched.
	if r := e.call(t, "secret", nil, bearer(other.Access)...); r.status != 200 {
		t.Errorf("another session after logout: %d %s", r.status, r.raw)
	}
}

func TestJWTSkipSessionCheckKeepsAccessUntilExpiry(t *testing.T) {
	e := newAuthApp(t, auth.Config{SkipSessionCheck: true})
	pair := e.login(t, "grace")
	if r := e.do(t, http.MethodPost, "/api/mizan/auth/logout/", "", bearer(pair.Access)...); r.status != 200 {
		t.Fatalf("logout: %d %s", r.status, r.raw)
	}
	if r := e.call(t, "secret", nil, bearer(pair.Access)...); r.status != 200 {
		t.Errorf("without the session check the access token lives on: %d %s", r.status, r.raw)
	}
	wantErr(t, e.do(t, http.MethodPost, "/api/mizan/auth/refresh/", `{"refresh":"`+pair.Refresh+`"}`), 401, "unauthorized")
	e.clock.advance(auth.DefaultAccessTTL + time.Second)
	wantErr(t, e.call(t, "secret", nil, bearer(pair.Access)...), 401, "unauthorized")
}

// forgeToken signs arbitrary claims.
func forgeToken(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestJWTRefusedTokens(t *testing.T) {
	e := newAuthApp(t, auth.Config{})
	pair := e.login(t, "grace")
	parts := strings.Split(pair.Access, ".")
	claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
	raised := base64.RawURLEncoding.EncodeToString(bytes.Replace(claims, []byte(`"staff":false`), []byte(`"staff":true`), 1))
	var c jwt.MapClaims
	if err := json.Unmarshal(claims, &c); err != nil {
		t.Fatal(err)
	}
	c["staff"] = true
	mwtTok := e.do(t, http.MethodGet, "/api/mizan/auth/mwt/", "", bearer(pair.Access)...).body["token"].(string)
	cases := map[string]string{
		"tampered":      parts[0] + "." + raised + "." + parts[2],
		"wrong key":     forgeToken(t, jwt.SigningMethodHS256, []byte("not-the-key-0123456789abcdef-0123456789"), c),
		"wrong alg":     forgeToken(t, jwt.SigningMethodHS512, jwtKey, c),
		"alg none":      forgeToken(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, c),
		"refresh token": pair.Refresh,
		"MWT":           mwtTok,
		"garbage":       "not-a-jwt",
	}
	for name, tok := range cases {
		// Invalid credentials are refused whatever the guard: on a
		// guarded mutation, a staff one, and an unguarded context.
		wantErr(t, e.call(t, "secret", nil, bearer(tok)...), 401, "unauthorized")
		wantErr(t, e.call(t, "admin_action", nil, bearer(tok)...), 401, "unauthorized")
		r := e.do(t, http.MethodGet, "/api/mizan/ctx/global/", "", bearer(tok)...)
		if msg := wantErr(t, r, 401, "unauthorized"); msg != "invalid token" {
			t.Errorf("%s: message %q", name, msg)
		}
	}
	// Expired: the access token's exp passes.
	e.clock.advance(auth.DefaultAccessTTL + time.Second)
	if msg := wantErr(t, e.call(t, "secret", nil, bearer(pair.Access)...), 401, "unauthorized"); !strings.Contains(msg, "expired") {
		t.Errorf("expired: %q", msg)
	}
	wantErr(t, e.do(t, http.MethodPost, "/api/mizan/auth/refresh/", `{"refresh":"`+pair.Access+`"}`), 401, "unauthorized")
}

func TestJWTStaffGuard(t *testing.T) {
	e := newAuthApp(t, auth.Config{})
	ada, grace, root := e.login(t, "ada"), e.login(t, "grace"), e.login(t, "root")
	if r := e.call(t, "admin_action", nil, bearer(ada.Access)...); r.status != 200 {
		t.Errorf("staff ada: %d %s", r.status, r.raw)
	}
	if r := e.call(t, "admin_action", nil, bearer(root.Access)...); r.status != 200 {
		t.Errorf("superuser: %d %s", r.status, r.raw)
	}
	wantErr(t, e.call(t, "admin_action", nil, bearer(grace.Access)...), 403, "forbidden")
	wantErr(t, e.call(t, "admin_action", nil), 401, "unauthorized")
	// Rights survive a refresh.
	next := pairOf(t, e.do(t, http.MethodPost, "/api/mizan/auth/refresh/", `{"refresh":"`+ada.Refresh+`"}`))
	if r := e.call(t, "admin_action", nil, bearer(next.Access)...); r.status != 200 {
		t.Errorf("staff after refresh: %d %s", r.status, r.raw)
	}
}

func TestAuthEndpointErrors(t *testing.T) {
	e := newAuthApp(t, auth.Config{})
	const tok = "/api/mizan/auth/token/"
	cases := []struct {
		name, method, path, body string
		headers                  []string
		status                   int
		code                     string
		fields                   []string
	}{
		{"wrong password", "POST", tok, `{"username":"ada","password":"nope"}`, nil, 401, "unauthorized", nil},
		{"unknown user", "POST", tok, `{"username":"zed","password":"zed-pw"}`, nil, 401, "unauthorized", nil},
		{"missing password", "POST", tok, `{"username":"ada"}`, nil, 400, "invalid_args", []string{"password"}},
		{"empty body object", "POST", tok, `{}`, nil, 400, "invalid_args", []string{"password", "username"}},
		{"not JSON", "POST", tok, `username=ada`, nil, 400, "bad_request", nil},
		{"wrong types", "POST", tok, `{"username":1,"password":true}`, nil, 400, "bad_request", nil},
		{"unknown member", "POST", tok, `{"username":"ada","password":"ada-pw","remember":true}`, nil, 400, "bad_request", nil},
		{"trailing data", "POST", tok, `{"username":"ada","password":"ada-pw"} {}`, nil, 400, "bad_request", nil},
		{"form post", "POST", tok, `{"username":"ada","password":"ada-pw"}`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 400, "bad_request", nil},
		{"too large", "POST", tok, `{"username":"` + strings.Repeat("a", 5000) + `","password":"x"}`, nil, 413, "payload_too_large", nil},
		{"cross origin", "POST", tok, `{"username":"ada","password":"ada-pw"}`, []string{"Origin", "https://evil.example"}, 403, "forbidden", nil},
		{"GET token", "GET", tok, "", nil, 405, "method_not_allowed", nil},
		{"credential check fails", "POST", tok, `{"username":"broken","password":"x"}`, nil, 500, "internal", nil},
		{"refresh missing", "POST", "/api/mizan/auth/refresh/", `{}`, nil, 400, "invalid_args", []string{"refresh"}},
		{"refresh garbage", "POST", "/api/mizan/auth/refresh/", `{"refresh":"x.y.z"}`, nil, 401, "unauthorized", nil},
		{"logout anonymous", "POST", "/api/mizan/auth/logout/", "", nil, 401, "unauthorized", nil},
		{"logout bad token", "POST", "/api/mizan/auth/logout/", "", bearer("x.y.z"), 401, "unauthorized", nil},
		{"logout GET", "GET", "/api/mizan/auth/logout/", "", nil, 405, "method_not_allowed", nil},
		{"mwt anonymous", "GET", "/api/mizan/auth/mwt/", "", nil, 401, "unauthorized", nil},
		{"mwt POST", "POST", "/api/mizan/auth/mwt/", "", nil, 405, "method_not_allowed", nil},
		{"unknown auth path", "GET", "/api/mizan/auth/other/", "", nil, 404, "not_found", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(t, c.method, c.path, c.body, c.headers...)
			wantErr(t, r, c.status, c.code)
			_, fields := errOf(t, r)
			if len(fields) != len(c.fields) {
				t.Errorf("fields %v, want %v", fields, c.fields)
			}
			for _, f := range c.fields {
				if fields[f] == nil {
					t.Errorf("fields %v lack %q", fields, f)
				}
			}
			if c.code == "internal" && strings.Contains(r.raw, "unreachable") {
				t.Errorf("the cause leaked: %s", r.raw)
			}
		})
	}
	if !strings.Contains(e.logs.String(), "user database unreachable") {
		t.Errorf("the failing credential check was not logged: %s", e.logs.String())
	}
}

func TestMWTEndpoint(t *testing.T) {
	e := newAuthApp(t, auth.Config{})
	pair := e.login(t, "ada")
	r := e.do(t, http.MethodGet, "/api/mizan/auth/mwt/", "", bearer(pair.Access)...)
	if r.status != 200 || len(r.body) != 2 {
		t.Fatalf("auth/mwt/: %d %s", r.status, r.raw)
	}
	tok, _ := r.body["token"].(string)
	if exp, _ := r.body["expires_at"].(float64); int64(exp) != authStart.Add(300*time.Second).Unix() {
		t.Errorf("expires_at %v, want 300 s from now", r.body["expires_at"])
	}
	// The edge verifies it with package mwt alone.
	v, err := mwt.NewVerifier(mwt.Options{Secret: mwtKey, Now: e.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(tok)
	if err != nil || c.UserID != "1" || !c.Staff || c.Superuser {
		t.Errorf("Verify = %+v, %v", c, err)
	}
	// Forged: signed with the JWT key instead of the MWT secret.
	forged := forgeToken(t, jwt.SigningMethodHS256, jwtKey, jwt.MapClaims{"sub": "1", "staff": true, "super": true,
		"type": "mwt", "iat": authStart.Unix(), "exp": authStart.Unix() + 60})
	if _, err := v.Verify(forged); !errors.Is(err, mwt.ErrInvalid) {
		t.Errorf("MWT signed with the JWT key: %v", err)
	}
	later, _ := mwt.NewVerifier(mwt.Options{Secret: mwtKey, Now: func() time.Time { return authStart.Add(301 * time.Second) }})
	if _, err := later.Verify(tok); !errors.Is(err, mwt.ErrExpired) {
		t.Errorf("MWT after its TTL: %v", err)
	}
	// A caller of the app's own Authenticator gets one too.
	r = e.do(t, http.MethodGet, "/api/mizan/auth/mwt/", "", "X-Test-User", "55")
	if c, err := v.Verify(r.body["token"].(string)); err != nil || c.UserID != "55" {
		t.Errorf("MWT for X-Test-User: %+v, %v", c, err)
	}
	// The MWT on X-Mizan-Token is no credential for the origin.
	r = e.do(t, http.MethodGet, "/api/mizan/ctx/global/", "", mwt.Header, tok)
	if r.status != 200 || r.raw != `{"whoami":null}` {
		t.Errorf("X-Mizan-Token at the origin: %d %s", r.status, r.raw)
	}
}

func TestAuthEndpointsOff(t *testing.T) {
	// Without Config.Auth there are no auth/ endpoints.
	plain := newTestApp(t)
	wantErr(t, plain.do(t, http.MethodPost, "/api/mizan/auth/token/", `{"username":"ada","password":"ada-pw"}`), 404, "not_found")
	// With Auth but no Credentials and no MWT secret, those two are off.
	e := newAuthApp(t, auth.Config{Credentials: nil, MWTSecret: nil}, func(c *mizan.Config) {
		c.Auth.Credentials, c.Auth.MWTSecret = nil, nil
	})
	wantErr(t, e.do(t, http.MethodPost, "/api/mizan/auth/token/", `{"username":"ada","password":"ada-pw"}`), 404, "not_found")
	wantErr(t, e.do(t, http.MethodGet, "/api/mizan/auth/mwt/", "", "X-Test-User", "1"), 404, "not_found")
	// Tokens issued from code still work.
	pair, err := e.app.Auth().Issue(context.Background(), auth.User{ID: "4"})
	if err != nil {
		t.Fatal(err)
	}
	if r := e.call(t, "secret", nil, bearer(pair.Access)...); r.status != 200 {
		t.Errorf("a token issued from code: %d %s", r.status, r.raw)
	}
	if mizan.New(mizan.Config{}).Auth() != nil {
		t.Error("Auth() of an app without Config.Auth is not nil")
	}
}

func TestCookieSession(t *testing.T) {
	e := newAuthApp(t, auth.Config{})
	r := e.call(t, "sign_in", map[string]string{"id": "3"})
	setCookie := r.header.Get("Set-Cookie")
	if r.status != 200 || !strings.HasPrefix(setCookie, "mizan_session=") || !strings.Contains(setCookie, "HttpOnly") {
		t.Fatalf("sign_in: %d %s, Set-Cookie %q", r.status, r.raw, setCookie)
	}
	cookie := strings.SplitN(setCookie, ";", 2)[0]
	r = e.do(t, http.MethodGet, "/api/mizan/ctx/global/", "", "Cookie", cookie)
	if r.raw != `{"whoami":{"bearer":false,"id":"3","staff":false}}` {
		t.Errorf("whoami by cookie: %s", r.raw)
	}
	// A cookie credential is subject to the CSRF check.
	wantErr(t, e.call(t, "secret", nil, "Cookie", cookie), 403, "forbidden")
	csrf := strings.Repeat("ab", 32)
	if r := e.call(t, "secret", nil, "Cookie", cookie+"; csrftoken="+csrf, "X-CSRFToken", csrf); r.status != 200 {
		t.Errorf("cookie session with the CSRF token: %d %s", r.status, r.raw)
	}
	// auth/logout/ by cookie needs the CSRF token too (no other site may
	// sign the user out), then ends the session and clears the cookie.
	wantErr(t, e.do(t, http.MethodPost, "/api/mizan/auth/logout/", "", "Cookie", cookie), 403, "forbidden")
	r = e.do(t, http.MethodPost, "/api/mizan/auth/logout/", "", "Cookie", cookie+"; csrftoken="+csrf, "X-CSRFToken", csrf)
	if r.status != 200 || !strings.Contains(r.header.Get("Set-Cookie"), "Max-Age=0") {
		t.Errorf("logout by cookie: %d %s, Set-Cookie %q", r.status, r.raw, r.header.Get("Set-Cookie"))
	}
	if r := e.do(t, http.MethodGet, "/api/mizan/ctx/global/", "", "Cookie", cookie); r.raw != `{"whoami":null}` {
		t.Errorf("a cookie of an ended session must be anonymous: %s", r.raw)
	}
}

// downStore fails every call.
type downStore struct{}

func (downStore) Create(context.Context, session.Session) error {
	return errors.New("redis: connection refused")
}
func (downStore) Get(context.Context, string) (session.Session, error) {
	return session.Session{}, errors.New("redis: connection refused")
}
func (downStore) Rotate(context.Context, string, string, string, time.Time) error {
	return errors.New("redis: connection refused")
}
func (downStore) Delete(context.Context, string) error {
	return errors.New("redis: connection refused")
}
func (downStore) DeleteUser(context.Context, string) error {
	return errors.New("connection refused")
}

func TestSessionStoreDownIsUnavailable(t *testing.T) {
	e := newAuthApp(t, auth.Config{Sessions: downStore{}})
	r := e.do(t, http.MethodPost, "/api/mizan/auth/token/", `{"username":"ada","password":"ada-pw"}`)
	wantErr(t, r, 503, "unavailable")
	tok := forgeToken(t, jwt.SigningMethodHS256, jwtKey, jwt.MapClaims{"sub": "1", "sid": "s", "type": "access",
		"iat": authStart.Unix(), "exp": authStart.Unix() + 60})
	wantErr(t, e.call(t, "secret", nil, bearer(tok)...), 503, "unavailable")
	if strings.Contains(r.raw, "connection refused") {
		t.Errorf("the store error leaked: %s", r.raw)
	}
	if !strings.Contains(e.logs.String(), "connection refused") {
		t.Errorf("the store error was not logged: %s", e.logs.String())
	}
}

func TestBuildRefusesSharedSecrets(t *testing.T) {
	c, err := cache.New(cache.Options{Backend: cache.NewMemory(cache.MemoryOptions{}), Secret: cacheKey})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cases := []struct {
		ac   auth.Config
		want string
	}{
		{auth.Config{PrivateKey: cacheKey}, "the cache secret and the JWT key"},
		{auth.Config{PrivateKey: jwtKey, MWTSecret: cacheKey}, "the cache secret and the MWT secret"},
		{auth.Config{PrivateKey: jwtKey, MWTSecret: jwtKey}, "the JWT key and the MWT secret are identical"},
		{auth.Config{PrivateKey: []byte("short")}, "at least 32 bytes"},
	}
	for _, tc := range cases {
		ac := tc.ac
		app := mizan.New(mizan.Config{Cache: c, Auth: &ac})
		mizan.Mutation(app, secret)
		if err := app.Build(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Build: %v, want %q", err, tc.want)
		}
		if app.Auth() != nil {
			t.Error("Auth() of an app that failed to build is not nil")
		}
	}
	ok := auth.Config{PrivateKey: jwtKey, MWTSecret: mwtKey}
	app := mizan.New(mizan.Config{Cache: c, Auth: &ok})
	mizan.Mutation(app, secret)
	if err := app.Build(); err != nil {
		t.Errorf("three distinct secrets: %v", err)
	}
}

func TestJWTSessionsInRedisAcrossProcesses(t *testing.T) {
	srv := redistest.Start(t)
	open := func() session.Store {
		s, err := session.OpenRedis(srv.URL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	// Two server processes sharing the key and the Redis, each with its
	// own connection.
	a := newAuthApp(t, auth.Config{Sessions: open(), Now: time.Now})
	b := newAuthApp(t, auth.Config{Sessions: open(), Now: time.Now})
	pair := a.login(t, "ada")
	if r := b.call(t, "admin_action", nil, bearer(pair.Access)...); r.status != 200 {
		t.Fatalf("a token of A on B: %d %s", r.status, r.raw)
	}
	next := pairOf(t, b.do(t, http.MethodPost, "/api/mizan/auth/refresh/", `{"refresh":"`+pair.Refresh+`"}`))
	// Reuse on A of the token B spent revokes the session everywhere.
	wantErr(t, a.do(t, http.MethodPost, "/api/mizan/auth/refresh/", `{"refresh":"`+pair.Refresh+`"}`), 401, "unauthorized")
	wantErr(t, b.call(t, "secret", nil, bearer(next.Access)...), 401, "unauthorized")

	// Logout on B is refused on A at once.
	p2 := a.login(t, "grace")
	if r := b.do(t, http.MethodPost, "/api/mizan/auth/logout/", "", bearer(p2.Access)...); r.status != 200 {
		t.Fatalf("logout on B: %d %s", r.status, r.raw)
	}
	wantErr(t, a.call(t, "secret", nil, bearer(p2.Access)...), 401, "unauthorized")

	// Redis down: 503, not 401, and not a pass.
	p3 := a.login(t, "grace")
	srv.Kill()
	wantErr(t, a.call(t, "secret", nil, bearer(p3.Access)...), 503, "unavailable")
}
