package mizan_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/auth"
)

// Regression tests for what the outside attack run found (the hardening
// issue): each reproduces an attack and fails without its fix.

// TestErrorsDoNotEchoUnboundedInput: a 900 KiB unknown parameter name and
// 9,000 unknown arguments once gave error bodies of 1.8 MiB and 312 KB.
func TestErrorsDoNotEchoUnboundedInput(t *testing.T) {
	app := mizan.New(mizan.Config{MaxBodyBytes: 1 << 20})
	s := &store{names: map[int]string{1: "Ada"}}
	mizan.Query(app, s.userProfile, mizan.In(User))
	mizan.Mutation(app, s.updateProfile, mizan.Affects(User))
	if err := app.Build(); err != nil {
		t.Fatal(err)
	}
	huge := strings.Repeat("n", 900<<10)
	var args strings.Builder
	args.WriteString(`{"fn":"update_profile","args":{"user_id":1,"name":"x"`)
	for i := range 9000 {
		fmt.Fprintf(&args, `,"unknown_%d":1`, i)
	}
	args.WriteString(`}}`)
	for _, c := range []struct {
		name string
		req  *http.Request
	}{
		{"ctx/ with a 900 KiB parameter name", newRequest(t, http.MethodGet, "/api/mizan/ctx/user/?user_id=1&"+huge+"=1", "")},
		{"call/ with 9,000 unknown arguments", newRequest(t, http.MethodPost, "/api/mizan/call/", args.String())},
		{"call/ with a 900 KiB function name", newRequest(t, http.MethodPost, "/api/mizan/call/", `{"fn":"`+huge+`"}`)},
	} {
		w := httptest.NewRecorder()
		app.ServeHTTP(w, c.req)
		body, _ := io.ReadAll(w.Result().Body)
		if w.Code < 400 || w.Code >= 500 {
			t.Errorf("%s: status %d", c.name, w.Code)
		}
		if len(body) > 8<<10 {
			t.Errorf("%s: a %d-byte error body", c.name, len(body))
		}
	}
}

// newRequest is a request to the app, JSON when it has a body.
func newRequest(t *testing.T, method, target, body string) *http.Request {
	t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	return r
}

// TestRequestBodiesAreExactAndUnique: call/ once matched "FN" and "ARGS"
// as "fn" and "args", and ran the last of two "fn" members; so did the
// arguments and the auth endpoints.
func TestRequestBodiesAreExactAndUnique(t *testing.T) {
	ran := map[string]int{}
	var mu sync.Mutex
	mark := func(name string) func(context.Context, updateArgs) (ok, error) {
		return func(context.Context, updateArgs) (ok, error) {
			mu.Lock()
			ran[name]++
			mu.Unlock()
			return ok{true}, nil
		}
	}
	app := mizan.New(mizan.Config{Auth: &auth.Config{PrivateKey: []byte(strings.Repeat("k", 32)),
		Credentials: func(context.Context, string, string) (*auth.User, error) { return nil, nil }}})
	mizan.Mutation(app, mark("secret"), mizan.Name("secret"))
	mizan.Mutation(app, mark("harmless"), mizan.Name("harmless"))
	if err := app.Build(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path, body, code string
	}{
		{"call/", `{"FN":"secret","ARGS":{"user_id":1,"name":"x"}}`, "bad_request"},
		{"call/", `{"Fn":"secret","args":{"user_id":1,"name":"x"}}`, "bad_request"},
		{"call/", `{"fn":"harmless","fn":"secret","args":{"user_id":1,"name":"x"}}`, "bad_request"},
		{"call/", `{"fn":"secret","args":{"user_id":1,"name":"x"},"args":{}}`, "bad_request"},
		{"call/", `{"fn":"secret","args":{"user_id":1,"user_id":2,"name":"x"}}`, "bad_request"},
		{"call/", `{"fn":"secret","args":{"USER_ID":1,"name":"x"}}`, "invalid_args"},
		{"auth/token/", `{"username":"a","password":"b","username":"c"}`, "bad_request"},
		{"auth/token/", `{"USERNAME":"a","password":"b"}`, "bad_request"},
		{"auth/refresh/", `{"Refresh":"x"}`, "bad_request"},
	} {
		w := httptest.NewRecorder()
		app.ServeHTTP(w, newRequest(t, http.MethodPost, "/api/mizan/"+c.path, c.body))
		if w.Code != 400 || !strings.Contains(w.Body.String(), `"code":"`+c.code+`"`) {
			t.Errorf("%s %s: %d %s, want 400 %s", c.path, c.body, w.Code, w.Body, c.code)
		}
	}
	if len(ran) != 0 {
		t.Errorf("functions ran: %v", ran)
	}
	// The exact body still works.
	w := httptest.NewRecorder()
	app.ServeHTTP(w, newRequest(t, http.MethodPost, "/api/mizan/call/", `{"fn":"secret","args":{"user_id":1,"name":"x"}}`))
	if w.Code != 200 || ran["secret"] != 1 {
		t.Errorf("exact call: %d %s", w.Code, w.Body)
	}
}
