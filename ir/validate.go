package ir

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// loc locates a problem in a document: a function or a type (the other
// index is -1) and, within it, one child node (kind "" for the node
// itself).
//
// A form is form, its index plus one (0: not a form; fn and typ are then
// -1), and a formset's row field is sub, its index plus one, in the field
// child.
type loc struct {
	fn, typ int
	kind    string // "", "param", "field", "result", "scope", "affects", "route", "methods"
	child   int
	form    int
	sub     int
}

// locator returns the source line of a location, or 0 when unknown.
type locator func(loc) int

// maxProblems bounds how many problems one error lists.
const maxProblems = 20

// checker collects the problems of a document.
type checker struct {
	d     *Document
	line  locator
	probs []error
	extra int
}

func (c *checker) add(l loc, format string, args ...any) {
	if len(c.probs) == maxProblems {
		c.extra++
		return
	}
	var where strings.Builder
	where.WriteString("ir: ")
	if c.line != nil {
		if n := c.line(l); n > 0 {
			fmt.Fprintf(&where, "line %d: ", n)
		}
	}
	switch {
	case l.fn >= 0:
		fmt.Fprintf(&where, "function %q: ", c.d.Functions[l.fn].Name)
	case l.typ >= 0:
		fmt.Fprintf(&where, "type %q: ", c.d.Types[l.typ].Name)
	case l.form > 0:
		fmt.Fprintf(&where, "form %q: ", c.d.Forms[l.form-1].Name)
	}
	c.probs = append(c.probs, errors.New(where.String()+fmt.Sprintf(format, args...)))
}

func (c *checker) err() error {
	if c.extra > 0 {
		c.probs = append(c.probs, fmt.Errorf("ir: and %d more problems", c.extra))
	}
	return errors.Join(c.probs...)
}

// Validate reports whether d is a document the generators can use: the
// supported version, valid and unique names, functions and types sorted by
// name, every type reference resolved, each function's options
// consistent with its kind, and each form named after its submit function,
// with fields whose rules fit their types. The error lists every problem found (up to
// 20), one per line.
func (d *Document) Validate() error { return d.validate(nil) }

func (d *Document) validate(line locator) error {
	c := &checker{d: d, line: line}
	if d.Version != Version {
		c.add(loc{fn: -1, typ: -1}, "version %d is not supported; this mizan reads version %d", d.Version, Version)
	}
	if d.Prefix != "" && (!strings.HasPrefix(d.Prefix, "/") || !strings.HasSuffix(d.Prefix, "/")) {
		c.add(loc{fn: -1, typ: -1}, "prefix %q must start and end with /", d.Prefix)
	}
	for i := range d.Types {
		c.typeDef(i)
	}
	for i := range d.Functions {
		c.function(i)
	}
	for i := range d.Forms {
		c.form(i)
	}
	c.cycles()
	return c.err()
}

