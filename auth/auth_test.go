package auth_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mizan-afi/mizan/auth"
	"github.com/mizan-afi/mizan/auth/mwt"
	"github.com/mizan-afi/mizan/auth/session"
)

var (
	hsKey     = []byte("jwt-key-0123456789abcdef-0123456789abcdef")
	mwtSecret = []byte("mwt-secret-0123456789abcdef-0123456789")
	t0        = time.Unix(1_700_000_000, 0)
	ctx       = context.Background()
)

// keys holds an RSA and an Ed25519 key pair in PEM, made once.
var keys = sync.OnceValue(func() (k struct{ rsa, rsaPub, ed, rsaSmall []byte }) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(rk)
	k.rsa = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	pub, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	k.rsaPub = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})
	_, ek, _ := ed25519.GenerateKey(rand.Reader)
	der, _ = x509.MarshalPKCS8PrivateKey(ek)
	k.ed = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	k.rsaSmall = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(small)})
	return k
})

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

func newService(t *testing.T, cfg auth.Config) (*auth.Service, *clock) {
	t.Helper()
	c := &clock{t: t0}
	if cfg.PrivateKey == nil {
		cfg.PrivateKey = hsKey
	}
	cfg.Now = c.now
	s, err := auth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

// claimsOf decodes a token's claims without verifying it.
func claimsOf(t *testing.T, tok string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestIssueVerifyClaims(t *testing.T) {
	s, _ := newService(t, auth.Config{})
	pair, err := s.Issue(ctx, auth.User{ID: "5", Staff: true})
	if err != nil {
		t.Fatal(err)
	}
	ac, rc := claimsOf(t, pair.Access), claimsOf(t, pair.Refresh)
	if ac["sub"] != "5" || ac["staff"] != true || ac["super"] != false || ac["type"] != "access" ||
		ac["iat"] != float64(t0.Unix()) || ac["exp"] != float64(t0.Unix()+300) || ac["sid"] == "" || ac["jti"] != nil {
		t.Errorf("access claims %v", ac)
	}
	if rc["type"] != "refresh" || rc["sid"] != ac["sid"] || rc["exp"] != float64(t0.Unix()+7*24*3600) || rc["jti"] == nil {
		t.Errorf("refresh claims %v", rc)
	}
	p, err := s.Verify(ctx, pair.Access)
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != "5" || !p.Staff || p.Superuser || !p.Bearer || p.SessionID != ac["sid"] {
		t.Errorf("Verify = %+v", p)
	}
	if s.Algorithm() != "HS256" {
		t.Errorf("default algorithm %s", s.Algorithm())
	}
}

func TestAlgorithms(t *testing.T) {
	k := keys()
	for _, c := range []struct {
		alg string
		key []byte
	}{{"HS256", hsKey}, {"RS256", k.rsa}, {"EdDSA", k.ed}, {"rs256", k.rsa}} {
		s, _ := newService(t, auth.Config{Algorithm: c.alg, PrivateKey: c.key})
		pair, err := s.Issue(ctx, auth.User{ID: "1"})
		if err != nil {
			t.Fatalf("%s: %v", c.alg, err)
		}
		if p, err := s.Verify(ctx, pair.Access); err != nil || p.ID != "1" {
			t.Errorf("%s: Verify = %+v, %v", c.alg, p, err)
		}
		if !strings.EqualFold(s.Algorithm(), c.alg) {
			t.Errorf("Algorithm() = %s, want %s", s.Algorithm(), c.alg)
		}
	}
}

func TestBadConfig(t *testing.T) {
	k := keys()
	cases := []struct {
		cfg  auth.Config
		want string
	}{
		{auth.Config{PrivateKey: []byte("short")}, "at least 32 bytes"},
		{auth.Config{PrivateKey: k.rsa}, "PEM key but the algorithm is HS256"},
		{auth.Config{Algorithm: "none", PrivateKey: hsKey}, `unsupported JWT algorithm "none"`},
		{auth.Config{Algorithm: "HS512", PrivateKey: hsKey}, "unsupported JWT algorithm"},
		{auth.Config{Algorithm: "RS256", PrivateKey: hsKey}, "PEM RSA private key"},
		{auth.Config{Algorithm: "RS256", PrivateKey: k.rsaPub}, "PEM RSA private key"},
		{auth.Config{Algorithm: "RS256", PrivateKey: k.rsaSmall}, "1024 bits; at least 2048"},
		{auth.Config{Algorithm: "EdDSA", PrivateKey: k.rsa}, "Ed25519"},
		{auth.Config{PrivateKey: hsKey, MWTSecret: hsKey}, "JWT key and the MWT secret are identical"},
		{auth.Config{PrivateKey: hsKey, MWTSecret: []byte("short")}, "MWT secret"},
		{auth.Config{PrivateKey: hsKey, AccessTTL: -time.Second}, "must not be negative"},
	}
	for _, c := range cases {
		if _, err := auth.New(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s/%.10q: err %v, want %q", c.cfg.Algorithm, c.cfg.PrivateKey, err, c.want)
		}
	}
}

// forge signs claims with any method and key.
func forge(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRefusedTokens(t *testing.T) {
	k := keys()
	s, _ := newService(t, auth.Config{MWTSecret: mwtSecret})
	pair, err := s.Issue(ctx, auth.User{ID: "2"})
	if err != nil {
		t.Fatal(err)
	}
	sid := claimsOf(t, pair.Access)["sid"].(string)
	claims := func(typ string) jwt.MapClaims {
		return jwt.MapClaims{"sub": "2", "sid": sid, "staff": true, "super": true, "type": typ,
			"iat": t0.Unix(), "exp": t0.Add(time.Minute).Unix()}
	}
	parts := strings.Split(pair.Access, ".")
	raised := base64.RawURLEncoding.EncodeToString([]byte(`{"sid":"` + sid + `","staff":true,"super":true,"type":"access","sub":"2","exp":1700000300,"iat":1700000000}`))
	rsaKey, _ := jwt.ParseRSAPrivateKeyFromPEM(k.rsa)
	mwtTok, _, err := s.IssueMWT(auth.User{ID: "2"})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"tampered":      parts[0] + "." + raised + "." + parts[2],
		"wrong key":     forge(t, jwt.SigningMethodHS256, []byte("another-key-0123456789abcdef-0123456789"), claims("access")),
		"wrong alg":     forge(t, jwt.SigningMethodHS384, hsKey, claims("access")),
		"RS256":         forge(t, jwt.SigningMethodRS256, rsaKey, claims("access")),
		"alg none":      forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims("access")),
		"refresh token": pair.Refresh,
		"MWT":           mwtTok,
		"MWT-typed":     forge(t, jwt.SigningMethodHS256, hsKey, claims("mwt")),
		"no exp":        forge(t, jwt.SigningMethodHS256, hsKey, jwt.MapClaims{"sub": "2", "sid": sid, "type": "access", "iat": t0.Unix()}),
		"no sid":        forge(t, jwt.SigningMethodHS256, hsKey, jwt.MapClaims{"sub": "2", "type": "access", "iat": t0.Unix(), "exp": t0.Unix() + 60}),
		"malformed":     "a.b",
	}
	for name, tok := range cases {
		if p, err := s.Verify(ctx, tok); !errors.Is(err, auth.ErrInvalidToken) {
			t.Errorf("%s: Verify = %+v, %v; want ErrInvalidToken", name, p, err)
		}
	}
	// An access token is not a refresh token either.
	if _, err := s.Refresh(ctx, pair.Access); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("Refresh with an access token: %v", err)
	}
	// A well-signed token that raises its own rights gets the session's.
	raisedTok := forge(t, jwt.SigningMethodHS256, hsKey, claims("access"))
	if p, err := s.Verify(ctx, raisedTok); err != nil || p.Staff || p.Superuser {
		t.Errorf("rights come from the token, not the session: %+v, %v", p, err)
	}
	// A token that names a session that does not exist is revoked.
	other := forge(t, jwt.SigningMethodHS256, hsKey, jwt.MapClaims{"sub": "2", "sid": "nope", "type": "access", "iat": t0.Unix(), "exp": t0.Unix() + 60})
	if _, err := s.Verify(ctx, other); !errors.Is(err, auth.ErrRevoked) {
		t.Errorf("unknown session: %v", err)
	}
}

