package mwt_test

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mizan-afi/mizan/auth/mwt"
)

var (
	secret = []byte("mwt-secret-0123456789abcdef-0123456789")
	other  = []byte("another-secret-0123456789abcdef-01234")
	t0     = time.Unix(1_700_000_000, 0)
)

func fixed(t time.Time) func() time.Time { return func() time.Time { return t } }

func issue(t *testing.T, id string, staff, super bool) (string, mwt.Claims) {
	t.Helper()
	iss, err := mwt.NewIssuer(mwt.Options{Secret: secret, Now: fixed(t0)})
	if err != nil {
		t.Fatal(err)
	}
	tok, c, err := iss.Issue(id, staff, super)
	if err != nil {
		t.Fatal(err)
	}
	return tok, c
}

func verifier(t *testing.T, at time.Time, leeway time.Duration) *mwt.Verifier {
	t.Helper()
	v, err := mwt.NewVerifier(mwt.Options{Secret: secret, Now: fixed(at), Leeway: leeway})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestIssueAndVerify(t *testing.T) {
	tok, issued := issue(t, "42", true, false)
	if !issued.ExpiresAt.Equal(t0.Add(mwt.DefaultTTL)) || !issued.IssuedAt.Equal(t0) {
		t.Errorf("issued %+v, want iat %v and exp 300 s later", issued, t0)
	}
	got, err := verifier(t, t0.Add(time.Minute), 0).Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if got != issued {
		t.Errorf("Verify = %+v, want %+v", got, issued)
	}
	// The header says what the token is; the claims are the documented ones.
	head, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	body, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if string(head) != `{"alg":"HS256","typ":"MWT"}` {
		t.Errorf("header %s", head)
	}
	if want := `{"staff":true,"super":false,"type":"mwt","sub":"42","exp":1700000300,"iat":1700000000}`; string(body) != want {
		t.Errorf("claims %s, want %s", body, want)
	}
}

func TestExpiry(t *testing.T) {
	tok, _ := issue(t, "1", false, false)
	if _, err := verifier(t, t0.Add(mwt.DefaultTTL+time.Second), 0).Verify(tok); !errors.Is(err, mwt.ErrExpired) {
		t.Errorf("one second after exp: %v, want ErrExpired", err)
	}
	if _, err := verifier(t, t0.Add(mwt.DefaultTTL+time.Second), 5*time.Second).Verify(tok); err != nil {
		t.Errorf("within the leeway: %v", err)
	}
	// A token issued in the future (a skewed issuer) is refused too.
	if _, err := verifier(t, t0.Add(-time.Minute), 0).Verify(tok); !errors.Is(err, mwt.ErrInvalid) {
		t.Errorf("before iat: %v, want ErrInvalid", err)
	}
}

// sign signs arbitrary claims with method and key, for forgeries.
func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestForgeriesAreRefused(t *testing.T) {
	good, _ := issue(t, "1", false, false)
	claims := func(typ string) jwt.MapClaims {
		return jwt.MapClaims{"sub": "1", "staff": true, "super": true, "type": typ,
			"iat": t0.Unix(), "exp": t0.Add(time.Minute).Unix()}
	}
	parts := strings.Split(good, ".")
	elevated := base64.RawURLEncoding.EncodeToString([]byte(
		`{"staff":true,"super":true,"type":"mwt","sub":"1","exp":1700000300,"iat":1700000000}`))
	none := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims("mwt"))
	cases := map[string]string{
		"empty":          "",
		"garbage":        "not a token",
		"two parts":      parts[0] + "." + parts[1],
		"tampered":       parts[0] + "." + elevated + "." + parts[2],
		"no signature":   parts[0] + "." + parts[1] + ".",
		"wrong key":      sign(t, jwt.SigningMethodHS256, other, claims("mwt")),
		"wrong alg":      sign(t, jwt.SigningMethodHS512, secret, claims("mwt")),
		"alg none":       none,
		"access token":   sign(t, jwt.SigningMethodHS256, secret, claims("access")),
		"no type":        sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "1", "iat": t0.Unix(), "exp": t0.Add(time.Minute).Unix()}),
		"no exp":         sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "1", "type": "mwt", "iat": t0.Unix()}),
		"no sub":         sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"type": "mwt", "iat": t0.Unix(), "exp": t0.Add(time.Minute).Unix()}),
		"trailing chars": good + "x",
	}
	v := verifier(t, t0.Add(time.Second), 0)
	for name, tok := range cases {
		if c, err := v.Verify(tok); !errors.Is(err, mwt.ErrInvalid) {
			t.Errorf("%s: Verify = %+v, %v; want ErrInvalid", name, c, err)
		}
	}
}

