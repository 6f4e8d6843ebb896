package mizan

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mizan-afi/mizan/ir"
)

type irProfileArgs struct {
	UserID int `json:"user_id"`
}

type irProfile struct {
	ID    int       `json:"id"`
	Name  string    `json:"name"`
	Email string    `json:"email,omitempty"`
	Seen  time.Time `json:"seen"`
}

type irUpdateArgs struct {
	UserID int     `json:"user_id"`
	Name   string  `json:"name"`
	Note   *string `json:"note,omitempty"`
}

type irOK struct {
	OK bool `json:"ok"`
}

// newIRApp registers functions in the given order; the IR must not depend
// on it.
func newIRApp(t *testing.T, reversed bool) *App {
	t.Helper()
	app := New(Config{})
	regs := []func(){
		func() {
			Query(app, func(context.Context, irProfileArgs) (*irProfile, error) { return nil, nil },
				Name("user_profile"), In("user"), Rev(2), Cache(90*time.Second))
		},
		func() {
			Query(app, func(context.Context, irProfileArgs) ([]struct {
				ID    int `json:"id"`
				Total int `json:"total"`
			}, error) {
				return nil, nil
			}, Name("user_orders"), In("user"), NoCache())
		},
		func() {
			Mutation(app, func(context.Context, irUpdateArgs) (irOK, error) { return irOK{}, nil },
				Name("update_profile"), Affects("user"), WebSocket(), RequireAuth())
		},
		func() {
			Mutation(app, func(context.Context, irUpdateArgs) (irOK, error) { return irOK{}, nil },
				Name("update_name"), AffectsFunction("user_profile"), FormPart("profile", FormSubmit))
		},
		func() {
			Mutation(app, func(context.Context, struct{}) (irOK, error) { return irOK{}, nil },
				Name("hidden"), Private(), Affects("user"))
		},
		func() {
			View(app, func(context.Context, irProfileArgs) (http.Handler, error) { return nil, nil },
				Name("profile_page"), In("user"), Route("/profile/{user_id}/"))
		},
		func() {
			Query(app, func(context.Context, struct{}) (map[string]any, error) { return nil, nil }, Name("settings"))
		},
	}
	if reversed {
		for i := len(regs) - 1; i >= 0; i-- {
			regs[i]()
		}
	} else {
		for _, r := range regs {
			r()
		}
	}
	if err := app.Build(); err != nil {
		t.Fatal(err)
	}
	return app
}

func TestIRDescribesEveryNonPrivateFunction(t *testing.T) {
	doc, err := newIRApp(t, false).IR()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range doc.Functions {
		names = append(names, f.Name)
	}
	want := []string{"profile_page", "settings", "update_name", "update_profile", "user_orders", "user_profile"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("functions %v, want %v", names, want)
	}
	check := func(name string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", name, got, want)
		}
	}
	up, _ := doc.Function("user_profile")
	check("user_profile context", up.Context, "user")
	check("user_profile rev", up.Rev, 2)
	check("user_profile cache", up.Cache, ir.Cache{TTL: 90 * time.Second})
	check("user_profile result", up.Result.String(), "IrProfile?")
	check("user_profile params", up.Params, []ir.Field{{Name: "user_id", Type: ir.Scalar(ir.Int)}})
	uo, _ := doc.Function("user_orders")
	check("user_orders cache", uo.Cache, ir.Cache{Off: true})
	check("user_orders result", uo.Result.String(), "list<UserOrdersResultItem>")
	mu, _ := doc.Function("update_profile")
	check("update_profile kind", mu.Kind, ir.KindMutation)
	check("update_profile websocket", mu.WebSocket, true)
	check("update_profile auth", mu.Auth, ir.AuthRequired)
	check("update_profile affects", mu.Affects, []ir.Affect{{Context: "user", ScopedBy: []string{"user_id"}}})
	check("update_profile note", mu.Params[2], ir.Field{Name: "note", Type: ir.Scalar(ir.String).OrNull(), Optional: true})
	un, _ := doc.Function("update_name")
	check("update_name affects", un.Affects, []ir.Affect{{Context: "user", Function: "user_profile", ScopedBy: []string{"user_id"}}})
	check("update_name form", un.Form, ir.Form{Name: "profile", Role: ir.FormSubmit})
	pp, _ := doc.Function("profile_page")
	check("profile_page view", pp.View, true)
	check("profile_page route", pp.Route, "/profile/{user_id}/")
	check("profile_page result", pp.Result, (*ir.TypeRef)(nil))
	st, _ := doc.Function("settings")
	check("settings result", st.Result.String(), "record<any>")
	check("prefix", doc.Prefix, DefaultPrefix)

	prof, ok := doc.Type("IrProfile")
	if !ok {
		t.Fatalf("no IrProfile type in %v", doc.Types)
	}
	check("IrProfile go", prof.Go, "github.com/mizan-afi/mizan.irProfile")
	check("IrProfile fields", prof.Fields, []ir.Field{
		{Name: "id", Type: ir.Scalar(ir.Int)},
		{Name: "name", Type: ir.Scalar(ir.String)},
		{Name: "email", Type: ir.Scalar(ir.String), Optional: true},
		{Name: "seen", Type: ir.Scalar(ir.Time)},
	})
}

