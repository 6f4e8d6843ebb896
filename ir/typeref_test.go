package ir_test

import (
	"strings"
	"testing"

	"github.com/mizan-afi/mizan/ir"
)

func TestTypeRefSyntax(t *testing.T) {
	cases := []struct {
		src  string
		want ir.TypeRef
	}{
		{"int", ir.Scalar(ir.Int)},
		{"any", ir.Scalar(ir.Any)},
		{"time?", ir.Scalar(ir.Time).OrNull()},
		{"Profile", ir.RefTo("Profile")},
		{"Profile?", ir.RefTo("Profile").OrNull()},
		{"list<int>", ir.ListOf(ir.Scalar(ir.Int))},
		{"list<uint8,4>", func() ir.TypeRef { l := ir.ListOf(ir.Scalar(ir.Uint8)); l.Len = 4; return l }()},
		{"list<list<Order?>>?", ir.ListOf(ir.ListOf(ir.RefTo("Order").OrNull())).OrNull()},
		{"record<list<bytes>>", ir.RecordOf(ir.ListOf(ir.Scalar(ir.Bytes)))},
	}
	for _, c := range cases {
		got, err := ir.ParseTypeRef(c.src)
		if err != nil {
			t.Errorf("%s: %v", c.src, err)
			continue
		}
		if !got.Equal(c.want) {
			t.Errorf("%s parsed as %+v", c.src, got)
		}
		if got.String() != c.src {
			t.Errorf("%s printed as %s", c.src, got)
		}
	}
}

func TestTypeRefSyntaxErrors(t *testing.T) {
	cases := map[string]string{
		"":              "missing type at end",
		"integer":       `unknown type "integer"`,
		"list":          "list needs <element type>",
		"list<int":      "missing >",
		"list<int,x>":   "list length must be a non-negative integer",
		"record<int,2>": "missing >",
		"int??":         `unexpected "?"`,
		"Profile ":      `unexpected " "`,
		"list<>":        `unexpected ">"`,
	}
	for src, want := range cases {
		_, err := ir.ParseTypeRef(src)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", src, err, want)
		}
	}
}

func TestKindPredicates(t *testing.T) {
	if !ir.Int64.IsInteger() || ir.Float64.IsInteger() || !ir.Float32.IsNumber() || ir.String.IsNumber() {
		t.Error("integer and number kinds")
	}
	if !ir.Bytes.IsScalar() || ir.List.IsScalar() || ir.Ref.IsScalar() {
		t.Error("scalar kinds")
	}
}

func TestPascal(t *testing.T) {
	cases := map[string]string{
		"update_profile": "UpdateProfile",
		"user-settings":  "UserSettings",
		"a.b":            "AB",
		"userProfile":    "UserProfile",
		"user_id":        "UserId",
		"_x__y_":         "XY",
		"2fa":            "2fa",
	}
	for in, want := range cases {
		if got := ir.Pascal(in); got != want {
			t.Errorf("Pascal(%q) = %q, want %q", in, got, want)
		}
	}
}
