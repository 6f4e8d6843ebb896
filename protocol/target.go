package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
)

// Target is one invalidation target: a context, optionally scoped by
// parameters and, in JSON bodies only, narrowed to one function of it.
//
// Names (Context, Function and parameter names) consist of the bytes
// A-Z a-z 0-9 _ - . and are never empty.
type Target struct {
	// Context is the context name. It is required.
	Context string

	// Function optionally names one function of the context. It travels in
	// JSON bodies only; the header names the context.
	Function string

	// Params scopes the target to the instances of the context whose
	// parameters have these values. Nil or empty means broad: every instance.
	// Values are strings, booleans, any Go integer kind, or a float64 (or
	// float32) holding an integral value, as decoding JSON produces; see
	// [Stringify].
	Params map[string]any
}

// Broad returns the broad target of context: every instance of it.
func Broad(context string) Target {
	return Target{Context: context}
}

// IsBroad reports whether t has no parameters, and so names every instance
// of its context.
func (t Target) IsBroad() bool {
	return len(t.Params) == 0
}

// MarshalJSON encodes t in the shortest body form (docs/spec.md §3): a broad
// target without a function as the JSON string "user", any other as
// {"context":"user","function":"user_profile","params":{"user_id":5}} with
// "function" omitted when empty and "params" omitted when empty. Parameters
// are sorted by name; values keep their JSON types (integers as numbers,
// booleans as booleans, strings as strings).
//
// It is an error for a name to be empty or invalid, or for a value not to
// be accepted by [Stringify].
func (t Target) MarshalJSON() ([]byte, error) {
	if err := checkName("context", t.Context); err != nil {
		return nil, err
	}
	if t.Function == "" && len(t.Params) == 0 {
		return appendJSONString(nil, t.Context), nil
	}
	b := append(make([]byte, 0, 64), `{"context":`...)
	b = appendJSONString(b, t.Context)
	if t.Function != "" {
		if err := checkName("function", t.Function); err != nil {
			return nil, err
		}
		b = append(b, `,"function":`...)
		b = appendJSONString(b, t.Function)
	}
	if len(t.Params) > 0 {
		b = append(b, `,"params":{`...)
		var arr [8]string
		for i, name := range sortedKeys(arr[:0], t.Params) {
			if err := checkName("param", name); err != nil {
				return nil, err
			}
			sv, err := scalarOf(t.Params[name])
			if err != nil {
				return nil, fmt.Errorf("protocol: target %q: param %q: %w", t.Context, name, err)
			}
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, name)
			b = append(b, ':')
			if sv.kind == kindString {
				b = appendJSONString(b, sv.s)
			} else {
				b = sv.appendTo(b)
			}
		}
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

// AppendTargets appends the JSON array of targets, each in the body form
// [Target.MarshalJSON] writes: the "invalidate" member of a call's response
// and of a pushed invalidation.
func AppendTargets(dst []byte, targets []Target) ([]byte, error) {
	dst = append(dst, '[')
	for i, t := range targets {
		if i > 0 {
			dst = append(dst, ',')
		}
		b, err := t.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("protocol: encoding target %s: %w", t.Context, err)
		}
		dst = append(dst, b...)
	}
	return append(dst, ']'), nil
}

// UnmarshalJSON decodes any of the three body forms of a target:
// "user", {"context":"user","params":{...}} and
// {"context":"user","function":"user_profile","params":{...}}.
//
// It refuses an empty or invalid name, a missing context, unknown or
// repeated keys, and parameter values other than strings, booleans and
// integral numbers (null, objects, arrays and numbers with a fractional
// part are refused). A null "function" or "params" counts as absent.
// Numbers decode to int64, or to uint64 above [math.MaxInt64]. Params is nil
// for a broad target.
func (t *Target) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("protocol: target: %w", err)
	}
	var out Target
	switch x := tok.(type) {
	case string:
		out.Context = x
	case json.Delim:
		if x != '{' {
			return errTargetShape
		}
		if out, err = decodeTargetObject(dec); err != nil {
			return err
		}
	default:
		return errTargetShape
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("protocol: target: trailing data after value")
	}
	if err := checkName("context", out.Context); err != nil {
		return err
	}
	*t = out
	return nil
}

