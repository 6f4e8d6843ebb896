package mizan

// Enums (docs/spec.md §4): a named string or integer type whose values are
// declared once, with [Enum] or by `validate:"oneof=..."` tags. The set is
// in the IR (an enum node), so generated clients get a union of literals
// (TypeScript) and constants (Go); a value outside it, as a call argument
// or a ctx/ query parameter, is invalid_args naming the argument.

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// EnumValue is what [Enum] takes: a type whose kind is string or an
// integer.
type EnumValue interface {
	~string | ~int | ~int8 | ~int16 | ~int32 | ~int64 | ~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

// Enum declares the values of the named type T, in the order clients list
// them:
//
//	type TaskState string
//	const (
//		TaskTodo  TaskState = "todo"
//		TaskDoing TaskState = "doing"
//		TaskDone  TaskState = "done"
//	)
//	mizan.Enum(app, TaskTodo, TaskDoing, TaskDone)
//
// An argument of type T (or *T, or a slice of T) outside the set is
// invalid_args, in call/, ctx/ and over the WebSocket alike; the IR gives T
// an enum node, so the generated TypeScript is "todo" | "doing" | "done" and
// the Go client declares TaskStateTodo, TaskStateDoing and TaskStateDone.
// Without Enum, a type whose fields carry `validate:"oneof=..."` tags (all
// with the same values) is an enum of those values. Declaring T twice, with
// no values, with a value twice, or an unnamed T is a Build error.
func Enum[T EnumValue](app *App, values ...T) {
	t := reflect.TypeFor[T]()
	e := &enumDef{typ: t, explicit: true}
	for _, v := range values {
		e.values = append(e.values, enumString(reflect.ValueOf(v)))
	}
	app.mu.Lock()
	defer app.mu.Unlock()
	if app.built {
		panic("mizan: Enum " + t.String() + " declared after Build")
	}
	if err := e.check(); err != nil {
		app.errs = append(app.errs, err)
		return
	}
	if app.enums == nil {
		app.enums = map[reflect.Type]*enumDef{}
	}
	if _, dup := app.enums[t]; dup {
		app.errs = append(app.errs, fmt.Errorf("enum %s: declared twice", t))
		return
	}
	app.enums[t] = e
}

// enumDef is the value set of one enum type.
type enumDef struct {
	typ      reflect.Type
	values   []string // wire strings (docs/spec.md §4), in declaration order
	set      map[string]struct{}
	explicit bool   // declared with Enum, not derived from oneof tags
	from     string // the field it was derived from, for messages
	message  string // "must be one of todo, doing, done"
}

func (e *enumDef) check() error {
	t := e.typ
	if t.Name() == "" || t.PkgPath() == "" {
		return fmt.Errorf("enum %s: must be a named type of your package (type TaskState string)", t)
	}
	if len(e.values) == 0 {
		return fmt.Errorf("enum %s: has no values", t)
	}
	e.set = make(map[string]struct{}, len(e.values))
	for _, v := range e.values {
		if _, dup := e.set[v]; dup {
			return fmt.Errorf("enum %s: value %q given twice", t, v)
		}
		e.set[v] = struct{}{}
	}
	e.message = "must be one of " + strings.Join(e.values, ", ")
	return nil
}

// has reports whether the scalar v (of the enum's kind) is in the set.
func (e *enumDef) has(v reflect.Value) bool {
	if v.Kind() == reflect.String {
		_, ok := e.set[v.String()]
		return ok
	}
	_, ok := e.set[enumString(v)]
	return ok
}

// enumString is the wire string of a string or integer value.
func enumString(v reflect.Value) string {
	switch v.Kind() {
	case reflect.String:
		return v.String()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	default:
		return strconv.FormatUint(v.Uint(), 10)
	}
}

func isEnumKind(k reflect.Kind) bool {
	switch k {
	case reflect.String, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

// oneofValues returns the values of the oneof rule of a validate tag, and
// whether it has one. Values are separated by spaces; a value holding
// spaces is in single quotes, as the validator reads them.
func oneofValues(tag string) ([]string, bool) {
	for _, rule := range strings.Split(tag, ",") {
		param, ok := strings.CutPrefix(strings.TrimSpace(rule), "oneof=")
		if !ok {
			continue
		}
		var out []string
		for param = strings.TrimSpace(param); param != ""; param = strings.TrimSpace(param) {
			if param[0] == '\'' {
				if end := strings.IndexByte(param[1:], '\''); end >= 0 {
					out = append(out, param[1:1+end])
					param = param[2+end:]
					continue
				}
			}
			v, rest, _ := strings.Cut(param, " ")
			out = append(out, v)
			param = rest
		}
		return out, true
	}
	return nil, false
}

// enumBase returns the enum candidate a field type stands for: T for T, *T,
// []T, []*T; nil for anything else.
func enumBase(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
		t = t.Elem()
	}
	if t.Name() == "" || t.PkgPath() == "" || !isEnumKind(t.Kind()) {
		return nil
	}
	return t
}

// enums returns the enum types of funcs: those declared with Enum, then
// those derived from the oneof tags of the fields of their arguments and
// results (and the structs these reach). A type derived from fields that
// disagree on the values is an error.
func enums(declared map[reflect.Type]*enumDef, funcs []*Func) (map[reflect.Type]*enumDef, []error) {
	out := map[reflect.Type]*enumDef{}
	for t, e := range declared {
		out[t] = e
	}
	var errs []error
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type, at string)
	walk = func(t reflect.Type, at string) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || seen[t] {
			return
		}
		seen[t] = true
		for i := range t.NumField() {
			f := t.Field(i)
			where := at + "." + f.Name
			if b := enumBase(f.Type); b != nil {
				if vals, ok := oneofValues(f.Tag.Get("validate")); ok {
					e := out[b]
					switch {
					case e == nil:
						d := &enumDef{typ: b, values: vals, from: where}
						if err := d.check(); err != nil {
							errs = append(errs, fmt.Errorf("%w (from the oneof tag of %s)", err, where))
						} else {
							out[b] = d
						}
					case !e.explicit && !slices.Equal(e.values, vals):
						errs = append(errs, fmt.Errorf("enum %s: the oneof tags of %s (%s) and %s (%s) differ; declare its values once with mizan.Enum",
							b, e.from, strings.Join(e.values, " "), where, strings.Join(vals, " ")))
					}
				}
			}
			walk(f.Type, where)
		}
	}
	for _, f := range funcs {
		walk(f.meta.Args, f.meta.Args.String())
		if !f.meta.ViewPath && f.meta.Result != nil {
			walk(f.meta.Result, f.meta.Result.String())
		}
	}
	for _, e := range out {
		if e.explicit {
			continue
		}
		for _, v := range e.values {
			if msg := setString(reflect.New(e.typ).Elem(), v); msg != "" {
				errs = append(errs, fmt.Errorf("enum %s: oneof value %q of %s %s", e.typ, v, e.from, msg))
				break
			}
		}
	}
	return out, errs
}

