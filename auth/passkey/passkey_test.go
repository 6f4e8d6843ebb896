package passkey

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/auth"
	"github.com/mizan-afi/mizan/auth/session"
	"github.com/mizan-afi/mizan/ratelimit"
)

var (
	jwtKey = []byte("passkey-test-jwt-key-0123456789abcdef")
	t0     = time.Unix(1_800_000_000, 0)
	bg     = context.Background()
)

const (
	rpID   = "example.com"
	origin = "https://app.example.com"
	base   = "/api/mizan/auth/passkey/"
)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is an app with the passkey endpoints, its store and its users.
type env struct {
	t     *testing.T
	app   *mizan.App
	store *MemoryStore
	clk   *clock
	// users are the accounts Lookup knows; a missing one cannot sign in.
	users map[string]*auth.User
	mu    sync.Mutex
}

// setup configures one env: the passkey options and the auth config.
type setup struct {
	opts     func(*Options)
	auth     func(*auth.Config)
	store    *MemoryStore
	clk      *clock
	sessions session.Store
	key      []byte
}

func newEnv(t *testing.T, s setup) *env {
	t.Helper()
	e := &env{t: t, store: s.store, clk: s.clk, users: map[string]*auth.User{
		"7": {ID: "7", Staff: true},
		"8": {ID: "8"},
	}}
	if e.clk == nil {
		e.clk = &clock{t: t0}
	}
	if e.store == nil {
		e.store = NewMemoryStore()
		e.store.now = e.clk.now
	}
	key := s.key
	if key == nil {
		key = jwtKey
	}
	ac := auth.Config{PrivateKey: key, Now: e.clk.now, Sessions: s.sessions}
	if s.auth != nil {
		s.auth(&ac)
	}
	e.app = mizan.New(mizan.Config{Auth: &ac})
	o := Options{
		RPID: rpID, RPDisplayName: "Example", RPOrigins: []string{origin}, Store: e.store, Now: e.clk.now,
		Logger: slog.New(slog.DiscardHandler),
		Lookup: func(_ context.Context, id string) (*auth.User, error) {
			e.mu.Lock()
			defer e.mu.Unlock()
			if u, ok := e.users[id]; ok {
				c := *u
				return &c, nil
			}
			return nil, nil
		},
		Names: func(_ context.Context, id string) (string, string, error) { return "user" + id, "User " + id, nil },
	}
	if s.opts != nil {
		s.opts(&o)
	}
	if err := Mount(e.app, o); err != nil {
		t.Fatal(err)
	}
	if err := e.app.Build(); err != nil {
		t.Fatal(err)
	}
	return e
}

// answer is a response of an endpoint.
type answer struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]json.RawMessage
}

// code returns the error code of a, or "".
func (a answer) code() string {
	var env struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(a.raw, &env)
	return env.Error.Code
}

// str returns the string member name of a's body.
func (a answer) str(t testing.TB, name string) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(a.body[name], &s); err != nil {
		t.Fatalf("member %q of %s: %v", name, a.raw, err)
	}
	return s
}

// do sends a request to the passkey endpoint path with body (bytes as
// they are, anything else as JSON) and header pairs.
func (e *env) do(method, path string, body any, hdr ...string) answer {
	e.t.Helper()
	var b []byte
	switch v := body.(type) {
	case nil:
	case []byte:
		b = v
	case string:
		b = []byte(v)
	default:
		b = mustJSON(e.t, v)
	}
	r := httptest.NewRequest(method, base+path, bytes.NewReader(b))
	r.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		switch hdr[i] {
		case "Host":
			r.Host = hdr[i+1]
		case "Remote-Addr": // not a header: the client's address
			r.RemoteAddr = hdr[i+1]
		default:
			r.Header.Set(hdr[i], hdr[i+1])
		}
	}
	w := httptest.NewRecorder()
	e.app.ServeHTTP(w, r)
	a := answer{status: w.Code, header: w.Header(), raw: w.Body.Bytes()}
	_ = json.Unmarshal(a.raw, &a.body)
	return a
}

func (e *env) post(path string, body any, hdr ...string) answer {
	e.t.Helper()
	return e.do(http.MethodPost, path, body, hdr...)
}

// bearer returns an Authorization header value for a new session of id.
func (e *env) bearer(id string) string {
	e.t.Helper()
	pair, err := e.app.Auth().Issue(bg, auth.User{ID: id})
	if err != nil {
		e.t.Fatal(err)
	}
	return "Bearer " + pair.Access
}

