package edge_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/edge"
	"github.com/mizan-afi/mizan/protocol"
)

var secret = []byte("0123456789abcdef-purge-secret")

// attempt is one request the fake edge received, checked as the Worker
// checks it.
type attempt struct {
	n         int // 1-based, in arrival order
	timestamp int64
	body      []byte
	msg       message
}

// message is the decoded body of a purge post.
type message struct {
	ID       string            `json:"id"`
	Targets  []protocol.Target `json:"targets"`
	Mutation string            `json:"mutation"`
	Caller   *string           `json:"caller"`
}

// fakeEdge is the purge endpoint of the Worker: it verifies every request
// exactly as the Worker does (method, path, content type, timestamp,
// signature recomputed over the raw body, the body's shape) and answers
// what respond says (200 when nil).
type fakeEdge struct {
	t       *testing.T
	srv     *httptest.Server
	respond func(a attempt, w http.ResponseWriter, r *http.Request) // nil: 200

	mu       sync.Mutex
	attempts []attempt
	acked    []attempt // the attempts answered 200 by default
	now      func() time.Time
}

var idRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

func newFakeEdge(t *testing.T, respond func(a attempt, w http.ResponseWriter, r *http.Request)) *fakeEdge {
	t.Helper()
	f := &fakeEdge{t: t, respond: respond, now: time.Now}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeEdge) serve(w http.ResponseWriter, r *http.Request) {
	fail := func(format string, args ...any) {
		f.t.Errorf("fake edge: "+format, args...)
		w.WriteHeader(http.StatusBadRequest)
	}
	if r.Method != http.MethodPost || r.URL.Path != "/__mizan/purge" {
		fail("%s %s, want POST /__mizan/purge", r.Method, r.URL.Path)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		fail("Content-Type %q", ct)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		fail("reading the body: %v", err)
		return
	}
	tsRaw := r.Header.Get("X-Mizan-Timestamp")
	ts, err := strconv.ParseInt(tsRaw, 10, 64)
	if err != nil || strconv.FormatInt(ts, 10) != tsRaw {
		fail("X-Mizan-Timestamp %q is not decimal Unix seconds", tsRaw)
		return
	}
	if d := f.now().Unix() - ts; d > 300 || d < -300 {
		fail("X-Mizan-Timestamp %d is %ds off", ts, d)
		return
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(tsRaw + "." + string(body)))
	if want := "v1=" + hex.EncodeToString(mac.Sum(nil)); r.Header.Get("X-Mizan-Signature") != want {
		fail("X-Mizan-Signature %q, want %q", r.Header.Get("X-Mizan-Signature"), want)
		return
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		fail("body %s: %v", body, err)
		return
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range members {
			if !yield(k) {
				return
			}
		}
	})
	if !slices.Equal(keys, []string{"caller", "id", "mutation", "targets"}) {
		fail("body members %v", keys)
		return
	}
	var msg message
	if err := json.Unmarshal(body, &msg); err != nil {
		fail("body %s: %v", body, err)
		return
	}
	if !idRE.MatchString(msg.ID) || len(msg.Targets) == 0 {
		fail("body %s: bad id or no targets", body)
		return
	}
	if c := members["caller"]; string(c) != "null" && (len(c) == 0 || c[0] != '"') {
		fail("caller %s is neither a string nor null", c)
		return
	}
	f.mu.Lock()
	a := attempt{n: len(f.attempts) + 1, timestamp: ts, body: body, msg: msg}
	f.attempts = append(f.attempts, a)
	f.mu.Unlock()
	if f.respond != nil {
		f.respond(a, w, r)
		return
	}
	f.ack(a)
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprint(w, `{"ok":true}`)
}

// ack records a as acknowledged (respond calls it when it answers 200).
func (f *fakeEdge) ack(a attempt) {
	f.mu.Lock()
	f.acked = append(f.acked, a)
	f.mu.Unlock()
}

func (f *fakeEdge) got() (attempts, acked []attempt) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.attempts), slices.Clone(f.acked)
}

// config is a Config posting to f with short backoffs.
func (f *fakeEdge) config() edge.Config {
	return edge.Config{URL: f.srv.URL, Secret: secret, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)}
}

