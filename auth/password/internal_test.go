package password

import "testing"

// TestVerifyUnknownHashes: VerifyUnknown verifies against a real dummy
// hash made with the Hasher's own parameters (so it costs what a wrong
// password costs), or with DefaultParams when the Hasher's cannot hash.
func TestVerifyUnknownHashes(t *testing.T) {
	cheap := Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	h := &Hasher{Params: cheap}
	h.VerifyUnknown("x")
	p, _, _, err := Decode(h.dummy)
	if err != nil || p != cheap {
		t.Fatalf("the dummy %q (%v) is not a hash of the Hasher's parameters", h.dummy, err)
	}
	bad := &Hasher{Params: Params{Memory: 64, Time: 0, Threads: 1, SaltLen: 16, KeyLen: 32}}
	bad.VerifyUnknown("x")
	if p, _, _, err := Decode(bad.dummy); err != nil || p != DefaultParams {
		t.Fatalf("with unusable parameters the dummy is %q (%v); want one of DefaultParams", bad.dummy, err)
	}
}
