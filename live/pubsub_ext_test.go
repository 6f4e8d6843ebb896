//go:build unix

package live_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/internal/redistest"
	"github.com/mizan-afi/mizan/live"
)

// eventually waits until cond holds, failing after waitFor; it asserts
// that something happens, never how soon.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// twoInstances starts two apps whose hubs share the Redis r, and waits
// until both are subscribed.
func twoInstances(t *testing.T, r *redistest.Server) (a, b *testApp) {
	t.Helper()
	a = newTestApp(t, appOptions{live: live.Options{RedisURL: r.URL()}})
	b = newTestApp(t, appOptions{live: live.Options{RedisURL: r.URL()}})
	eventually(t, "both hubs subscribed", func() bool { return a.hub.Stats().PubSubUp && b.hub.Stats().PubSubUp })
	return a, b
}

func TestPubSubCarriesInvalidationsBetweenInstances(t *testing.T) {
	a, b := twoInstances(t, redistest.Start(t))
	one, two := dial(t, b.url), dial(t, b.url)
	one.subscribe("user", map[string]any{"user_id": "1"})
	two.subscribe("user", map[string]any{"user_id": "2"})

	// An HTTP mutation on a reaches b's subscriber of its instance.
	a.post(t, "update_profile_http", map[string]any{"user_id": 1, "name": "Ada"})
	expect(t, one.recv(), `{"type":"invalidate","targets":[{"context":"user","params":{"user_id":1}}]}`)
	// So does a WebSocket call on a; and the user 2 subscriber's first
	// message is this one: it was sent nothing for user 1.
	c := dial(t, a.url)
	if m := c.do(map[string]any{"type": "call", "fn": "update_profile", "args": map[string]any{"user_id": 2, "name": "G"}}); m["type"] != "result" {
		t.Fatalf("call: %v", m)
	}
	expect(t, two.recv(), `{"type":"invalidate","targets":[{"context":"user","params":{"user_id":2}}]}`)

	// A client connected to b whose HTTP calls land on a (behind a load
	// balancer) is not pushed its own calls' targets.
	self := dial(t, b.url+"?client=tab-abcdefgh")
	self.subscribe("user", map[string]any{"user_id": "1"})
	a.post(t, "update_profile_http", map[string]any{"user_id": 1, "name": "Ada"}, live.HeaderClient, "tab-abcdefgh")
	expect(t, one.recv(), `{"type":"invalidate","targets":[{"context":"user","params":{"user_id":1}}]}`)
	a.post(t, "update_profile_http", map[string]any{"user_id": 1, "name": "Ada"})
	expect(t, self.recv(), `{"type":"invalidate","targets":[{"context":"user","params":{"user_id":1}}]}`)

	// (a counts a batch once Redis has answered, which may be after b has
	// received it.)
	eventually(t, "a counts 4 published", func() bool { return a.hub.Stats().Published == 4 })
	if s := a.hub.Stats(); s.Received != 0 || s.Lost != 0 {
		t.Errorf("a: %+v, want none received, none lost", s)
	}
	if s := b.hub.Stats(); s.Received != 4 || s.Published != 0 {
		t.Errorf("b: %+v, want 4 received, none published", s)
	}
}

// Across instances too, a target narrowed to its caller reaches only that
// caller's connections, and subscriptions match as their normalized
// instances: the other instance decides with what the emission computed.
func TestPubSubNarrowsToTheCallerAcrossInstances(t *testing.T) {
	a, b := twoInstances(t, redistest.Start(t))
	ada, grace, anon := dial(t, b.url, "X-User", "ada"), dial(t, b.url, "X-User", "grace"), dial(t, b.url)
	for _, c := range []*client{ada, grace, anon} {
		c.subscribe("me", nil)
	}
	anon.subscribe("user", map[string]any{"user_id": "01"})

	a.post(t, "rename_me", map[string]any{"name": "Ada L."}, "X-User", "ada")
	a.post(t, "update_profile_http", map[string]any{"user_id": 1, "name": "Ada"})
	// A sentinel everyone is pushed, published after the calls' targets:
	// what each connection is pushed before it is what the calls reached.
	if err := a.app.Invalidate(context.Background(), mizan.Target{Context: "me", Function: "my_name"}); err != nil {
		t.Fatal(err)
	}
	const sent = `{"type":"invalidate","targets":[{"context":"me","function":"my_name"}]}`
	expect(t, ada.recv(), `{"type":"invalidate","targets":["me"]}`)
	expect(t, anon.recv(), `{"type":"invalidate","targets":[{"context":"user","params":{"user_id":1}}]}`)
	for _, c := range []*client{ada, grace, anon} {
		expect(t, c.recv(), sent)
	}
}

func TestPubSubResyncsClientsAfterRedisComesBack(t *testing.T) {
	r := redistest.Start(t)
	a, b := twoInstances(t, r)
	c := dial(t, b.url)
	c.subscribe("user", map[string]any{"user_id": "1"})
	c.subscribe("orders", map[string]any{"user_id": "1"})

	r.Kill()
	eventually(t, "b notices that Redis is gone", func() bool { return !b.hub.Stats().PubSubUp })
	// This invalidation cannot reach b: Redis is down.
	a.post(t, "update_profile_http", map[string]any{"user_id": 1, "name": "lost"})
	r.Restart()

	// b subscribes again and tells its client to refetch everything it
	// watches: one broad target per subscribed context.
	expect(t, c.recv(), `{"type":"invalidate","targets":["orders","user"]}`)
	eventually(t, "both hubs subscribed again", func() bool { return a.hub.Stats().PubSubUp && b.hub.Stats().PubSubUp })
	if s := b.hub.Stats(); s.Resyncs < 1 {
		t.Errorf("b: %+v, want a resync", s)
	}

	// Invalidations flow again. (a may still announce the publish it lost,
	// which b passes on as another resync: skip those.)
	a.post(t, "update_profile_http", map[string]any{"user_id": 1, "name": "back"})
	for {
		m := c.recv()
		if fmt.Sprint(m["targets"]) == "[orders user]" {
			continue
		}
		expect(t, m, `{"type":"invalidate","targets":[{"context":"user","params":{"user_id":1}}]}`)
		break
	}
}

func TestPubSubNoticesAStalledRedis(t *testing.T) {
	defer live.SetPubSubIdle(100 * time.Millisecond)()
	r := redistest.Start(t)
	a, b := twoInstances(t, r)
	c := dial(t, b.url)
	c.subscribe("user", map[string]any{"user_id": "1"})

	// A Redis that hangs keeps its sockets open: only the unanswered ping
	// tells.
	r.Stop()
	eventually(t, "b notices that Redis does not answer", func() bool { return !b.hub.Stats().PubSubUp })
	r.Cont()
	expect(t, c.recv(), `{"type":"invalidate","targets":["user"]}`)
	eventually(t, "both hubs subscribed again", func() bool { return a.hub.Stats().PubSubUp && b.hub.Stats().PubSubUp })
}
