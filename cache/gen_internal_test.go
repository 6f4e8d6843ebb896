package cache

import (
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
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

// testClock is a clock for the memory backend that tests advance.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Generations' lifetimes by the memory backend's clock: those of a
// parameter's value and of a caller last GenerationTTL after a lookup that
// stores nothing, and as long as the entries stored under them; those of
// the context and of a parameter's lack never expire; and one that expires
// while its entry is still there makes the next lookup a miss that stores
// fresh data.
func TestGenerationLifetimes(t *testing.T) {
	clk := &testClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	m := NewMemory(MemoryOptions{Now: clk.Now})
	c, err := New(Options{Backend: m, Secret: []byte("test-secret-32-bytes-long-000000"), Admission: AdmitAlways})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := t.Context()
	inst := Instance{Context: "orders", Params: []Param{{"page", "1"}, {"user_id", "5"}}, Scopes: []string{"status", "user_id"}, User: "7"}
	l, err := c.lookupOf(inst)
	if err != nil {
		t.Fatal(err)
	}
	// keys: entry, context, status lacking, user_id=5, user 7.
	present := func() string {
		t.Helper()
		vals, _ := m.GetMulti(ctx, l.keys...)
		var s []string
		for i, v := range vals {
			if v != nil {
				s = append(s, []string{"entry", "ctx", "lack", "value", "user"}[i])
			}
		}
		return strings.Join(s, " ")
	}
	if !slices.Equal(l.mortal, []bool{false, false, true, true}) || !slices.Equal(l.extend, l.keys[3:]) {
		t.Fatalf("mortal %v, extend %q", l.mortal, l.extend)
	}

	// A lookup whose fetch fails: nothing is stored.
	if e := c.Get(ctx, inst); e.Status != Miss {
		t.Fatalf("first lookup: %s", e.Status)
	}
	clk.Advance(DefaultGenerationTTL - time.Nanosecond)
	if got, want := present(), "ctx lack value user"; got != want {
		t.Errorf("just before GenerationTTL: %q, want %q", got, want)
	}
	clk.Advance(time.Nanosecond)
	if got, want := present(), "ctx lack"; got != want {
		t.Errorf("at GenerationTTL: %q, want %q", got, want)
	}

	// A store for a day keeps them a day, not GenerationTTL.
	e := c.Get(ctx, inst)
	c.Put(ctx, e, []byte("v1"), 24*time.Hour)
	clk.Advance(24*time.Hour - time.Nanosecond)
	if got := c.Get(ctx, inst); got.Status != Hit || string(got.Value) != "v1" {
		t.Errorf("just before the entry's TTL: %s %q, want a hit", got.Status, got.Value)
	}
	clk.Advance(time.Nanosecond)
	if got, want := present(), "ctx lack"; got != want {
		t.Errorf("at the entry's TTL: %q, want %q", got, want)
	}
	clk.Advance(365 * 24 * time.Hour)
	if got, want := present(), "ctx lack"; got != want {
		t.Errorf("a year later: %q, want %q", got, want)
	}

	// A generation that expires before its entry (shortened by hand, as
	// Redis's PEXPIRE would): a miss, fresh data stored, never the old.
	for i, k := range l.keys[1:] {
		e := c.Get(ctx, inst)
		c.Put(ctx, e, []byte("old"), time.Hour)
		if got := c.Get(ctx, inst); got.Status != Hit {
			t.Fatalf("generation %d: stored, then %s", i, got.Status)
		}
		g, _ := m.GetMulti(ctx, k)
		if err := m.Set(ctx, k, g[0], time.Minute); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
		e = c.Get(ctx, inst)
		if e.Status != Miss {
			t.Fatalf("generation %d expired: %s %q, want a miss", i, e.Status, e.Value)
		}
		c.Put(ctx, e, []byte("fresh"), time.Hour)
		if got := c.Get(ctx, inst); got.Status != Hit || string(got.Value) != "fresh" {
			t.Errorf("generation %d expired, then a store: %s %q, want a hit of fresh", i, got.Status, got.Value)
		}
		clk.Advance(2 * time.Hour) // the entry and the extended generations go
	}
}
