package oidc_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/auth"
	"github.com/mizan-afi/mizan/auth/oidc"
	"github.com/mizan-afi/mizan/ratelimit"
)

// The tests run a real OpenID Provider, zitadel/oidc's op package with its
// example storage and login form, on loopback, and drive the apps and it
// over HTTP like a browser (a cookie jar, the OP's login form).

// TestMain keeps the example OP's request log (slog Info) out of the
// output.
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	os.Exit(m.Run())
}

// users is the OP's user store: ada has a verified email (in mixed case),
// mallory an unverified one.
type users map[string]*storage.User

func (u users) GetUserByID(id string) *storage.User { return u[id] }
func (u users) GetUserByUsername(name string) *storage.User {
	for _, x := range u {
		if x.Username == name {
			return x
		}
	}
	return nil
}
func (u users) ExampleClientID() string { return "service" }

var opUsers = users{
	"u-ada":     {ID: "u-ada", Username: "ada", Password: "ada-password", FirstName: "Ada", LastName: "Lovelace", Email: "Ada@Example.com", EmailVerified: true},
	"u-mallory": {ID: "u-mallory", Username: "mallory", Password: "mallory-password", FirstName: "Mallory", LastName: "M", Email: "mallory@example.com", EmailVerified: false},
}

// deferred is a handler set after its server has started (the server's URL
// is needed to build it).
type deferred struct{ h http.Handler }

func (d *deferred) ServeHTTP(w http.ResponseWriter, r *http.Request) { d.h.ServeHTTP(w, r) }

// idp is the OpenID Provider of a test.
type idp struct {
	srv     *httptest.Server
	clients map[string]*storage.Client
}

// newIDP starts an OP whose clients are registered with register before it
// serves.
func newIDP(t *testing.T) *idp {
	t.Helper()
	d := &deferred{}
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	clients := map[string]*storage.Client{}
	st := storage.NewStorageWithClients(opUsers, clients)
	d.h = exampleop.SetupServer(srv.URL, st, nil, false)
	return &idp{srv: srv, clients: clients}
}

// tokenProxy is the app's transport to the OP: it passes everything
// through, records the ID token of each token response and, with swap set,
// replaces it (an attacker's or a broken OP's token).
type tokenProxy struct {
	mu   sync.Mutex
	last string
	swap func(idToken string) string
}

func (p *tokenProxy) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil || r.URL.Path != "/oauth/token" || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, err
	}
	p.mu.Lock()
	if tok, ok := m["id_token"].(string); ok {
		p.last = tok
		if p.swap != nil {
			m["id_token"] = p.swap(tok)
		}
	}
	p.mu.Unlock()
	if body, err = json.Marshal(m); err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Del("Content-Length")
	return resp, nil
}

// lastIDToken returns the last ID token the OP sent.
func (p *tokenProxy) lastIDToken() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

// testApp is a Mizan app signing in through the OP.
type testApp struct {
	app   *mizan.App
	srv   *httptest.Server
	proxy *tokenProxy
}

// appOptions vary the apps of the tests.
type appOptions struct {
	clientID string // the client the OP knows (default "mizan-app")
	mode     oidc.Mode
	limits   auth.Limits
	now      func() time.Time
	hook     oidc.SignInFunc
	extra    []oidc.Provider
	baseURL  string
}

var testKey = []byte("0123456789abcdef0123456789abcdef-oidc-tests")

// newApp starts an app with the OP as provider "zitadel".
func newApp(t *testing.T, op *idp, o appOptions) *testApp {
	t.Helper()
	if o.clientID == "" {
		o.clientID = "mizan-app"
	}
	d := &deferred{}
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	op.clients[o.clientID] = storage.WebClient(o.clientID, o.clientID+"-secret", srv.URL+"/api/mizan/auth/oidc/zitadel/callback/")
	proxy := &tokenProxy{}
	p, err := oidc.NewOIDC(oidc.OIDCConfig{Name: "zitadel", DisplayName: "Zitadel test OP", Issuer: op.srv.URL,
		ClientID: o.clientID, ClientSecret: o.clientID + "-secret", HTTPClient: &http.Client{Transport: proxy}, Now: o.now})
	if err != nil {
		t.Fatal(err)
	}
	app := mizan.New(mizan.Config{Auth: &auth.Config{PrivateKey: testKey, Limits: o.limits}})
	if err := oidc.Mount(app, oidc.Options{Providers: append([]oidc.Provider{p}, o.extra...), Mode: o.mode, OnSignIn: o.hook, BaseURL: o.baseURL}); err != nil {
		t.Fatal(err)
	}
	if err := app.Build(); err != nil {
		t.Fatal(err)
	}
	d.h = app
	return &testApp{app: app, srv: srv, proxy: proxy}
}

