package conformance_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The outside attack run (the hardening issue), replayed against the
// fixture over real HTTP: every case is an attack that once broke
// something, or a cheap one that held, and each must keep holding. The
// contract is docs/spec.md §5: every failure is the error envelope with a
// 4xx status, never a 500, never a hang. What is where:
//   - this file: malformed and deeply nested bodies, 2 MiB bodies, huge and
//     repeated query parameters, NaN/1e400/int64-overflow arguments, ".."
//     and percent-encoded names, bounded error bodies, envelope members
//     matched exactly, order_page's overflow;
//   - attack_auth_test.go: forged JWTs (alg none, key confusion), token
//     swaps, parallel refreshes, cross-site requests and forged cookies;
//   - attack_live_test.go: malformed WebSocket handshakes and messages,
//     floods, subscription values in another spelling;
//   - attack_cache_test.go, with a real Redis: a lost generation
//     (TestAttackLostGeneration) and one client filling the cache with
//     distinct instances, under admission auto and always
//     (TestAttackCacheFill);
//   - attack_serve_test.go, against fixture processes whose limits the
//     fixture's flags lower to a second (-read-timeout, -idle-timeout,
//     -ws-max-per-client, -ws-max-connections): slow bodies and idle
//     keep-alives closed, one and a hundred at once
//     (TestAttackSlowBody, TestAttackIdleConnection,
//     TestAttackManySlowClients), and the WebSocket caps per client
//     address and in total (TestAttackWSConnectionCap).
//
// Left to other suites, since the fixture does not have what they attack:
//   - the CSRF check of a real cookie session: the fixture has no cookie
//     sign-in over HTTP, so the root tests (mizan_ext_test.go
//     TestSessionAndCSRF, auth_ext_test.go TestCookieSession) check it;
//   - an SSR worker killed with -9 during renders: the fixture renders no
//     pages with Bun, so ssr/retry_test.go (TestWorkerKilledUnderLoad,
//     TestWorkerKilledMidRenderPoolOfOne) and ssr/bridge_test.go
//     (TestWorkerKilledMidFlight) check the retry;
//   - the taskboard's guard on what is not public (members' emails and
//     staff flags): examples/taskboard's own tests (app_test.go
//     TestWhatIsPublic, auth_test.go TestAuthGuards, live_test.go
//     TestLiveDirectoryIsGuarded) check it;
//   - generations evicted by Redis under every maxmemory policy:
//     cache/redis/eviction_test.go TestEvictionPolicies; a stalled Redis:
//     cache/redis TestStalledServer and the root TestRedisCacheStalledServer.

// maxErrorBody bounds an error body, whatever the request echoed.
const maxErrorBody = 8 << 10

// attackWait bounds one attack's answer: a guard against a hang, never an
// assertion about speed.
const attackWait = 10 * time.Second

// doAt is do against the server at base (a fixture process of one test).
func doAt(t *testing.T, base, method, path, body string, headers ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return doRequest(t, req)
}

// doRequest sends req and reads its answer, checking Cache-Control:
// no-store under the prefix as do does.
func doRequest(t *testing.T, req *http.Request) response {
	t.Helper()
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL.Path, err)
	}
	r := response{status: res.StatusCode, header: res.Header, body: raw}
	if strings.HasPrefix(req.URL.Path, prefix) {
		if cc := res.Header.Values("Cache-Control"); len(cc) != 1 || cc[0] != "no-store" {
			t.Errorf("%s %s: Cache-Control %q, want exactly no-store (status %d)", req.Method, short(req.URL.Path), cc, r.status)
		}
	}
	return r
}

