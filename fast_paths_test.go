package mizan

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mizan-afi/mizan/protocol"
)

// The tests of this file keep the hot paths' shortcuts (decodeQuick,
// quickCall, queryArgs.readRaw) honest: whatever a shortcut takes, the
// whole path takes with the same result.

type quickName string

// quickFuzzArgs has a parameter of every kind decodeQuick reads.
type quickFuzzArgs struct {
	A int8      `json:"a"`
	B uint16    `json:"b,omitempty"`
	C int64     `json:"c,omitempty"`
	D uint64    `json:"d,omitempty"`
	E bool      `json:"e,omitempty"`
	S string    `json:"s"`
	P *int      `json:"p,omitempty"`
	N quickName `json:"n,omitempty"`
	U uint      `json:"u,omitempty"`
}

var quickSeeds = []string{
	`{"a":1,"s":"x"}`,
	` { "s" : "héllo" , "a" : -128 , "b": 65535, "c": -9223372036854775808, "d": 18446744073709551615, "e": true, "p": 7, "n": "q", "u": 0 } `,
	`{"a":128,"s":"x"}`, `{"a":-129,"s":"x"}`, `{"a":1,"s":"x","b":65536}`, `{"a":1,"s":"x","b":-0}`,
	`{"a":-0,"s":""}`, `{"a":01,"s":"x"}`, `{"a":1.0,"s":"x"}`, `{"a":1e1,"s":"x"}`, `{"a":-,"s":"x"}`,
	`{"a":1,"s":"a\"b"}`, `{"a":1,"s":"\u00e9"}`, `{"a":1,"s":"x","p":null}`, `{"a":null,"s":"x"}`,
	`{"a":1,"s":"x","e":false}`, `{"a":1,"s":"x","e":fals}`, `{"a":1,"s":"x","e":truex}`, `{"a":1,"s":1}`,
	`{"a":1}`, `{"s":"x"}`, `{"a":1,"s":"x","a":2}`, `{"A":1,"s":"x"}`, `{"a":1,"s":"x","z":1}`,
	`{"a":1,"s":"x"} x`, `{"a":1,"s":"x",}`, `{"a":1 "s":"x"}`, `{}`, `[]`, `null`, `{"a":1,"s":"x\u0001"}`,
	"{\"a\":1,\"s\":\"\x01\"}", "{\"a\":1,\"s\":\"\xff\"}", `{"a":1,"s":"x","c":99999999999999999999}`,
}

func quickFuzzSchema(tb testing.TB) *argSchema {
	s, err := newArgSchema(reflect.TypeFor[quickFuzzArgs]())
	if err != nil {
		tb.Fatal(err)
	}
	if !s.quick {
		tb.Fatal("decodeQuick does not read quickFuzzArgs")
	}
	return s
}

// checkQuickAgrees fails unless decodeQuick, when it takes raw, leaves
// what the exact path gives, and raw is an object the protocol's strict
// decoding takes; and unless it leaves dst alone when it does not.
func checkQuickAgrees(t *testing.T, s *argSchema, raw []byte) bool {
	t.Helper()
	quick := reflect.New(s.typ).Elem()
	given, ok := s.decodeQuick(raw, quick)
	if !ok {
		if !quick.IsZero() {
			t.Fatalf("decodeQuick refused %q but changed dst: %+v", raw, quick.Interface())
		}
		return false
	}
	var obj map[string]protocol.RawValue
	if err := protocol.UnmarshalStrict(raw, &obj); err != nil {
		t.Fatalf("decodeQuick took %q, which the strict decoding refuses: %v", raw, err)
	}
	exact := reflect.New(s.typ).Elem()
	egiven, merr := exactDecode(s, bytes.TrimSpace(raw), exact)
	if merr != nil {
		t.Fatalf("decodeQuick took %q, the exact path refused it: %v %v", raw, merr, merr.fields)
	}
	if given != egiven {
		t.Fatalf("%q: presence quick %b, exact %b", raw, given, egiven)
	}
	if !reflect.DeepEqual(quick.Interface(), exact.Interface()) {
		t.Fatalf("%q: quick %+v, exact %+v", raw, quick.Interface(), exact.Interface())
	}
	return true
}

func TestDecodeQuickAgreesWithExact(t *testing.T) {
	s := quickFuzzSchema(t)
	took := map[string]bool{}
	for _, raw := range quickSeeds {
		took[raw] = checkQuickAgrees(t, s, []byte(raw))
	}
	for _, raw := range quickSeeds[:2] {
		if !took[raw] {
			t.Errorf("decodeQuick refused %s", raw)
		}
	}
	if !took[`{"a":-0,"s":""}`] || took[`{"a":1,"s":"x","b":-0}`] {
		t.Error("-0 is an int's 0 and no uint's")
	}
	// Kinds it cannot read exactly keep the schema off the quick path.
	for _, v := range []any{struct {
		F float64 `json:"f"`
	}{}, struct {
		L []int `json:"l"`
	}{}, struct {
		T json.Number `json:"t"`
	}{}, struct {
		R rawText `json:"r"`
	}{}} {
		if s, err := newArgSchema(reflect.TypeOf(v)); err != nil || s.quick {
			t.Errorf("%T: quick %v, err %v", v, s != nil && s.quick, err)
		}
	}
}