// browser is a cookie-jar client that stops at the app's callback (and at
// every redirect when noFollow).
type browser struct {
	*http.Client
	jar *cookiejar.Jar
}

func newBrowser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		// Through the OP's pages, up to the app's callback; from the
		// callback, nowhere (its redirect is the outcome).
		if strings.Contains(req.URL.Path, "/callback/") || strings.Contains(via[0].URL.Path, "/callback/") {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	return &browser{Client: c, jar: jar}
}

// get GETs u without following the redirect to the app.
func (b *browser) get(t *testing.T, u string) *http.Response {
	t.Helper()
	resp, err := b.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

var hiddenID = regexp.MustCompile(`name="id" value="([^"]+)"`)

// login starts a sign-in at a, logs in at the OP as username and returns
// the callback URL the OP redirects the browser to.
func login(t *testing.T, b *browser, a *testApp, username, password, ret string) string {
	t.Helper()
	return loginQuery(t, b, a, username, password, "return="+url.QueryEscape(ret))
}

// loginQuery is login with the start URL's whole query.
func loginQuery(t *testing.T, b *browser, a *testApp, username, password, query string) string {
	t.Helper()
	start := a.srv.URL + "/api/mizan/auth/oidc/zitadel/start/?" + query
	resp, err := b.Get(start)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Request.URL.Path, "/login/username") {
		t.Fatalf("start led to %s %d, not the OP's login form: %s", resp.Request.URL, resp.StatusCode, page)
	}
	m := hiddenID.FindSubmatch(page)
	if m == nil {
		t.Fatalf("no auth request id in the login form: %s", page)
	}
	form := url.Values{"id": {string(m[1])}, "username": {username}, "password": {password}}
	resp, err = b.PostForm(resp.Request.URL.String(), form)
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, a.srv.URL+"/api/mizan/auth/oidc/zitadel/callback/") {
		t.Fatalf("login answered %d to %q, not a redirect to the callback: %s", resp.StatusCode, loc, page)
	}
	return loc
}

// envelope is the protocol's error envelope.
type envelope struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// wantError checks that resp is an error envelope with status and code,
// whose message contains msg.
func wantError(t *testing.T, resp *http.Response, status int, code, msg string) {
	t.Helper()
	body, _ := io.ReadAll(resp.Body)
	var e envelope
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("answer %d is not an error envelope: %s", resp.StatusCode, body)
	}
	if resp.StatusCode != status || e.Error.Code != code || !strings.Contains(e.Error.Message, msg) {
		t.Fatalf("got %d %s %q, want %d %s containing %q", resp.StatusCode, e.Error.Code, e.Error.Message, status, code, msg)
	}
	if resp.Header.Get("Location") != "" {
		t.Fatalf("an error redirects to %q", resp.Header.Get("Location"))
	}
}

// refreshFrom returns the refresh token of a token-mode redirect to ret.
func refreshFrom(t *testing.T, resp *http.Response, ret string) string {
	t.Helper()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("callback answered %d (%s), want 303", resp.StatusCode, body)
	}
	path, frag, ok := strings.Cut(loc, "#mizan_refresh=")
	frag, _, _ = strings.Cut(frag, "&mizan_handoff=")
	if !ok || path != ret || frag == "" {
		t.Fatalf("callback redirected to %q, want %s#mizan_refresh=<token>", loc, ret)
	}
	tok, err := url.QueryUnescape(frag)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// stateCookieCleared reports whether resp deletes the state cookie.
func stateCookieCleared(resp *http.Response) bool {
	for _, c := range resp.Cookies() {
		if c.Name == "mizan_oidc_zitadel" && c.MaxAge < 0 {
			return true
		}
	}
	return false
}

