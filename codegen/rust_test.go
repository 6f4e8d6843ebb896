package codegen_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/mizan-afi/mizan/codegen"
	"github.com/mizan-afi/mizan/ir"
)

// rustLib returns the lib.rs the rust target writes for doc.
func rustLib(t *testing.T, doc *ir.Document, crate string) string {
	t.Helper()
	files, err := codegen.Generate(context.Background(), doc, "rust", codegen.Options{Package: crate})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || files[0].Path != "Cargo.toml" || files[1].Path != "lib.rs" {
		t.Fatalf("files %v, want Cargo.toml and lib.rs", files)
	}
	if !strings.HasPrefix(string(files[0].Content), codegen.RustHeader+"\n") {
		t.Errorf("Cargo.toml does not start with %q:\n%s", codegen.RustHeader, files[0].Content)
	}
	want := `name = "` + crate + `"`
	if crate == "" {
		want = `name = "` + codegen.DefaultCrate + `"`
	}
	if !strings.Contains(string(files[0].Content), want) {
		t.Errorf("Cargo.toml lacks %s:\n%s", want, files[0].Content)
	}
	return string(files[1].Content)
}

// TestRustValueTypes: the rust target maps the IR's kinds as
// docs/codegen.md says: exact integers, json:",string" values through the
// json_string helpers, time.Duration as i64 nanoseconds, string enums as
// Rust enums with serde renames, integer enums as constants, bytes and
// times as strings.
func TestRustValueTypes(t *testing.T) {
	doc, err := ir.Build([]ir.FunctionSpec{{Name: "values", Kind: ir.KindQuery, Context: "values",
		Args: reflect.TypeFor[struct{}](), Result: reflect.TypeFor[valuesResult]()}},
		ir.Options{Enums: map[reflect.Type][]string{
			reflect.TypeFor[Priority](): {"1", "2", "-1"},
			reflect.TypeFor[Level]():    {"low", "very-high", ""},
		}})
	if err != nil {
		t.Fatal(err)
	}
	src := rustLib(t, doc, "values-client")
	for _, want := range []string{
		"pub type Duration = i64;",
		"    pub timeout: Duration,\n",
		"    pub every: Option<Duration>,\n",
		"    pub priority: Priority,\n",
		"    #[serde(with = \"json_string\")]\n    pub big: i64,\n",
		"    #[serde(with = \"json_string_option\", default)]\n    pub maybe_big: Option<u64>,\n",
		"    pub data: String,\n",
		"    pub at: String,\n",
		"    pub tags: Vec<String>,\n",
		"pub type Priority = i64;",
		"pub const PRIORITY_1: Priority = 1;",
		"pub const PRIORITY_MINUS_1: Priority = -1;",
		"pub enum Level {\n    #[serde(rename = \"low\")]\n    Low,\n    #[serde(rename = \"very-high\")]\n    VeryHigh,\n    #[serde(rename = \"\")]\n    Empty,\n}",
		"pub mod json_string {",
		"pub mod json_string_option {",
		"#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]\npub struct ValuesResult {", // Level has no default
		"pub fn values(&self) -> Result<ValuesResult, MizanError> {\n        self.fetch_values().map(|b| b.values)\n",
	} {
		if !strings.Contains(src, want) {
			t.Errorf("lib.rs lacks %q:\n%s", want, src)
		}
	}
}

// TestRustNames: keywords, recursion and names the crate declares.
func TestRustNames(t *testing.T) {
	doc, err := ir.Parse([]byte(`mizan-ir version=1
function "type" kind="mutation" {
    param "match" type="string"
    param "Self" type="int"
    param "ok" type="int"
    param "OK" type="int"
    result type="Node"
}
function "new" kind="query" context="self" {
    result type="Result"
}
type "Node" {
    field "next" type="Node?" optional=true
    field "pair" type="list<Node?,2>"
    field "kids" type="list<Node>"
    field "big" type="list<int,33>"
}
type "Result" {
    field "v" type="record<Node>"
}
type "Mode" underlying="string" {
    enum "a-b" "A_B" "9"
}
`))
	if err != nil {
		t.Fatal(err)
	}
	src := rustLib(t, doc, "")
	for _, want := range []string{
		"pub fn type_(&self, args: &TypeArgs) -> Result<CallResult<Node>, MizanError> {",
		`#[serde(rename = "match")]` + "\n    pub match_: String,",
		`#[serde(rename = "Self")]` + "\n    pub self_: i64,",
		`#[serde(rename = "OK")]` + "\n    pub ok2: i64,",
		"#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]\npub struct Node {",
		"pub next: Option<Box<Node>>,",
		"pub pair: [Option<Box<Node>>; 2],",
		"pub kids: Vec<Node>,",
		"pub big: Vec<i64>,",
		"pub struct Result2 {\n    pub v: BTreeMap<String, Node>,\n}",
		"pub fn fetch_self(&self) -> Result<SelfBundle, MizanError> {",
		"pub fn new2(&self) -> Result<Result2, MizanError> {",
		"    AB,\n    #[serde(rename = \"A_B\")]\n    AB2,\n    #[serde(rename = \"9\")]\n    X9,\n",
	} {
		if !strings.Contains(src, want) {
			t.Errorf("lib.rs lacks %q:\n%s", want, src)
		}
	}
}

// TestRustRefuses: a crate name Cargo would refuse is an error.
func TestRustRefuses(t *testing.T) {
	for _, name := range []string{"9lives", "my client", "crate", "-x", "über"} {
		_, err := codegen.Generate(context.Background(), &ir.Document{Version: ir.Version}, "rust", codegen.Options{Package: name})
		if err == nil || !strings.Contains(err.Error(), "is not a Rust crate name") {
			t.Errorf("crate %q: error %v", name, err)
		}
	}
	for _, name := range []string{"api", "my-client", "Api_2"} {
		if _, err := codegen.Generate(context.Background(), &ir.Document{Version: ir.Version}, "rust", codegen.Options{Package: name}); err != nil {
			t.Errorf("crate %q: %v", name, err)
		}
	}
}

// TestRustForms: form schemas are raw string constants that survive
// quotes and #s in the JSON.
func TestRustForms(t *testing.T) {
	str := ir.Scalar(ir.String)
	doc := &ir.Document{Version: ir.Version,
		Functions: []ir.Function{{Name: "quote", Kind: ir.KindMutation, Form: ir.Form{Name: "quote", Role: ir.FormSubmit},
			Params: []ir.Field{{Name: "q", Type: str}}, Result: &str}},
		Forms: []ir.FormDef{{Name: "quote", Fields: []ir.FormField{
			{Name: "q", Type: ir.FieldString, Label: `say "#hi"#`, Pattern: `"##`},
		}}}}
	src := rustLib(t, doc, "forms")
	want := `pub const QUOTE_FORM_SCHEMA: &str = r###"{"name":"quote","fields":[{"name":"q","type":"string","label":"say \"#hi\"#","required":false,"pattern":"\"##"}]}"###;`
	if !strings.Contains(src, want) {
		t.Errorf("lib.rs lacks %s:\n%s", want, src)
	}
}
