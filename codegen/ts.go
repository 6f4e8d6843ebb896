package codegen

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strings"

	"github.com/mizan-afi/mizan/ir"
)

// TypeScript returns the files of the ts target: types.ts and client.ts.
func TypeScript(ctx context.Context, doc *ir.Document) ([]File, error) {
	if err := check(ctx, doc); err != nil {
		return nil, err
	}
	m := newTSModel(doc)
	return m.files("types.ts", "client.ts")
}

// React returns the files of the react target: the ts target's files and
// hooks.ts, which imports ./types.
func React(ctx context.Context, doc *ir.Document) ([]File, error) {
	if err := check(ctx, doc); err != nil {
		return nil, err
	}
	m := newTSModel(doc)
	return m.files("types.ts", "client.ts", "hooks.ts")
}

// Vue returns the files of the vue target: the ts target's files and
// composables.ts, a composable per context, context function and callable
// function over @mizan/vue, and the app's plugin.
func Vue(ctx context.Context, doc *ir.Document) ([]File, error) {
	if err := check(ctx, doc); err != nil {
		return nil, err
	}
	m := newTSModel(doc)
	return m.files("types.ts", "client.ts", "composables.ts")
}

// Svelte returns the files of the svelte target: the ts target's files and
// stores.ts, a store factory per context, context function and callable
// function over @mizan/svelte, and initMizan for the root component.
func Svelte(ctx context.Context, doc *ir.Document) ([]File, error) {
	if err := check(ctx, doc); err != nil {
		return nil, err
	}
	m := newTSModel(doc)
	return m.files("types.ts", "client.ts", "stores.ts")
}

// tsModel is what the TypeScript templates render.
type tsModel struct {
	Header    string
	Types     []tsDecl // the IR's named types
	Derived   []tsDecl // arguments, results, parameters and bundles
	Contexts  []*tsContext
	Callables []*tsCallable
	Forms     []*tsForm
	Global    *tsContext // the context named global, when its params may be omitted
	// Imports are the names client.ts and hooks.ts import from ./types.
	ClientImports []string
	HookImports   []string
	// BindingImports are the names composables.ts (vue) and stores.ts
	// (svelte) import: those of hooks.ts but the values of forms.
	BindingImports []string
	FormHooks      bool   // hooks.ts has a hook of a form
	GlobalMount    string // the name of the component mounting global
	// SocketCalls are the wire names of the callable functions the IR
	// marks websocket, as string literals: client.ts registers them with
	// registerSocketCalls of @mizan/base/ws.
	SocketCalls []string
	// MutationTargets are the declared targets of every mutation, one
	// entry per mutation: client.ts registers them with
	// registerMutationTargets of @mizan/base/optimistic, which predicts a
	// call's targets from them.
	MutationTargets []tsMutationTargets
}

// tsMutationTargets is one entry of the mutationTargets table: the
// mutation's wire name as a property key and its targets as a TypeScript
// array literal of TargetSpec.
type tsMutationTargets struct {
	Key     string
	Targets string
}

// tsDecl is one exported type: an interface with Fields, or an alias of
// Expr.
type tsDecl struct {
	Doc       string
	Name      string
	Interface bool
	Fields    []tsField
	Expr      string
}

type tsField struct {
	Key      string // the property name, quoted when not an identifier
	Optional bool
	Type     string
}

type tsContext struct {
	Wire          string // the context's name
	Fetch         string // fetchUser
	Hook          string // useUser
	Store         string // userQuery (svelte)
	Params        string // UserParams
	Bundle        string // UserBundle
	ParamsDefault bool   // every parameter may be omitted: params = {}
	Functions     []*tsFetched
}

type tsFetched struct {
	Wire   string // the function's name
	Hook   string // useUserProfile
	Store  string // userProfileQuery (svelte)
	Result string // UserProfileResult
}

type tsCallable struct {
	Wire        string
	Kind        string
	Call        string // callUpdateProfile
	Hook        string // useUpdateProfile
	Store       string // updateProfileMutation, or getReportCall for a standalone read (svelte)
	Args        string // UpdateProfileArgs
	Result      string // UpdateProfileResult
	ArgsDefault bool   // no required argument: args = {}
	// Optimistic is the type of a mutation's optimistic updaters
	// (AddTaskOptimistic), one per context function it affects; "" for a
	// standalone read.
	Optimistic string
}

