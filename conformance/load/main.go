// Command load is a loopback load run of the Mizan fixture against a bare
// net/http handler doing the same work by hand, in one of two modes.
//
// By default it loads the fixture's context fetch,
// GET /api/mizan/ctx/user/?user_id=1 (-path changes the path and query);
// the bare handler serves the same bytes with the same work: route the path,
// parse and check user_id, call user_profile and user_orders (copies of the
// fixture's, on the same data), encode the bundle with encoding/json.
//
// With -call it loads a function call instead: both targets get
// POST /api/mizan/call/ with Content-Type: application/json and the body
// {"fn":"update_profile","args":{"user_id":1,"name":"Ada"}}; -fn and -args
// set the body's fn and args and imply -call. The bare handler does the work
// of the bare call handler of BenchmarkCall (bench_test.go) by hand: check
// the method and the Content-Type, decode the body with a json.Decoder
// (DisallowUnknownFields, 1 MiB http.MaxBytesReader) into a struct with
// pointer arguments, check the required arguments, call update_profile (a
// copy of the fixture's, on the same data), encode the result and its
// invalidation target with json.Marshal, and set X-Mizan-Invalidate. It
// implements update_profile only. The default name is the one user 1 already
// has, so the calls leave the data, and the bodies, as they were; another
// name in -args renames the user in both targets, a running fixture given to
// -mizan included.
//
//	go run ./conformance/load                  # both servers in this process
//	go run ./conformance/load -call            # POST call/ of update_profile
//	go run ./conformance/load -fn update_profile -args '{"user_id":2,"name":"Grace"}'
//	go run ./conformance/load -serve           # only serve both, for wrk
//	go run ./conformance/load -mizan http://127.0.0.1:8766  # a running fixture
//
// The Mizan target is conformance.NewFixture, served here, unless -mizan
// names the base URL of a fixture started with go run ./conformance/fixture.
// Both targets are real listeners on 127.0.0.1, loaded one after the other in
// alternating rounds by C keep-alive clients, each round bounded by a request
// count and a time limit. It prints requests/s and p50/p90/p99 latency per
// target, and refuses to measure unless both answer 200 with the same bytes
// (and, for a call, the same X-Mizan-Invalidate), and stops at any answer
// that is not 200 with those bytes; with -mutate, at the end of the round, at
// any mutation that fails or is not answered 200 too.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/conformance"
	"github.com/mizan-afi/mizan/conformance/internal/loadgen"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

type options struct {
	clients  int
	requests int
	limit    time.Duration
	warmup   int
	rounds   int
	path     string
	mizanURL string
	serve    bool
	mutate   time.Duration
	call     bool
	fn       string
	args     string
}

// callPath is the call endpoint under the fixture's default prefix.
const callPath = "/api/mizan/call/"

// mutateBody is the call -mutate makes: update_profile of user 1 with the
// name the fixture gave it.
const mutateBody = `{"fn":"update_profile","args":{"user_id":1,"name":"Ada"}}`

