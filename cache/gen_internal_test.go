package cache

import (
	"regexp"
	"strings"
	"testing"
)

// hmacKey is what follows the context in a generation key: the hex HMAC
// and nothing else.
var hmacKey = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Generation keys are distinct for every (kind, context, name, value or
// lack, user), show no name, value or user, and never look like an entry
// key or start with a context's prefix.
func TestGenerationKeys(t *testing.T) {
	k, err := NewKeyer([]byte("test-secret-32-bytes-long-000000"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	add := func(what, key string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if prev, ok := seen[key]; ok {
			t.Errorf("%s and %s share the key %q", what, prev, key)
		}
		seen[key] = what
		if !strings.HasPrefix(key, "gen:") {
			t.Errorf("%s: key %q does not start with gen:", what, key)
		}
	}
	contexts := []string{"user", "user2", "u", "psr:user", "a:b"}
	for _, c := range contexts {
		add("ctx "+c, ctxGenKey(c), nil)
		for _, name := range []string{"user_id", "status", "id"} {
			for _, v := range []string{"5", "55", "", "secret-value"} {
				key, err := k.paramGenKey(c, name, v, true)
				add(c+" "+name+"="+v, key, err)
				if !hmacKey.MatchString(strings.TrimPrefix(key, "gen:p:"+c+":")) {
					t.Errorf("%q is not gen:p:%s:<hex HMAC>", key, c)
				}
			}
			key, err := k.paramGenKey(c, name, "", false)
			add(c+" no "+name, key, err)
		}
		for _, u := range []string{"42", "alice@example.com", "5"} {
			key, err := k.userGenKey(c, u)
			add(c+" user "+u, key, err)
			if !hmacKey.MatchString(strings.TrimPrefix(key, "gen:u:"+c+":")) {
				t.Errorf("%q is not gen:u:%s:<hex HMAC>", key, c)
			}
		}
		// Entry keys of the same context are elsewhere.
		for key := range seen {
			for _, c2 := range contexts {
				if strings.HasPrefix(key, ContextPrefix(c2)) {
					t.Errorf("%q starts with %q", key, ContextPrefix(c2))
				}
			}
		}
	}
	// The memo maps a message to its key whatever was derived before: an
	// entry key and a generation key of look-alike inputs stay apart.
	e1, _ := k.Key("user", []Param{{"user_id", "5"}}, 0, "")
	g1, _ := k.paramGenKey("user", "user_id", "5", true)
	e2, _ := k.Key("user", []Param{{"user_id", "5"}}, 0, "")
	g2, _ := k.paramGenKey("user", "user_id", "5", true)
	if e1 != e2 || g1 != g2 || e1 == g1 || !strings.HasPrefix(e1, "ctx:user:") || !strings.HasPrefix(g1, "gen:p:user:") {
		t.Errorf("entry %q/%q, generation %q/%q", e1, e2, g1, g2)
	}
	// A string that is not UTF-8 is refused, as for entry keys.
	if _, err := k.paramGenKey("user", "user_id", "\xff", true); err == nil {
		t.Error("a value that is not UTF-8 was accepted")
	}
	if _, err := k.userGenKey("user", "\xff"); err == nil {
		t.Error("a user that is not UTF-8 was accepted")
	}
}

// A lookup remembers its keys; a lookup of the same instance with other
// Scopes is another lookup.
func TestLookupMemo(t *testing.T) {
	c, err := New(Options{Backend: NewMemory(MemoryOptions{}), Secret: []byte("test-secret-32-bytes-long-000000")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	inst := Instance{Context: "orders", Params: []Param{{"page", "1"}, {"user_id", "5"}}, Scopes: []string{"status", "user_id"}, User: "7"}
	l1, err := c.lookupOf(inst)
	if err != nil {
		t.Fatal(err)
	}
	l2, _ := c.lookupOf(inst)
	if l1 != l2 {
		t.Error("a second lookup of an instance derived its keys again")
	}
	want := []string{"ctx:orders:", "gen:c:orders", "gen:p:orders:", "gen:p:orders:", "gen:u:orders:"}
	if len(l1.keys) != len(want) {
		t.Fatalf("keys %q", l1.keys)
	}
	for i, p := range want {
		if !strings.HasPrefix(l1.keys[i], p) {
			t.Errorf("key %d: %q, want %s…", i, l1.keys[i], p)
		}
	}
	// status is lacking, user_id is 5.
	lack, _ := c.keyer.paramGenKey("orders", "status", "", false)
	five, _ := c.keyer.paramGenKey("orders", "user_id", "5", true)
	user, _ := c.keyer.userGenKey("orders", "7")
	entry, _ := c.keyer.Key("orders", inst.Params, 0, "7")
	if l1.keys[0] != entry || l1.keys[2] != lack || l1.keys[3] != five || l1.keys[4] != user {
		t.Errorf("keys %q", l1.keys)
	}
	other := inst
	other.Scopes = []string{"user_id"}
	l3, _ := c.lookupOf(other)
	if len(l3.keys) != 4 || l3.keys[2] != five {
		t.Errorf("with other scopes: %q", l3.keys)
	}
	// A hit over the memory backend allocates nothing (the race detector's
	// instrumentation allocates on its own).
	if raceEnabled {
		return
	}
	e := c.Get(t.Context(), inst)
	c.Put(t.Context(), e, []byte("v"), 0)
	if allocs := testing.AllocsPerRun(100, func() {
		if c.Get(t.Context(), inst).Status != Hit {
			t.Fatal("no hit")
		}
	}); allocs > 0 {
		t.Errorf("a hit allocates %v times, want 0", allocs)
	}
}