// tsReservedTypes are names the generated type declarations must not take:
// TypeScript's global types and the names the files import or declare.
var tsReservedTypes = []string{
	"Array", "Awaited", "BigInt", "Boolean", "Date", "Error", "Exclude", "Extract", "Function",
	"Iterable", "JSON", "Map", "Math", "NonNullable", "Number", "Object", "Omit", "Parameters",
	"Partial", "Pick", "Promise", "PromiseLike", "Readonly", "ReadonlyArray", "Record", "Required",
	"ReturnType", "Set", "String", "Symbol", "Uint8Array",
	"CallResult", "ErrorCode", "MizanClient", "MizanContext", "MizanError", "MizanGlobal", "MizanProvider",
	"MutationState", "QueryState", "ReactElement", "ReactNode",
	"MaybeRefOrGetter", "MizanPlugin", "MutationStore", "QueryStore",
	"FormOptions", "FormSchema", "FormState",
	"CallOptions", "TargetSpec",
}

// tsReservedValues are the values client.ts and hooks.ts import or declare.
var tsReservedValues = []string{
	"createElement", "fieldErrors", "getClient", "isMizanError", "MizanContext", "MizanError",
	"MizanGlobal", "MizanProvider", "useContextFunction", "useContextQuery", "useMutation",
	"useForm", "registerSocketCalls", "socketCalls", "registerMutationTargets", "mutationTargets",
	"createMizan", "mizanPlugin", // vue
	"contextFunction", "contextQuery", "getMizanClient", "initMizan", "mountContext", "mutation", "setMizanClient", // svelte
}