// begin begins a ceremony and returns its token and options.
func (e *env) begin(path string, hdr ...string) (string, json.RawMessage) {
	e.t.Helper()
	a := e.post(path, map[string]any{}, hdr...)
	if a.status != http.StatusOK {
		e.t.Fatalf("%s: %d %s", path, a.status, a.raw)
	}
	return a.str(e.t, "ceremony"), a.body["publicKey"]
}

// register adds k as a passkey of user id, answering at at.
func (e *env) register(k *softKey, id, at string) answer {
	e.t.Helper()
	authz := e.bearer(id)
	tok, pk := e.begin("register/begin/", "Authorization", authz)
	return e.post("register/finish/", map[string]any{"ceremony": tok, "credential": k.create(pk, at)}, "Authorization", authz)
}

// loginBody begins a sign-in and returns the body of its finish with k's
// assertion made at at.
func (e *env) loginBody(k *softKey, at string) map[string]any {
	e.t.Helper()
	tok, pk := e.begin("login/begin/")
	return map[string]any{"ceremony": tok, "credential": k.get(pk, at)}
}

// login signs in with k at the right origin.
func (e *env) login(k *softKey) answer {
	e.t.Helper()
	return e.post("login/finish/", e.loginBody(k, origin))
}

// mustStatus fails unless a has status and, when code is not "", that
// error code.
func mustStatus(t testing.TB, a answer, status int, code string) {
	t.Helper()
	if a.status != status || (code != "" && a.code() != code) {
		t.Fatalf("got %d %s, want %d %s", a.status, a.raw, status, code)
	}
}

// principal verifies the pair of a and returns whom it names.
func (e *env) principal(a answer) *auth.Principal {
	e.t.Helper()
	p, err := e.app.Auth().Verify(bg, a.str(e.t, "access"))
	if err != nil {
		e.t.Fatalf("the access token does not verify: %v", err)
	}
	if _, err := e.app.Auth().Refresh(bg, a.str(e.t, "refresh")); err != nil {
		e.t.Fatalf("the refresh token does not refresh: %v", err)
	}
	return p
}

func TestRegisterThenSignIn(t *testing.T) {
	e := newEnv(t, setup{})
	k := newSoftKey(t)
	reg := e.register(k, "7", origin)
	mustStatus(t, reg, http.StatusOK, "")
	if got := reg.str(t, "id"); got != b64.EncodeToString(k.id) {
		t.Fatalf("registered id %q, want %q", got, b64.EncodeToString(k.id))
	}
	stored, err := e.store.ByUser(bg, "7")
	if err != nil || len(stored) != 1 {
		t.Fatalf("stored passkeys of 7: %v %v", stored, err)
	}
	if h := stored[0].UserHandle; len(h) != 32 || bytes.Contains(h, []byte("user7")) {
		t.Fatalf("user handle %x: want 32 opaque bytes", h)
	}
	if !bytes.Equal(stored[0].UserHandle, k.handle) {
		t.Fatalf("stored handle %x, the authenticator got %x", stored[0].UserHandle, k.handle)
	}

	for i := 1; i <= 2; i++ {
		a := e.login(k)
		mustStatus(t, a, http.StatusOK, "")
		p := e.principal(a)
		if p.ID != "7" || !p.Staff {
			t.Fatalf("sign-in %d names %+v, want user 7, staff (from Lookup)", i, p.User)
		}
		c, err := e.store.ByID(bg, k.id)
		if err != nil {
			t.Fatal(err)
		}
		if c.Record.Authenticator.SignCount != uint32(i) || !c.LastUsed.Equal(t0) {
			t.Fatalf("after sign-in %d: sign count %d, last used %v", i, c.Record.Authenticator.SignCount, c.LastUsed)
		}
	}

	// A second passkey of the same user keeps the user handle, and the
	// options exclude the authenticator of the first.
	authz := e.bearer("7")
	tok, pk := e.begin("register/begin/", "Authorization", authz)
	var opts creationOptions
	if err := json.Unmarshal(pk, &opts); err != nil {
		t.Fatal(err)
	}
	if len(opts.ExcludeCredentials) != 1 || opts.ExcludeCredentials[0].ID != b64.EncodeToString(k.id) {
		t.Fatalf("excludeCredentials %+v, want the first passkey", opts.ExcludeCredentials)
	}
	if opts.RP.ID != rpID || !bytes.Equal(unb64(t, opts.User.ID), k.handle) {
		t.Fatalf("creation options rp %q user %q", opts.RP.ID, opts.User.ID)
	}
	k2 := newSoftKey(t)
	mustStatus(t, e.post("register/finish/", map[string]any{"ceremony": tok, "credential": k2.create(pk, origin)}, "Authorization", authz), http.StatusOK, "")
	mustStatus(t, e.login(k2), http.StatusOK, "")

	// Another user gets another handle.
	k3 := newSoftKey(t)
	mustStatus(t, e.register(k3, "8", origin), http.StatusOK, "")
	if bytes.Equal(k3.handle, k.handle) {
		t.Fatal("two users share a user handle")
	}
	if p := e.principal(e.login(k3)); p.ID != "8" || p.Staff {
		t.Fatalf("user 8 signed in as %+v", p.User)
	}
}