// wantRefusal fails t unless r is the error envelope of §5 with status and
// code, whatever fields it names (wantError checks them exactly), in at
// most maxErrorBody bytes; code "" accepts any code.
func wantRefusal(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Errorf("status %d, want %d: %s", r.status, status, short(string(r.body)))
	}
	if mt := r.mediaType(); mt != "application/json" {
		t.Errorf("Content-Type %q, want application/json: %s", r.header.Get("Content-Type"), short(string(r.body)))
	}
	wantHeader(t, r, headerInvalidate, "")
	if len(r.body) > maxErrorBody {
		t.Errorf("a %d-byte error body, want at most %d: %s", len(r.body), maxErrorBody, short(string(r.body)))
	}
	var env struct {
		Error *struct {
			Code    string            `json:"code"`
			Message string            `json:"message"`
			Fields  map[string]string `json:"fields"`
		} `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil || env.Error == nil || strings.TrimSpace(env.Error.Message) == "" {
		t.Fatalf("not the error envelope (%v): %s", err, short(string(r.body)))
	}
	if code != "" && env.Error.Code != code {
		t.Errorf("code %q, want %q: %s", env.Error.Code, code, short(string(r.body)))
	}
}

// short cuts s for a failure message.
func short(s string) string {
	if len(s) > 300 {
		return fmt.Sprintf("%s… (%d bytes)", s[:300], len(s))
	}
	return s
}

// rawHTTP writes request as it is to the server at base, on a connection of
// its own, and reads the answer. The request is written while the answer is
// read, so that a server refusing it early is heard.
func rawHTTP(t *testing.T, base, request string) response {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, attackWait)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	go func() { _, _ = io.WriteString(conn, request) }() // the server may stop reading
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer to %q: %v", short(request), err)
	}
	defer res.Body.Close()
	var body []byte
	if res.StatusCode != http.StatusSwitchingProtocols {
		body, _ = io.ReadAll(res.Body)
	}
	return response{status: res.StatusCode, header: res.Header, body: body}
}

// hostOf returns the host:port of base.
func hostOf(base string) string { return strings.TrimPrefix(base, "http://") }

// TestAttackOrderPageOverflow: page=9223372036854775807 once panicked in
// order_page's slice arithmetic (a 500).
func TestAttackOrderPageOverflow(t *testing.T) {
	for _, page := range []string{"9223372036854775807", "4611686018427387904", "2"} {
		r := do(t, http.MethodGet, prefix+"ctx/orders/?user_id=1&status=open&page="+page, "")
		if r.status != http.StatusOK {
			t.Fatalf("page=%s: %d %s", page, r.status, r.body)
		}
		var b struct {
			OrderPage struct {
				Items []json.RawMessage `json:"items"`
			} `json:"order_page"`
		}
		if err := json.Unmarshal(r.body, &b); err != nil || len(b.OrderPage.Items) != 0 {
			t.Errorf("page=%s: %s (%v), want no items", page, r.body, err)
		}
	}
	// One past int64 is no page at all.
	wantError(t, do(t, http.MethodGet, prefix+"ctx/orders/?user_id=1&status=open&page=9223372036854775808", ""),
		http.StatusBadRequest, "invalid_args", "page")
}

// TestAttackEnvelopeMembers: call/ once matched "FN" as "fn" and ran the
// last of two "fn" members. secret requires a caller, so each body is sent
// as user 2: a 200 would mean secret ran.
func TestAttackEnvelopeMembers(t *testing.T) {
	for _, body := range []string{
		`{"FN":"secret"}`,
		`{"Fn":"secret"}`,
		`{"\u0046N":"secret"}`,
		`{"fn":"fail","fn":"secret"}`,
		`{"fn":"secret","fn":"fail"}`,
		`{"f\u006e":"fail","fn":"secret"}`,
		`{"fn":"secret","ARGS":{}}`,
		`{"fn":"secret","args":{},"args":{}}`,
		`{"fn":"secret","args":{},"args":null}`,
		`{"fn":"secret","extra":1}`,
		`{"fn":"secret","":1}`,
		`{"fn ":"secret"}`,
		`{"fn\u0000":"secret"}`,
		`{"ｆｎ":"secret"}`,
	} {
		t.Run(body, func(t *testing.T) {
			wantError(t, do(t, http.MethodPost, prefix+"call/", body, with(jsonBody, "X-Test-User", "2")...),
				http.StatusBadRequest, "bad_request")
		})
	}
	// Names are compared decoded, as JSON defines them: an escaped "fn" is
	// "fn".
	t.Run("escaped but exact", func(t *testing.T) {
		wantResult(t, do(t, http.MethodPost, prefix+"call/", `{"f\u006e":"secret","\u0061rgs":{}}`, with(jsonBody, "X-Test-User", "2")...),
			`{"secret": 42}`, `[]`, "")
	})
	// A repeated argument, plain or escaped, is refused before the
	// mutation runs: user 3 keeps its name.
	t.Run("repeated argument", func(t *testing.T) {
		for _, body := range []string{
			`{"fn":"update_profile","args":{"user_id":3,"user_id":1,"name":"Mallory"}}`,
			`{"fn":"update_profile","args":{"user_id":3,"user_\u0069d":1,"name":"Mallory"}}`,
			`{"fn":"update_profile","args":{"user_id":3,"name":"Lin","name":"Mallory"}}`,
		} {
			wantError(t, do(t, http.MethodPost, prefix+"call/", body, jsonBody...), http.StatusBadRequest, "bad_request")
		}
		if r := do(t, http.MethodGet, prefix+"ctx/user/?user_id=3", ""); !bytes.Contains(r.body, []byte(`"name":"Lin"`)) {
			t.Errorf("user 3 after refused calls: %s", r.body)
		}
	})
}

// TestAttackMalformedBodies: malformed JSON on every endpoint that reads a
// body is 400 bad_request.
func TestAttackMalformedBodies(t *testing.T) {
	bodies := []string{
		`{`, `}`, `{"fn":"fail",}`, `{"fn":"fail"}garbage`, `{"fn":"fail"} {"fn":"secret"}`,
		`{'fn':'fail'}`, "{\"fn\":\"\xff\"}", "\xef\xbb\xbf{\"fn\":\"fail\"}", `{"fn":"\ud800"}`,
		`{"fn":"fail","args":{"x":NaN}}`, `{"fn":"fail","args":{"x":Infinity}}`, `{"fn":"fail","args":{"x":01}}`,
		`{"fn":"fail","args":{"x":.5}}`, `{"fn":"fail","args":{"x":"\x01"}}`, `{"fn":"fail" /* */}`,
		"\x00", `nul`, `"fn"`, `42`, `null`, `true`,
	}
	for _, path := range []string{"call/", "auth/token/", "auth/refresh/"} {
		for _, body := range bodies {
			t.Run(path+" "+body, func(t *testing.T) {
				wantError(t, do(t, http.MethodPost, prefix+path, body, jsonBody...), http.StatusBadRequest, "bad_request")
			})
		}
	}
}

// TestAttackDeepNesting: 100,000 levels of nesting, anywhere in a body, are
// refused quickly, never a stack overflow or a hang.
func TestAttackDeepNesting(t *testing.T) {
	const depth = 100_000
	arrays := strings.Repeat("[", depth) + strings.Repeat("]", depth)
	objects := strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
	cases := []struct{ name, path, body string }{
		{"body of arrays", "call/", arrays},
		{"unclosed arrays", "call/", strings.Repeat("[", depth)},
		{"fn", "call/", `{"fn":` + arrays + `}`},
		{"args", "call/", `{"fn":"fail","args":` + arrays + `}`},
		{"an int argument", "call/", `{"fn":"update_profile","args":{"user_id":` + arrays + `,"name":"x"}}`},
		{"a string argument of objects", "call/", `{"fn":"update_profile","args":{"user_id":1,"name":` + objects + `}}`},
		{"an unknown argument", "call/", `{"fn":"update_profile","args":{"user_id":1,"name":"x","deep":` + arrays + `}}`},
		{"an unclosed unknown argument", "call/", `{"fn":"update_profile","args":{"user_id":1,"name":"x","deep":` + strings.Repeat("[", depth) + `}}`},
		{"username", "auth/token/", `{"username":` + arrays + `,"password":"x"}`},
		{"refresh", "auth/refresh/", `{"refresh":` + objects + `}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			r := do(t, http.MethodPost, prefix+c.path, c.body, jsonBody...)
			if d := time.Since(start); d > attackWait {
				t.Errorf("answered in %v", d)
			}
			wantError(t, r, http.StatusBadRequest, "bad_request")
		})
	}
}

