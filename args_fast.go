package mizan

import (
	"encoding"
	"encoding/json"
	"reflect"
	"strconv"
	"unicode/utf8"
)

// The fast path of decodeJSON. The exact path decodes the arguments object
// into a map of raw values and then each value into its field: three passes
// over the bytes and a map per call, so that each bad argument can be named.
// Most calls are good, so decodeJSON first tries one pass into a shadow
// struct (one pointer field per parameter, tagged with its name) and falls
// back to the exact path whenever that does not succeed cleanly: an unknown
// or inexactly spelled key, a key given twice, a key with an escape, invalid UTF-8, a value of the wrong type,
// a missing required argument. A call the fast path accepts is one the exact
// path accepts with the same result (FuzzArgsFastPath checks it).
//
// Before that one pass, decodeQuick reads the commonest arguments without
// encoding/json at all: a flat object of strings without escapes, integers
// and booleans, for functions whose every parameter is such a scalar. It
// validates what it reads as strictly as the protocol's decoding of a
// request body does (so that call/ can skip that decoding when it
// succeeds, call.go), and leaves everything else to the pass above.

// shadowType returns the struct type the fast path decodes into, or nil
// when the arguments have no parameters.
func shadowType(params []param) reflect.Type {
	if len(params) == 0 {
		return nil
	}
	fields := make([]reflect.StructField, len(params))
	for i, p := range params {
		fields[i] = reflect.StructField{
			Name: "F" + strconv.Itoa(i),
			Type: reflect.PointerTo(p.typ),
			Tag:  reflect.StructTag(`json:` + strconv.Quote(p.name)),
		}
	}
	return reflect.StructOf(fields)
}

// decodeFast decodes raw, a valid JSON object, into dst in one pass. It
// reports false, leaving dst as it was, when the exact path must decide.
func (s *argSchema) decodeFast(raw []byte, dst reflect.Value) (presence, bool) {
	var seen presence
	once := func(key []byte) bool { // a known key, not seen before
		i, ok := s.byName[string(key)]
		if !ok || seen.has(i) {
			return false
		}
		seen.set(i)
		return true
	}
	if s.shadow == nil {
		return 0, false
	}
	if given, ok := s.decodeQuick(raw, dst); ok {
		return given, true
	}
	// encoding/json replaces invalid UTF-8 with U+FFFD where the exact
	// path refuses it, so such bytes anywhere go to the exact path.
	if !utf8.Valid(raw) || !objectKeys(raw, once) {
		return 0, false
	}
	sv := reflect.New(s.shadow)
	// Every key is exactly a parameter's name, so encoding/json's
	// case-insensitive matching cannot pick a field the exact path would
	// call unknown.
	if err := json.Unmarshal(raw, sv.Interface()); err != nil {
		return 0, false
	}
	shadow := sv.Elem()
	for i := range s.params {
		if shadow.Field(i).IsNil() && !s.params[i].optional {
			// absent, or null: the exact path tells which, and whether
			// that is allowed
			return 0, false
		}
	}
	var given presence
	for i := range s.params {
		fp := shadow.Field(i)
		if fp.IsNil() {
			continue
		}
		dst.FieldByIndex(s.params[i].index).Set(fp.Elem())
		given.set(i)
	}
	return given, true
}

// objectKeys reports whether raw, which must be valid JSON, is an object
// whose every top-level key, unescaped as written, passes ok. A key with an
// escape sequence fails.
func objectKeys(raw []byte, ok func(key []byte) bool) bool {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return false
	}
	i = skipSpace(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		return true
	}
	for {
		if i >= len(raw) || raw[i] != '"' {
			return false
		}
		j := i + 1
		for j < len(raw) && raw[j] != '"' {
			if raw[j] == '\\' {
				return false
			}
			j++
		}
		if j >= len(raw) || !ok(raw[i+1:j]) {
			return false
		}
		i = skipSpace(raw, j+1)
		if i >= len(raw) || raw[i] != ':' {
			return false
		}
		if i = skipValue(raw, skipSpace(raw, i+1)); i < 0 {
			return false
		}
		i = skipSpace(raw, i)
		if i >= len(raw) {
			return false
		}
		switch raw[i] {
		case ',':
			i = skipSpace(raw, i+1)
		case '}':
			return true
		default:
			return false
		}
	}
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON whitespace.
func skipSpace(raw []byte, i int) int {
	for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\n' || raw[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the index just past the JSON value starting at i, or -1.
func skipValue(raw []byte, i int) int {
	depth := 0
	for i < len(raw) {
		switch c := raw[i]; c {
		case '"':
			if i = skipString(raw, i); i < 0 || depth == 0 {
				return i
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i // the end of the enclosing object
			}
			if depth--; depth == 0 {
				return i + 1
			}
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return i
			}
		}
		i++
	}
	if depth == 0 {
		return i
	}
	return -1
}