func TestRegisteringTheSameCredentialTwiceConflicts(t *testing.T) {
	e := newEnv(t, setup{})
	k := newSoftKey(t)
	mustStatus(t, e.register(k, "7", origin), http.StatusOK, "")
	mustStatus(t, e.register(k, "8", origin), http.StatusConflict, "conflict")
	if c, err := e.store.ByID(bg, k.id); err != nil || c.UserID != "7" {
		t.Fatalf("the passkey now belongs to %v (%v)", c, err)
	}
}

func TestWrongOriginRefused(t *testing.T) {
	e := newEnv(t, setup{})
	k := newSoftKey(t)
	a := e.register(k, "7", "https://evil.example.net")
	mustStatus(t, a, http.StatusBadRequest, "bad_request")
	if strings.Contains(string(a.raw), "evil") {
		t.Fatalf("the answer echoes the origin: %s", a.raw)
	}
	if got, _ := e.store.ByUser(bg, "7"); len(got) != 0 {
		t.Fatalf("a passkey made at another origin was stored: %v", got)
	}
	mustStatus(t, e.register(k, "7", origin), http.StatusOK, "")
	for _, at := range []string{"https://evil.example.net", "http://app.example.com", "https://example.com"} {
		a := e.post("login/finish/", e.loginBody(k, at))
		mustStatus(t, a, http.StatusUnauthorized, "unauthorized")
	}
	mustStatus(t, e.login(k), http.StatusOK, "")
}

func TestWrongRPIDRefused(t *testing.T) {
	e := newEnv(t, setup{})
	k := newSoftKey(t)
	authz := e.bearer("7")
	tok, pk := e.begin("register/begin/", "Authorization", authz)
	// An authenticator that signs for another RP ID (rpIdHash).
	forged := bytes.Replace(pk, []byte(`"id":"`+rpID+`"`), []byte(`"id":"evil.com"`), 1)
	if bytes.Equal(forged, pk) {
		t.Fatalf("no rp.id in %s", pk)
	}
	mustStatus(t, e.post("register/finish/", map[string]any{"ceremony": tok, "credential": k.create(forged, origin)}, "Authorization", authz), http.StatusBadRequest, "")
	mustStatus(t, e.register(k, "7", origin), http.StatusOK, "")
	tok, pk = e.begin("login/begin/")
	forged = bytes.Replace(pk, []byte(`"rpId":"`+rpID+`"`), []byte(`"rpId":"evil.com"`), 1)
	mustStatus(t, e.post("login/finish/", map[string]any{"ceremony": tok, "credential": k.get(forged, origin)}), http.StatusUnauthorized, "")
}

func TestReplayRefused(t *testing.T) {
	e := newEnv(t, setup{})
	k := newSoftKey(t)
	mustStatus(t, e.register(k, "7", origin), http.StatusOK, "")

	body := e.loginBody(k, origin)
	mustStatus(t, e.post("login/finish/", body), http.StatusOK, "")
	// The same ceremony and assertion again: the ceremony is spent.
	a := e.post("login/finish/", body)
	mustStatus(t, a, http.StatusBadRequest, "bad_request")
	if !strings.Contains(string(a.raw), "already used") {
		t.Fatalf("replayed ceremony: %s", a.raw)
	}
	// The old assertion with a new ceremony: its challenge is not the new
	// one.
	tok, _ := e.begin("login/begin/")
	mustStatus(t, e.post("login/finish/", map[string]any{"ceremony": tok, "credential": body["credential"]}), http.StatusUnauthorized, "unauthorized")
	// A registration ceremony is single-use too.
	authz := e.bearer("8")
	tok, pk := e.begin("register/begin/", "Authorization", authz)
	k2 := newSoftKey(t)
	reg := map[string]any{"ceremony": tok, "credential": k2.create(pk, origin)}
	mustStatus(t, e.post("register/finish/", reg, "Authorization", authz), http.StatusOK, "")
	mustStatus(t, e.post("register/finish/", reg, "Authorization", authz), http.StatusBadRequest, "bad_request")
	// A login token is no registration token, and the other way round.
	ltok, _ := e.begin("login/begin/")
	mustStatus(t, e.post("register/finish/", map[string]any{"ceremony": ltok, "credential": k2.create(pk, origin)}, "Authorization", authz), http.StatusBadRequest, "bad_request")
	rtok, _ := e.begin("register/begin/", "Authorization", authz)
	mustStatus(t, e.post("login/finish/", map[string]any{"ceremony": rtok, "credential": k.get(pk, origin)}), http.StatusBadRequest, "bad_request")
}

