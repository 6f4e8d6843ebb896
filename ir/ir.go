package ir

import (
	"slices"
	"strings"
	"time"
)

// Version is the version of the IR schema this package writes and reads.
// It is the version property of the header node; a document of another
// version is refused by [Parse].
const Version = 1

// HeaderNode is the name of the first node of every IR document.
const HeaderNode = "mizan-ir"

// EnvWriteIR is the environment variable through which "mizan generate
// --cmd" asks a program for its IR: when it names a file, the program writes
// its IR there and exits (the root package's App.WriteIRFromEnv does this).
const EnvWriteIR = "MIZAN_WRITE_IR"

// The kinds of function.
const (
	KindQuery    = "query"    // a read: in a context, or standalone
	KindMutation = "mutation" // a write, which may declare what it affects
)

// The auth requirements of a function; "" means none.
const (
	AuthRequired  = "required"
	AuthStaff     = "staff"
	AuthSuperuser = "superuser"
	AuthPredicate = "predicate" // an application-defined check on the request
)

// The roles of a form function.
const (
	FormSchema   = "schema"
	FormValidate = "validate"
	FormSubmit   = "submit"
)

// Document is the IR of one app.
type Document struct {
	// Version is the schema version, [Version] for a document built or
	// parsed by this package.
	Version int
	// Prefix is the path the app serves its protocol endpoints under
	// ("/api/mizan/"), or "" when unknown.
	Prefix string
	// Functions are the app's non-private functions, sorted by name.
	Functions []Function
	// Types are the named types reachable from the functions' parameters
	// and results, sorted by name.
	Types []TypeDef
	// Forms are the app's forms (docs/spec.md §10), sorted by name: the
	// schema of each, which clients embed instead of fetching it.
	Forms []FormDef
}

// Function is one server function.
type Function struct {
	Name      string   // the wire name, an identifier such as update_profile
	Kind      string   // KindQuery or KindMutation
	Context   string   // the context of a read, "" for a standalone read or a mutation
	View      bool     // answers with its own HTTP response on Route, not with data
	Route     string   // the URL pattern of a view
	Methods   []string // the HTTP methods of a view's route
	WebSocket bool     // callable over the WebSocket transport too
	Auth      string   // "", AuthRequired, AuthStaff, AuthSuperuser or AuthPredicate
	Rev       int      // cache revision of a context function
	Cache     Cache    // origin-cache setting
	Shared    bool     // never reads the caller's identity
	Form      Form     // form metadata, zero when not part of a form
	Params    []Field  // the arguments, in declaration order
	// Result is the type of the returned data. It is nil for a view, which
	// answers with an HTTP response instead.
	Result *TypeRef
	// Scope is the explicit scope of a mutation when HasScope is true: the
	// names of its arguments that scope its targets, sorted, replacing the
	// automatic scoping by argument names (docs/spec.md §3). An explicit
	// scope may be empty (nil): every target of the mutation is then broad.
	// HasScope false means the mutation declares none.
	Scope    []string
	HasScope bool
	Affects  []Affect // what a mutation invalidates, in declaration order
}

// IsCallable reports whether clients call f through call/: a mutation or a
// standalone read that is not a view.
func (f *Function) IsCallable() bool { return !f.View && f.Context == "" }

// IsFetched reports whether f is part of its context's bundle, fetched by
// ctx/<context>/: a read in a context that is not a view.
func (f *Function) IsFetched() bool { return !f.View && f.Context != "" }

// Cache is the origin-cache setting of a function. The zero value means the
// function says nothing and the app's default applies.
type Cache struct {
	Off bool          // the function's context is never cached
	TTL time.Duration // how long an entry lives, when positive
}

// Form is the form metadata of a function.
type Form struct {
	Name string // the form's name, "" when the function is not part of a form
	Role string // FormSchema, FormValidate or FormSubmit
}

// The types of a form field ([FormField.Type]).
const (
	FieldString  = "string"
	FieldInt     = "int"
	FieldNumber  = "number"
	FieldBool    = "bool"
	FieldFormset = "formset" // a list of rows, each with the fields of FormField.Fields
)

// FormDef is the schema of one form (docs/spec.md §10): what its
// <form>_schema function answers, as JSON, and what the IR's form node
// holds. Its fields are those of the submit function's arguments, in
// declaration order, with the rules a client can check itself.
type FormDef struct {
	Name   string      `json:"name"`            // the form's name: its submit function
	Route  string      `json:"route,omitempty"` // its view-path route, "" when none
	Fields []FormField `json:"fields"`
}

// FormField is one field of a form, or of a formset's row. Every rule is
// optional; the numeric bounds are pointers so that 0 is a bound. For a
// string, Min, Max and Len bound its length in Unicode code points; for an
// int or a number, its value (Gt and Lt exclusively, for a number only);
// for a formset, its number of rows.
type FormField struct {
	Name           string      `json:"name"`                      // the JSON name
	Type           string      `json:"type"`                      // FieldString, FieldInt, FieldNumber, FieldBool or FieldFormset
	Label          string      `json:"label"`                     // the label shown to people
	Required       bool        `json:"required"`                  // an empty value fails
	Min            *float64    `json:"min,omitempty"`             // inclusive lower bound
	Max            *float64    `json:"max,omitempty"`             // inclusive upper bound
	Gt             *float64    `json:"gt,omitempty"`              // exclusive lower bound (number)
	Lt             *float64    `json:"lt,omitempty"`              // exclusive upper bound (number)
	Len            *float64    `json:"len,omitempty"`             // exact length (string) or number of rows (formset)
	Email          bool        `json:"email,omitempty"`           // an email address (string)
	URL            bool        `json:"url,omitempty"`             // a URL (string)
	Choices        []string    `json:"choices,omitempty"`         // the values allowed, as strings
	Pattern        string      `json:"pattern,omitempty"`         // a regular expression the whole value matches (string)
	PatternMessage string      `json:"pattern_message,omitempty"` // the message when Pattern fails
	ServerOnly     bool        `json:"server_only,omitempty"`     // has rules only the server checks
	Widget         string      `json:"widget,omitempty"`          // a rendering hint: "textarea", "date", ...
	Fields         []FormField `json:"fields,omitempty"`          // a formset's row fields
}

