package ir_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	kdl "github.com/sblinch/kdl-go"

	"github.com/mizan-afi/mizan/ir"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// richSpecs cover every property of a function.
func richSpecs() []ir.FunctionSpec {
	type profileArgs struct {
		UserID UserID `json:"user_id"`
	}
	type updateArgs struct {
		UserID UserID  `json:"user_id"`
		Name   string  `json:"name"`
		Note   *string `json:"note,omitempty"`
	}
	return []ir.FunctionSpec{
		{Name: "user_profile", Kind: ir.KindQuery, Context: "user", Rev: 3, Cache: ir.Cache{TTL: 90 * time.Second},
			Shared: true, Args: reflect.TypeFor[profileArgs](), Result: reflect.TypeFor[*Tree]()},
		{Name: "user_orders", Kind: ir.KindQuery, Context: "user", Cache: ir.Cache{Off: true},
			Args: reflect.TypeFor[profileArgs](), Result: reflect.TypeFor[Page[Order]]()},
		{Name: "update_profile", Kind: ir.KindMutation, WebSocket: true, Auth: ir.AuthRequired,
			Affects: []ir.Affect{{Context: "user", ScopedBy: []string{"user_id"}}, {Context: "orders"}},
			Args:    reflect.TypeFor[updateArgs](), Result: reflect.TypeFor[Anon]()},
		{Name: "rename", Kind: ir.KindMutation, Auth: ir.AuthPredicate, Form: ir.Form{Name: "profile", Role: ir.FormSubmit},
			Affects: []ir.Affect{{Context: "user", Function: "user_profile", ScopedBy: []string{"user_id"}}},
			Cache:   ir.Cache{TTL: 1500 * time.Millisecond},
			Args:    reflect.TypeFor[updateArgs](), Result: reflect.TypeFor[map[string]Specials]()},
		{Name: "profile_page", Kind: ir.KindQuery, Context: "user", View: true, Route: "/profile/{user_id}/",
			Methods: []string{"GET", "HEAD"}, Args: reflect.TypeFor[profileArgs]()},
		{Name: "ping", Kind: ir.KindQuery, Auth: ir.AuthStaff, Result: reflect.TypeFor[string]()},
		// Revision 2 of docs/spec.md §3: filter parameters (from the
		// mizan tag and from Params), explicit scopes (given and empty)
		// and a caller-scoped target.
		{Name: "task_list", Kind: ir.KindQuery, Context: "tasks", Args: reflect.TypeFor[taskListArgs](),
			Result: reflect.TypeFor[[]string]()},
		{Name: "task_count", Kind: ir.KindQuery, Context: "tasks", Params: []ir.ParamSpec{
			{Name: "project_id", Type: reflect.TypeFor[int]()},
			{Name: "state", Type: reflect.TypeFor[Status](), Optional: true, Filter: true},
		}, Result: reflect.TypeFor[int]()},
		{Name: "set_task_state", Kind: ir.KindMutation, HasScope: true, Scope: []string{"task_id", "project_id"},
			Affects: []ir.Affect{{Context: "task", ScopedBy: []string{"task_id"}}, {Context: "tasks", ScopedBy: []string{"project_id"}}},
			Args:    reflect.TypeFor[setTaskStateArgs](), Result: reflect.TypeFor[bool]()},
		{Name: "rename_task", Kind: ir.KindMutation, HasScope: true, Scope: []string{},
			Affects: []ir.Affect{{Context: "task"}},
			Args:    reflect.TypeFor[setTaskStateArgs](), Result: reflect.TypeFor[bool]()},
		{Name: "set_my_name", Kind: ir.KindMutation, Auth: ir.AuthRequired,
			Affects: []ir.Affect{{Context: "global", CallerScoped: true}, {Context: "user", ScopedBy: []string{"user_id"}}},
			Args:    reflect.TypeFor[updateArgs](), Result: reflect.TypeFor[bool]()},
	}
}

type taskListArgs struct {
	ProjectID int     `json:"project_id"`
	State     *Status `json:"state,omitempty" mizan:"filter"`
}

type setTaskStateArgs struct {
	ProjectID int    `json:"project_id"`
	TaskID    int    `json:"task_id"`
	State     Status `json:"state"`
}

func richDoc(t *testing.T) *ir.Document {
	t.Helper()
	doc, err := ir.Build(richSpecs(), ir.Options{Prefix: "/api/mizan/"})
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// golden compares got with the file testdata/name, rewriting it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./ir -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (run go test ./ir -update after checking):\n%s", path, got)
	}
}