func TestCounterGoingBackwardsBlocksThePasskey(t *testing.T) {
	e := newEnv(t, setup{})
	k := newSoftKey(t)
	mustStatus(t, e.register(k, "7", origin), http.StatusOK, "")
	mustStatus(t, e.login(k), http.StatusOK, "") // counter 1
	k.counter = 9
	mustStatus(t, e.login(k), http.StatusOK, "") // counter 10
	k.counter = 4
	a := e.login(k) // counter 5 < 10: a clone
	mustStatus(t, a, http.StatusUnauthorized, "unauthorized")
	if !strings.Contains(string(a.raw), "counter") {
		t.Fatalf("answer %s does not say why", a.raw)
	}
	c, err := e.store.ByID(bg, k.id)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Record.Authenticator.CloneWarning || c.Record.Authenticator.SignCount != 10 {
		t.Fatalf("stored: clone warning %v, count %d; want true, 10", c.Record.Authenticator.CloneWarning, c.Record.Authenticator.SignCount)
	}
	// Blocked from then on, even with a counter above the stored one.
	k.counter = 100
	mustStatus(t, e.login(k), http.StatusUnauthorized, "unauthorized")
	// The same counter twice is flagged too.
	k2 := newSoftKey(t)
	mustStatus(t, e.register(k2, "8", origin), http.StatusOK, "")
	k2.counter = 5
	mustStatus(t, e.login(k2), http.StatusOK, "")
	k2.counter = 5
	mustStatus(t, e.login(k2), http.StatusUnauthorized, "unauthorized")
}

func TestZeroCounterIsNeverFlagged(t *testing.T) {
	e := newEnv(t, setup{})
	k := newSoftKey(t)
	mustStatus(t, e.register(k, "7", origin), http.StatusOK, "")
	for range 3 {
		k.counter = ^uint32(0) // get adds one: 0
		mustStatus(t, e.login(k), http.StatusOK, "")
	}
	c, _ := e.store.ByID(bg, k.id)
	if c.Record.Authenticator.CloneWarning {
		t.Fatal("a passkey without a counter was flagged")
	}
}

func TestUnknownCredentialRefused(t *testing.T) {
	e := newEnv(t, setup{})
	known := newSoftKey(t)
	mustStatus(t, e.register(known, "7", origin), http.StatusOK, "")
	stranger := newSoftKey(t)
	stranger.handle = known.handle // even with a real user handle
	mustStatus(t, e.login(stranger), http.StatusUnauthorized, "unauthorized")
	// A known credential with another user handle.
	known.handle = []byte("someone-else")
	mustStatus(t, e.login(known), http.StatusUnauthorized, "unauthorized")
	// A known credential id with another key.
	impostor := newSoftKey(t)
	c, err := e.store.ByID(bg, known.id)
	if err != nil {
		t.Fatal(err)
	}
	impostor.id, impostor.handle = known.id, c.UserHandle
	mustStatus(t, e.login(impostor), http.StatusUnauthorized, "unauthorized")
}

func TestAccountThatCannotSignIn(t *testing.T) {
	e := newEnv(t, setup{})
	k := newSoftKey(t)
	mustStatus(t, e.register(k, "8", origin), http.StatusOK, "")
	e.mu.Lock()
	delete(e.users, "8")
	e.mu.Unlock()
	mustStatus(t, e.login(k), http.StatusUnauthorized, "unauthorized")
}