// skipString returns the index just past the JSON string starting at i, or
// -1.
func skipString(raw []byte, i int) int {
	for j := i + 1; j < len(raw); j++ {
		switch raw[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// maxQuickParams bounds the parameters of a function decodeQuick reads.
const maxQuickParams = 16

var (
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	jsonNumberType      = reflect.TypeFor[json.Number]()
)

// quickSchema reports whether decodeQuick can read arguments of params:
// at most maxQuickParams, each a string, boolean or integer kind (or a
// pointer to one) that encoding/json decodes as its kind: not a
// json.Number, and without an UnmarshalJSON or UnmarshalText method.
func quickSchema(params []param) bool {
	if len(params) > maxQuickParams {
		return false
	}
	for _, p := range params {
		if !isScalarKind(p.base.Kind()) || p.base == jsonNumberType {
			return false // encoding/json reads numbers and strings into a json.Number
		}
		for _, t := range []reflect.Type{p.base, reflect.PointerTo(p.base)} {
			if t.Implements(jsonUnmarshalerType) || t.Implements(textUnmarshalerType) {
				return false
			}
		}
	}
	return true
}

// quickVal is one argument read by decodeQuick: a string, or the bits of
// an integer or a boolean.
type quickVal struct {
	s string
	n uint64
}

// decodeQuick fills dst from raw, a JSON object of arguments, without
// encoding/json, and reports which were given. It takes only what it can
// read exactly and check completely: valid UTF-8, an object whose every
// key is exactly a parameter's name, given once, without escapes, whose
// values are strings without escapes, integers within the parameter's
// range and booleans, of the parameter's kind, every required argument
// present, nothing after the object but white space. It reports false,
// leaving dst as it was, for anything else (null included), which the
// other paths decide.
func (s *argSchema) decodeQuick(raw []byte, dst reflect.Value) (presence, bool) {
	if !s.quick || !utf8.Valid(raw) {
		return 0, false
	}
	var vals [maxQuickParams]quickVal
	var seen presence
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return 0, false
	}
	i = skipSpace(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		i++
	} else {
		for {
			key, j, ok := quickString(raw, i)
			if !ok {
				return 0, false
			}
			k, known := s.byName[string(key)]
			if !known || seen.has(k) {
				return 0, false
			}
			seen.set(k)
			i = skipSpace(raw, j)
			if i >= len(raw) || raw[i] != ':' {
				return 0, false
			}
			if i, ok = s.params[k].quickValue(raw, skipSpace(raw, i+1), &vals[k]); !ok {
				return 0, false
			}
			i = skipSpace(raw, i)
			if i >= len(raw) {
				return 0, false
			}
			if raw[i] == ',' {
				i = skipSpace(raw, i+1)
				continue
			}
			if raw[i] != '}' {
				return 0, false
			}
			i++
			break
		}
	}
	if skipSpace(raw, i) != len(raw) {
		return 0, false
	}
	for k := range s.params {
		if !seen.has(k) && !s.params[k].optional {
			return 0, false // the exact path says "required"
		}
	}
	for k := range s.params {
		if seen.has(k) {
			s.params[k].setQuick(dst, vals[k])
		}
	}
	return seen, true
}

// quickString reads the JSON string at raw[i] when it has neither an
// escape nor a control character: its content, and the index past it.
func quickString(raw []byte, i int) ([]byte, int, bool) {
	if i >= len(raw) || raw[i] != '"' {
		return nil, 0, false
	}
	for j := i + 1; j < len(raw); j++ {
		switch c := raw[j]; {
		case c == '"':
			return raw[i+1 : j], j + 1, true
		case c == '\\' || c < 0x20:
			return nil, 0, false
		}
	}
	return nil, 0, false
}

// quickValue reads the value of p at raw[i] into v, as encoding/json
// would decode it into p's kind, and returns the index past it. The
// caller checks what follows (a number such as 1.5 or 1e2 stops at a byte
// that is neither white space, ',' nor '}').
func (p *param) quickValue(raw []byte, i int, v *quickVal) (int, bool) {
	if i >= len(raw) {
		return 0, false
	}
	switch k := p.base.Kind(); k {
	case reflect.String:
		b, j, ok := quickString(raw, i)
		if !ok {
			return 0, false
		}
		v.s = string(b)
		return j, true
	case reflect.Bool:
		switch {
		case len(raw)-i >= 4 && string(raw[i:i+4]) == "true":
			v.n = 1
			return i + 4, true
		case len(raw)-i >= 5 && string(raw[i:i+5]) == "false":
			return i + 5, true
		}
		return 0, false
	default: // an integer kind (quickSchema)
		neg := raw[i] == '-'
		j := i
		if neg {
			j++
		}
		start := j
		var n uint64
		for ; j < len(raw) && raw[j] >= '0' && raw[j] <= '9'; j++ {
			d := uint64(raw[j] - '0')
			if n > (^uint64(0)-d)/10 {
				return 0, false
			}
			n = n*10 + d
		}
		if j == start || (raw[start] == '0' && j-start > 1) {
			return 0, false // no digits, or a leading zero: not JSON
		}
		bits := p.base.Bits()
		switch k {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			limit := uint64(1) << (bits - 1) // -limit ≤ value ≤ limit-1
			if neg && n > limit || !neg && n >= limit {
				return 0, false
			}
			if neg {
				n = -n
			}
		default: // unsigned: encoding/json refuses a sign, even "-0"
			if neg || bits < 64 && n >= uint64(1)<<bits {
				return 0, false
			}
		}
		v.n = n
		return j, true
	}
}

// setQuick stores v, read by quickValue, in p's field of dst.
func (p *param) setQuick(dst reflect.Value, v quickVal) {
	f := dst.FieldByIndex(p.index)
	if p.nullable {
		ptr := reflect.New(p.base)
		f.Set(ptr)
		f = ptr.Elem()
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(v.s)
	case reflect.Bool:
		f.SetBool(v.n != 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		f.SetInt(int64(v.n))
	default:
		f.SetUint(v.n)
	}
}