func TestHSRSConfusion(t *testing.T) {
	// An RS256 service refuses an HS256 token whose HMAC key is the
	// service's own public key, the classic confusion attack.
	k := keys()
	s, _ := newService(t, auth.Config{Algorithm: "RS256", PrivateKey: k.rsa})
	pair, err := s.Issue(ctx, auth.User{ID: "1"})
	if err != nil {
		t.Fatal(err)
	}
	c := claimsOf(t, pair.Access)
	c["staff"] = true
	tok := forge(t, jwt.SigningMethodHS256, k.rsaPub, jwt.MapClaims(c))
	if _, err := s.Verify(ctx, tok); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("HS256 token keyed with the RSA public key: %v", err)
	}
}

func TestExpiryAndLeeway(t *testing.T) {
	s, clk := newService(t, auth.Config{})
	pair, _ := s.Issue(ctx, auth.User{ID: "1"})
	clk.advance(auth.DefaultAccessTTL + time.Second)
	if _, err := s.Verify(ctx, pair.Access); !errors.Is(err, auth.ErrExpiredToken) {
		t.Errorf("after exp: %v, want ErrExpiredToken", err)
	}
	// The refresh token still works and gives a fresh access token.
	next, err := s.Refresh(ctx, pair.Refresh)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify(ctx, next.Access); err != nil {
		t.Errorf("refreshed access token: %v", err)
	}

	lenient, clk2 := newService(t, auth.Config{Leeway: 10 * time.Second})
	pair, _ = lenient.Issue(ctx, auth.User{ID: "1"})
	clk2.advance(auth.DefaultAccessTTL + 5*time.Second)
	if _, err := lenient.Verify(ctx, pair.Access); err != nil {
		t.Errorf("within the leeway: %v", err)
	}
	clk2.advance(10 * time.Second)
	if _, err := lenient.Verify(ctx, pair.Access); !errors.Is(err, auth.ErrExpiredToken) {
		t.Errorf("past the leeway: %v", err)
	}
}