func TestAnonymousRegistrationRefused(t *testing.T) {
	e := newEnv(t, setup{})
	mustStatus(t, e.post("register/begin/", map[string]any{}), http.StatusUnauthorized, "unauthorized")
	mustStatus(t, e.post("register/begin/", map[string]any{}, "Authorization", "Bearer not-a-token"), http.StatusUnauthorized, "unauthorized")
	// A ceremony begun by 7 finished anonymously, or by 8.
	authz := e.bearer("7")
	tok, pk := e.begin("register/begin/", "Authorization", authz)
	k := newSoftKey(t)
	body := map[string]any{"ceremony": tok, "credential": k.create(pk, origin)}
	mustStatus(t, e.post("register/finish/", body), http.StatusUnauthorized, "unauthorized")
	mustStatus(t, e.post("register/finish/", body, "Authorization", e.bearer("8")), http.StatusForbidden, "forbidden")
	if got, _ := e.store.ByUser(bg, "8"); len(got) != 0 {
		t.Fatal("8 registered a passkey with 7's ceremony")
	}
}

func TestRateLimitedAfterFailedSignIns(t *testing.T) {
	limit := ratelimit.Limit{Rate: 1, Period: time.Hour, Burst: 3}
	e := newEnv(t, setup{auth: func(c *auth.Config) { c.Limits = auth.Limits{PerUser: limit, PerAddress: limit} }})
	k := newSoftKey(t)
	mustStatus(t, e.register(k, "7", origin), http.StatusOK, "")
	stranger := newSoftKey(t)
	stranger.handle = k.handle
	mustStatus(t, e.login(stranger), http.StatusUnauthorized, "")
	mustStatus(t, e.post("login/finish/", "{"), http.StatusBadRequest, "")
	mustStatus(t, e.post("login/finish/", e.loginBody(k, "https://evil.example.net")), http.StatusUnauthorized, "")
	// Three failures from this address: the next attempt is refused, even a
	// good one.
	a := e.login(k)
	mustStatus(t, a, http.StatusTooManyRequests, "rate_limited")
	if a.header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	// Another address is not limited.
	r := httptest.NewRequest(http.MethodPost, base+"login/finish/", bytes.NewReader(mustJSON(t, e.loginBody(k, origin))))
	r.Header.Set("Content-Type", "application/json")
	r.RemoteAddr = "198.51.100.9:4000"
	w := httptest.NewRecorder()
	e.app.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("another address: %d %s", w.Code, w.Body)
	}
	// Registration failures count per user, from every address.
	authz := e.bearer("8")
	for i := range 3 {
		mustStatus(t, e.post("register/finish/", `{"ceremony": "x", "credential": {}}`, "Authorization", authz, "Remote-Addr", fmt.Sprintf("203.0.113.%d:1", i)), http.StatusBadRequest, "")
	}
	mustStatus(t, e.post("register/finish/", `{"ceremony": "x", "credential": {}}`, "Authorization", authz, "Remote-Addr", "203.0.113.200:1"), http.StatusTooManyRequests, "rate_limited")
	// ... and not against another user from a fresh address.
	k2 := newSoftKey(t)
	tok, pk := e.begin("register/begin/", "Authorization", e.bearer("7"))
	mustStatus(t, e.post("register/finish/", map[string]any{"ceremony": tok, "credential": k2.create(pk, origin)}, "Authorization", e.bearer("7"), "Remote-Addr", "203.0.113.201:1"), http.StatusOK, "")
}

