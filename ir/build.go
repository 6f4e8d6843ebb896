package ir

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// FunctionSpec describes one function for [Build] in terms of Go types:
// what the root package knows about a registered function, without ir
// importing it.
type FunctionSpec struct {
	Name      string
	Kind      string // KindQuery or KindMutation
	Context   string
	View      bool
	Route     string
	Methods   []string
	WebSocket bool
	Auth      string
	Rev       int
	Cache     Cache
	Shared    bool
	Form      Form
	Affects   []Affect
	// Scope and HasScope are a mutation's explicit scope (see
	// [Function.Scope]); Build sorts Scope.
	Scope    []string
	HasScope bool
	// Params are the function's arguments as the server decodes them. When
	// nil, they are derived from Args as encoding/json sees its fields.
	Params []ParamSpec
	// Args is the argument struct type; used only when Params is nil.
	Args reflect.Type
	// Result is the type of the returned data; ignored for a view.
	Result reflect.Type
}

// ParamSpec is one argument of a function: a field of its argument struct.
type ParamSpec struct {
	Name     string       // the JSON name
	Type     reflect.Type // the field's Go type; a pointer makes it nullable
	Optional bool         // it may be absent (omitempty)
	// Filter marks a parameter of a context function as a filter of its
	// context (see [Field.Filter]).
	Filter bool
}

// Options configures [Build].
type Options struct {
	// Prefix is the path the app serves its endpoints under, recorded in
	// the document's header.
	Prefix string
	// Enums gives the values of the enum types (named string or integer
	// types), in their wire string form: a named type reached from the
	// functions that is a key here gets [TypeDef.Enum].
	Enums map[reflect.Type][]string
	// Forms are the app's form schemas; Build copies them into the
	// document, sorted by name, and validates them with it (each names a
	// submit function among the specs).
	Forms []FormDef
}

