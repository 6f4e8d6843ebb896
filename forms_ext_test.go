package mizan_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/go-playground/validator/v10"
	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/ir"
)

// Forms (docs/forms.md): the schema a struct's tags give, registration
// errors, custom validators in submit and _validate, _validate's lack of
// side effects, and the view path of a form with a formset.

type Urgency string

type everyRule struct {
	Title    string   `json:"title" validate:"required,min=3,max=200" label:"Task title"`
	Code     string   `json:"code" validate:"required,len=6,alphanum"`
	Email    string   `json:"email,omitempty" validate:"omitempty,email"`
	Site     string   `json:"site,omitempty" validate:"omitempty,url"`
	Color    string   `json:"color" validate:"required,oneof=red 'dark blue'"`
	Count    int      `json:"count" validate:"required,gte=1,lte=10"`
	Above    int      `json:"above" validate:"required,gt=0,lt=100"`
	Ratio    *float64 `json:"ratio,omitempty" validate:"omitempty,gt=0,lt=1"`
	Exact    *int     `json:"exact,omitempty" validate:"omitempty,len=7"`
	Agree    bool     `json:"agree" validate:"required"`
	Hex      string   `json:"hex" validate:"required,hexadecimal"`
	Due      string   `json:"due,omitempty" validate:"omitempty,datetime=2006-01-02" widget:"date"`
	Ref      string   `json:"ref" validate:"required,sku"`
	Either   string   `json:"either,omitempty" validate:"omitempty,email|url"`
	Level    Urgency  `json:"level"`
	Note     string   `json:"note"`
	Password string   `json:"password" validate:"required,min=8" widget:"password"`
}