func TestRefreshRotatesAndReuseRevokes(t *testing.T) {
	s, _ := newService(t, auth.Config{})
	first, _ := s.Issue(ctx, auth.User{ID: "3", Superuser: true})
	second, err := s.Refresh(ctx, first.Refresh)
	if err != nil {
		t.Fatal(err)
	}
	if second.Refresh == first.Refresh {
		t.Fatal("refresh did not rotate the refresh token")
	}
	if p, err := s.Verify(ctx, second.Access); err != nil || p.ID != "3" || !p.Superuser {
		t.Fatalf("new access token: %+v, %v", p, err)
	}
	// Replaying the spent token revokes the whole session.
	if _, err := s.Refresh(ctx, first.Refresh); !errors.Is(err, auth.ErrReused) {
		t.Fatalf("reuse: %v, want ErrReused", err)
	}
	for name, f := range map[string]func() error{
		"new access":  func() error { _, err := s.Verify(ctx, second.Access); return err },
		"old access":  func() error { _, err := s.Verify(ctx, first.Access); return err },
		"new refresh": func() error { _, err := s.Refresh(ctx, second.Refresh); return err },
	} {
		if err := f(); !errors.Is(err, auth.ErrRevoked) {
			t.Errorf("%s after reuse: %v, want ErrRevoked", name, err)
		}
	}
}

func TestRevokeAndSkipSessionCheck(t *testing.T) {
	for _, skip := range []bool{false, true} {
		s, _ := newService(t, auth.Config{SkipSessionCheck: skip})
		pair, _ := s.Issue(ctx, auth.User{ID: "1"})
		p, err := s.Verify(ctx, pair.Access)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Revoke(ctx, p.SessionID); err != nil {
			t.Fatal(err)
		}
		_, err = s.Verify(ctx, pair.Access)
		if skip && err != nil {
			t.Errorf("SkipSessionCheck: the access token is refused after logout: %v", err)
		}
		if !skip && !errors.Is(err, auth.ErrRevoked) {
			t.Errorf("access token after logout: %v, want ErrRevoked", err)
		}
		if _, err := s.Refresh(ctx, pair.Refresh); !errors.Is(err, auth.ErrRevoked) {
			t.Errorf("skip=%v: refresh after logout: %v, want ErrRevoked", skip, err)
		}
	}
}

