package mizan_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/mizan-afi/mizan"
)

// The benchmarks in this file put Mizan's two hot endpoints beside a bare
// net/http handler that does the same work by hand: the same functions, the
// same argument checks, the same response bytes and headers. See
// docs/performance.md for how to run them and read the figures.

// perfProfile, perfOrder and perfOK are the results of the fixture's
// user_profile, user_orders and update_profile (docs/spec.md §7).
type perfProfile struct {
	ID    int    `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

type perfOrder struct {
	ID    int `json:"id"`
	Total int `json:"total"`
}

type perfOK struct {
	OK bool `json:"ok"`
}

type perfUserArgs struct {
	UserID int `json:"user_id"`
}

type perfUpdateArgs struct {
	UserID int    `json:"user_id"`
	Name   string `json:"name"`
}

// perfStore is the fixture's data, behind a lock as a real store would be.
type perfStore struct {
	mu    sync.RWMutex
	users map[int]perfProfile
}

func newPerfStore() *perfStore {
	return &perfStore{users: map[int]perfProfile{
		1: {ID: 1, Name: "Ada", Email: "ada@example.com"},
		2: {ID: 2, Name: "Grace", Email: "grace@example.com"},
		3: {ID: 3, Name: "Lin", Email: "lin@example.com"},
	}}
}

var errPerfNoUser = mizan.NewError(mizan.CodeNotFound, "no such user")

func (s *perfStore) userProfile(_ context.Context, in perfUserArgs) (perfProfile, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.users[in.UserID]
	if !ok {
		return perfProfile{}, errPerfNoUser
	}
	return p, nil
}

func (s *perfStore) userOrders(_ context.Context, in perfUserArgs) ([]perfOrder, error) {
	return []perfOrder{
		{ID: in.UserID*10 + 1, Total: 1200},
		{ID: in.UserID*10 + 2, Total: 4550},
	}, nil
}

func (s *perfStore) updateProfile(_ context.Context, in perfUpdateArgs) (perfOK, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.users[in.UserID]
	p.ID, p.Name = in.UserID, in.Name
	s.users[in.UserID] = p
	return perfOK{OK: true}, nil
}

// newPerfApp registers the three functions on a Mizan app with the default
// configuration (no authenticator, no cache, no invalidators).
func newPerfApp(tb testing.TB, s *perfStore) *mizan.App {
	tb.Helper()
	const user mizan.Context = "user"
	app := mizan.New(mizan.Config{})
	mizan.Query(app, s.userProfile, mizan.Name("user_profile"), mizan.In(user))
	mizan.Query(app, s.userOrders, mizan.Name("user_orders"), mizan.In(user))
	mizan.Mutation(app, s.updateProfile, mizan.Name("update_profile"), mizan.Affects(user))
	if err := app.Build(); err != nil {
		tb.Fatal(err)
	}
	return app
}

// bareJSONError writes the protocol's error envelope, as a hand-written
// handler would with encoding/json.
func bareJSONError(w http.ResponseWriter, status int, code, msg string) {
	type body struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	b, _ := json.Marshal(struct {
		Error body `json:"error"`
	}{body{code, msg}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// bareContextHandler is GET ctx/user/?user_id=N written by hand: parse and
// validate user_id, call both functions, encode the bundle.
func bareContextHandler(s *perfStore) http.HandlerFunc {
	type bundle struct {
		UserOrders  []perfOrder `json:"user_orders"`
		UserProfile perfProfile `json:"user_profile"`
	}
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			bareJSONError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use GET")
			return
		}
		raw := r.URL.Query().Get("user_id")
		if raw == "" {
			bareJSONError(w, http.StatusBadRequest, "invalid_args", "user_id is required")
			return
		}
		id, err := strconv.Atoi(raw)
		if err != nil {
			bareJSONError(w, http.StatusBadRequest, "invalid_args", "user_id must be an integer")
			return
		}
		in := perfUserArgs{UserID: id}
		p, err := s.userProfile(r.Context(), in)
		if err != nil {
			bareJSONError(w, http.StatusNotFound, "not_found", "no such user")
			return
		}
		o, err := s.userOrders(r.Context(), in)
		if err != nil {
			bareJSONError(w, http.StatusInternalServerError, "internal", "internal error")
			return
		}
		b, err := json.Marshal(bundle{UserOrders: o, UserProfile: p})
		if err != nil {
			bareJSONError(w, http.StatusInternalServerError, "internal", "internal error")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	}
}

// bareCallHandler is POST call/ for update_profile written by hand: read and
// decode the body, check the arguments, call the function, encode the result
// with its invalidation target in the body and the header.
func bareCallHandler(s *perfStore) http.HandlerFunc {
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
		Result     perfOK   `json:"result"`
		Invalidate []target `json:"invalidate"`
	}
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if r.Method != http.MethodPost {
			bareJSONError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use POST")
			return
		}
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			bareJSONError(w, http.StatusBadRequest, "bad_request", "Content-Type must be application/json")
			return
		}
		var req request
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			bareJSONError(w, http.StatusBadRequest, "bad_request", "malformed body")
			return
		}
		if req.Fn != "update_profile" {
			bareJSONError(w, http.StatusNotFound, "not_found", "no such function")
			return
		}
		if req.Args.UserID == nil || req.Args.Name == nil {
			bareJSONError(w, http.StatusBadRequest, "invalid_args", "user_id and name are required")
			return
		}
		id := *req.Args.UserID
		res, err := s.updateProfile(r.Context(), perfUpdateArgs{UserID: id, Name: *req.Args.Name})
		if err != nil {
			bareJSONError(w, http.StatusInternalServerError, "internal", "internal error")
			return
		}
		b, err := json.Marshal(response{
			Result:     res,
			Invalidate: []target{{Context: "user", Params: map[string]any{"user_id": id}}},
		})
		if err != nil {
			bareJSONError(w, http.StatusInternalServerError, "internal", "internal error")
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("X-Mizan-Invalidate", "user;user_id="+strconv.Itoa(id))
		_, _ = w.Write(b)
	}
}

// bareMux mounts a bare handler on an http.ServeMux at path, as a hand-written
// net/http app would route it: the Mizan side routes through its ServeMux
// too, so routing is work both sides do.
func bareMux(path string, h http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(path, h)
	return mux
}

// perfWriter is a reusable ResponseWriter: reset clears it without
// allocating, so the writer costs both sides the same and nearly nothing.
type perfWriter struct {
	h    http.Header
	code int
	body bytes.Buffer
}

func newPerfWriter() *perfWriter { return &perfWriter{h: make(http.Header, 8)} }

func (w *perfWriter) Header() http.Header { return w.h }

func (w *perfWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *perfWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.body.Write(b)
}

func (w *perfWriter) reset() {
	clear(w.h)
	w.code = 0
	w.body.Reset()
}

// perfRequest is a request whose body can be replayed without allocating.
type perfRequest struct {
	r    *http.Request
	body []byte
	rd   *bytes.Reader
}

func newPerfRequest(method, target string, body []byte) *perfRequest {
	pr := &perfRequest{body: body, rd: bytes.NewReader(body)}
	pr.r = httptest.NewRequest(method, target, nil)
	if body != nil {
		pr.r.Header.Set("Content-Type", "application/json")
		pr.r.ContentLength = int64(len(body))
	}
	return pr
}

// next rewinds the body and returns the request, ready to be served again.
func (pr *perfRequest) next() *http.Request {
	if pr.body != nil {
		pr.rd.Reset(pr.body)
		pr.r.Body = io.NopCloser(pr.rd)
	}
	return pr.r
}

// perfCase is one endpoint measured on both sides.
type perfCase struct {
	mizan, bare http.Handler
	req         func() *perfRequest
	headers     []string // response headers both sides must agree on
	want        string   // the expected body, for the record
}

func contextCase(tb testing.TB) perfCase {
	s := newPerfStore()
	return perfCase{
		mizan:   newPerfApp(tb, s),
		bare:    bareMux("/api/mizan/ctx/user/", bareContextHandler(s)),
		req:     func() *perfRequest { return newPerfRequest(http.MethodGet, "/api/mizan/ctx/user/?user_id=1", nil) },
		headers: []string{"Content-Type", "Cache-Control"},
		want: `{"user_orders":[{"id":11,"total":1200},{"id":12,"total":4550}],` +
			`"user_profile":{"id":1,"name":"Ada","email":"ada@example.com"}}`,
	}
}

func callCase(tb testing.TB) perfCase {
	s := newPerfStore()
	body := []byte(`{"fn":"update_profile","args":{"user_id":5,"name":"Ryth"}}`)
	return perfCase{
		mizan:   newPerfApp(tb, s),
		bare:    bareMux("/api/mizan/call/", bareCallHandler(s)),
		req:     func() *perfRequest { return newPerfRequest(http.MethodPost, "/api/mizan/call/", body) },
		headers: []string{"Content-Type", "Cache-Control", "X-Mizan-Invalidate"},
		want:    `{"result":{"ok":true},"invalidate":[{"context":"user","params":{"user_id":5}}]}`,
	}
}

// verify serves one request on each side and fails unless both answer 200
// with the expected body and the same headers: the comparison is only fair
// when the two do the same thing.
func (c perfCase) verify(tb testing.TB) {
	tb.Helper()
	type answer struct {
		code int
		body string
		hdr  http.Header
	}
	serve := func(h http.Handler) answer {
		w := newPerfWriter()
		h.ServeHTTP(w, c.req().next())
		return answer{w.code, w.body.String(), w.h.Clone()}
	}
	m, b := serve(c.mizan), serve(c.bare)
	if m.code != http.StatusOK || b.code != http.StatusOK {
		tb.Fatalf("status: mizan %d %s, bare %d %s", m.code, m.body, b.code, b.body)
	}
	if m.body != b.body {
		tb.Fatalf("bodies differ:\nmizan %s\nbare  %s", m.body, b.body)
	}
	if m.body != c.want {
		tb.Fatalf("body is\n%s\nwant\n%s", m.body, c.want)
	}
	for _, k := range c.headers {
		if m.hdr.Get(k) == "" || m.hdr.Get(k) != b.hdr.Get(k) {
			tb.Fatalf("header %s: mizan %q, bare %q", k, m.hdr.Get(k), b.hdr.Get(k))
		}
	}
}

// benchSerial measures h on one goroutine and returns its ns/op.
func benchSerial(b *testing.B, h http.Handler, pr *perfRequest) float64 {
	b.ReportAllocs()
	w := newPerfWriter()
	n := 0
	for b.Loop() {
		w.reset()
		h.ServeHTTP(w, pr.next())
		if w.code != http.StatusOK {
			b.Fatalf("status %d: %s", w.code, w.body.String())
		}
		n++
	}
	return float64(b.Elapsed().Nanoseconds()) / float64(n)
}

// benchParallel measures h on GOMAXPROCS goroutines, each with its own
// request and writer, and returns its ns/op (wall time per request).
func benchParallel(b *testing.B, h http.Handler, newReq func() *perfRequest) float64 {
	b.ReportAllocs()
	b.RunParallel(func(p *testing.PB) {
		pr, w := newReq(), newPerfWriter()
		for p.Next() {
			w.reset()
			h.ServeHTTP(w, pr.next())
			if w.code != http.StatusOK {
				b.Errorf("status %d: %s", w.code, w.body.String())
				return
			}
		}
	})
	return float64(b.Elapsed().Nanoseconds()) / float64(b.N)
}

// runPair runs bare then mizan, and reports on mizan the ratio of its ns/op
// to the bare handler's of the same run (metric "x-bare"; 1.10 is the target).
func runPair(b *testing.B, c perfCase, parallel bool) {
	c.verify(b)
	var bare float64
	measure := func(b *testing.B, h http.Handler) float64 {
		if parallel {
			return benchParallel(b, h, c.req)
		}
		return benchSerial(b, h, c.req())
	}
	b.Run("bare", func(b *testing.B) { bare = measure(b, c.bare) })
	b.Run("mizan", func(b *testing.B) {
		ns := measure(b, c.mizan)
		if bare > 0 {
			b.ReportMetric(ns/bare, "x-bare")
		}
	})
}

// BenchmarkContextFetch compares GET ctx/user/?user_id=1 (two functions,
// one bundle) with a bare handler producing the same bytes.
func BenchmarkContextFetch(b *testing.B) { runPair(b, contextCase(b), false) }

// BenchmarkContextFetchParallel is BenchmarkContextFetch on every P.
func BenchmarkContextFetchParallel(b *testing.B) { runPair(b, contextCase(b), true) }

// BenchmarkCall compares POST call/ of update_profile with a bare handler
// producing the same bytes and X-Mizan-Invalidate header.
func BenchmarkCall(b *testing.B) { runPair(b, callCase(b), false) }

// BenchmarkCallParallel is BenchmarkCall on every P.
func BenchmarkCallParallel(b *testing.B) { runPair(b, callCase(b), true) }

// TestPerfHandlersAgree keeps the benchmark pairs honest under go test: both
// sides answer alike, success and refusal.
func TestPerfHandlersAgree(t *testing.T) {
	contextCase(t).verify(t)
	callCase(t).verify(t)
	c := contextCase(t)
	for _, q := range []string{"", "?user_id=x"} {
		for name, h := range map[string]http.Handler{"mizan": c.mizan, "bare": c.bare} {
			w := newPerfWriter()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/mizan/ctx/user/"+q, nil))
			if w.code != http.StatusBadRequest || w.h.Get("Content-Type") != "application/json" {
				t.Errorf("%s %q: %d %s", name, q, w.code, w.body.String())
			}
		}
	}
}