func run(ctx context.Context, args []string, stdout io.Writer) error {
	var o options
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.IntVar(&o.clients, "c", 32, "concurrent keep-alive clients")
	fs.IntVar(&o.requests, "n", 50000, "requests per target per round")
	fs.DurationVar(&o.limit, "d", 10*time.Second, "time limit per target per round")
	fs.IntVar(&o.warmup, "warmup", 2000, "unmeasured requests per target before the rounds")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds; targets alternate their order each round")
	fs.StringVar(&o.path, "path", "/api/mizan/ctx/user/?user_id=1", "path and query fetched on both targets")
	fs.StringVar(&o.mizanURL, "mizan", "", "base URL of a running Mizan fixture on loopback (default: serve one here)")
	fs.BoolVar(&o.serve, "serve", false, "only start both servers, print their URLs and wait (for wrk)")
	fs.DurationVar(&o.mutate, "mutate", 0, "while loading Mizan, call update_profile (user 1, same name: the body stays the same, the cache entry is purged) every `D`; 0: never")
	fs.BoolVar(&o.call, "call", false, "load POST "+callPath+" of -fn with -args instead of GET -path")
	fs.StringVar(&o.fn, "fn", "update_profile", "function called in call mode (the bare handler implements update_profile only); implies -call")
	fs.StringVar(&o.args, "args", `{"user_id":1,"name":"Ada"}`, "JSON object of the arguments in call mode; implies -call")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	o.call = o.call || set["fn"] || set["args"]
	if o.clients < 1 || o.requests < 1 || o.rounds < 1 || o.limit <= 0 {
		return errors.New("-c, -n, -rounds and -d must be positive")
	}
	if !strings.HasPrefix(o.path, "/") {
		return errors.New("-path must start with /")
	}
	var callBody []byte
	if o.call {
		if set["path"] {
			return errors.New("-path is for the GET mode; a call goes to " + callPath)
		}
		if o.mutate > 0 {
			return errors.New("-mutate is for the GET mode; in call mode every request is a mutation")
		}
		var err error
		if callBody, err = newCallBody(o.fn, o.args); err != nil {
			return err
		}
	}

	// MIZAN_CACHE_SECRET and MIZAN_CACHE_REDIS_URL turn the origin cache on
	// in the fixture served here, as in the fixture command.
	cfg, err := mizan.ConfigFromEnv(slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	if cfg.Cache != nil {
		defer cfg.Cache.Close()
	}
	app := conformance.NewFixture(conformance.FixtureConfig{App: cfg})
	if err := app.Build(); err != nil {
		return err
	}
	var servers []*http.Server
	defer func() {
		for _, s := range servers {
			_ = s.Close()
		}
	}()
	start := func(h http.Handler) (string, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		s := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
		servers = append(servers, s)
		go func() { _ = s.Serve(ln) }()
		return "http://" + ln.Addr().String(), nil
	}
	bareURL, err := start(bareHandler(newStore()))
	if err != nil {
		return err
	}
	mizanURL := o.mizanURL
	if mizanURL == "" {
		if mizanURL, err = start(app); err != nil {
			return err
		}
	} else if err := checkLoopback(mizanURL); err != nil {
		return err
	}

	if o.serve {
		if o.call {
			fmt.Fprintf(stdout, "mizan POST %s%s\nbare  POST %s%s\nContent-Type: application/json\n%s\n",
				strings.TrimSuffix(mizanURL, "/"), callPath, bareURL, callPath, callBody)
		} else {
			fmt.Fprintf(stdout, "mizan %s%s\nbare  %s%s\n", mizanURL, o.path, bareURL, o.path)
		}
		<-ctx.Done()
		return nil
	}

	req := request{method: http.MethodGet, path: o.path}
	if o.call {
		req = request{method: http.MethodPost, path: callPath, body: callBody, agree: []string{"X-Mizan-Invalidate"}}
	}
	targets := []*target{
		{name: "mizan", url: strings.TrimSuffix(mizanURL, "/") + req.path},
		{name: "bare", url: bareURL + req.path},
	}
	client := &http.Client{Transport: &http.Transport{
		MaxIdleConns:        2 * o.clients,
		MaxIdleConnsPerHost: o.clients,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()

	want, err := sameBody(ctx, client, targets, req)
	if err != nil {
		return err
	}
	for _, t := range targets {
		t.load = loadgen.Load{Client: client, Request: req.to(t.url), Want: want, Clients: o.clients, Served: mizan.HeaderCache}
	}
	fmt.Fprintf(stdout, "GOMAXPROCS %d, %d clients, up to %d requests or %s per target per round, %d rounds\n",
		runtime.GOMAXPROCS(0), o.clients, o.requests, o.limit, o.rounds)
	if o.call {
		fmt.Fprintf(stdout, "POST %s (%d bytes, application/json): %s\n", callPath, len(callBody), callBody)
	}
	fmt.Fprintf(stdout, "body (%d bytes): %s\n", len(want), want)
	for _, t := range targets {
		if _, err := t.load.Run(ctx, o.warmup, o.limit); err != nil {
			return fmt.Errorf("warming up %s: %w", t.name, err)
		}
	}
	for round := range o.rounds {
		order := targets
		if round%2 == 1 {
			order = []*target{targets[1], targets[0]}
		}
		for _, t := range order {
			runtime.GC()
			stop := func() ([]time.Duration, error) { return nil, nil }
			if t.name == "mizan" && o.mutate > 0 {
				stop = mutate(ctx, client, strings.TrimSuffix(mizanURL, "/"), o.mutate)
			}
			res, err := t.load.Run(ctx, o.requests, o.limit)
			mutations, merr := stop()
			if n := len(mutations); n > 0 {
				fmt.Fprintf(stdout, "round %d mizan: %d mutations\n", round+1, n)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			if merr != nil {
				return fmt.Errorf("%s: %w", t.name, merr)
			}
			t.total.Add(res)
			fmt.Fprintf(stdout, "round %d %-5s %s\n", round+1, t.name, line(res))
		}
	}
	fmt.Fprintln(stdout, "total")
	for _, t := range targets {
		fmt.Fprintf(stdout, "      %-5s %s\n", t.name, line(t.total))
	}
	m, b := targets[0].total, targets[1].total
	fmt.Fprintf(stdout, "mizan/bare: throughput %.3f, p50 %.3f, p99 %.3f\n",
		m.RPS()/b.RPS(), float64(m.Pct(50))/float64(b.Pct(50)), float64(m.Pct(99))/float64(b.Pct(99)))
	return nil
}

// mutate calls update_profile for user 1 with the name the fixture gave it
// every interval until the returned stop is called, which reports the
// latencies of the calls made and the first that was not 200 (which ended
// them). The name does not change, so the bundle's bytes stay the same, but
// each call purges the cached bundle of user 1 as any mutation would.
func mutate(ctx context.Context, client *http.Client, base string, every time.Duration) (stop func() ([]time.Duration, error)) {
	q := loadgen.Request{Method: http.MethodPost, URL: base + callPath, Body: []byte(mutateBody),
		Header: http.Header{conformance.HeaderTestUser: {"1"}}}
	return loadgen.Mutate(ctx, client, q, every, nil)
}

// checkLoopback refuses a target that is not on this machine's loopback.
func checkLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("-mizan: %w", err)
	}
	ip := net.ParseIP(u.Hostname())
	if u.Scheme != "http" || ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-mizan must be http://127.0.0.1:PORT (loopback only), not %q", raw)
	}
	return nil
}

// newCallBody returns the body of a call of fn with args, a JSON object:
// {"fn":FN,"args":ARGS}, with ARGS compacted.
func newCallBody(fn, args string) ([]byte, error) {
	if fn != "update_profile" {
		return nil, fmt.Errorf("-fn %q: the bare handler implements update_profile only", fn)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(args), &obj); err != nil || obj == nil {
		return nil, fmt.Errorf("-args must be a JSON object, not %q", args)
	}
	name, _ := json.Marshal(fn)
	var b bytes.Buffer
	b.WriteString(`{"fn":`)
	b.Write(name)
	b.WriteString(`,"args":`)
	if err := json.Compact(&b, []byte(args)); err != nil {
		return nil, fmt.Errorf("-args: %w", err)
	}
	b.WriteString("}")
	return b.Bytes(), nil
}

// request is what the load sends to every target: a GET of path, or a POST
// of body (application/json) to path.
type request struct {
	method string
	path   string
	body   []byte // nil for a GET
	// agree lists response headers, beyond Cache-Control and Content-Type,
	// that every target must send, and send alike.
	agree []string
}

// to is q sent to u.
func (q request) to(u string) loadgen.Request {
	return loadgen.Request{Method: q.method, URL: u, Body: q.body}
}

// sameBody sends q once to every target and returns the body they share.
func sameBody(ctx context.Context, client *http.Client, targets []*target, q request) ([]byte, error) {
	var (
		want []byte
		hdr0 http.Header
	)
	for _, t := range targets {
		status, body, hdr, err := loadgen.Send(ctx, client, q.to(t.url))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.name, err)
		}
		if status != http.StatusOK || hdr.Get("Cache-Control") != "no-store" || hdr.Get("Content-Type") != "application/json" {
			return nil, fmt.Errorf("%s answered %d (Cache-Control %q, Content-Type %q): %s",
				t.name, status, hdr.Get("Cache-Control"), hdr.Get("Content-Type"), body)
		}
		for _, k := range q.agree {
			if hdr.Get(k) == "" {
				return nil, fmt.Errorf("%s answered without %s: %s", t.name, k, body)
			}
		}
		if want == nil {
			want, hdr0 = body, hdr
			continue
		}
		if !bytes.Equal(body, want) {
			return nil, fmt.Errorf("the targets answer different bytes; nothing to compare:\n%s %s\n%s %s",
				targets[0].name, want, t.name, body)
		}
		for _, k := range q.agree {
			if hdr.Get(k) != hdr0.Get(k) {
				return nil, fmt.Errorf("the targets answer different %s; nothing to compare:\n%s %q\n%s %q",
					k, targets[0].name, hdr0.Get(k), t.name, hdr.Get(k))
			}
		}
	}
	return want, nil
}

