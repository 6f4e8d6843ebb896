package password_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/mizan-afi/mizan/auth/password"
)

// cheap are small parameters, so that the tests run fast.
var cheap = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestHashAndVerify(t *testing.T) {
	h := &password.Hasher{Params: cheap}
	enc, err := h.Hash("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("encoded %q", enc)
	}
	if again, _ := h.Hash("correct horse"); again == enc {
		t.Fatal("two hashes of one password are equal: no random salt")
	}
	if ok, rehash, err := h.Verify("correct horse", enc); !ok || rehash || err != nil {
		t.Fatalf("right password: ok %v rehash %v err %v", ok, rehash, err)
	}
	for _, wrong := range []string{"correct horse ", "Correct horse", "", "correct hors"} {
		if ok, _, err := h.Verify(wrong, enc); ok || err != nil {
			t.Errorf("wrong password %q: ok %v err %v", wrong, ok, err)
		}
	}
}

// TestRehashWhenParamsChange: a hash made with older parameters verifies,
// and is reported for rehashing; the rehashed one is not.
func TestRehashWhenParamsChange(t *testing.T) {
	old := &password.Hasher{Params: cheap}
	enc, _ := old.Hash("pw")
	stronger := cheap
	stronger.Time = 2
	cur := &password.Hasher{Params: stronger}
	ok, rehash, err := cur.Verify("pw", enc)
	if !ok || !rehash || err != nil {
		t.Fatalf("old hash under new params: ok %v rehash %v err %v", ok, rehash, err)
	}
	enc2, _ := cur.Hash("pw")
	if ok, rehash, _ := cur.Verify("pw", enc2); !ok || rehash {
		t.Fatalf("rehashed: ok %v rehash %v", ok, rehash)
	}
	// A wrong password is never reported for rehashing.
	if ok, rehash, _ := cur.Verify("nope", enc); ok || rehash {
		t.Fatalf("wrong password on an old hash: ok %v rehash %v", ok, rehash)
	}
	// The zero Hasher uses DefaultParams.
	var def password.Hasher
	if _, rehash, _ := def.Verify("pw", enc); !rehash {
		t.Error("the zero Hasher does not ask to rehash a cheap hash")
	}
}

func TestMalformed(t *testing.T) {
	h := &password.Hasher{Params: cheap}
	good, _ := h.Hash("pw")
	parts := strings.Split(good, "$")
	cases := map[string]string{
		"empty":           "",
		"bcrypt":          "$2a$10$abcdefghijklmnopqrstuuN8cU8f2I8xkq3k1bS3V3U5m4dQb5o5y",
		"argon2i":         strings.Replace(good, "argon2id", "argon2i", 1),
		"version 16":      strings.Replace(good, "v=19", "v=16", 1),
		"huge memory":     strings.Replace(good, "m=64", "m=4194304", 1),
		"huge time":       strings.Replace(good, "t=1", "t=1000", 1),
		"zero threads":    strings.Replace(good, "p=1", "p=0", 1),
		"missing field":   strings.Replace(good, ",p=1", "", 1),
		"padded salt":     "$" + strings.Join(append(parts[1:4], parts[4]+"==", parts[5]), "$"),
		"short hash":      "$" + strings.Join(append(parts[1:5], "AAAA"), "$"),
		"extra segment":   good + "$x",
		"negative memory": strings.Replace(good, "m=64", "m=-64", 1),
		"leading zero":    strings.Replace(good, "m=64", "m=064", 1),
		"newline in salt": "$" + strings.Join(append(parts[1:4], parts[4][:4]+"\n"+parts[4][4:], parts[5]), "$"),
	}
	for name, enc := range cases {
		ok, _, err := h.Verify("pw", enc)
		if ok || !errors.Is(err, password.ErrMalformed) {
			t.Errorf("%s: ok %v err %v; want ErrMalformed", name, ok, err)
		}
	}
}

func TestVerifyUnknown(t *testing.T) {
	h := &password.Hasher{Params: cheap}
	if h.VerifyUnknown("anything") || h.VerifyUnknown("") {
		t.Fatal("VerifyUnknown reported a match")
	}
}

func TestBadParams(t *testing.T) {
	for _, p := range []password.Params{{Memory: 64, Time: 0, Threads: 1, SaltLen: 16, KeyLen: 32}, {Memory: 64, Time: 1, Threads: 1, SaltLen: 4, KeyLen: 32}} {
		if _, err := (&password.Hasher{Params: p}).Hash("pw"); err == nil {
			t.Errorf("Hash with %+v: no error", p)
		}
	}
}

// FuzzDecode: Decode never panics, and what it accepts encodes back to the
// same string (one canonical form).
func FuzzDecode(f *testing.F) {
	h := &password.Hasher{Params: cheap}
	good, _ := h.Hash("pw")
	f.Add(good)
	f.Add("$argon2id$v=19$m=1,t=1,p=1$$")
	// Found by the fuzzer: base64 decoding skips \r and \n.
	f.Add("$argon2id$v=19$m=1,t=1,p=1$00000000000$0000\r0000000000000000000")
	f.Add("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA")
	f.Fuzz(func(t *testing.T, s string) {
		p, salt, key, err := password.Decode(s)
		if err != nil {
			return
		}
		if p.Memory == 0 || p.Time == 0 || p.Threads == 0 || len(salt) < 8 || len(key) < 16 {
			t.Fatalf("Decode(%q) accepted %+v", s, p)
		}
		if again := password.Encode(p, salt, key); again != s {
			t.Fatalf("Decode(%q) then Encode = %q: not one canonical form", s, again)
		}
	})
}