func TestLogin(t *testing.T) {
	s, _ := newService(t, auth.Config{Credentials: func(_ context.Context, u, p string) (*auth.User, error) {
		switch {
		case u == "boom":
			return nil, errors.New("database down")
		case u == "wrapped":
			return nil, auth.ErrBadCredentials
		case u == "ada" && p == "ada-pw":
			return &auth.User{ID: "1", Staff: true}, nil
		}
		return nil, nil
	}})
	if !s.CanLogin() {
		t.Error("CanLogin is false with Credentials set")
	}
	pair, err := s.Login(ctx, "ada", "ada-pw")
	if err != nil {
		t.Fatal(err)
	}
	if p, err := s.Verify(ctx, pair.Access); err != nil || p.ID != "1" || !p.Staff {
		t.Errorf("Verify = %+v, %v", p, err)
	}
	for _, u := range []string{"ada-wrong", "wrapped"} {
		if _, err := s.Login(ctx, u, "x"); !errors.Is(err, auth.ErrBadCredentials) {
			t.Errorf("%s: %v, want ErrBadCredentials", u, err)
		}
	}
	if _, err := s.Login(ctx, "boom", "x"); err == nil || errors.Is(err, auth.ErrBadCredentials) || !strings.Contains(err.Error(), "database down") {
		t.Errorf("failing check: %v", err)
	}
	off, _ := newService(t, auth.Config{})
	if _, err := off.Login(ctx, "ada", "ada-pw"); !errors.Is(err, auth.ErrNoLogin) || off.CanLogin() {
		t.Errorf("no Credentials: %v", err)
	}
	if _, _, err := off.IssueMWT(auth.User{ID: "1"}); !errors.Is(err, auth.ErrNoMWT) || off.CanIssueMWT() {
		t.Errorf("no MWT secret: %v", err)
	}
	if _, err := off.Issue(ctx, auth.User{}); err == nil {
		t.Error("signed in a user without an id")
	}
}

func TestMWTIsVerifiableOnItsOwn(t *testing.T) {
	s, _ := newService(t, auth.Config{MWTSecret: mwtSecret})
	tok, exp, err := s.IssueMWT(auth.User{ID: "9", Staff: true})
	if err != nil {
		t.Fatal(err)
	}
	if !exp.Equal(t0.Add(mwt.DefaultTTL)) {
		t.Errorf("expires %v", exp)
	}
	v, _ := mwt.NewVerifier(mwt.Options{Secret: mwtSecret, Now: func() time.Time { return t0 }})
	if c, err := v.Verify(tok); err != nil || c.UserID != "9" || !c.Staff {
		t.Errorf("mwt.Verify = %+v, %v", c, err)
	}
}

func request(header, cookieName, cookie string) *http.Request {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	if header != "" {
		r.Header.Set("Authorization", header)
	}
	if cookie != "" {
		r.AddCookie(&http.Cookie{Name: cookieName, Value: cookie})
	}
	return r
}

func TestAuthenticate(t *testing.T) {
	s, _ := newService(t, auth.Config{})
	pair, _ := s.Issue(ctx, auth.User{ID: "1"})
	cookie, err := s.StartCookieSession(ctx, auth.User{ID: "2", Staff: true})
	if err != nil {
		t.Fatal(err)
	}
	if cookie.Name != "mizan_session" || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != "/" || cookie.MaxAge != 7*24*3600 {
		t.Errorf("cookie %+v", cookie)
	}
	sid := claimsOf(t, pair.Access)["sid"].(string)
	cases := []struct {
		name, header, cookie string
		want                 string // user id, "" for anonymous
		bearer               bool
		err                  error
	}{
		{"nothing", "", "", "", false, nil},
		{"bearer", "Bearer " + pair.Access, "", "1", true, nil},
		{"lower-case scheme", "bearer " + pair.Access, "", "1", true, nil},
		{"bearer wins over cookie", "Bearer " + pair.Access, cookie.Value, "1", true, nil},
		{"empty bearer", "Bearer ", "", "", false, auth.ErrInvalidToken},
		{"bad bearer", "Bearer x.y.z", cookie.Value, "", false, auth.ErrInvalidToken},
		{"another scheme", "Basic YWRhOmFkYS1wdw==", "", "", false, nil},
		{"cookie", "", cookie.Value, "2", false, nil},
		{"stale cookie", "", "gone", "", false, nil},
		// The sid inside a token is readable by its holder: never a cookie.
		{"sid as cookie", "", sid, "", false, nil},
	}
	for _, c := range cases {
		p, err := s.Authenticate(request(c.header, s.CookieName(), c.cookie))
		switch {
		case c.err != nil:
			if !errors.Is(err, c.err) {
				t.Errorf("%s: err %v, want %v", c.name, err, c.err)
			}
		case err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want == "" && p != nil:
			t.Errorf("%s: %+v, want anonymous", c.name, p)
		case c.want != "" && (p == nil || p.ID != c.want || p.Bearer != c.bearer):
			t.Errorf("%s: %+v, want user %s bearer %v", c.name, p, c.want, c.bearer)
		}
	}
	if cl := s.ClearCookie(); cl.MaxAge != -1 || cl.Name != "mizan_session" {
		t.Errorf("ClearCookie = %+v", cl)
	}
}

