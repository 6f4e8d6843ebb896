package codegen

import (
	"context"
	"fmt"
	"go/format"
	"go/token"
	"strconv"
	"strings"
	"unicode"

	"github.com/mizan-afi/mizan/ir"
)

// DefaultPackage is the name of the generated Go package when
// Options.Package is empty.
const DefaultPackage = "mizanclient"

// Go returns the file of the go target, client.go: a package with a Go type
// per named type, the arguments of every callable function, the parameters
// and bundle of every context, and a Client with one method per function
// over package client, and the JSON schema of every form as a constant.
// The code is gofmt'd.
func Go(ctx context.Context, doc *ir.Document, opts Options) ([]File, error) {
	if err := check(ctx, doc); err != nil {
		return nil, err
	}
	pkg := opts.Package
	if pkg == "" {
		pkg = DefaultPackage
	}
	if !token.IsIdentifier(pkg) || token.IsKeyword(pkg) || pkg == "_" {
		return nil, fmt.Errorf("codegen: package name %q is not a Go identifier", pkg)
	}
	m := newGoModel(doc, pkg)
	src, err := render("client.go.tmpl", m)
	if err != nil {
		return nil, err
	}
	out, err := format.Source(src)
	if err != nil {
		return nil, fmt.Errorf("codegen: formatting the Go client: %w", err)
	}
	return []File{{Path: "client.go", Content: out}}, nil
}

// goModel is what the Go template renders.
type goModel struct {
	known      map[string]bool // IR types written as goKnown Go types
	Header     string
	Package    string
	Prefix     string
	ImportTime bool
	Types      []goType
	Contexts   []*goContext
	Callables  []*goCallable
	Forms      []goForm
}

// goType is a struct (Fields) or a defined type (Underlying).
type goType struct {
	Doc        string
	Name       string
	Struct     bool
	Fields     []goField
	Underlying string
	Consts     []goConst // the values of an enum type
}

// goConst is one value of an enum type: Name Type = Value.
type goConst struct {
	Name  string
	Value string // a Go literal
}

// goKnown are the Go types the client uses as they are instead of
// declaring a type of the same shape: the IR's go= name → the Go type.
var goKnown = map[string]string{"time.Duration": "time.Duration"}

type goField struct {
	Name string
	Type string
	Tag  string
}

type goContext struct {
	Wire      string
	Method    string // FetchUser
	Params    string // UserParams, "" when the context has none
	Bundle    string // UserBundle
	Values    []goParam
	Functions []goFetched
}

// goParam is one context parameter, for the query string.
type goParam struct {
	Wire     string
	Field    string
	Optional bool // a pointer, left out when nil
}

type goFetched struct {
	Wire   string
	Method string // UserProfile
	Result string // the Go type
}

type goCallable struct {
	Wire     string
	Method   string
	Mutation bool
	Args     string // UpdateProfileArgs, "" when the function takes none
	Result   string
}

// goReserved are the identifiers the generated package declares itself.
var goReserved = []string{"Client", "New", "Prefix"}

func newGoModel(doc *ir.Document, pkg string) *goModel {
	m := &goModel{Header: Header, Package: pkg, Prefix: doc.Prefix}
	if m.Prefix == "" {
		m.Prefix = "/api/mizan/"
	}
	types := namer{}
	types.reserve(goReserved...)
	names := map[string]string{}
	m.known = map[string]bool{}
	for _, t := range doc.Types {
		if g, ok := goKnown[t.Go]; ok && t.Underlying != nil && len(t.Enum) == 0 {
			names[t.Name] = g
			m.known[t.Name] = true
			continue
		}
		names[t.Name] = types.claim(t.Name)
	}
	for _, t := range doc.Types {
		if m.known[t.Name] {
			continue
		}
		gt := goType{Name: names[t.Name]}
		gt.Doc = gt.Name + " is a type of the app."
		if t.Go != "" {
			gt.Doc = fmt.Sprintf("%s is the JSON shape of the Go type %s.", gt.Name, t.Go)
		}
		if t.Underlying != nil {
			gt.Underlying = m.expr(*t.Underlying, names)
			for _, v := range t.Enum {
				c := goConst{Value: v}
				suffix := strings.ReplaceAll(v, "-", "Minus")
				if t.Underlying.Kind == ir.String {
					c.Value = strconv.Quote(v)
					suffix = goFieldName(v)
					if v == "" {
						suffix = "Empty"
					}
				}
				c.Name = types.claim(gt.Name + suffix)
				gt.Consts = append(gt.Consts, c)
			}
		} else {
			gt.Struct = true
			gt.Fields = m.fields(t.Fields, names, false)
		}
		m.Types = append(m.Types, gt)
	}

	methods := namer{}
	methods.reserve("Runtime")
	for _, c := range doc.Contexts() {
		gc := &goContext{Wire: c.Name, Method: methods.claim("Fetch" + ident(c.Name)), Bundle: types.claim(ident(c.Name) + "Bundle")}
		if len(c.Params) > 0 {
			gc.Params = types.claim(ident(c.Name) + "Params")
			pt := goType{Doc: gc.Params + " are the parameters of context " + c.Name + ".", Name: gc.Params, Struct: true}
			pt.Fields = m.fields(c.Params, names, true)
			for i, p := range c.Params {
				gc.Values = append(gc.Values, goParam{Wire: p.Name, Field: pt.Fields[i].Name, Optional: p.Optional})
			}
			m.Types = append(m.Types, pt)
		}
		bt := goType{Doc: gc.Bundle + " is the bundle of context " + c.Name + ": every function's result.", Name: gc.Bundle, Struct: true}
		var bundleFields []ir.Field
		for _, f := range c.Functions {
			bundleFields = append(bundleFields, ir.Field{Name: f.Name, Type: *f.Result})
		}
		bt.Fields = m.fields(bundleFields, names, false)
		for i, f := range c.Functions {
			gc.Functions = append(gc.Functions, goFetched{Wire: f.Name, Result: bt.Fields[i].Type})
		}
		m.Types = append(m.Types, bt)
		m.Contexts = append(m.Contexts, gc)
	}
	for _, gc := range m.Contexts {
		for i := range gc.Functions {
			gc.Functions[i].Method = methods.claim(ident(gc.Functions[i].Wire))
		}
	}
	for i := range doc.Functions {
		f := &doc.Functions[i]
		if !f.IsCallable() {
			continue
		}
		gc := &goCallable{Wire: f.Name, Method: methods.claim(ident(f.Name)), Mutation: f.Kind == ir.KindMutation, Result: m.expr(*f.Result, names)}
		if len(f.Params) > 0 {
			gc.Args = types.claim(ident(f.Name) + "Args")
			m.Types = append(m.Types, goType{
				Doc: gc.Args + " are the arguments of " + f.Name + ".", Name: gc.Args, Struct: true,
				Fields: m.fields(f.Params, names, false),
			})
		}
		m.Callables = append(m.Callables, gc)
	}
	m.Forms = newGoForms(doc, types)
	return m
}