// target is one server under load and its accumulated result.
type target struct {
	name  string
	url   string
	load  loadgen.Load
	total loadgen.Result
}

// line is r as printed: its figures and, when the answers said how the
// origin cache served them (X-Mizan-Cache), the count of each and the hit
// ratio among them.
func line(r loadgen.Result) string {
	n := r.Served.Total()
	if n == 0 {
		return r.String()
	}
	return fmt.Sprintf("%s   cache hit %d miss %d bypass %d (hit ratio %.4f)",
		r, r.Served.Hit, r.Served.Miss, r.Served.Bypass, float64(r.Served.Hit)/float64(n))
}

// The fixture's user context (docs/spec.md §7 and package conformance),
// copied for the bare handler: the same data, locking and allocations.

type profile struct {
	ID    int    `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

type order struct {
	ID    int `json:"id"`
	Total int `json:"total"`
}

type userArgs struct {
	UserID int `json:"user_id"`
}

type nameArgs struct {
	UserID int    `json:"user_id"`
	Name   string `json:"name"`
}

type okResult struct {
	OK bool `json:"ok"`
}

type store struct {
	mu     sync.RWMutex
	users  map[int]profile
	orders map[int][]order
}

func newStore() *store {
	s := &store{users: map[int]profile{}, orders: map[int][]order{}}
	for i, name := range []string{"Ada", "Grace", "Lin"} {
		id := i + 1
		s.users[id] = profile{ID: id, Name: name, Email: strings.ToLower(name) + "@example.com"}
		s.orders[id] = []order{{ID: id*100 + 1, Total: 1200}, {ID: id*100 + 2, Total: 4550}}
	}
	return s
}

var errNoUser = errors.New("no such user")

func (s *store) userProfile(_ context.Context, in userArgs) (profile, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.users[in.UserID]
	if !ok {
		return profile{}, errNoUser
	}
	return p, nil
}

func (s *store) userOrders(_ context.Context, in userArgs) ([]order, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, ok := s.users[in.UserID]; !ok {
		return nil, errNoUser
	}
	out := make([]order, 0, len(s.orders[in.UserID]))
	return append(out, s.orders[in.UserID]...), nil
}

// updateProfile changes a user's name, as the fixture's update_profile.
func (s *store) updateProfile(_ context.Context, in nameArgs) (okResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.users[in.UserID]
	if !ok {
		return okResult{}, errNoUser
	}
	p.Name = in.Name
	s.users[in.UserID] = p
	return okResult{OK: true}, nil
}

// bareHandler is GET /api/mizan/ctx/user/?user_id=N and POST
// /api/mizan/call/ of update_profile written by hand.
func bareHandler(s *store) http.Handler {
	type bundle struct {
		UserOrders  []order `json:"user_orders"`
		UserProfile profile `json:"user_profile"`
	}
	fail := func(w http.ResponseWriter, status int, code, msg string) {
		b, _ := json.Marshal(map[string]map[string]string{"error": {"code": code, "message": msg}})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(b)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/mizan/ctx/user/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		raw := r.URL.Query().Get("user_id")
		if raw == "" {
			fail(w, http.StatusBadRequest, "invalid_args", "user_id is required")
			return
		}
		id, err := strconv.Atoi(raw)
		if err != nil {
			fail(w, http.StatusBadRequest, "invalid_args", "user_id must be an integer")
			return
		}
		in := userArgs{UserID: id}
		p, err := s.userProfile(r.Context(), in)
		if err != nil {
			fail(w, http.StatusNotFound, "not_found", "no such user")
			return
		}
		o, err := s.userOrders(r.Context(), in)
		if err != nil {
			fail(w, http.StatusInternalServerError, "internal", "internal error")
			return
		}
		b, err := json.Marshal(bundle{UserOrders: o, UserProfile: p})
		if err != nil {
			fail(w, http.StatusInternalServerError, "internal", "internal error")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	})
	mux.HandleFunc(callPath+"{$}", bareCallHandler(s, fail))
	return mux
}

// bareCallHandler is POST /api/mizan/call/ for update_profile written by
// hand, as the bare call handler of BenchmarkCall (bench_test.go): read and
// decode the body, check the arguments, call the function, encode the result
// with its invalidation target in the body and the header.
func bareCallHandler(s *store, fail func(http.ResponseWriter, int, string, string)) http.HandlerFunc {
	type request struct {
		Fn   string `json:"fn"`
		Args struct {
			UserID *int    `json:"user_id"`
			Name   *string `json:"name"`
		} `json:"args"`
	}
	type target struct {
		Context string         `json:"context"`
		Params  map[string]any `json:"params"`
	}
	type response struct {
		Result     okResult `json:"result"`
		Invalidate []target `json:"invalidate"`
	}
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if r.Method != http.MethodPost {
			fail(w, http.StatusMethodNotAllowed, "method_not_allowed", "use POST")
			return
		}
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			fail(w, http.StatusBadRequest, "bad_request", "Content-Type must be application/json")
			return
		}
		var req request
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			fail(w, http.StatusBadRequest, "bad_request", "malformed body")
			return
		}
		if req.Fn != "update_profile" {
			fail(w, http.StatusNotFound, "not_found", "no such function")
			return
		}
		if req.Args.UserID == nil || req.Args.Name == nil {
			fail(w, http.StatusBadRequest, "invalid_args", "user_id and name are required")
			return
		}
		id := *req.Args.UserID
		res, err := s.updateProfile(r.Context(), nameArgs{UserID: id, Name: *req.Args.Name})
		if err != nil {
			fail(w, http.StatusNotFound, "not_found", "no such user")
			return
		}
		b, err := json.Marshal(response{
			Result:     res,
			Invalidate: []target{{Context: "user", Params: map[string]any{"user_id": id}}},
		})
		if err != nil {
			fail(w, http.StatusInternalServerError, "internal", "internal error")
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("X-Mizan-Invalidate", "user;user_id="+strconv.Itoa(id))
		_, _ = w.Write(b)
	}
}
