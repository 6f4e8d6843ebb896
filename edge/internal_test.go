package edge

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/mizan-afi/mizan/protocol"
)

func TestSign(t *testing.T) {
	key := []byte("0123456789abcdef")
	body := []byte(`{"id":"00","targets":["user"],"mutation":"","caller":null}`)
	m := hmac.New(sha256.New, key)
	m.Write([]byte("1767225600." + string(body)))
	want := "v1=" + hex.EncodeToString(m.Sum(nil))
	if got := Sign(key, 1767225600, body); got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
	if Sign(key, 1767225601, body) == want {
		t.Error("the timestamp is not signed")
	}
}

func TestBackoffStaysWithinItsBounds(t *testing.T) {
	for _, c := range []struct{ min, max time.Duration }{
		{DefaultMinBackoff, DefaultMaxBackoff},
		{time.Millisecond, time.Millisecond},
		{3 * time.Millisecond, 7 * time.Millisecond},
		{time.Second, 1<<63 - 1},
	} {
		p := &Purger{s: settings{minBackoff: c.min, maxBackoff: c.max}}
		for attempt := 1; attempt < 200; attempt++ {
			for range 20 {
				d := p.backoff(attempt)
				if d < c.min || d > c.max {
					t.Fatalf("[%v, %v] attempt %d: backoff %v", c.min, c.max, attempt, d)
				}
			}
		}
	}
	// It grows: the fifth retry waits at least eight times the first's half.
	p := &Purger{s: settings{minBackoff: 10 * time.Millisecond, maxBackoff: time.Hour}}
	if d := p.backoff(5); d < 80*time.Millisecond || d > 160*time.Millisecond {
		t.Errorf("backoff(5) = %v, want within [80ms, 160ms]", d)
	}
}

func TestAcknowledged(t *testing.T) {
	cases := []struct {
		status int
		body   string
		want   bool
	}{
		{200, `{"ok":true}`, true},
		{200, ``, true},
		{409, `{"error":{"code":"replayed","message":"already applied"}}`, true},
		{409, `{"error":{"code":"conflict","message":"no"}}`, false},
		{409, `{"error":{"code":"replayed"`, false},
		{409, ``, false},
		{204, ``, false},
		{201, ``, false},
		{401, `{"error":{"code":"replayed"}}`, false},
		{503, ``, false},
	}
	for _, c := range cases {
		if got := acknowledged(c.status, []byte(c.body)); got != c.want {
			t.Errorf("acknowledged(%d, %s) = %v", c.status, c.body, got)
		}
	}
}

// FuzzAcknowledged: reading the edge's response never panics, and only a
// 200 or a 409 whose envelope says replayed acknowledges a post.
func FuzzAcknowledged(f *testing.F) {
	f.Add(200, []byte(`{"ok":true}`))
	f.Add(409, []byte(`{"error":{"code":"replayed","message":"x"}}`))
	f.Add(409, []byte(`{"error":{"code":"conflict"}}`))
	f.Add(409, []byte(`{"error":null}`))
	f.Add(409, []byte(`{"error":{"code":7}}`))
	f.Add(500, []byte(`{"error":{"code":"replayed"}}`))
	f.Add(409, []byte("\xff"))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		got := acknowledged(status, body)
		var env struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		replayed := json.Unmarshal(body, &env) == nil && env.Error.Code == "replayed"
		want := status == http.StatusOK || (status == http.StatusConflict && replayed)
		if got != want {
			t.Errorf("acknowledged(%d, %q) = %v, want %v", status, body, got, want)
		}
	})
}

// FuzzBody: whatever the targets, mutation and caller, the body is one
// JSON object of the four members, the targets in order, each once, a
// scoped target left out where its context's broad one is posted.
func FuzzBody(f *testing.F) {
	f.Add("update_profile", "7", true, "user", "user_id", int64(5))
	f.Add("", "", false, "a", "", int64(0))
	f.Add("m", "\"<\xff>\u2028", true, "b.c-d_e", "p", int64(-1))
	f.Fuzz(func(t *testing.T, mutation, caller string, hasCaller bool, ctx, param string, value int64) {
		given := []protocol.Target{
			{Context: ctx, Params: map[string]any{param: value}},
			{Context: "x", Function: ctx},
			{Context: ctx},
			{Context: "x", Function: ctx},
		}
		var targets []target
		var want []string
		// A plain broad target (no params, no function) of a context
		// covers every other target of that context in the post.
		covered := func(tg protocol.Target) bool {
			for _, o := range given {
				if o.Context == tg.Context && o.Function == "" && len(o.Params) == 0 {
					if _, err := o.MarshalJSON(); err == nil {
						return !(tg.Function == "" && len(tg.Params) == 0)
					}
				}
			}
			return false
		}
		for _, tg := range given {
			b, err := tg.MarshalJSON()
			if err != nil {
				continue
			}
			targets = append(targets, target{context: tg.Context, json: b})
			if !slices.Contains(want, string(b)) && !covered(tg) {
				want = append(want, string(b))
			}
		}
		if len(targets) == 0 {
			return
		}
		e := &entry{mutation: mutation, caller: caller, hasCaller: hasCaller, targets: targets}
		b := appendBody(nil, "0123456789abcdef0123456789abcdef", []*entry{e})
		var msg struct {
			ID       string            `json:"id"`
			Targets  []protocol.Target `json:"targets"`
			Mutation string            `json:"mutation"`
			Caller   *string           `json:"caller"`
		}
		if err := protocol.UnmarshalStrict(b, &msg); err != nil {
			t.Fatalf("body %s: %v", b, err)
		}
		var got []string
		for _, tg := range msg.Targets {
			j, err := tg.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, string(j))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("body %s: targets %q, want %q", b, got, want)
		}
		var wantMutation, wantCaller string
		m, _ := json.Marshal(mutation)
		c, _ := json.Marshal(caller)
		_ = json.Unmarshal(m, &wantMutation)
		_ = json.Unmarshal(c, &wantCaller)
		if msg.ID != "0123456789abcdef0123456789abcdef" || msg.Mutation != wantMutation || (msg.Caller != nil) != hasCaller || (hasCaller && *msg.Caller != wantCaller) {
			t.Fatalf("body %s", b)
		}
	})
}
