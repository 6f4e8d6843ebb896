package live

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/mizan-afi/mizan"
)

func TestParseRequest(t *testing.T) {
	ok := []struct {
		in   string
		want request
	}{
		{`{"id": 1, "type": "subscribe", "context": "user", "params": {"user_id": "1"}}`,
			request{ID: json.RawMessage("1"), Type: "subscribe", Context: "user", Params: map[string]string{"user_id": "1"}}},
		{`{"id":"a-1","type":"subscribe","context":"orders","params":{"user_id":7,"mine":true,"status":"open","big":18446744073709551615}}`,
			request{ID: json.RawMessage(`"a-1"`), Type: "subscribe", Context: "orders",
				Params: map[string]string{"user_id": "7", "mine": "true", "status": "open", "big": "18446744073709551615"}}},
		{`{"id":-3,"type":"unsubscribe","context":"global"}`,
			request{ID: json.RawMessage("-3"), Type: "unsubscribe", Context: "global"}},
		{`{"id":2,"type":"call","fn":"update_profile","args":{"user_id":1,"name":"Ryth"}}`,
			request{ID: json.RawMessage("2"), Type: "call", Fn: "update_profile", Args: json.RawMessage(`{"user_id":1,"name":"Ryth"}`)}},
		{`{"id":3,"type":"call","fn":"reset_all"}`, request{ID: json.RawMessage("3"), Type: "call", Fn: "reset_all"}},
		{`{"id":0,"type":"auth","token":"abc"}`, request{ID: json.RawMessage("0"), Type: "auth", Token: "abc"}},
		{`{"id":4,"type":"call","fn":"bump","idempotency_key":"k 1~"}`, request{ID: json.RawMessage("4"), Type: "call", Fn: "bump", IdempotencyKey: "k 1~"}},
		{`{"id":5,"type":"call","fn":"bump","idempotency_key":null}`, request{ID: json.RawMessage("5"), Type: "call", Fn: "bump"}},
	}
	for _, c := range ok {
		got, err := parseRequest([]byte(c.in))
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if string(got.ID) != string(c.want.ID) || got.Type != c.want.Type || got.Context != c.want.Context ||
			!maps.Equal(got.Params, c.want.Params) || got.Fn != c.want.Fn || string(got.Args) != string(c.want.Args) || got.Token != c.want.Token ||
			got.IdempotencyKey != c.want.IdempotencyKey {
			t.Errorf("%s:\n got %+v\nwant %+v", c.in, got, c.want)
		}
	}

	bad := []struct {
		in, code, msg, id string
	}{
		{`not json`, "bad_request", "one JSON object", ""},
		{`[1]`, "bad_request", "one JSON object", ""},
		{`{"id":1,"type":"subscribe","context":"user"} {}`, "bad_request", "one JSON object", ""},
		{`{"id":1,"type":"hello"}`, "bad_request", `unknown message type "hello"`, "1"},
		{`{"id":1}`, "bad_request", `no "type"`, "1"},
		{`{"id":1,"type":7}`, "bad_request", `"type" must be a string`, "1"},
		{`{"type":"subscribe","context":"user"}`, "bad_request", `needs an "id"`, ""},
		{`{"id":1.5,"type":"subscribe","context":"user"}`, "bad_request", `"id" must be`, ""},
		{`{"id":{},"type":"subscribe","context":"user"}`, "bad_request", `"id" must be`, ""},
		{`{"id":12345678901234567,"type":"subscribe","context":"user"}`, "bad_request", `"id" must be`, ""},
		{`{"id":1,"type":"subscribe"}`, "bad_request", `missing "context"`, "1"},
		{`{"id":1,"type":"subscribe","context":"a b"}`, "bad_request", "context name", "1"},
		{`{"id":1,"type":"subscribe","context":"user","params":[1]}`, "bad_request", `"params" must be a JSON object`, "1"},
		{`{"id":1,"type":"subscribe","context":"user","params":{"user_id":1.5}}`, "invalid_args", "invalid subscription parameters", "1"},
		{`{"id":1,"type":"subscribe","context":"user","params":{"user_id":null}}`, "invalid_args", "invalid subscription parameters", "1"},
		{`{"id":1,"type":"subscribe","context":"user","params":{"a b":"1"}}`, "invalid_args", "invalid subscription parameters", "1"},
		{`{"id":1,"type":"subscribe","context":"user","fn":"x"}`, "bad_request", `no member "fn"`, "1"},
		{`{"id":1,"type":"call","fn":"x","context":"user"}`, "bad_request", `no member "context"`, "1"},
		{`{"id":1,"type":"call"}`, "bad_request", `missing "fn"`, "1"},
		{`{"id":1,"type":"call","fn":""}`, "bad_request", `"fn" must not be empty`, "1"},
		{`{"id":1,"type":"call","fn":"x","args":[1]}`, "bad_request", `"args" must be a JSON object`, "1"},
		{`{"id":1,"type":"auth"}`, "bad_request", `missing "token"`, "1"},
		{`{"id":1,"type":"call","fn":"x","idempotency_key":7}`, "bad_request", `"idempotency_key" must be a string`, "1"},
		{`{"id":1,"type":"call","fn":"x","idempotency_key":""}`, "bad_request", `"idempotency_key" must be 1 to 255`, "1"},
		{`{"id":1,"type":"call","fn":"x","idempotency_key":"a\u0001"}`, "bad_request", `"idempotency_key" must be 1 to 255`, "1"},
		{`{"id":1,"type":"subscribe","context":"user","idempotency_key":"k"}`, "bad_request", `no member "idempotency_key"`, "1"},
		// Refused by the strict decoder, the message still gets its id
		// back when it has exactly one valid one.
		{`{"id":1,"type":"auth","token":"t","extra":1}`, "bad_request", "one JSON object", "1"},
		{`{"id":"a","type":"call","type":"subscribe"}`, "bad_request", "names a member twice", `"a"`},
		{`{"id":1,"id":2,"type":"call","fn":"x"}`, "bad_request", "names a member twice", ""},
		{`{"id":1,"type":"call","fn":"x"} garbage`, "bad_request", "one JSON object", ""},
		{`{"id":01,"type":"call","fn":"x","FN":"y"}`, "bad_request", "one JSON object", ""},
		{`{"ID":1,"type":"call","fn":"x"}`, "bad_request", "one JSON object", ""},
		{"{\"id\":1,\"type\":\"\xff\"}", "bad_request", "one JSON object", ""},
	}
	for _, c := range bad {
		got, err := parseRequest([]byte(c.in))
		if err == nil {
			t.Errorf("%s: parsed as %+v, want an error", c.in, got)
			continue
		}
		if string(err.Code()) != c.code || !strings.Contains(err.Message(), c.msg) || string(got.ID) != c.id {
			t.Errorf("%s: %s %q (id %s), want %s containing %q (id %s)", c.in, err.Code(), err.Message(), got.ID, c.code, c.msg, c.id)
		}
	}
}

