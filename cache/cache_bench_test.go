package cache_test

import (
	"context"
	"log/slog"
	"strconv"
	"testing"

	"github.com/mizan-afi/mizan/cache"
)

func benchCache(b *testing.B) *cache.Cache {
	b.Helper()
	c, err := cache.New(cache.Options{Backend: cache.NewMemory(cache.MemoryOptions{}),
		Secret: []byte("test-secret-32-bytes-long-000000"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	return c
}

// BenchmarkGet measures lookups on the memory backend: hits of an anonymous
// and of a signed-in caller's entry, and a miss followed by its store.
func BenchmarkGet(b *testing.B) {
	ctx := context.Background()
	orders := cache.Instance{Context: "orders",
		Params: []cache.Param{{"page", "2"}, {"status", "open"}, {"user_id", "5"}},
		Scopes: []string{"status", "user_id"}}
	value := make([]byte, 2048)
	for _, bc := range []struct {
		name string
		user string
	}{{"HitAnonymous", ""}, {"HitUser", "42"}} {
		b.Run(bc.name, func(b *testing.B) {
			c := benchCache(b)
			inst := orders
			inst.User = bc.user
			e := c.Get(ctx, inst)
			c.Put(ctx, e, value, 0)
			if c.Get(ctx, inst).Status != cache.Hit {
				b.Fatal("no hit")
			}
			b.ReportAllocs()
			for b.Loop() {
				if c.Get(ctx, inst).Status != cache.Hit {
					b.Fatal("no hit")
				}
			}
		})
	}
	b.Run("MissPut", func(b *testing.B) {
		c := benchCache(b)
		insts := make([]cache.Instance, 1000)
		for i := range insts {
			insts[i] = orders
			insts[i].Params = []cache.Param{{"page", strconv.Itoa(i)}, {"status", "open"}, {"user_id", "5"}}
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if i%len(insts) == 0 {
				c.Purge(ctx, cache.Purge{Context: "orders"})
			}
			e := c.Get(ctx, insts[i%len(insts)])
			c.Put(ctx, e, value, 0)
			i++
		}
	})
}