func TestTokenModeSignIn(t *testing.T) {
	op := newIDP(t)
	a := newApp(t, op, appOptions{})
	b := newBrowser(t)

	cb := login(t, b, a, "ada", "ada-password", "/projects/1/")
	q, _ := url.Parse(cb)
	if q.Query().Get("code") == "" || q.Query().Get("state") == "" {
		t.Fatalf("callback URL %s has no code or state", cb)
	}
	resp := b.get(t, cb)
	refresh := refreshFrom(t, resp, "/projects/1/")
	if !stateCookieCleared(resp) {
		t.Error("the callback did not clear the state cookie")
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	svc := a.app.Auth()
	pair, err := svc.Refresh(context.Background(), refresh)
	if err != nil {
		t.Fatalf("the fragment's refresh token: %v", err)
	}
	p, err := svc.Verify(context.Background(), pair.Access)
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != "ada@example.com" || p.Staff || p.Superuser {
		t.Fatalf("signed in as %+v, want ada@example.com without rights", p.User)
	}
	if _, err := svc.Refresh(context.Background(), refresh); !errors.Is(err, auth.ErrReused) {
		t.Fatalf("spending the fragment's token twice: %v, want ErrReused", err)
	}
}

func TestStartRedirect(t *testing.T) {
	op := newIDP(t)
	a := newApp(t, op, appOptions{})
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(a.srv.URL + "/api/mizan/auth/oidc/zitadel/start/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc.String(), op.srv.URL+"/auth?") {
		t.Fatalf("start: %d to %q, want 302 to the OP's authorization endpoint", resp.StatusCode, resp.Header.Get("Location"))
	}
	q := loc.Query()
	for k, want := range map[string]string{"client_id": "mizan-app", "response_type": "code", "code_challenge_method": "S256",
		"redirect_uri": a.srv.URL + "/api/mizan/auth/oidc/zitadel/callback/", "scope": "openid email profile"} {
		if q.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, q.Get(k), want)
		}
	}
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		if len(q.Get(k)) < 32 {
			t.Errorf("%s = %q: missing or short", k, q.Get(k))
		}
	}
	var sc *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "mizan_oidc_zitadel" {
			sc = c
		}
	}
	if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Path != "/api/mizan/auth/oidc/zitadel/callback/" || sc.MaxAge <= 0 || sc.MaxAge > 600 {
		t.Fatalf("state cookie %+v, want HttpOnly, SameSite=Lax, on the callback path, short-lived", sc)
	}
	for _, secret := range []string{q.Get("state"), q.Get("nonce")} {
		if strings.Contains(sc.Value, secret) {
			t.Error("the state cookie shows the state or nonce in clear")
		}
	}
}

func TestBaseURL(t *testing.T) {
	op := newIDP(t)
	a := newApp(t, op, appOptions{baseURL: "https://app.example.com/"})
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(a.srv.URL + "/api/mizan/auth/oidc/zitadel/start/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if got := loc.Query().Get("redirect_uri"); got != "https://app.example.com/api/mizan/auth/oidc/zitadel/callback/" {
		t.Fatalf("redirect_uri %q, want the BaseURL's", got)
	}
	cookies := resp.Cookies()
	if len(cookies) != 1 || !cookies[0].Secure {
		t.Fatalf("state cookie %v, want Secure (BaseURL is https)", cookies)
	}
}

func TestCookieModeSignIn(t *testing.T) {
	op := newIDP(t)
	a := newApp(t, op, appOptions{mode: oidc.CookieMode})
	b := newBrowser(t)
	resp := b.get(t, login(t, b, a, "ada", "ada-password", "/after"))
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/after" {
		t.Fatalf("callback: %d to %q, want 303 to /after", resp.StatusCode, resp.Header.Get("Location"))
	}
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == a.app.Auth().CookieName() {
			session = c
		}
	}
	if session == nil || !session.HttpOnly {
		t.Fatalf("no HttpOnly session cookie in %v", resp.Cookies())
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(session)
	p, err := a.app.Auth().Authenticate(req)
	if err != nil || p == nil || p.ID != "ada@example.com" || p.Bearer {
		t.Fatalf("the session cookie authenticates %+v, %v; want ada@example.com by cookie", p, err)
	}
}