var errTargetShape = errors.New("protocol: target must be a JSON string or object")

// decodeTargetObject decodes the members of a target object whose opening
// brace dec has already read.
func decodeTargetObject(dec *json.Decoder) (Target, error) {
	var t Target
	var seenContext, seenFunction, seenParams bool
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return t, fmt.Errorf("protocol: target: %w", err)
		}
		key, _ := tok.(string)
		switch key {
		case "context":
			if seenContext {
				return t, errors.New(`protocol: target: repeated key "context"`)
			}
			seenContext = true
			if t.Context, err = stringMember(dec, "context", false); err != nil {
				return t, err
			}
		case "function":
			if seenFunction {
				return t, errors.New(`protocol: target: repeated key "function"`)
			}
			seenFunction = true
			if t.Function, err = stringMember(dec, "function", true); err != nil {
				return t, err
			}
			if t.Function != "" {
				if err := checkName("function", t.Function); err != nil {
					return t, err
				}
			}
		case "params":
			if seenParams {
				return t, errors.New(`protocol: target: repeated key "params"`)
			}
			seenParams = true
			if t.Params, err = decodeParams(dec); err != nil {
				return t, err
			}
		default:
			return t, fmt.Errorf("protocol: target: unknown key %q", key)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return t, fmt.Errorf("protocol: target: %w", err)
	}
	if !seenContext {
		return t, errors.New(`protocol: target: missing "context"`)
	}
	return t, nil
}

// stringMember reads a member value that must be a JSON string (or null,
// when nullable, giving "").
func stringMember(dec *json.Decoder, key string, nullable bool) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", fmt.Errorf("protocol: target: %w", err)
	}
	switch x := tok.(type) {
	case string:
		return x, nil
	case nil:
		if nullable {
			return "", nil
		}
	}
	return "", fmt.Errorf("protocol: target: %q must be a string", key)
}

// decodeParams reads the value of "params": an object of scalars, or null.
func decodeParams(dec *json.Decoder) (map[string]any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("protocol: target: %w", err)
	}
	if tok == nil {
		return nil, nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New(`protocol: target: "params" must be an object`)
	}
	var params map[string]any
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("protocol: target: %w", err)
		}
		name, _ := tok.(string)
		if err := checkName("param", name); err != nil {
			return nil, err
		}
		if _, dup := params[name]; dup {
			return nil, fmt.Errorf("protocol: target: repeated param %q", name)
		}
		if tok, err = dec.Token(); err != nil {
			return nil, fmt.Errorf("protocol: target: %w", err)
		}
		var v any
		switch x := tok.(type) {
		case string, bool:
			v = x
		case json.Number:
			sv, err := numberScalar(string(x))
			if err != nil {
				return nil, fmt.Errorf("protocol: target: param %q: %w", name, err)
			}
			if sv.kind == kindUint {
				v = sv.u
			} else {
				v = sv.i
			}
		case nil:
			return nil, fmt.Errorf("protocol: target: param %q is null", name)
		default:
			return nil, fmt.Errorf("protocol: target: param %q must be a string, number or boolean", name)
		}
		if params == nil {
			params = make(map[string]any)
		}
		params[name] = v
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, fmt.Errorf("protocol: target: %w", err)
	}
	return params, nil
}

// validName reports whether s is a valid context, function or parameter
// name: one or more of the bytes A-Z a-z 0-9 _ - .
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !nameByte[s[i]] {
			return false
		}
	}
	return true
}

var nameByte = func() (t [256]bool) {
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
		t[c+'a'-'A'] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	t['_'], t['-'], t['.'] = true, true, true
	return t
}()

// checkName returns an error naming what (context, function, param) when
// name is not valid.
func checkName(what, name string) error {
	if validName(name) {
		return nil
	}
	if name == "" {
		return fmt.Errorf("protocol: empty %s name", what)
	}
	return fmt.Errorf("protocol: invalid %s name %q", what, name)
}

// sortedKeys appends the keys of m to dst, sorted. With a dst backed by a
// small array on the caller's stack, maps of few keys sort without
// allocating.
func sortedKeys[V any](dst []string, m map[string]V) []string {
	for k := range m {
		dst = append(dst, k)
	}
	slices.Sort(dst)
	return dst
}
