package mizan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/mizan-afi/mizan/protocol"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// param is one argument of a server function: a field of its argument struct
// as encoding/json sees it.
type param struct {
	name     string
	index    []int
	typ      reflect.Type // the field's type
	base     reflect.Type // typ without its pointer
	optional bool         // omitempty: may be absent
	nullable bool         // a pointer: may be null
	scalar   bool         // can come from a query string (string, bool, integer kinds)
	filter   bool         // tagged mizan:"filter": never scopes a target
}

// argSchema describes the argument struct of a function. It is built once at
// registration; requests only read it.
type argSchema struct {
	typ      reflect.Type
	params   []param // in field order
	byName   map[string]int
	validate bool         // some field has a `validate` tag
	shadow   reflect.Type // what decodeFast decodes into; nil without params
	plain    bool         // no parameter is a pointer: copies share nothing
	quick    bool         // decodeQuick can read the arguments (args_fast.go)
}

// newArgSchema derives the schema of an argument struct type.
func newArgSchema(t reflect.Type) (*argSchema, error) {
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("arguments must be a struct (use struct{} for none), not %s", t)
	}
	s := &argSchema{typ: t, byName: map[string]int{}}
	if err := s.collect(t, nil); err != nil {
		return nil, err
	}
	s.shadow = shadowType(s.params)
	s.plain = !slices.ContainsFunc(s.params, func(p param) bool { return p.typ.Kind() == reflect.Pointer })
	s.quick = quickSchema(s.params)
	return s, nil
}

