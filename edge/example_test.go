package edge_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"time"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/edge"
)

// An app's invalidations that do not pass through the edge (here one from
// a background job) are posted to it.
func ExampleAttach() {
	// A stand-in for the Worker's purge endpoint.
	posted := make(chan string, 1)
	worker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		posted <- r.Method + " " + r.URL.Path + " " + regexp.MustCompile(`"id":"[0-9a-f]{32}"`).ReplaceAllString(string(body), `"id":"…"`)
	}))
	defer worker.Close()

	app := mizan.New(mizan.Config{})
	purger, err := edge.Attach(app, edge.Config{URL: worker.URL, Secret: []byte("a secret of 16 bytes or more")})
	if err != nil {
		panic(err)
	}
	defer purger.Close(context.Background())
	if err := app.Build(); err != nil {
		panic(err)
	}

	_ = app.Invalidate(context.Background(), mizan.Target{Context: "board", Params: map[string]any{"board_id": 3}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := purger.Flush(ctx); err != nil {
		panic(err)
	}
	fmt.Println(<-posted)
	// Output:
	// POST /__mizan/purge {"id":"…","targets":[{"context":"board","params":{"board_id":3}}],"mutation":"","caller":null}
}
