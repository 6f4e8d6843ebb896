package live_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/mizan-afi/mizan/live"
)

// The regressions of an outside attack run against ws/: handshakes that
// websocket.Accept refused in text/plain, malformed messages that skipped
// the rate limit, and connections without a cap.

// rawHandshake sends one hand-written request to the test server and
// returns its response and body; the connection is closed after it.
func rawHandshake(t *testing.T, a *testApp, request string) (*http.Response, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(a.srv.URL, "http://"), waitFor)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(waitFor))
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the response to %q: %v", request, err)
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusSwitchingProtocols {
		return res, ""
	}
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

// envelopeCode returns the code of an error envelope, failing unless body
// is exactly one.
func envelopeCode(t *testing.T, body string) string {
	t.Helper()
	var env struct {
		Error *struct {
			Code    string            `json:"code"`
			Message string            `json:"message"`
			Fields  map[string]string `json:"fields"`
		} `json:"error"`
	}
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil || env.Error == nil || env.Error.Code == "" || env.Error.Message == "" {
		t.Errorf("not the error envelope: %q (%v)", body, err)
		return ""
	}
	return env.Error.Code
}

// Every malformed upgrade request is answered with the error envelope of
// docs/spec.md §5 (400 bad_request), checked ahead of websocket.Accept,
// whose refusals are text/plain (426 for a missing Connection token).
func TestMalformedHandshakesAnswerTheEnvelope(t *testing.T) {
	a := newTestApp(t, appOptions{})
	host := strings.TrimPrefix(a.srv.URL, "http://")
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	// request writes a request line and headers, each "Name: value".
	request := func(line string, headers ...string) string {
		var b strings.Builder
		b.WriteString(line + "\r\nHost: " + host + "\r\n")
		for _, h := range headers {
			b.WriteString(h + "\r\n")
		}
		b.WriteString("\r\n")
		return b.String()
	}
	const get = "GET /api/mizan/ws/ HTTP/1.1"
	conn, upgrade, version := "Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13"
	withKey := "Sec-WebSocket-Key: " + key

	// The well-formed one upgrades, in any case and among other tokens.
	res, _ := rawHandshake(t, a, request(get, "Connection: keep-alive, upgrade", "Upgrade: WebSocket", version, withKey))
	if res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("well-formed handshake: %d", res.StatusCode)
	}

	cases := []struct {
		name    string
		req     string
		status  int
		code    string
		version bool // the response must carry Sec-WebSocket-Version: 13
	}{
		{"no Connection", request(get, upgrade, version, withKey), 400, "bad_request", false},
		{"Connection without upgrade", request(get, "Connection: keep-alive", upgrade, version, withKey), 400, "bad_request", false},
		{"no Upgrade", request(get, conn, version, withKey), 400, "bad_request", false},
		{"Upgrade not websocket", request(get, conn, "Upgrade: h2c", version, withKey), 400, "bad_request", false},
		{"no version", request(get, conn, upgrade, withKey), 400, "bad_request", true},
		{"version 8", request(get, conn, upgrade, "Sec-WebSocket-Version: 8", withKey), 400, "bad_request", true},
		{"version 13 twice over", request(get, conn, upgrade, "Sec-WebSocket-Version: 13, 8", withKey), 400, "bad_request", true},
		{"no key", request(get, conn, upgrade, version), 400, "bad_request", false},
		{"empty key", request(get, conn, upgrade, version, "Sec-WebSocket-Key: "), 400, "bad_request", false},
		{"key not base64", request(get, conn, upgrade, version, "Sec-WebSocket-Key: not base64!"), 400, "bad_request", false},
		{"key of 15 bytes", request(get, conn, upgrade, version, "Sec-WebSocket-Key: "+base64.StdEncoding.EncodeToString(make([]byte, 15))), 400, "bad_request", false},
		{"key of 17 bytes", request(get, conn, upgrade, version, "Sec-WebSocket-Key: "+base64.StdEncoding.EncodeToString(make([]byte, 17))), 400, "bad_request", false},
		{"two keys", request(get, conn, upgrade, version, withKey, withKey), 400, "bad_request", false},
		{"HTTP/1.0", request("GET /api/mizan/ws/ HTTP/1.0", conn, upgrade, version, withKey), 400, "bad_request", false},
		{"POST", request("POST /api/mizan/ws/ HTTP/1.1", conn, upgrade, version, withKey, "Content-Length: 0"), 405, "method_not_allowed", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, body := rawHandshake(t, a, c.req)
			if res.StatusCode != c.status {
				t.Errorf("status %d, want %d (%q)", res.StatusCode, c.status, body)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json (%q)", ct, body)
			}
			if code := envelopeCode(t, body); code != c.code {
				t.Errorf("code %q, want %q (%q)", code, c.code, body)
			}
			if got := res.Header.Get("Sec-WebSocket-Version"); c.version && got != "13" {
				t.Errorf("Sec-WebSocket-Version %q, want 13", got)
			}
		})
	}
	if s := a.hub.Stats(); s.Connections > 1 {
		t.Errorf("stats %+v: a refused handshake left a connection", s)
	}
}