func newPurger(t *testing.T, cfg edge.Config) *edge.Purger {
	t.Helper()
	p, err := edge.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = p.Close(ctx)
	})
	return p
}

func flush(t *testing.T, p *edge.Purger) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v (stats %+v)", err, p.Stats())
	}
}

func scoped(context string, params map[string]any) mizan.Target {
	return mizan.Target{Context: context, Params: params}
}

// bodyWithout returns the body with its id replaced by "ID".
func bodyWithout(a attempt) string {
	return strings.Replace(string(a.body), a.msg.ID, "ID", 1)
}

func TestPostIsSignedAndHasTheBodyTheWorkerReads(t *testing.T) {
	f := newFakeEdge(t, nil)
	p := newPurger(t, f.config())
	p.Invalidate(context.Background(), mizan.Invalidation{
		Source: "update_profile",
		Caller: &mizan.Identity{ID: "7"},
		Targets: []mizan.Target{
			scoped("user", map[string]any{"user_id": 5}),
			{Context: "user", Function: "user_profile", Params: map[string]any{"user_id": 5, "tab": "a b"}},
			mizan.Target{Context: "global"},
		},
	})
	p.Invalidate(context.Background(), mizan.Invalidation{Targets: []mizan.Target{{Context: "orders"}}})
	flush(t, p)
	_, acked := f.got()
	if len(acked) != 2 {
		t.Fatalf("%d posts acknowledged, want 2", len(acked))
	}
	want := []string{
		`{"id":"ID","targets":[{"context":"user","params":{"user_id":5}},{"context":"user","function":"user_profile","params":{"tab":"a b","user_id":5}},"global"],"mutation":"update_profile","caller":"7"}`,
		`{"id":"ID","targets":["orders"],"mutation":"","caller":null}`,
	}
	for i, a := range acked {
		if got := bodyWithout(a); got != want[i] {
			t.Errorf("post %d:\n got %s\nwant %s", i, got, want[i])
		}
	}
	if acked[0].msg.ID == acked[1].msg.ID {
		t.Error("two posts share an id")
	}
	st := p.Stats()
	if st.Sent != 2 || st.Attempts != 2 || st.Failures != 0 || st.Pending != 0 || st.OldestPending != 0 || st.LastError != "" {
		t.Errorf("stats %+v", st)
	}
}

func TestPostsInOrder(t *testing.T) {
	f := newFakeEdge(t, nil)
	p := newPurger(t, f.config())
	const n = 50
	for i := range n {
		// Alternating sources: no two neighbours can share a post.
		p.Invalidate(context.Background(), mizan.Invalidation{
			Source:  "m" + strconv.Itoa(i%2),
			Targets: []mizan.Target{scoped("task", map[string]any{"task_id": i})},
		})
	}
	flush(t, p)
	_, acked := f.got()
	if len(acked) != n {
		t.Fatalf("%d posts, want %d", len(acked), n)
	}
	for i, a := range acked {
		if got := a.msg.Targets[0].Params["task_id"]; got != int64(i) || a.msg.Mutation != "m"+strconv.Itoa(i%2) {
			t.Fatalf("post %d carries task_id %v of %s", i, got, a.msg.Mutation)
		}
	}
}

// mustReturn guards code that must return while the fake edge holds its
// posts (so it cannot be waiting on the network): the returned func marks
// it done, and the test fails if that has not happened after a minute. It
// detects a hang; it measures no speed.
func mustReturn(t *testing.T, what string) (done func()) {
	t.Helper()
	ch := make(chan struct{})
	timer := time.AfterFunc(time.Minute, func() {
		select {
		case <-ch:
		default:
			t.Errorf("%s: still not returned after a minute: it waits on the edge", what)
		}
	})
	return func() { close(ch); timer.Stop() }
}

// newHeldEdge is a fake edge that holds the first post until release is
// closed (entered is closed once it arrives) and acknowledges every post.
func newHeldEdge(t *testing.T) (f *fakeEdge, entered <-chan struct{}, release chan struct{}) {
	in, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	f = newFakeEdge(t, func(a attempt, w http.ResponseWriter, r *http.Request) {
		if a.n == 1 {
			once.Do(func() { close(in) })
			<-release
		}
		f.ack(a)
	})
	return f, in, release
}