func TestFormSchemaFromTags(t *testing.T) {
	app := mizan.New(mizan.Config{})
	mizan.Enum(app, Urgency("low"), Urgency("high"))
	app.Pattern("sku", `[A-Z]{3}[0-9]{3}`, "Use three capitals and three digits.")
	mizan.Form(app, func(context.Context, everyRule) (bool, error) { return true, nil }, mizan.Name("rules"))
	if err := app.Build(); err != nil {
		t.Fatal(err)
	}
	doc, err := app.IR()
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Forms) != 1 {
		t.Fatalf("IR forms %+v", doc.Forms)
	}
	got, _ := json.Marshal(doc.Forms[0])
	want := `{"name": "rules", "fields": [
		{"name": "title", "type": "string", "label": "Task title", "required": true, "min": 3, "max": 200},
		{"name": "code", "type": "string", "label": "Code", "required": true, "len": 6, "pattern": "^[a-zA-Z0-9]+$", "pattern_message": "Use letters and digits only."},
		{"name": "email", "type": "string", "label": "Email", "required": false, "email": true},
		{"name": "site", "type": "string", "label": "Site", "required": false, "url": true},
		{"name": "color", "type": "string", "label": "Color", "required": true, "choices": ["red", "dark blue"]},
		{"name": "count", "type": "int", "label": "Count", "required": true, "min": 1, "max": 10},
		{"name": "above", "type": "int", "label": "Above", "required": true, "min": 1, "max": 99},
		{"name": "ratio", "type": "number", "label": "Ratio", "required": false, "gt": 0, "lt": 1},
		{"name": "exact", "type": "int", "label": "Exact", "required": false, "min": 7, "max": 7},
		{"name": "agree", "type": "bool", "label": "Agree", "required": true},
		{"name": "hex", "type": "string", "label": "Hex", "required": true, "pattern": "^(0[xX])?[0-9a-fA-F]+$", "pattern_message": "Enter a hexadecimal number."},
		{"name": "due", "type": "string", "label": "Due", "required": false, "server_only": true, "widget": "date"},
		{"name": "ref", "type": "string", "label": "Ref", "required": true, "pattern": "^[A-Z]{3}[0-9]{3}$", "pattern_message": "Use three capitals and three digits."},
		{"name": "either", "type": "string", "label": "Either", "required": false, "server_only": true},
		{"name": "level", "type": "string", "label": "Level", "required": false, "choices": ["low", "high"]},
		{"name": "note", "type": "string", "label": "Note", "required": false},
		{"name": "password", "type": "string", "label": "Password", "required": true, "min": 8, "widget": "password"}]}`
	if !sameJSON(t, got, want) {
		t.Errorf("schema\n got %s\nwant %s", got, want)
	}
	if f, ok := doc.Function("rules_validate"); !ok || f.Form.Role != ir.FormValidate || f.Form.Name != "rules" {
		t.Errorf("rules_validate in the IR: %+v", f)
	}
	if f, ok := doc.Function("rules"); !ok || f.Kind != ir.KindMutation || f.Form.Role != ir.FormSubmit {
		t.Errorf("rules in the IR: %+v", f)
	}

	srv := httptest.NewServer(app)
	defer srv.Close()
	e := &env{srv: srv}
	r := e.call(t, "rules", map[string]any{"title": "ab", "code": "ab-123", "color": "blue", "count": 11, "above": 100,
		"ratio": 1.5, "exact": 6, "agree": false, "hex": "xyz", "due": "02/01/2026", "ref": "abc123", "either": "nope",
		"level": "urgent", "password": "short"})
	code, fields := errOf(t, r)
	wantFields := map[string]string{
		"title": "Use at least 3 characters.", "code": "Use letters and digits only.", "color": "Select one of: red, dark blue.",
		"count": "Enter a value of at most 10.", "above": "Enter a value of at most 99.", "ratio": "Enter a value less than 1.",
		"exact": "Enter a value of at least 7.", "agree": "This field is required.", "hex": "Enter a hexadecimal number.",
		"due": "Enter a valid value.", "ref": "Use three capitals and three digits.", "either": "Enter a valid value.",
		"level": "Select one of: low, high.", "password": "Use at least 8 characters.",
	}
	if code != "invalid_args" || len(fields) != len(wantFields) {
		t.Errorf("code %s, fields %v", code, fields)
	}
	for k, m := range wantFields {
		if fields[k] != m {
			t.Errorf("%s: %q, want %q", k, fields[k], m)
		}
	}
	// Every failing rule of a field, in the canonical order.
	r = e.call(t, "rules_validate", map[string]any{"code": "ab-1234"})
	wantBody(t, r, `{"result": {"valid": false, "errors": {"code": ["Use exactly 6 characters.", "Use letters and digits only."]}}, "invalidate": []}`)
}

func sameJSON(t *testing.T, got []byte, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want %s: %v", want, err)
	}
	return reflect.DeepEqual(g, w)
}

func wantBody(t *testing.T, r resp, want string) {
	t.Helper()
	if !sameJSON(t, []byte(r.raw), want) {
		t.Errorf("status %d\n got %s\nwant %s", r.status, r.raw, want)
	}
}