func TestTamperedState(t *testing.T) {
	op := newIDP(t)
	a := newApp(t, op, appOptions{})
	b := newBrowser(t)
	cb, _ := url.Parse(login(t, b, a, "ada", "ada-password", "/"))
	q := cb.Query()
	q.Set("state", q.Get("state")+"x")
	cb.RawQuery = q.Encode()
	resp := b.get(t, cb.String())
	wantError(t, resp, http.StatusUnauthorized, "unauthorized", "state parameter does not match")
	if !stateCookieCleared(resp) {
		t.Error("a refused callback left the state cookie")
	}
	// The cookie is gone: the genuine state fails too.
	q.Set("state", strings.TrimSuffix(q.Get("state"), "x"))
	cb.RawQuery = q.Encode()
	wantError(t, b.get(t, cb.String()), http.StatusBadRequest, "bad_request", "state cookie is missing")
}

func TestTamperedStateCookie(t *testing.T) {
	op := newIDP(t)
	a := newApp(t, op, appOptions{})
	b := newBrowser(t)
	cb := login(t, b, a, "ada", "ada-password", "/")
	u, _ := url.Parse(cb)
	var value string
	for _, c := range b.jar.Cookies(u) {
		if c.Name == "mizan_oidc_zitadel" {
			value = c.Value
		}
	}
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(raw) < 30 {
		t.Fatalf("state cookie %q", value)
	}
	raw[len(raw)/2] ^= 1
	req, _ := http.NewRequest(http.MethodGet, cb, nil)
	req.AddCookie(&http.Cookie{Name: "mizan_oidc_zitadel", Value: base64.RawURLEncoding.EncodeToString(raw)})
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	wantError(t, resp, http.StatusBadRequest, "bad_request", "state cookie is invalid")
}

func TestReplayedCode(t *testing.T) {
	op := newIDP(t)
	a := newApp(t, op, appOptions{})
	b := newBrowser(t)
	cb := login(t, b, a, "ada", "ada-password", "/")
	u, _ := url.Parse(cb)
	var state *http.Cookie
	for _, c := range b.jar.Cookies(u) {
		if c.Name == "mizan_oidc_zitadel" {
			state = c
		}
	}
	if state == nil {
		t.Fatal("no state cookie before the callback")
	}
	refreshFrom(t, b.get(t, cb), "/")
	// An attacker who kept the state cookie and the callback URL replays
	// them: the OP refuses the spent code.
	req, _ := http.NewRequest(http.MethodGet, cb, nil)
	req.AddCookie(&http.Cookie{Name: state.Name, Value: state.Value})
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	wantError(t, resp, http.StatusUnauthorized, "unauthorized", "refused the code")
}

func TestWrongAudience(t *testing.T) {
	op := newIDP(t)
	// other is another client of the same OP: its ID tokens are genuine,
	// signed by the OP, for the audience other-app.
	other := newApp(t, op, appOptions{clientID: "other-app"})
	bo := newBrowser(t)
	refreshFrom(t, bo.get(t, login(t, bo, other, "ada", "ada-password", "/")), "/")
	foreign := other.proxy.lastIDToken()
	if foreign == "" {
		t.Fatal("no ID token recorded")
	}

	a := newApp(t, op, appOptions{})
	a.proxy.swap = func(string) string { return foreign }
	b := newBrowser(t)
	wantError(t, b.get(t, login(t, b, a, "ada", "ada-password", "/")), http.StatusUnauthorized, "unauthorized", "for another client (audience)")

}

func TestReplayedIDToken(t *testing.T) {
	op := newIDP(t)
	a := newApp(t, op, appOptions{})
	b := newBrowser(t)
	refreshFrom(t, b.get(t, login(t, b, a, "ada", "ada-password", "/")), "/")
	old := a.proxy.lastIDToken()
	// A genuine, unexpired ID token for this client, but of an earlier
	// sign-in: its nonce is not this one's.
	a.proxy.swap = func(string) string { return old }
	b2 := newBrowser(t)
	wantError(t, b2.get(t, login(t, b2, a, "ada", "ada-password", "/")), http.StatusUnauthorized, "unauthorized", "nonce does not match")
}

