package protocol

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"unicode/utf8"
)

// Stringify turns a parameter value into its wire string (docs/spec.md §4):
// integers in decimal, booleans as "true" or "false", strings unchanged.
//
// Any Go integer kind is accepted, including named types such as
// type UserID int64. A float64 or float32 is accepted only when it holds an
// integral value that fits an int64 or uint64 (as decoding JSON into an any
// produces); it prints as an integer. A [json.Number] is accepted on the same
// terms ("5", "5.0" and "5e0" all give "5"). Strings must be valid UTF-8.
// Any other float, nil and any other type are an error.
func Stringify(v any) (string, error) {
	sv, err := scalarOf(v)
	if err != nil {
		return "", fmt.Errorf("protocol: %w", err)
	}
	return sv.String(), nil
}

// StringParams returns the [Stringify] form of every value of p. The error,
// if any, names the offending parameter. A nil or empty p gives an empty,
// non-nil map.
func StringParams(p map[string]any) (map[string]string, error) {
	out := make(map[string]string, len(p))
	for name, v := range p {
		s, err := stringifyParam(name, v)
		if err != nil {
			return nil, err
		}
		out[name] = s
	}
	return out, nil
}

func stringifyParam(name string, v any) (string, error) {
	sv, err := scalarOf(v)
	if err != nil {
		return "", fmt.Errorf("protocol: param %q: %w", name, err)
	}
	return sv.String(), nil
}

type scalarKind uint8

const (
	kindInt scalarKind = iota
	kindUint
	kindBool
	kindString
)

// scalar is a parameter value reduced to one of the four wire shapes.
// kindUint is used only for values above math.MaxInt64.
type scalar struct {
	kind scalarKind
	i    int64
	u    uint64
	b    bool
	s    string
}

// String returns the wire string of sv.
func (sv scalar) String() string {
	if sv.kind == kindString {
		return sv.s
	}
	var buf [24]byte
	return string(sv.appendTo(buf[:0]))
}

// appendTo appends the wire string of a non-string scalar to dst. Such
// strings only hold bytes that need no escaping in a header or JSON.
func (sv scalar) appendTo(dst []byte) []byte {
	switch sv.kind {
	case kindBool:
		return strconv.AppendBool(dst, sv.b)
	case kindUint:
		return strconv.AppendUint(dst, sv.u, 10)
	default:
		return strconv.AppendInt(dst, sv.i, 10)
	}
}

var errNilValue = errors.New("nil value")

// scalarOf classifies v. Errors carry no package prefix; callers add it.
func scalarOf(v any) (scalar, error) {
	switch x := v.(type) {
	case string:
		return stringScalar(x)
	case int:
		return scalar{kind: kindInt, i: int64(x)}, nil
	case int64:
		return scalar{kind: kindInt, i: x}, nil
	case bool:
		return scalar{kind: kindBool, b: x}, nil
	case int32:
		return scalar{kind: kindInt, i: int64(x)}, nil
	case int16:
		return scalar{kind: kindInt, i: int64(x)}, nil
	case int8:
		return scalar{kind: kindInt, i: int64(x)}, nil
	case uint:
		return uintScalar(uint64(x)), nil
	case uint64:
		return uintScalar(x), nil
	case uint32:
		return uintScalar(uint64(x)), nil
	case uint16:
		return uintScalar(uint64(x)), nil
	case uint8:
		return uintScalar(uint64(x)), nil
	case uintptr:
		return uintScalar(uint64(x)), nil
	case float64:
		return floatScalar(x)
	case float32:
		return floatScalar(float64(x))
	case json.Number:
		return numberScalar(string(x))
	case nil:
		return scalar{}, errNilValue
	}
	return reflectScalar(v)
}

// reflectScalar handles named types whose underlying kind is supported.
func reflectScalar(v any) (scalar, error) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String:
		return stringScalar(rv.String())
	case reflect.Bool:
		return scalar{kind: kindBool, b: rv.Bool()}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return scalar{kind: kindInt, i: rv.Int()}, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return uintScalar(rv.Uint()), nil
	case reflect.Float32, reflect.Float64:
		return floatScalar(rv.Float())
	}
	return scalar{}, fmt.Errorf("unsupported value type %T", v)
}

