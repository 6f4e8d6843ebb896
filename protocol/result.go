package protocol

// The encoding of values in results (docs/spec.md §4, "Values in results and
// arguments"; §13.3 records the choices). Every result a server function
// returns — through call/, ctx/, the WebSocket, SSR hydration data, the
// origin cache — is written by a ResultEncoder, so that the wire always
// matches the generated types:
//
//   - a nil slice is [] and a nil map {} (a nil []byte is ""): only pointers
//     and interfaces are null;
//   - integers are written exactly, in decimal, whatever their size: a
//     Go client decodes them exactly, and the TypeScript kernel refuses a
//     response holding one a JavaScript number cannot hold (beyond
//     ±(2^53−1)) rather than round it (docs/spec.md §13.3); a field tagged
//     `json:",string"` is a decimal string, and a string in the clients;
//   - everything else is exactly what encoding/json.Marshal writes, HTML
//     escaping (<, >, & as \u003c, \u003e, \u0026) and sorted map keys
//     included.

import (
	"encoding"
	"encoding/json"
	"reflect"
	"sync"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"
)

// resultOptions are encoding/json's semantics (v1), except that nil slices
// and maps are [] and {}.
var resultOptions = jsonv2.JoinOptions(jsonv1.DefaultOptionsV1(),
	jsonv2.FormatNilSliceAsNull(false), jsonv2.FormatNilMapAsNull(false))

// ResultEncoder encodes the values of one static type as results. Build
// one per type with [ResultEncoderFor] (types known at registration) or use
// [AppendResult]; both are safe for concurrent use.
type ResultEncoder struct {
	// nils reports whether a value of the type can hold a nil slice or map
	// below its top level (or an interface, which may): only those take the
	// v2 encoder, which costs a little more for small values than
	// encoding/json does.
	nils bool
	// empty, for a slice or map type whose elements hold no nil
	// collection, is what a nil value of it is written as ([], {} or "");
	// a non-nil one is encoding/json's.
	empty string
}

var encoders sync.Map // reflect.Type → *ResultEncoder

// ResultEncoderFor returns the encoder of values of type t (nil t: an
// interface, any value).
func ResultEncoderFor(t reflect.Type) *ResultEncoder {
	if t == nil {
		t = anyType
	}
	if e, ok := encoders.Load(t); ok {
		return e.(*ResultEncoder)
	}
	e := &ResultEncoder{nils: canHoldNil(t, map[reflect.Type]bool{})}
	if e.nils && !ownEncoding(t) {
		switch {
		case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 && !ownEncoding(t.Elem()):
			e.nils, e.empty = false, `""`
		case t.Kind() == reflect.Slice && !canHoldNil(t.Elem(), map[reflect.Type]bool{}):
			e.nils, e.empty = false, "[]"
		case t.Kind() == reflect.Map && !canHoldNil(t.Elem(), map[reflect.Type]bool{}):
			e.nils, e.empty = false, "{}"
		}
	}
	actual, _ := encoders.LoadOrStore(t, e)
	return actual.(*ResultEncoder)
}

var anyType = reflect.TypeFor[any]()

// AppendResult appends the result encoding of v to dst; see
// [ResultEncoder.Append].
func AppendResult(dst []byte, v any) ([]byte, error) {
	return ResultEncoderFor(reflect.TypeOf(v)).Append(dst, v)
}

// Append appends the result encoding of v, a value of the encoder's type
// (or, for an interface type, any value), to dst. On error dst is returned
// unchanged; the error is encoding/json's.
func (e *ResultEncoder) Append(dst []byte, v any) ([]byte, error) {
	if e.empty != "" {
		if rv := reflect.ValueOf(v); rv.IsValid() && rv.IsNil() {
			return append(dst, e.empty...), nil
		}
	}
	j := appenderPool.Get().(*appender)
	j.b = dst
	var err error
	if e.nils {
		if j.v2 == nil {
			j.v2 = jsontext.NewEncoder(j, resultOptions)
		} else {
			j.v2.Reset(j, resultOptions)
		}
		err = jsonv2.MarshalEncode(j.v2, v)
	} else {
		if j.v1 == nil {
			j.v1 = json.NewEncoder(j)
		}
		err = j.v1.Encode(v)
	}
	out := j.b
	j.b = nil
	appenderPool.Put(j)
	if err != nil {
		return dst, err
	}
	if len(out) > len(dst) && out[len(out)-1] == '\n' {
		out = out[:len(out)-1] // both encoders end a top-level value with a newline
	}
	return out, nil
}

// appender is an io.Writer appending to b, with the encoders writing to
// it, pooled so that encoding a result allocates neither.
type appender struct {
	b  []byte
	v1 *json.Encoder
	v2 *jsontext.Encoder
}

func (j *appender) Write(p []byte) (int, error) {
	j.b = append(j.b, p...)
	return len(p), nil
}

var appenderPool = sync.Pool{New: func() any { return &appender{} }}

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

// ownEncoding reports whether values of t encode themselves (MarshalJSON or
// MarshalText, on the value or its pointer).
func ownEncoding(t reflect.Type) bool {
	if t.Implements(jsonMarshaler) || t.Implements(textMarshaler) {
		return true
	}
	if t.Kind() != reflect.Pointer {
		p := reflect.PointerTo(t)
		return p.Implements(jsonMarshaler) || p.Implements(textMarshaler)
	}
	return false
}

// canHoldNil reports whether a value of t may hold a nil slice or map that
// encoding/json would write as null: a slice, a map or an interface reached
// through fields, pointers and arrays, not inside a type that encodes
// itself.
func canHoldNil(t reflect.Type, seen map[reflect.Type]bool) bool {
	if ownEncoding(t) {
		return false
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Map, reflect.Interface:
		return true
	case reflect.Pointer, reflect.Array:
		return canHoldNil(t.Elem(), seen)
	case reflect.Struct:
		if seen[t] {
			return false // already being looked at, higher up
		}
		seen[t] = true
		for i := range t.NumField() {
			f := t.Field(i)
			if !encodedField(f) {
				continue
			}
			if canHoldNil(f.Type, seen) {
				return true
			}
		}
	}
	return false
}

// encodedField reports whether encoding/json may encode struct field f (or,
// embedded, the fields it promotes). Shadowed fields are not told apart:
// checking one encoding/json leaves out costs a little, never a wrong byte.
func encodedField(f reflect.StructField) bool {
	tag := f.Tag.Get("json")
	if tag == "-" {
		return false
	}
	if f.Anonymous {
		t := f.Type
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		return f.IsExported() || t.Kind() == reflect.Struct
	}
	return f.IsExported()
}