func TestReplies(t *testing.T) {
	id := json.RawMessage("7")
	cases := map[string]string{
		string(appendOK(nil, id)): `{"id":7,"type":"ok"}`,
		string(appendError(nil, json.RawMessage(`"x"`), mizan.NewError(mizan.CodeInvalidArgs, "bad").WithFields(map[string]string{"name": "required"}))): `{"id":"x","type":"error","error":{"code":"invalid_args","message":"bad","fields":{"name":"required"}}}`,
		string(appendError(nil, nil, mizan.NewError(mizan.CodeBadRequest, "no"))):                                                                        `{"type":"error","error":{"code":"bad_request","message":"no"}}`,
	}
	res, err := appendResult(nil, id, json.RawMessage(`{"ok":true}`), []mizan.Target{{Context: "user", Params: map[string]any{"user_id": 1}}, {Context: "orders"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	cases[string(res)] = `{"id":7,"type":"result","result":{"ok":true},"invalidate":[{"context":"user","params":{"user_id":1}},"orders"]}`
	inv, err := appendInvalidate(nil, []mizan.Target{{Context: "project", Function: "project_tasks", Params: map[string]any{"project_id": 2}}})
	if err != nil {
		t.Fatal(err)
	}
	cases[string(inv)] = `{"type":"invalidate","targets":[{"context":"project","function":"project_tasks","params":{"project_id":2}}]}`
	for got, want := range cases {
		if got != want {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	}
	if _, err := appendInvalidate(nil, []mizan.Target{{Context: "bad name"}}); err == nil {
		t.Error("an invalid target encoded without an error")
	}
}

func TestInstanceKey(t *testing.T) {
	if k := instanceKey("orders", map[string]string{"user_id": "1", "status": "a b"}); k != "orders?status=a+b&user_id=1" {
		t.Errorf("instanceKey = %q", k)
	}
	if k := instanceKey("global", nil); k != "global" {
		t.Errorf("instanceKey = %q", k)
	}
}

// FuzzParseRequest feeds arbitrary messages to the parser: it never panics,
// what it accepts has every member its type needs, and every reply it leads
// to is valid JSON.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		`{"id": 1, "type": "subscribe", "context": "user", "params": {"user_id": "1"}}`,
		`{"id":2,"type":"call","fn":"update_profile","args":{"user_id":1,"name":"Ryth"}}`,
		`{"id":"x","type":"unsubscribe","context":"orders","params":{"user_id":1,"status":"open","mine":false}}`,
		`{"id":0,"type":"auth","token":"abc"}`, `{"id":1e3,"type":"call"}`, `{"id":"\u0000"}`, `{}`, `null`, `{"id":1,"type":"subscribe","context":"user","params":{"u":-0}}`,
	} {
		f.Add([]byte(s))
	}
	types := []string{typeSubscribe, typeUnsubscribe, typeCall, typeAuth}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := parseRequest(b)
		if req.ID != nil && !json.Valid(req.ID) {
			t.Fatalf("id %q is not JSON", req.ID)
		}
		if err != nil {
			if reply := appendError(nil, req.ID, err); !json.Valid(reply) {
				t.Fatalf("error reply is not JSON: %s", reply)
			}
			return
		}
		if !slices.Contains(types, req.Type) || req.ID == nil {
			t.Fatalf("accepted %+v", req)
		}
		switch req.Type {
		case typeSubscribe, typeUnsubscribe:
			if !validName(req.Context) {
				t.Fatalf("accepted context %q", req.Context)
			}
			for k := range req.Params {
				if !validName(k) {
					t.Fatalf("accepted param %q", k)
				}
			}
		case typeCall:
			if req.Fn == "" || (req.Args != nil && !json.Valid(req.Args)) {
				t.Fatalf("accepted call %+v", req)
			}
		case typeAuth:
			if req.Token == "" {
				t.Fatal("accepted an empty token")
			}
		}
		if !json.Valid(appendOK(nil, req.ID)) {
			t.Fatalf("ok reply is not JSON for id %s", req.ID)
		}
	})
}