func TestExpiredIDToken(t *testing.T) {
	op := newIDP(t)
	// The OP's ID tokens live an hour: two hours later they are expired.
	a := newApp(t, op, appOptions{now: func() time.Time { return time.Now().Add(2 * time.Hour) }})
	b := newBrowser(t)
	wantError(t, b.get(t, login(t, b, a, "ada", "ada-password", "/")), http.StatusUnauthorized, "unauthorized", "ID token has expired")
}

func TestAlgNoneIDToken(t *testing.T) {
	op := newIDP(t)
	a := newApp(t, op, appOptions{})
	// The proxy swaps in the OP's own claims, unsigned: alg none.
	a.proxy.swap = func(tok string) string {
		parts := strings.Split(tok, ".")
		if len(parts) != 3 {
			t.Errorf("ID token %q is not a JWS", tok)
			return tok
		}
		header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
		return header + "." + parts[1] + "."
	}
	b := newBrowser(t)
	wantError(t, b.get(t, login(t, b, a, "ada", "ada-password", "/")), http.StatusUnauthorized, "unauthorized", "signature or algorithm does not verify")
	if a.proxy.lastIDToken() == "" {
		t.Fatal("the token endpoint was not reached")
	}
}

func TestUnverifiedEmailRefused(t *testing.T) {
	op := newIDP(t)
	a := newApp(t, op, appOptions{})
	b := newBrowser(t)
	wantError(t, b.get(t, login(t, b, a, "mallory", "mallory-password", "/")), http.StatusUnauthorized, "unauthorized", "not verified this email address")
}

func TestHookSeesIdentity(t *testing.T) {
	op := newIDP(t)
	var got oidc.Identity
	a := newApp(t, op, appOptions{hook: func(_ context.Context, id oidc.Identity) (*auth.User, error) {
		got = id
		return &auth.User{ID: "user-7", Staff: true}, nil
	}})
	b := newBrowser(t)
	refresh := refreshFrom(t, b.get(t, login(t, b, a, "mallory", "mallory-password", "/")), "/")
	if got.Provider != "zitadel" || got.Subject != "u-mallory" || got.Email != "mallory@example.com" || got.EmailVerified || got.Name != "Mallory M" || got.Username != "mallory" {
		t.Fatalf("identity %+v", got)
	}
	if got.Claims["iss"] != op.srv.URL || got.Claims["aud"] == nil {
		t.Fatalf("claims %v", got.Claims)
	}
	pair, err := a.app.Auth().Refresh(context.Background(), refresh)
	if err != nil {
		t.Fatal(err)
	}
	p, err := a.app.Auth().Verify(context.Background(), pair.Access)
	if err != nil || p.ID != "user-7" || !p.Staff {
		t.Fatalf("signed in as %+v, %v; want the hook's user-7, staff", p, err)
	}
	// A hook that returns no user refuses.
	a2 := newApp(t, op, appOptions{clientID: "app-2", hook: func(context.Context, oidc.Identity) (*auth.User, error) { return nil, nil }})
	b2 := newBrowser(t)
	wantError(t, b2.get(t, login(t, b2, a2, "ada", "ada-password", "/")), http.StatusUnauthorized, "unauthorized", "no account for this identity")
}

