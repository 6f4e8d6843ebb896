package conformance_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// The WebSocket attacks of the outside run (docs/spec.md §9, §13.5):
// malformed handshakes, subscription values that name an instance in
// another spelling, floods of malformed messages.

// wsKey is a well-formed Sec-WebSocket-Key.
var wsKey = base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))

// wsUpgrade is a well-formed upgrade request for ws/ of base, with the
// headers given ("Name: value") added.
func wsUpgrade(base string, headers ...string) string {
	return wsRequest(base, "GET "+prefix+"ws/ HTTP/1.1", append([]string{
		"Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: " + wsKey,
	}, headers...)...)
}

// wsRequest is a request with the request line and headers given.
func wsRequest(base, line string, headers ...string) string {
	var b strings.Builder
	b.WriteString(line + "\r\nHost: " + hostOf(base) + "\r\n")
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

// wantWSError fails t unless msg is the error reply to message id with
// code.
func wantWSError(t *testing.T, what string, msg []byte, id int, code string) {
	t.Helper()
	var m struct {
		ID    *int   `json:"id"`
		Type  string `json:"type"`
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg, &m); err != nil || m.Type != "error" || m.Error.Code != code || m.Error.Message == "" ||
		(id >= 0 && (m.ID == nil || *m.ID != id)) {
		t.Errorf("%s: %s, want the %s error of message %d (%v)", what, msg, code, id, err)
	}
}

// TestAttackWSHandshakes: every malformed or refused upgrade request is
// answered with the HTTP error envelope, never a library's text/plain and
// never an upgrade.
func TestAttackWSHandshakes(t *testing.T) {
	base := server.url
	const get = "GET " + prefix + "ws/ HTTP/1.1"
	conn, upgrade, version, key := "Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: "+wsKey
	if r := rawHTTP(t, base, wsUpgrade(base)); r.status != http.StatusSwitchingProtocols {
		t.Fatalf("a well-formed handshake: %d %s", r.status, r.body)
	}
	cases := []struct {
		name    string
		req     string
		status  int
		code    string
		version bool // the answer names the version it speaks
	}{
		{"version 8", wsRequest(base, get, conn, upgrade, "Sec-WebSocket-Version: 8", key), 400, "bad_request", true},
		{"version 14", wsRequest(base, get, conn, upgrade, "Sec-WebSocket-Version: 14", key), 400, "bad_request", true},
		{"version garbage", wsRequest(base, get, conn, upgrade, "Sec-WebSocket-Version: "+strings.Repeat("x", 4000), key), 400, "bad_request", true},
		{"two versions", wsRequest(base, get, conn, upgrade, "Sec-WebSocket-Version: 13, 8", key), 400, "bad_request", true},
		{"version twice", wsRequest(base, get, conn, upgrade, version, version, key), 400, "bad_request", true},
		{"no version", wsRequest(base, get, conn, upgrade, key), 400, "bad_request", true},
		{"no key", wsRequest(base, get, conn, upgrade, version), 400, "bad_request", false},
		{"empty key", wsRequest(base, get, conn, upgrade, version, "Sec-WebSocket-Key: "), 400, "bad_request", false},
		{"key not base64", wsRequest(base, get, conn, upgrade, version, "Sec-WebSocket-Key: not base64!"), 400, "bad_request", false},
		{"key of 15 bytes", wsRequest(base, get, conn, upgrade, version, "Sec-WebSocket-Key: "+base64.StdEncoding.EncodeToString(make([]byte, 15))), 400, "bad_request", false},
		{"two keys", wsRequest(base, get, conn, upgrade, version, key, key), 400, "bad_request", false},
		{"no Connection", wsRequest(base, get, upgrade, version, key), 400, "bad_request", false},
		{"Connection without upgrade", wsRequest(base, get, "Connection: keep-alive", upgrade, version, key), 400, "bad_request", false},
		{"no Upgrade", wsRequest(base, get, conn, version, key), 400, "bad_request", false},
		{"Upgrade h2c", wsRequest(base, get, conn, "Upgrade: h2c", version, key), 400, "bad_request", false},
		{"HTTP/1.0", wsRequest(base, "GET "+prefix+"ws/ HTTP/1.0", conn, upgrade, version, key), 400, "bad_request", false},
		{"POST", wsRequest(base, "POST "+prefix+"ws/ HTTP/1.1", conn, upgrade, version, key, "Content-Length: 0"), 405, "method_not_allowed", false},
		{"bad client id", wsRequest(base, "GET "+prefix+"ws/?client=../x HTTP/1.1", conn, upgrade, version, key), 400, "bad_request", false},
		{"huge client id", wsRequest(base, "GET "+prefix+"ws/?client="+strings.Repeat("a", 10000)+" HTTP/1.1", conn, upgrade, version, key), 400, "bad_request", false},
		{"foreign Origin", wsUpgrade(base, "Origin: https://evil.example"), 403, "forbidden", false},
		{"Origin null", wsUpgrade(base, "Origin: null"), 403, "forbidden", false},
		{"forged bearer", wsUpgrade(base, "Authorization: Bearer not-a-token"), 401, "unauthorized", false},
		{"alg none bearer", wsUpgrade(base, "Authorization: Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIiwidHlwZSI6ImFjY2VzcyJ9."), 401, "unauthorized", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := rawHTTP(t, base, c.req)
			wantRefusal(t, r, c.status, c.code)
			if got := r.header.Get("Sec-WebSocket-Version"); c.version && got != "13" {
				t.Errorf("Sec-WebSocket-Version %q, want 13", got)
			}
		})
	}
}