// An invalidation given while a post is under way waits for it; those of
// one mutation and caller that queue up meanwhile share the next post, in
// order, each target once.
func TestQueuedInvalidationsOfOneSourceShareAPost(t *testing.T) {
	f, entered, release := newHeldEdge(t)
	p := newPurger(t, f.config())
	caller := &mizan.Identity{ID: "ada"}
	inv := func(src string, c *mizan.Identity, targets ...mizan.Target) {
		p.Invalidate(context.Background(), mizan.Invalidation{Source: src, Caller: c, Targets: targets})
	}
	inv("first", nil, mizan.Target{Context: "a"})
	<-entered
	inv("add", caller, scoped("tasks", map[string]any{"project_id": 1}))
	inv("add", caller, scoped("tasks", map[string]any{"project_id": 2}), scoped("tasks", map[string]any{"project_id": 1}))
	inv("add", caller, mizan.Target{Context: "board"}, scoped("board", map[string]any{"id": 1}))
	inv("add", &mizan.Identity{ID: "lin"}, scoped("tasks", map[string]any{"project_id": 3}))
	inv("add", caller, scoped("tasks", map[string]any{"project_id": 4}))
	if st := p.Stats(); st.Pending != 6 || st.OldestPending < 0 {
		t.Errorf("stats while blocked %+v", st)
	}
	close(release)
	flush(t, p)
	_, acked := f.got()
	var got []string
	for _, a := range acked {
		got = append(got, bodyWithout(a))
	}
	want := []string{
		`{"id":"ID","targets":["a"],"mutation":"first","caller":null}`,
		`{"id":"ID","targets":[{"context":"tasks","params":{"project_id":1}},{"context":"tasks","params":{"project_id":2}},"board"],"mutation":"add","caller":"ada"}`,
		`{"id":"ID","targets":[{"context":"tasks","params":{"project_id":3}}],"mutation":"add","caller":"lin"}`,
		`{"id":"ID","targets":[{"context":"tasks","params":{"project_id":4}}],"mutation":"add","caller":"ada"}`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("posts\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
}

func TestRetriesAfter503WithAFreshSignature(t *testing.T) {
	var f *fakeEdge
	f = newFakeEdge(t, func(a attempt, w http.ResponseWriter, r *http.Request) {
		if a.n <= 3 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"error":{"code":"unavailable","message":"busy"}}`)
			return
		}
		f.ack(a)
	})
	var clock atomic.Int64
	clock.Store(time.Now().Unix())
	cfg := f.config()
	cfg.Now = func() time.Time { return time.Unix(clock.Add(1), 0) } // a second per reading
	f.now = func() time.Time { return time.Unix(clock.Load(), 0) }
	p := newPurger(t, cfg)
	p.Invalidate(context.Background(), mizan.Invalidation{Source: "bump", Targets: []mizan.Target{{Context: "counter"}}})
	flush(t, p)
	attempts, acked := f.got()
	if len(attempts) != 4 || len(acked) != 1 {
		t.Fatalf("%d attempts, %d acknowledged", len(attempts), len(acked))
	}
	seen := map[int64]bool{}
	for _, a := range attempts {
		if a.msg.ID != attempts[0].msg.ID || !bytes.Equal(a.body, attempts[0].body) {
			t.Errorf("attempt %d is another post: %s", a.n, a.body)
		}
		if seen[a.timestamp] {
			t.Errorf("attempt %d reuses timestamp %d", a.n, a.timestamp)
		}
		seen[a.timestamp] = true
	}
	st := p.Stats()
	if st.Sent != 1 || st.Attempts != 4 || st.Failures != 3 || !strings.Contains(st.LastError, "503") || !strings.Contains(st.LastError, "unavailable") {
		t.Errorf("stats %+v", st)
	}
}

func TestRetriesAfterAClosedConnection(t *testing.T) {
	var f *fakeEdge
	f = newFakeEdge(t, func(a attempt, w http.ResponseWriter, r *http.Request) {
		if a.n == 1 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			conn.Close()
			return
		}
		f.ack(a)
	})
	p := newPurger(t, f.config())
	p.Invalidate(context.Background(), mizan.Invalidation{Targets: []mizan.Target{{Context: "counter"}}})
	flush(t, p)
	attempts, acked := f.got()
	if len(attempts) != 2 || len(acked) != 1 {
		t.Fatalf("%d attempts, %d acknowledged", len(attempts), len(acked))
	}
	if st := p.Stats(); st.Failures != 1 || st.Sent != 1 || st.LastError == "" {
		t.Errorf("stats %+v", st)
	}
}

func TestRetriesWhenTheEdgeTimesOut(t *testing.T) {
	var f *fakeEdge
	f = newFakeEdge(t, func(a attempt, w http.ResponseWriter, r *http.Request) {
		if a.n == 1 {
			<-r.Context().Done() // the client gives up
			return
		}
		f.ack(a)
	})
	cfg := f.config()
	cfg.Timeout = 50 * time.Millisecond
	p := newPurger(t, cfg)
	p.Invalidate(context.Background(), mizan.Invalidation{Targets: []mizan.Target{{Context: "counter"}}})
	flush(t, p)
	if st := p.Stats(); st.Failures != 1 || st.Sent != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestReplayedConflictIsAnAcknowledgement(t *testing.T) {
	var conflicts atomic.Int32
	f := newFakeEdge(t, func(a attempt, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusConflict)
		if a.n == 1 {
			// Another conflict is no acknowledgement.
			conflicts.Add(1)
			fmt.Fprint(w, `{"error":{"code":"conflict","message":"no"}}`)
			return
		}
		fmt.Fprint(w, `{"error":{"code":"replayed","message":"already applied"}}`)
	})
	p := newPurger(t, f.config())
	p.Invalidate(context.Background(), mizan.Invalidation{Targets: []mizan.Target{{Context: "counter"}}})
	flush(t, p)
	attempts, _ := f.got()
	if len(attempts) != 2 || conflicts.Load() != 1 {
		t.Fatalf("%d attempts", len(attempts))
	}
	if st := p.Stats(); st.Sent != 1 || st.Failures != 1 {
		t.Errorf("stats %+v", st)
	}
}

// syncBuffer is a bytes.Buffer safe for the sender's logging.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRefusalsAreRetriedAndLoggedWithoutTheSecret(t *testing.T) {
	statuses := []int{http.StatusUnauthorized, http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadRequest, http.StatusMovedPermanently}
	var f *fakeEdge
	f = newFakeEdge(t, func(a attempt, w http.ResponseWriter, r *http.Request) {
		if a.n <= len(statuses) {
			if statuses[a.n-1] == http.StatusMovedPermanently {
				http.Redirect(w, r, "/elsewhere", http.StatusMovedPermanently)
				return
			}
			w.WriteHeader(statuses[a.n-1])
			return
		}
		f.ack(a)
	})
	var logs syncBuffer
	cfg := f.config()
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	p := newPurger(t, cfg)
	p.Invalidate(context.Background(), mizan.Invalidation{Targets: []mizan.Target{{Context: "counter"}}})
	flush(t, p)
	attempts, acked := f.got()
	if len(attempts) != len(statuses)+1 || len(acked) != 1 {
		t.Fatalf("%d attempts, %d acknowledged", len(attempts), len(acked))
	}
	out := logs.String()
	for _, s := range statuses {
		if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "status="+strconv.Itoa(s)) {
			t.Errorf("no warning with status %d in\n%s", s, out)
		}
	}
	if strings.Contains(out, string(secret)) || strings.Contains(out, "v1=") {
		t.Errorf("the log shows the secret or a signature:\n%s", out)
	}
	if !strings.Contains(out, "acknowledged after retries") {
		t.Errorf("no recovery logged:\n%s", out)
	}
}

func TestFlushWaitsForTheAcknowledgement(t *testing.T) {
	release := make(chan struct{})
	var f *fakeEdge
	f = newFakeEdge(t, func(a attempt, w http.ResponseWriter, r *http.Request) {
		<-release
		f.ack(a)
	})
	p := newPurger(t, f.config())
	flush(t, p) // nothing given: returns at once
	p.Invalidate(context.Background(), mizan.Invalidation{Targets: []mizan.Target{{Context: "counter"}}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := p.Flush(ctx); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "1 invalidations") {
		t.Errorf("Flush before the acknowledgement: %v", err)
	}
	if st := p.Stats(); st.Pending != 1 || st.OldestPending <= 0 {
		t.Errorf("stats %+v", st)
	}
	close(release)
	flush(t, p)
	if st := p.Stats(); st.Pending != 0 || st.Sent != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestCloseDrainsTheQueue(t *testing.T) {
	f := newFakeEdge(t, nil)
	p, err := edge.New(f.config())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		p.Invalidate(context.Background(), mizan.Invalidation{Source: strconv.Itoa(i), Targets: []mizan.Target{{Context: "c"}}})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, acked := f.got(); len(acked) != 20 {
		t.Errorf("%d posts after Close, want 20", len(acked))
	}
	if err := p.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
	// After Close: dropped, counted, logged; never blocks.
	p.Invalidate(context.Background(), mizan.Invalidation{Targets: []mizan.Target{{Context: "c"}}})
	if st := p.Stats(); st.Dropped != 1 || st.Pending != 0 || st.Sent != 20 {
		t.Errorf("stats %+v", st)
	}
	if err := p.Flush(ctx); !errors.Is(err, edge.ErrClosed) && err != nil {
		t.Errorf("Flush after Close: %v", err)
	}
}

func TestCloseGivesUpWhenItsContextIsDone(t *testing.T) {
	f := newFakeEdge(t, func(a attempt, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	})
	var logs syncBuffer
	cfg := f.config()
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	p, err := edge.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.Invalidate(context.Background(), mizan.Invalidation{Source: "a", Targets: []mizan.Target{{Context: "c"}}})
	p.Invalidate(context.Background(), mizan.Invalidation{Source: "b", Targets: []mizan.Target{{Context: "d"}}})

	// A Flush waiting meanwhile is released when the sender stops.
	flushed := make(chan error, 1)
	go func() { flushed <- p.Flush(context.Background()) }()

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = p.Close(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "2 invalidations") {
		t.Errorf("Close: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Error("Close did not stop at its deadline")
	}
	select {
	case err := <-flushed:
		if !errors.Is(err, edge.ErrClosed) {
			t.Errorf("Flush: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Flush still waits after Close")
	}
	st := p.Stats()
	if st.Dropped != 2 || st.Pending != 0 || st.Sent != 0 || st.Failures == 0 {
		t.Errorf("stats %+v", st)
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "lost=2") {
		t.Errorf("the loss is not logged:\n%s", logs.String())
	}
}

// When the queue is full, what overflows is replaced by the broad targets
// of its contexts: nothing is lost, nobody waits, and every context of
// every invalidation is purged (a superset of what was asked).
func TestOverflowCoalescesIntoBroadTargets(t *testing.T) {
	f, entered, release := newHeldEdge(t)
	cfg := f.config()
	cfg.QueueSize = 4
	p := newPurger(t, cfg)
	p.Invalidate(context.Background(), mizan.Invalidation{Source: "first", Targets: []mizan.Target{{Context: "zero"}}})
	<-entered // the sender holds the first; the queue is empty

	type given struct {
		src     string
		caller  *mizan.Identity
		targets []mizan.Target
	}
	var all []given
	stopHeld := mustReturn(t, "200 invalidations on a full queue, with the edge holding its first post")
	for i := range 200 {
		g := given{
			src:    "m" + strconv.Itoa(i%3),
			caller: &mizan.Identity{ID: strconv.Itoa(i % 2)},
			targets: []mizan.Target{
				scoped("c"+strconv.Itoa(i%10), map[string]any{"id": i}),
				{Context: "f" + strconv.Itoa(i%7), Function: "fn", Params: map[string]any{"id": i}},
			},
		}
		all = append(all, g)
		p.Invalidate(context.Background(), mizan.Invalidation{Source: g.src, Caller: g.caller, Targets: g.targets})
	}
	stopHeld()
	st := p.Stats()
	if st.Pending != 201 || st.Coalesced == 0 {
		t.Errorf("stats while blocked %+v", st)
	}
	close(release)
	flush(t, p)

	_, acked := f.got()
	if len(acked) > 1+4 {
		t.Errorf("%d posts: the queue of 4 held more", len(acked))
	}
	// Each invalidation is delivered as it was, or its contexts broad.
	exact := map[string]bool{}
	broad := map[string]bool{}
	for _, a := range acked {
		for _, tg := range a.msg.Targets {
			b, _ := tg.MarshalJSON()
			exact[a.msg.Mutation+"|"+ptr(a.msg.Caller)+"|"+string(b)] = true
			if tg.IsBroad() && tg.Function == "" && tg.Context != "zero" {
				if a.msg.Mutation != "" || a.msg.Caller != nil {
					t.Errorf("a broad post narrows: mutation %q caller %v", a.msg.Mutation, a.msg.Caller)
				}
				broad[tg.Context] = true
			}
		}
	}
	coalesced := 0
	for i, g := range all {
		whole := true
		for _, tg := range g.targets {
			b, _ := tg.MarshalJSON()
			if !exact[g.src+"|"+g.caller.ID+"|"+string(b)] {
				whole = false
			}
		}
		if whole {
			continue
		}
		coalesced++
		for _, tg := range g.targets {
			if !broad[tg.Context] {
				t.Errorf("invalidation %d: context %s is purged neither as given nor broad", i, tg.Context)
			}
		}
	}
	if st := p.Stats(); st.Coalesced < uint64(coalesced) || st.Coalesced > 200 || st.Pending != 0 {
		t.Errorf("stats %+v; %d invalidations were coalesced", st, coalesced)
	}
	// The broad set holds each context once.
	for _, a := range acked {
		seen := map[string]bool{}
		for _, tg := range a.msg.Targets {
			b, _ := tg.MarshalJSON()
			if seen[string(b)] {
				t.Errorf("post repeats %s", b)
			}
			seen[string(b)] = true
		}
	}
}

func ptr(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func TestNewRefusesABadConfig(t *testing.T) {
	cases := []struct {
		name string
		cfg  edge.Config
		want string
	}{
		{"no URL", edge.Config{Secret: secret}, "URL is required"},
		{"relative URL", edge.Config{URL: "/edge", Secret: secret}, "absolute"},
		{"ftp URL", edge.Config{URL: "ftp://edge.example", Secret: secret}, "absolute http or https"},
		{"no host", edge.Config{URL: "https://", Secret: secret}, "no host"},
		{"a query", edge.Config{URL: "https://edge.example/?x=1", Secret: secret}, "query"},
		{"short secret", edge.Config{URL: "https://edge.example", Secret: []byte("short")}, "at least 16"},
		{"negative queue", edge.Config{URL: "https://edge.example", Secret: secret, QueueSize: -1}, "QueueSize"},
		{"max below min", edge.Config{URL: "https://edge.example", Secret: secret, MinBackoff: time.Second, MaxBackoff: time.Millisecond}, "below MinBackoff"},
		{"negative timeout", edge.Config{URL: "https://edge.example", Secret: secret, Timeout: -1}, "negative"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := edge.New(c.cfg)
			if err == nil {
				p.Close(context.Background())
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "edge: ") {
				t.Errorf("error %q lacks %q", err, c.want)
			}
			if strings.Contains(err.Error(), string(secret)) {
				t.Errorf("error %q shows the secret", err)
			}
		})
	}
	if _, err := edge.Attach(nil, edge.Config{URL: "https://edge.example", Secret: secret}); err == nil {
		t.Error("Attach(nil) accepted")
	}
}

// The URL may be the edge's base, with or without a path, or its purge
// endpoint itself.
func TestURLForms(t *testing.T) {
	for _, suffix := range []string{"", "/", "/__mizan/purge"} {
		f := newFakeEdge(t, nil)
		cfg := f.config()
		cfg.URL += suffix
		p := newPurger(t, cfg)
		p.Invalidate(context.Background(), mizan.Invalidation{Targets: []mizan.Target{{Context: "c"}}})
		flush(t, p) // the fake checks the path
	}
}

func TestConfigFromEnv(t *testing.T) {
	good := "https://edge.example.com"
	cases := []struct {
		name        string
		url, secret string
		other       [2]string // another secret variable and its value
		ok          bool
		want        string // in the error; "" for none
	}{
		{name: "unset", ok: false},
		{name: "set", url: good, secret: string(secret), ok: true},
		{name: "the purge endpoint", url: good + "/__mizan/purge", secret: string(secret), ok: true},
		{name: "no secret", url: good, ok: true, want: "MIZAN_EDGE_PURGE_SECRET is not"},
		{name: "short secret", url: good, secret: "fifteen-bytes!!", ok: true, want: "at least 16"},
		{name: "not absolute", url: "edge.example.com/x", secret: string(secret), ok: true, want: "absolute http or https"},
		{name: "bad scheme", url: "ws://edge.example.com", secret: string(secret), ok: true, want: "absolute http or https"},
		{name: "not a URL", url: "https://edge example.com\x7f", secret: string(secret), ok: true, want: "not a URL"},
		{name: "a fragment", url: good + "#x", secret: string(secret), ok: true, want: "fragment"},
		{name: "the MWT secret", url: good, secret: string(secret), other: [2]string{"MIZAN_MWT_SECRET", string(secret)}, ok: true, want: "equals MIZAN_MWT_SECRET"},
		{name: "the edge key secret", url: good, secret: string(secret), other: [2]string{"MIZAN_EDGE_KEY_SECRET", string(secret)}, ok: true, want: "equals MIZAN_EDGE_KEY_SECRET"},
		{name: "another MWT secret", url: good, secret: string(secret), other: [2]string{"MIZAN_MWT_SECRET", "another-secret-of-32-bytes-or-more"}, ok: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("MIZAN_EDGE_PURGE_URL", c.url)
			t.Setenv("MIZAN_EDGE_PURGE_SECRET", c.secret)
			for _, v := range []string{"MIZAN_MWT_SECRET", "MIZAN_CACHE_SECRET", "MIZAN_EDGE_KEY_SECRET"} {
				t.Setenv(v, "")
			}
			if c.other[0] != "" {
				t.Setenv(c.other[0], c.other[1])
			}
			cfg, ok, err := edge.ConfigFromEnv()
			if ok != c.ok {
				t.Errorf("ok = %v", ok)
			}
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("error %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("error %v, want %q", err, c.want)
			case c.want != "":
				if strings.Contains(err.Error(), c.secret) && c.secret != "" {
					t.Errorf("error %q shows the secret", err)
				}
				return
			}
			if !ok {
				if cfg.URL != "" || cfg.Secret != nil {
					t.Errorf("cfg %+v without a URL", cfg)
				}
				return
			}
			if cfg.URL != c.url || string(cfg.Secret) != c.secret {
				t.Errorf("cfg %+v", cfg)
			}
			p, err := edge.New(cfg)
			if err != nil {
				t.Fatalf("New refuses what ConfigFromEnv returns: %v", err)
			}
			p.Close(context.Background())
		})
	}
}

type BoardArgs struct {
	BoardID int `json:"board_id"`
}

type AddTaskArgs struct {
	BoardID int    `json:"board_id"`
	Title   string `json:"title"`
}

// An app's invalidations reach the edge: App.Invalidate from a background
// job, and a mutation called over HTTP by a signed-in caller.
func TestAppInvalidationsReachTheEdge(t *testing.T) {
	f := newFakeEdge(t, nil)
	const Board mizan.Context = "board"
	app := mizan.New(mizan.Config{Authenticator: mizan.AuthenticatorFunc(func(r *http.Request) (*mizan.Identity, error) {
		if id := r.Header.Get("X-Test-User"); id != "" {
			return &mizan.Identity{ID: id, Bearer: true}, nil
		}
		return nil, nil
	})})
	mizan.Query(app, func(context.Context, BoardArgs) ([]string, error) { return []string{}, nil }, mizan.Name("board_tasks"), mizan.In(Board))
	mizan.Mutation(app, func(context.Context, AddTaskArgs) (int, error) { return 1, nil }, mizan.Name("add_task"), mizan.Affects(Board))
	p, err := edge.Attach(app, f.config())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	if err := app.Build(); err != nil {
		t.Fatal(err)
	}

	if err := app.Invalidate(context.Background(), mizan.Target{Context: "board", Params: map[string]any{"board_id": 3}}, mizan.Target{Context: "board", Function: "board_tasks"}); err != nil {
		t.Fatal(err)
	}
	flush(t, p)

	srv := httptest.NewServer(app)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/mizan/call/", strings.NewReader(`{"fn":"add_task","args":{"board_id":1,"title":"Ship"}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Test-User", "7")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("X-Mizan-Invalidate") != "board;board_id=1" {
		t.Fatalf("call: %s, X-Mizan-Invalidate %q", res.Status, res.Header.Get("X-Mizan-Invalidate"))
	}
	flush(t, p)

	_, acked := f.got()
	var got []string
	for _, a := range acked {
		got = append(got, bodyWithout(a))
	}
	want := []string{
		`{"id":"ID","targets":[{"context":"board","params":{"board_id":3}},{"context":"board","function":"board_tasks"}],"mutation":"","caller":null}`,
		`{"id":"ID","targets":[{"context":"board","params":{"board_id":1}}],"mutation":"add_task","caller":"7"}`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("posts\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
}

// Invalidate never waits for the network, however slow the edge.
func TestInvalidateNeverBlocks(t *testing.T) {
	release := make(chan struct{})
	f := newFakeEdge(t, func(a attempt, w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	cfg := f.config()
	cfg.QueueSize = 8
	p := newPurger(t, cfg)
	defer close(release)
	var wg sync.WaitGroup
	returned := mustReturn(t, "4000 invalidations while the edge holds every post")
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				p.Invalidate(context.Background(), mizan.Invalidation{Source: "m", Targets: []mizan.Target{scoped("c"+strconv.Itoa(g), map[string]any{"id": i})}})
			}
		})
	}
	wg.Wait()
	returned()
	if st := p.Stats(); st.Pending != 4000 {
		t.Errorf("stats %+v", st)
	}
}

// Invalidations given while Close runs are delivered or, once the sender
// has stopped, dropped and counted: never lost silently.
func TestInvalidateDuringClose(t *testing.T) {
	f := newFakeEdge(t, nil)
	p, err := edge.New(f.config())
	if err != nil {
		t.Fatal(err)
	}
	const workers, each = 4, 200
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			for i := range each {
				p.Invalidate(context.Background(), mizan.Invalidation{Source: "m", Targets: []mizan.Target{scoped("c", map[string]any{"id": g*each + i})}})
				if i%50 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		})
	}
	time.Sleep(2 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	_, acked := f.got()
	seen := map[int64]bool{}
	for _, a := range acked {
		for _, tg := range a.msg.Targets {
			id := tg.Params["id"].(int64)
			if seen[id] {
				t.Errorf("id %d posted twice", id)
			}
			seen[id] = true
		}
	}
	st := p.Stats()
	if uint64(len(seen))+st.Dropped != workers*each || st.Pending != 0 {
		t.Errorf("%d delivered + %d dropped != %d; stats %+v", len(seen), st.Dropped, workers*each, st)
	}
}

// An invalidation with more targets than the edge takes in one body is
// posted as the broad targets of its contexts.
func TestAHugeInvalidationIsPostedBroad(t *testing.T) {
	f := newFakeEdge(t, nil)
	p := newPurger(t, f.config())
	var targets []mizan.Target
	for i := range 30000 {
		targets = append(targets, scoped("c"+strconv.Itoa(i%3), map[string]any{"a_rather_long_parameter_name": i}))
	}
	p.Invalidate(context.Background(), mizan.Invalidation{Source: "import", Caller: &mizan.Identity{ID: "1"}, Targets: targets})
	p.Invalidate(context.Background(), mizan.Invalidation{Source: "next", Targets: []mizan.Target{{Context: "d"}}})
	flush(t, p)
	_, acked := f.got()
	var got []string
	for _, a := range acked {
		got = append(got, bodyWithout(a))
	}
	want := []string{
		`{"id":"ID","targets":["c0","c1","c2"],"mutation":"","caller":null}`,
		`{"id":"ID","targets":["d"],"mutation":"next","caller":null}`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("posts\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
	if st := p.Stats(); st.Coalesced != 1 || st.Sent != 2 || st.Pending != 0 {
		t.Errorf("stats %+v", st)
	}
}
