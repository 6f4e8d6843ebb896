package live

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"reflect"
	"strconv"
	"testing"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/protocol"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// testHub is a hub with connections but no sockets: deliver queues each
// connection's message in its out channel, which the test reads.
func testHub() *Hub {
	return &Hub{
		logger: discard,
		subs:   map[string]map[*subscription]struct{}{},
		conns:  map[*conn]struct{}{},
	}
}

// testConn adds a connection of client key, signed in as caller (nil:
// anonymous), to h.
func testConn(h *Hub, key string, caller *mizan.Identity) *conn {
	c := &conn{h: h, key: key, out: make(chan []byte, 4), subs: map[string]*subscription{}}
	c.caller = caller
	h.conns[c] = struct{}{}
	return c
}

// watch subscribes c to inst, as a subscribe message that CheckContext
// accepted would.
func watch(c *conn, inst protocol.Instance) {
	s := &subscription{c: c, inst: inst, caller: c.caller}
	c.subs[strconv.Itoa(len(c.subs))] = s
	c.h.addSub(s)
}

// pushedRaw returns the message c was pushed (nil when nothing), and
// fails when it was pushed more than one.
func pushedRaw(t *testing.T, c *conn) []byte {
	select {
	case msg := <-c.out:
		select {
		case <-c.out:
			t.Fatalf("connection %s was pushed two messages for one invalidation", c.key)
		default:
		}
		return msg
	default:
		return nil
	}
}

// pushed returns the targets c was pushed (nil when nothing), and fails
// when it was pushed more than one message.
func pushed(t *testing.T, c *conn) []any {
	t.Helper()
	var got []any
	for n := 0; ; n++ {
		select {
		case msg := <-c.out:
			if n > 0 {
				t.Fatalf("connection %s was pushed two messages for one invalidation", c.key)
			}
			var m struct {
				Type    string `json:"type"`
				Targets []any  `json:"targets"`
			}
			if err := json.Unmarshal(msg, &m); err != nil || m.Type != "invalidate" {
				t.Fatalf("pushed %s (%v)", msg, err)
			}
			got = m.Targets
		default:
			return got
		}
	}
}

// deliveryOf is the delivery Hub.Invalidate makes of inv, with the normal
// forms the emission step would have computed.
func deliveryOf(t testing.TB, inv mizan.Invalidation, skip string) delivery {
	t.Helper()
	if inv.Normal == nil {
		for _, tg := range inv.Targets {
			n, err := protocol.Normalize(tg)
			if err != nil {
				t.Fatal(err)
			}
			inv.Normal = append(inv.Normal, n)
		}
	}
	return newDelivery(inv, skip)
}

func inst(context string, kv ...string) protocol.Instance {
	in := protocol.Instance{Context: context}
	for i := 0; i+1 < len(kv); i += 2 {
		in.Params = append(in.Params, protocol.Param{Name: kv[i], Value: kv[i+1]})
	}
	protocol.SortParams(in.Params)
	return in
}

func TestDeliverNarrowsAndMatches(t *testing.T) {
	h := testHub()
	ada, grace := &mizan.Identity{ID: "ada"}, &mizan.Identity{ID: "grace"}
	adaTab, adaOther := testConn(h, "ada-tab-1", ada), testConn(h, "ada-tab-2", ada)
	graceTab, anon := testConn(h, "grace-tab", grace), testConn(h, "anon-tab", nil)
	for _, c := range []*conn{adaTab, adaOther, graceTab, anon} {
		watch(c, inst("me"))
		watch(c, inst("user", "user_id", "1"))
	}
	watch(anon, inst("orders", "user_id", "1")) // every status

	me := mizan.Target{Context: "me"}
	user1 := mizan.Target{Context: "user", Params: map[string]any{"user_id": 1}}
	user2 := mizan.Target{Context: "user", Function: "user_profile", Params: map[string]any{"user_id": int64(2)}}
	open := mizan.Target{Context: "orders", Params: map[string]any{"user_id": 1, "status": "open"}}
	inv := mizan.Invalidation{
		Targets:      []mizan.Target{me, user1, user2, open},
		CallerScoped: []bool{true, false, false, false},
		Caller:       ada,
	}
	h.deliver(deliveryOf(t, inv, "ada-tab-1"))
	want := map[*conn][]any{
		adaTab:   nil,                                 // its own call
		adaOther: {"me", jsonOf(t, user1)},            // the caller's other connection: the narrowed target too
		graceTab: {jsonOf(t, user1)},                  // not the caller: not the narrowed target
		anon:     {jsonOf(t, user1), jsonOf(t, open)}, // anonymous: never a narrowed target
	}
	for c, w := range want {
		if got := pushed(t, c); !reflect.DeepEqual(got, w) {
			t.Errorf("%s: pushed %v, want %v", c.key, got, w)
		}
	}

	// Without a caller nothing is narrowed: the target goes to every
	// subscription of its context.
	inv.Caller = nil
	h.deliver(deliveryOf(t, inv, ""))
	for _, c := range []*conn{adaTab, adaOther, graceTab, anon} {
		if got := pushed(t, c); len(got) == 0 || got[0] != "me" {
			t.Errorf("%s: pushed %v, want the broad target first", c.key, got)
		}
	}
}

