package mizan

import (
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
	// encoding/json replaces invalid UTF-8 with U+FFFD where the exact
	// path refuses it, so such bytes anywhere go to the exact path.
	if s.shadow == nil || !utf8.Valid(raw) || !objectKeys(raw, once) {
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
