package mizan_test

// Values in results and arguments (docs/spec.md §4, §13.3): nil slices and
// maps are [] and {} wherever results are written, and enums.

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/cache"
)

type Color string

const (
	Red   Color = "red"
	Green Color = "green"
)

type Priority int

// Size is an enum derived from its oneof tags.
type Size string

type shelfArgs struct {
	Color Color `json:"color,omitempty" mizan:"filter"`
	Size  Size  `json:"size,omitempty" validate:"omitempty,oneof=s m l"`
}

type shelf struct {
	Items []string          `json:"items"`
	Meta  map[string]int    `json:"meta"`
	Raw   []byte            `json:"raw"`
	Next  *shelf            `json:"next"`
	Kids  []shelf           `json:"kids,omitempty"`
	Tags  map[string][]int  `json:"tags"`
	Any   any               `json:"any"`
	HTML  string            `json:"html"`
	Deep  map[string]*shelf `json:"deep"`
}

type paintArgs struct {
	Color    Color    `json:"color"`
	Also     *Color   `json:"also,omitempty"`
	Palette  []Color  `json:"palette,omitempty"`
	Priority Priority `json:"priority,omitempty"`
	Size     Size     `json:"size,omitempty" validate:"omitempty,oneof=s m l"`
}

func valuesApp(t *testing.T) *mizan.App {
	t.Helper()
	c, err := cache.New(cache.Options{Backend: cache.NewMemory(cache.MemoryOptions{}), Secret: []byte(strings.Repeat("k", 32))})
	if err != nil {
		t.Fatal(err)
	}
	app := mizan.New(mizan.Config{Authenticator: mizan.AuthenticatorFunc(testAuth), Cache: c})
	mizan.Enum(app, Red, Green)
	mizan.Enum[Priority](app, 1, 2, 3)
	mizan.Query(app, func(_ context.Context, in shelfArgs) (shelf, error) {
		return shelf{HTML: "<b>&</b>", Deep: map[string]*shelf{"x": {}}}, nil
	}, mizan.Name("shelf"), mizan.In("shelves"))
	mizan.Mutation(app, func(_ context.Context, in paintArgs) (shelf, error) {
		return shelf{Kids: []shelf{{}}}, nil
	}, mizan.Name("paint"), mizan.Affects("shelves"), mizan.WebSocket())
	mizan.Query(app, func(context.Context, struct{}) (any, error) {
		return map[string]any{"list": []int(nil), "map": map[string]bool(nil)}, nil
	}, mizan.Name("dynamic"))
	if err := app.Build(); err != nil {
		t.Fatal(err)
	}
	return app
}

const emptyShelf = `{"items":[],"meta":{},"raw":"","next":null,"tags":{},"any":null,"html":"","deep":{}}`

// TestNilCollectionsOnTheWire: call/, ctx/ (fresh and from the origin
// cache), App.Call (the WebSocket's way in) and App.Fetch (SSR hydration)
// write nil slices and maps as [] and {}, a nil []byte as "", and keep
// encoding/json's HTML escaping.
func TestNilCollectionsOnTheWire(t *testing.T) {
	app := valuesApp(t)
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)
	e := &env{srv: srv}

	wantShelf := `{"items":[],"meta":{},"raw":"","next":null,"tags":{},"any":null,"html":"\u003cb\u003e\u0026\u003c/b\u003e","deep":{"x":` + emptyShelf + `}}`
	for i := range 2 { // the second is served from the origin cache
		r := e.do(t, http.MethodGet, "/api/mizan/ctx/shelves/?color=red", "")
		if r.status != http.StatusOK || r.raw != `{"shelf":`+wantShelf+`}` {
			t.Errorf("ctx/ #%d: %d %s\nwant {\"shelf\":%s}", i, r.status, r.raw, wantShelf)
		}
	}
	r := e.call(t, "paint", map[string]any{"color": "green"})
	if want := `{"result":{"items":[],"meta":{},"raw":"","next":null,"kids":[` + emptyShelf + `],"tags":{},"any":null,"html":"","deep":{}},`; r.status != 200 || !strings.HasPrefix(r.raw, want) {
		t.Errorf("call/: %d %s\nwant %s…", r.status, r.raw, want)
	}
	r = e.call(t, "dynamic", nil)
	if want := `{"result":{"list":[],"map":{}},`; !strings.HasPrefix(r.raw, want) {
		t.Errorf("call/ of an any result: %s, want %s…", r.raw, want)
	}

	req := httptest.NewRequest(http.MethodPost, "/api/mizan/ws/", nil)
	res, err := app.Call(context.Background(), mizan.CallRequest{Fn: "paint", Args: json.RawMessage(`{"color":"red"}`), Request: req, WebSocket: true})
	if err != nil || !strings.HasPrefix(string(res.Result), `{"items":[],"meta":{}`) {
		t.Errorf("App.Call: %s %v", res.Result, err)
	}
	b, err := app.Fetch(context.Background(), "shelves", map[string]string{"color": "green"})
	if err != nil || string(b) != `{"shelf":`+wantShelf+`}` {
		t.Errorf("App.Fetch: %s %v", b, err)
	}
}

