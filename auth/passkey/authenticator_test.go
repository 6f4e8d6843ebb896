package passkey

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// softKey is a software authenticator holding one ECDSA P-256 passkey: it
// answers creation options with a "none" attestation and request options
// with an assertion, as a browser's navigator.credentials would (the
// PublicKeyCredential JSON form).
type softKey struct {
	t       testing.TB
	priv    *ecdsa.PrivateKey
	id      []byte
	handle  []byte // the user.id of the creation options
	counter uint32
	// flags are the authenticator data flags of every answer besides AT:
	// UP (0x01) and UV (0x04) by default.
	flags byte
}

// newSoftKey returns an authenticator with a new key and credential id.
func newSoftKey(t testing.TB) *softKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	return &softKey{t: t, priv: priv, id: id, flags: 0x01 | 0x04}
}

var b64 = base64.RawURLEncoding

// unb64 decodes base64url, padded or not.
func unb64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		if b, err = base64.URLEncoding.DecodeString(s); err != nil {
			t.Fatalf("not base64url: %q", s)
		}
	}
	return b
}

// clientData returns the clientDataJSON of a ceremony.
func clientData(t testing.TB, typ, challenge, origin string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": origin, "crossOrigin": false})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// authData returns authenticator data for rpID: the RP ID hash, the flags,
// the counter and, when attested, the attested credential data (a zero
// AAGUID, the credential id and the COSE public key).
func (k *softKey) authData(rpID string, attested bool) []byte {
	h := sha256.Sum256([]byte(rpID))
	out := append([]byte(nil), h[:]...)
	flags := k.flags
	if attested {
		flags |= 0x40
	}
	out = append(out, flags)
	out = binary.BigEndian.AppendUint32(out, k.counter)
	if attested {
		out = append(out, make([]byte, 16)...) // AAGUID
		out = binary.BigEndian.AppendUint16(out, uint16(len(k.id)))
		out = append(out, k.id...)
		x := k.priv.PublicKey.X.FillBytes(make([]byte, 32)) //nolint:staticcheck // the test needs the raw coordinates
		y := k.priv.PublicKey.Y.FillBytes(make([]byte, 32)) //nolint:staticcheck
		cose, err := cbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: x, -3: y})
		if err != nil {
			k.t.Fatal(err)
		}
		out = append(out, cose...)
	}
	return out
}

// creationOptions are the members of PublicKeyCredentialCreationOptions
// the authenticator reads.
type creationOptions struct {
	Challenge string `json:"challenge"`
	RP        struct {
		ID string `json:"id"`
	} `json:"rp"`
	User struct {
		ID string `json:"id"`
	} `json:"user"`
	ExcludeCredentials []struct {
		ID string `json:"id"`
	} `json:"excludeCredentials"`
}

// requestOptions are the members of PublicKeyCredentialRequestOptions the
// authenticator reads.
type requestOptions struct {
	Challenge string `json:"challenge"`
	RPID      string `json:"rpId"`
}

// create answers creation options (the publicKey member of a
// register/begin answer) at origin, as navigator.credentials.create.
func (k *softKey) create(publicKey json.RawMessage, origin string) json.RawMessage {
	k.t.Helper()
	var o creationOptions
	if err := json.Unmarshal(publicKey, &o); err != nil {
		k.t.Fatalf("creation options: %v", err)
	}
	k.handle = unb64(k.t, o.User.ID)
	cdj := clientData(k.t, "webauthn.create", o.Challenge, origin)
	att, err := cbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": k.authData(o.RP.ID, true)})
	if err != nil {
		k.t.Fatal(err)
	}
	return mustJSON(k.t, map[string]any{
		"id": b64.EncodeToString(k.id), "rawId": b64.EncodeToString(k.id), "type": "public-key",
		"authenticatorAttachment": "platform",
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(cdj),
			"attestationObject": b64.EncodeToString(att),
			"transports":        []string{"internal"},
		},
		"clientExtensionResults": map[string]any{},
	})
}

// get answers request options (the publicKey member of a login/begin
// answer) at origin, as navigator.credentials.get; the counter goes up
// by one first.
func (k *softKey) get(publicKey json.RawMessage, origin string) json.RawMessage {
	k.t.Helper()
	var o requestOptions
	if err := json.Unmarshal(publicKey, &o); err != nil {
		k.t.Fatalf("request options: %v", err)
	}
	k.counter++
	cdj := clientData(k.t, "webauthn.get", o.Challenge, origin)
	ad := k.authData(o.RPID, false)
	h := sha256.Sum256(cdj)
	digest := sha256.Sum256(append(append([]byte(nil), ad...), h[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.priv, digest[:])
	if err != nil {
		k.t.Fatal(err)
	}
	return mustJSON(k.t, map[string]any{
		"id": b64.EncodeToString(k.id), "rawId": b64.EncodeToString(k.id), "type": "public-key",
		"authenticatorAttachment": "platform",
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(cdj),
			"authenticatorData": b64.EncodeToString(ad),
			"signature":         b64.EncodeToString(sig),
			"userHandle":        b64.EncodeToString(k.handle),
		},
		"clientExtensionResults": map[string]any{},
	})
}

func mustJSON(t testing.TB, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