// Build returns the IR of the functions specs describes: the functions
// sorted by name and every named type reachable from their parameters and
// results. The result is the same for the same specs, whatever their order.
// Build reports every function whose types encoding/json cannot encode, and
// specs the document could not represent (an invalid or duplicate name, an
// unknown kind), joined in one error.
func Build(specs []FunctionSpec, opts Options) (*Document, error) {
	specs = slices.Clone(specs)
	slices.SortFunc(specs, func(a, b FunctionSpec) int { return strings.Compare(a.Name, b.Name) })
	r := newReflector()
	r.enums = opts.Enums
	var errs []error
	params := make([][]ParamSpec, len(specs))
	for i := range specs {
		s := &specs[i]
		fail := func(err error) { errs = append(errs, fmt.Errorf("ir: function %s: %w", s.Name, err)) }
		if i > 0 && specs[i-1].Name == s.Name {
			fail(errors.New("declared twice"))
			continue
		}
		if err := checkSpec(s); err != nil {
			fail(err)
			continue
		}
		ps, err := specParams(s)
		if err != nil {
			fail(err)
			continue
		}
		params[i] = ps
		base := typeName(Pascal(s.Name))
		for _, p := range ps {
			if err := r.discover(p.Type, base+typeName(Pascal(p.Name))); err != nil {
				fail(fmt.Errorf("argument %q: %w", p.Name, err))
			}
		}
		if !s.View && s.Result != nil {
			if err := r.discover(s.Result, base+"Result"); err != nil {
				fail(fmt.Errorf("result: %w", err))
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	r.assignNames()

	doc := &Document{Version: Version, Prefix: opts.Prefix}
	for i := range specs {
		doc.Functions = append(doc.Functions, r.function(&specs[i], params[i]))
	}
	for _, e := range r.order {
		doc.Types = append(doc.Types, r.def(e))
	}
	slices.SortFunc(doc.Types, func(a, b TypeDef) int { return strings.Compare(a.Name, b.Name) })
	for _, f := range opts.Forms {
		doc.Forms = append(doc.Forms, cloneForm(f))
	}
	slices.SortStableFunc(doc.Forms, func(a, b FormDef) int { return strings.Compare(a.Name, b.Name) })
	if err := doc.Validate(); err != nil {
		return nil, err
	}
	return doc, nil
}

// cloneForm returns a deep copy of f, so that the document shares nothing
// with the caller's options.
func cloneForm(f FormDef) FormDef {
	f.Fields = cloneFormFields(f.Fields)
	return f
}

func cloneFormFields(fs []FormField) []FormField {
	if fs == nil {
		return nil
	}
	out := make([]FormField, len(fs))
	for i, f := range fs {
		for _, p := range []**float64{&f.Min, &f.Max, &f.Gt, &f.Lt, &f.Len} {
			if *p != nil {
				v := **p
				*p = &v
			}
		}
		f.Choices = slices.Clone(f.Choices)
		f.Fields = cloneFormFields(f.Fields)
		out[i] = f
	}
	return out
}

// checkSpec reports what of s an IR document cannot hold.
func checkSpec(s *FunctionSpec) error {
	if !validIdent(s.Name) {
		return fmt.Errorf("name %q is not an identifier", s.Name)
	}
	if s.Kind != KindQuery && s.Kind != KindMutation {
		return fmt.Errorf("unknown kind %q", s.Kind)
	}
	if s.Params == nil && s.Args != nil {
		if t, _ := derefNullable(s.Args); t.Kind() != reflect.Struct {
			return fmt.Errorf("arguments must be a struct, not %s", s.Args)
		}
	}
	return nil
}

// specParams returns the parameters of s, deriving them from Args when
// Params is nil.
func specParams(s *FunctionSpec) ([]ParamSpec, error) {
	if s.Params != nil || s.Args == nil {
		for _, p := range s.Params {
			if p.Type == nil {
				return nil, fmt.Errorf("argument %q has no type", p.Name)
			}
		}
		return s.Params, nil
	}
	t, _ := derefNullable(s.Args)
	var ps []ParamSpec
	for _, f := range structFields(t) {
		typ := f.typ
		if f.quoted {
			typ = reflect.TypeFor[string]()
		}
		filter := isFilterTag(t.FieldByIndex(f.index).Tag.Get("mizan"))
		ps = append(ps, ParamSpec{Name: f.name, Type: typ, Optional: f.optional, Filter: filter})
	}
	return ps, nil
}

// isFilterTag reports whether a field's mizan tag holds the option filter,
// as the root package reads it (`mizan:"filter"`).
func isFilterTag(tag string) bool {
	for _, opt := range strings.Split(tag, ",") {
		if strings.TrimSpace(opt) == "filter" {
			return true
		}
	}
	return false
}

// function returns the IR of s, whose types have been discovered and named.
func (r *reflector) function(s *FunctionSpec, params []ParamSpec) Function {
	f := Function{
		Name: s.Name, Kind: s.Kind, Context: s.Context, View: s.View,
		Route: s.Route, Methods: slices.Clone(s.Methods), WebSocket: s.WebSocket,
		Auth: s.Auth, Rev: s.Rev, Cache: s.Cache, Shared: s.Shared, Form: s.Form,
	}
	if len(f.Methods) == 0 {
		f.Methods = nil
	}
	for _, p := range params {
		f.Params = append(f.Params, Field{Name: p.Name, Type: r.ref(p.Type), Optional: p.Optional, Filter: p.Filter})
	}
	if s.HasScope {
		f.HasScope = true
		f.Scope = slices.Clone(s.Scope)
		slices.Sort(f.Scope)
		f.Scope = slices.Compact(f.Scope)
		if len(f.Scope) == 0 {
			f.Scope = nil
		}
	}
	if !s.View {
		t := Scalar(Any)
		if s.Result != nil {
			t = r.ref(s.Result)
		}
		f.Result = &t
	}
	for _, a := range s.Affects {
		a.ScopedBy = slices.Clone(a.ScopedBy)
		slices.Sort(a.ScopedBy)
		if len(a.ScopedBy) == 0 {
			a.ScopedBy = nil
		}
		f.Affects = append(f.Affects, a)
	}
	return f
}

// validIdent reports whether s is an ASCII identifier: a function or
// parameter name that every target language can use.
func validIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if !isIdentByte(s[i], i > 0) {
			return false
		}
	}
	return true
}