func TestEncodeGolden(t *testing.T) {
	b, err := ir.Encode(richDoc(t))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "rich.kdl", b)
	again, _ := ir.Encode(richDoc(t))
	if !bytes.Equal(b, again) {
		t.Error("two encodings of one app differ")
	}
	if _, err := kdl.Parse(bytes.NewReader(b)); err != nil {
		t.Errorf("the KDL library refuses the output: %v", err)
	}
}

func TestRoundTrip(t *testing.T) {
	docs := map[string]*ir.Document{
		"rich":  richDoc(t),
		"empty": {Version: ir.Version},
		"strings": {Version: ir.Version, Prefix: "/p/", Functions: []ir.Function{{
			Name: "f", Kind: ir.KindQuery, View: true, Context: "a.b-c",
			Route: "/x/\"quoted\"/\\/\n/\t/\u0001/\u2028/é/{id}/", Methods: []string{"POST"},
		}}},
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			b, err := ir.Encode(doc)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ir.Parse(b)
			if err != nil {
				t.Fatalf("%v\n%s", err, b)
			}
			if !reflect.DeepEqual(got, doc) {
				t.Errorf("round trip changed the document:\n got %+v\nwant %+v", got, doc)
			}
			again, _ := ir.Encode(got)
			if !bytes.Equal(again, b) {
				t.Errorf("re-encoding differs:\n%s\n---\n%s", again, b)
			}
		})
	}
}

func TestParseAcceptsHandWrittenKDL(t *testing.T) {
	src := `// hand-written
/* a block /* nested */ comment */
mizan-ir version=1
type "B" {
    field "x" type="list<A?,2>" ; field "y" /-type="int" type="string" optional=true
}
/- function "gone" kind="query" {
    result type="Nope"
}
function "get" kind="query" \
    context="c" {
    /-param "skipped" type="Nope"
    param "id" type="int"
    result type=r#"B"#
}
type "A" underlying="record<bytes>"
`
	doc, err := ir.Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Functions) != 1 || doc.Types[0].Name != "A" || doc.Types[1].Fields[1].Type.String() != "string" {
		t.Errorf("parsed %+v", doc)
	}
	if got := doc.Types[1].Fields[0].Type.String(); got != "list<A?,2>" {
		t.Errorf("field x is %s", got)
	}
}

