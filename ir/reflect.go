package ir

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
)

var (
	timeType          = reflect.TypeFor[time.Time]()
	jsonNumberType    = reflect.TypeFor[json.Number]()
	jsonMarshalerType = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// entry is a named IR type in the making: a named Go type, or an anonymous
// struct named after where it is first used.
type entry struct {
	t    reflect.Type
	hint string // the name an anonymous struct asks for
	name string // the final IR name
	seq  int    // discovery order
}

// reflector turns Go types into IR types, collecting the named ones.
// Types are converted in two passes: discover finds every named type
// reachable from a root (reporting types encoding/json cannot encode), then
// after names are assigned, ref builds type expressions with final names.
type reflector struct {
	entries map[reflect.Type]*entry
	order   []*entry
	enums   map[reflect.Type][]string // Options.Enums
}

func newReflector() *reflector {
	return &reflector{entries: map[reflect.Type]*entry{}}
}

// discover walks t, registering every named type reachable from it. hint
// names an anonymous struct found at t's position.
func (r *reflector) discover(t reflect.Type, hint string) error {
	t, _ = derefNullable(t)
	switch c := classify(t); c {
	case classScalar, classBytes:
		if named(t) && t != jsonNumberType {
			r.add(t, "")
		}
		return nil
	case classAny, classTime, classText:
		return nil
	case classList:
		if named(t) && !r.add(t, "") {
			return nil
		}
		return r.discover(t.Elem(), hint+"Item")
	case classRecord:
		if named(t) && !r.add(t, "") {
			return nil
		}
		return r.discover(t.Elem(), hint+"Value")
	case classStruct:
		if !r.add(t, hint) {
			return nil
		}
		base := hint
		if named(t) {
			base = goTypeBaseName(t)
		}
		for _, f := range structFields(t) {
			if f.quoted {
				continue
			}
			if err := r.discover(f.typ, base+typeName(Pascal(f.name))); err != nil {
				return fmt.Errorf("field %q: %w", f.name, err)
			}
		}
		return nil
	default:
		return unsupported(t, c)
	}
}

// add registers t and reports whether it is new.
func (r *reflector) add(t reflect.Type, hint string) bool {
	if _, ok := r.entries[t]; ok {
		return false
	}
	e := &entry{t: t, hint: hint, seq: len(r.order)}
	r.entries[t] = e
	r.order = append(r.order, e)
	return true
}

// assignNames gives every entry its final, unique IR name. Named Go types
// come first: a name asked for by one type only is granted as it is; types
// of several packages asking for one name get their package's name in
// front (BillingProfile); what still collides is numbered in the order of
// the Go types' full names. Anonymous structs then get the names they ask
// for, numbered in discovery order when taken.
func (r *reflector) assignNames() {
	var goTypes, anon []*entry
	for _, e := range r.order {
		if named(e.t) {
			goTypes = append(goTypes, e)
		} else {
			anon = append(anon, e)
		}
	}
	slices.SortFunc(goTypes, func(a, b *entry) int { return strings.Compare(goFullName(a.t), goFullName(b.t)) })
	asked := map[string]int{}
	for _, e := range goTypes {
		asked[goTypeBaseName(e.t)]++
	}
	var n namer
	var later []*entry
	for _, e := range goTypes {
		if base := goTypeBaseName(e.t); asked[base] == 1 {
			e.name = n.claim(base)
		} else {
			later = append(later, e)
		}
	}
	for _, e := range later {
		e.name = n.claim(typeName(pkgWord(e.t.PkgPath()) + goTypeBaseName(e.t)))
	}
	for _, e := range anon {
		e.name = n.claim(typeName(e.hint))
	}
}

// ref returns the IR type expression of t. Every named type reachable from
// t must have been discovered.
func (r *reflector) ref(t reflect.Type) TypeRef {
	t, nullable := derefNullable(t)
	var out TypeRef
	if e, ok := r.entries[t]; ok {
		out = RefTo(e.name)
	} else {
		out = r.structure(t)
	}
	if nullable && out.Kind != Any {
		out.Nullable = true
	}
	return out
}

// structure returns the type expression t stands for, ignoring its name.
func (r *reflector) structure(t reflect.Type) TypeRef {
	switch classify(t) {
	case classAny:
		return Scalar(Any)
	case classTime:
		return Scalar(Time)
	case classBytes:
		return Scalar(Bytes)
	case classText:
		return Scalar(String)
	case classList:
		l := ListOf(r.ref(t.Elem()))
		if t.Kind() == reflect.Array {
			l.Len = t.Len()
		}
		return l
	case classRecord:
		return RecordOf(r.ref(t.Elem()))
	case classScalar:
		return Scalar(scalarKind(t))
	}
	return Scalar(Any) // unreachable after discover
}

// def returns the definition of the named type of e.
func (r *reflector) def(e *entry) TypeDef {
	d := TypeDef{Name: e.name}
	if named(e.t) {
		d.Go = goFullName(e.t)
	}
	if classify(e.t) != classStruct {
		u := r.structure(e.t)
		d.Underlying = &u
		if vs := r.enums[e.t]; len(vs) > 0 {
			d.Enum = slices.Clone(vs)
		}
		return d
	}
	d.Fields = []Field{}
	for _, f := range structFields(e.t) {
		var t TypeRef
		if f.quoted {
			base, nullable := derefNullable(f.typ)
			t = Scalar(scalarKind(base))
			t.Nullable = nullable
		} else {
			t = r.ref(f.typ)
		}
		d.Fields = append(d.Fields, Field{Name: f.name, Type: t, Optional: f.optional, String: f.quoted})
	}
	return d
}

// typeClass is how encoding/json encodes a type.
type typeClass int

const (
	classUnsupported typeClass = iota
	classScalar                // bool, string, integers, floats
	classAny                   // interfaces and types with MarshalJSON
	classTime                  // time.Time
	classBytes                 // []byte: base64
	classText                  // types with MarshalText: a string
	classList                  // slices and arrays
	classRecord                // maps with string, integer or text keys
	classStruct                // structs: objects
	classBadKey                // a map whose key encoding/json refuses
)

// classify returns how encoding/json encodes t (not a pointer).
func classify(t reflect.Type) typeClass {
	switch {
	case t == timeType:
		return classTime
	case t == jsonNumberType:
		return classScalar
	case implements(t, jsonMarshalerType):
		return classAny
	case implements(t, textMarshalerType):
		return classText
	}
	switch t.Kind() {
	case reflect.Interface:
		return classAny
	case reflect.Bool, reflect.String, reflect.Float32, reflect.Float64,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return classScalar
	case reflect.Slice:
		if e := t.Elem(); e.Kind() == reflect.Uint8 && !implements(e, jsonMarshalerType) && !implements(e, textMarshalerType) {
			return classBytes
		}
		return classList
	case reflect.Array:
		return classList
	case reflect.Map:
		switch k := t.Key(); k.Kind() {
		case reflect.String,
			reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			return classRecord
		default:
			if implements(k, textMarshalerType) {
				return classRecord
			}
			return classBadKey
		}
	case reflect.Struct:
		return classStruct
	}
	return classUnsupported
}

// implements reports whether t or *t implements iface, as encoding/json
// checks (it uses a pointer receiver's method when the value is
// addressable).
func implements(t, iface reflect.Type) bool {
	return t.Implements(iface) || t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(iface)
}

// scalarKind returns the scalar kind of t (classScalar).
func scalarKind(t reflect.Type) TypeKind {
	if t == jsonNumberType {
		return Float64
	}
	switch t.Kind() {
	case reflect.Bool:
		return Bool
	case reflect.String:
		return String
	case reflect.Int:
		return Int
	case reflect.Int8:
		return Int8
	case reflect.Int16:
		return Int16
	case reflect.Int32:
		return Int32
	case reflect.Int64:
		return Int64
	case reflect.Uint:
		return Uint
	case reflect.Uint8:
		return Uint8
	case reflect.Uint16:
		return Uint16
	case reflect.Uint32:
		return Uint32
	case reflect.Uint64, reflect.Uintptr:
		return Uint64
	case reflect.Float32:
		return Float32
	}
	return Float64
}

// unsupported is the error for a type encoding/json cannot encode.
func unsupported(t reflect.Type, c typeClass) error {
	if c == classBadKey {
		return fmt.Errorf("map key type %s cannot be a JSON object key (use a string, an integer or a type with MarshalText)", t.Key())
	}
	return fmt.Errorf("type %s cannot be encoded as JSON", t)
}

// derefNullable strips pointers from t and reports whether there were any:
// a pointer may be nil, which encodes as null.
func derefNullable(t reflect.Type) (reflect.Type, bool) {
	nullable := false
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
		nullable = true
	}
	return t, nullable
}

// named reports whether t is a defined type of some package (not a
// predeclared one such as string or error).
func named(t reflect.Type) bool { return t.Name() != "" && t.PkgPath() != "" }

// goFullName is t's package path and name, "example.com/app.profile".
func goFullName(t reflect.Type) string { return t.PkgPath() + "." + t.Name() }