func TestFormRegistrationErrors(t *testing.T) {
	type noLead struct {
		A string `json:"a" validate:"max=3"`
	}
	type noDive struct {
		Rows []struct {
			X string `json:"x"`
		} `json:"rows" validate:"required,min=1"`
	}
	type row struct {
		Inner []struct {
			Y string `json:"y"`
		} `json:"inner" validate:"omitempty,dive"`
	}
	type nested struct {
		Rows []row `json:"rows" validate:"required,dive"`
	}
	type mapField struct {
		M map[string]string `json:"m"`
	}
	type Base struct {
		B string `json:"b"`
	}
	type embedded struct {
		Base
	}
	type ok struct {
		A string `json:"a" validate:"required"`
	}
	cases := []struct {
		name     string
		register func(app *mizan.App)
		want     string
	}{
		{"rule without required or omitempty", func(app *mizan.App) {
			mizan.Form(app, func(context.Context, noLead) (bool, error) { return true, nil }, mizan.Name("f"))
		}, "must start with required or omitempty"},
		{"formset without dive", func(app *mizan.App) {
			mizan.Form(app, func(context.Context, noDive) (bool, error) { return true, nil }, mizan.Name("f"))
		}, "must end in dive"},
		{"nested formset", func(app *mizan.App) {
			mizan.Form(app, func(context.Context, nested) (bool, error) { return true, nil }, mizan.Name("f"))
		}, "cannot hold formsets"},
		{"map field", func(app *mizan.App) {
			mizan.Form(app, func(context.Context, mapField) (bool, error) { return true, nil }, mizan.Name("f"))
		}, "a form field must be"},
		{"embedded struct", func(app *mizan.App) {
			mizan.Form(app, func(context.Context, embedded) (bool, error) { return true, nil }, mizan.Name("f"))
		}, "embedded struct"},
		{"Methods", func(app *mizan.App) {
			mizan.Form(app, func(context.Context, ok) (bool, error) { return true, nil }, mizan.Name("f"), mizan.Route("/f/"), mizan.Methods("PUT"))
		}, "drop Methods"},
		{"Success without Route", func(app *mizan.App) {
			mizan.Form(app, func(context.Context, ok) (bool, error) { return true, nil }, mizan.Name("f"), mizan.Success("/done/"))
		}, "need a Route"},
		{"Success naming no field", func(app *mizan.App) {
			mizan.Form(app, func(context.Context, ok) (bool, error) { return true, nil }, mizan.Name("f"), mizan.Route("/f/"), mizan.Success("/p/{project_id}/"))
		}, "{project_id}"},
		{"route under the prefix", func(app *mizan.App) {
			mizan.Form(app, func(context.Context, ok) (bool, error) { return true, nil }, mizan.Name("f"), mizan.Route("/api/mizan/f/"))
		}, "under the endpoint prefix"},
		{"redefining a validator tag", func(app *mizan.App) {
			app.Validation("email", func(context.Context, validator.FieldLevel) bool { return true }, "")
		}, `tag "email"`},
		{"redefining a validator tag that takes a parameter", func(app *mizan.App) {
			app.Pattern("min", `[a-z]+`, "")
		}, `tag "min"`},
		{"a message for a tag the validator lacks", func(app *mizan.App) {
			app.Message("no_such_tag", "Nope.")
		}, `Message: tag "no_such_tag"`},
		{"an empty message", func(app *mizan.App) {
			app.Message("datetime", "")
		}, `Message: tag "datetime"`},
		{"a message given twice", func(app *mizan.App) {
			app.Message("uuid", "One.")
			app.Message("uuid", "Two.")
		}, `Message: tag "uuid"`},
		{"a pattern that does not compile", func(app *mizan.App) {
			app.Pattern("bad", `[a-`, "")
		}, `Pattern "bad"`},
		{"name clash with _schema", func(app *mizan.App) {
			mizan.Form(app, func(context.Context, ok) (bool, error) { return true, nil }, mizan.Name("f"))
			mizan.Query(app, func(context.Context, struct{}) (bool, error) { return true, nil }, mizan.Name("f_schema"))
		}, "f_schema: registered twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			app := mizan.New(mizan.Config{})
			c.register(app)
			err := app.Build()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Build: %v, want an error containing %q", err, c.want)
			}
		})
	}
}

type signup struct {
	Username string `json:"username" validate:"required,min=3,free_username"`
	Team     string `json:"team" validate:"required"`
}

