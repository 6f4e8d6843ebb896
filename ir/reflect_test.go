package ir_test

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mizan-afi/mizan/ir"
)

// Types exercising each rule of the reflection.

type Tagged struct {
	Renamed   string `json:"renamed"`
	Untagged  int
	Omit      string `json:"omit,omitempty"`
	Zero      int    `json:"zero,omitzero"`
	Skipped   string `json:"-"`
	Dash      string `json:"-,"`
	BadTag    string `json:"bad\"name"`
	OnlyOpts  bool   `json:",omitempty"`
	unexport  string //nolint:unused // unexported fields are never encoded
	Quoted    int64  `json:"quoted,string"`
	QuotedPtr *bool  `json:"quoted_ptr,string"`
}

type Inner struct {
	A int    `json:"a"`
	B string `json:"b"`
}

type Deep struct{ Inner }

type Embeds struct {
	Inner            // flattened
	*PtrInner        // flattened, optional
	Named     Inner  `json:"named"` // a field
	B         string `json:"b"`     // shallower than Inner.B: wins
}

type PtrInner struct {
	P int `json:"p"`
}

type Conflict struct {
	X1
	X2
}

type X1 struct {
	X int // untagged at the same depth as X2.X: both dropped
	Y int `json:"y"`
	T int `json:"T"` // tagged: wins over X2.T
}

type X2 struct {
	X int
	Y int // named Y by the Go field name, distinct from X1's "y"
	T int
}

type Pointers struct {
	P  *int     `json:"p"`
	PP **string `json:"pp"`
	PS *[]int   `json:"ps"`
	PI *Inner   `json:"pi"`
	PA *any     `json:"pa"`
}

type Collections struct {
	Slice   []string           `json:"slice"`
	Array   [3]int             `json:"array"`
	Bytes   []byte             `json:"bytes"`
	ByteArr [4]byte            `json:"byte_arr"`
	Nested  [][]float64        `json:"nested"`
	StrMap  map[string]int     `json:"str_map"`
	IntMap  map[int64]string   `json:"int_map"`
	TextMap map[netip.Addr]int `json:"text_map"`
	Items   []*Inner           `json:"items"`
}

type Specials struct {
	When     time.Time       `json:"when"`
	MaybeAt  *time.Time      `json:"maybe_at"`
	Raw      json.RawMessage `json:"raw"`
	Num      json.Number     `json:"num"`
	Addr     netip.Addr      `json:"addr"`
	Iface    any             `json:"iface"`
	Err      error           `json:"err"`
	Custom   custom          `json:"custom"`
	Duration time.Duration   `json:"duration"`
}

type custom struct{}

func (custom) MarshalJSON() ([]byte, error) { return []byte(`{}`), nil }

type Status string

type UserID int64

type Blob []byte

type Tags map[string]Status

type Orders []Order

type Order struct {
	ID     UserID `json:"id"`
	Status Status `json:"status"`
	Tags   Tags   `json:"tags"`
}

type Tree struct {
	Value    int     `json:"value"`
	Children []*Tree `json:"children"`
	Parent   *Tree   `json:"parent,omitempty"`
}

type Page[T any] struct {
	Items []T  `json:"items"`
	Next  *int `json:"next"`
}

type Pair[K comparable, V any] struct {
	Key K `json:"key"`
	Val V `json:"val"`
}

type Anon struct {
	Meta struct {
		Count int `json:"count"`
	} `json:"meta"`
	List []struct {
		N int `json:"n"`
	} `json:"list"`
}

type lower struct {
	V int `json:"v"`
}

type Lower struct {
	W int `json:"w"`
}

// Field collides with ir.Field, a type of another package.
type Field struct {
	F int `json:"f"`
}

type WithFuncs struct {
	F func() `json:"f"`
}

type BadKey struct {
	M map[Inner]int `json:"m"`
}

