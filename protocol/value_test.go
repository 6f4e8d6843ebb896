package protocol

import (
	"encoding/json"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"
)

type userID int64
type status string
type flag bool
type small uint8

func TestStringify(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"int", 5, "5"},
		{"negative", -42, "-42"},
		{"zero", 0, "0"},
		{"int64 min", int64(math.MinInt64), "-9223372036854775808"},
		{"int64 max", int64(math.MaxInt64), "9223372036854775807"},
		{"uint64 max", uint64(math.MaxUint64), "18446744073709551615"},
		{"int8", int8(-128), "-128"},
		{"int16", int16(300), "300"},
		{"int32", int32(-70000), "-70000"},
		{"uint", uint(7), "7"},
		{"uint8", uint8(255), "255"},
		{"uint16", uint16(65535), "65535"},
		{"uint32", uint32(math.MaxUint32), "4294967295"},
		{"uintptr", uintptr(9), "9"},
		{"true", true, "true"},
		{"false", false, "false"},
		{"string", "Ryth", "Ryth"},
		{"empty string", "", ""},
		{"string unchanged", "a,b;c=d é", "a,b;c=d é"},
		{"float64 integral", float64(5), "5"},
		{"float64 negative zero", math.Copysign(0, -1), "0"},
		{"float64 -2^63", float64(math.MinInt64), "-9223372036854775808"},
		{"float64 2^63", float64(1 << 63), "9223372036854775808"},
		{"float64 2^53+2", float64(1<<53 + 2), "9007199254740994"},
		{"float32 integral", float32(-12), "-12"},
		{"json.Number", json.Number("42"), "42"},
		{"json.Number exponent", json.Number("1.5e1"), "15"},
		{"json.Number uint64", json.Number("18446744073709551615"), "18446744073709551615"},
		{"named int", userID(5), "5"},
		{"named uint", small(3), "3"},
		{"named string", status("open"), "open"},
		{"named bool", flag(true), "true"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Stringify(tc.in)
			if err != nil {
				t.Fatalf("Stringify(%#v): %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("Stringify(%#v) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestStringifyErrors(t *testing.T) {
	tests := []struct {
		name    string
		in      any
		wantErr string
	}{
		{"nil", nil, "nil value"},
		{"float", 1.5, "not an integer"},
		{"float32", float32(0.25), "not an integer"},
		{"NaN", math.NaN(), "not an integer"},
		{"+Inf", math.Inf(1), "not an integer"},
		{"-Inf", math.Inf(-1), "not an integer"},
		{"float 2^64", float64(1 << 64), "out of integer range"},
		{"float -2^64", -float64(1 << 64), "out of integer range"},
		{"float 1e300", 1e300, "out of integer range"},
		{"invalid UTF-8", "\xff", "UTF-8"},
		{"json.Number fraction", json.Number("1.5"), "not a 64-bit integer"},
		{"json.Number too big", json.Number("18446744073709551616"), "not a 64-bit integer"},
		{"json.Number garbage", json.Number("0x10"), "not a 64-bit integer"},
		{"slice", []int{1}, "unsupported value type []int"},
		{"map", map[string]any{}, "unsupported value type"},
		{"pointer", new(int), "unsupported value type *int"},
		{"struct", struct{}{}, "unsupported value type"},
		{"complex", complex(1, 0), "unsupported value type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Stringify(tc.in)
			if err == nil {
				t.Fatalf("Stringify(%#v) = %q, want an error", tc.in, got)
			}
			if !strings.HasPrefix(err.Error(), "protocol: ") || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Stringify(%#v) error %q, want prefix \"protocol: \" and %q", tc.in, err, tc.wantErr)
			}
		})
	}
}

func TestStringParams(t *testing.T) {
	got, err := StringParams(map[string]any{"user_id": 5, "open": true, "q": "x", "f": float64(2)})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"user_id": "5", "open": "true", "q": "x", "f": "2"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("StringParams = %v, want %v", got, want)
	}
	if got, err := StringParams(nil); err != nil || got == nil || len(got) != 0 {
		t.Errorf("StringParams(nil) = %#v, %v; want an empty map", got, err)
	}
	_, err = StringParams(map[string]any{"ok": 1, "price": 9.99})
	if err == nil || !strings.HasPrefix(err.Error(), `protocol: param "price": `) {
		t.Errorf("StringParams error = %v, want one naming param \"price\"", err)
	}
}

func TestNumberScalar(t *testing.T) {
	tests := []struct {
		lit  string
		want any // int64, uint64, or nil for an error
	}{
		{"0", int64(0)},
		{"-0", int64(0)},
		{"-0.0e5", int64(0)},
		{"0e99999999999", int64(0)},
		{"5", int64(5)},
		{"-5", int64(-5)},
		{"5.0", int64(5)},
		{"5.000", int64(5)},
		{"1e3", int64(1000)},
		{"1E+3", int64(1000)},
		{"12.5e1", int64(125)},
		{"1250e-1", int64(125)},
		{"0.5e1", int64(5)},
		{"00012", int64(12)}, // not JSON, but harmless: only literals from a decoder reach here
		{"9223372036854775807", int64(math.MaxInt64)},
		{"-9223372036854775808", int64(math.MinInt64)},
		{"9223372036854775808", uint64(1 << 63)},
		{"9.223372036854775808e18", uint64(1 << 63)},
		{"18446744073709551615", uint64(math.MaxUint64)},
		{"-9223372036854775809", nil},
		{"18446744073709551616", nil},
		{"1.8446744073709551616e19", nil},
		{"1e20", nil},
		{"1e999999999999", nil},
		{"5.5", nil},
		{"1e-1", nil},
		{"1250e-2", nil},
		{"", nil},
		{"-", nil},
		{".5", nil},
		{"5.", nil},
		{"5e", nil},
		{"5e+", nil},
		{"5x", nil},
		{"5.0x", nil},
		{"1e5x", nil},
	}
	for _, tc := range tests {
		t.Run(tc.lit, func(t *testing.T) {
			sv, err := numberScalar(tc.lit)
			if tc.want == nil {
				if err == nil {
					t.Fatalf("numberScalar(%q) = %+v, want an error", tc.lit, sv)
				}
				return
			}
			if err != nil {
				t.Fatalf("numberScalar(%q): %v", tc.lit, err)
			}
			var got any = sv.i
			if sv.kind == kindUint {
				got = sv.u
			}
			if got != tc.want {
				t.Errorf("numberScalar(%q) = %#v, want %#v", tc.lit, got, tc.want)
			}
		})
	}
}

// TestCacheKeyVectorsStringify checks the typed params of the cache-key
// vectors stringify to their string params (docs/spec.md §4, §6).
func TestCacheKeyVectorsStringify(t *testing.T) {
	b, err := os.ReadFile("../testdata/vectors/cache-keys.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Cases []struct {
			Name        string            `json:"name"`
			Params      map[string]string `json:"params"`
			ParamsTyped map[string]any    `json:"params_typed"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range v.Cases {
		if c.ParamsTyped == nil {
			continue
		}
		n++
		got, err := StringParams(c.ParamsTyped)
		if err != nil {
			t.Errorf("%s: %v", c.Name, err)
			continue
		}
		if !reflect.DeepEqual(got, c.Params) {
			t.Errorf("%s: StringParams(%v) = %v, want %v", c.Name, c.ParamsTyped, got, c.Params)
		}
	}
	if n == 0 {
		t.Fatal("no cache-key vector has params_typed")
	}
}
