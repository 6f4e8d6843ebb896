package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mizan-afi/mizan/client"
	"github.com/mizan-afi/mizan/protocol"
)

// recorded is one request the test server saw.
type recorded struct {
	method, path, query, body string
	header                    http.Header
}

// serve answers every request with status and body, recording requests.
func serve(t *testing.T, status int, body string) (*client.Client, *[]recorded) {
	t.Helper()
	var got []recorded
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, recorded{r.Method, r.URL.Path, r.URL.RawQuery, string(b), r.Header.Clone()})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	c := client.New(client.Config{BaseURL: srv.URL + "/", Prefix: "/rpc/", Header: http.Header{"Authorization": {"Bearer t"}}})
	return c, &got
}

func TestCall(t *testing.T) {
	cases := []struct {
		name     string
		args     any
		wantBody string
	}{
		{"struct args", struct {
			UserID int `json:"user_id"`
		}{5}, `{"fn":"f","args":{"user_id":5}}`},
		{"no args", nil, `{"fn":"f","args":{}}`},
		{"nil map", map[string]any(nil), `{"fn":"f","args":{}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cl, got := serve(t, 200, `{"result":{"ok":true},"invalidate":["user",{"context":"orders","params":{"user_id":5}}]}`)
			res, err := client.Call[map[string]bool](context.Background(), cl, "f", c.args)
			if err != nil {
				t.Fatal(err)
			}
			r := (*got)[0]
			if r.method != "POST" || r.path != "/rpc/call/" || r.body != c.wantBody {
				t.Errorf("request %s %s %s", r.method, r.path, r.body)
			}
			if r.header.Get("Content-Type") != "application/json" || r.header.Get("Authorization") != "Bearer t" {
				t.Errorf("headers %v", r.header)
			}
			if !res.Result["ok"] || len(res.Invalidate) != 2 || res.Invalidate[1].Params["user_id"] != int64(5) {
				t.Errorf("result %+v", res)
			}
		})
	}
}

func TestCallWithoutTargets(t *testing.T) {
	cl, _ := serve(t, 200, `{"result":3}`)
	targets, err := cl.Call(context.Background(), "f", nil, nil)
	if err != nil || targets == nil || len(targets) != 0 {
		t.Errorf("targets %#v, %v", targets, err)
	}
}

func TestFetchContext(t *testing.T) {
	cl, got := serve(t, 200, `{"user_profile":{"id":1}}`)
	var out struct {
		UserProfile struct {
			ID int `json:"id"`
		} `json:"user_profile"`
	}
	type userID int64
	params := map[string]any{"user_id": userID(1), "q": "a b&c", "mine": true, "skip": nil}
	if err := cl.FetchContext(context.Background(), "user.v2", params, &out); err != nil {
		t.Fatal(err)
	}
	r := (*got)[0]
	if r.method != "GET" || r.path != "/rpc/ctx/user.v2/" || r.query != "mine=true&q=a+b%26c&user_id=1" {
		t.Errorf("request %s %s?%s", r.method, r.path, r.query)
	}
	if out.UserProfile.ID != 1 {
		t.Errorf("bundle %+v", out)
	}
	err := cl.FetchContext(context.Background(), "user", map[string]any{"x": 1.5}, &out)
	if err == nil || !strings.Contains(err.Error(), `client: fetch user: param "x"`) {
		t.Errorf("a float param: %v", err)
	}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		want   client.Error
	}{
		{"envelope", 400, `{"error":{"code":"invalid_args","message":"invalid arguments: name","fields":{"name":"required"}}}`,
			client.Error{Status: 400, Code: protocol.CodeInvalidArgs, Message: "invalid arguments: name", Fields: map[string]string{"name": "required"}}},
		{"own code", 409, `{"error":{"code":"conflict","message":"already done"}}`,
			client.Error{Status: 409, Code: protocol.CodeConflict, Message: "already done"}},
		{"not an envelope", 502, `<html>bad gateway</html>`,
			client.Error{Status: 502, Code: client.CodeUnexpected, Message: "<html>bad gateway</html>"}},
		{"empty body", 503, ``, client.Error{Status: 503, Code: client.CodeUnexpected, Message: "Service Unavailable"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cl, _ := serve(t, c.status, c.body)
			_, err := cl.Call(context.Background(), "f", nil, nil)
			var e *client.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v", err)
			}
			if e.Status != c.want.Status || e.Code != c.want.Code || e.Message != c.want.Message || len(e.Fields) != len(c.want.Fields) {
				t.Errorf("error %+v, want %+v", e, c.want)
			}
			if !strings.HasPrefix(err.Error(), "client: call f: "+string(c.want.Code)) {
				t.Errorf("message %q", err)
			}
		})
	}
}

func TestBadResponses(t *testing.T) {
	cl, _ := serve(t, 200, `{"result":"text"}`)
	var n int
	if _, err := cl.Call(context.Background(), "f", nil, &n); err == nil || !strings.Contains(err.Error(), "decoding the result") {
		t.Errorf("a result of the wrong type: %v", err)
	}
	cl, _ = serve(t, 200, `not json`)
	if err := cl.FetchContext(context.Background(), "c", nil, &n); err == nil || !strings.Contains(err.Error(), "decoding the response") {
		t.Errorf("a body that is not JSON: %v", err)
	}
	if _, err := cl.Call(context.Background(), "f", func() {}, nil); err == nil || !strings.Contains(err.Error(), "encoding the arguments") {
		t.Errorf("arguments that do not encode: %v", err)
	}
	dead := client.New(client.Config{BaseURL: "http://127.0.0.1:1"})
	_, err := dead.Call(context.Background(), "f", nil, nil)
	if _, isProtocol := client.AsError(err); err == nil || isProtocol {
		t.Errorf("a refused connection: %v", err)
	}
}

func TestSessionSendsTheCSRFToken(t *testing.T) {
	cl, got := serve(t, 200, `{"csrf_token":"abc"}`)
	tok, err := cl.Session(context.Background())
	if err != nil || tok != "abc" {
		t.Fatalf("session: %q, %v", tok, err)
	}
	_, _ = cl.Call(context.Background(), "f", nil, nil)
	if r := (*got)[1]; r.header.Get("X-CSRFToken") != "abc" {
		t.Errorf("headers after session/: %v", r.header)
	}
	if r := (*got)[0]; r.path != "/rpc/session/" {
		t.Errorf("session path %s", r.path)
	}
}

func TestErrorMessage(t *testing.T) {
	e := &client.Error{Status: 404, Code: protocol.CodeNotFound, Message: "no user"}
	if e.Error() != "not_found (404): no user" {
		t.Errorf("Error() = %q", e.Error())
	}
	b, _ := json.Marshal(e)
	if len(b) == 0 {
		t.Error("an Error does not marshal")
	}
}