func newTSModel(doc *ir.Document) *tsModel {
	m := &tsModel{Header: Header}
	types := namer{}
	types.reserve(tsReservedTypes...)
	names := map[string]string{} // IR type name → TS name
	for _, t := range doc.Types {
		names[t.Name] = types.claim(t.Name)
	}
	for _, t := range doc.Types {
		d := tsDecl{Name: names[t.Name]}
		switch {
		case len(t.Enum) > 0:
			d.Doc = "One of the values of the enum " + t.Name + "."
			d.Expr = tsEnum(t)
		case t.Underlying != nil:
			d.Expr = tsExpr(*t.Underlying, names)
			if t.Go == "time.Duration" {
				d.Doc = "A Go time.Duration: a number of nanoseconds."
			}
		case len(t.Fields) == 0:
			d.Expr = "Record<string, never>"
		default:
			d.Interface = true
			d.Fields = tsFields(t.Fields, names)
		}
		m.Types = append(m.Types, d)
	}

	values := namer{}
	values.reserve(tsReservedValues...)
	hooks := namer{}
	hooks.reserve(tsReservedValues...)
	stores := namer{} // the svelte target's factories
	stores.reserve(tsReservedValues...)

	// Results of every function that returns data; named is set when the
	// result is a named type already called <Function>Result.
	results := map[string]string{}
	named := map[string]bool{}
	for i := range doc.Functions {
		f := &doc.Functions[i]
		if f.View {
			continue
		}
		want := ident(f.Name) + "Result"
		if f.Result.Kind == ir.Ref && !f.Result.Nullable && names[f.Result.Name] == want {
			results[f.Name] = want
			named[f.Name] = true
			continue
		}
		results[f.Name] = types.claim(want)
	}

	contexts := doc.Contexts()
	for _, c := range contexts {
		tc := &tsContext{
			Wire:   c.Name,
			Fetch:  values.claim("fetch" + ident(c.Name)),
			Hook:   hooks.claim("use" + ident(c.Name)),
			Store:  stores.claim(camel(c.Name) + "Query"),
			Params: types.claim(ident(c.Name) + "Params"),
			Bundle: types.claim(ident(c.Name) + "Bundle"),
		}
		tc.ParamsDefault = allOptional(c.Params)
		m.Derived = append(m.Derived, tsDecl{
			Doc:  "The parameters of context " + c.Name + ".",
			Name: tc.Params, Expr: tsObject(tsFields(c.Params, names)),
		})
		bundle := tsDecl{Doc: "The bundle of context " + c.Name + ": every function's result, by function name.", Name: tc.Bundle, Interface: true}
		for _, f := range c.Functions {
			bundle.Fields = append(bundle.Fields, tsField{Key: tsKey(f.Name), Type: results[f.Name]})
			tc.Functions = append(tc.Functions, &tsFetched{Wire: f.Name, Result: results[f.Name]})
		}
		m.Derived = append(m.Derived, bundle)
		m.Contexts = append(m.Contexts, tc)
		if c.Name == "global" && tc.ParamsDefault {
			m.Global = tc
		}
	}
	for _, tc := range m.Contexts {
		for _, f := range tc.Functions {
			f.Hook = hooks.claim("use" + ident(f.Wire))
			f.Store = stores.claim(camel(f.Wire) + "Query")
		}
	}

	for i := range doc.Functions {
		f := &doc.Functions[i]
		if f.View {
			continue
		}
		if f.IsFetched() {
			if named[f.Name] {
				continue
			}
			m.Derived = append(m.Derived, tsDecl{
				Doc: "The result of " + f.Name + ", in the bundle of context " + f.Context + ".", Name: results[f.Name],
				Expr: tsExpr(*f.Result, names),
			})
			continue
		}
		suffix := "Call" // a standalone read
		if f.Kind == ir.KindMutation {
			suffix = "Mutation"
		}
		tc := &tsCallable{
			Wire: f.Name, Kind: f.Kind,
			Call:        values.claim("call" + ident(f.Name)),
			Hook:        hooks.claim("use" + ident(f.Name)),
			Store:       stores.claim(camel(f.Name) + suffix),
			Args:        types.claim(ident(f.Name) + "Args"),
			Result:      results[f.Name],
			ArgsDefault: allOptional(f.Params),
		}
		m.Derived = append(m.Derived, tsDecl{Doc: "The arguments of " + f.Name + ".", Name: tc.Args, Expr: tsObject(tsFields(f.Params, names))})
		if !named[f.Name] {
			m.Derived = append(m.Derived, tsDecl{Doc: "The result of " + f.Name + ".", Name: tc.Result, Expr: tsExpr(*f.Result, names)})
		}
		if f.Kind == ir.KindMutation {
			tc.Optimistic = types.claim(ident(f.Name) + "Optimistic")
			m.Derived = append(m.Derived, tsDecl{
				Doc:  "The optimistic updaters of " + f.Name + " (CallOptions of @mizan/base): one per context function it affects, from that function's data and the call's arguments to its new data.",
				Name: tc.Optimistic, Interface: true,
				Fields: optimisticFields(f, contexts, results, tc.Args),
			})
			if len(m.Derived[len(m.Derived)-1].Fields) == 0 {
				d := &m.Derived[len(m.Derived)-1]
				d.Interface, d.Expr = false, "Record<string, never>"
			}
			m.MutationTargets = append(m.MutationTargets, tsMutationTargets{Key: tsKey(f.Name), Targets: tsTargetSpecs(f.Affects)})
		}
		m.Callables = append(m.Callables, tc)
		if f.WebSocket {
			m.SocketCalls = append(m.SocketCalls, tsString(f.Name))
		}
	}
	m.newTSForms(doc, types, values, hooks)
	m.GlobalMount = "MizanGlobal"
	m.imports()
	return m
}

// imports lists the type names client.ts, hooks.ts, composables.ts and
// stores.ts use.
func (m *tsModel) imports() {
	client := map[string]bool{}
	hooks := map[string]bool{}
	for _, c := range m.Contexts {
		client[c.Params], client[c.Bundle] = true, true
		hooks[c.Params], hooks[c.Bundle] = true, true
		for _, f := range c.Functions {
			hooks[f.Result] = true
		}
	}
	for _, f := range m.Callables {
		client[f.Args], client[f.Result] = true, true
		hooks[f.Args], hooks[f.Result] = true, true
		if f.Optimistic != "" {
			client[f.Optimistic], hooks[f.Optimistic] = true, true
		}
	}
	m.BindingImports = sortedKeys(hooks)
	for _, f := range m.Forms {
		if f.Hook != "" {
			hooks[f.Values] = true
		}
	}
	for _, f := range m.Forms {
		m.FormHooks = m.FormHooks || f.Hook != ""
	}
	m.ClientImports = sortedKeys(client)
	m.HookImports = sortedKeys(hooks)
}

