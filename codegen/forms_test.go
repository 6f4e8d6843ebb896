package codegen_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/mizan-afi/mizan/codegen"
	"github.com/mizan-afi/mizan/ir"
)

// formDoc is a document with one form whose strings need escaping and
// whose bounds are not whole.
func formDoc() *ir.Document {
	half, big := 0.5, 1e21
	str, num, b := ir.Scalar(ir.String), ir.Scalar(ir.Float64), ir.Scalar(ir.Bool)
	return &ir.Document{
		Version: ir.Version,
		Functions: []ir.Function{{
			Name: "odd_form", Kind: ir.KindMutation, Form: ir.Form{Name: "odd_form", Role: ir.FormSubmit},
			Params: []ir.Field{{Name: "note", Type: str}, {Name: "ratio", Type: num}},
			Result: &b,
		}},
		Forms: []ir.FormDef{{Name: "odd_form", Fields: []ir.FormField{
			{Name: "note", Type: ir.FieldString, Label: "It's a `note` \\ \"quoted\"\n\u2028", Pattern: `^\d+$`, PatternMessage: "Digits 'only'."},
			{Name: "ratio", Type: ir.FieldNumber, Label: "Ratio", Gt: &half, Lt: &big, Choices: []string{"0.75"}},
		}}},
	}
}

func TestFormSchemaLiterals(t *testing.T) {
	doc := formDoc()
	files, err := codegen.Generate(context.Background(), doc, "react", codegen.Options{})
	if err != nil {
		t.Fatal(err)
	}
	client := string(files[1].Content)
	for _, want := range []string{
		"import type { FormSchema } from '@mizan/base/forms';",
		"export const oddFormForm: FormSchema = {\n  name: 'odd_form',\n  fields: [\n",
		`{ name: 'note', type: 'string', label: 'It\'s a ` + "`note`" + ` \\ "quoted"\n\u2028', required: false, pattern: '^\\d+$', pattern_message: 'Digits \'only\'.' },`,
		"{ name: 'ratio', type: 'number', label: 'Ratio', required: false, gt: 0.5, lt: 1e+21, choices: ['0.75'] },",
	} {
		if !strings.Contains(client, want) {
			t.Errorf("client.ts lacks %s:\n%s", want, client)
		}
	}
	if strings.Contains(string(files[2].Content), "useOddFormForm") == false {
		t.Error("hooks.ts has no useOddFormForm")
	}

	files, err = codegen.Generate(context.Background(), doc, "go", codegen.Options{})
	if err != nil {
		t.Fatal(err)
	}
	src := string(files[0].Content)
	_, rest, ok := strings.Cut(src, "const OddFormFormSchema = ")
	if !ok {
		t.Fatalf("no OddFormFormSchema:\n%s", src)
	}
	lit, _, _ := strings.Cut(rest, "\n")
	js, err := strconv.Unquote(lit) // a label with a backquote: an interpreted literal
	if err != nil {
		t.Fatalf("%v: %s", err, lit)
	}
	var got ir.FormDef
	if err := json.Unmarshal([]byte(js), &got); err != nil || got.Fields[0].Label != doc.Forms[0].Fields[0].Label || *got.Fields[1].Lt != 1e21 {
		t.Errorf("the schema constant %s reads back as %+v (%v)", js, got, err)
	}
}

// TestFormWithoutCallableSubmit: a form whose submit function is a view
// has its schema, but no values type nor hook.
func TestFormWithoutCallableSubmit(t *testing.T) {
	doc := formDoc()
	doc.Functions[0].Kind = ir.KindQuery
	doc.Functions[0].View = true
	doc.Functions[0].Route = "/odd/"
	doc.Functions[0].Result = nil
	files, err := codegen.Generate(context.Background(), doc, "react", codegen.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(files[1].Content), "export const oddFormForm: FormSchema") {
		t.Error("no schema constant")
	}
	if h := string(files[2].Content); strings.Contains(h, "useForm") || strings.Contains(h, "OddFormFormValues") {
		t.Errorf("hooks.ts has a form hook:\n%s", h)
	}
}
