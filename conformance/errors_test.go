package conformance_test

import (
	"bytes"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// errorCase is one request that must fail with the error envelope.
type errorCase struct {
	name    string
	method  string
	path    string // under the prefix
	body    string
	headers []string
	status  int
	code    string
	fields  []string // the arguments "fields" must name, exactly
	allow   string   // for 405: a method the Allow header must list
}

// jsonBody is the Content-Type of a call/ request.
var jsonBody = []string{"Content-Type", "application/json"}

func with(base []string, pairs ...string) []string {
	return append(slices.Clone(base), pairs...)
}

// overLimit is a call/ body just over the fixture's 1 MiB bound.
var overLimit = `{"fn":"update_profile","args":{"user_id":3,"name":"` + strings.Repeat("x", 1<<20) + `"}}`

// errorCases reaches every error code of docs/spec.md §5 but unavailable,
// which nothing in the fixture can produce.
var errorCases = []errorCase{
	// bad_request: malformed JSON, wrong shape, not JSON at all.
	{name: "malformed JSON", method: "POST", path: "call/", body: `{"fn":`, headers: jsonBody, status: 400, code: "bad_request"},
	{name: "empty body", method: "POST", path: "call/", body: ``, headers: jsonBody, status: 400, code: "bad_request"},
	{name: "body not an object", method: "POST", path: "call/", body: `[{"fn":"secret"}]`, headers: jsonBody, status: 400, code: "bad_request"},
	{name: "fn not a string", method: "POST", path: "call/", body: `{"fn":5}`, headers: jsonBody, status: 400, code: "bad_request"},
	{name: "fn missing", method: "POST", path: "call/", body: `{"args":{}}`, headers: jsonBody, status: 400, code: "bad_request"},
	{name: "args not an object", method: "POST", path: "call/", body: `{"fn":"fail","args":[1]}`, headers: jsonBody, status: 400, code: "bad_request"},
	{name: "text/plain body", method: "POST", path: "call/", body: `{"fn":"fail"}`, headers: []string{"Content-Type", "text/plain"}, status: 400, code: "bad_request"},
	{name: "form body", method: "POST", path: "call/", body: `fn=fail`, headers: []string{"Content-Type", "application/x-www-form-urlencoded"}, status: 400, code: "bad_request"},
	{name: "no Content-Type", method: "POST", path: "call/", body: `{"fn":"fail"}`, status: 400, code: "bad_request"},
	{name: "malformed query", method: "GET", path: "ctx/user/?user_id=%zz", status: 400, code: "bad_request"},

	// invalid_args through call/: missing, unknown, wrongly typed.
	{name: "call missing argument", method: "POST", path: "call/", body: `{"fn":"update_profile","args":{"name":"X"}}`, headers: jsonBody,
		status: 400, code: "invalid_args", fields: []string{"user_id"}},
	{name: "call unknown argument", method: "POST", path: "call/", body: `{"fn":"update_profile","args":{"user_id":3,"name":"X","nickname":"Y"}}`, headers: jsonBody,
		status: 400, code: "invalid_args", fields: []string{"nickname"}},
	{name: "call argument to a function without any", method: "POST", path: "call/", body: `{"fn":"fail","args":{"force":true}}`, headers: jsonBody,
		status: 400, code: "invalid_args", fields: []string{"force"}},
	{name: "call string for int", method: "POST", path: "call/", body: `{"fn":"update_profile","args":{"user_id":"3","name":"X"}}`, headers: jsonBody,
		status: 400, code: "invalid_args", fields: []string{"user_id"}},
	{name: "call int for string", method: "POST", path: "call/", body: `{"fn":"update_profile","args":{"user_id":3,"name":7}}`, headers: jsonBody,
		status: 400, code: "invalid_args", fields: []string{"name"}},
	{name: "call null for int", method: "POST", path: "call/", body: `{"fn":"update_profile","args":{"user_id":null,"name":"X"}}`, headers: jsonBody,
		status: 400, code: "invalid_args", fields: []string{"user_id"}},
	{name: "call fraction for int", method: "POST", path: "call/", body: `{"fn":"archive_orders","args":{"user_id":1.5,"status":"open"}}`, headers: jsonBody,
		status: 400, code: "invalid_args", fields: []string{"user_id"}},
	{name: "call several bad arguments", method: "POST", path: "call/", body: `{"fn":"archive_orders","args":{"status":false,"when":"now"}}`, headers: jsonBody,
		status: 400, code: "invalid_args", fields: []string{"status", "user_id", "when"}},

	// invalid_args through ctx/: query parameters.
	{name: "ctx missing parameter", method: "GET", path: "ctx/user/", status: 400, code: "invalid_args", fields: []string{"user_id"}},
	{name: "ctx non-integer parameter", method: "GET", path: "ctx/user/?user_id=abc", status: 400, code: "invalid_args", fields: []string{"user_id"}},
	{name: "ctx unknown parameter", method: "GET", path: "ctx/user/?user_id=1&nickname=x", status: 400, code: "invalid_args", fields: []string{"nickname"}},
	{name: "ctx repeated parameter", method: "GET", path: "ctx/user/?user_id=1&user_id=2", status: 400, code: "invalid_args", fields: []string{"user_id"}},
	{name: "ctx parameter of a context without any", method: "GET", path: "ctx/global/?user_id=1", status: 400, code: "invalid_args", fields: []string{"user_id"}},
	{name: "ctx several missing parameters", method: "GET", path: "ctx/orders/?user_id=1", status: 400, code: "invalid_args", fields: []string{"page", "status"}},
	{name: "ctx non-integer page", method: "GET", path: "ctx/orders/?user_id=1&page=two&status=open", status: 400, code: "invalid_args", fields: []string{"page"}},
	{name: "ctx page below 1", method: "GET", path: "ctx/orders/?user_id=1&page=0&status=open", status: 400, code: "invalid_args", fields: []string{"page"}},

	// unauthorized and forbidden: auth guards and cross-site requests.
	{name: "secret anonymous", method: "POST", path: "call/", body: `{"fn":"secret"}`, headers: jsonBody, status: 401, code: "unauthorized"},
	{name: "admin_action anonymous", method: "POST", path: "call/", body: `{"fn":"admin_action"}`, headers: jsonBody, status: 401, code: "unauthorized"},
	{name: "admin_action not staff", method: "POST", path: "call/", body: `{"fn":"admin_action"}`, headers: with(jsonBody, "X-Test-User", "2"),
		status: 403, code: "forbidden"},
	{name: "admin_action staff 0", method: "POST", path: "call/", body: `{"fn":"admin_action"}`, headers: with(jsonBody, "X-Test-User", "1", "X-Test-Staff", "0"),
		status: 403, code: "forbidden"},
	{name: "cross-site call", method: "POST", path: "call/", body: `{"fn":"secret"}`, headers: with(jsonBody, "X-Test-User", "2", "Sec-Fetch-Site", "cross-site"),
		status: 403, code: "forbidden"},
	{name: "foreign origin call", method: "POST", path: "call/", body: `{"fn":"secret"}`, headers: with(jsonBody, "X-Test-User", "2", "Origin", "https://evil.example"),
		status: 403, code: "forbidden"},

	// not_found: unknown function, context, resource or endpoint.
	{name: "unknown function", method: "POST", path: "call/", body: `{"fn":"no_such_function"}`, headers: jsonBody, status: 404, code: "not_found"},
	{name: "context function through call/", method: "POST", path: "call/", body: `{"fn":"user_profile","args":{"user_id":1}}`, headers: jsonBody,
		status: 404, code: "not_found"},
	{name: "unknown context", method: "GET", path: "ctx/no_such_context/", status: 404, code: "not_found"},
	{name: "unknown user", method: "GET", path: "ctx/user/?user_id=99", status: 404, code: "not_found"},
	{name: "unknown user's orders", method: "GET", path: "ctx/orders/?user_id=99&page=1&status=open", status: 404, code: "not_found"},
	{name: "unknown endpoint", method: "GET", path: "no_such_endpoint/", status: 404, code: "not_found"},

	// method_not_allowed.
	{name: "GET call/", method: "GET", path: "call/", status: 405, code: "method_not_allowed", allow: "POST"},
	{name: "PUT call/", method: "PUT", path: "call/", body: `{"fn":"fail"}`, headers: jsonBody, status: 405, code: "method_not_allowed", allow: "POST"},
	{name: "POST ctx/", method: "POST", path: "ctx/user/?user_id=1", body: `{}`, headers: jsonBody, status: 405, code: "method_not_allowed", allow: "GET"},
	{name: "POST session/", method: "POST", path: "session/", status: 405, code: "method_not_allowed", allow: "GET"},

	// payload_too_large, conflict, internal.
	{name: "body over 1 MiB", method: "POST", path: "call/", body: overLimit, headers: jsonBody, status: 413, code: "payload_too_large"},
	{name: "function's own error", method: "POST", path: "call/", body: `{"fn":"fail"}`, headers: jsonBody, status: 409, code: "conflict"},
	{name: "panic", method: "POST", path: "call/", body: `{"fn":"panic_for_tests"}`, headers: jsonBody, status: 500, code: "internal"},
}

// TestErrors checks every error case: status, the exact envelope, no
// invalidation header, Cache-Control: no-store (checked by do) and, for
// 405, the Allow header.
func TestErrors(t *testing.T) {
	for _, c := range errorCases {
		t.Run(c.name, func(t *testing.T) {
			r := do(t, c.method, prefix+c.path, c.body, c.headers...)
			wantError(t, r, c.status, c.code, c.fields...)
			if c.allow != "" && !slices.Contains(strings.Split(strings.ReplaceAll(r.header.Get("Allow"), " ", ""), ","), c.allow) {
				t.Errorf("Allow %q does not list %s", r.header.Get("Allow"), c.allow)
			}
		})
	}
}

// TestErrorCasesCoverEveryCode checks that errorCases reaches every code of
// docs/spec.md §5 that the fixture can produce, with its status.
func TestErrorCasesCoverEveryCode(t *testing.T) {
	want := map[string]int{
		"bad_request": 400, "invalid_args": 400, "unauthorized": 401, "forbidden": 403, "not_found": 404,
		"method_not_allowed": 405, "conflict": 409, "payload_too_large": 413, "internal": 500,
	}
	for code, status := range want {
		if !slices.ContainsFunc(errorCases, func(c errorCase) bool { return c.code == code && c.status == status }) {
			t.Errorf("no error case reaches %s %d", code, status)
		}
	}
	for _, c := range errorCases {
		if status, ok := want[c.code]; !ok || status != c.status {
			t.Errorf("case %q: %s %d is not a §5 code with its status", c.name, c.code, c.status)
		}
	}
}

// TestInternalErrorHidesDetail checks that a panic is sent as a bare
// internal error and, when the suite started the fixture, logged with its
// detail.
func TestInternalErrorHidesDetail(t *testing.T) {
	const detail = "db-password-7f3a" // in the panic of panic_for_tests
	r := call(t, "panic_for_tests", nil)
	wantError(t, r, http.StatusInternalServerError, "internal")
	if bytes.Contains(r.body, []byte(detail)) {
		t.Errorf("the panic's detail reached the client: %s", r.body)
	}
	if server.proc == nil {
		return
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(server.proc.stderr.String(), detail) {
		if time.Now().After(deadline) {
			t.Fatalf("the panic's detail %q was not logged; stderr:\n%s", detail, server.proc.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCrossSiteMutationDoesNotRun checks that a refused cross-site call
// leaves the data as it was.
func TestCrossSiteMutationDoesNotRun(t *testing.T) {
	wantResult(t, call(t, "update_profile", map[string]any{"user_id": 3, "name": "Lin"}),
		`{"ok": true}`, `[{"context": "user", "params": {"user_id": 3}}]`, "user;user_id=3")
	for _, h := range [][]string{{"Sec-Fetch-Site", "cross-site"}, {"Origin", "https://evil.example"}} {
		r := call(t, "update_profile", map[string]any{"user_id": 3, "name": "Mallory"}, h...)
		wantError(t, r, http.StatusForbidden, "forbidden")
	}
	r := do(t, http.MethodGet, prefix+"ctx/user/?user_id=3", "")
	obj, err := decodeObject(r.body)
	if err != nil {
		t.Fatalf("ctx/user/: %v", err)
	}
	wantJSON(t, "user_profile of 3", obj["user_profile"], `{"id": 3, "name": "Lin", "email": "lin@example.com"}`)
}