func TestWriteIRIsByteIdentical(t *testing.T) {
	var a, b, c bytes.Buffer
	if err := newIRApp(t, false).WriteIR(&a); err != nil {
		t.Fatal(err)
	}
	if err := newIRApp(t, false).WriteIR(&b); err != nil {
		t.Fatal(err)
	}
	if err := newIRApp(t, true).WriteIR(&c); err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() || a.String() != c.String() {
		t.Fatalf("IR differs between builds of one app:\n%s\n---\n%s\n---\n%s", a.String(), b.String(), c.String())
	}
	if !strings.HasPrefix(a.String(), "// Code generated by mizan. DO NOT EDIT.\nmizan-ir version=1 ") {
		t.Errorf("IR starts %q", a.String()[:60])
	}
	doc, err := ir.Parse(a.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	want, _ := newIRApp(t, false).IR()
	if !reflect.DeepEqual(doc, want) {
		t.Errorf("parsed IR differs from the app's")
	}
}

func TestWriteIRFromEnv(t *testing.T) {
	app := newIRApp(t, false)
	var stderr bytes.Buffer
	if code, done := app.writeIRFromEnv("", &stderr); done || code != 0 {
		t.Errorf("without the variable: code %d, done %v", code, done)
	}
	path := filepath.Join(t.TempDir(), "app.kdl")
	if code, done := app.writeIRFromEnv(path, &stderr); !done || code != 0 {
		t.Fatalf("code %d, done %v, stderr %q", code, done, stderr.String())
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	_ = app.WriteIR(&want)
	if string(got) != want.String() {
		t.Errorf("file holds %q", got)
	}
	bad := filepath.Join(t.TempDir(), "missing", "dir", "app.kdl")
	if code, done := app.writeIRFromEnv(bad, &stderr); !done || code != 1 || !strings.Contains(stderr.String(), "mizan: writing the IR") {
		t.Errorf("unwritable path: code %d, done %v, stderr %q", code, done, stderr.String())
	}
}

func TestIRReportsUnencodableTypes(t *testing.T) {
	app := New(Config{})
	Query(app, func(context.Context, struct{}) (chan int, error) { return nil, nil }, Name("bad"))
	_, err := app.IR()
	if err == nil || !strings.Contains(err.Error(), "function bad: result: type chan int cannot be encoded as JSON") {
		t.Errorf("error %v", err)
	}
}

type irBoardArgs struct {
	BoardID int    `json:"board_id"`
	State   string `json:"state,omitempty" mizan:"filter"`
	Q       string `json:"q,omitempty"`
}

type irBoardCountArgs struct {
	BoardID int    `json:"board_id"`
	State   string `json:"state,omitempty"`
}

type irMoveArgs struct {
	BoardID int    `json:"board_id"`
	TaskID  int    `json:"task_id"`
	State   string `json:"state"`
}

// newScopedIRApp registers what revision 2 of docs/spec.md §3 adds: filter
// parameters (one tagged only by a private function of the context), an
// explicit scope, an explicit empty scope and a caller-scoped target.
func newScopedIRApp(t *testing.T) *App {
	t.Helper()
	app := New(Config{})
	Query(app, func(context.Context, irBoardArgs) ([]int, error) { return nil, nil }, Name("board_tasks"), In("board"))
	Query(app, func(context.Context, irBoardCountArgs) (int, error) { return 0, nil }, Name("board_count"), In("board"))
	Query(app, func(context.Context, struct {
		Q string `json:"q,omitempty" mizan:"filter"`
	}) (int, error) {
		return 0, nil
	}, Name("board_search_audit"), In("board"), Private())
	Query(app, func(context.Context, struct{}) (string, error) { return "", nil }, Name("my_name"), In("me"))
	Mutation(app, func(context.Context, irMoveArgs) (irOK, error) { return irOK{}, nil }, Name("move_task"), Affects("board"))
	Mutation(app, func(context.Context, irMoveArgs) (irOK, error) { return irOK{}, nil }, Name("rename_board"),
		Affects("board"), ScopeBy())
	Mutation(app, func(context.Context, irMoveArgs) (irOK, error) { return irOK{}, nil }, Name("move_in_board"),
		Affects("board"), ScopeBy("board_id"))
	Mutation(app, func(context.Context, struct {
		Nick string `json:"nick"`
	}) (irOK, error) {
		return irOK{}, nil
	}, Name("set_nick"), CallerScoped("me"), Affects("board"))
	if err := app.Build(); err != nil {
		t.Fatal(err)
	}
	return app
}

// TestIRScopesAndFilters checks that filters, explicit scopes and
// caller-scoped targets reach the IR, in the model and in the text, and
// survive a round trip.
func TestIRScopesAndFilters(t *testing.T) {
	app := newScopedIRApp(t)
	var b bytes.Buffer
	if err := app.WriteIR(&b); err != nil {
		t.Fatal(err)
	}
	want := `// Code generated by mizan. DO NOT EDIT.
mizan-ir version=1 prefix="/api/mizan/"

function "board_count" kind="query" context="board" {
    param "board_id" type="int"
    param "state" type="string" optional=true filter=true
    result type="int"
}
function "board_tasks" kind="query" context="board" {
    param "board_id" type="int"
    param "state" type="string" optional=true filter=true
    param "q" type="string" optional=true filter=true
    result type="list<int>"
}
function "move_in_board" kind="mutation" {
    param "board_id" type="int"
    param "task_id" type="int"
    param "state" type="string"
    result type="IrOK"
    scope "board_id"
    affects context="board" {
        scoped-by "board_id"
    }
}
function "move_task" kind="mutation" {
    param "board_id" type="int"
    param "task_id" type="int"
    param "state" type="string"
    result type="IrOK"
    affects context="board" {
        scoped-by "board_id"
    }
}
function "my_name" kind="query" context="me" {
    result type="string"
}
function "rename_board" kind="mutation" {
    param "board_id" type="int"
    param "task_id" type="int"
    param "state" type="string"
    result type="IrOK"
    scope
    affects context="board"
}
function "set_nick" kind="mutation" {
    param "nick" type="string"
    result type="IrOK"
    affects context="me" caller-scoped=true
    affects context="board"
}

type "IrOK" go="github.com/mizan-afi/mizan.irOK" {
    field "ok" type="bool"
}
`
	if b.String() != want {
		t.Errorf("IR\n%s\nwant\n%s", b.String(), want)
	}
	doc, err := ir.Parse(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	direct, err := app.IR()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(doc, direct) {
		t.Errorf("the parsed IR differs from the app's:\n%+v\n%+v", doc.Functions, direct.Functions)
	}
	rb, _ := doc.Function("rename_board")
	mt, _ := doc.Function("move_task")
	if !rb.HasScope || rb.Scope != nil || mt.HasScope {
		t.Errorf("rename_board scope %v (has %v), move_task has %v", rb.Scope, rb.HasScope, mt.HasScope)
	}
	sn, _ := doc.Function("set_nick")
	if len(sn.Affects) != 2 || !sn.Affects[0].CallerScoped || sn.Affects[1].CallerScoped {
		t.Errorf("set_nick affects %+v", sn.Affects)
	}
}
