package codegen_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mizan-afi/mizan/codegen"
	"github.com/mizan-afi/mizan/ir"
)

// Priority is an integer enum.
type Priority int

// Level is a string enum with a value that is no Go identifier.
type Level string

type valuesResult struct {
	Timeout  time.Duration  `json:"timeout"`
	Every    *time.Duration `json:"every"`
	Priority Priority       `json:"priority"`
	Level    Level          `json:"level"`
	Big      int64          `json:"big,string"`
	MaybeBig *uint64        `json:"maybe_big,string"`
	Data     []byte         `json:"data"`
	At       time.Time      `json:"at"`
	Tags     []string       `json:"tags"`
}

// TestGeneratedValueTypes: time.Duration stays time.Duration in the Go
// client (a number of nanoseconds in TypeScript), enums are unions and
// constants, json:",string" integers are strings in TypeScript and
// string-encoded integers in Go, []byte and time.Time are strings
// (docs/codegen.md, the type mapping).
func TestGeneratedValueTypes(t *testing.T) {
	doc, err := ir.Build([]ir.FunctionSpec{{Name: "values", Kind: ir.KindQuery, Context: "values",
		Args: reflect.TypeFor[struct{}](), Result: reflect.TypeFor[valuesResult]()}},
		ir.Options{Enums: map[reflect.Type][]string{
			reflect.TypeFor[Priority](): {"1", "2", "-1"},
			reflect.TypeFor[Level]():    {"low", "very-high", ""},
		}})
	if err != nil {
		t.Fatal(err)
	}
	text, err := ir.Encode(doc)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ir.Parse(text)
	if err != nil || !reflect.DeepEqual(back, doc) {
		t.Fatalf("the IR does not round-trip (%v):\n%s", err, text)
	}
	for _, want := range []string{`enum "1" "2" "-1"`, `enum "low" "very-high" ""`, `field "big" type="int64" string=true`,
		`field "maybe_big" type="uint64?" string=true`, `type "Duration" go="time.Duration" underlying="int64"`} {
		if !strings.Contains(string(text), want) {
			t.Errorf("IR lacks %s:\n%s", want, text)
		}
	}
	gen := func(target string) string {
		fs, err := codegen.Generate(context.Background(), doc, target, codegen.Options{Package: "valuesclient"})
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, f := range fs {
			b.Write(f.Content)
		}
		return b.String()
	}
	goSrc := gen("go")
	for _, want := range []string{
		"Timeout  time.Duration  `json:\"timeout\"`",
		"Every    *time.Duration `json:\"every\"`",
		"Big      int64          `json:\"big,string\"`",
		"MaybeBig *uint64        `json:\"maybe_big,string\"`",
		"Data     []byte         `json:\"data\"`",
		"PriorityMinus1 Priority = -1",
		"Priority1      Priority = 1",
		"LevelVeryHigh Level = \"very-high\"",
		"LevelEmpty    Level = \"\"",
	} {
		if !strings.Contains(goSrc, want) {
			t.Errorf("Go client lacks %s:\n%s", want, goSrc)
		}
	}
	if strings.Contains(goSrc, "type Duration") {
		t.Errorf("Go client declares its own Duration:\n%s", goSrc)
	}
	ts := gen("ts")
	for _, want := range []string{
		"export type Duration = number;", "export type Priority = 1 | 2 | -1;", `export type Level = "low" | "very-high" | "";`,
		"big: string;", "maybe_big: string | null;", "data: string;", "at: string;", "every: Duration | null;", "tags: string[];",
	} {
		if !strings.Contains(ts, want) {
			t.Errorf("TypeScript lacks %s:\n%s", want, ts)
		}
	}
}

// TestIREnumErrors: an enum the IR cannot hold is refused when parsed.
func TestIREnumErrors(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{`type "P" underlying="int" { enum "1" "x"; }`, `value "x" is not a decimal int`},
		{`type "P" underlying="int8" { enum "300"; }`, `value "300" is not a decimal int8`},
		{`type "P" underlying="string" { enum "a" "a"; }`, `value "a" given twice`},
		{`type "P" underlying="string" { enum; }`, `needs at least one value`},
		{`type "P" underlying="list<string>" { enum "a"; }`, `only a string or integer type`},
		{`type "P" underlying="string" { value "a"; }`, `expected enum`},
		{`type "P" { field "a" type="list<int>" string=true; }`, `string=true is for a bool, number or string`},
	} {
		_, err := ir.Parse([]byte("mizan-ir version=1\n" + c.body + "\n"))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.body, err, c.want)
		}
	}
}