// failing is a store whose every call fails.
type failing struct{}

var errDown = errors.New("connection refused")

func (failing) Create(context.Context, session.Session) error { return errDown }
func (failing) Get(context.Context, string) (session.Session, error) {
	return session.Session{}, errDown
}
func (failing) Rotate(context.Context, string, string, string, time.Time) error { return errDown }
func (failing) Delete(context.Context, string) error                            { return errDown }
func (failing) DeleteUser(context.Context, string) error                        { return errDown }

func TestStoreFailuresAreUnavailable(t *testing.T) {
	s, _ := newService(t, auth.Config{Sessions: failing{}})
	if _, err := s.Issue(ctx, auth.User{ID: "1"}); !errors.Is(err, auth.ErrUnavailable) || !errors.Is(err, errDown) {
		t.Errorf("Issue: %v", err)
	}
	tok := forge(t, jwt.SigningMethodHS256, hsKey, jwt.MapClaims{"sub": "1", "sid": "s", "type": "access", "iat": t0.Unix(), "exp": t0.Unix() + 60})
	if _, err := s.Verify(ctx, tok); !errors.Is(err, auth.ErrUnavailable) {
		t.Errorf("Verify: %v", err)
	}
	if err := s.Revoke(ctx, "s"); !errors.Is(err, auth.ErrUnavailable) {
		t.Errorf("Revoke: %v", err)
	}
	if _, err := s.StartCookieSession(ctx, auth.User{ID: "1"}); !errors.Is(err, auth.ErrUnavailable) {
		t.Errorf("StartCookieSession: %v", err)
	}
}

// FuzzVerify feeds arbitrary text to the access-token check: it must never
// panic, and must accept nothing but the access token the service issued
// (the refresh token among the seeds is refused as an access token).
func FuzzVerify(f *testing.F) {
	c := &clock{t: t0}
	s, err := auth.New(auth.Config{PrivateKey: hsKey, Now: c.now})
	if err != nil {
		f.Fatal(err)
	}
	pair, err := s.Issue(ctx, auth.User{ID: "1"})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{pair.Access, pair.Refresh, "", "a.b.c", pair.Access[:len(pair.Access)-3],
		"eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		p, err := s.Verify(ctx, tok)
		if err == nil && tok != pair.Access {
			t.Errorf("accepted %q as %+v", tok, p)
		}
	})
}

func TestClientAddress(t *testing.T) {
	for remote, want := range map[string]string{
		"192.0.2.7:4000":                 "192.0.2.7",
		"[2001:db8:1:2:3:4:5:6]:443":     "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::1]:443":     "2001:db8:1:2::/64",
		"[::ffff:192.0.2.9]:80":          "192.0.2.9",
		"[fe80::1%eth0]:80":              "fe80::/64",
		"@":                              "unknown",
		"a-very-long-non-address-string": "unknown",
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		if got := auth.ClientAddress(r); got != want {
			t.Errorf("ClientAddress(%q) = %q, want %q", remote, got, want)
		}
	}
	if auth.ClientAddress(nil) != "" {
		t.Error("ClientAddress(nil) is not empty")
	}
}