// TestFormCustomValidator checks a validator registered on the app: it
// runs on the server in submit and in _validate, with the call's context
// (the caller) and the struct (siblings), gives its message, and makes the
// field server_only.
func TestFormCustomValidator(t *testing.T) {
	app := mizan.New(mizan.Config{Authenticator: mizan.AuthenticatorFunc(testAuth)})
	var sawCaller atomic.Value
	app.Validation("free_username", func(ctx context.Context, fl validator.FieldLevel) bool {
		if c := mizan.Caller(ctx); c != nil {
			sawCaller.Store(c.ID)
		}
		team := fl.Parent().FieldByName("Team").String()
		return !(team == "core" && fl.Field().String() == "ada")
	}, "This username is taken in the team.")
	var ran atomic.Int32
	mizan.Form(app, func(context.Context, signup) (bool, error) { ran.Add(1); return true, nil },
		mizan.Name("signup"), mizan.Affects("users"))
	mizan.Query(app, func(context.Context, struct{}) (int, error) { return 0, nil }, mizan.Name("users_count"), mizan.In("users"))
	rec := &recorder{}
	app.OnInvalidate(rec)
	srv := httptest.NewServer(app)
	defer srv.Close()
	e := &env{srv: srv}

	r := e.call(t, "signup_schema", map[string]any{})
	wantBody(t, r, `{"result": {"name": "signup", "fields": [
		{"name": "username", "type": "string", "label": "Username", "required": true, "min": 3, "server_only": true},
		{"name": "team", "type": "string", "label": "Team", "required": true}]}, "invalidate": []}`)

	r = e.call(t, "signup", map[string]any{"username": "ada", "team": "core"}, "X-Test-User", "7")
	if code, fields := errOf(t, r); code != "invalid_args" || fields["username"] != "This username is taken in the team." || len(fields) != 1 {
		t.Errorf("submit: %s %v", code, fields)
	}
	if got, _ := sawCaller.Load().(string); got != "7" {
		t.Errorf("the validator saw caller %q, want 7", got)
	}
	r = e.call(t, "signup_validate", map[string]any{"username": "ada", "team": "core"})
	wantBody(t, r, `{"result": {"valid": false, "errors": {"username": ["This username is taken in the team."]}}, "invalidate": []}`)
	// Client rules and the server rule together, client rules first.
	r = e.call(t, "signup_validate", map[string]any{"username": "ad"})
	wantBody(t, r, `{"result": {"valid": false, "errors": {"username": ["Use at least 3 characters."]}}, "invalidate": []}`)
	r = e.call(t, "signup_validate", map[string]any{"username": "ada", "team": "web"})
	wantBody(t, r, `{"result": {"valid": true, "errors": {}}, "invalidate": []}`)
	if ran.Load() != 0 || len(rec.got) != 0 {
		t.Fatalf("_validate or a refused submit ran the function (%d) or invalidated (%v)", ran.Load(), rec.got)
	}
	if h := r.header.Get("X-Mizan-Invalidate"); h != "" {
		t.Errorf("_validate sent X-Mizan-Invalidate %q", h)
	}
	r = e.call(t, "signup", map[string]any{"username": "ada", "team": "web"})
	wantBody(t, r, `{"result": true, "invalidate": ["users"]}`)
	if ran.Load() != 1 || len(rec.got) != 1 {
		t.Errorf("a valid submit: ran %d, invalidations %v", ran.Load(), rec.got)
	}

	// App.Call (the WebSocket transport's path) checks the form alike.
	_, err := app.Call(context.Background(), mizan.CallRequest{Fn: "signup", Args: json.RawMessage(`{"username": "x"}`),
		Request: httptest.NewRequest(http.MethodPost, "/", nil)})
	var me *mizan.Error
	if !errors.As(err, &me) || me.Code() != mizan.CodeInvalidArgs || len(me.Fields()) != 2 {
		t.Errorf("App.Call: %v", err)
	}
}

type dated struct {
	Due  string `json:"due" validate:"omitempty,datetime=2006-01-02"`
	Code string `json:"code" validate:"omitempty,uuid"`
	Name string `json:"name" validate:"required,max=3"`
}