func stringScalar(s string) (scalar, error) {
	if !utf8.ValidString(s) {
		return scalar{}, errors.New("string value is not valid UTF-8")
	}
	return scalar{kind: kindString, s: s}, nil
}

func uintScalar(u uint64) scalar {
	if u <= math.MaxInt64 {
		return scalar{kind: kindInt, i: int64(u)}
	}
	return scalar{kind: kindUint, u: u}
}

// floatScalar accepts integral floats in [-2^63, 2^64), the range in which
// the conversion to an integer is exact.
func floatScalar(f float64) (scalar, error) {
	if f != math.Trunc(f) || math.IsInf(f, 0) {
		return scalar{}, fmt.Errorf("float value %v is not an integer", f)
	}
	switch {
	case f >= -(1<<63) && f < 1<<63:
		return scalar{kind: kindInt, i: int64(f)}, nil
	case f >= 1<<63 && f < 1<<64:
		return scalar{kind: kindUint, u: uint64(f)}, nil
	}
	return scalar{}, fmt.Errorf("float value %v is out of integer range", f)
}

// numberScalar accepts a JSON number literal whose value is an integer that
// fits an int64 or uint64. Literals with a fraction or exponent ("5.0",
// "1e3") are accepted when their value is integral; the conversion is exact.
func numberScalar(lit string) (scalar, error) {
	if i, err := strconv.ParseInt(lit, 10, 64); err == nil {
		return scalar{kind: kindInt, i: i}, nil
	}
	if u, err := strconv.ParseUint(lit, 10, 64); err == nil {
		return uintScalar(u), nil
	}
	digits, neg, ok := integralDigits(lit)
	if !ok {
		return scalar{}, fmt.Errorf("number %s is not a 64-bit integer", lit)
	}
	if neg {
		digits = "-" + digits
	}
	if i, err := strconv.ParseInt(digits, 10, 64); err == nil {
		return scalar{kind: kindInt, i: i}, nil
	}
	if u, err := strconv.ParseUint(digits, 10, 64); err == nil {
		return uintScalar(u), nil
	}
	return scalar{}, fmt.Errorf("number %s is not a 64-bit integer", lit)
}

// integralDigits rewrites a JSON number literal as the decimal digits of its
// integer value. ok is false when the literal is malformed, not integral, or
// has more than 20 integer digits (beyond any uint64).
func integralDigits(lit string) (digits string, neg, ok bool) {
	s := lit
	if s != "" && s[0] == '-' {
		neg, s = true, s[1:]
	}
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	intPart := s[:i]
	if intPart == "" {
		return "", false, false
	}
	s = s[i:]
	var frac string
	if s != "" && s[0] == '.' {
		j := 1
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		frac, s = s[1:j], s[j:]
		if frac == "" {
			return "", false, false
		}
	}
	exp := 0
	if s != "" && (s[0] == 'e' || s[0] == 'E') {
		s = s[1:]
		expNeg := false
		if s != "" && (s[0] == '+' || s[0] == '-') {
			expNeg, s = s[0] == '-', s[1:]
		}
		if s == "" {
			return "", false, false
		}
		for _, c := range []byte(s) {
			if !isDigit(c) {
				return "", false, false
			}
			if exp < 1e6 { // saturate: anything larger is out of range anyway
				exp = exp*10 + int(c-'0')
			}
		}
		if expNeg {
			exp = -exp
		}
		s = ""
	}
	if s != "" {
		return "", false, false
	}
	// The value is 0.<all> × 10^point.
	all := intPart + frac
	point := len(intPart) + exp
	for all != "" && all[0] == '0' {
		all, point = all[1:], point-1
	}
	for all != "" && all[len(all)-1] == '0' {
		all = all[:len(all)-1]
	}
	if all == "" {
		return "0", false, true
	}
	if point < len(all) || point > 20 {
		return "", false, false
	}
	buf := make([]byte, point)
	copy(buf, all)
	for k := len(all); k < point; k++ {
		buf[k] = '0'
	}
	return string(buf), neg, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