func (c *checker) function(i int) {
	f := &c.d.Functions[i]
	at := loc{fn: i, typ: -1}
	if !validIdent(f.Name) {
		c.add(at, "name must be an ASCII identifier")
	}
	if i > 0 {
		switch prev := c.d.Functions[i-1].Name; {
		case prev == f.Name:
			c.add(at, "declared twice")
		case prev > f.Name:
			c.add(at, "functions must be sorted by name (after %q)", prev)
		}
	}
	switch f.Kind {
	case KindQuery, KindMutation:
	default:
		c.add(at, "kind %q must be %q or %q", f.Kind, KindQuery, KindMutation)
	}
	if f.Context != "" {
		if !validContextName(f.Context) {
			c.add(at, "context %q must be made of letters, digits, '_', '-' and '.'", f.Context)
		}
		if f.Kind == KindMutation {
			c.add(at, "a mutation cannot belong to a context; it affects one")
		}
	}
	switch f.Auth {
	case "", AuthRequired, AuthStaff, AuthSuperuser, AuthPredicate:
	default:
		c.add(at, "auth %q must be one of %s, %s, %s, %s", f.Auth, AuthRequired, AuthStaff, AuthSuperuser, AuthPredicate)
	}
	if f.Rev < 0 {
		c.add(at, "rev must not be negative")
	}
	if f.Cache.TTL < 0 || f.Cache.Off && f.Cache.TTL != 0 {
		c.add(at, "cache must be off or a positive number of seconds")
	}
	switch {
	case f.Form.Name == "" && f.Form.Role != "":
		c.add(at, "form-role needs a form")
	case f.Form.Name != "":
		switch f.Form.Role {
		case FormSchema, FormValidate, FormSubmit:
		default:
			c.add(at, "form-role %q must be %s, %s or %s", f.Form.Role, FormSchema, FormValidate, FormSubmit)
		}
	}
	if f.View {
		if f.Route == "" {
			c.add(at, "a view needs a route")
		}
		if f.Result != nil {
			c.add(loc{fn: i, typ: -1, kind: "result"}, "a view answers with its own HTTP response and has no result")
		}
	} else {
		if f.Route != "" {
			c.add(loc{fn: i, typ: -1, kind: "route"}, "only a view has a route")
		}
		if len(f.Methods) > 0 {
			c.add(loc{fn: i, typ: -1, kind: "methods"}, "only a view has methods")
		}
		if f.Result == nil {
			c.add(at, "needs a result")
		}
	}
	for _, m := range f.Methods {
		if m == "" || strings.ToUpper(m) != m || strings.ContainsAny(m, " \t") {
			c.add(loc{fn: i, typ: -1, kind: "methods"}, "method %q must be an upper-case HTTP method", m)
		}
	}
	seen := map[string]bool{}
	for j, p := range f.Params {
		pl := loc{fn: i, typ: -1, kind: "param", child: j}
		if p.Name == "" {
			c.add(pl, "a parameter needs a name")
		} else if seen[p.Name] {
			c.add(pl, "parameter %q declared twice", p.Name)
		}
		seen[p.Name] = true
		c.typeRef(pl, p.Type)
		if p.Filter && f.Context == "" {
			c.add(pl, "parameter %q: only a parameter of a function in a context can be a filter", p.Name)
		}
	}
	if f.Result != nil {
		c.typeRef(loc{fn: i, typ: -1, kind: "result"}, *f.Result)
	}
	sl := loc{fn: i, typ: -1, kind: "scope"}
	switch {
	case !f.HasScope && len(f.Scope) > 0:
		c.add(sl, "scope %v is given without HasScope", f.Scope)
	case f.HasScope && f.Kind != KindMutation:
		c.add(sl, "only a mutation has a scope")
	}
	if !slices.IsSorted(f.Scope) {
		c.add(sl, "scope must be sorted")
	}
	for k, s := range f.Scope {
		if !seen[s] {
			c.add(sl, "scope %q is not a parameter of the function", s)
		}
		if k > 0 && f.Scope[k-1] == s {
			c.add(sl, "scope %q given twice", s)
		}
	}
	if len(f.Affects) > 0 && f.Kind != KindMutation {
		c.add(at, "only a mutation affects contexts")
	}
	for j, a := range f.Affects {
		al := loc{fn: i, typ: -1, kind: "affects", child: j}
		if !validContextName(a.Context) {
			c.add(al, "affects needs a context made of letters, digits, '_', '-' and '.', not %q", a.Context)
		}
		if a.Function != "" && !validIdent(a.Function) {
			c.add(al, "affected function %q must be an ASCII identifier", a.Function)
		}
		if a.CallerScoped && a.Function != "" {
			c.add(al, "caller-scoped is for a target of a whole context, not of function %q", a.Function)
		}
		if !slices.IsSorted(a.ScopedBy) {
			c.add(al, "scoped-by must be sorted")
		}
		for k, s := range a.ScopedBy {
			if !seen[s] {
				c.add(al, "scoped-by %q is not a parameter of the function", s)
			} else if f.HasScope && !slices.Contains(f.Scope, s) {
				c.add(al, "scoped-by %q is not in the function's scope", s)
			}
			if k > 0 && a.ScopedBy[k-1] == s {
				c.add(al, "scoped-by %q given twice", s)
			}
		}
	}
}

func (c *checker) typeDef(i int) {
	t := &c.d.Types[i]
	at := loc{fn: -1, typ: i}
	if !ValidTypeName(t.Name) {
		c.add(at, "name must be an ASCII identifier starting with an upper-case letter")
	}
	if i > 0 {
		switch prev := c.d.Types[i-1].Name; {
		case prev == t.Name:
			c.add(at, "declared twice")
		case prev > t.Name:
			c.add(at, "types must be sorted by name (after %q)", prev)
		}
	}
	if t.Underlying != nil {
		if len(t.Fields) > 0 {
			c.add(at, "a type has either fields or an underlying type")
		}
		c.typeRef(at, *t.Underlying)
		if t.Enum != nil {
			c.enum(loc{fn: -1, typ: i, kind: "enum"}, t)
		}
		return
	}
	if t.Enum != nil {
		c.add(at, "a struct type cannot be an enum")
	}
	seen := map[string]bool{}
	for j, f := range t.Fields {
		fl := loc{fn: -1, typ: i, kind: "field", child: j}
		if f.Name == "" {
			c.add(fl, "a field needs a name")
		} else if seen[f.Name] {
			c.add(fl, "field %q declared twice", f.Name)
		}
		seen[f.Name] = true
		c.typeRef(fl, f.Type)
		if f.Filter {
			c.add(fl, "field %q: only a function parameter can be a filter", f.Name)
		}
		if k := f.Type.Kind; f.String && !(k == Bool || k == String || k.IsNumber()) {
			c.add(fl, "field %q: string=true is for a bool, number or string, not %s", f.Name, f.Type)
		}
	}
}

