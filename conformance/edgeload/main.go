// Command edgeload is a loopback load run of the Mizan fixture behind the
// @mizan/edge Worker (docs/edge.md), against the same fixture reached
// directly.
//
//	go run ./conformance/edgeload            # from the repository's root
//	go run ./conformance/edgeload -c 16 -d 5s -rounds 2 -calls 100
//
// It serves conformance.NewFixture in this process on 127.0.0.1 (with the
// in-memory origin cache unless MIZAN_CACHE_SECRET and MIZAN_CACHE_REDIS_URL
// name a Redis one, as in the fixture command), writes its edge manifest to a
// temporary file, and starts `node frontends/edge/bin/mizan-edge.mjs dev`
// with one location in front of it (workerd, through Miniflare; Node.js and
// frontends/node_modules are required, so run it from the repository's
// root after `cd frontends && npm ci`). The fixture's edge purger (package
// edge) posts every invalidation to that location's /__mizan/purge, as an
// app behind an edge does. The edge's secrets are drawn at random for the
// run; the edge is stopped (SIGTERM to its process group) when the run ends.
//
// It measures, and prints as tables at the end:
//
//  1. Hit against origin: GET /api/mizan/ctx/user/?user_id=1 from -c
//     keep-alive clients, against the origin directly (a hit of its origin
//     cache) and through the edge (a hit of the edge's cache, after the
//     freshness check with the context's Durable Object), in -rounds rounds
//     of up to -n requests or -d each, the two targets alternating which goes
//     first, after -warmup unmeasured requests each: requests/s, p50, p90 and
//     p99 latency, the ratios edge/origin and the edge's hit ratio
//     (X-Mizan-Edge: hit of all answers).
//  2. Under mutation: the edge rounds again while a mutator posts
//     update_profile(user_id=1, name="Ada") through the edge every -mutate
//     (the name user 1 already has: the bytes stay the same, every call
//     purges the entry; a tick that comes while a call is in flight is
//     dropped): requests/s, latency, the hit ratio, the number of
//     mutations and their own p50 and p90 latency.
//  3. Purge cost: -calls sequential calls of update_profile (one target) to
//     the origin and through the edge, and as many of secret (an
//     authenticated mutation without targets: the edge only passes it on),
//     interleaved one of each kind in turn, each call alone on the edge
//     (the purger's post of the previous call acknowledged, unmeasured,
//     before the next): p50 and p90 latency of each and
//     the differences edge - origin. For secret the difference is the
//     proxy hop of a call; for update_profile it is the hop plus the purge
//     the edge records before it answers; the difference of the two is the
//     purge's own share.
//
// Every answer is checked: a load answer must be 200 with the bytes of the
// first fetch, a call 200 with the bytes the origin gave it (and, through the
// edge, X-Mizan-Edge: bypass and no failed purge); anything else stops the
// run with an error. Both servers and the load share this machine's cores,
// so the figures are those of a loopback run: compare them with each other,
// not with a deployment.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"time"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/auth"
	"github.com/mizan-afi/mizan/cache"
	"github.com/mizan-afi/mizan/conformance"
	"github.com/mizan-afi/mizan/conformance/internal/edgeproc"
	"github.com/mizan-afi/mizan/conformance/internal/loadgen"
	"github.com/mizan-afi/mizan/edge"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "edgeload:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	clients  int
	requests int
	limit    time.Duration
	rounds   int
	warmup   int
	mutate   time.Duration
	calls    int
}

// The requests of the run, under the fixture's default prefix.
const (
	fetchPath  = "/api/mizan/ctx/user/?user_id=1"
	callPath   = "/api/mizan/call/"
	updateBody = `{"fn":"update_profile","args":{"user_id":1,"name":"Ada"}}`
	secretBody = `{"fn":"secret"}`
)

// edgeBin is the edge's command line tool, relative to the repository's root.
var edgeBin = filepath.Join("frontends", "edge", "bin", "mizan-edge.mjs")