func TestMalformedRequests(t *testing.T) {
	e := newEnv(t, setup{})
	authz := e.bearer("7")
	marker := strings.Repeat("MARKER", 10)
	for _, tc := range []struct {
		name, path string
		body       string
		status     int
		code       string
	}{
		{"truncated login", "login/finish/", `{"ceremony": "` + marker, 400, "bad_request"},
		{"not an object", "login/finish/", `["` + marker + `"]`, 400, "bad_request"},
		{"unknown member", "login/finish/", `{"ceremony": "a", "credential": {}, "` + marker + `": 1}`, 400, "bad_request"},
		{"trailing data", "login/finish/", `{"ceremony": "a", "credential": {}} {}`, 400, "bad_request"},
		{"missing members", "login/finish/", `{}`, 400, "invalid_args"},
		{"null credential", "login/finish/", `{"ceremony": "a", "credential": null}`, 400, "invalid_args"},
		{"duplicate member", "login/finish/", `{"ceremony": "a", "ceremony": "b", "credential": {}}`, 400, "bad_request"},
		{"member name case", "login/finish/", `{"Ceremony": "a", "credential": {}}`, 400, "bad_request"},
		{"bad ceremony", "login/finish/", `{"ceremony": "` + marker + `", "credential": {}}`, 400, "bad_request"},
		{"truncated registration", "register/finish/", `{"ceremony": `, 400, "bad_request"},
		{"begin with members", "login/begin/", `{"` + marker + `": true}`, 400, "bad_request"},
		{"begin not JSON", "register/begin/", `nope`, 400, "bad_request"},
	} {
		a := e.post(tc.path, tc.body, "Authorization", authz)
		if a.status != tc.status || a.code() != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.name, a.status, a.raw, tc.status, tc.code)
		}
		if strings.Contains(string(a.raw), "MARKER") {
			t.Errorf("%s: the answer echoes the input: %s", tc.name, a.raw)
		}
	}
	// A well-formed body whose credential is not one.
	tok, _ := e.begin("login/begin/")
	mustStatus(t, e.post("login/finish/", map[string]any{"ceremony": tok, "credential": map[string]any{"id": marker}}), http.StatusBadRequest, "bad_request")

	r := httptest.NewRequest(http.MethodPost, base+"login/begin/", strings.NewReader("{}"))
	r.Header.Set("Content-Type", "text/plain")
	w := httptest.NewRecorder()
	e.app.ServeHTTP(w, r)
	if w.Code != http.StatusBadRequest {
		t.Errorf("text/plain: %d", w.Code)
	}
	a := e.do(http.MethodGet, "login/begin/", nil)
	mustStatus(t, a, http.StatusMethodNotAllowed, "method_not_allowed")
	if a.header.Get("Allow") != http.MethodPost {
		t.Errorf("Allow: %q", a.header.Get("Allow"))
	}
	mustStatus(t, e.post("login/", "{}"), http.StatusNotFound, "not_found")
	mustStatus(t, e.post("login/finish/", bytes.Repeat([]byte(" "), MaxBodyBytes+1)), http.StatusRequestEntityTooLarge, "")
	// A cross-site browser request.
	mustStatus(t, e.post("login/begin/", "{}", "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example.net"), http.StatusForbidden, "forbidden")
	if a := e.post("login/begin/", ""); a.status != http.StatusOK {
		t.Errorf("an empty begin body: %d %s", a.status, a.raw)
	}
	if a := e.post("login/begin/", "{}", "Cache-Control", ""); a.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", a.header.Get("Cache-Control"))
	}
}

func TestExpiredCeremonyRefused(t *testing.T) {
	e := newEnv(t, setup{})
	k := newSoftKey(t)
	mustStatus(t, e.register(k, "7", origin), http.StatusOK, "")
	body := e.loginBody(k, origin)
	e.clk.advance(DefaultCeremonyTTL + time.Second)
	a := e.post("login/finish/", body)
	mustStatus(t, a, http.StatusBadRequest, "bad_request")
	if !strings.Contains(string(a.raw), "expired") {
		t.Fatalf("expired ceremony: %s", a.raw)
	}
	body = e.loginBody(k, origin)
	e.clk.advance(DefaultCeremonyTTL - time.Second)
	mustStatus(t, e.post("login/finish/", body), http.StatusOK, "")
}

func TestAnotherInstanceFinishes(t *testing.T) {
	clk := &clock{t: t0}
	store := NewMemoryStore()
	sessions := session.NewMemory(clk.now)
	a := newEnv(t, setup{store: store, clk: clk, sessions: sessions})
	b := newEnv(t, setup{store: store, clk: clk, sessions: sessions})
	k := newSoftKey(t)
	authz := a.bearer("7")
	tok, pk := a.begin("register/begin/", "Authorization", authz)
	mustStatus(t, b.post("register/finish/", map[string]any{"ceremony": tok, "credential": k.create(pk, origin)}, "Authorization", authz), http.StatusOK, "")
	body := a.loginBody(k, origin)
	got := b.post("login/finish/", body)
	mustStatus(t, got, http.StatusOK, "")
	if p := a.principal(got); p.ID != "7" {
		t.Fatalf("signed in as %q", p.ID)
	}
	// Spent on b, refused on a.
	mustStatus(t, a.post("login/finish/", body), http.StatusBadRequest, "bad_request")
	// An app with another JWT key cannot open the tokens.
	other := newEnv(t, setup{store: store, clk: clk, key: []byte("another-jwt-key-0123456789abcdef-xyz")})
	mustStatus(t, other.post("login/finish/", a.loginBody(k, origin)), http.StatusBadRequest, "bad_request")
}