// TestAttackLargeBodies: a 2 MiB body, on every endpoint and route that
// reads one, is 413 payload_too_large (the fixture's bound is 1 MiB),
// whether its length is declared or not.
func TestAttackLargeBodies(t *testing.T) {
	const size = 2 << 20
	filler := strings.Repeat("x", size)
	cases := []struct{ name, path, ctype, body string }{
		{"call/", prefix + "call/", "application/json", `{"fn":"update_profile","args":{"user_id":3,"name":"` + filler + `"}}`},
		{"call/ garbage", prefix + "call/", "application/json", filler},
		{"call/ deep", prefix + "call/", "application/json", strings.Repeat("[", size)},
		{"auth/token/", prefix + "auth/token/", "application/json", `{"username":"ada","password":"` + filler + `"}`},
		{"auth/refresh/", prefix + "auth/refresh/", "application/json", `{"refresh":"` + filler + `"}`},
		{"view form", "/profile/3/update/", "application/x-www-form-urlencoded", "name=" + filler},
		{"private route", "/webhooks/stripe/", "application/json", `{"data":"` + filler + `"}`},
	}
	for _, c := range cases {
		for _, chunked := range []bool{false, true} {
			name := c.name
			if chunked {
				name += " chunked"
			}
			t.Run(name, func(t *testing.T) {
				var body io.Reader = strings.NewReader(c.body)
				if chunked {
					body = io.MultiReader(body) // no length: sent chunked
				}
				req, err := http.NewRequest(http.MethodPost, server.url+c.path, body)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", c.ctype)
				wantError(t, doRequest(t, req), http.StatusRequestEntityTooLarge, "payload_too_large")
			})
		}
	}
	if r := do(t, http.MethodGet, prefix+"ctx/user/?user_id=3", ""); !bytes.Contains(r.body, []byte(`"name":"Lin"`)) {
		t.Errorf("user 3 after refused bodies: %s", r.body)
	}
}