// rawText decodes itself.
type rawText string

func (r *rawText) UnmarshalText(b []byte) error { *r = rawText(bytes.ToUpper(b)); return nil }

func FuzzDecodeQuick(f *testing.F) {
	for _, s := range quickSeeds {
		f.Add([]byte(s))
	}
	s := quickFuzzSchema(f)
	f.Fuzz(func(t *testing.T, raw []byte) { checkQuickAgrees(t, s, raw) })
}

func quickCallApp(tb testing.TB) *App {
	app := New(Config{})
	Query(app, func(context.Context, quickFuzzArgs) (int, error) { return 0, nil }, Name("q"))
	Query(app, func(context.Context, struct{}) (int, error) { return 0, nil }, Name("none"))
	Query(app, func(context.Context, fastArgs) (int, error) { return 0, nil }, Name("deep"))
	if err := app.Build(); err != nil {
		tb.Fatal(err)
	}
	return app
}

var quickCallSeeds = []string{
	`{"fn":"q","args":{"a":1,"s":"x"}}`,
	` {"args" : {"a":1,"s":"x","p":3} , "fn" : "q" } `,
	`{"fn":"none"}`, `{"fn":"none","args":{}}`, `{"fn":"none","args":null}`, `{"fn":"none","args":[]}`,
	`{"fn":"q","args":{"a":1,"s":"x"},"fn":"q"}`, `{"fn":"q","args":{"a":1,"s":"x"},"args":{}}`,
	`{"fn":"q","args":{"a":1,"s":"x"},"x":1}`, `{"Fn":"q","args":{"a":1,"s":"x"}}`, `{"fn":"q\u0000","args":{}}`,
	`{"fn":"deep","args":{"user_id":1,"name":"x","note":"n"}}`, `{"fn":"nope","args":{}}`, `{"fn":"","args":{}}`,
	`{"fn":"q","args":{"a":1,"s":"x"}}}`, `{"fn":"q","args":{"a":1,"s":"x"}`, `{"fn":null}`, `{"fn":1}`, `{}`, `[]`,
	`{"fn":"q","args":{"a":1,"s":{"x":1,"x":2}}}`, `{"fn":"q","args":{"a":1,"s":"x"} , }`,
}

// checkQuickCallAgrees fails unless quickCall, when it takes body, gives
// the function and arguments the whole path (the strict decoding of the
// envelope, then decodeJSON) gives.
func checkQuickCallAgrees(t *testing.T, app *App, body []byte) bool {
	t.Helper()
	f, pre, ok := app.quickCall(body)
	if !ok {
		return false
	}
	var req callRequest
	if err := protocol.UnmarshalStrict(body, &req); err != nil {
		t.Fatalf("quickCall took %q, which the strict decoding refuses: %v", body, err)
	}
	if req.Fn != f.meta.Name {
		t.Fatalf("%q: quickCall found %q, the envelope names %q", body, f.meta.Name, req.Fn)
	}
	in := f.newIn()
	given, merr := f.args.decodeJSON(req.Args, reflectElem(in))
	if merr != nil {
		t.Fatalf("quickCall took %q, decodeJSON refuses its args: %v", body, merr)
	}
	if given != pre.given || !reflect.DeepEqual(in, pre.in) {
		t.Fatalf("%q: quickCall %+v %b, whole path %+v %b", body, pre.in, pre.given, in, given)
	}
	return true
}

func TestQuickCallAgreesWithStrictDecoding(t *testing.T) {
	app := quickCallApp(t)
	took := map[string]bool{}
	for _, body := range quickCallSeeds {
		took[body] = checkQuickCallAgrees(t, app, []byte(body))
	}
	for _, body := range quickCallSeeds[:5] {
		if !took[body] {
			t.Errorf("quickCall refused %s", body)
		}
	}
	for _, body := range quickCallSeeds[5:] {
		if took[body] {
			t.Errorf("quickCall took %s", body)
		}
	}
}

func FuzzQuickCall(f *testing.F) {
	for _, s := range quickCallSeeds {
		f.Add([]byte(s))
	}
	app := quickCallApp(f)
	f.Fuzz(func(t *testing.T, body []byte) { checkQuickCallAgrees(t, app, body) })
}