// floodMalformed sends n malformed messages, each after the reply to the
// one before (so that the replies never back up into a slow-consumer
// close), and counts the replies by error code.
func floodMalformed(t *testing.T, c *client, n int) map[string]int {
	t.Helper()
	codes := map[string]int{}
	for i := range n {
		c.sendRaw(fmt.Sprintf(`{"id":%d,"type":"nonsense"`, i)) // not even JSON
		m := c.recv()
		e, _ := m["error"].(map[string]any)
		if m["type"] != "error" || e == nil {
			t.Fatalf("reply %d to a malformed message: %v", i, m)
		}
		codes[fmt.Sprint(e["code"])]++
	}
	return codes
}

// Every message received counts against the connection's rate limit before
// it is parsed: a flood of malformed messages is answered rate_limited
// once the burst is spent, like any flood. (It was not: 5,000 malformed
// messages got no rate_limited reply at all.)
func TestMalformedMessagesCountAgainstTheRateLimit(t *testing.T) {
	a := newTestApp(t, appOptions{}) // the default rate: 50 a second, bursts of 100
	c := dial(t, a.url)
	const n = 5000
	start := time.Now()
	codes := floodMalformed(t, c, n)
	elapsed := time.Since(start)
	t.Logf("%d malformed messages in %v: %v", n, elapsed.Round(time.Millisecond), codes)
	// However fast or slow the loop ran, the bucket let through at most its
	// burst and what it refilled meanwhile; everything else was refused
	// unread.
	allowed := live.DefaultMessageBurst + int(math.Ceil(elapsed.Seconds()*live.DefaultMessageRate)) + 1
	if codes["bad_request"] > allowed {
		t.Errorf("%d malformed messages were read, want at most %d (burst %d + %v at %d/s)",
			codes["bad_request"], allowed, live.DefaultMessageBurst, elapsed, live.DefaultMessageRate)
	}
	if codes["rate_limited"] < n-allowed || codes["bad_request"]+codes["rate_limited"] != n {
		t.Errorf("replies %v, want %d rate_limited at least", codes, n-allowed)
	}
}

// A malformed message spends a token as any other does, so that what
// follows a spent burst is not handled (docs/live.md: "not handled and
// answered rate_limited", with the message's id) whatever came before it.
func TestMalformedMessagesSpendTheBurst(t *testing.T) {
	a := newTestApp(t, appOptions{live: live.Options{MessageRate: 0.001, MessageBurst: 3}})
	c := dial(t, a.url)
	for _, msg := range []string{`{`, `[]`, `{"id":1,"type":"ping"}`} {
		c.sendRaw(msg)
		if m := c.recv(); m["type"] != "error" || m["error"].(map[string]any)["code"] != "bad_request" {
			t.Fatalf("%s: %v", msg, m)
		}
	}
	m := c.do(map[string]any{"type": "subscribe", "context": "user", "params": map[string]any{"user_id": "1"}})
	expect(t, m, fmt.Sprintf(`{"id":%d,"type":"error","error":{"code":"rate_limited","message":"too many messages: at most 0.001 a second on average, in bursts of 3; this one was not handled"}}`, c.id))
	// Refused unread: a malformed one too, and without an id when its id
	// cannot be read.
	c.sendRaw(`{"id":"x","type":`)
	expect(t, c.recv(), `{"type":"error","error":{"code":"rate_limited","message":"too many messages: at most 0.001 a second on average, in bursts of 3; this one was not handled"}}`)
	if s := a.hub.Stats(); s.Subscriptions != 0 {
		t.Errorf("stats %+v: the rate-limited subscribe was handled", s)
	}
}

// dialFrom connects to url from the local address ip (an address of the
// loopback network), with the request headers given as name, value pairs.
func dialFrom(ip string, url string, headers ...string) (*websocket.Conn, *http.Response, error) {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: waitFor}
	hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	h := http.Header{}
	for i := 0; i+1 < len(headers); i += 2 {
		h.Set(headers[i], headers[i+1])
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	return websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: hc, HTTPHeader: h})
}