// fields returns the Go fields of a struct. With params, optional fields
// are pointers (a context parameter left out of the query string).
func (m *goModel) fields(fs []ir.Field, names map[string]string, params bool) []goField {
	used := namer{}
	out := make([]goField, 0, len(fs))
	for _, f := range fs {
		typ := m.expr(f.Type, names)
		tag := f.Name
		if tag == "-" {
			tag = "-," // a field named "-", not a skipped one
		}
		if f.String {
			tag = strings.TrimSuffix(tag, ",") + ",string"
		}
		if f.Optional {
			if params && !strings.HasPrefix(typ, "*") {
				typ = "*" + typ
			}
			tag = strings.TrimSuffix(tag, ",") + ",omitempty"
		}
		out = append(out, goField{Name: used.claim(goFieldName(f.Name)), Type: typ, Tag: "`json:" + strconv.Quote(tag) + "`"})
	}
	return out
}

// expr returns the Go type of t.
func (m *goModel) expr(t ir.TypeRef, names map[string]string) string {
	var s string
	switch t.Kind {
	case ir.Any:
		return "any"
	case ir.Bytes:
		return "[]byte"
	case ir.Time:
		m.ImportTime = true
		s = "time.Time"
	case ir.List:
		e := m.expr(*t.Elem, names)
		if t.Len >= 0 {
			s = "[" + strconv.Itoa(t.Len) + "]" + e
		} else {
			return "[]" + e // nil is null
		}
	case ir.Record:
		return "map[string]" + m.expr(*t.Elem, names) // nil is null
	case ir.Ref:
		s = names[t.Name]
		if m.known[t.Name] {
			m.ImportTime = true
		}
	default:
		s = string(t.Kind) // the scalar kinds are spelled as in Go
	}
	if t.Nullable {
		s = "*" + s
	}
	return s
}

// goInitialisms are words written in capitals in Go names.
var goInitialisms = map[string]bool{
	"ACL": true, "API": true, "ASCII": true, "CPU": true, "CSS": true, "CSRF": true, "DNS": true, "EOF": true,
	"GUID": true, "HTML": true, "HTTP": true, "HTTPS": true, "ID": true, "IP": true, "JSON": true, "JWT": true,
	"LHS": true, "OK": true, "QPS": true, "RAM": true, "RHS": true, "RPC": true, "SLA": true, "SMTP": true, "SQL": true,
	"SSH": true, "TCP": true, "TLS": true, "TTL": true, "UDP": true, "UI": true, "UID": true, "UUID": true,
	"URI": true, "URL": true, "UTF8": true, "VM": true, "XML": true, "XMPP": true, "XSRF": true, "XSS": true,
}

// goFieldName returns an exported Go name for a JSON name: user_id is
// UserID, createdAt is CreatedAt.
func goFieldName(name string) string {
	var words []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			words = append(words, string(cur))
			cur = cur[:0]
		}
	}
	rs := []rune(name)
	for i, r := range rs {
		switch {
		case r < 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			if unicode.IsUpper(r) && len(cur) > 0 && (unicode.IsLower(cur[len(cur)-1]) ||
				i+1 < len(rs) && unicode.IsLower(rs[i+1]) && unicode.IsUpper(cur[len(cur)-1])) {
				flush()
			}
			cur = append(cur, r)
		default:
			flush()
		}
	}
	flush()
	var b strings.Builder
	for _, w := range words {
		if up := strings.ToUpper(w); goInitialisms[up] {
			b.WriteString(up)
			continue
		}
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	s := b.String()
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		s = "F" + s
	}
	return s
}