// checkReadRawAgrees fails unless readRaw, when it takes raw, holds what
// url.ParseQuery gives.
func checkReadRawAgrees(t *testing.T, raw string) bool {
	t.Helper()
	var q queryArgs
	if !q.readRaw(raw) {
		return false
	}
	values, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatalf("readRaw took %q, which url.ParseQuery refuses: %v", raw, err)
	}
	if len(values) != q.n {
		t.Fatalf("%q: readRaw holds %d names, url.ParseQuery %d", raw, q.n, len(values))
	}
	for name, vs := range values {
		first, n := q.first(name)
		if n != len(vs) || first != vs[0] {
			t.Fatalf("%q: %q is %q ×%d in readRaw, %q in url.ParseQuery", raw, name, first, n, vs)
		}
	}
	parsed := queryArgs{values: values, parsed: true}
	if got, want := q.unknown(quickPlan(t), nil), parsed.unknown(quickPlan(t), nil); !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: unknown parameters %v, url.ParseQuery's %v", raw, got, want)
	}
	if got, want := queryParams(quickPlan(t), &q), queryParams(quickPlan(t), &parsed); !slices.Equal(got, want) {
		t.Fatalf("%q: instance params %v, url.ParseQuery's %v", raw, got, want)
	}
	return true
}

var readRawSeeds = []string{"", "user_id=1", "user_id=1&page=2&status=x&mine=true", "&&user_id=3&", "=x", "a", "a=",
	"user_id=1&user_id=2", "user_id=%31", "status=a+b", "user_id=1;x", "a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8", "a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&i=9",
	"user_id=01&x=y=z"}

func TestReadRawAgreesWithParseQuery(t *testing.T) {
	for _, raw := range readRawSeeds {
		want := !slices.Contains([]string{"user_id=1&user_id=2", "user_id=%31", "status=a+b", "user_id=1;x",
			"a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&i=9"}, raw)
		if got := checkReadRawAgrees(t, raw); got != want {
			t.Errorf("readRaw(%q) took it: %v, want %v", raw, got, want)
		}
	}
}

func FuzzReadRaw(f *testing.F) {
	for _, s := range readRawSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) { checkReadRawAgrees(t, raw) })
}

// TestRequestCarriesTheCall: the protocol endpoints no longer copy the
// request to carry the call (protoWriter), so the request [Request] returns
// is formed on demand. It must still be the request the guards see, carry
// the call in its context, stay the same for the whole call, and keep the
// body limit.
func TestRequestCarriesTheCall(t *testing.T) {
	type seen struct {
		guard, fn, again *http.Request
		caller           *Identity
	}
	var got seen
	app := New(Config{
		MaxBodyBytes: 256,
		Authenticator: AuthenticatorFunc(func(r *http.Request) (*Identity, error) {
			if id := r.Header.Get("X-User"); id != "" {
				return &Identity{ID: id, Bearer: true}, nil
			}
			return nil, nil
		}),
	})
	guard := RequireFunc(func(r *http.Request, c *Identity) bool {
		got.guard = r
		return c != nil && Caller(r.Context()) == c
	})
	record := func(ctx context.Context) {
		got.fn, got.again = Request(ctx), Request(ctx)
		got.caller = Caller(got.fn.Context())
	}
	Query(app, func(ctx context.Context, in struct {
		ID int `json:"id"`
	}) (int, error) {
		record(ctx)
		return in.ID, nil
	}, Name("item"), In("items"), guard)
	Mutation(app, func(ctx context.Context, in struct {
		ID int `json:"id"`
	}) (bool, error) {
		record(ctx)
		return true, nil
	}, Name("touch"), Affects("items"), guard)
	if err := app.Build(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		req  func() *http.Request
	}{
		{"ctx", func() *http.Request { return httptest.NewRequest(http.MethodGet, "/api/mizan/ctx/items/?id=3", nil) }},
		{"call", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/api/mizan/call/", strings.NewReader(`{"fn":"touch","args":{"id":3}}`))
			r.Header.Set("Content-Type", "application/json")
			return r
		}},
	} {
		got = seen{}
		r := tc.req()
		r.Header.Set("X-User", "7")
		w := httptest.NewRecorder()
		app.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", tc.name, w.Code, w.Body)
		}
		if got.fn == nil || got.fn != got.guard || got.fn != got.again {
			t.Errorf("%s: guard saw %p, the function %p then %p: not one request", tc.name, got.guard, got.fn, got.again)
		}
		if got.caller == nil || got.caller.ID != "7" {
			t.Errorf("%s: Caller(Request(ctx).Context()) = %v", tc.name, got.caller)
		}
		if got.fn != nil && (got.fn.URL.Path != r.URL.Path || got.fn.Header.Get("X-User") != "7") {
			t.Errorf("%s: Request(ctx) is not the request served", tc.name)
		}
		// Anonymous: the guard refuses, with the caller it was given.
		r = tc.req()
		w = httptest.NewRecorder()
		app.ServeHTTP(w, r)
		if w.Code != http.StatusUnauthorized {
			t.Errorf("%s anonymous: %d %s", tc.name, w.Code, w.Body)
		}
	}
	r := httptest.NewRequest(http.MethodPost, "/api/mizan/call/", strings.NewReader(`{"fn":"touch","args":{"id":3,"pad":"`+strings.Repeat("x", 300)+`"}}`))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-User", "7")
	w := httptest.NewRecorder()
	app.ServeHTTP(w, r)
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("body over the limit: %d %s", w.Code, w.Body)
	}
	if cc := w.Header().Values("Cache-Control"); len(cc) != 1 || cc[0] != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
}