func jsonOf(t testing.TB, tg mizan.Target) any {
	t.Helper()
	b, err := json.Marshal(tg)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// Across instances a message carries the normal forms and the narrowing:
// the receiving hub decides exactly as the sending one.
func TestEnvelopeCarriesWhatTheEmissionComputed(t *testing.T) {
	inv := mizan.Invalidation{
		Targets: []mizan.Target{
			{Context: "me"},
			{Context: "user", Function: "user_profile", Params: map[string]any{"user_id": 1, "flag": true}},
		},
		CallerScoped: []bool{true, false},
		Caller:       &mizan.Identity{ID: "ada"},
	}
	d := deliveryOf(t, inv, "tab-12345678")
	b, err := json.Marshal(envelopeOf("o1", d))
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"o":"o1","s":"tab-12345678","t":["me",{"context":"user","function":"user_profile","params":{"flag":true,"user_id":1}}],` +
		`"n":[{"c":"me"},{"c":"user","f":"user_profile","p":[["flag","true"],["user_id","1"]]}],"w":[0],"u":"ada"}`
	if string(b) != want {
		t.Errorf("message\n got %s\nwant %s", b, want)
	}
	var e envelope
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	got := e.delivery()
	if !reflect.DeepEqual(got.normal, d.normal) || !reflect.DeepEqual(got.narrowed, d.narrowed) || got.caller != "ada" || got.skip != d.skip {
		t.Errorf("received %+v, want %+v", got, d)
	}

	// Nothing narrowed: no caller id travels.
	inv.Caller = nil
	if b, _ := json.Marshal(envelopeOf("o1", deliveryOf(t, inv, ""))); containsKey(t, b, "u") || containsKey(t, b, "w") {
		t.Errorf("un-narrowed message names a caller: %s", b)
	}

	// A message of an older instance (no "n") is normalized on receipt;
	// indices out of range are ignored.
	old := `{"o":"o2","t":[{"context":"user","params":{"user_id":1}}],"w":[5,-1]}`
	if err := json.Unmarshal([]byte(old), &e); err != nil {
		t.Fatal(err)
	}
	got = e.delivery()
	if want := []protocol.Normal{{Context: "user", Params: []protocol.Param{{Name: "user_id", Value: "1"}}}}; !reflect.DeepEqual(got.normal, want) || got.narrowed != nil {
		t.Errorf("older message: %+v", got)
	}
}

func containsKey(t *testing.T, b []byte, key string) bool {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	_, ok := m[key]
	return ok
}

// fuzzReader turns fuzz bytes into small choices.
type fuzzReader struct{ b []byte }

func (r *fuzzReader) pick(n int) int {
	if len(r.b) == 0 {
		return 0
	}
	v := int(r.b[0]) % n
	r.b = r.b[1:]
	return v
}

// The vocabulary of FuzzHubMatchesProtocol: few names, and values whose
// wire strings collide ("1" and 1) or nearly do ("01" and 1).
var (
	fuzzContexts = []string{"a", "b"}
	fuzzParams   = []string{"x", "y", "z"}
	fuzzValues   = []any{"1", 1, int64(-1), "01", "2", 2, true, "true", "false", ""}
	fuzzWire     = []string{"1", "-1", "01", "2", "true", "false", ""}
	fuzzCallers  = []*mizan.Identity{nil, {ID: "ada"}, {ID: "grace"}}
)

// specMatch is the matching rule as docs/spec.md §3 words it, written here
// independently of package protocol: T matches the instance (C, P) iff
// T.context == C and, for every param k of T, P has no k or
// P[k] == str(T.params[k]).
func specMatch(t mizan.Target, context string, p map[string]string) bool {
	if t.Context != context {
		return false
	}
	for k, v := range t.Params {
		var s string
		switch v := v.(type) {
		case string:
			s = v
		case int:
			s = strconv.Itoa(v)
		case int64:
			s = strconv.FormatInt(v, 10)
		case bool:
			s = strconv.FormatBool(v)
		default:
			panic("unexpected value")
		}
		if pv, ok := p[k]; ok && pv != s {
			return false
		}
	}
	return true
}

// FuzzHubMatchesProtocol checks the hub's delivery decision against the
// matching rule: for random targets (broad, scoped, function-level, some
// narrowed to a random caller) and random subscriptions of connections
// signed in as random callers, each connection is pushed exactly the
// targets, in order, that match one of its subscriptions by the rule of
// docs/spec.md §3 (and by protocol.Match, which must agree), less the
// narrowed ones when it is not signed in as their caller, and nothing when
// it is the client whose call it was.
func FuzzHubMatchesProtocol(f *testing.F) {
	for _, s := range []string{"", "\x01\x02\x03\x04\x05\x06\x07\x08\x09", "\x03\x00\x01\x01\x00\x00\x02\x01\x01\x00\x03\x01\x01\x00\x00\x01",
		"\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\xf7\xf6\xf5\xf4\xf3\xf2\xf1\xf0\xef\xee\xed\xec\xeb\xea"} {
		f.Add([]byte(s))
	}
	f.Fuzz(checkDelivery)
}

// checkDelivery is one run of FuzzHubMatchesProtocol.
func checkDelivery(t *testing.T, data []byte) {
	r := &fuzzReader{b: data}
	h := testHub()
	nconns := 1 + r.pick(4)
	conns := make([]*conn, nconns)
	type sub struct {
		context string
		params  map[string]string
		inst    protocol.Instance
	}
	subs := map[*conn][]sub{}
	for i := range conns {
		conns[i] = testConn(h, "client-"+strconv.Itoa(i), fuzzCallers[r.pick(len(fuzzCallers))])
		for range r.pick(3) {
			in := protocol.Instance{Context: fuzzContexts[r.pick(len(fuzzContexts))]}
			p := map[string]string{}
			for _, name := range fuzzParams {
				if r.pick(2) == 1 {
					v := fuzzWire[r.pick(len(fuzzWire))]
					in.Params = append(in.Params, protocol.Param{Name: name, Value: v})
					p[name] = v
				}
			}
			watch(conns[i], in)
			subs[conns[i]] = append(subs[conns[i]], sub{in.Context, p, in})
		}
	}
	inv := mizan.Invalidation{Caller: fuzzCallers[r.pick(len(fuzzCallers))]}
	for range 1 + r.pick(4) {
		tg := mizan.Target{Context: fuzzContexts[r.pick(len(fuzzContexts))]}
		if r.pick(3) == 0 {
			tg.Function = "f"
		}
		for _, name := range fuzzParams {
			if r.pick(2) == 1 {
				if tg.Params == nil {
					tg.Params = map[string]any{}
				}
				tg.Params[name] = fuzzValues[r.pick(len(fuzzValues))]
			}
		}
		inv.Targets = append(inv.Targets, tg)
		inv.CallerScoped = append(inv.CallerScoped, r.pick(3) == 0)
	}
	skip := ""
	if k := r.pick(nconns + 1); k < nconns {
		skip = conns[k].key
	}
	d := deliveryOf(t, inv, skip)
	h.deliver(d)

	for _, c := range conns {
		var want []mizan.Target
		for i, tg := range inv.Targets {
			hit := false
			for _, s := range subs[c] {
				spec := specMatch(tg, s.context, s.params)
				if pm := protocol.Match(d.normal[i], s.inst); pm != spec {
					t.Fatalf("protocol.Match(%v, %v) = %v, the rule says %v", d.normal[i], s.inst, pm, spec)
				}
				hit = hit || spec
			}
			if !hit || c.key == skip || inv.Narrowed(i) && (c.caller == nil || c.caller.ID != inv.Caller.ID) {
				continue
			}
			want = append(want, tg)
		}
		var wantMsg []byte
		if len(want) > 0 {
			wantMsg, _ = appendInvalidate(nil, want)
		}
		if got := pushedRaw(t, c); !bytes.Equal(got, wantMsg) {
			t.Fatalf("connection %s (caller %v, subscriptions %v), skip %q, targets %v narrowed %v caller %v:\n pushed %s\n   want %s",
				c.key, c.caller, subs[c], skip, inv.Targets, inv.CallerScoped, inv.Caller, got, wantMsg)
		}
	}
}