func TestProviderErrorAndBadRequests(t *testing.T) {
	op := newIDP(t)
	a := newApp(t, op, appOptions{})
	b := newBrowser(t)
	base := a.srv.URL + "/api/mizan/auth/oidc/"
	wantError(t, b.get(t, base+"zitadel/callback/?error=access_denied&state=x"), http.StatusUnauthorized, "unauthorized", "refused the sign-in (access_denied)")
	// An odd or long error parameter is not repeated.
	resp := b.get(t, base+"zitadel/callback/?error="+url.QueryEscape("<script>"+strings.Repeat("a", 5000)))
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusUnauthorized || bytes.Contains(body, []byte("script")) || len(body) > 300 {
		t.Fatalf("odd error parameter: %d %s", resp.StatusCode, body)
	}
	wantError(t, b.get(t, base+"nope/start/"), http.StatusNotFound, "not_found", "no identity provider")
	wantError(t, b.get(t, base+"zitadel/other/"), http.StatusNotFound, "not_found", "no such sign-in endpoint")
	for _, ret := range []string{"//evil.example/", "https://evil.example/", "/\\evil.example", "evil", "/a#b", "/x\x01"} {
		wantError(t, b.get(t, base+"zitadel/start/?return="+url.QueryEscape(ret)), http.StatusBadRequest, "bad_request", "return")
	}
	req, _ := http.NewRequest(http.MethodPost, base+"zitadel/start/", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	wantError(t, resp, http.StatusMethodNotAllowed, "method_not_allowed", "use GET")
}

func TestListProviders(t *testing.T) {
	op := newIDP(t)
	gh, err := oidc.NewGitHub(oidc.GitHubConfig{ClientID: "id", ClientSecret: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	a := newApp(t, op, appOptions{extra: []oidc.Provider{gh}})
	resp, err := http.Get(a.srv.URL + "/api/mizan/auth/oidc/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Providers []map[string]string `json:"providers"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	want := []map[string]string{
		{"name": "zitadel", "display_name": "Zitadel test OP", "start": "/api/mizan/auth/oidc/zitadel/start/"},
		{"name": "github", "display_name": "GitHub", "start": "/api/mizan/auth/oidc/github/start/"},
	}
	if len(got.Providers) != 2 || got.Providers[0]["start"] != want[0]["start"] || got.Providers[1]["display_name"] != want[1]["display_name"] ||
		got.Providers[0]["display_name"] != want[0]["display_name"] || got.Providers[1]["start"] != want[1]["start"] {
		t.Fatalf("providers %v, want %v", got.Providers, want)
	}
}

func TestCallbackRateLimited(t *testing.T) {
	op := newIDP(t)
	lim := ratelimit.Limit{Rate: 1, Period: time.Hour, Burst: 3}
	a := newApp(t, op, appOptions{limits: auth.Limits{PerUser: lim, PerAddress: lim}})
	b := newBrowser(t)
	// Callbacks this browser did not start (no state cookie, the
	// provider's error parameter: what any page can make a visitor's
	// browser request with an <img>) are refused and count nothing: they
	// cannot be guessing, and counting them would let any site lock its
	// visitors' address out of provider sign-in.
	for i := range 10 {
		if resp := b.get(t, a.srv.URL+"/api/mizan/auth/oidc/zitadel/callback/?code=x&state=y"); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("a callback without state cookie %d answered %d, want 400", i+1, resp.StatusCode)
		}
		if resp := b.get(t, a.srv.URL+"/api/mizan/auth/oidc/zitadel/callback/?error=access_denied"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("a callback with an error parameter answered %d, want 401", resp.StatusCode)
		}
	}
	// Codes that the provider refuses, with this browser's genuine state:
	// each one counts.
	for i := range 3 {
		cb, err := url.Parse(login(t, b, a, "ada", "ada-password", "/"))
		if err != nil {
			t.Fatal(err)
		}
		q := cb.Query()
		q.Set("code", "guessed-"+strconv.Itoa(i))
		cb.RawQuery = q.Encode()
		if resp := b.get(t, cb.String()); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guessed code %d answered %d, want 401", i+1, resp.StatusCode)
		}
	}
	// Then a genuine callback from the same address is refused too, until
	// the limit lets one more attempt through.
	resp := b.get(t, login(t, b, a, "ada", "ada-password", "/"))
	if ra := resp.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After %q", ra)
	}
	wantError(t, resp, http.StatusTooManyRequests, "rate_limited", "too many failed sign-in attempts")
}