// enumParam is one argument of a function whose type is an enum (or a
// pointer to, or a slice of, one).
type enumParam struct {
	name     string
	index    []int
	optional bool // its zero value means absent
	def      *enumDef
}

// enumParams returns the arguments of f of enum types.
func enumParams(f *Func, defs map[reflect.Type]*enumDef) []enumParam {
	var out []enumParam
	for _, p := range f.args.params {
		b := enumBase(p.typ)
		if b == nil || defs[b] == nil {
			continue
		}
		out = append(out, enumParam{name: p.name, index: p.index, optional: p.optional, def: defs[b]})
	}
	return out
}

// enumErrors adds to fields (unless they name the argument already) the
// arguments in dst whose values are outside their enums.
func enumErrors(ps []enumParam, dst reflect.Value, fields map[string]string) map[string]string {
	for i := range ps {
		p := &ps[i]
		if _, ok := fields[p.name]; ok {
			continue
		}
		v := dst.FieldByIndex(p.index)
		if !p.inSet(v) {
			if fields == nil {
				fields = map[string]string{}
			}
			fields[p.name] = p.def.message
		}
	}
	return fields
}

// inSet reports whether v, the argument's value, is absent or in the set.
func (p *enumParam) inSet(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer:
		return v.IsNil() || p.inSet(v.Elem())
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			e := v.Index(i)
			if e.Kind() == reflect.Pointer {
				if e.IsNil() {
					continue
				}
				e = e.Elem()
			}
			if !p.def.has(e) {
				return false
			}
		}
		return true
	}
	if p.optional && v.IsZero() {
		return true
	}
	return p.def.has(v)
}
