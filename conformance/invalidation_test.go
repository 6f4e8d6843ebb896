package conformance_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/mizan-afi/mizan/internal/redistest"
)

// The invalidation model of docs/spec.md §3 (revision 2) on the fixture's
// task functions (§7): filter parameters, run-time scope, an explicit empty
// scope and caller scoping, in the body, the header, the origin cache and
// the WebSocket pushes.

// restoreTask puts task id back in state after a test moved it.
func restoreTask(t *testing.T, id int, state string) {
	t.Cleanup(func() {
		r := call(t, "set_task_state", map[string]any{"task_id": id, "state": state})
		if r.status != http.StatusOK {
			t.Errorf("restoring task %d: %d %s", id, r.status, r.body)
		}
	})
}

func TestTaskMutationTargets(t *testing.T) {
	restoreTask(t, 2, "doing")
	// state is a filter of tasks: add_task's target is scoped by the
	// project only, though add_task has a state argument.
	r := call(t, "add_task", map[string]any{"project_id": 2, "title": "Retro", "state": "done"})
	var added struct {
		Result struct {
			ID int `json:"id"`
		} `json:"result"`
	}
	if err := json.Unmarshal(r.body, &added); err != nil || added.Result.ID < 5 {
		t.Fatalf("add_task: %d %s (%v)", r.status, r.body, err)
	}
	wantResult(t, r, fmt.Sprintf(`{"id":%d}`, added.Result.ID),
		`[{"context":"tasks","params":{"project_id":2}}]`, "tasks;project_id=2")

	// set_task_state: task by tier 1, tasks scoped at run time by the
	// project the function looked up (task 2 is in project 1).
	r = call(t, "set_task_state", map[string]any{"task_id": 2, "state": "todo"})
	wantResult(t, r, `{"ok":true}`,
		`[{"context":"task","params":{"task_id":2}},{"context":"tasks","params":{"project_id":1}}]`,
		"task;task_id=2, tasks;project_id=1")

	// An unknown task: the function's own 404, and no targets.
	wantError(t, call(t, "set_task_state", map[string]any{"task_id": 99, "state": "todo"}), 404, "not_found")

	// rename_task declares ScopeBy(): its target is broad, though task_id
	// is a parameter of task.
	r = call(t, "rename_task", map[string]any{"task_id": 1, "title": "Write spec"})
	wantResult(t, r, `{"ok":true}`, `["task"]`, "task")

	// update_my_name: global (caller-scoped: the body and header keep it
	// whole) and user scoped at run time by the caller's id.
	r = call(t, "update_my_name", map[string]any{"name": "Grace"}, "X-Test-User", "2")
	wantResult(t, r, `{"ok":true}`, `["global",{"context":"user","params":{"user_id":2}}]`, "global, user;user_id=2")
	wantError(t, call(t, "update_my_name", map[string]any{"name": "Nobody"}), 401, "unauthorized")
}

func TestTaskListAndDetail(t *testing.T) {
	r := do(t, http.MethodGet, prefix+"ctx/tasks/?project_id=1&state=todo", "")
	if r.status != 200 {
		t.Fatalf("tasks: %d %s", r.status, r.body)
	}
	var b struct {
		TaskList []struct {
			ID    int    `json:"id"`
			State string `json:"state"`
			BigID string `json:"big_id"`
		} `json:"task_list"`
	}
	if err := json.Unmarshal(r.body, &b); err != nil {
		t.Fatalf("tasks: %s: %v", r.body, err)
	}
	if len(b.TaskList) != 1 || b.TaskList[0].ID != 1 || b.TaskList[0].State != "todo" || b.TaskList[0].BigID != "9007199254740993" {
		t.Errorf("tasks of project 1 in todo: %s", r.body)
	}
	r = do(t, http.MethodGet, prefix+"ctx/task/?task_id=1", "")
	var d struct {
		TaskDetail map[string]json.RawMessage `json:"task_detail"`
	}
	if err := json.Unmarshal(r.body, &d); err != nil {
		t.Fatalf("task: %s: %v", r.body, err)
	}
	wantJSON(t, "task 1's due", d.TaskDetail["due"], `"2026-02-01T00:00:00Z"`)
	wantJSON(t, "task 1's created_at", d.TaskDetail["created_at"], `"2026-01-01T09:00:00Z"`)
	wantError(t, do(t, http.MethodGet, prefix+"ctx/task/?task_id=42", ""), 404, "not_found")
	wantError(t, do(t, http.MethodGet, prefix+"ctx/tasks/?project_id=1&state=later", ""), 400, "invalid_args", "state")
}