// TestFormMessage checks App.Message: the message of a server-only
// built-in tag, in _validate and in submit, while other server-only tags
// keep the default and client rules keep theirs.
func TestFormMessage(t *testing.T) {
	app := mizan.New(mizan.Config{})
	app.Message("datetime", "Enter a date as YYYY-MM-DD.")
	app.Message("max", "Ignored: max is a client rule.")
	mizan.Form(app, func(context.Context, dated) (bool, error) { return true, nil }, mizan.Name("dated"))
	srv := httptest.NewServer(app)
	defer srv.Close()
	e := &env{srv: srv}
	r := e.call(t, "dated_validate", map[string]any{"due": "3 March", "code": "x", "name": "abcd"})
	wantBody(t, r, `{"result": {"valid": false, "errors": {
		"due": ["Enter a date as YYYY-MM-DD."], "code": ["Enter a valid value."], "name": ["Use at most 3 characters."]}}, "invalidate": []}`)
	r = e.call(t, "dated", map[string]any{"due": "2026-13-01", "name": "ab"})
	if code, fields := errOf(t, r); code != "invalid_args" || fields["due"] != "Enter a date as YYYY-MM-DD." || len(fields) != 1 {
		t.Errorf("submit: %s %v", code, fields)
	}
	r = e.call(t, "dated", map[string]any{"due": "2026-12-03", "name": "ab"})
	wantBody(t, r, `{"result": true, "invalidate": []}`)
}

type lineRow struct {
	SKU string `json:"sku" validate:"required,len=6"`
	Qty int    `json:"qty" validate:"required,min=1,max=99"`
}

type projectOrder struct {
	ProjectID int       `json:"project_id" validate:"required"`
	Rush      bool      `json:"rush"`
	Lines     []lineRow `json:"lines" validate:"required,min=1,max=3,dive"`
}

type formEnv struct {
	*env
	mu    sync.Mutex
	saved []projectOrder
	rec   *recorder
}

func newFormEnv(t *testing.T, opts ...mizan.Option) *formEnv {
	t.Helper()
	logs := &bytes.Buffer{}
	app := mizan.New(mizan.Config{Authenticator: mizan.AuthenticatorFunc(testAuth), Logger: slog.New(slog.NewTextHandler(logs, nil))})
	fe := &formEnv{rec: &recorder{}}
	mizan.Form(app, func(ctx context.Context, in projectOrder) (int, error) {
		if in.Lines[0].SKU == "TAKEN1" {
			return 0, mizan.NewError(mizan.CodeInvalidArgs, "taken").WithFields(map[string]string{"lines.0.sku": "This SKU is discontinued."})
		}
		if in.Lines[0].SKU == "LOCKED" {
			return 0, mizan.NewError("conflict", "The project is locked.")
		}
		fe.mu.Lock()
		defer fe.mu.Unlock()
		fe.saved = append(fe.saved, in)
		return len(fe.saved), nil
	}, append([]mizan.Option{mizan.Name("project_order"), mizan.Affects("orders"),
		mizan.Route("/projects/{project_id}/orders/new/"), mizan.Success("/projects/{project_id}/")}, opts...)...)
	mizan.Query(app, func(context.Context, struct {
		ProjectID int `json:"project_id"`
	}) (int, error) {
		return 0, nil
	}, mizan.Name("project_orders"), mizan.In("orders"))
	app.OnInvalidate(fe.rec)
	if err := app.Build(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)
	fe.env = &env{srv: srv, logs: logs}
	return fe
}

func (fe *formEnv) post(t *testing.T, path string, form url.Values, headers ...string) resp {
	t.Helper()
	return fe.do(t, http.MethodPost, path, form.Encode(), append([]string{"Content-Type", "application/x-www-form-urlencoded"}, headers...)...)
}