// enum checks the values of an enum type: at least one, none twice, each
// of the underlying kind (a string or integer scalar, not nullable).
func (c *checker) enum(at loc, t *TypeDef) {
	u := *t.Underlying
	if u.Nullable || (u.Kind != String && !u.Kind.IsInteger()) {
		c.add(at, "enum: only a string or integer type can be an enum, not %s", u)
		return
	}
	if len(t.Enum) == 0 {
		c.add(at, "enum: needs at least one value")
	}
	seen := map[string]bool{}
	for _, v := range t.Enum {
		if seen[v] {
			c.add(at, "enum: value %q given twice", v)
		}
		seen[v] = true
		if u.Kind.IsInteger() && !validInteger(v, u.Kind) {
			c.add(at, "enum: value %q is not a decimal %s", v, u.Kind)
		}
	}
}

// validInteger reports whether s is a decimal integer in the range of k.
func validInteger(s string, k TypeKind) bool {
	bits := map[TypeKind]int{Int: 64, Int8: 8, Int16: 16, Int32: 32, Int64: 64, Uint: 64, Uint8: 8, Uint16: 16, Uint32: 32, Uint64: 64}[k]
	var err error
	if strings.HasPrefix(string(k), "u") {
		_, err = strconv.ParseUint(s, 10, bits)
	} else {
		_, err = strconv.ParseInt(s, 10, bits)
	}
	return err == nil && (s == "0" || s[0] != '0' && !strings.HasPrefix(s, "-0") && !strings.HasPrefix(s, "+"))
}

func (c *checker) typeRef(at loc, t TypeRef) {
	switch t.Kind {
	case List, Record:
		if t.Elem == nil {
			c.add(at, "%s needs an element type", t.Kind)
			return
		}
		if t.Kind == List && t.Len < -1 || t.Kind == Record && t.Len != 0 {
			c.add(at, "bad length %d", t.Len)
		}
		c.typeRef(at, *t.Elem)
	case Ref:
		if _, ok := c.d.Type(t.Name); !ok {
			c.add(at, "unknown type %q", t.Name)
		}
	default:
		if !t.Kind.IsScalar() {
			c.add(at, "unknown type kind %q", t.Kind)
		}
	}
	if t.Kind != Ref && t.Name != "" || t.Kind != List && t.Kind != Record && t.Elem != nil {
		c.add(at, "malformed type expression %s", t)
	}
}

// cycles reports named types defined as one another (type A B, type B A),
// which no language can declare.
func (c *checker) cycles() {
	for i := range c.d.Types {
		seen := map[string]bool{}
		t := &c.d.Types[i]
		for t.Underlying != nil && t.Underlying.Kind == Ref {
			if seen[t.Name] {
				c.add(loc{fn: -1, typ: i}, "is defined in terms of itself")
				break
			}
			seen[t.Name] = true
			next, ok := c.d.Type(t.Underlying.Name)
			if !ok {
				break
			}
			t = next
		}
	}
}

// validContextName reports whether s can name a context: letters, digits,
// '_', '-' and '.', as the X-Mizan-Invalidate header allows.
func validContextName(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if !isIdentByte(s[i], true) && s[i] != '-' && s[i] != '.' {
			return false
		}
	}
	return true
}

// form checks a form: named after a submit function of the document, its
// fields parameters of that function, named once each, and each field's
// rules meaningful for its type.
func (c *checker) form(i int) {
	f := &c.d.Forms[i]
	at := loc{fn: -1, typ: -1, form: i + 1}
	if !validIdent(f.Name) {
		c.add(at, "name must be an ASCII identifier")
	}
	if i > 0 {
		switch prev := c.d.Forms[i-1].Name; {
		case prev == f.Name:
			c.add(at, "declared twice")
		case prev > f.Name:
			c.add(at, "forms must be sorted by name (after %q)", prev)
		}
	}
	if f.Route != "" && !strings.HasPrefix(f.Route, "/") {
		c.add(at, "route %q must start with /", f.Route)
	}
	var params map[string]bool
	switch fn, ok := c.d.Function(f.Name); {
	case !ok:
		c.add(at, "the form's submit function %q is not in the document", f.Name)
	case fn.Form.Name != f.Name || fn.Form.Role != FormSubmit:
		c.add(at, "function %q must have form=%q form-role=%q to submit the form", f.Name, f.Name, FormSubmit)
	default:
		params = map[string]bool{}
		for _, p := range fn.Params {
			params[p.Name] = true
		}
	}
	seen := map[string]bool{}
	for j := range f.Fields {
		ff := &f.Fields[j]
		fl := loc{fn: -1, typ: -1, form: i + 1, kind: "field", child: j}
		c.formField(fl, ff, seen, true)
		if params != nil && ff.Name != "" && !params[ff.Name] {
			c.add(fl, "field %q is not a parameter of function %q", ff.Name, f.Name)
		}
		rows := map[string]bool{}
		for k := range ff.Fields {
			rl := fl
			rl.sub = k + 1
			c.formField(rl, &ff.Fields[k], rows, false)
		}
	}
}