func run(ctx context.Context, args []string, stdout io.Writer) error {
	var o options
	fs := flag.NewFlagSet("edgeload", flag.ContinueOnError)
	fs.IntVar(&o.clients, "c", 32, "concurrent keep-alive clients")
	fs.IntVar(&o.requests, "n", 50000, "requests per target per round")
	fs.DurationVar(&o.limit, "d", 10*time.Second, "time limit per target per round")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds; the targets alternate their order each round")
	fs.IntVar(&o.warmup, "warmup", 2000, "unmeasured requests per target before the rounds")
	fs.DurationVar(&o.mutate, "mutate", 10*time.Millisecond, "interval of the mutator's update_profile calls in the rounds under mutation")
	fs.IntVar(&o.calls, "calls", 300, "sequential calls of each kind in the purge cost measure")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.clients < 1 || o.requests < 1 || o.rounds < 1 || o.limit <= 0 || o.warmup < 0 || o.mutate <= 0 || o.calls < 1 {
		return errors.New("-c, -n, -rounds, -d, -mutate and -calls must be positive, -warmup not negative")
	}
	node, err := findEdge()
	if err != nil {
		return err
	}

	secrets := newSecrets()
	// MIZAN_CACHE_SECRET and MIZAN_CACHE_REDIS_URL turn the Redis origin
	// cache on, as in the fixture command; without them (ConfigFromEnv
	// leaves the cache off) the origin caches in memory.
	cfg, err := mizan.ConfigFromEnv(slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	originCache := "Redis (MIZAN_CACHE_REDIS_URL)"
	if cfg.Cache == nil {
		c, err := cache.New(cache.Options{Backend: cache.NewMemory(cache.MemoryOptions{}), Secret: secrets.cache})
		if err != nil {
			return err
		}
		cfg.Cache, originCache = c, "in memory"
	}
	defer func() { _ = cfg.Close() }()
	if cfg.Auth == nil {
		cfg.Auth = &auth.Config{}
	}
	if len(cfg.Auth.MWTSecret) == 0 {
		cfg.Auth.MWTSecret = secrets.mwt
	}
	secrets.mwt = cfg.Auth.MWTSecret
	app := conformance.NewFixture(conformance.FixtureConfig{App: cfg})

	edgePort, err := freePort()
	if err != nil {
		return err
	}
	edgeURL := fmt.Sprintf("http://127.0.0.1:%d", edgePort)
	purger, err := edge.Attach(app, edge.Config{URL: edgeURL, Secret: secrets.purge, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("starting the edge purger: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = purger.Close(cctx)
	}()
	if err := app.Build(); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "mizan-edgeload-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	manifest := filepath.Join(dir, "manifest.json")
	if err := app.WriteManifestFile(manifest); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: app, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	originURL := "http://" + ln.Addr().String()

	started := time.Now()
	ep, err := edgeproc.Start(ctx, edgeproc.Options{Node: node, Root: ".", Origin: originURL, Manifest: manifest,
		Port: edgePort, Locations: 1, MWTSecret: string(secrets.mwt), KeySecret: string(secrets.key), PurgeSecret: string(secrets.purge)})
	if err != nil {
		return err
	}
	defer ep.Stop()
	if ep.URLs[0] != edgeURL {
		return fmt.Errorf("the edge listens on %s, not on %s where the purger posts", ep.URLs[0], edgeURL)
	}
	fmt.Fprintf(stdout, "origin %s (origin cache %s), edge %s (1 location, ready in %v)\n",
		originURL, originCache, edgeURL, time.Since(started).Round(time.Millisecond))

	client := &http.Client{Transport: &http.Transport{
		MaxIdleConns:        4 * o.clients,
		MaxIdleConnsPerHost: o.clients + 4,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()

	origin := &target{name: "origin", url: originURL + fetchPath, header: mizan.HeaderCache}
	through := &target{name: "edge", url: edgeURL + fetchPath, header: "X-Mizan-Edge"}
	want, err := firstFetch(ctx, client, origin, through)
	if err != nil {
		return err
	}
	mutated := &target{name: "edge+mut", url: through.url, header: through.header}
	for _, t := range []*target{origin, through, mutated} {
		t.load = loadgen.Load{Client: client, Request: loadgen.Request{URL: t.url}, Want: want, Clients: o.clients, Served: t.header}
	}
	fmt.Fprintf(stdout, "GOMAXPROCS %d, %d clients, up to %d requests or %s per target per round, %d rounds\n",
		runtime.GOMAXPROCS(0), o.clients, o.requests, o.limit, o.rounds)
	fmt.Fprintf(stdout, "GET %s, body (%d bytes): %s\n", fetchPath, len(want), want)

	// 1. Hit against origin.
	fmt.Fprintln(stdout, "\n1. hit against origin")
	for _, t := range []*target{origin, through} {
		if _, err := t.load.Run(ctx, o.warmup, o.limit); err != nil {
			return fmt.Errorf("warming up %s: %w", t.name, err)
		}
	}
	for round := range o.rounds {
		order := []*target{origin, through}
		if round%2 == 1 {
			order = []*target{through, origin}
		}
		for _, t := range order {
			runtime.GC()
			res, err := t.load.Run(ctx, o.requests, o.limit)
			if err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			t.total.Add(res)
			fmt.Fprintf(stdout, "round %d %-6s %s\n", round+1, t.name, line(res))
		}
	}

	// 2. Under mutation.
	fmt.Fprintf(stdout, "\n2. through the edge, update_profile through the edge every %v\n", o.mutate)
	var mutations []time.Duration
	for round := range o.rounds {
		runtime.GC()
		stop := mutate(ctx, client, edgeURL, o.mutate)
		res, err := mutated.load.Run(ctx, o.requests, o.limit)
		lat, merr := stop()
		if err := errors.Join(err, merr); err != nil {
			return fmt.Errorf("under mutation: %w", err)
		}
		mutations = append(mutations, lat...)
		mutated.total.Add(res)
		fmt.Fprintf(stdout, "round %d %-8s %s   %d mutations (p50 %s, p90 %s)\n", round+1, mutated.name, line(res), len(lat),
			loadgen.Percentile(lat, 50).Round(time.Microsecond), loadgen.Percentile(lat, 90).Round(time.Microsecond))
	}
	slices.Sort(mutations)

	// 3. Purge cost.
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err = purger.Flush(fctx)
	cancel()
	if err != nil {
		return fmt.Errorf("the edge did not acknowledge the purges of the mutations: %w", err)
	}
	fmt.Fprintf(stdout, "\n3. %d sequential calls of each, interleaved\n", o.calls)
	kinds, err := callCost(ctx, client, purger, originURL, edgeURL, o.calls)
	if err != nil {
		return err
	}
	fctx, cancel = context.WithTimeout(ctx, 10*time.Second)
	err = purger.Flush(fctx)
	cancel()
	if err != nil {
		return fmt.Errorf("the edge did not acknowledge the purges of the calls: %w", err)
	}
	st := purger.Stats()
	fmt.Fprintf(stdout, "purger: %d posts acknowledged, %d attempts, %d failures, %d coalesced, %d pending\n",
		st.Sent, st.Attempts, st.Failures, st.Coalesced, st.Pending)

	printSummary(stdout, origin.total, through.total, mutated.total, mutations, o.mutate, kinds)
	return nil
}

// findEdge returns the path of node after checking that the edge can be
// started from the working directory.
func findEdge() (string, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return "", fmt.Errorf("the edge runs in workerd, started by Node.js: %w", err)
	}
	if _, err := os.Stat(edgeBin); err != nil {
		return "", fmt.Errorf("%s not found: run this from the repository's root (go run ./conformance/edgeload)", edgeBin)
	}
	if fi, err := os.Stat(filepath.Join("frontends", "node_modules")); err != nil || !fi.IsDir() {
		return "", errors.New("frontends/node_modules is missing: run (cd frontends && npm ci) first")
	}
	return node, nil
}

// secrets are the run's secrets, each drawn at random.
type secrets struct {
	mwt, key, purge, cache []byte
}

func newSecrets() secrets {
	draw := func() []byte {
		var b [32]byte
		_, _ = rand.Read(b[:])
		return []byte(hex.EncodeToString(b[:]))
	}
	return secrets{mwt: draw(), key: draw(), purge: draw(), cache: draw()}
}

// freePort returns a port free on loopback now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// firstFetch gets the fetch from the origin, then twice through the edge,
// and returns the body all three share: the edge must answer a miss, then a
// hit.
func firstFetch(ctx context.Context, client *http.Client, origin, through *target) ([]byte, error) {
	status, want, hdr, err := loadgen.Send(ctx, client, loadgen.Request{URL: origin.url})
	if err != nil {
		return nil, fmt.Errorf("origin: %w", err)
	}
	if status != http.StatusOK || hdr.Get("Content-Type") != "application/json" {
		return nil, fmt.Errorf("origin answered %d (Content-Type %q): %s", status, hdr.Get("Content-Type"), want)
	}
	for i, wantEdge := range []string{"miss", "hit"} {
		status, body, hdr, err := loadgen.Send(ctx, client, loadgen.Request{URL: through.url})
		if err != nil {
			return nil, fmt.Errorf("edge: %w", err)
		}
		if status != http.StatusOK || !bytes.Equal(body, want) {
			return nil, fmt.Errorf("edge answered %d: %s, the origin %s", status, body, want)
		}
		if got := hdr.Get("X-Mizan-Edge"); got != wantEdge {
			return nil, fmt.Errorf("edge fetch %d: X-Mizan-Edge %q, want %q", i+1, got, wantEdge)
		}
	}
	return want, nil
}

// target is one URL under load, the header that tells how it was served,
// its load and the accumulated result of its rounds.
type target struct {
	name   string
	url    string
	header string // X-Mizan-Edge or X-Mizan-Cache
	load   loadgen.Load
	total  loadgen.Result
}

// hitRatio is the share of hits among all answers of r.
func hitRatio(r loadgen.Result) float64 {
	if r.Requests == 0 {
		return 0
	}
	return float64(r.Served.Hit) / float64(r.Requests)
}

// line is r as printed in a round: its figures and, when the answers said
// how they were served, the count of each and the hit ratio.
func line(r loadgen.Result) string {
	if r.Served.Total() == 0 {
		return r.String()
	}
	return fmt.Sprintf("%s   hit %d miss %d bypass %d (hit ratio %.4f)",
		r, r.Served.Hit, r.Served.Miss, r.Served.Bypass, hitRatio(r))
}

// mutate posts update_profile for user 1 with the name the fixture gave it
// through the edge at base every interval (a time.Ticker: ticks that come
// while a call is in flight are dropped) until the returned stop is called,
// which reports the latencies of the calls made, sorted, and the first call
// that was not 200 through the edge with its purge recorded. The name does
// not change, so the bundle's bytes stay the same, but each call purges the
// cached bundle of user 1 as any mutation would.
func mutate(ctx context.Context, client *http.Client, base string, every time.Duration) (stop func() ([]time.Duration, error)) {
	q := loadgen.Request{Method: http.MethodPost, URL: base + callPath, Body: []byte(updateBody)}
	return loadgen.Mutate(ctx, client, q, every, func(status int, body []byte, hdr http.Header) error {
		return checkCall(status, body, hdr, true, true)
	})
}

// checkCall checks the answer to a call: 200, X-Mizan-Invalidate present
// when targets are expected (absent otherwise) and, through the edge, a
// bypass whose purge did not fail.
func checkCall(status int, body []byte, hdr http.Header, targets, throughEdge bool) error {
	if status != http.StatusOK {
		return fmt.Errorf("answer %d: %s", status, body)
	}
	if inv := hdr.Get("X-Mizan-Invalidate"); (inv != "") != targets {
		return fmt.Errorf("X-Mizan-Invalidate %q (targets expected: %v): %s", inv, targets, body)
	}
	if throughEdge {
		if got := hdr.Get("X-Mizan-Edge"); got != "bypass" {
			return fmt.Errorf("X-Mizan-Edge %q, want bypass: %s", got, body)
		}
		if got := hdr.Get("X-Mizan-Edge-Purge"); got != "" {
			return fmt.Errorf("X-Mizan-Edge-Purge %q: %s", got, body)
		}
	}
	return nil
}

// callKind is one kind of sequential call of the purge cost measure and
// the sorted latencies of its calls.
type callKind struct {
	name    string
	req     loadgen.Request
	targets bool // answered with X-Mizan-Invalidate
	edge    bool // through the edge
	want    []byte
	lat     []time.Duration
}

// callCost makes m calls of each kind, one by one: update_profile (one
// target) and secret (no target, X-Test-User: 1) at the origin and through
// the edge, in an order rotated each iteration. After each call it waits,
// unmeasured, until purger has posted the call's invalidation to the edge
// and the edge has acknowledged it, so that no call shares the edge with
// the previous one's purge post. It checks every answer against the
// origin's first answer of the same call.
func callCost(ctx context.Context, client *http.Client, purger *edge.Purger, originURL, edgeURL string, m int) ([]*callKind, error) {
	post := func(base, body string, header http.Header) loadgen.Request {
		return loadgen.Request{Method: http.MethodPost, URL: base + callPath, Body: []byte(body), Header: header}
	}
	user := http.Header{conformance.HeaderTestUser: {"1"}}
	kinds := []*callKind{
		{name: "update_profile origin", req: post(originURL, updateBody, nil), targets: true},
		{name: "update_profile edge", req: post(edgeURL, updateBody, nil), targets: true, edge: true},
		{name: "secret origin", req: post(originURL, secretBody, user)},
		{name: "secret edge", req: post(edgeURL, secretBody, user), edge: true},
	}
	call := func(k *callKind) (time.Duration, error) {
		t0 := time.Now()
		status, body, hdr, err := loadgen.Send(ctx, client, k.req)
		d := time.Since(t0)
		if err == nil {
			err = checkCall(status, body, hdr, k.targets, k.edge)
		}
		if err == nil && k.want != nil && !bytes.Equal(body, k.want) {
			err = fmt.Errorf("answer %s, the origin's %s", body, k.want)
		}
		if err == nil {
			fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			if err = purger.Flush(fctx); err != nil {
				err = fmt.Errorf("the edge did not acknowledge the purge post: %w", err)
			}
			cancel()
		}
		if err != nil {
			return 0, fmt.Errorf("%s: %w", k.name, err)
		}
		if k.want == nil {
			k.want = body
		}
		return d, nil
	}
	// The origin's answer first, then a few unmeasured calls of each kind.
	for range 20 {
		for i, k := range kinds {
			if _, err := call(k); err != nil {
				return nil, err
			}
			if i%2 == 0 {
				kinds[i+1].want = k.want
			}
		}
	}
	for i := range m {
		for j := range kinds {
			k := kinds[(i+j)%len(kinds)]
			d, err := call(k)
			if err != nil {
				return nil, err
			}
			k.lat = append(k.lat, d)
		}
	}
	for _, k := range kinds {
		slices.Sort(k.lat)
	}
	return kinds, nil
}

// us formats d in microseconds.
func us(d time.Duration) string { return fmt.Sprintf("%d µs", d.Microseconds()) }

// printSummary prints the tables of the three measures, in Markdown.
func printSummary(w io.Writer, origin, through, mutated loadgen.Result, mutations []time.Duration, every time.Duration, kinds []*callKind) {
	row := func(name string, r loadgen.Result, extra string) {
		fmt.Fprintf(w, "| %s | %d | %.0f | %s | %s | %s | %s |\n", name, r.Requests, r.RPS(),
			us(r.Pct(50)), us(r.Pct(90)), us(r.Pct(99)), extra)
	}
	served := func(r loadgen.Result) string {
		return fmt.Sprintf("hit %d, miss %d, bypass %d: hit ratio %.4f",
			r.Served.Hit, r.Served.Miss, r.Served.Bypass, hitRatio(r))
	}
	fmt.Fprintf(w, "\nsummary\n\n| target | requests | req/s | p50 | p90 | p99 | served |\n|---|---:|---:|---:|---:|---:|---|\n")
	row("origin", origin, "origin cache "+served(origin))
	row("edge", through, "edge "+served(through))
	row(fmt.Sprintf("edge, update_profile every %v (%d mutations, %.0f/s, p50 %s, p90 %s)", every,
		len(mutations), float64(len(mutations))/mutated.Elapsed.Seconds(), us(loadgen.Percentile(mutations, 50)), us(loadgen.Percentile(mutations, 90))),
		mutated, "edge "+served(mutated))
	ratio := func(a, b time.Duration) float64 { return float64(a) / float64(b) }
	fmt.Fprintf(w, "\nedge/origin: throughput %.3f, p50 %.2f, p90 %.2f, p99 %.2f\n",
		through.RPS()/origin.RPS(), ratio(through.Pct(50), origin.Pct(50)),
		ratio(through.Pct(90), origin.Pct(90)), ratio(through.Pct(99), origin.Pct(99)))
	fmt.Fprintf(w, "under mutation/without: throughput %.3f, p50 %.2f\n",
		mutated.RPS()/through.RPS(), ratio(mutated.Pct(50), through.Pct(50)))

	fmt.Fprintf(w, "\n| call | calls | p50 | p90 |\n|---|---:|---:|---:|\n")
	for _, k := range kinds {
		fmt.Fprintf(w, "| %s | %d | %s | %s |\n", k.name, len(k.lat), us(loadgen.Percentile(k.lat, 50)), us(loadgen.Percentile(k.lat, 90)))
	}
	diff := func(o, e *callKind, p float64) time.Duration {
		return loadgen.Percentile(e.lat, p) - loadgen.Percentile(o.lat, p)
	}
	up50, up90 := diff(kinds[0], kinds[1], 50), diff(kinds[0], kinds[1], 90)
	se50, se90 := diff(kinds[2], kinds[3], 50), diff(kinds[2], kinds[3], 90)
	fmt.Fprintf(w, "\nedge - origin: update_profile (proxy hop + purge) p50 %s, p90 %s; secret (proxy hop) p50 %s, p90 %s\n",
		us(up50), us(up90), us(se50), us(se90))
	fmt.Fprintf(w, "the purge's own share: p50 %s, p90 %s\n", us(up50-se50), us(up90-se90))
}
