package codegen

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/mizan-afi/mizan/ir"
)

// tsForm is one form of the document in the TypeScript targets: its schema
// as a constant of client.ts and, in hooks.ts, a hook over useForm.
type tsForm struct {
	Wire     string // the form's name, and its submit function's
	Const    string // contactForm, the FormSchema constant
	Values   string // ContactFormValues, the submit function's arguments
	Schema   string // the constant's object literal
	Hook     string // useContactForm, "" when the submit function is not callable
	Result   string // the submit function's result type
	Validate string // the wire name of the form's validate function, "" when none
}

// newTSForms adds the forms of doc to m: a constant and a values type per
// form, and a hook when its submit function is callable.
func (m *tsModel) newTSForms(doc *ir.Document, types, values, hooks namer) {
	callables := map[string]*tsCallable{}
	for _, c := range m.Callables {
		callables[c.Wire] = c
	}
	validators := map[string]string{}
	for i := range doc.Functions {
		f := &doc.Functions[i]
		if f.Form.Role == ir.FormValidate && f.IsCallable() {
			if _, ok := validators[f.Form.Name]; !ok {
				validators[f.Form.Name] = f.Name
			}
		}
	}
	for i := range doc.Forms {
		fd := &doc.Forms[i]
		tf := &tsForm{
			Wire:   fd.Name,
			Const:  values.claim(camel(fd.Name) + "Form"),
			Schema: tsFormSchema(fd),
		}
		if c, ok := callables[fd.Name]; ok {
			tf.Values = types.claim(ident(fd.Name) + "FormValues")
			m.Derived = append(m.Derived, tsDecl{
				Doc:  "The values of form " + fd.Name + ": the arguments of its submit function.",
				Name: tf.Values, Expr: c.Args,
			})
			tf.Hook = hooks.claim("use" + ident(fd.Name) + "Form")
			tf.Result = c.Result
			tf.Validate = validators[fd.Name]
		}
		m.Forms = append(m.Forms, tf)
	}
}

// camel returns s (a wire name) as a camelCase identifier.
func camel(s string) string {
	p := ident(s)
	return strings.ToLower(p[:1]) + p[1:]
}

// tsFormSchema returns the FormSchema object literal of f, its JSON
// schema (docs/spec.md §10) written as TypeScript.
func tsFormSchema(f *ir.FormDef) string {
	var b strings.Builder
	b.WriteString("{\n  name: ")
	b.WriteString(tsString(f.Name))
	b.WriteString(",\n")
	if f.Route != "" {
		b.WriteString("  route: " + tsString(f.Route) + ",\n")
	}
	b.WriteString("  fields: [")
	tsFormFields(&b, f.Fields, "  ")
	b.WriteString("],\n}")
	return b.String()
}

// tsFormFields writes fields, one per line at indent plus two spaces; a
// formset spreads over lines of its own.
func tsFormFields(b *strings.Builder, fs []ir.FormField, indent string) {
	if len(fs) == 0 {
		return
	}
	b.WriteByte('\n')
	in := indent + "  "
	for _, f := range fs {
		props := tsFormProps(&f)
		if len(f.Fields) == 0 {
			b.WriteString(in + "{ " + strings.Join(props, ", ") + " },\n")
			continue
		}
		b.WriteString(in + "{\n")
		for _, p := range props {
			b.WriteString(in + "  " + p + ",\n")
		}
		b.WriteString(in + "  fields: [")
		tsFormFields(b, f.Fields, in+"  ")
		b.WriteString("],\n" + in + "},\n")
	}
	b.WriteString(indent)
}

// tsFormProps returns the properties of a field but its row fields, in
// the order of the JSON schema.
func tsFormProps(f *ir.FormField) []string {
	ps := []string{
		"name: " + tsString(f.Name), "type: " + tsString(f.Type), "label: " + tsString(f.Label),
		"required: " + strconv.FormatBool(f.Required),
	}
	for _, n := range []struct {
		key string
		v   *float64
	}{{"min", f.Min}, {"max", f.Max}, {"gt", f.Gt}, {"lt", f.Lt}, {"len", f.Len}} {
		if n.v != nil {
			ps = append(ps, n.key+": "+formNumber(*n.v))
		}
	}
	if f.Email {
		ps = append(ps, "email: true")
	}
	if f.URL {
		ps = append(ps, "url: true")
	}
	if f.Choices != nil {
		cs := make([]string, len(f.Choices))
		for i, c := range f.Choices {
			cs[i] = tsString(c)
		}
		ps = append(ps, "choices: ["+strings.Join(cs, ", ")+"]")
	}
	if f.Pattern != "" {
		ps = append(ps, "pattern: "+tsString(f.Pattern))
	}
	if f.PatternMessage != "" {
		ps = append(ps, "pattern_message: "+tsString(f.PatternMessage))
	}
	if f.ServerOnly {
		ps = append(ps, "server_only: true")
	}
	if f.Widget != "" {
		ps = append(ps, "widget: "+tsString(f.Widget))
	}
	return ps
}

// formNumber writes a bound as the IR does: an integer when whole, else
// the shortest decimal that reads back the same number.
func formNumber(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// tsString returns s as a single-quoted JavaScript string literal.
func tsString(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range s {
		switch {
		case r == '\'' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f || r == 0x2028 || r == 0x2029:
			b.WriteString(`\u`)
			h := strconv.FormatInt(int64(r), 16)
			b.WriteString(strings.Repeat("0", 4-len(h)) + h)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// goForm is one form in the Go target: its schema's JSON as a constant.
type goForm struct {
	Wire  string
	Const string // ContactFormSchema
	JSON  string // a Go string literal
}

// newGoForms returns the forms of doc for the Go target.
func newGoForms(doc *ir.Document, types namer) []goForm {
	var out []goForm
	for _, f := range doc.Forms {
		if f.Fields == nil {
			f.Fields = []ir.FormField{} // "fields": [], not null
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(f); err != nil { // a validated document holds only finite numbers
			panic("codegen: encoding the schema of form " + f.Name + ": " + err.Error())
		}
		js := strings.TrimSuffix(buf.String(), "\n")
		lit := "`" + js + "`"
		if strings.ContainsRune(js, '`') {
			lit = strconv.Quote(js)
		}
		out = append(out, goForm{Wire: f.Name, Const: types.claim(ident(f.Name) + "FormSchema"), JSON: lit})
	}
	return out
}
