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
				Name("update_name"), AffectsFunction("user_profile"), Form("profile", FormSubmit))
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
