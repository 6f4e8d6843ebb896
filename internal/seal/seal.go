// Package seal seals small values for a round trip through a client (a
// state cookie, a ceremony token): AES-256-GCM under a server key, with
// additional data binding a sealed value to its use, as unpadded base64url
// text. What a client sends back opens only if this key sealed it for the
// same additional data and nobody changed a bit. Packages auth/oidc and
// auth/passkey use it with keys from auth.Service.DeriveKey.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
)

// ErrInvalid is every reason a value does not open: empty, too long, not
// base64url, too short, or not sealed by this key for this additional data.
var ErrInvalid = errors.New("seal: not a value sealed by this server for this use")

// Sealer seals and opens values with one key. It is safe for concurrent
// use.
type Sealer struct {
	aead cipher.AEAD
}

// New returns a Sealer keyed by key (32 bytes: AES-256).
func New(key []byte) (*Sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("seal: the key must be 32 bytes, not %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal: cipher: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal returns base64url(nonce || ciphertext) of plain, bound to ad.
func (s *Sealer) Seal(plain, ad []byte) string {
	ns := s.aead.NonceSize()
	buf := make([]byte, ns, ns+len(plain)+s.aead.Overhead())
	_, _ = rand.Read(buf) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(buf, buf, plain, ad))
}

// Open returns the plain text of value, sealed by Seal with ad, or
// ErrInvalid. A value longer than maxLen characters is refused before it
// is decoded.
func (s *Sealer) Open(value string, ad []byte, maxLen int) ([]byte, error) {
	if value == "" || len(value) > maxLen {
		return nil, ErrInvalid
	}
	raw, err := base64.RawURLEncoding.DecodeString(value)
	ns := s.aead.NonceSize()
	if err != nil || len(raw) < ns+s.aead.Overhead() {
		return nil, ErrInvalid
	}
	plain, err := s.aead.Open(nil, raw[:ns], raw[ns:], ad)
	if err != nil {
		return nil, ErrInvalid
	}
	return plain, nil
}