// Form returns the form called name.
func (d *Document) Form(name string) (*FormDef, bool) {
	i, ok := slices.BinarySearchFunc(d.Forms, name, func(f FormDef, n string) int { return strings.Compare(f.Name, n) })
	if !ok {
		return nil, false
	}
	return &d.Forms[i], true
}

// Affect is one invalidation target a mutation declares.
type Affect struct {
	Context  string   // the context invalidated
	Function string   // one function of Context, or "" for the whole context
	ScopedBy []string // the mutation's arguments that scope the target, sorted
	// CallerScoped reports whether the target narrows to the caller (tier 2
	// of docs/spec.md §3): only the caller's entries of the context are
	// purged and only the caller's connections are told. Only a
	// context-level target (Function "") can be caller-scoped.
	CallerScoped bool
}

// Field is one field of a struct type or one argument of a function, by its
// JSON name.
type Field struct {
	Name     string  // the JSON name
	Type     TypeRef // its type; nullable when the field may be null
	Optional bool    // the field may be absent
	// Filter, on a parameter of a function in a context only, reports that
	// the parameter is a filter of that context (docs/spec.md §3): it
	// selects rows by a value mutations change, so it never scopes an
	// invalidation target. It is false on the fields of a type.
	Filter bool
	// String, on a field of a type, reports the `json:",string"` option:
	// the value, a bool, number or string scalar (Type), is written as a
	// JSON string holding its JSON text ("9007199254740993"). Clients type
	// it as a string (TypeScript) or decode it with the same option (Go).
	String bool
}

// TypeDef is a named type. A struct type has Fields and a nil Underlying;
// any other named type (type Status string, type Orders []Order) has
// Underlying.
type TypeDef struct {
	// Name is the type's IR name: an ASCII identifier starting with an
	// upper-case letter, unique in the document.
	Name string
	// Go is the Go type it was derived from ("example.com/app.profile"),
	// informational only; "" when unknown.
	Go string
	// Fields are the JSON fields of a struct type, in encoding/json order.
	Fields []Field
	// Underlying is the type a named non-struct type stands for.
	Underlying *TypeRef
	// Enum, for a named string or integer type (Underlying a scalar of
	// one of those kinds), lists the values the type may take, in their
	// wire string form (docs/spec.md §4: integers in decimal), in
	// declaration order; nil when the type is not an enum.
	Enum []string
}

// IsStruct reports whether t is a struct (object) type.
func (t *TypeDef) IsStruct() bool { return t.Underlying == nil }

// Function returns the function called name.
func (d *Document) Function(name string) (*Function, bool) {
	i, ok := slices.BinarySearchFunc(d.Functions, name, func(f Function, n string) int { return strings.Compare(f.Name, n) })
	if !ok {
		return nil, false
	}
	return &d.Functions[i], true
}

// Type returns the named type called name.
func (d *Document) Type(name string) (*TypeDef, bool) {
	i, ok := slices.BinarySearchFunc(d.Types, name, func(t TypeDef, n string) int { return strings.Compare(t.Name, n) })
	if !ok {
		return nil, false
	}
	return &d.Types[i], true
}

// Context is a context of the app, derived from its functions: the reads
// that ctx/<Name>/ runs together.
type Context struct {
	Name string
	// Params are the parameters ctx/<Name>/ accepts, sorted by name: the
	// union of its functions' parameters. A parameter is optional when
	// every function that declares it may go without it, never nullable (a
	// query string has no null), and a filter when any function marks it
	// so.
	Params []Field
	// Functions are the fetched functions of the context (its bundle),
	// sorted by name.
	Functions []*Function
}

// Contexts returns the contexts of the document's fetched functions, sorted
// by name. Views and functions without a context are not part of any.
func (d *Document) Contexts() []Context {
	var out []Context
	index := map[string]int{}
	for i := range d.Functions {
		f := &d.Functions[i]
		if !f.IsFetched() {
			continue
		}
		j, ok := index[f.Context]
		if !ok {
			j = len(out)
			index[f.Context] = j
			out = append(out, Context{Name: f.Context})
		}
		out[j].Functions = append(out[j].Functions, f)
	}
	for i := range out {
		out[i].Params = contextParams(out[i].Functions)
	}
	slices.SortFunc(out, func(a, b Context) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// contextParams is the union of the parameters of fns (sorted by name).
func contextParams(fns []*Function) []Field {
	var params []Field
	at := map[string]int{}
	for _, f := range fns {
		for _, p := range f.Params {
			optional := p.Optional || p.Type.Nullable
			t := p.Type
			t.Nullable = false
			if i, ok := at[p.Name]; ok {
				params[i].Optional = params[i].Optional && optional
				params[i].Filter = params[i].Filter || p.Filter
				continue
			}
			at[p.Name] = len(params)
			params = append(params, Field{Name: p.Name, Type: t, Optional: optional, Filter: p.Filter})
		}
	}
	slices.SortFunc(params, func(a, b Field) int { return strings.Compare(a.Name, b.Name) })
	return params
}
