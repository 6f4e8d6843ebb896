package cache_test

import (
	"encoding/json"
	"os"
	"strconv"
	"testing"
	"unicode/utf8"

	"github.com/mizan-afi/mizan/cache"
	"github.com/mizan-afi/mizan/protocol"
)

type keyVector struct {
	Name        string            `json:"name"`
	Secret      string            `json:"secret"`
	Context     string            `json:"context"`
	Params      map[string]string `json:"params"`
	ParamsTyped map[string]any    `json:"params_typed"`
	User        *string           `json:"user"`
	Rev         int               `json:"rev"`
	Canonical   string            `json:"canonical"`
	Key         string            `json:"key"`
}

func loadKeyVectors(t *testing.T) []keyVector {
	t.Helper()
	raw, err := os.ReadFile("../testdata/vectors/cache-keys.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Cases []keyVector `json:"cases"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Cases) == 0 {
		t.Fatal("no vectors")
	}
	return doc.Cases
}

func paramsOf(m map[string]string) []cache.Param {
	var ps []cache.Param
	for k, v := range m {
		ps = append(ps, cache.Param{Name: k, Value: v})
	}
	if err := cache.SortParams(ps); err != nil {
		panic(err)
	}
	return ps
}

func TestKeyVectors(t *testing.T) {
	for _, v := range loadKeyVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			params := v.Params
			if v.ParamsTyped != nil {
				// The typed input must stringify to the vector's params.
				s, err := protocol.StringParams(v.ParamsTyped)
				if err != nil {
					t.Fatal(err)
				}
				if len(s) != len(v.Params) {
					t.Fatalf("typed %v stringified to %v", v.ParamsTyped, s)
				}
				for k, want := range v.Params {
					if s[k] != want {
						t.Fatalf("typed %s = %q, want %q", k, s[k], want)
					}
				}
				params = s
			}
			user := ""
			if v.User != nil {
				user = *v.User
			}
			canon, err := cache.AppendCanonical(nil, v.Context, paramsOf(params), v.Rev, user)
			if err != nil || string(canon) != v.Canonical {
				t.Fatalf("canonical %s (%v), want %s", canon, err, v.Canonical)
			}
			key, err := cache.Derive([]byte(v.Secret), v.Context, paramsOf(params), v.Rev, user)
			if err != nil || key != v.Key {
				t.Fatalf("key %s (%v), want %s", key, err, v.Key)
			}
			if len(v.Secret) >= cache.MinSecretLen {
				k, err := cache.NewKeyer([]byte(v.Secret))
				if err != nil {
					t.Fatal(err)
				}
				if got, _ := k.Key(v.Context, paramsOf(params), v.Rev, user); got != v.Key {
					t.Fatalf("Keyer key %s, want %s", got, v.Key)
				}
			}
		})
	}
}

func TestKeyerRefusesShortSecrets(t *testing.T) {
	if _, err := cache.NewKeyer([]byte("short")); err == nil {
		t.Fatal("a 5-byte secret was accepted")
	}
	if _, err := cache.NewKeyer(make([]byte, 31)); err == nil {
		t.Fatal("a 31-byte secret was accepted")
	}
}

func TestCanonicalRefusesBadInput(t *testing.T) {
	if _, err := cache.AppendCanonical(nil, "c", []cache.Param{{"b", "1"}, {"a", "2"}}, 0, ""); err == nil {
		t.Error("unsorted params accepted")
	}
	if _, err := cache.AppendCanonical(nil, "c", []cache.Param{{"a", "\xff"}}, 0, ""); err == nil {
		t.Error("invalid UTF-8 accepted")
	}
	if err := cache.SortParams([]cache.Param{{"a", "1"}, {"a", "2"}}); err == nil {
		t.Error("duplicate names accepted")
	}
}

// FuzzCanonical checks that the canonical form is JSON that decodes back to
// its inputs, for any valid UTF-8.
func FuzzCanonical(f *testing.F) {
	f.Add("user", "user_id", "5", "7", 3)
	f.Add("search", "q", "say \"hi\"\\\n\t\x01 <&> café", "", 0)
	f.Fuzz(func(t *testing.T, ctx, name, value, user string, rev int) {
		canon, err := cache.AppendCanonical(nil, ctx, []cache.Param{{name, value}}, rev, user)
		valid := utf8.ValidString(ctx) && utf8.ValidString(name) && utf8.ValidString(value) && utf8.ValidString(user)
		if err != nil {
			if valid {
				t.Fatalf("valid UTF-8 refused: %v", err)
			}
			return
		}
		if !valid {
			t.Fatalf("invalid UTF-8 accepted: %q", canon)
		}
		var got struct {
			C string            `json:"c"`
			P map[string]string `json:"p"`
			R int               `json:"r"`
			U *string           `json:"u"`
		}
		if err := json.Unmarshal(canon, &got); err != nil {
			t.Fatalf("%s is not JSON: %v", canon, err)
		}
		if got.C != ctx || got.P[name] != value || got.R != rev || (user != "") != (got.U != nil) {
			t.Fatalf("%s decodes to %+v", canon, got)
		}
	})
}

func BenchmarkKey(b *testing.B) {
	k, _ := cache.NewKeyer([]byte("test-secret-32-bytes-long-000000"))
	params := []cache.Param{{"page", "2"}, {"status", "open"}, {"user_id", "5"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Key("orders", params, 0, "5"); err != nil {
			b.Fatal(err)
		}
	}
}

// A Keyer remembers keys it derived; the remembered key is the derived one,
// also past the bound of what it remembers.
func TestKeyerMemo(t *testing.T) {
	secret := []byte("test-secret-32-bytes-long-000000")
	k, err := cache.NewKeyer(secret)
	if err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		for i := range 5000 {
			params := []cache.Param{{Name: "user_id", Value: strconv.Itoa(i)}}
			want, _ := cache.Derive(secret, "user", params, 0, "")
			got, err := k.Key("user", params, 0, "")
			if err != nil || got != want {
				t.Fatalf("round %d, user %d: %s (%v), want %s", round, i, got, err, want)
			}
			if u, _ := k.Key("user", params, 0, "7"); u == want {
				t.Fatalf("user %d: the key for caller 7 equals the anonymous key", i)
			}
		}
	}
}

// BenchmarkKeyFresh derives a key never seen before on every iteration:
// the HMAC's full cost, without the Keyer's memo.
func BenchmarkKeyFresh(b *testing.B) {
	k, _ := cache.NewKeyer([]byte("test-secret-32-bytes-long-000000"))
	params := []cache.Param{{"page", "2"}, {"status", "open"}, {"user_id", ""}}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		params[2].Value = strconv.Itoa(i)
		if _, err := k.Key("orders", params, 0, "5"); err != nil {
			b.Fatal(err)
		}
	}
}