// TestValidationReportsEverythingAtOnce: a wrongly typed argument, an
// unknown one and a failing validate rule are named in one response.
func TestValidationReportsEverythingAtOnce(t *testing.T) {
	r := call(t, "add_task", map[string]any{"project_id": "one", "colour": "red", "title": ""})
	wantError(t, r, 400, "invalid_args", "colour", "project_id", "title")
	r = call(t, "set_task_state", map[string]any{"task_id": 1, "state": "later", "extra": true})
	wantError(t, r, 400, "invalid_args", "extra", "state")
}

// cachedFixture starts a fixture process with the origin cache in a real
// Redis of its own (with extraEnv, such as MIZAN_CACHE_ADMISSION), both
// stopped when t ends.
func cachedFixture(t *testing.T, extraEnv ...string) (*fixtureProc, *redistest.Server) {
	t.Helper()
	needProcess(t)
	r := redistest.Start(t)
	p, err := startFixtureEnv(server.bin, append([]string{
		"MIZAN_CACHE_REDIS_URL=" + r.URL(), "MIZAN_PUBSUB_REDIS_URL=",
		"MIZAN_CACHE_SECRET=conformance-cache-secret-0123456789abcdef",
		// A loaded CI machine under -race can hold a Redis reply past the
		// default 100 ms: the cache then serves without Redis (bypass), as
		// it should, which these tests would read as a failure.
		"MIZAN_CACHE_TIMEOUT=5s",
	}, extraEnv...), "-addr", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.stop(); err != nil {
			t.Errorf("fixture at %s: %v\nstderr:\n%s", p.url, err, p.stderr.String())
		}
	})
	return p, r
}

// fetchAt gets ctx/<path> from base and returns X-Mizan-Cache and the body.
func fetchAt(t *testing.T, base, path string, headers ...string) (string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+prefix+"ctx/"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, res.StatusCode, b)
	}
	return res.Header.Get("X-Mizan-Cache"), string(b)
}