// TestAttackWSInstanceSpellings: a subscription to user {"user_id": "01"}
// is the instance user_id=1, as ?user_id=01 is on ctx/ (docs/spec.md §4),
// so update_profile(1) is pushed to it. (It was not: the subscription
// compared the raw string "01" and never heard of user 1's changes.)
func TestAttackWSInstanceSpellings(t *testing.T) {
	spellings := []any{"01", "001", "+1", "1", 1, "0000000000000000000000001"}
	conns := make([]*wsConn, len(spellings))
	for i, v := range spellings {
		conns[i] = wsDial(t, server.url)
		conns[i].subscribe("user", map[string]any{"user_id": v})
	}
	// Spellings that name no integer are refused.
	bad := wsDial(t, server.url)
	for _, v := range []any{"1.0", "0x1", "1e0", "", " 1", "9223372036854775808", "NaN", 1.5, true} {
		id := bad.send(map[string]any{"type": "subscribe", "context": "user", "params": map[string]any{"user_id": v}})
		wantWSError(t, fmt.Sprintf("user_id %#v", v), bad.next(), id, "invalid_args")
	}
	postTo(t, server.url, "update_profile", map[string]any{"user_id": 1, "name": "Ada"})
	for i, c := range conns {
		c.expect(fmt.Sprintf("the push to user_id %#v", spellings[i]), `{"type":"invalidate","targets":[{"context":"user","params":{"user_id":1}}]}`)
	}
}

// TestAttackWSMalformedFlood: 5,000 malformed messages on one connection
// are answered rate_limited once the burst is spent (they once skipped the
// rate limit), and the connection stays usable. Each message is sent after
// the reply to the one before, so that replies never back up into a
// slow-consumer close.
func TestAttackWSMalformedFlood(t *testing.T) {
	const n = 5000
	w := wsDial(t, server.url)
	codes := map[string]int{}
	start := time.Now()
	for i := range n {
		ctx, cancel := context.WithTimeout(context.Background(), liveWait)
		err := w.c.Write(ctx, websocket.MessageText, fmt.Appendf(nil, `{"id":%d,"type":"nonsense"`, i))
		cancel()
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		var m struct {
			Type  string `json:"type"`
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		if b := w.next(); json.Unmarshal(b, &m) != nil || m.Type != "error" {
			t.Fatalf("reply %d to a malformed message: %s", i, b)
		}
		codes[m.Error.Code]++
	}
	elapsed := time.Since(start)
	t.Logf("%d malformed messages in %v: %v", n, elapsed.Round(time.Millisecond), codes)
	// The defaults of live.Options: 50 a second, bursts of 100.
	allowed := 100 + int(elapsed.Seconds()*50) + 1
	if codes["bad_request"] > allowed || codes["bad_request"]+codes["rate_limited"] != n || codes["rate_limited"] < n-allowed {
		t.Errorf("replies %v, want at most %d bad_request and the rest rate_limited", codes, allowed)
	}
	// The bucket refills: the connection still works.
	time.Sleep(100 * time.Millisecond)
	w.subscribe("user", map[string]any{"user_id": "2"})
}

// TestAttackWSMalformedMessages: messages that are not the exact JSON of
// §9 are refused with bad_request and the connection stays open.
func TestAttackWSMalformedMessages(t *testing.T) {
	w := wsDial(t, server.url, "X-Test-User", "2")
	deep := strings.Repeat("[", 60_000) // under the 64 KiB message bound
	for _, msg := range []string{
		`{"id":1,"type":"call","fn":"fail","fn":"update_profile","args":{"user_id":2,"name":"Mallory"}}`,
		`{"id":1,"type":"call","FN":"update_profile","args":{"user_id":2,"name":"Mallory"}}`,
		`{"id":1,"TYPE":"call","fn":"update_profile","args":{"user_id":2,"name":"Mallory"}}`,
		`{"id":1,"type":"call","type":"subscribe","fn":"update_profile","args":{"user_id":2,"name":"Mallory"}}`,
		`{"id":1,"type":"call","fn":"update_profile","args":{"user_id":2,"user_id":1,"name":"Mallory"}}`,
		`{"id":1,"type":"call","fn":"update_profile","args":` + deep + `}`,
		deep,
		`{"id":1,"type":"subscribe","context":"user","params":{"user_id":"1","user_id":"2"}}`,
		"{\"id\":1,\"type\":\"call\",\"fn\":\"\xff\"}",
		`{"id":1e400,"type":"call","fn":"fail"}`,
		`{"id":12345678901234567,"type":"call","fn":"fail"}`,
		`{"id":"` + strings.Repeat("i", 65) + `","type":"call","fn":"fail"}`,
		`{"id":1,"type":"call","fn":"fail"} {"id":2,"type":"call","fn":"fail"}`,
		`[]`, `null`, `""`,
	} {
		ctx, cancel := context.WithTimeout(context.Background(), liveWait)
		err := w.c.Write(ctx, websocket.MessageText, []byte(msg))
		cancel()
		if err != nil {
			t.Fatalf("write %s: %v", short(msg), err)
		}
		b := w.next()
		var m struct {
			Type  string `json:"type"`
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		if json.Unmarshal(b, &m) != nil || m.Type != "error" || m.Error.Code != "bad_request" {
			t.Errorf("%s: %s, want a bad_request error", short(msg), short(string(b)))
		}
	}
	// Nothing ran, and the connection still works.
	w.subscribe("user", map[string]any{"user_id": "2"})
	if r := do(t, http.MethodGet, prefix+"ctx/user/?user_id=2", ""); strings.Contains(string(r.body), "Mallory") {
		t.Errorf("a refused message changed user 2: %s", r.body)
	}
}