// optimisticFields returns the fields of mutation f's optimistic updaters
// type: one optional updater per context function f affects (every
// function of an affected context, or the function of a function-level
// target), in the order of f's targets, each typed by the function's
// result.
func optimisticFields(f *ir.Function, contexts []ir.Context, results map[string]string, args string) []tsField {
	var out []tsField
	seen := map[string]bool{}
	add := func(fn string) {
		r, ok := results[fn]
		if !ok || seen[fn] {
			return
		}
		seen[fn] = true
		out = append(out, tsField{Key: tsKey(fn), Optional: true, Type: "(data: " + r + ", args: " + args + ") => " + r})
	}
	for _, a := range f.Affects {
		if a.Function != "" {
			add(a.Function)
			continue
		}
		for _, c := range contexts {
			if c.Name == a.Context {
				for _, cf := range c.Functions {
					add(cf.Name)
				}
			}
		}
	}
	return out
}

// tsTargetSpecs writes a mutation's declared targets as a TypeScript array
// of TargetSpec: ['tasks', ['project_id']], ['task'] (broad), ['user',
// ['user_id'], 'user_profile'] (function-level).
func tsTargetSpecs(affects []ir.Affect) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, a := range affects {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('[')
		b.WriteString(tsString(a.Context))
		if len(a.ScopedBy) > 0 || a.Function != "" {
			b.WriteString(", [")
			for j, s := range a.ScopedBy {
				if j > 0 {
					b.WriteString(", ")
				}
				b.WriteString(tsString(s))
			}
			b.WriteByte(']')
		}
		if a.Function != "" {
			b.WriteString(", ")
			b.WriteString(tsString(a.Function))
		}
		b.WriteByte(']')
	}
	b.WriteByte(']')
	return b.String()
}

func sortedKeys(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func allOptional(fs []ir.Field) bool {
	for _, f := range fs {
		if !f.Optional {
			return false
		}
	}
	return true
}

func tsFields(fs []ir.Field, names map[string]string) []tsField {
	out := make([]tsField, 0, len(fs))
	for _, f := range fs {
		t := tsExpr(f.Type, names)
		if f.String { // json:",string": the scalar's JSON text in a string
			t = tsExpr(ir.TypeRef{Kind: ir.String, Nullable: f.Type.Nullable}, names)
		}
		out = append(out, tsField{Key: tsKey(f.Name), Optional: f.Optional, Type: t})
	}
	return out
}

// tsObject writes fields as an object type literal on one line.
func tsObject(fs []tsField) string {
	if len(fs) == 0 {
		return "Record<string, never>"
	}
	var b strings.Builder
	b.WriteString("{ ")
	for i, f := range fs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(f.Key)
		if f.Optional {
			b.WriteByte('?')
		}
		b.WriteString(": ")
		b.WriteString(f.Type)
	}
	b.WriteString(" }")
	return b.String()
}

var jsIdent = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*$`)

// tsKey returns a property name for a JSON field name.
func tsKey(name string) string {
	if jsIdent.MatchString(name) {
		return name
	}
	b, _ := json.Marshal(name)
	return string(b)
}

// tsEnum returns the union of the literal values of the enum type t.
func tsEnum(t ir.TypeDef) string {
	parts := make([]string, len(t.Enum))
	for i, v := range t.Enum {
		if t.Underlying.Kind == ir.String {
			b, _ := json.Marshal(v)
			parts[i] = string(b)
		} else {
			parts[i] = v
		}
	}
	return strings.Join(parts, " | ")
}

// tsExpr returns the TypeScript type of t.
func tsExpr(t ir.TypeRef, names map[string]string) string {
	var s string
	switch t.Kind {
	case ir.Bool:
		s = "boolean"
	case ir.String, ir.Bytes, ir.Time:
		s = "string"
	case ir.Any:
		return "unknown"
	case ir.List:
		e := tsExpr(*t.Elem, names)
		if strings.Contains(e, " | ") {
			e = "(" + e + ")"
		}
		s = e + "[]"
	case ir.Record:
		s = "Record<string, " + tsExpr(*t.Elem, names) + ">"
	case ir.Ref:
		s = names[t.Name]
	default:
		s = "number" // every numeric kind
	}
	if t.Nullable {
		s += " | null"
	}
	return s
}

// files renders the named templates (each "<name>.tmpl").
func (m *tsModel) files(names ...string) ([]File, error) {
	var out []File
	for _, n := range names {
		b, err := render(n+".tmpl", m)
		if err != nil {
			return nil, err
		}
		out = append(out, File{Path: n, Content: b})
	}
	return out, nil
}
