package seal_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/mizan-afi/mizan/internal/seal"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func TestSealOpen(t *testing.T) {
	s, err := seal.New(key(1))
	if err != nil {
		t.Fatal(err)
	}
	v := s.Seal([]byte(`{"a":1}`), []byte("use-a"))
	if v2 := s.Seal([]byte(`{"a":1}`), []byte("use-a")); v2 == v {
		t.Fatal("two seals of one value are equal: no random nonce")
	}
	plain, err := s.Open(v, []byte("use-a"), 1024)
	if err != nil || string(plain) != `{"a":1}` {
		t.Fatalf("Open = %q, %v", plain, err)
	}
	other, _ := seal.New(key(2))
	flipped := []byte(v)
	flipped[len(flipped)/2] ^= 1
	for name, try := range map[string]func() ([]byte, error){
		"another use":   func() ([]byte, error) { return s.Open(v, []byte("use-b"), 1024) },
		"another key":   func() ([]byte, error) { return other.Open(v, []byte("use-a"), 1024) },
		"a bit flipped": func() ([]byte, error) { return s.Open(string(flipped), []byte("use-a"), 1024) },
		"too long":      func() ([]byte, error) { return s.Open(v, []byte("use-a"), len(v)-1) },
		"empty":         func() ([]byte, error) { return s.Open("", []byte("use-a"), 1024) },
		"not base64":    func() ([]byte, error) { return s.Open("***", []byte("use-a"), 1024) },
		"too short":     func() ([]byte, error) { return s.Open("AAAA", []byte("use-a"), 1024) },
	} {
		if p, err := try(); !errors.Is(err, seal.ErrInvalid) || p != nil {
			t.Errorf("%s: %q, %v; want ErrInvalid", name, p, err)
		}
	}
	if _, err := seal.New([]byte("short")); err == nil {
		t.Error("New accepted a short key")
	}
}

// FuzzOpen: Open never panics, and opens nothing it did not seal.
func FuzzOpen(f *testing.F) {
	s, _ := seal.New(key(3))
	f.Add(s.Seal([]byte("x"), []byte("ad")))
	f.Add(strings.Repeat("A", 40))
	f.Fuzz(func(t *testing.T, v string) {
		if p, err := s.Open(v, []byte("ad"), 4096); err == nil && string(p) != "x" {
			t.Fatalf("Open(%q) = %q: a value nobody sealed opened", v, p)
		}
	})
}
