package protocol

import (
	"errors"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// RawValue is a raw JSON value inside a request body that [UnmarshalStrict]
// leaves undecoded (a call's "args").
type RawValue = jsontext.Value

// UnmarshalStrict decodes the JSON text b into v as every request body of
// the protocol is decoded (docs/spec.md §13.4): member names match exactly,
// case included; a member named twice, a member v does not declare, invalid
// UTF-8 and trailing data are errors, and so is any value but an object
// ([ErrNotObject]): a body of null, a number or an array is not a request.
func UnmarshalStrict(b []byte, v any) error {
	if !isObject(b) {
		return ErrNotObject
	}
	return jsonv2.Unmarshal(b, v, jsonv2.RejectUnknownMembers(true))
}

// ErrNotObject is the error of [UnmarshalStrict] when the JSON text is not
// an object.
var ErrNotObject = errors.New("protocol: JSON text is not an object")

// isObject reports whether the first byte after JSON white space is '{'.
func isObject(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c == '{'
	}
	return false
}

// IsDuplicateName reports whether err says an object named a member twice.
func IsDuplicateName(err error) bool {
	return errors.Is(err, jsontext.ErrDuplicateName)
}