// reflectResult builds a document with one function returning a value of
// type t and returns its result expression and the KDL of its types.
func reflectResult(t *testing.T, typ reflect.Type) (string, string) {
	t.Helper()
	doc, err := ir.Build([]ir.FunctionSpec{{Name: "fn", Kind: ir.KindQuery, Result: typ}}, ir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := ir.Encode(doc)
	if err != nil {
		t.Fatal(err)
	}
	types := ""
	if i := strings.Index(string(b), "\ntype "); i >= 0 {
		types = string(b[i+1:])
	}
	return doc.Functions[0].Result.String(), types
}

func TestReflectTypes(t *testing.T) {
	cases := []struct {
		name   string
		typ    reflect.Type
		result string
		types  string
	}{
		{"scalars", reflect.TypeFor[int](), "int", ""},
		{"uint8", reflect.TypeFor[uint8](), "uint8", ""},
		{"float32", reflect.TypeFor[float32](), "float32", ""},
		{"string", reflect.TypeFor[string](), "string", ""},
		{"bool pointer", reflect.TypeFor[*bool](), "bool?", ""},
		{"empty struct", reflect.TypeFor[struct{}](), "FnResult", `type "FnResult"
`},
		{"json tags", reflect.TypeFor[Tagged](), "Tagged", `type "Tagged" go="github.com/mizan-afi/mizan/ir_test.Tagged" {
    field "renamed" type="string"
    field "Untagged" type="int"
    field "omit" type="string" optional=true
    field "zero" type="int" optional=true
    field "-" type="string"
    field "BadTag" type="string"
    field "OnlyOpts" type="bool" optional=true
    field "quoted" type="int64" string=true
    field "quoted_ptr" type="bool?" string=true
}
`},
		{"embedded structs", reflect.TypeFor[Embeds](), "Embeds", `type "Embeds" go="github.com/mizan-afi/mizan/ir_test.Embeds" {
    field "a" type="int"
    field "p" type="int" optional=true
    field "named" type="Inner"
    field "b" type="string"
}
type "Inner" go="github.com/mizan-afi/mizan/ir_test.Inner" {
    field "a" type="int"
    field "b" type="string"
}
`},
		{"embedded twice deep", reflect.TypeFor[Deep](), "Deep", `type "Deep" go="github.com/mizan-afi/mizan/ir_test.Deep" {
    field "a" type="int"
    field "b" type="string"
}
`},
		{"conflicting embedded fields", reflect.TypeFor[Conflict](), "Conflict", `type "Conflict" go="github.com/mizan-afi/mizan/ir_test.Conflict" {
    field "y" type="int"
    field "T" type="int"
    field "Y" type="int"
}
`},
		{"pointers", reflect.TypeFor[Pointers](), "Pointers", `type "Inner" go="github.com/mizan-afi/mizan/ir_test.Inner" {
    field "a" type="int"
    field "b" type="string"
}
type "Pointers" go="github.com/mizan-afi/mizan/ir_test.Pointers" {
    field "p" type="int?"
    field "pp" type="string?"
    field "ps" type="list<int>?"
    field "pi" type="Inner?"
    field "pa" type="any"
}
`},
		{"collections", reflect.TypeFor[Collections](), "Collections", `type "Collections" go="github.com/mizan-afi/mizan/ir_test.Collections" {
    field "slice" type="list<string>"
    field "array" type="list<int,3>"
    field "bytes" type="bytes"
    field "byte_arr" type="list<uint8,4>"
    field "nested" type="list<list<float64>>"
    field "str_map" type="record<int>"
    field "int_map" type="record<string>"
    field "text_map" type="record<int>"
    field "items" type="list<Inner?>"
}
type "Inner" go="github.com/mizan-afi/mizan/ir_test.Inner" {
    field "a" type="int"
    field "b" type="string"
}
`},
		{"special types", reflect.TypeFor[Specials](), "Specials", `type "Duration" go="time.Duration" underlying="int64"
type "Specials" go="github.com/mizan-afi/mizan/ir_test.Specials" {
    field "when" type="time"
    field "maybe_at" type="time?"
    field "raw" type="any"
    field "num" type="float64"
    field "addr" type="string"
    field "iface" type="any"
    field "err" type="any"
    field "custom" type="any"
    field "duration" type="Duration"
}
`},
		{"named non-struct types", reflect.TypeFor[Orders](), "Orders", `type "Order" go="github.com/mizan-afi/mizan/ir_test.Order" {
    field "id" type="UserID"
    field "status" type="Status"
    field "tags" type="Tags"
}
type "Orders" go="github.com/mizan-afi/mizan/ir_test.Orders" underlying="list<Order>"
type "Status" go="github.com/mizan-afi/mizan/ir_test.Status" underlying="string"
type "Tags" go="github.com/mizan-afi/mizan/ir_test.Tags" underlying="record<Status>"
type "UserID" go="github.com/mizan-afi/mizan/ir_test.UserID" underlying="int64"
`},
		{"named bytes", reflect.TypeFor[Blob](), "Blob", `type "Blob" go="github.com/mizan-afi/mizan/ir_test.Blob" underlying="bytes"
`},
		{"recursive type", reflect.TypeFor[Tree](), "Tree", `type "Tree" go="github.com/mizan-afi/mizan/ir_test.Tree" {
    field "value" type="int"
    field "children" type="list<Tree?>"
    field "parent" type="Tree?" optional=true
}
`},
		{"generic instantiation", reflect.TypeFor[Page[Order]](), "PageOrder", `type "Order" go="github.com/mizan-afi/mizan/ir_test.Order" {
    field "id" type="UserID"
    field "status" type="Status"
    field "tags" type="Tags"
}
type "PageOrder" go="github.com/mizan-afi/mizan/ir_test.Page[github.com/mizan-afi/mizan/ir_test.Order]" {
    field "items" type="list<Order>"
    field "next" type="int?"
}
type "Status" go="github.com/mizan-afi/mizan/ir_test.Status" underlying="string"
type "Tags" go="github.com/mizan-afi/mizan/ir_test.Tags" underlying="record<Status>"
type "UserID" go="github.com/mizan-afi/mizan/ir_test.UserID" underlying="int64"
`},
		{"generic of several arguments", reflect.TypeFor[Pair[string, []*Inner]](), "PairStringListInner", `type "Inner" go="github.com/mizan-afi/mizan/ir_test.Inner" {
    field "a" type="int"
    field "b" type="string"
}
type "PairStringListInner" go="github.com/mizan-afi/mizan/ir_test.Pair[string,[]*github.com/mizan-afi/mizan/ir_test.Inner]" {
    field "key" type="string"
    field "val" type="list<Inner?>"
}
`},
		{"anonymous structs", reflect.TypeFor[Anon](), "Anon", `type "Anon" go="github.com/mizan-afi/mizan/ir_test.Anon" {
    field "meta" type="AnonMeta"
    field "list" type="list<AnonListItem>"
}
type "AnonListItem" {
    field "n" type="int"
}
type "AnonMeta" {
    field "count" type="int"
}
`},
		{"anonymous result list", reflect.TypeFor[[]struct {
			X int `json:"x"`
		}](), "list<FnResultItem>", `type "FnResultItem" {
    field "x" type="int"
}
`},
		{"names made unique", reflect.TypeFor[struct {
			A lower    `json:"a"`
			B Lower    `json:"b"`
			C Field    `json:"c"`
			D ir.Field `json:"d"`
		}](), "FnResult", `type "FnResult" {
    field "a" type="IrTestLower2"
    field "b" type="IrTestLower"
    field "c" type="IrTestField"
    field "d" type="IrField"
}
type "IrField" go="github.com/mizan-afi/mizan/ir.Field" {
    field "Name" type="string"
    field "Type" type="TypeRef"
    field "Optional" type="bool"
    field "Filter" type="bool"
    field "String" type="bool"
}
type "IrTestField" go="github.com/mizan-afi/mizan/ir_test.Field" {
    field "f" type="int"
}
type "IrTestLower" go="github.com/mizan-afi/mizan/ir_test.Lower" {
    field "w" type="int"
}
type "IrTestLower2" go="github.com/mizan-afi/mizan/ir_test.lower" {
    field "v" type="int"
}
type "TypeKind" go="github.com/mizan-afi/mizan/ir.TypeKind" underlying="string"
type "TypeRef" go="github.com/mizan-afi/mizan/ir.TypeRef" {
    field "Kind" type="TypeKind"
    field "Elem" type="TypeRef?"
    field "Len" type="int"
    field "Name" type="string"
    field "Nullable" type="bool"
}
`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			result, types := reflectResult(t, c.typ)
			if result != c.result {
				t.Errorf("result type %s, want %s", result, c.result)
			}
			if types != c.types {
				t.Errorf("types:\n%s\nwant:\n%s", types, c.types)
			}
		})
	}
}

