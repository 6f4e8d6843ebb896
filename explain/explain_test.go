package explain_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/cache"
	"github.com/mizan-afi/mizan/conformance"
	"github.com/mizan-afi/mizan/explain"
	"github.com/mizan-afi/mizan/protocol"
)

// recorder is a cache backend that records the keys a purge deletes.
type recorder struct {
	cache.Backend
	mu      sync.Mutex
	deleted []string
}

func (r *recorder) Delete(ctx context.Context, keys ...string) error {
	r.mu.Lock()
	r.deleted = append(r.deleted, keys...)
	r.mu.Unlock()
	return r.Backend.Delete(ctx, keys...)
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.deleted
	r.deleted = nil
	sort.Strings(out)
	return out
}

const secret = "explain-test-secret-of-at-least-32-bytes"

// fixture serves the conformance fixture with an origin cache whose
// deletions are recorded, and returns what explain needs of it.
func fixture(t *testing.T) (*httptest.Server, explain.App, *recorder) {
	t.Helper()
	rec := &recorder{Backend: cache.NewMemory(cache.MemoryOptions{})}
	c, err := cache.New(cache.Options{Backend: rec, Secret: []byte(secret), Admission: cache.AdmitAlways})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	app := conformance.NewFixture(conformance.FixtureConfig{App: mizan.Config{
		Cache: c, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}})
	if err := app.Build(); err != nil {
		t.Fatal(err)
	}
	doc, err := app.IR()
	if err != nil {
		t.Fatal(err)
	}
	m, err := app.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)
	return srv, explain.App{Manifest: m, IR: doc}, rec
}

// call is one mutation of the fixture with representative arguments, and
// how to run it over HTTP.
type call struct {
	fn     string
	args   string
	caller string // X-Test-User
	staff  bool
	// path and form, for a view mutation: POSTed as a form (or body).
	path, form, body string
	// fails: the mutation answers an error, and so emits nothing.
	fails bool
	// runtime: a target the prediction must mark run-time-possible.
	runtime string
}

var calls = []call{
	{fn: "update_profile", args: `{"user_id": 2, "name": "Grace H."}`},
	{fn: "update_name", args: `{"user_id": 1, "name": "Ada L."}`},
	{fn: "reset_all", args: `{}`},
	{fn: "archive_orders", args: `{"user_id": 1, "status": "open"}`},
	{fn: "secret", args: `{}`, caller: "2"},
	{fn: "admin_action", args: `{}`, caller: "1", staff: true},
	{fn: "fail", args: `{}`, fails: true},
	{fn: "panic_for_tests", args: `{}`, fails: true},
	{fn: "add_task", args: `{"project_id": 1, "title": "Explain it", "state": "doing"}`},
	{fn: "set_task_state", args: `{"task_id": 3, "state": "done"}`, runtime: "tasks"},
	{fn: "rename_task", args: `{"task_id": 2, "title": "Build the core"}`},
	{fn: "update_my_name", args: `{"name": "Lin!"}`, caller: "3", runtime: "user"},
	{fn: "bump", args: `{}`},
	{fn: "contact", args: `{"name": "Ada", "email": "ada@example.com", "topic": "sales", "message": "Hello there, Mizan."}`},
	{fn: "order_lines", args: `{"customer": "Ada", "lines": [{"sku": "ABC123", "qty": 2}]}`},
	{fn: "update_profile_view", args: `{"user_id": 3, "name": "Lin"}`, path: "/profile/3/update/", form: "name=Lin"},
	{fn: "stripe_webhook", args: `{}`, path: "/webhooks/stripe/", body: `{"type": "invoice.paid"}`},
}

// TestFixtureMutations runs every mutation of the fixture and compares
// what explain predicts (targets, header, origin-cache generations) with
// what the server emits.
func TestFixtureMutations(t *testing.T) {
	srv, app, rec := fixture(t)
	var names []string
	for name := range app.Manifest.Mutations {
		names = append(names, name)
	}
	for _, c := range calls {
		names = slices.DeleteFunc(names, func(n string) bool { return n == c.fn })
	}
	if len(names) > 0 {
		t.Fatalf("mutations of the fixture without a case: %v", names)
	}
	for _, c := range calls {
		t.Run(c.fn, func(t *testing.T) {
			rep, err := explain.Explain(app, c.fn, []byte(c.args), explain.Options{Caller: c.caller, CacheSecret: []byte(secret)})
			if err != nil {
				t.Fatal(err)
			}
			if c.fails && len(rep.Targets) != 0 {
				t.Fatalf("a failing mutation predicted targets: %+v", rep.Targets)
			}
			if c.runtime != "" {
				i := slices.IndexFunc(rep.Targets, func(x explain.Target) bool { return x.Context == c.runtime })
				if i < 0 || len(rep.Targets[i].RunTime) == 0 || !slices.Contains(rep.Targets[i].Rules, explain.RuleRunTime) {
					t.Fatalf("target %s is not marked run-time-scope-possible: %+v", c.runtime, rep.Targets)
				}
			}
			rec.take() // what earlier fetches or calls deleted
			status, header, body := run(t, srv, c)
			deleted := rec.take()
			if c.fails {
				if status < 400 || header != "" || len(deleted) > 0 {
					t.Fatalf("status %d, header %q, deleted %v: want an error and nothing emitted", status, header, deleted)
				}
				return
			}
			if status/100 != 2 && status/100 != 3 {
				t.Fatalf("status %d", status)
			}
			o := rep.Compare(status, header, body)
			if !o.Agrees {
				t.Fatalf("prediction and emission differ: %v\npredicted %s, emitted %q %v", o.Differences, rep.Header, header, body)
			}
			runtime := slices.ContainsFunc(rep.Targets, func(x explain.Target) bool { return len(x.RunTime) > 0 })
			if !runtime && header != rep.Header {
				t.Errorf("header %q, predicted %q", header, rep.Header)
			}
			if body != nil {
				want, err := protocol.FormatHeader(body)
				if err != nil || want != header {
					t.Errorf("header %q is not the body's targets %v (%v)", header, body, err)
				}
			}
			if !runtime {
				var keys []string
				for _, p := range rep.Cache {
					keys = append(keys, p.Keys...)
				}
				sort.Strings(keys)
				if !slices.Equal(keys, deleted) {
					t.Errorf("origin cache deleted %v, predicted %v", deleted, keys)
				}
			}
		})
	}
}

