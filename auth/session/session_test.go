package session_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/mizan-afi/mizan/auth/session"
	"github.com/mizan-afi/mizan/auth/session/sessiontest"
	"github.com/mizan-afi/mizan/internal/redistest"
)

// clock is a settable clock for the memory store; it starts at the real
// time so that the suite's wall-clock expiries compare sensibly.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestMemory(t *testing.T) {
	c := &clock{t: time.Now()}
	sessiontest.Run(t, func(*testing.T) session.Store {
		// Each store starts at the real time, as the suite's sessions do
		// (time.Now), whatever an earlier subtest's waits advanced.
		c.mu.Lock()
		c.t = time.Now()
		c.mu.Unlock()
		return session.NewMemory(c.now)
	}, time.Minute, c.advance)
}

func TestMemorySweepsExpired(t *testing.T) {
	c := &clock{t: time.Now()}
	m := session.NewMemory(c.now)
	ctx := context.Background()
	for i := range 10 {
		_ = m.Create(ctx, session.Session{ID: string(rune('a' + i)), UserID: "1", Expires: c.now().Add(time.Second)})
	}
	c.advance(time.Minute)
	for range 1024 {
		_ = m.Create(ctx, session.Session{ID: "fresh", UserID: "1", Expires: c.now().Add(time.Hour)})
	}
	if n := m.Len(); n != 1 {
		t.Errorf("%d sessions held after a sweep, want 1", n)
	}
	if err := m.Create(ctx, session.Session{UserID: "1", Expires: c.now().Add(time.Hour)}); err == nil {
		t.Error("Create without an id succeeded")
	}
}

func TestRedis(t *testing.T) {
	srv := redistest.Start(t)
	sessiontest.Run(t, func(t *testing.T) session.Store {
		s, err := session.OpenRedis(srv.URL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Error(err)
			}
		})
		return s
	}, 150*time.Millisecond, time.Sleep)
}

func TestRedisCluster(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	client := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: c.Addrs()})
	t.Cleanup(func() { _ = client.Close() })
	sessiontest.Run(t, func(*testing.T) session.Store { return session.NewRedis(client, "test:"+session.NewID()[:8]+":") },
		150*time.Millisecond, time.Sleep)
}

func TestRedisErrors(t *testing.T) {
	if _, err := session.OpenRedis("http://nope"); err == nil {
		t.Error("OpenRedis accepted an http URL")
	}
	srv := redistest.Start(t)
	s, err := session.OpenRedis(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	// A key that is not a session hash is reported, not misread.
	if _, err := redistest.Do(srv.Addr, "HSET", session.DefaultRedisPrefix+"junk", "x", "1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "junk"); err == nil || errors.Is(err, session.ErrNotFound) {
		t.Errorf("Get of a malformed hash: %v", err)
	}
	srv.Kill()
	if _, err := s.Get(ctx, "a"); err == nil || errors.Is(err, session.ErrNotFound) {
		t.Errorf("Get with Redis down: %v, want a connection error", err)
	}
	if err := s.Create(ctx, session.Session{ID: "a", UserID: "1", Expires: time.Now().Add(time.Hour)}); err == nil {
		t.Error("Create with Redis down succeeded")
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := session.NewID()
		if len(id) != 43 || seen[id] {
			t.Fatalf("NewID = %q (len %d, seen %v)", id, len(id), seen[id])
		}
		seen[id] = true
	}
}