func TestParseErrorsNameTheLine(t *testing.T) {
	header := "mizan-ir version=1\n"
	cases := []struct {
		name, src, want string
	}{
		{"empty", "", "ir: empty document"},
		{"no header", "function \"f\" kind=\"query\"\n", `ir: line 1: not a Mizan IR document: the first node is "function"`},
		{"newer version", "// c\n\nmizan-ir version=2\n", "ir: line 3: IR version 2 is newer than this mizan reads (1); upgrade mizan"},
		{"older version", "mizan-ir version=0\n", "ir: line 1: IR version 0 is not supported"},
		{"no version", "mizan-ir\n", "ir: line 1: mizan-ir needs a version property"},
		{"string version", "mizan-ir version=\"1\"\n", "ir: line 1: mizan-ir: property version must be an integer"},
		{"unterminated string", header + "function \"f\" kind=\"query\" {\n    result type=\"int\n}\n", `ir: line 3: string is never closed`},
		{"unclosed brace", header + "\nfunction \"f\" kind=\"query\" {\n    result type=\"int\"\n", `ir: line 3: '{' is never closed`},
		{"stray brace", header + "}\n", `ir: line 2: '}' without a matching '{'`},
		{"unclosed comment", header + "/* x\n", `ir: line 2: '/*' comment is never closed`},
		{"bad KDL", header + "function \"f\" kind=\"query\" {\n    result type=\"int\"\n}\nfunction \"g\" kind=[x]\n", "ir: line 5: malformed KDL in this node"},
		{"unknown node", header + "\nfunctoin \"f\"\n", `ir: line 3: unknown node "functoin": expected function, form or type`},
		{"unknown child", header + "function \"f\" kind=\"query\" {\n    result type=\"int\"\n    returns type=\"int\"\n}\n", `ir: line 4: returns: unknown node in a function`},
		{"unknown property", header + "function \"f\" kind=\"query\" colour=\"red\" {\n    result type=\"int\"\n}\n", `ir: line 2: function: unknown property colour`},
		{"wrong value type", header + "function \"f\" kind=\"query\" rev=\"2\" {\n    result type=\"int\"\n}\n", `ir: line 2: function: property rev must be an integer`},
		{"bad type syntax", header + "function \"f\" kind=\"query\" {\n    param \"a\" type=\"int\"\n    result type=\"list<int\"\n}\n", `ir: line 4: result: type "list<int": missing > at offset 8`},
		{"unknown scalar", header + "type \"T\" {\n    field \"a\" type=\"integer\"\n}\n", `ir: line 3: field: type "integer": unknown type "integer"`},
		{"unknown type", header + "function \"f\" kind=\"query\" {\n    result type=\"Missing\"\n}\n", `ir: line 3: function "f": unknown type "Missing"`},
		{"unknown field type", header + "type \"T\" {\n    field \"a\" type=\"int\"\n    field \"b\" type=\"list<Nope>\"\n}\n", `ir: line 4: type "T": unknown type "Nope"`},
		{"duplicate function", header + "function \"f\" kind=\"query\" {\n    result type=\"int\"\n}\nfunction \"f\" kind=\"query\" {\n    result type=\"int\"\n}\n", `ir: line 5: function "f": declared twice`},
		{"bad kind", header + "function \"f\" kind=\"read\" {\n    result type=\"int\"\n}\n", `ir: line 2: function "f": kind "read" must be "query" or "mutation"`},
		{"no kind", header + "function \"f\" {\n    result type=\"int\"\n}\n", `ir: line 2: function: property kind is required`},
		{"missing result", header + "function \"f\" kind=\"query\"\n", `ir: line 2: function "f": needs a result`},
		{"bad scoped-by", header + "function \"f\" kind=\"mutation\" {\n    result type=\"int\"\n    affects context=\"u\" {\n        scoped-by \"id\"\n    }\n}\n", `ir: line 4: function "f": scoped-by "id" is not a parameter of the function`},
		{"bad cache", header + "function \"f\" kind=\"query\" cache=\"never\" {\n    result type=\"int\"\n}\n", `ir: line 2: function: property cache must be "off" or a number of seconds, not "never"`},
		{"no name", header + "type {\n}\n", `ir: line 2: type: needs one argument, the type name`},
		{"bad type name", header + "type \"t\" underlying=\"int\"\n", `ir: line 2: type "t": name must be an ASCII identifier starting with an upper-case letter`},
		{"self-defined type", header + "type \"A\" underlying=\"B\"\ntype \"B\" underlying=\"A\"\n", `ir: line 2: type "A": is defined in terms of itself`},
		{"second header", header + "mizan-ir version=1\n", `ir: line 2: mizan-ir: the header may appear only once, first`},
		{"filter on a type field", header + "type \"T\" {\n    field \"a\" type=\"int\" filter=true\n}\n", `ir: line 3: field: unknown property filter`},
		{"filter on a mutation", header + "function \"m\" kind=\"mutation\" {\n    param \"id\" type=\"int\" filter=true\n    result type=\"int\"\n}\n", `ir: line 3: function "m": parameter "id": only a parameter of a function in a context can be a filter`},
		{"filter on a standalone read", header + "function \"q\" kind=\"query\" {\n    param \"id\" type=\"int\" filter=true\n    result type=\"int\"\n}\n", `ir: line 3: function "q": parameter "id": only a parameter of a function in a context can be a filter`},
		{"filter not a boolean", header + "function \"q\" kind=\"query\" context=\"c\" {\n    param \"id\" type=\"int\" filter=\"yes\"\n    result type=\"int\"\n}\n", `ir: line 3: param: property filter must be true or false`},
		{"caller-scoped function target", header + "function \"m\" kind=\"mutation\" {\n    result type=\"int\"\n    affects context=\"u\" function=\"f\" caller-scoped=true\n}\n", `ir: line 4: function "m": caller-scoped is for a target of a whole context, not of function "f"`},
		{"caller-scoped not a boolean", header + "function \"m\" kind=\"mutation\" {\n    result type=\"int\"\n    affects context=\"u\" caller-scoped=1\n}\n", `ir: line 4: affects: property caller-scoped must be true or false`},
		{"scope on a read", header + "function \"q\" kind=\"query\" {\n    result type=\"int\"\n    scope\n}\n", `ir: line 4: function "q": only a mutation has a scope`},
		{"scope twice", header + "function \"m\" kind=\"mutation\" {\n    param \"id\" type=\"int\"\n    result type=\"int\"\n    scope\n    scope \"id\"\n}\n", `ir: line 6: scope: given twice`},
		{"scope not a parameter", header + "function \"m\" kind=\"mutation\" {\n    param \"id\" type=\"int\"\n    result type=\"int\"\n    scope \"idd\"\n}\n", `ir: line 5: function "m": scope "idd" is not a parameter of the function`},
		{"scope unsorted", header + "function \"m\" kind=\"mutation\" {\n    param \"a\" type=\"int\"\n    param \"b\" type=\"int\"\n    result type=\"int\"\n    scope \"b\" \"a\"\n}\n", `ir: line 6: function "m": scope must be sorted`},
		{"scope with properties", header + "function \"m\" kind=\"mutation\" {\n    param \"id\" type=\"int\"\n    result type=\"int\"\n    scope names=\"id\"\n}\n", `ir: line 5: scope: unknown property names`},
		{"scope with children", header + "function \"m\" kind=\"mutation\" {\n    param \"id\" type=\"int\"\n    result type=\"int\"\n    scope {\n        x\n    }\n}\n", `ir: line 5: scope: has no children`},
		{"scoped-by outside the scope", header + "function \"m\" kind=\"mutation\" {\n    param \"id\" type=\"int\"\n    result type=\"int\"\n    scope\n    affects context=\"u\" {\n        scoped-by \"id\"\n    }\n}\n", `ir: line 6: function "m": scoped-by "id" is not in the function's scope`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ir.Parse([]byte(c.src))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error:\n%v\nwant it to contain:\n%s", err, c.want)
			}
		})
	}
}