func (s *argSchema) collect(t reflect.Type, prefix []int) error {
	for i := range t.NumField() {
		f := t.Field(i)
		index := append(slices.Clone(prefix), i)
		tag, hasTag := f.Tag.Lookup("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" && opts == "" {
			continue
		}
		if f.Anonymous && (!hasTag || name == "") {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				return fmt.Errorf("embedded pointer %s in arguments is not supported; embed the struct", ft)
			}
			if ft.Kind() == reflect.Struct {
				if err := s.collect(ft, index); err != nil {
					return err
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, dup := s.byName[name]; dup {
			return fmt.Errorf("argument %q is declared twice", name)
		}
		if f.Tag.Get("validate") != "" || hasValidateTags(f.Type, map[reflect.Type]bool{}) {
			s.validate = true
		}
		p := param{name: name, index: index, typ: f.Type, base: f.Type}
		p.optional = strings.Contains(","+opts+",", ",omitempty,") || strings.Contains(","+opts+",", ",omitzero,")
		if f.Type.Kind() == reflect.Pointer {
			p.nullable = true
			p.base = f.Type.Elem()
		}
		p.scalar = isScalarKind(p.base.Kind())
		for _, opt := range strings.Split(f.Tag.Get("mizan"), ",") {
			switch strings.TrimSpace(opt) {
			case "":
			case "filter":
				p.filter = true
			default:
				return fmt.Errorf("argument %q: unknown mizan tag option %q (the one option is filter)", name, opt)
			}
		}
		s.byName[name] = len(s.params)
		s.params = append(s.params, p)
	}
	return nil
}

// hasValidateTags reports whether a struct reachable from t (through
// pointers, slices, arrays and maps) has a field with a `validate` tag.
func hasValidateTags(t reflect.Type, seen map[reflect.Type]bool) bool {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || seen[t] {
		return false
	}
	seen[t] = true
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Tag.Get("validate") != "" || hasValidateTags(f.Type, seen) {
			return true
		}
	}
	return false
}

func isScalarKind(k reflect.Kind) bool {
	switch k {
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

// typeWord names a parameter's type for error messages.
func typeWord(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a " + t.String()
}

var jsonNull = []byte("null")

// presence records which parameters a request gave, by index in
// argSchema.params; parameters past the 64th always count as given.
type presence uint64

const allPresent = ^presence(0)

func (p *presence) set(i int) {
	if i < 64 {
		*p |= 1 << i
	}
}

func (p presence) has(i int) bool { return i >= 64 || p&(1<<i) != 0 }

// decodeJSON fills dst (an addressable struct value of s.typ) from a JSON
// object of arguments and reports which were given. Every bad argument is
// reported in the error's fields.
func (s *argSchema) decodeJSON(raw []byte, dst reflect.Value) (presence, *Error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, jsonNull) {
		raw = []byte("{}")
	}
	if raw[0] != '{' {
		return 0, NewError(CodeBadRequest, `"args" must be a JSON object`)
	}
	if given, ok := s.decodeFast(raw, dst); ok {
		return given, nil
	}
	var obj map[string]protocol.RawValue
	if err := protocol.UnmarshalStrict(raw, &obj); err != nil {
		if protocol.IsDuplicateName(err) {
			return 0, NewError(CodeBadRequest, `"args" names an argument twice`)
		}
		return 0, NewError(CodeBadRequest, `"args" is not a valid JSON object`)
	}
	var given presence
	var fields map[string]string
	bad := func(name, msg string) {
		if fields == nil {
			fields = map[string]string{}
		}
		fields[name] = msg
	}
	for k := range obj {
		if _, ok := s.byName[k]; !ok {
			bad(k, "unknown argument")
		}
	}
	for i := range s.params {
		p := &s.params[i]
		v, ok := obj[p.name]
		if !ok {
			if !p.optional {
				bad(p.name, "required")
			}
			continue
		}
		if bytes.Equal(v, jsonNull) {
			if !p.nullable && !p.optional {
				bad(p.name, "must be "+typeWord(p.base)+", not null")
			}
			continue
		}
		f := dst.FieldByIndex(p.index)
		if err := json.Unmarshal(v, f.Addr().Interface()); err != nil {
			bad(p.name, "must be "+typeWord(p.base))
			continue
		}
		given.set(i)
	}
	if fields != nil {
		return 0, invalidArgs(fields)
	}
	return given, nil
}

// invalidArgs is the invalid_args error naming fields. Its message lists
// at most maxNamesInMessage names (each cut to protocol.MaxErrorName bytes);
// the envelope bounds the fields it repeats (protocol.AppendEnvelope).
func invalidArgs(fields map[string]string) *Error {
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	slices.Sort(names)
	listed := names[:min(len(names), maxNamesInMessage)]
	for i, n := range listed {
		listed[i] = protocol.Truncate(n, protocol.MaxErrorName)
	}
	msg := "invalid arguments: " + strings.Join(listed, ", ")
	if more := len(names) - len(listed); more > 0 {
		msg += " and " + strconv.Itoa(more) + " more"
	}
	return &Error{code: CodeInvalidArgs, status: http.StatusBadRequest, message: msg, fields: fields}
}

// maxNamesInMessage is how many argument names an invalid_args message lists.
const maxNamesInMessage = 8

// stringSource gives the string values of parameters: query parameters, path
// values or form fields.
type stringSource func(name string) (values []string, present bool)

// decodeStrings fills dst from string values, coercing each to its declared
// type, and reports which were given. Every parameter must be scalar
// (checked at build time for context functions; views skip non-scalar ones).
func (s *argSchema) decodeStrings(src stringSource, dst reflect.Value) (presence, *Error) {
	return s.decodeValues(func(name string) (string, int) {
		vs, ok := src(name)
		if !ok || len(vs) == 0 {
			return "", 0
		}
		return vs[0], len(vs)
	}, dst)
}

// decodeValues is decodeStrings of a source that gives, for a parameter,
// its first value and how many it has.
func (s *argSchema) decodeValues(src func(name string) (first string, n int), dst reflect.Value) (presence, *Error) {
	var given presence
	var fields map[string]string
	bad := func(name, msg string) {
		if fields == nil {
			fields = map[string]string{}
		}
		fields[name] = msg
	}
	for i := range s.params {
		p := &s.params[i]
		if !p.scalar {
			continue
		}
		v, n := src(p.name)
		if n == 0 {
			if !p.optional && !p.nullable {
				bad(p.name, "required")
			}
			continue
		}
		if n > 1 {
			bad(p.name, "given more than once")
			continue
		}
		f := dst.FieldByIndex(p.index)
		if p.nullable {
			f.Set(reflect.New(p.base))
			f = f.Elem()
		}
		if msg := setString(f, v); msg != "" {
			bad(p.name, msg)
			continue
		}
		given.set(i)
	}
	if fields != nil {
		return 0, invalidArgs(fields)
	}
	return given, nil
}

// setString parses s into the scalar value f; it returns a message on failure.
func setString(f reflect.Value, s string) string {
	switch f.Kind() {
	case reflect.String:
		f.SetString(s)
	case reflect.Bool:
		switch s {
		case "true":
			f.SetBool(true)
		case "false":
			f.SetBool(false)
		default:
			return "must be true or false"
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, f.Type().Bits())
		if err != nil {
			return "must be an integer"
		}
		f.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(s, 10, f.Type().Bits())
		if err != nil {
			return "must be a non-negative integer"
		}
		f.SetUint(n)
	default:
		return "cannot be given as a string"
	}
	return ""
}

// value returns the argument's value in dst for invalidation scoping, and
// false when a nullable argument is nil.
func (p *param) value(dst reflect.Value) (any, bool) {
	f := dst.FieldByIndex(p.index)
	if p.nullable {
		if f.IsNil() {
			return nil, false
		}
		f = f.Elem()
	}
	switch f.Kind() {
	case reflect.String:
		return f.String(), true
	case reflect.Bool:
		return f.Bool(), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return f.Int(), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return f.Uint(), true
	}
	return nil, false
}
