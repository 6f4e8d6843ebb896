package live_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/auth"
	"github.com/mizan-afi/mizan/live"
)

// A signed-in connection's credentials are checked again on every call and
// subscription: after auth/logout/ the next call over the socket is refused
// with 401, and the connection is closed (1008) so the client connects again
// with what credentials it has now.
func TestLogoutRevokesAnOpenConnection(t *testing.T) {
	app := mizan.New(mizan.Config{
		Logger: discardLogger(),
		Auth: &auth.Config{
			PrivateKey: []byte("jwt-key-for-tests-0123456789abcdef"),
			Credentials: func(_ context.Context, username, password string) (*auth.User, error) {
				if username == "ada" && password == "ada-pw" {
					return &auth.User{ID: "1"}, nil
				}
				return nil, nil
			},
		},
	})
	mizan.Mutation(app, func(ctx context.Context, _ struct{}) (string, error) {
		return mizan.Caller(ctx).ID, nil
	}, mizan.Name("whoami"), mizan.WebSocket(), mizan.RequireAuth())
	mizan.Query(app, func(context.Context, struct{}) (int, error) { return 42, nil },
		mizan.Name("secret_value"), mizan.In("secret"), mizan.RequireAuth())
	mizan.Query(app, func(context.Context, struct{}) (int, error) { return 7, nil },
		mizan.Name("other_value"), mizan.In("other"), mizan.RequireAuth())
	hub, err := live.New(app, live.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Build(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app)
	t.Cleanup(func() { _ = hub.Close(); srv.Close() })
	wsURL := "ws" + strings.TrimPrefix(srv.URL, "http") + "/api/mizan/ws/"

	post := func(path, body, bearer string) (int, map[string]string) {
		t.Helper()
		req, _ := http.NewRequest("POST", srv.URL+"/api/mizan/"+path, bytes.NewBufferString(body))
		req.Header.Set("Content-Type", "application/json")
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]string
		_ = json.NewDecoder(res.Body).Decode(&out)
		return res.StatusCode, out
	}
	status, pair := post("auth/token/", `{"username":"ada","password":"ada-pw"}`, "")
	if status != 200 || pair["access"] == "" {
		t.Fatalf("sign-in: %d %v", status, pair)
	}

	// Two connections: one authenticated by its first message, one by the
	// upgrade request's Authorization header.
	byMessage := dial(t, wsURL)
	if m := byMessage.do(map[string]any{"type": "auth", "token": pair["access"]}); m["type"] != "ok" {
		t.Fatalf("auth message: %v", m)
	}
	byHeader := dial(t, wsURL, "Authorization", "Bearer "+pair["access"])
	for name, c := range map[string]*client{"auth message": byMessage, "upgrade header": byHeader} {
		if m := c.do(map[string]any{"type": "call", "fn": "whoami", "args": map[string]any{}}); m["type"] != "result" || m["result"] != "1" {
			t.Fatalf("%s: whoami before logout: %v", name, m)
		}
	}
	byHeader.subscribe("secret", map[string]any{})

	if status, out := post("auth/logout/", "", pair["access"]); status != 200 {
		t.Fatalf("logout: %d %v", status, out)
	}

	for name, c := range map[string]*client{"auth message": byMessage, "upgrade header": byHeader} {
		msg := map[string]any{"type": "call", "fn": "whoami", "args": map[string]any{}}
		if name == "upgrade header" {
			// a valid instance not subscribed yet: only the lapsed
			// credentials can refuse it
			msg = map[string]any{"type": "subscribe", "context": "other", "params": map[string]any{}}
		}
		m := c.do(msg)
		e, _ := m["error"].(map[string]any)
		if m["type"] != "error" || e["code"] != "unauthorized" {
			t.Fatalf("%s: after logout got %v, want an unauthorized error", name, m)
		}
		_, err := c.recvErr()
		var ce websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != live.CloseCredentials {
			t.Fatalf("%s: after the refusal the connection should close with %d: %v", name, live.CloseCredentials, err)
		}
	}

	// A new anonymous connection works, and is anonymous.
	anon := dial(t, wsURL)
	m := anon.do(map[string]any{"type": "call", "fn": "whoami", "args": map[string]any{}})
	if e, _ := m["error"].(map[string]any); m["type"] != "error" || e["code"] != "unauthorized" {
		t.Fatalf("anonymous whoami: %v", m)
	}
}