// TestEnumArguments: a value outside an enum is invalid_args naming the
// argument, as a call argument (a value, a pointer, a list element, an
// integer enum) and as a ctx/ query parameter; an enum derived from oneof
// tags works alike; absent optional arguments are not checked.
func TestEnumArguments(t *testing.T) {
	srv := httptest.NewServer(valuesApp(t))
	t.Cleanup(srv.Close)
	e := &env{srv: srv}
	for _, c := range []struct {
		args   map[string]any
		fields map[string]string
	}{
		{map[string]any{"color": "red"}, nil},
		{map[string]any{"color": "red", "also": nil, "palette": []string{"green", "red"}, "priority": 3, "size": "m"}, nil},
		{map[string]any{"color": "blue"}, map[string]string{"color": "must be one of red, green"}},
		{map[string]any{"color": ""}, map[string]string{"color": "must be one of red, green"}},
		{map[string]any{"color": "red", "also": "pink"}, map[string]string{"also": "must be one of red, green"}},
		{map[string]any{"color": "red", "palette": []string{"red", "teal"}}, map[string]string{"palette": "must be one of red, green"}},
		{map[string]any{"color": "red", "priority": 7}, map[string]string{"priority": "must be one of 1, 2, 3"}},
		{map[string]any{"color": "red", "size": "xl"}, map[string]string{"size": "must be one of s, m, l"}},
		{map[string]any{"color": 5, "priority": 9}, map[string]string{"color": "must be a string", "priority": "must be one of 1, 2, 3"}},
	} {
		r := e.call(t, "paint", c.args)
		if c.fields == nil {
			if r.status != http.StatusOK {
				t.Errorf("%v: %d %s", c.args, r.status, r.raw)
			}
			continue
		}
		code, fields := errOf(t, r)
		if code != "invalid_args" || jsonText(fields) != jsonText(c.fields) {
			t.Errorf("%v: %s %v, want invalid_args %v", c.args, code, fields, c.fields)
		}
	}
	for q, fields := range map[string]string{
		"":                    "",
		"?color=green&size=l": "",
		"?color=blue":         `{"color":"must be one of red, green"}`,
		"?size=xxl":           `{"size":"must be one of s, m, l"}`,
	} {
		r := e.do(t, http.MethodGet, "/api/mizan/ctx/shelves/"+q, "")
		if fields == "" {
			if r.status != http.StatusOK {
				t.Errorf("ctx/%s: %d %s", q, r.status, r.raw)
			}
			continue
		}
		code, got := errOf(t, r)
		if code != "invalid_args" || jsonText(got) != fields {
			t.Errorf("ctx/%s: %s %v, want invalid_args %s", q, code, got, fields)
		}
	}
}

// TestEnumInTheIR: declared and derived enums are enum nodes of their
// types.
func TestEnumInTheIR(t *testing.T) {
	var b strings.Builder
	if err := valuesApp(t).WriteIR(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"type \"Color\" go=\"github.com/mizan-afi/mizan_test.Color\" underlying=\"string\" {\n    enum \"red\" \"green\"\n}",
		"type \"Priority\" go=\"github.com/mizan-afi/mizan_test.Priority\" underlying=\"int\" {\n    enum \"1\" \"2\" \"3\"\n}",
		"type \"Size\" go=\"github.com/mizan-afi/mizan_test.Size\" underlying=\"string\" {\n    enum \"s\" \"m\" \"l\"\n}",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("IR lacks\n%s\nin\n%s", want, b.String())
		}
	}
}

// TestEnumErrors: misdeclared enums are Build errors.
func TestEnumErrors(t *testing.T) {
	type local string
	type conflictArgs struct {
		Size Size `json:"size" validate:"oneof=s m"`
	}
	type badIntArgs struct {
		P Priority `json:"p" validate:"oneof=1 two"`
	}
	for _, c := range []struct {
		reg  func(app *mizan.App)
		want string
	}{
		{func(app *mizan.App) { mizan.Enum[Color](app) }, "enum mizan_test.Color: has no values"},
		{func(app *mizan.App) { mizan.Enum(app, Red, Red) }, `value "red" given twice`},
		{func(app *mizan.App) { mizan.Enum(app, Red); mizan.Enum(app, Green) }, "declared twice"},
		{func(app *mizan.App) { mizan.Enum[string](app, "a") }, "must be a named type"},
		{func(app *mizan.App) { mizan.Enum(app, local("a")) }, ""},
		{func(app *mizan.App) {
			mizan.Mutation(app, func(context.Context, conflictArgs) (struct{}, error) { return struct{}{}, nil }, mizan.Name("m1"))
			mizan.Mutation(app, func(context.Context, paintArgs) (struct{}, error) { return struct{}{}, nil }, mizan.Name("m2"))
		}, "differ; declare its values once with mizan.Enum"},
		{func(app *mizan.App) {
			mizan.Mutation(app, func(context.Context, badIntArgs) (struct{}, error) { return struct{}{}, nil }, mizan.Name("m3"))
		}, `oneof value "two"`},
	} {
		app := mizan.New(mizan.Config{})
		c.reg(app)
		err := app.Build()
		if c.want == "" {
			if err != nil {
				t.Errorf("%v", err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Build: %v, want %q", err, c.want)
		}
	}
}