// TestAttackNumericArguments: NaN, 1e400 and integers past int64 for an
// int argument are invalid_args naming it, in a body and in a query; a bare
// NaN or Infinity is not JSON at all.
func TestAttackNumericArguments(t *testing.T) {
	for _, v := range []string{
		`"NaN"`, `"Infinity"`, `1e400`, `-1e400`, `1e19`, `9223372036854775808`, `-9223372036854775809`,
		`18446744073709551616`, `1e308`, `4.9e-324`, `1.5`, `"1"`, `true`, `[1]`, `{"$gt":0}`,
	} {
		t.Run("call "+v, func(t *testing.T) {
			wantError(t, do(t, http.MethodPost, prefix+"call/", `{"fn":"update_profile","args":{"user_id":`+v+`,"name":"Mallory"}}`, jsonBody...),
				http.StatusBadRequest, "invalid_args", "user_id")
		})
	}
	for _, v := range []string{`NaN`, `Infinity`, `-Infinity`, `+1`, `0x10`} {
		t.Run("call bare "+v, func(t *testing.T) {
			wantError(t, do(t, http.MethodPost, prefix+"call/", `{"fn":"update_profile","args":{"user_id":`+v+`,"name":"Mallory"}}`, jsonBody...),
				http.StatusBadRequest, "bad_request")
		})
	}
	for _, v := range []string{
		"NaN", "Infinity", "-Inf", "1e400", "1e2", "9223372036854775808", "-9223372036854775809",
		"18446744073709551616", "0x10", "1_000", "1.0", "%201", "1%00", "",
	} {
		t.Run("ctx "+v, func(t *testing.T) {
			wantError(t, do(t, http.MethodGet, prefix+"ctx/user/?user_id="+v, ""), http.StatusBadRequest, "invalid_args", "user_id")
		})
	}
	if r := do(t, http.MethodGet, prefix+"ctx/user/?user_id=3", ""); !bytes.Contains(r.body, []byte(`"name":"Lin"`)) {
		t.Errorf("user 3 after refused calls: %s", r.body)
	}
}