// TestScopesAndFilters checks the additions of revision 2 of docs/spec.md
// §3 in the rich document: an explicit scope (sorted), an explicit empty
// scope distinct from none, filter parameters and a caller-scoped target,
// in the model and after a round trip through the text.
func TestScopesAndFilters(t *testing.T) {
	b, err := ir.Encode(richDoc(t))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := ir.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	fn := func(name string) *ir.Function {
		t.Helper()
		f, ok := doc.Function(name)
		if !ok {
			t.Fatalf("no function %s", name)
		}
		return f
	}
	if f := fn("set_task_state"); !f.HasScope || !reflect.DeepEqual(f.Scope, []string{"project_id", "task_id"}) {
		t.Errorf("set_task_state scope %v (has %v)", f.Scope, f.HasScope)
	}
	if f := fn("rename_task"); !f.HasScope || f.Scope != nil {
		t.Errorf("rename_task scope %#v (has %v), want an explicit empty scope", f.Scope, f.HasScope)
	}
	if f := fn("update_profile"); f.HasScope || f.Scope != nil {
		t.Errorf("update_profile scope %#v (has %v), want none", f.Scope, f.HasScope)
	}
	if got := fn("set_my_name").Affects; !reflect.DeepEqual(got, []ir.Affect{
		{Context: "global", CallerScoped: true}, {Context: "user", ScopedBy: []string{"user_id"}},
	}) {
		t.Errorf("set_my_name affects %+v", got)
	}
	for _, name := range []string{"task_list", "task_count"} {
		ps := fn(name).Params
		if len(ps) != 2 || ps[0].Filter || !ps[1].Filter || ps[1].Name != "state" {
			t.Errorf("%s params %+v: want state, and only state, a filter", name, ps)
		}
	}
	for _, c := range doc.Contexts() {
		if c.Name != "tasks" {
			continue
		}
		want := []ir.Field{
			{Name: "project_id", Type: ir.Scalar(ir.Int)},
			{Name: "state", Type: ir.RefTo("Status"), Optional: true, Filter: true},
		}
		if !reflect.DeepEqual(c.Params, want) {
			t.Errorf("params of tasks %+v, want %+v", c.Params, want)
		}
	}
	for _, line := range []string{
		"\n    param \"state\" type=\"Status?\" optional=true filter=true\n",
		"\n    scope \"project_id\" \"task_id\"\n",
		"\n    result type=\"bool\"\n    scope\n    affects context=\"task\"\n",
		"\n    affects context=\"global\" caller-scoped=true\n",
	} {
		if !bytes.Contains(b, []byte(line)) {
			t.Errorf("the encoding lacks %q", line)
		}
	}
}