// callAt posts a call to base as caller ("" for anonymous) and checks 200.
func callAt(t *testing.T, base, caller, fn string, args any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"fn": fn, "args": args})
	req, _ := http.NewRequest(http.MethodPost, base+prefix+"call/", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	if caller != "" {
		req.Header.Set("X-Test-User", caller)
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("call %s: %v", fn, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("call %s: %d %s", fn, res.StatusCode, b)
	}
}

// cacheProbe is one instance the cache test watches, fetched as caller.
type cacheProbe struct {
	path, caller string
}

func (p cacheProbe) String() string {
	if p.caller == "" {
		return p.path
	}
	return p.path + " as " + p.caller
}

// TestCachePerInstanceAfterMutations: after each mutation, exactly the
// instances its targets match (docs/spec.md §3) are misses, with fresh
// data; every other instance is still a hit.
func TestCachePerInstanceAfterMutations(t *testing.T) {
	p, _ := cachedFixture(t)
	base := p.url
	probes := []cacheProbe{
		{"tasks/?project_id=1&state=todo", ""},
		{"tasks/?project_id=1&state=doing", ""},
		{"tasks/?project_id=1", ""},
		{"tasks/?project_id=2", ""},
		{"task/?task_id=2", ""},
		{"task/?task_id=3", ""},
		{"global/", ""},
		{"global/", "2"},
		{"global/", "3"},
		{"user/?user_id=2", ""},
		{"user/?user_id=1", ""},
	}
	warm := func() map[cacheProbe]string {
		bodies := map[cacheProbe]string{}
		for _, p := range probes {
			fetchAt(t, base, p.path, "X-Test-User", p.caller)
			status, body := fetchAt(t, base, p.path, "X-Test-User", p.caller)
			if status != "hit" {
				t.Fatalf("%s: second fetch %q, want hit", p, status)
			}
			bodies[p] = body
		}
		return bodies
	}
	// check fetches every probe once: those in stale must miss (and show
	// data other than before), the others must hit.
	check := func(step string, before map[cacheProbe]string, stale ...cacheProbe) {
		t.Helper()
		for _, p := range probes {
			status, body := fetchAt(t, base, p.path, "X-Test-User", p.caller)
			want := "hit"
			for _, s := range stale {
				if s == p {
					want = "miss"
				}
			}
			if status != want {
				t.Errorf("after %s: %s is %q, want %q", step, p, status, want)
			}
			if want == "hit" && body != before[p] {
				t.Errorf("after %s: %s changed on a hit", step, p)
			}
		}
	}

	// Task 2 (project 1) moves from doing to todo: every project 1 list
	// (the filtered ones included: it left doing and joined todo) and task
	// 2; project 2 and task 3 stay cached.
	before := warm()
	callAt(t, base, "", "set_task_state", map[string]any{"task_id": 2, "state": "todo"})
	check("set_task_state", before, probes[0], probes[1], probes[2], probes[4])
	if _, body := fetchAt(t, base, "tasks/?project_id=1&state=doing"); strings.Contains(body, `"id":2`) {
		t.Errorf("task 2 still listed as doing: %s", body)
	}
	if _, body := fetchAt(t, base, "tasks/?project_id=1&state=todo"); !strings.Contains(body, `"id":2`) {
		t.Errorf("task 2 not listed as todo: %s", body)
	}

	// rename_task's explicit empty scope: every task instance.
	before = warm()
	callAt(t, base, "", "rename_task", map[string]any{"task_id": 3, "title": "Ship it"})
	check("rename_task", before, probes[4], probes[5])

	// add_task in project 2: project 2's list only.
	before = warm()
	callAt(t, base, "", "add_task", map[string]any{"project_id": 2, "title": "Retro"})
	check("add_task", before, probes[3])

	// update_my_name by user 2: global narrowed to user 2's entries, and
	// user 2's profile; user 3's global, the anonymous one and user 1
	// stay cached.
	before = warm()
	callAt(t, base, "2", "update_my_name", map[string]any{"name": "Grace H."})
	check("update_my_name", before, probes[7], probes[9])
	if _, body := fetchAt(t, base, "user/?user_id=2"); !strings.Contains(body, "Grace H.") {
		t.Errorf("user 2 after update_my_name: %s", body)
	}
}

// TestQueryNormalization: ?user_id=01 and ?user_id=1 are one instance, one
// cache entry, purged by user_id=1 (docs/spec.md §4).
func TestQueryNormalization(t *testing.T) {
	p, _ := cachedFixture(t)
	base := p.url
	fetchAt(t, base, "user/?user_id=1")
	if status, _ := fetchAt(t, base, "user/?user_id=01"); status != "hit" {
		t.Fatalf("user_id=01 after user_id=1: %q, want hit (one instance)", status)
	}
	if status, _ := fetchAt(t, base, "user/?user_id=%2B1"); status != "hit" {
		t.Fatalf("user_id=+1 after user_id=1: %q, want hit (one instance)", status)
	}
	callAt(t, base, "", "update_profile", map[string]any{"user_id": 1, "name": "Ada L."})
	status, body := fetchAt(t, base, "user/?user_id=001")
	if status != "miss" || !strings.Contains(body, "Ada L.") {
		t.Fatalf("user_id=001 after update_profile(1): %q %s, want a miss with the new name", status, body)
	}
}

// TestLiveTaskPushes: a subscriber of tasks?project_id=1&state=todo is
// pushed set_task_state of task 2 to todo (state is a filter, the project
// comes from the run-time scope); one of project 2 is not. A caller-scoped
// target reaches only the caller's connections.
func TestLiveTaskPushes(t *testing.T) {
	restoreTask(t, 2, "doing")
	todo, other := wsDial(t, server.url), wsDial(t, server.url)
	todo.subscribe("tasks", map[string]any{"project_id": "1", "state": "todo"})
	other.subscribe("tasks", map[string]any{"project_id": "2"})
	caller := wsDial(t, server.url, "X-Test-User", "2")
	id := caller.send(map[string]any{"type": "call", "fn": "set_task_state", "args": map[string]any{"task_id": 2, "state": "todo"}})
	caller.expect("set_task_state over WebSocket", fmt.Sprintf(
		`{"id":%d,"type":"result","result":{"ok":true},"invalidate":[{"context":"task","params":{"task_id":2}},{"context":"tasks","params":{"project_id":1}}]}`, id))
	todo.expect("push of set_task_state", `{"type":"invalidate","targets":[{"context":"tasks","params":{"project_id":1}}]}`)

	// Project 2's subscriber gets its first push from add_task in project
	// 2: nothing reached it for project 1.
	postTo(t, server.url, "add_task", map[string]any{"project_id": 2, "title": "Later"})
	other.expect("push of add_task", `{"type":"invalidate","targets":[{"context":"tasks","params":{"project_id":2}}]}`)

	// update_my_name by user 3: user 3's global subscription is pushed;
	// user 2's is not (its first push is its own update_my_name).
	g2, g3 := wsDial(t, server.url, "X-Test-User", "2"), wsDial(t, server.url, "X-Test-User", "3")
	g2.subscribe("global", nil)
	g3.subscribe("global", nil)
	callAs := func(user, name string) {
		r := call(t, "update_my_name", map[string]any{"name": name}, "X-Test-User", user)
		if r.status != 200 {
			t.Fatalf("update_my_name as %s: %d %s", user, r.status, r.body)
		}
	}
	callAs("3", "Lin")
	g3.expect("user 3's push of update_my_name", `{"type":"invalidate","targets":["global"]}`)
	callAs("2", "Grace")
	g2.expect("user 2's first push", `{"type":"invalidate","targets":["global"]}`)
}