func TestCookieSession(t *testing.T) {
	e := newEnv(t, setup{opts: func(o *Options) { o.CookieSession = true }})
	svc := e.app.Auth()
	k := newSoftKey(t)
	mustStatus(t, e.register(k, "7", origin), http.StatusOK, "")
	a := e.login(k)
	mustStatus(t, a, http.StatusOK, "")
	if string(a.body["ok"]) != "true" || a.body["access"] != nil {
		t.Fatalf("cookie sign-in answered %s", a.raw)
	}
	cookies := (&http.Response{Header: a.header}).Cookies()
	if len(cookies) != 1 || cookies[0].Name != svc.CookieName() || !cookies[0].HttpOnly {
		t.Fatalf("cookies %v", cookies)
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.AddCookie(cookies[0])
	p, err := svc.Authenticate(r)
	if err != nil || p == nil || p.ID != "7" || !p.Staff || p.Bearer {
		t.Fatalf("the cookie authenticates %+v (%v)", p, err)
	}
	// A cookie caller registers with the CSRF header only (the app's
	// check: a well-formed token, repeated).
	sess := cookies[0].Name + "=" + cookies[0].Value
	csrf := strings.Repeat("ab", 32)
	mustStatus(t, e.post("register/begin/", "{}", "Cookie", sess), http.StatusForbidden, "forbidden")
	mustStatus(t, e.post("register/begin/", "{}", "Cookie", sess+"; csrftoken="+csrf, "X-CSRFToken", strings.Repeat("ba", 32)), http.StatusForbidden, "forbidden")
	mustStatus(t, e.post("register/begin/", "{}", "Cookie", sess+"; csrftoken=abc", "X-CSRFToken", "abc"), http.StatusForbidden, "forbidden")
	tok, pk := e.begin("register/begin/", "Cookie", sess+"; csrftoken="+csrf, "X-CSRFToken", csrf)
	k2 := newSoftKey(t)
	mustStatus(t, e.post("register/finish/", map[string]any{"ceremony": tok, "credential": k2.create(pk, origin)}, "Cookie", sess+"; csrftoken="+csrf, "X-CSRFToken", csrf), http.StatusOK, "")
	if got, _ := e.store.ByUser(bg, "7"); len(got) != 2 {
		t.Fatalf("user 7 has %d passkeys, want 2", len(got))
	}
}

func TestOriginFromRequest(t *testing.T) {
	e := newEnv(t, setup{opts: func(o *Options) {
		o.RPID, o.RPOrigins = "localhost", nil
		o.Origin = func(r *http.Request) (string, error) { return "http://" + r.Host, nil }
	}})
	at := "http://localhost:8080"
	host := func(h string) []string { return []string{"Host", h} }
	k := newSoftKey(t)
	authz := e.bearer("7")
	tok, pk := e.begin("register/begin/", append(host("localhost:8080"), "Authorization", authz)...)
	mustStatus(t, e.post("register/finish/", map[string]any{"ceremony": tok, "credential": k.create(pk, at)}, append(host("localhost:8080"), "Authorization", authz)...), http.StatusOK, "")
	tok, pk = e.begin("login/begin/", host("localhost:8080")...)
	mustStatus(t, e.post("login/finish/", map[string]any{"ceremony": tok, "credential": k.get(pk, at)}, host("localhost:8080")...), http.StatusOK, "")
	// Bound to the origin it began at: another port is refused.
	tok, pk = e.begin("login/begin/", host("localhost:8080")...)
	mustStatus(t, e.post("login/finish/", map[string]any{"ceremony": tok, "credential": k.get(pk, "http://localhost:9999")}), http.StatusUnauthorized, "")
	// A host that is not the RP ID gets no ceremony.
	mustStatus(t, e.post("login/begin/", "{}", host("evil.example.net")...), http.StatusBadRequest, "bad_request")
}

func TestMountChecksOptions(t *testing.T) {
	app := mizan.New(mizan.Config{Auth: &auth.Config{PrivateKey: jwtKey}})
	ok := Options{RPID: rpID, RPOrigins: []string{origin}, Store: NewMemoryStore(), Lookup: func(context.Context, string) (*auth.User, error) { return nil, nil }}
	for name, mutate := range map[string]func(*Options){
		"no RP ID":         func(o *Options) { o.RPID = "" },
		"no store":         func(o *Options) { o.Store = nil },
		"no lookup":        func(o *Options) { o.Lookup = nil },
		"no origins":       func(o *Options) { o.RPOrigins = nil },
		"foreign origin":   func(o *Options) { o.RPOrigins = []string{"https://example.net"} },
		"not an origin":    func(o *Options) { o.RPOrigins = []string{"app.example.com"} },
		"negative TTL":     func(o *Options) { o.CeremonyTTL = -1 },
		"IP address RP ID": func(o *Options) { o.RPID, o.RPOrigins = "127.0.0.1", []string{"http://127.0.0.1:8080"} },
	} {
		o := ok
		mutate(&o)
		if err := Mount(app, o); err == nil {
			t.Errorf("%s: Mount accepted %+v", name, o)
		}
	}
	if err := Mount(app, ok); err != nil {
		t.Fatal(err)
	}
	if err := Mount(app, ok); err != nil {
		t.Fatal(err) // reported by Build
	}
	if err := app.Build(); err == nil {
		t.Fatal("Build accepted two passkey mounts")
	}
	// Without sign-in, Build refuses.
	noAuth := mizan.New(mizan.Config{})
	if err := Mount(noAuth, ok); err != nil {
		t.Fatal(err)
	}
	if err := noAuth.Build(); err == nil {
		t.Fatal("Build accepted passkeys without Config.Auth")
	}
	if err := Mount(nil, ok); err == nil {
		t.Fatal("Mount accepted a nil app")
	}
}

func TestMemoryStore(t *testing.T) {
	m := NewMemoryStore()
	c := Credential{UserID: "1", UserHandle: []byte{1}, Created: t0}
	c.Record.ID = []byte{9, 9}
	if err := m.Add(bg, c); err != nil {
		t.Fatal(err)
	}
	if err := m.Add(bg, c); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("second Add: %v", err)
	}
	if err := m.Add(bg, Credential{UserID: "1"}); err == nil {
		t.Fatal("Add without a credential id")
	}
	got, err := m.ByID(bg, []byte{9, 9})
	if err != nil {
		t.Fatal(err)
	}
	got.UserHandle[0] = 7 // the caller's copy
	again, _ := m.ByID(bg, []byte{9, 9})
	if again.UserHandle[0] != 1 {
		t.Fatal("ByID shares the store's slices")
	}
	if _, err := m.ByID(bg, []byte{1}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ByID of an unknown id: %v", err)
	}
	other := c
	other.Record.ID = []byte{1}
	if err := m.Update(bg, other); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Update of an unknown passkey: %v", err)
	}
	c.Record.Authenticator.SignCount = 5
	if err := m.Update(bg, c); err != nil {
		t.Fatal(err)
	}
	if list, _ := m.ByUser(bg, "1"); len(list) != 1 || list[0].Record.Authenticator.SignCount != 5 {
		t.Fatalf("ByUser %+v", list)
	}
	if list, _ := m.ByUser(bg, "2"); len(list) != 0 {
		t.Fatalf("ByUser of another user %+v", list)
	}
	m.Delete(bg, []byte{9, 9})
	if _, err := m.ByID(bg, []byte{9, 9}); !errors.Is(err, ErrNotFound) {
		t.Fatal("Delete kept the passkey")
	}
	clk := &clock{t: t0}
	m.now = clk.now
	if err := m.Spend(bg, "c", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := m.Spend(bg, "c", t0.Add(time.Minute)); !errors.Is(err, ErrSpent) {
		t.Fatalf("second Spend: %v", err)
	}
	clk.advance(2 * time.Minute)
	if err := m.Spend(bg, "d", t0.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.spent["c"]; ok {
		t.Fatal("an expired ceremony was kept")
	}
}

func TestUserVerificationRequired(t *testing.T) {
	e := newEnv(t, setup{})
	k := newSoftKey(t)
	k.flags = 0x01 // present, not verified
	mustStatus(t, e.register(k, "7", origin), http.StatusBadRequest, "bad_request")
	k.flags = 0x05
	mustStatus(t, e.register(k, "7", origin), http.StatusOK, "")
	k.flags = 0x01
	mustStatus(t, e.login(k), http.StatusUnauthorized, "unauthorized")
	k.flags = 0x05
	mustStatus(t, e.login(k), http.StatusOK, "")

	// The options say so, with the ceremony's lifetime as the timeout.
	_, pk := e.begin("login/begin/")
	var o struct {
		UV      string `json:"userVerification"`
		Timeout int    `json:"timeout"`
	}
	if err := json.Unmarshal(pk, &o); err != nil {
		t.Fatal(err)
	}
	if o.UV != "required" || o.Timeout != int(DefaultCeremonyTTL/time.Millisecond) {
		t.Fatalf("request options %s", pk)
	}
	// Options.UserVerification "preferred" accepts presence alone.
	p := newEnv(t, setup{opts: func(o *Options) { o.UserVerification = "preferred" }})
	k2 := newSoftKey(t)
	k2.flags = 0x01
	mustStatus(t, p.register(k2, "7", origin), http.StatusOK, "")
	mustStatus(t, p.login(k2), http.StatusOK, "")
}
