//go:build unix

package mizan_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/cache/redis"
	"github.com/mizan-afi/mizan/internal/redistest"
)

// redisApp is the cached test app over a real redis-server.
func redisApp(t *testing.T) (*cachedApp, *redistest.Server) {
	t.Helper()
	srv := redistest.Start(t)
	b, err := redis.New(redis.Options{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	return newCachedApp(t, b), srv
}

// within fails the test when f takes longer than d.
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	start := time.Now()
	f()
	if el := time.Since(start); el > d {
		t.Errorf("%s took %v, more than %v", what, el, d)
	}
}

// waitCache polls until a fetch is answered from the cache again.
func waitCache(t *testing.T, ca *cachedApp, path string) (cacheStatus, body string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		_, st, b := ca.get(t, path)
		if st != "bypass" {
			return st, b
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the cache did not come back")
	return "", ""
}

func TestRedisCacheStalledServer(t *testing.T) {
	ca, srv := redisApp(t)
	p := "/api/mizan/ctx/user/?user_id=1"
	ca.expect(t, p, "miss", `{"user_profile":{"name":"Ada","viewer":""}}`)
	ca.expect(t, p, "hit", `{"user_profile":{"name":"Ada","viewer":""}}`)

	srv.Stop() // SIGSTOP: Redis accepts connections and answers nothing
	// Reads, concurrent ones included, fall through to the functions quickly.
	within(t, 2*time.Second, "reads during the stall", func() {
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				status, _, body := ca.get(t, p)
				if status != "200 OK" || !strings.Contains(body, `"Ada"`) {
					t.Errorf("read during the stall: %s %s", status, body)
				}
			})
		}
		wg.Wait()
	})
	// A mutation during the stall succeeds; its purge is owed.
	within(t, time.Second, "a mutation during the stall", func() {
		ca.call(t, `{"fn":"rename","args":{"user_id":1,"name":"Ryth"}}`)
	})
	ca.expect(t, p, "bypass", `{"user_profile":{"name":"Ryth","viewer":""}}`)

	srv.Cont()
	// Back in use, the old entry is unreachable: never "Ada" again.
	if st, body := waitCache(t, ca, p); body != `{"user_profile":{"name":"Ryth","viewer":""}}` {
		t.Fatalf("after the stall: %s %s (stale read)", st, body)
	}
	ca.expect(t, p, "hit", `{"user_profile":{"name":"Ryth","viewer":""}}`)
}

func TestRedisCacheKilledAndRestarted(t *testing.T) {
	ca, srv := redisApp(t)
	p := "/api/mizan/ctx/user/?user_id=2"
	ca.expect(t, p, "miss", `{"user_profile":{"name":"Grace","viewer":""}}`)
	srv.Kill()
	within(t, 2*time.Second, "requests with Redis gone", func() {
		for i := range 10 {
			status, _, body := ca.get(t, p)
			if status != "200 OK" || !strings.Contains(body, "Grace") && !strings.Contains(body, "Hopper") {
				t.Errorf("read %d with Redis gone: %s %s", i, status, body)
			}
		}
		ca.call(t, `{"fn":"rename","args":{"user_id":2,"name":"Hopper"}}`)
	})
	ca.expect(t, p, "bypass", `{"user_profile":{"name":"Hopper","viewer":""}}`)
	srv.Restart()
	if _, body := waitCache(t, ca, p); body != `{"user_profile":{"name":"Hopper","viewer":""}}` {
		t.Fatalf("after the restart: %s", body)
	}
	ca.expect(t, p, "hit", `{"user_profile":{"name":"Hopper","viewer":""}}`)
}

// TestRedisCacheSharedBetweenInstances: two app instances over one Redis
// share entries, and a mutation on one purges what the other reads.
func TestRedisCacheSharedBetweenInstances(t *testing.T) {
	srv := redistest.Start(t)
	apps := make([]*cachedApp, 2)
	for i := range apps {
		b, err := redis.New(redis.Options{URL: srv.URL()})
		if err != nil {
			t.Fatal(err)
		}
		apps[i] = newCachedApp(t, b)
	}
	p := "/api/mizan/ctx/user/?user_id=1"
	apps[0].expect(t, p, "miss", `{"user_profile":{"name":"Ada","viewer":""}}`)
	apps[1].expect(t, p, "hit", `{"user_profile":{"name":"Ada","viewer":""}}`)
	// The instances' in-memory data differ; only the purge links them.
	apps[1].call(t, `{"fn":"rename","args":{"user_id":1,"name":"Ryth"}}`)
	apps[0].expect(t, p, "miss", `{"user_profile":{"name":"Ada","viewer":""}}`)
}

func TestConfigFromEnv(t *testing.T) {
	srv := redistest.Start(t)
	cases := []struct {
		secret, url string
		cacheOn     bool
		err         string
	}{
		{"", "", false, ""},
		{strings.Repeat("s", 32), "", false, ""},
		{"", srv.URL(), false, ""},
		{"too-short", srv.URL(), false, "at least 32 bytes"},
		{strings.Repeat("s", 32), "http://nope", false, "MIZAN_CACHE_REDIS_URL"},
		{strings.Repeat("s", 32), srv.URL(), true, ""},
	}
	for i, c := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Setenv("MIZAN_CACHE_SECRET", c.secret)
			t.Setenv("MIZAN_CACHE_REDIS_URL", c.url)
			var logs strings.Builder
			cfg, err := mizan.ConfigFromEnv(slog.New(slog.NewTextHandler(&logs, nil)))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (cfg.Cache != nil) != c.cacheOn {
				t.Fatalf("cache on = %v", cfg.Cache != nil)
			}
			if warned := strings.Count(logs.String(), "origin cache off"); warned != map[bool]int{true: 0, false: 1}[c.cacheOn] {
				t.Errorf("%d warnings: %s", warned, logs.String())
			}
			if cfg.Cache != nil {
				defer cfg.Cache.Close()
				app := mizan.New(cfg)
				mizan.Query(app, userOrders, mizan.In(User))
				if err := app.Build(); err != nil {
					t.Fatal(err)
				}
				for _, want := range []string{"miss", "hit"} {
					req, _ := http.NewRequestWithContext(context.Background(), "GET", "/api/mizan/ctx/user/?user_id=1", nil)
					w := newRecorder()
					app.ServeHTTP(w, req)
					if got := w.h.Get("X-Mizan-Cache"); got != want {
						t.Errorf("X-Mizan-Cache %q, want %q", got, want)
					}
				}
			}
		})
	}
}