// TestAttackQueries: repeated query parameters are invalid_args naming
// them; huge queries are refused, by Mizan with a bounded envelope while
// they fit the header limit, by net/http beyond it.
func TestAttackQueries(t *testing.T) {
	t.Run("duplicates", func(t *testing.T) {
		for _, q := range []string{
			"user_id=1&user_id=1", "user_id=1&user_id=2", "user_id=1&user%5Fid=2", "user_id=1&user_%69d=1",
			"user_id=1;user_id=2", strings.Repeat("user_id=1&", 5000) + "user_id=1",
		} {
			r := do(t, http.MethodGet, prefix+"ctx/user/?"+q, "")
			if strings.Contains(q, ";") {
				// net/url refuses a semicolon: the whole query is malformed.
				wantError(t, r, http.StatusBadRequest, "bad_request")
				continue
			}
			wantError(t, r, http.StatusBadRequest, "invalid_args", "user_id")
		}
		wantError(t, do(t, http.MethodGet, prefix+"ctx/orders/?user_id=1&page=1&status=open&status=shipped", ""),
			http.StatusBadRequest, "invalid_args", "status")
	})
	t.Run("a 50 KiB parameter name", func(t *testing.T) {
		r := do(t, http.MethodGet, prefix+"ctx/user/?user_id=1&"+strings.Repeat("n", 50<<10)+"=1", "")
		wantRefusal(t, r, http.StatusBadRequest, "invalid_args")
	})
	t.Run("a 50 KiB parameter value", func(t *testing.T) {
		r := do(t, http.MethodGet, prefix+"ctx/user/?user_id="+strings.Repeat("9", 50<<10), "")
		wantError(t, r, http.StatusBadRequest, "invalid_args", "user_id")
		if len(r.body) > maxErrorBody {
			t.Errorf("a %d-byte error body", len(r.body))
		}
	})
	t.Run("6,000 unknown parameters", func(t *testing.T) {
		var q strings.Builder
		q.WriteString("user_id=1")
		for i := range 6000 {
			fmt.Fprintf(&q, "&p%d=1", i)
		}
		wantRefusal(t, do(t, http.MethodGet, prefix+"ctx/user/?"+q.String(), ""), http.StatusBadRequest, "invalid_args")
	})
	t.Run("a 1 MiB query", func(t *testing.T) {
		// Over mizan.Serve's MaxHeaderBytes (64 KiB): net/http answers
		// 431 in text/plain itself, before Mizan sees the request, and
		// closes the connection.
		q := "user_id=1&x=" + strings.Repeat("n", 1<<20-16)
		r := rawHTTP(t, server.url, "GET "+prefix+"ctx/user/?"+q+" HTTP/1.1\r\nHost: "+hostOf(server.url)+"\r\n\r\n")
		if r.status != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("status %d, want 431 (net/http's refusal): %s", r.status, short(string(r.body)))
		}
	})
	t.Run("1 MiB of headers", func(t *testing.T) {
		r := rawHTTP(t, server.url, "GET "+prefix+"ctx/user/?user_id=1 HTTP/1.1\r\nHost: "+hostOf(server.url)+
			"\r\nX-Junk: "+strings.Repeat("j", 1<<20)+"\r\n\r\n")
		if r.status != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("status %d, want 431 (net/http's refusal): %s", r.status, short(string(r.body)))
		}
	})
	t.Run("a malformed query", func(t *testing.T) {
		for _, q := range []string{"user_id=1&%zz=1", "user_id=%", "user_id=1&%=1"} {
			wantError(t, do(t, http.MethodGet, prefix+"ctx/user/?"+q, ""), http.StatusBadRequest, "bad_request")
		}
	})
}

