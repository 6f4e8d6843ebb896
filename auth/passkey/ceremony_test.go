package passkey

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"
)

func testSealer(t testing.TB, key byte) *sealer {
	t.Helper()
	s, err := newSealer(bytes.Repeat([]byte{key}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sampleCeremony() ceremony {
	return ceremony{User: "7", Expires: t0.Add(time.Minute).Unix(), Session: webauthn.SessionData{Challenge: "Y2hhbGxlbmdlLWNoYWxsZW5nZS0wMTIzNDU2Nzg5", UserID: []byte{1, 2, 3}}}
}

func TestCeremonyRoundTrip(t *testing.T) {
	s := testSealer(t, 1)
	tok, err := s.seal(kindRegister, sampleCeremony())
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.open(kindRegister, tok, t0)
	if err != nil {
		t.Fatal(err)
	}
	want := sampleCeremony()
	if c.User != want.User || c.Expires != want.Expires || c.Session.Challenge != want.Session.Challenge || !bytes.Equal(c.Session.UserID, want.Session.UserID) {
		t.Fatalf("opened %+v, want %+v", c, want)
	}
	if tok2, _ := s.seal(kindRegister, sampleCeremony()); tok2 == tok {
		t.Fatal("two seals of one ceremony are the same token (nonce reuse)")
	}
	if _, err := s.open(kindRegister, tok, time.Unix(want.Expires, 0)); !errors.Is(err, errExpiredCeremony) {
		t.Fatalf("at expiry: %v", err)
	}
	if _, err := s.open(kindLogin, tok, t0); !errors.Is(err, errBadCeremony) {
		t.Fatalf("a register token opened as a login token: %v", err)
	}
	if _, err := testSealer(t, 2).open(kindRegister, tok, t0); !errors.Is(err, errBadCeremony) {
		t.Fatalf("opened under another key: %v", err)
	}
	// A login ceremony names no user; a registration one must.
	login := sampleCeremony()
	login.User = ""
	ltok, _ := s.seal(kindLogin, login)
	if _, err := s.open(kindLogin, ltok, t0); err != nil {
		t.Fatal(err)
	}
	rtok, _ := s.seal(kindRegister, login)
	if _, err := s.open(kindRegister, rtok, t0); !errors.Is(err, errBadCeremony) {
		t.Fatalf("a registration without a user: %v", err)
	}
}

func TestCeremonyTampering(t *testing.T) {
	s := testSealer(t, 1)
	tok, err := s.seal(kindLogin, ceremony{Expires: t0.Add(time.Minute).Unix(), Session: webauthn.SessionData{Challenge: "abc"}})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	for i := range raw {
		for _, bit := range []byte{0x01, 0x80} {
			b := bytes.Clone(raw)
			b[i] ^= bit
			if _, err := s.open(kindLogin, base64.RawURLEncoding.EncodeToString(b), t0); !errors.Is(err, errBadCeremony) {
				t.Fatalf("byte %d flipped: %v", i, err)
			}
		}
	}
	for _, bad := range []string{"", "!!!", tok[:len(tok)-1], tok + "A", string(bytes.Repeat([]byte("A"), maxTokenLen+1))} {
		if _, err := s.open(kindLogin, bad, t0); !errors.Is(err, errBadCeremony) {
			t.Fatalf("%.20q: %v", bad, err)
		}
	}
}

// FuzzOpenCeremony checks that no token makes open panic or fail with
// another error, and that what opens is the one ceremony sealed.
func FuzzOpenCeremony(f *testing.F) {
	s := testSealer(f, 1)
	tok, err := s.seal(kindLogin, ceremony{Expires: t0.Add(time.Minute).Unix(), Session: webauthn.SessionData{Challenge: "abc"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok)
	f.Add("")
	f.Add("AQ")
	f.Add(tok[:20])
	f.Fuzz(func(t *testing.T, token string) {
		c, err := s.open(kindLogin, token, t0)
		if err != nil {
			if !errors.Is(err, errBadCeremony) && !errors.Is(err, errExpiredCeremony) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		// Only this ceremony was ever sealed under the key (in this process
		// or a fuzzing worker's): GCM makes anything else fail to open.
		if c.Session.Challenge != "abc" || c.User != "" || c.Expires != t0.Add(time.Minute).Unix() {
			t.Fatalf("opened %+v", c)
		}
	})
}