func TestValidateScopesAndFilters(t *testing.T) {
	intT := ir.Scalar(ir.Int)
	cases := map[string]struct {
		f    ir.Function
		want string
	}{
		"scope without HasScope": {ir.Function{Name: "m", Kind: ir.KindMutation, Result: &intT,
			Params: []ir.Field{{Name: "id", Type: intT}}, Scope: []string{"id"}}, `scope [id] is given without HasScope`},
		"scope twice": {ir.Function{Name: "m", Kind: ir.KindMutation, Result: &intT,
			Params: []ir.Field{{Name: "id", Type: intT}}, HasScope: true, Scope: []string{"id", "id"}}, `scope "id" given twice`},
		"filter in a mutation": {ir.Function{Name: "m", Kind: ir.KindMutation, Result: &intT,
			Params: []ir.Field{{Name: "id", Type: intT, Filter: true}}}, `only a parameter of a function in a context can be a filter`},
		"caller-scoped function": {ir.Function{Name: "m", Kind: ir.KindMutation, Result: &intT,
			Affects: []ir.Affect{{Context: "c", Function: "f", CallerScoped: true}}}, `caller-scoped is for a target of a whole context`},
	}
	for name, c := range cases {
		doc := &ir.Document{Version: ir.Version, Functions: []ir.Function{c.f}}
		if err := doc.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", name, err, c.want)
		}
	}
	doc := &ir.Document{Version: ir.Version, Types: []ir.TypeDef{{Name: "T", Fields: []ir.Field{{Name: "a", Type: intT, Filter: true}}}}}
	if err := doc.Validate(); err == nil || !strings.Contains(err.Error(), `field "a": only a function parameter can be a filter`) {
		t.Errorf("a filter field: %v", err)
	}
	if _, err := ir.Build([]ir.FunctionSpec{{Name: "q", Kind: ir.KindQuery, HasScope: true}}, ir.Options{}); err == nil ||
		!strings.Contains(err.Error(), "only a mutation has a scope") {
		t.Errorf("Build of a read with a scope: %v", err)
	}
}

func TestReadParsesTheReader(t *testing.T) {
	b, _ := ir.Encode(richDoc(t))
	doc, err := ir.Read(bytes.NewReader(b))
	if err != nil || len(doc.Functions) != len(richSpecs()) {
		t.Errorf("Read: %v, %d functions", err, len(doc.Functions))
	}
}

func TestContexts(t *testing.T) {
	intT, strT := ir.Scalar(ir.Int), ir.Scalar(ir.String)
	doc := &ir.Document{Version: ir.Version, Functions: []ir.Function{
		{Name: "a", Kind: ir.KindQuery, Context: "c", Result: &intT, Params: []ir.Field{
			{Name: "id", Type: intT}, {Name: "page", Type: intT, Optional: true}, {Name: "q", Type: strT.OrNull()}}},
		{Name: "b", Kind: ir.KindQuery, Context: "c", Result: &intT, Params: []ir.Field{
			{Name: "page", Type: intT}, {Name: "q", Type: strT, Optional: true}}},
		{Name: "d", Kind: ir.KindQuery, Context: "b", Result: &intT},
		{Name: "m", Kind: ir.KindMutation, Result: &intT},
		{Name: "v", Kind: ir.KindQuery, Context: "v", View: true, Route: "/v/"},
	}}
	if err := doc.Validate(); err != nil {
		t.Fatal(err)
	}
	ctxs := doc.Contexts()
	if len(ctxs) != 2 || ctxs[0].Name != "b" || ctxs[1].Name != "c" {
		t.Fatalf("contexts %+v", ctxs)
	}
	want := []ir.Field{{Name: "id", Type: intT}, {Name: "page", Type: intT}, {Name: "q", Type: strT, Optional: true}}
	if got := ctxs[1].Params; !reflect.DeepEqual(got, want) {
		t.Errorf("params of c: %+v, want %+v", got, want)
	}
	if fns := ctxs[1].Functions; len(fns) != 2 || fns[0].Name != "a" || fns[1].Name != "b" {
		t.Errorf("functions of c: %v", fns)
	}
}

// TestLargeDocument round-trips a document far larger than the KDL
// library's 64 KiB read buffer, and reports a line deep inside it.
func TestLargeDocument(t *testing.T) {
	var specs []ir.FunctionSpec
	for i := range 3000 {
		specs = append(specs, ir.FunctionSpec{
			Name: "function_" + strings.Repeat("x", i%7) + fmt.Sprint(i), Kind: ir.KindMutation,
			Args: reflect.TypeFor[struct {
				UserID UserID  `json:"user_id"`
				Note   *string `json:"note,omitempty"`
			}](),
			Result:  reflect.TypeFor[Page[Order]](),
			Affects: []ir.Affect{{Context: "user", ScopedBy: []string{"user_id"}}},
		})
	}
	doc, err := ir.Build(specs, ir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := ir.Encode(doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 1<<20/2 {
		t.Fatalf("only %d bytes", len(b))
	}
	got, err := ir.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, doc) {
		t.Fatal("the large document does not survive a round trip")
	}
	broken := bytes.Replace(b, []byte(`type="PageOrder"`), []byte(`type="PageOrdre"`), 1)
	line := 1 + bytes.Count(b[:bytes.Index(b, []byte(`type="PageOrder"`))], []byte("\n"))
	_, err = ir.Parse(broken)
	if want := fmt.Sprintf(`ir: line %d: function "function_0": unknown type "PageOrdre"`, line); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want %q", err, want)
	}
}