// TestAttackErrorBodiesAreBounded: a huge unknown name and 9,000 unknown
// arguments once gave error bodies of 1.8 MiB and 312 KB; every error body
// now stays under 8 KiB whatever the request held.
func TestAttackErrorBodiesAreBounded(t *testing.T) {
	huge := strings.Repeat("n", 900<<10) // in a body, under the 1 MiB bound
	long := strings.Repeat("n", 50<<10)  // in a URL, under the 64 KiB header bound
	var args strings.Builder
	args.WriteString(`{"fn":"update_profile","args":{"user_id":1,"name":"x"`)
	for i := range 9000 {
		fmt.Fprintf(&args, `,"unknown_%d":1`, i)
	}
	args.WriteString(`}}`)
	cases := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"9,000 unknown arguments", "POST", "call/", args.String(), 400, "invalid_args"},
		{"a 900 KiB function name", "POST", "call/", `{"fn":"` + huge + `"}`, 404, "not_found"},
		{"a 900 KiB argument name", "POST", "call/", `{"fn":"update_profile","args":{"user_id":1,"name":"x","` + huge + `":1}}`, 400, "invalid_args"},
		{"a 900 KiB username", "POST", "auth/token/", `{"username":"` + huge + `","password":"x"}`, 401, "unauthorized"},
		{"a 900 KiB refresh token", "POST", "auth/refresh/", `{"refresh":"` + huge + `"}`, 401, "unauthorized"},
		{"a 50 KiB parameter name", "GET", "ctx/user/?user_id=1&" + long + "=1", "", 400, "invalid_args"},
		{"a 50 KiB context name", "GET", "ctx/" + long + "/", "", 404, "not_found"},
		{"a 50 KiB endpoint", "GET", long + "/", "", 404, "not_found"},
		{"a 50 KiB escaped endpoint", "GET", strings.Repeat("%2e%2e/", 7<<10), "", 404, "not_found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantRefusal(t, do(t, c.method, prefix+c.path, c.body, jsonBody...), c.status, c.code)
		})
	}
	t.Run("a 50 KiB bearer token", func(t *testing.T) {
		wantRefusal(t, call(t, "secret", nil, bearer(long)...), http.StatusUnauthorized, "unauthorized")
	})
}