func TestReflectRefusesWhatJSONCannotEncode(t *testing.T) {
	cases := []struct {
		typ  reflect.Type
		want string
	}{
		{reflect.TypeFor[chan int](), "ir: function fn: result: type chan int cannot be encoded as JSON"},
		{reflect.TypeFor[WithFuncs](), `ir: function fn: result: field "f": type func() cannot be encoded as JSON`},
		{reflect.TypeFor[BadKey](), `ir: function fn: result: field "m": map key type ir_test.Inner cannot be a JSON object key`},
		{reflect.TypeFor[complex128](), "type complex128 cannot be encoded as JSON"},
		{reflect.TypeFor[[]func()](), "type func() cannot be encoded as JSON"},
	}
	for _, c := range cases {
		_, err := ir.Build([]ir.FunctionSpec{{Name: "fn", Kind: ir.KindQuery, Result: c.typ}}, ir.Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.typ, err, c.want)
		}
	}
}

type args struct {
	UserID int      `json:"user_id"`
	Page   int      `json:"page,omitempty"`
	Mine   *bool    `json:"mine"`
	Tags   []string `json:"tags"`
	Inner
	Skip string `json:"-"`
}

func TestBuildParams(t *testing.T) {
	spec := ir.FunctionSpec{Name: "list_orders", Kind: ir.KindQuery, Context: "orders", Args: reflect.TypeFor[args](), Result: reflect.TypeFor[[]Order]()}
	doc, err := ir.Build([]ir.FunctionSpec{spec}, ir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := doc.Functions[0].Params
	want := []ir.Field{
		{Name: "user_id", Type: ir.Scalar(ir.Int)},
		{Name: "page", Type: ir.Scalar(ir.Int), Optional: true},
		{Name: "mine", Type: ir.Scalar(ir.Bool).OrNull()},
		{Name: "tags", Type: ir.ListOf(ir.Scalar(ir.String))},
		{Name: "a", Type: ir.Scalar(ir.Int)},
		{Name: "b", Type: ir.Scalar(ir.String)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("params derived from Args:\n%v\nwant\n%v", got, want)
	}
	spec.Params = []ir.ParamSpec{{Name: "user_id", Type: reflect.TypeFor[UserID]()}}
	doc, err = ir.Build([]ir.FunctionSpec{spec}, ir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := doc.Functions[0].Params; !reflect.DeepEqual(got, []ir.Field{{Name: "user_id", Type: ir.RefTo("UserID")}}) {
		t.Errorf("explicit params: %v", got)
	}
}

func TestBuildRefusesBadSpecs(t *testing.T) {
	cases := []struct {
		specs []ir.FunctionSpec
		want  string
	}{
		{[]ir.FunctionSpec{{Name: "a-b", Kind: ir.KindQuery}}, `function a-b: name "a-b" is not an identifier`},
		{[]ir.FunctionSpec{{Name: "a", Kind: "read"}}, `function a: unknown kind "read"`},
		{[]ir.FunctionSpec{{Name: "a", Kind: ir.KindQuery}, {Name: "a", Kind: ir.KindQuery}}, "function a: declared twice"},
		{[]ir.FunctionSpec{{Name: "a", Kind: ir.KindQuery, Args: reflect.TypeFor[int]()}}, "arguments must be a struct, not int"},
		{[]ir.FunctionSpec{{Name: "a", Kind: ir.KindMutation, Context: "user"}}, "a mutation cannot belong to a context"},
		{[]ir.FunctionSpec{{Name: "a", Kind: ir.KindQuery, View: true}}, "a view needs a route"},
		{[]ir.FunctionSpec{{Name: "a", Kind: ir.KindMutation, Affects: []ir.Affect{{Context: "user", ScopedBy: []string{"id"}}}}},
			`scoped-by "id" is not a parameter of the function`},
	}
	for _, c := range cases {
		_, err := ir.Build(c.specs, ir.Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.specs, err, c.want)
		}
	}
}

func TestBuildIsIndependentOfOrder(t *testing.T) {
	specs := []ir.FunctionSpec{
		{Name: "b", Kind: ir.KindQuery, Result: reflect.TypeFor[struct{ X int }]()},
		{Name: "a", Kind: ir.KindQuery, Result: reflect.TypeFor[Page[Tree]]()},
		{Name: "c", Kind: ir.KindQuery, Result: reflect.TypeFor[Anon]()},
	}
	first, err := ir.Build(specs, ir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	specs[0], specs[2] = specs[2], specs[0]
	second, err := ir.Build(specs, ir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(first, second) {
		t.Errorf("documents differ with the order of specs")
	}
}

// TestFieldsMatchEncodingJSON checks the reflection against encoding/json
// itself: the zero value of each struct encodes exactly its required fields.
func TestFieldsMatchEncodingJSON(t *testing.T) {
	for _, typ := range []reflect.Type{
		reflect.TypeFor[Tagged](), reflect.TypeFor[Embeds](), reflect.TypeFor[Deep](),
		reflect.TypeFor[Conflict](), reflect.TypeFor[Pointers](), reflect.TypeFor[Collections](),
		reflect.TypeFor[Specials](), reflect.TypeFor[Tree](), reflect.TypeFor[Anon](), reflect.TypeFor[Page[Order]](),
	} {
		doc, err := ir.Build([]ir.FunctionSpec{{Name: "fn", Kind: ir.KindQuery, Result: typ}}, ir.Options{})
		if err != nil {
			t.Fatal(err)
		}
		def, _ := doc.Type(doc.Functions[0].Result.Name)
		var want []string
		for _, f := range def.Fields {
			if !f.Optional {
				want = append(want, f.Name)
			}
		}
		b, err := json.Marshal(reflect.New(typ).Interface())
		if err != nil {
			t.Fatal(err)
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(b, &obj); err != nil {
			t.Fatal(err)
		}
		var got []string
		for k := range obj {
			got = append(got, k)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: encoding/json writes %v, the IR requires %v", typ, got, want)
		}
	}
}