func TestFormViewPathFormset(t *testing.T) {
	fe := newFormEnv(t)
	const path = "/projects/4/orders/new/"

	t.Run("GET renders min rows, or the rows posted plus a blank one", func(t *testing.T) {
		r := fe.do(t, http.MethodGet, path, "")
		if r.status != http.StatusOK {
			t.Fatalf("status %d", r.status)
		}
		for _, want := range []string{`name="project_id" value="4"`, `name="lines.0.sku"`, `name="lines.0.qty" value="" min="1" max="99">`, `<input type="checkbox" id="id_rush" name="rush" value="true">`} {
			if !strings.Contains(r.raw, want) {
				t.Errorf("the form lacks %q:\n%s", want, r.raw)
			}
		}
		if strings.Contains(r.raw, `lines.1.`) {
			t.Errorf("renders more rows than min")
		}
	})
	t.Run("invalid rows: 422, errors keyed by the renumbered rows", func(t *testing.T) {
		form := url.Values{
			"lines.0.sku": {"ABCDEF"}, "lines.0.qty": {"2"},
			"lines.3.sku": {""}, "lines.3.qty": {""}, // a blank row: dropped
			"lines.7.sku": {"ABC"}, "lines.7.qty": {"x"}, // the second row: lines.1
			"lines.x.sku": {"ignored"}, "csrf": {"ignored"},
		}
		r := fe.post(t, path, form)
		if r.status != http.StatusUnprocessableEntity {
			t.Fatalf("status %d: %s", r.status, r.raw)
		}
		for _, want := range []string{
			`id="id_lines-1-sku-errors"><li>Use exactly 6 characters.</li>`,
			`id="id_lines-1-qty-errors"><li>Enter a whole number.</li>`,
			`name="lines.1.sku" value="ABC"`, `name="lines.0.sku" value="ABCDEF"`, `name="lines.2.sku" value=""`,
		} {
			if !strings.Contains(r.raw, want) {
				t.Errorf("the page lacks %q:\n%s", want, r.raw)
			}
		}
		if len(fe.rec.got) != 0 || len(fe.saved) != 0 {
			t.Errorf("an invalid post ran or invalidated")
		}
		r = fe.post(t, path, url.Values{"rush": {"on"}})
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.raw, `<li>Add at least 1 row.</li>`) {
			t.Errorf("no rows: status %d\n%s", r.status, r.raw)
		}
		r = fe.post(t, path, url.Values{"lines.0.sku": {"ABCDEF", "GHIJKL"}, "lines.0.qty": {"1"}, "rush": {"maybe"}})
		if !strings.Contains(r.raw, "Enter true or false.") {
			t.Errorf("a bool that is not one:\n%s", r.raw)
		}
	})
	t.Run("valid: 303 to the success location, filled from the path", func(t *testing.T) {
		r := fe.post(t, path, url.Values{"lines.0.sku": {"ABCDEF"}, "lines.0.qty": {"2"}, "lines.1.sku": {"GHIJKL"}, "lines.1.qty": {"9"}, "rush": {"on"}},
			"HX-Request", "true")
		if r.status != http.StatusSeeOther {
			t.Fatalf("status %d: %s", r.status, r.raw)
		}
		if loc := r.header.Get("Location"); loc != "/projects/4/" {
			t.Errorf("Location %q", loc)
		}
		if h := r.header.Get("X-Mizan-Invalidate"); h != "orders;project_id=4" {
			t.Errorf("X-Mizan-Invalidate %q", h)
		}
		if h := r.header.Get("HX-Trigger"); h != `{"mizan:invalidate":{"targets":[{"context":"orders","params":{"project_id":4}}]}}` {
			t.Errorf("HX-Trigger %q", h)
		}
		fe.mu.Lock()
		defer fe.mu.Unlock()
		if len(fe.saved) != 1 || !fe.saved[0].Rush || fe.saved[0].ProjectID != 4 || len(fe.saved[0].Lines) != 2 || fe.saved[0].Lines[1].Qty != 9 {
			t.Errorf("saved %+v", fe.saved)
		}
	})
	t.Run("the function's own errors", func(t *testing.T) {
		r := fe.post(t, path, url.Values{"lines.0.sku": {"TAKEN1"}, "lines.0.qty": {"2"}})
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.raw, `<li>This SKU is discontinued.</li>`) {
			t.Errorf("a field error from the function: %d\n%s", r.status, r.raw)
		}
		r = fe.post(t, path, url.Values{"lines.0.sku": {"LOCKED"}, "lines.0.qty": {"2"}})
		if r.status != http.StatusConflict || !strings.Contains(r.raw, `<li>The project is locked.</li>`) {
			t.Errorf("a form error from the function: %d\n%s", r.status, r.raw)
		}
	})
	t.Run("HEAD", func(t *testing.T) {
		r := fe.do(t, http.MethodHead, path, "")
		if r.status != http.StatusOK || r.raw != "" {
			t.Errorf("HEAD: %d %q", r.status, r.raw)
		}
	})
}

