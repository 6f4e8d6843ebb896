package mizan_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/cache"
)

type itemArgs struct {
	ItemID int `json:"item_id"`
}

type setItemArgs struct {
	ItemID int `json:"item_id"`
	Value  int `json:"value"`
}

// TestMissAfterAPurgeNeverJoinsAnEarlierRun reproduces a stale read found
// in review: a fetch that misses after a mutation was acknowledged joined
// the run of a fetch that began before it (one singleflight per key) and
// answered the value from before the mutation. A miss now shares a run
// only with misses that saw the same generations.
func TestMissAfterAPurgeNeverJoinsAnEarlierRun(t *testing.T) {
	for _, admission := range []cache.Admission{cache.AdmitAlways, cache.AdmitSecondRequest} {
		t.Run(fmt.Sprint(admission), func(t *testing.T) {
			c, err := cache.New(cache.Options{Backend: cache.NewMemory(cache.MemoryOptions{}), Secret: []byte(testSecret),
				Admission: admission, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Close() })
			var value atomic.Int64
			var runs atomic.Int64
			read, release := make(chan struct{}), make(chan struct{})
			app := mizan.New(mizan.Config{Cache: c, Logger: slog.New(slog.DiscardHandler)})
			mizan.Query(app, func(_ context.Context, in itemArgs) (int64, error) {
				v := value.Load()
				if runs.Add(1) == 1 { // the first run read v, then is slow
					close(read)
					<-release
				}
				return v, nil
			}, mizan.Name("item"), mizan.In("item"))
			mizan.Mutation(app, func(_ context.Context, in setItemArgs) (bool, error) {
				value.Store(int64(in.Value))
				return true, nil
			}, mizan.Name("set_item"), mizan.Affects("item"))
			srv := httptest.NewServer(app)
			defer srv.Close()
			get := func() string {
				res, err := http.Get(srv.URL + "/api/mizan/ctx/item/?item_id=1")
				if err != nil {
					t.Error(err)
					return ""
				}
				defer res.Body.Close()
				b, _ := io.ReadAll(res.Body)
				return string(b)
			}
			var wg sync.WaitGroup
			var first string
			wg.Add(1)
			go func() { defer wg.Done(); first = get() }()
			<-read // the first fetch read 0 and is still running
			res, err := http.Post(srv.URL+"/api/mizan/call/", "application/json",
				strings.NewReader(`{"fn":"set_item","args":{"item_id":1,"value":1}}`))
			if err != nil || res.StatusCode != http.StatusOK {
				t.Fatalf("set_item: %v %v", err, res)
			}
			res.Body.Close()
			// The mutation is acknowledged: a fetch now must show 1, even
			// while the earlier run is still going.
			second := make(chan string, 1)
			go func() { second <- get() }()
			select {
			case got := <-second:
				if got != `{"item":1}` {
					t.Errorf("fetch after the acknowledged mutation = %s, want {\"item\":1}", got)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("the fetch after the mutation waited for the run begun before it")
			}
			close(release)
			wg.Wait()
			if first != `{"item":0}` {
				t.Errorf("the first fetch = %s, want {\"item\":0}", first)
			}
			if got := get(); got != `{"item":1}` {
				t.Errorf("a later fetch = %s, want {\"item\":1} (the early run's value must not be stored)", got)
			}
		})
	}
}