// formRules are the rules each field type takes.
var formRules = map[string][]string{
	FieldString:  {"min", "max", "len", "choices", "email", "url", "pattern"},
	FieldInt:     {"min", "max", "choices"},
	FieldNumber:  {"min", "max", "gt", "lt", "choices"},
	FieldBool:    {},
	FieldFormset: {"min", "max", "len"},
}

// formField checks one field of a form (top) or of a formset's row; seen
// holds the names of the fields before it.
func (c *checker) formField(at loc, f *FormField, seen map[string]bool, top bool) {
	switch {
	case f.Name == "":
		c.add(at, "a field needs a name")
	case strings.Contains(f.Name, "."):
		c.add(at, "field %q: a field's name cannot hold '.', which separates the parts of an error key", f.Name)
	case seen[f.Name]:
		c.add(at, "field %q declared twice", f.Name)
	}
	seen[f.Name] = true
	rules, ok := formRules[f.Type]
	if !ok {
		c.add(at, "field %q: type %q must be %s, %s, %s, %s or %s", f.Name, f.Type, FieldString, FieldInt, FieldNumber, FieldBool, FieldFormset)
		return
	}
	switch {
	case f.Type == FieldFormset && !top:
		c.add(at, "field %q: a formset cannot be inside a formset", f.Name)
	case f.Type == FieldFormset && len(f.Fields) == 0:
		c.add(at, "field %q: a formset needs fields", f.Name)
	case f.Type != FieldFormset && len(f.Fields) > 0:
		c.add(at, "field %q: only a formset has fields", f.Name)
	}
	given := map[string]bool{
		"email": f.Email, "url": f.URL, "pattern": f.Pattern != "", "choices": f.Choices != nil,
	}
	bounds := map[string]*float64{"min": f.Min, "max": f.Max, "gt": f.Gt, "lt": f.Lt, "len": f.Len}
	for _, rule := range []string{"min", "max", "gt", "lt", "len", "choices", "email", "url", "pattern"} {
		b := bounds[rule]
		if (b != nil || given[rule]) && !slices.Contains(rules, rule) {
			c.add(at, "field %q: %s is not a rule of %s", f.Name, rule, aField(f.Type))
			continue
		}
		if b == nil {
			continue
		}
		switch v := *b; {
		case math.IsNaN(v) || math.IsInf(v, 0):
			c.add(at, "field %q: %s must be a finite number", f.Name, rule)
		case f.Type != FieldNumber && v != math.Trunc(v):
			c.add(at, "field %q: %s must be a whole number for %s", f.Name, rule, aField(f.Type))
		case (f.Type == FieldString || f.Type == FieldFormset) && v < 0:
			c.add(at, "field %q: %s must not be negative", f.Name, rule)
		}
	}
	if f.PatternMessage != "" && f.Pattern == "" {
		c.add(at, "field %q: pattern-message needs a pattern", f.Name)
	}
	if f.Pattern != "" {
		if _, err := regexp.Compile(f.Pattern); err != nil {
			c.add(at, "field %q: pattern %q does not compile: %v", f.Name, f.Pattern, err)
		}
	}
	if f.Choices != nil && slices.Contains(rules, "choices") {
		if len(f.Choices) == 0 {
			c.add(at, "field %q: choices needs at least one value", f.Name)
		}
		for _, v := range f.Choices {
			switch {
			case v == "":
				c.add(at, "field %q: a choice cannot be empty", f.Name)
			case f.Type == FieldInt && !validInteger(v, Int64):
				c.add(at, "field %q: choice %q is not a decimal integer", f.Name, v)
			case f.Type == FieldNumber && !validNumber(v):
				c.add(at, "field %q: choice %q is not a number", f.Name, v)
			}
		}
	}
}

// aField names a field of type t, with its article: "an int field".
func aField(t string) string {
	if t == FieldInt {
		return "an int field"
	}
	return "a " + t + " field"
}

// validNumber reports whether s is a finite decimal number.
func validNumber(s string) bool {
	v, err := strconv.ParseFloat(s, 64)
	return err == nil && !math.IsInf(v, 0) && !math.IsNaN(v) && !strings.ContainsAny(s, "xXpP_") && s == strings.TrimSpace(s)
}