// TestAttackPaths: ".." and percent-encoded segments never escape the
// prefix or reach another endpoint, and never give a 500.
func TestAttackPaths(t *testing.T) {
	// An encoded dot segment is no dot segment: it names no endpoint.
	for _, p := range []string{
		"ctx/%2e%2e/call/", "ctx/%2E%2E/call/", "%2e%2e/%2e%2e/etc/passwd", "ctx/user/%2e%2e/", "ctx/user/..%2f..%2f/",
		"auth/%2e%2e/token/", "ws/%2e%2e/", "ctx/%2e/", "ctx/..%2Fuser/?user_id=1", "ctx/user%2F/?user_id=1",
		"ctx/%00/", "ctx/%ff/", "ctx/%c0%ae%c0%ae/", "ctx/user%00/?user_id=1", "call%2F",
	} {
		t.Run(p, func(t *testing.T) {
			r := rawHTTP(t, server.url, "GET "+prefix+p+" HTTP/1.1\r\nHost: "+hostOf(server.url)+"\r\n\r\n")
			wantRefusal(t, r, http.StatusNotFound, "not_found")
		})
	}
	// A literal dot segment or doubled slash: net/http's mux redirects to
	// the cleaned path (a redirect, not a failure), whose answer is then
	// the envelope or the endpoint itself.
	for _, p := range []string{
		prefix + "ctx/../call/", prefix + "../../etc/passwd", prefix + "./ctx/user/?user_id=1", prefix + "ctx//user/?user_id=1",
		prefix + "ctx/user/../../ctx/user/?user_id=1", "/profile/1/../2/",
	} {
		t.Run(p, func(t *testing.T) {
			r := rawHTTP(t, server.url, "GET "+p+" HTTP/1.1\r\nHost: "+hostOf(server.url)+"\r\n\r\n")
			if r.status < 300 || r.status >= 400 {
				t.Fatalf("status %d, want a redirect to the cleaned path: %s", r.status, short(string(r.body)))
			}
			loc := r.header.Get("Location")
			if strings.Contains(loc, "/../") || strings.Contains(loc, "/./") || strings.Contains(loc, "//") || !strings.HasPrefix(loc, "/") {
				t.Fatalf("Location %q is not a cleaned local path", loc)
			}
			next := rawHTTP(t, server.url, "GET "+loc+" HTTP/1.1\r\nHost: "+hostOf(server.url)+"\r\n\r\n")
			if next.status >= 500 || (next.status >= 300 && next.status < 400) {
				t.Errorf("%s: status %d: %s", loc, next.status, short(string(next.body)))
			}
			if next.status >= 400 {
				wantRefusal(t, next, next.status, "")
			}
		})
	}
	// A percent-encoded unreserved byte is the byte itself (RFC 3986
	// §6.2.2.2): the same answer as the plain name, or an envelope.
	plain := do(t, http.MethodGet, prefix+"ctx/user/?user_id=1", "")
	for _, p := range []string{"ctx/%75ser/?user_id=1", "ctx/us%65r/?user_id=1", "%63tx/user/?user_id=1", "ctx/user/?user%5Fid=1", "ctx/user/?%75ser_id=%31"} {
		t.Run(p, func(t *testing.T) {
			r := rawHTTP(t, server.url, "GET "+prefix+p+" HTTP/1.1\r\nHost: "+hostOf(server.url)+"\r\n\r\n")
			switch {
			case r.status == http.StatusOK:
				if !bytes.Equal(r.body, plain.body) {
					t.Errorf("200 %s, want the answer of ctx/user/?user_id=1, %s", r.body, plain.body)
				}
			case r.status >= 400 && r.status < 500:
				wantRefusal(t, r, r.status, "")
			default:
				t.Errorf("status %d: %s", r.status, short(string(r.body)))
			}
		})
	}
	// An encoded name of a function on a route of its own is the route's
	// parameter, refused by its type.
	for _, p := range []string{"/profile/%2e%2e/", "/profile/1%2F/", "/profile/..%2F..%2F/"} {
		t.Run(p, func(t *testing.T) {
			r := rawHTTP(t, server.url, "GET "+p+" HTTP/1.1\r\nHost: "+hostOf(server.url)+"\r\n\r\n")
			wantRefusal(t, r, http.StatusBadRequest, "invalid_args")
		})
	}
	// A malformed escape in the path: net/http refuses the request line
	// itself (400 text/plain) before Mizan sees it.
	t.Run("malformed escape", func(t *testing.T) {
		r := rawHTTP(t, server.url, "GET "+prefix+"ctx/%zz/ HTTP/1.1\r\nHost: "+hostOf(server.url)+"\r\n\r\n")
		if r.status != http.StatusBadRequest {
			t.Errorf("status %d, want net/http's 400: %s", r.status, short(string(r.body)))
		}
	})
}