// refused fails unless a dial was refused before the upgrade with status
// and the envelope of code.
func refused(t *testing.T, ws *websocket.Conn, res *http.Response, err error, status int, code string) {
	t.Helper()
	if err == nil {
		_ = ws.CloseNow()
		t.Fatalf("connection accepted, want %d %s", status, code)
	}
	if res == nil {
		t.Fatalf("no response: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != status || res.Header.Get("Content-Type") != "application/json" {
		t.Errorf("refusal %d %q %s, want %d application/json", res.StatusCode, res.Header.Get("Content-Type"), body, status)
	}
	if got := envelopeCode(t, string(body)); got != code {
		t.Errorf("code %q, want %q", got, code)
	}
}

// waitConnections waits until the hub counts n connections (a closed one
// is counted until its goroutines are done).
func waitConnections(t *testing.T, h *live.Hub, n int) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for h.Stats().Connections != n {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v, want %d connections", h.Stats(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// One client address may hold MaxConnectionsPerClient connections; the
// next is refused before the upgrade with 429 rate_limited and
// Retry-After, and closing one frees its slot. (There was no cap: one
// client opened 2,000 connections in half a second.)
func TestConnectionsPerClientAreCapped(t *testing.T) {
	const max = 3
	a := newTestApp(t, appOptions{live: live.Options{MaxConnectionsPerClient: max}})
	var held []*client
	for range max {
		held = append(held, dial(t, a.url))
	}
	ws, res, err := dialErr(a.url)
	refused(t, ws, res, err, http.StatusTooManyRequests, "rate_limited")
	if res != nil && res.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	// A refusal takes no slot: the address stays at its cap, no higher.
	for range 2 * max {
		ws, res, err := dialErr(a.url)
		refused(t, ws, res, err, http.StatusTooManyRequests, "rate_limited")
	}
	// Closing one frees its slot.
	_ = held[0].ws.Close(websocket.StatusNormalClosure, "")
	waitConnections(t, a.hub, max-1)
	c := dial(t, a.url)
	c.subscribe("user", map[string]any{"user_id": "1"})
	ws, res, err = dialErr(a.url)
	refused(t, ws, res, err, http.StatusTooManyRequests, "rate_limited")

	// Another address has slots of its own (127.0.0.2 is loopback on Linux).
	switch other, res, err := dialFrom("127.0.0.2", a.url); {
	case err == nil:
		_ = other.CloseNow()
	case res != nil:
		t.Errorf("another address refused: %d", res.StatusCode)
	default:
		t.Logf("no second loopback address (%v): skipping that part", err)
	}
	if s := a.hub.Stats(); s.Refused != uint64(2+2*max) {
		t.Errorf("stats %+v, want %d refused", s, 2+2*max)
	}
}

// A handshake refused after its slot was taken (refused credentials, a
// forbidden origin) gives it back.
func TestRefusedHandshakesFreeTheirSlot(t *testing.T) {
	a := newTestApp(t, appOptions{live: live.Options{MaxConnections: 1, MaxConnectionsPerClient: 1}})
	for range 5 {
		ws, res, err := dialErr(a.url, "X-User", "bad")
		refused(t, ws, res, err, http.StatusUnauthorized, "unauthorized")
	}
	c := dial(t, a.url)
	c.subscribe("user", map[string]any{"user_id": "1"})
}

// The hub holds at most MaxConnections connections, whoever opens them; the
// next is refused before the upgrade with 503 unavailable, and closing one
// frees its slot.
func TestConnectionsAreCappedInTotal(t *testing.T) {
	const max = 3
	a := newTestApp(t, appOptions{live: live.Options{MaxConnections: max, MaxConnectionsPerClient: 10 * max}})
	var held []*client
	for range max {
		held = append(held, dial(t, a.url))
	}
	ws, res, err := dialErr(a.url)
	refused(t, ws, res, err, http.StatusServiceUnavailable, "unavailable")
	// From another address too (127.0.0.2 is loopback on Linux).
	if ws, res, err := dialFrom("127.0.0.2", a.url); res != nil || err == nil {
		refused(t, ws, res, err, http.StatusServiceUnavailable, "unavailable")
	} else {
		t.Logf("no second loopback address (%v): skipping that part", err)
	}
	_ = held[1].ws.Close(websocket.StatusNormalClosure, "")
	waitConnections(t, a.hub, max-1)
	c := dial(t, a.url)
	c.subscribe("user", map[string]any{"user_id": "1"})
	ws, res, err = dialErr(a.url)
	refused(t, ws, res, err, http.StatusServiceUnavailable, "unavailable")
}

// Negative caps turn them off.
func TestConnectionCapsOff(t *testing.T) {
	a := newTestApp(t, appOptions{live: live.Options{MaxConnections: -1, MaxConnectionsPerClient: -1}})
	for range live.DefaultMaxConnectionsPerClient + 1 {
		dial(t, a.url)
	}
	waitConnections(t, a.hub, live.DefaultMaxConnectionsPerClient+1)
}

// TestMessagesAreExactAndUnique: a WebSocket call is decoded like call/'s
// body: exact member names, none given twice (the attack ran the last "fn"
// of two, and matched "FN" as "fn").
func TestMessagesAreExactAndUnique(t *testing.T) {
	a := newTestApp(t, appOptions{})
	c := dial(t, a.url)
	for _, m := range []string{
		`{"id":1,"type":"call","fn":"fail","fn":"boom"}`,
		`{"id":2,"type":"call","FN":"boom"}`,
		`{"id":3,"TYPE":"call","fn":"boom"}`,
		`{"id":4,"type":"subscribe","context":"user","params":{"user_id":"1","user_id":"2"}}`,
		`{"id":5,"type":"call","fn":"update_profile","args":{"user_id":1,"user_id":2,"name":"x"}}`,
	} {
		c.sendRaw(m)
		msg := c.recv()
		e, _ := msg["error"].(map[string]any)
		if msg["type"] != "error" || e["code"] != "bad_request" {
			t.Errorf("%s: %v, want a bad_request error", m, msg)
		}
	}
}