func TestOptions(t *testing.T) {
	if _, err := mwt.NewIssuer(mwt.Options{Secret: []byte("short")}); !errors.Is(err, mwt.ErrShortSecret) {
		t.Errorf("short secret: %v", err)
	}
	if _, err := mwt.NewVerifier(mwt.Options{Secret: secret, Leeway: -time.Second}); err == nil {
		t.Error("negative leeway accepted")
	}
	iss, err := mwt.NewIssuer(mwt.Options{Secret: secret, TTL: time.Minute, Now: fixed(t0)})
	if err != nil {
		t.Fatal(err)
	}
	if _, c, _ := iss.Issue("1", false, false); !c.ExpiresAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("TTL of a minute gave exp %v", c.ExpiresAt)
	}
	if _, _, err := iss.Issue("", false, false); err == nil {
		t.Error("a token for an empty user id was issued")
	}
}

func TestFromRequestAndVerify(t *testing.T) {
	tok, _ := issue(t, "7", false, true)
	v := verifier(t, t0, 0)
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	if _, err := v.FromRequest(r); !errors.Is(err, mwt.ErrNoToken) {
		t.Errorf("no header: %v", err)
	}
	r.Header.Set(mwt.Header, tok)
	if c, err := v.FromRequest(r); err != nil || c.UserID != "7" || !c.Superuser {
		t.Errorf("FromRequest = %+v, %v", c, err)
	}
	// The shortcut checks against the real clock: this token is long expired.
	if _, err := mwt.Verify(secret, tok); !errors.Is(err, mwt.ErrExpired) {
		t.Errorf("Verify shortcut on an old token: %v", err)
	}
	fresh, err := mwt.NewIssuer(mwt.Options{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	now, _, _ := fresh.Issue("8", false, false)
	if c, err := mwt.Verify(secret, now); err != nil || c.UserID != "8" {
		t.Errorf("Verify shortcut = %+v, %v", c, err)
	}
	if _, err := mwt.Verify([]byte("short"), now); !errors.Is(err, mwt.ErrShortSecret) {
		t.Errorf("Verify shortcut with a short secret: %v", err)
	}
}

// FuzzVerify feeds arbitrary text to the verifier: it must never panic,
// and must accept nothing but a token the issuer signed.
func FuzzVerify(f *testing.F) {
	iss, err := mwt.NewIssuer(mwt.Options{Secret: secret, Now: fixed(t0)})
	if err != nil {
		f.Fatal(err)
	}
	good, _, err := iss.Issue("1", true, false)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add("")
	f.Add("a.b.c")
	f.Add(good[:len(good)-2])
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.")
	v, err := mwt.NewVerifier(mwt.Options{Secret: secret, Now: fixed(t0)})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := v.Verify(tok)
		if err == nil && tok != good {
			// Base64 has equivalent spellings only without strict
			// decoding, which the verifier uses: one valid text per token.
			t.Errorf("accepted %q as %+v", tok, c)
		}
		if err != nil && !errors.Is(err, mwt.ErrInvalid) && !errors.Is(err, mwt.ErrExpired) {
			t.Errorf("error %v wraps neither ErrInvalid nor ErrExpired", err)
		}
	})
}
