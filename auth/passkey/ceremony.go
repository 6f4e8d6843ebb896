package passkey

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/mizan-afi/mizan/internal/seal"
)

// A ceremony (register or login) is begun by one request and finished by
// another, maybe on another server process. What the finish needs (the
// challenge, the user handle, the origin the ceremony is bound to, who
// began it) travels with the client as an opaque token: the JSON of
// ceremony, sealed with AES-256-GCM under a key derived from the JWT key
// (auth.Service.DeriveKey("passkey-ceremony"), the same on every process).
// The client can neither read nor change it; the kind is in the
// additional data, so a login token is not a registration token. A token
// expires after Options.CeremonyTTL, and the store's Spend makes each one
// finishable once.

// The kinds of ceremony.
const (
	kindRegister = "register"
	kindLogin    = "login"
)

// tokenVersion is the version of the token format, bound in the
// additional data.
const tokenVersion = 1

// maxTokenLen bounds the ceremony tokens openCeremony decodes (a real one
// is under 1 KiB).
const maxTokenLen = 4096

// errBadCeremony is every reason a token does not open: malformed,
// tampered with, sealed under another key or for another kind.
var errBadCeremony = errors.New("passkey: invalid ceremony token")

// errExpiredCeremony: the token opened but its ceremony has expired.
var errExpiredCeremony = errors.New("passkey: the ceremony has expired")

// ceremony is what a token carries.
type ceremony struct {
	// User is the user a registration is for ("" for a login).
	User string `json:"u,omitempty"`
	// Expires is when the ceremony ends, in Unix seconds.
	Expires int64 `json:"e"`
	// Session is go-webauthn's ceremony state: the challenge, the user
	// handle, the origin...
	Session webauthn.SessionData `json:"s"`
}

// sealer seals and opens ceremony tokens (package internal/seal).
type sealer struct {
	s *seal.Sealer
}

// newSealer returns a sealer keyed by key (32 bytes).
func newSealer(key []byte) (*sealer, error) {
	s, err := seal.New(key)
	if err != nil {
		return nil, fmt.Errorf("passkey: ceremony: %w", err)
	}
	return &sealer{s: s}, nil
}

// additionalData binds a token to its kind and to the token format.
func additionalData(kind string) []byte {
	return []byte("mizan/passkey/ceremony/v" + strconv.Itoa(tokenVersion) + "/" + kind)
}

// seal returns the token of c, of kind kind.
func (s *sealer) seal(kind string, c ceremony) (string, error) {
	plain, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("passkey: encoding the ceremony: %w", err)
	}
	return s.s.Seal(plain, additionalData(kind)), nil
}

// open returns the ceremony of token, of kind kind, as long as it has not
// expired at now: errBadCeremony or errExpiredCeremony otherwise.
func (s *sealer) open(kind, token string, now time.Time) (*ceremony, error) {
	plain, err := s.s.Open(token, additionalData(kind), maxTokenLen)
	if err != nil {
		return nil, errBadCeremony
	}
	var c ceremony
	if err := json.Unmarshal(plain, &c); err != nil || c.Session.Challenge == "" || c.Expires == 0 {
		return nil, errBadCeremony
	}
	if (kind == kindRegister) != (c.User != "") {
		return nil, errBadCeremony
	}
	if now.Unix() >= c.Expires {
		return nil, errExpiredCeremony
	}
	return &c, nil
}