func TestFormRendererAndGuard(t *testing.T) {
	tmpl := template.Must(template.New("f").Parse(`<p id="status">{{.Status}}</p>{{range $k, $m := .Errors}}<i data-key="{{$k}}">{{index $m 0}}</i>{{end}}`))
	fe := newFormEnv(t, mizan.WithFormRenderer(mizan.FormTemplate(tmpl)), mizan.RequireAuth())
	const path = "/projects/4/orders/new/"
	r := fe.post(t, path, url.Values{"lines.0.sku": {"ABCDEF"}, "lines.0.qty": {"2"}})
	if code, _ := errOf(t, r); r.status != http.StatusUnauthorized || code != "unauthorized" {
		t.Errorf("anonymous post: %d %s", r.status, code)
	}
	r = fe.call(t, "project_order_validate", map[string]any{"project_id": 4})
	if r.status != http.StatusUnauthorized {
		t.Errorf("_validate of a guarded form: %d", r.status)
	}
	r = fe.post(t, path, url.Values{"lines.0.sku": {"AB"}, "lines.0.qty": {"2"}}, "X-Test-User", "1")
	if r.status != http.StatusUnprocessableEntity || r.raw != `<p id="status">422</p><i data-key="lines.0.sku">Use exactly 6 characters.</i>` {
		t.Errorf("the app's template: %d %q", r.status, r.raw)
	}
	failing := mizan.FormRendererFunc(func(io.Writer, *mizan.FormPage) error { return errors.New("template broke") })
	fe = newFormEnv(t, mizan.WithFormRenderer(failing))
	r = fe.do(t, http.MethodGet, path, "")
	if code, _ := errOf(t, r); r.status != http.StatusInternalServerError || code != "internal" || strings.Contains(r.raw, "broke") {
		t.Errorf("a failing renderer: %d %s", r.status, r.raw)
	}
}

// FuzzFormJSON feeds arbitrary argument objects to a form with a formset:
// decoding and checking never panic, and every answer is a result or an
// error envelope.
func FuzzFormJSON(f *testing.F) {
	for _, s := range []string{`{}`, `{"lines":[{"sku":"ABCDEF","qty":1}]}`, `{"lines":[1,{"sku":5}],"project_id":"x"}`,
		`{"lines":{"0":{}}}`, `{"rush":null,"lines":[null]}`, `[]`, `{"lines":[{"sku":"ABCDEF","qty":1e99}]}`} {
		f.Add(s)
	}
	app := mizan.New(mizan.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	mizan.Form(app, func(context.Context, projectOrder) (int, error) { return 1, nil }, mizan.Name("po"), mizan.Route("/po/{project_id}/"))
	if err := app.Build(); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, args string) {
		for _, fn := range []string{"po", "po_validate"} {
			body, _ := json.Marshal(map[string]any{"fn": fn, "args": json.RawMessage(args)})
			if !json.Valid([]byte(args)) {
				body = []byte(`{"fn":"` + fn + `","args":` + args + `}`)
			}
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, "/api/mizan/call/", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			app.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("%s(%s): %d %s", fn, args, rec.Code, rec.Body)
			}
		}
		form, err := url.ParseQuery(args)
		if err != nil {
			return
		}
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/po/3/", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		app.ServeHTTP(rec, req)
		if rec.Code != http.StatusSeeOther && rec.Code != http.StatusUnprocessableEntity && rec.Code != http.StatusBadRequest {
			t.Fatalf("post %q: %d %s", args, rec.Code, rec.Body)
		}
	})
}
