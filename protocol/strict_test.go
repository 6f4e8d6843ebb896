package protocol

import (
	"errors"
	"testing"
)

func TestUnmarshalStrict(t *testing.T) {
	type body struct {
		Fn   string   `json:"fn"`
		Args RawValue `json:"args"`
	}
	for _, tc := range []struct {
		in     string
		ok     bool
		dup    bool
		nonObj bool
		wantFn string
	}{
		{in: ` {"fn":"a","args":{}}`, ok: true, wantFn: "a"},
		{in: `{"f\u006e":"a"}`, ok: true, wantFn: "a"},
		{in: `{"FN":"a"}`},
		{in: `{"fn":"a","fn":"b"}`, dup: true},
		{in: `{"fn":"a","x":1}`},
		{in: `{"fn":"a"} {}`},
		{in: "{\"fn\":\"\xff\"}"},
		{in: `null`, nonObj: true},
		{in: ` [{"fn":"a"}]`, nonObj: true},
		{in: `42`, nonObj: true},
		{in: ``, nonObj: true},
		{in: "\ufeff{}", nonObj: true},
	} {
		var b body
		err := UnmarshalStrict([]byte(tc.in), &b)
		if (err == nil) != tc.ok {
			t.Errorf("%q: err %v, want ok %v", tc.in, err, tc.ok)
			continue
		}
		if tc.ok && b.Fn != tc.wantFn {
			t.Errorf("%q: fn %q, want %q", tc.in, b.Fn, tc.wantFn)
		}
		if IsDuplicateName(err) != tc.dup {
			t.Errorf("%q: IsDuplicateName(%v) = %v, want %v", tc.in, err, !tc.dup, tc.dup)
		}
		if errors.Is(err, ErrNotObject) != tc.nonObj {
			t.Errorf("%q: errors.Is(%v, ErrNotObject) = %v, want %v", tc.in, err, !tc.nonObj, tc.nonObj)
		}
	}
}
