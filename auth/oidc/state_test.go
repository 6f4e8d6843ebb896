package oidc

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

var testSealKey = bytes.Repeat([]byte{7}, 32)

func testState() flowState {
	return flowState{Provider: "google", State: "s-123", Nonce: "n-456", Verifier: "v-789", Return: "/projects/1/?tab=a",
		Expires: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).Unix()}
}

func TestStateRoundTrip(t *testing.T) {
	s, err := newSealer(testSealKey)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2029, 12, 31, 23, 0, 0, 0, time.UTC)
	v, err := s.seal("mizan_oidc_google", testState())
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.open("mizan_oidc_google", v, "google", now)
	if err != nil || got != testState() {
		t.Fatalf("open: %+v, %v", got, err)
	}
	other, _ := newSealer(bytes.Repeat([]byte{8}, 32))
	raw, _ := base64.RawURLEncoding.DecodeString(v)
	flipped := bytes.Clone(raw)
	flipped[len(flipped)-1] ^= 0x80
	expired := testState()
	expired.Expires = now.Unix()
	ve, _ := s.seal("mizan_oidc_google", expired)
	badReturn := testState()
	badReturn.Return = "//evil.example"
	vr, _ := s.seal("mizan_oidc_google", badReturn)
	for name, f := range map[string]func() (flowState, error){
		"another key":      func() (flowState, error) { return other.open("mizan_oidc_google", v, "google", now) },
		"another cookie":   func() (flowState, error) { return s.open("mizan_oidc_github", v, "google", now) },
		"another provider": func() (flowState, error) { return s.open("mizan_oidc_google", v, "github", now) },
		"flipped bit": func() (flowState, error) {
			return s.open("mizan_oidc_google", base64.RawURLEncoding.EncodeToString(flipped), "google", now)
		},
		"truncated":     func() (flowState, error) { return s.open("mizan_oidc_google", v[:len(v)-4], "google", now) },
		"expired":       func() (flowState, error) { return s.open("mizan_oidc_google", ve, "google", now) },
		"open redirect": func() (flowState, error) { return s.open("mizan_oidc_google", vr, "google", now) },
		"empty":         func() (flowState, error) { return s.open("mizan_oidc_google", "", "google", now) },
		"not base64":    func() (flowState, error) { return s.open("mizan_oidc_google", "!!!", "google", now) },
	} {
		if _, err := f(); !errors.Is(err, errState) {
			t.Errorf("%s: %v, want errState", name, err)
		}
	}
}

func TestCheckReturn(t *testing.T) {
	for in, want := range map[string]string{"": "/", "/": "/", "/a/b?c=d": "/a/b?c=d", "/%2F%2Fx": "/%2F%2Fx"} {
		if got, err := checkReturn(in); err != nil || got != want {
			t.Errorf("checkReturn(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"//evil", "///evil", "/\\evil", "\\\\evil", "https://evil", "http:/evil", "javascript:alert(1)", "evil", "/a#b", "/a\nb", "/a\x7f", "/" + string(make([]byte, maxReturnPath))} {
		if _, err := checkReturn(in); err == nil {
			t.Errorf("checkReturn(%q) accepted it", in)
		}
	}
}

// FuzzOpenState checks that the state cookie parser never panics, and that
// whatever it accepts is a complete, unexpired state for the provider with
// a safe return path, which seals back to an equal state.
func FuzzOpenState(f *testing.F) {
	s, err := newSealer(testSealKey)
	if err != nil {
		f.Fatal(err)
	}
	v, err := s.seal("mizan_oidc_google", testState())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(v)
	f.Add(v[:len(v)/2])
	f.Add("")
	f.Add("AAAA")
	f.Add(base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{0}, 64)))
	now := time.Date(2029, 12, 31, 23, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, value string) {
		st, err := s.open("mizan_oidc_google", value, "google", now)
		if err != nil {
			if !errors.Is(err, errState) {
				t.Fatalf("error %v does not wrap errState", err)
			}
			return
		}
		if st.Provider != "google" || st.State == "" || st.Nonce == "" || st.Verifier == "" || st.Expires <= now.Unix() {
			t.Fatalf("accepted %+v", st)
		}
		if _, err := checkReturn(st.Return); err != nil {
			t.Fatalf("accepted return path %q", st.Return)
		}
		again, err := s.seal("mizan_oidc_google", st)
		if err != nil {
			t.Fatal(err)
		}
		if st2, err := s.open("mizan_oidc_google", again, "google", now); err != nil || st2 != st {
			t.Fatalf("re-sealed %+v opens as %+v, %v", st, st2, err)
		}
	})
}

func TestFlexBool(t *testing.T) {
	for in, want := range map[string]bool{`{"email_verified":true}`: true, `{"email_verified":"true"}`: true,
		`{"email_verified":false}`: false, `{"email_verified":"false"}`: false, `{"email_verified":null}`: false} {
		var c idClaims
		if err := json.Unmarshal([]byte(in), &c); err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if got := c.EmailVerified != nil && bool(*c.EmailVerified); got != want {
			t.Errorf("%s: %v, want %v", in, got, want)
		}
	}
	var c idClaims
	if err := json.Unmarshal([]byte(`{"email_verified":"yes"}`), &c); err == nil {
		t.Error(`email_verified "yes" was accepted`)
	}
}

func TestRejectedError(t *testing.T) {
	cause := errors.New("boom")
	err := rejected("the ID token has expired", cause)
	var rej *RejectedError
	if !errors.As(err, &rej) || rej.Reason != "the ID token has expired" || !errors.Is(err, cause) || err.Error() != "oidc: the ID token has expired: boom" {
		t.Fatalf("%v", err)
	}
	if got := rejected("no ID token", nil).Error(); got != "oidc: no ID token" {
		t.Fatalf("%q", got)
	}
}
