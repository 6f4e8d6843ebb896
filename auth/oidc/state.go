package oidc

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/mizan-afi/mizan/internal/seal"
)

// maxStateCookie bounds the length of a state cookie's value read back:
// a sealed flowState is a few hundred bytes.
const maxStateCookie = 2048

// maxReturnPath bounds the return path of a sign-in.
const maxReturnPath = 1024

// errState is the cause of every state cookie that does not open: missing,
// tampered with, sealed by another key, for another provider, or expired.
var errState = errors.New("oidc: invalid state cookie")

// flowState is what the state cookie of one sign-in holds, from its start
// to its callback.
type flowState struct {
	Provider string `json:"p"`
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Return   string `json:"r"`
	// Handoff is the page's own random value of ?handoff=, echoed in the
	// fragment so that the page accepts only the token of a sign-in it
	// started ("" when the page sent none).
	Handoff string `json:"h,omitempty"`
	Expires int64  `json:"e"` // Unix seconds
}

// validHandoff matches the handoff values start/ accepts: 16 to 128
// base64url characters.
var validHandoff = regexp.MustCompile(`^[A-Za-z0-9_-]{16,128}$`)

// sealer seals and opens state cookies (package internal/seal: AES-256-GCM
// under a key derived from the JWT key); the cookie's name is the
// additional data, so a value cannot move to another provider's cookie.
type sealer struct {
	s *seal.Sealer
}

// newSealer returns a sealer with key (32 bytes).
func newSealer(key []byte) (*sealer, error) {
	s, err := seal.New(key)
	if err != nil {
		return nil, fmt.Errorf("oidc: state cookie: %w", err)
	}
	return &sealer{s: s}, nil
}

// seal returns the cookie value for st under the cookie name.
func (s *sealer) seal(name string, st flowState) (string, error) {
	plain, err := json.Marshal(st)
	if err != nil {
		return "", fmt.Errorf("oidc: encoding the state cookie: %w", err)
	}
	return s.s.Seal(plain, []byte(name)), nil
}

// open parses the value of the cookie name: it returns the state it seals
// when the value was sealed by this key for this name, is not expired at
// now and names provider; else an error wrapping errState.
func (s *sealer) open(name, value, provider string, now time.Time) (flowState, error) {
	plain, err := s.s.Open(value, []byte(name), maxStateCookie)
	if err != nil {
		return flowState{}, fmt.Errorf("%w: %w", errState, err)
	}
	var st flowState
	if err := json.Unmarshal(plain, &st); err != nil {
		return flowState{}, fmt.Errorf("%w: malformed content", errState)
	}
	switch {
	case st.Provider != provider:
		return flowState{}, fmt.Errorf("%w: for another provider", errState)
	case st.State == "" || st.Nonce == "" || st.Verifier == "":
		return flowState{}, fmt.Errorf("%w: incomplete", errState)
	case now.Unix() >= st.Expires:
		return flowState{}, fmt.Errorf("%w: expired", errState)
	}
	if _, err := checkReturn(st.Return); err != nil {
		return flowState{}, fmt.Errorf("%w: %w", errState, err)
	}
	return st, nil
}

// randomString returns n random bytes in base64url.
func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("oidc: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// checkReturn checks that p is a path of this site to send the browser back
// to, and returns it ("/" for ""). It refuses what would leave the site (an
// absolute URL, "//host", "/\host", which browsers read as "//host"), a
// fragment (the token mode's own), control characters and overlong paths.
func checkReturn(p string) (string, error) {
	if p == "" {
		return "/", nil
	}
	if len(p) > maxReturnPath {
		return "", errors.New("the return path is too long")
	}
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\#") {
		return "", errors.New("the return path must be a path of this site starting with a single /")
	}
	for _, c := range p {
		if c < 0x20 || c == 0x7f {
			return "", errors.New("the return path has a control character")
		}
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "", errors.New("the return path must be a path of this site")
	}
	return p, nil
}