// run calls c on srv and returns the status, X-Mizan-Invalidate and the
// body's targets (nil for a view).
func run(t *testing.T, srv *httptest.Server, c call) (int, string, []protocol.Target) {
	t.Helper()
	var req *http.Request
	var err error
	switch {
	case c.path != "" && c.form != "":
		req, err = http.NewRequest(http.MethodPost, srv.URL+c.path, strings.NewReader(c.form))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	case c.path != "":
		req, err = http.NewRequest(http.MethodPost, srv.URL+c.path, strings.NewReader(c.body))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
	default:
		b, _ := json.Marshal(map[string]any{"fn": c.fn, "args": json.RawMessage(c.args)})
		req, err = http.NewRequest(http.MethodPost, srv.URL+"/api/mizan/call/", bytes.NewReader(b))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if c.caller != "" {
		req.Header.Set(conformance.HeaderTestUser, c.caller)
	}
	if c.staff {
		req.Header.Set(conformance.HeaderTestStaff, "1")
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	header := resp.Header.Get(protocol.HeaderInvalidate)
	if c.path != "" || resp.StatusCode != http.StatusOK {
		return resp.StatusCode, header, nil
	}
	var reply struct {
		Invalidate []protocol.Target `json:"invalidate"`
	}
	if err := json.Unmarshal(raw, &reply); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	if reply.Invalidate == nil {
		reply.Invalidate = []protocol.Target{}
	}
	return resp.StatusCode, header, reply.Invalidate
}

// TestRules checks the rules and consumers explain reports for the
// representative cases of docs/spec.md §3.
func TestRules(t *testing.T) {
	_, app, _ := fixture(t)
	get := func(fn, args, caller string) *explain.Report {
		t.Helper()
		r, err := explain.Explain(app, fn, []byte(args), explain.Options{Caller: caller})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	has := func(r *explain.Report, i int, rule explain.Rule) {
		t.Helper()
		if i >= len(r.Targets) || !slices.Contains(r.Targets[i].Rules, rule) {
			t.Errorf("%s target %d: rules %v lack %s", r.Mutation, i, r.Targets, rule)
		}
	}
	r := get("add_task", `{"project_id": 1, "title": "x", "state": "done"}`, "")
	has(r, 0, explain.RuleArgument)
	has(r, 0, explain.RuleFilterSkipped)
	if r.Header != "tasks;project_id=1" {
		t.Errorf("add_task header %q", r.Header)
	}
	r = get("rename_task", `{"task_id": 2, "title": "x"}`, "")
	has(r, 0, explain.RuleExplicitScope)
	has(r, 0, explain.RuleBroad)
	if r.Header != "task" {
		t.Errorf("rename_task header %q", r.Header)
	}
	r = get("update_name", `{"user_id": 1, "name": "x"}`, "")
	has(r, 0, explain.RuleFunction)
	if string(r.Body) != `[{"context":"user","function":"user_profile","params":{"user_id":1}}]` {
		t.Errorf("update_name body %s", r.Body)
	}
	r = get("update_my_name", `{"name": "x"}`, "7")
	has(r, 0, explain.RuleCallerScoped)
	has(r, 1, explain.RuleRunTime)
	if !r.Targets[0].CallerScoped || r.Cache[0].User != "7" || !r.Edge[0].CallerOnly || !r.Live[0].CallerOnly {
		t.Errorf("update_my_name global is not narrowed to caller 7: %+v %+v", r.Targets[0], r.Cache[0])
	}
	if r.Targets[1].RunTime[0] != "user_id" {
		t.Errorf("update_my_name user run-time params %v", r.Targets[1].RunTime)
	}
	anon := get("update_my_name", `{"name": "x"}`, "")
	if anon.Targets[0].CallerScoped {
		t.Error("an anonymous caller narrows a caller-scoped target")
	}
	r = get("reset_all", ``, "")
	has(r, 0, explain.RuleBroad)
	if r.Cache[0].Keys[0] != "gen:c:user" {
		t.Errorf("reset_all purges %v", r.Cache[0].Keys)
	}
	r = get("update_profile", `{"user_id": 5, "name": "x"}`, "")
	if len(r.Pages) != 1 || r.Pages[0].Path != "/profile/5/" {
		t.Errorf("update_profile pages %+v", r.Pages)
	}
	if !strings.Contains(r.Live[0].Text, "user_id=5") {
		t.Errorf("update_profile live %q", r.Live[0].Text)
	}
	if !strings.HasPrefix(r.Cache[0].Keys[0], `gen:p:user:<hmac {"g":"p","c":"user","n":"user_id","v":"5"}>`) {
		t.Errorf("update_profile cache key pattern %v", r.Cache[0].Keys)
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil || !strings.Contains(text.String(), "X-Mizan-Invalidate: user;user_id=5") {
		t.Errorf("text:\n%s (%v)", text.String(), err)
	}
	for _, bad := range []struct{ fn, args string }{
		{"nope", `{}`}, {"user_profile", `{}`}, {"update_profile", `[1]`}, {"update_profile", `{"bogus": 1}`}, {"update_profile", `{} {}`},
		{"update_profile", `{"user_id": "5"}`}, {"update_profile", `{"user_id": 1.5}`}, {"update_profile", `{"name": 3}`},
	} {
		if _, err := explain.Explain(app, bad.fn, []byte(bad.args), explain.Options{}); err == nil {
			t.Errorf("Explain(%s, %s) gave no error", bad.fn, bad.args)
		}
	}
}

// TestCompareDisagrees checks that Compare reports a server that emits
// something else than predicted.
func TestCompareDisagrees(t *testing.T) {
	_, app, _ := fixture(t)
	r, err := explain.Explain(app, "update_profile", []byte(`{"user_id": 2, "name": "x"}`), explain.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if o := r.Compare(200, "user", nil); o.Agrees {
		t.Error("a broad user agrees with user;user_id=2")
	}
	if o := r.Compare(200, "user;user_id=2, orders", nil); o.Agrees {
		t.Error("an extra target agrees")
	}
	if o := r.Compare(200, "user;user_id=2", nil); !o.Agrees {
		t.Errorf("the right header disagrees: %v", o.Differences)
	}
	r, err = explain.Explain(app, "set_task_state", []byte(`{"task_id": 1, "state": "done"}`), explain.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if o := r.Compare(200, "task;task_id=1, tasks;project_id=1", nil); !o.Agrees || len(o.Resolved) != 1 {
		t.Errorf("a run-time scope disagrees: %+v", o)
	}
	if o := r.Compare(200, "task;task_id=1, tasks;bogus=1", nil); o.Agrees {
		t.Error("a run-time scope by a parameter tasks lacks agrees")
	}
}

// TestRun runs a mutation through Report.Run against the fixture.
func TestRun(t *testing.T) {
	srv, app, _ := fixture(t)
	r, err := explain.Explain(app, "set_task_state", []byte(`{"task_id": 3, "state": "doing"}`), explain.Options{})
	if err != nil {
		t.Fatal(err)
	}
	o, err := r.Run(context.Background(), srv.Client(), srv.URL, "/api/mizan/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !o.Agrees || o.Header != "task;task_id=3, tasks;project_id=2" {
		t.Errorf("observed %+v", o)
	}
	r, _ = explain.Explain(app, "secret", nil, explain.Options{})
	if _, err := r.Run(context.Background(), srv.Client(), srv.URL, "/api/mizan/", http.Header{}); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("an unauthorized run: %v", err)
	}
}

// FuzzExplainArgs checks that any arguments give a report or an error,
// never a panic, and that a report's header is one the protocol parses.
func FuzzExplainArgs(f *testing.F) {
	app := conformance.NewFixture(conformance.FixtureConfig{App: mizan.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}})
	doc, err := app.IR()
	if err != nil {
		f.Fatal(err)
	}
	m, err := app.Manifest()
	if err != nil {
		f.Fatal(err)
	}
	ea := explain.App{IR: doc, Manifest: m}
	for _, c := range calls {
		f.Add(c.fn, c.args)
	}
	f.Add("archive_orders", `{"user_id": 1e3, "status": null}`)
	f.Add("add_task", `{"project_id": 18446744073709551615, "title": "\u0000"}`)
	f.Fuzz(func(t *testing.T, fn, args string) {
		r, err := explain.Explain(ea, fn, []byte(args), explain.Options{Caller: "1"})
		if err != nil {
			return
		}
		if r.Header != "" {
			if _, err := protocol.ParseHeader(r.Header); err != nil {
				t.Errorf("%s %s: header %q does not parse: %v", fn, args, r.Header, err)
			}
		}
		var text bytes.Buffer
		if err := r.WriteText(&text); err != nil {
			t.Error(err)
		}
		if err := r.WriteJSON(io.Discard); err != nil {
			t.Error(err)
		}
	})
}