// TestCallbackSuccessesCountNothing: genuine sign-ins give their reserved
// attempt back, so many in a row are never limited.
// TestHandoffEchoed: the page's handoff value of start/ comes back in the
// fragment beside the token (the page accepts only a token of a sign-in
// it started: login CSRF); a malformed one is refused at start/.
func TestHandoffEchoed(t *testing.T) {
	op := newIDP(t)
	a := newApp(t, op, appOptions{})
	b := newBrowser(t)
	handoff := "Zm9vYmFyYmF6cXV4LTEyMzQ1Ng"
	resp := b.get(t, loginQuery(t, b, a, "ada", "ada-password", "return=%2Fboard&handoff="+handoff))
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, "/board#mizan_refresh=") || !strings.HasSuffix(loc, "&mizan_handoff="+handoff) {
		t.Fatalf("callback redirected to %q, want /board#mizan_refresh=<token>&mizan_handoff=%s", loc, handoff)
	}
	if tok := refreshFrom(t, resp, "/board"); strings.Contains(tok, "handoff") {
		t.Fatalf("token %q", tok)
	}
	for _, bad := range []string{"short", strings.Repeat("a", 129), "has+plus/and=equals-0123456789"} {
		r := b.get(t, a.srv.URL+"/api/mizan/auth/oidc/zitadel/start/?return=%2F&handoff="+url.QueryEscape(bad))
		wantError(t, r, http.StatusBadRequest, "bad_request", "handoff")
	}
}

func TestCallbackSuccessesCountNothing(t *testing.T) {
	op := newIDP(t)
	lim := ratelimit.Limit{Rate: 1, Period: time.Hour, Burst: 2}
	a := newApp(t, op, appOptions{limits: auth.Limits{PerUser: lim, PerAddress: lim}})
	b := newBrowser(t)
	for i := range 5 {
		resp := b.get(t, login(t, b, a, "ada", "ada-password", "/"))
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign-in %d answered %d, want 303", i+1, resp.StatusCode)
		}
	}
}

func TestMountRefuses(t *testing.T) {
	app := mizan.New(mizan.Config{Auth: &auth.Config{PrivateKey: testKey}})
	p, err := oidc.NewOIDC(oidc.OIDCConfig{Name: "a", Issuer: "http://127.0.0.1:1", ClientID: "c"})
	if err != nil {
		t.Fatal(err)
	}
	for name, opts := range map[string]oidc.Options{
		"duplicate":    {Providers: []oidc.Provider{p, p}},
		"bad base":     {Providers: []oidc.Provider{p}, BaseURL: "https://x.example/path"},
		"nil provider": {Providers: []oidc.Provider{nil}},
	} {
		if err := oidc.Mount(app, opts); err == nil {
			t.Errorf("%s: Mount accepted it", name)
		}
	}
	for _, alg := range []string{"none", "HS256", "hs512"} {
		if _, err := oidc.NewOIDC(oidc.OIDCConfig{Name: "a", Issuer: "http://x", ClientID: "c", SigningAlgs: []string{"RS256", alg}}); err == nil {
			t.Errorf("NewOIDC accepted signing algorithm %s", alg)
		}
	}
	for _, name := range []string{"", "a/b", "a.b", strings.Repeat("a", 65)} {
		if _, err := oidc.NewOIDC(oidc.OIDCConfig{Name: name, Issuer: "http://x", ClientID: "c"}); err == nil {
			t.Errorf("NewOIDC accepted name %q", name)
		}
	}
}

func TestNoProviders(t *testing.T) {
	app := mizan.New(mizan.Config{Auth: &auth.Config{PrivateKey: testKey}})
	if err := oidc.Mount(app, oidc.Options{}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/api/mizan/auth/oidc/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != `{"providers":[]}` {
		t.Fatalf("auth/oidc/ with no providers: %d %s", resp.StatusCode, body)
	}
	resp, err = http.Get(srv.URL + "/api/mizan/auth/oidc/google/start/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	wantError(t, resp, http.StatusNotFound, "not_found", "no identity provider")
}

func TestIssuerUnreachable(t *testing.T) {
	// Discovery is lazy: the app mounts and builds with its provider down,
	// and a sign-in answers 503 until the provider is up.
	dead := httptest.NewServer(http.NotFoundHandler())
	issuer := dead.URL
	dead.Close()
	p, err := oidc.NewOIDC(oidc.OIDCConfig{Name: "down", Issuer: issuer, ClientID: "c"})
	if err != nil {
		t.Fatal(err)
	}
	app := mizan.New(mizan.Config{Auth: &auth.Config{PrivateKey: testKey}})
	if err := oidc.Mount(app, oidc.Options{Providers: []oidc.Provider{p}}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/api/mizan/auth/oidc/down/start/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	wantError(t, resp, http.StatusServiceUnavailable, "unavailable", "cannot be reached")
}
