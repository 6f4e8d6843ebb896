package protocol

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestBroad(t *testing.T) {
	b := Broad("user")
	if b.Context != "user" || b.Function != "" || !b.IsBroad() {
		t.Errorf("Broad(%q) = %+v", "user", b)
	}
	if s := (Target{Context: "user", Params: map[string]any{"user_id": 5}}); s.IsBroad() {
		t.Error("scoped target reports broad")
	}
	if s := (Target{Context: "user", Params: map[string]any{}}); !s.IsBroad() {
		t.Error("target with empty params reports scoped")
	}
}

func TestTargetJSONRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		target Target
		json   string
	}{
		{"broad", Broad("user"), `"user"`},
		{"broad with empty params", Target{Context: "user", Params: map[string]any{}}, `"user"`},
		{"scoped", Target{Context: "user", Params: map[string]any{"user_id": int64(5)}},
			`{"context":"user","params":{"user_id":5}}`},
		{"function-level", Target{Context: "user", Function: "user_profile", Params: map[string]any{"user_id": int64(5)}},
			`{"context":"user","function":"user_profile","params":{"user_id":5}}`},
		{"function-level broad", Target{Context: "user", Function: "user_profile"},
			`{"context":"user","function":"user_profile"}`},
		{"typed values sorted", Target{Context: "orders", Params: map[string]any{
			"user_id": int64(-5), "status": "a\"b<", "open": true, "big": uint64(math.MaxUint64),
		}}, `{"context":"orders","params":{"big":18446744073709551615,"open":true,"status":"a\"b\u003c","user_id":-5}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.target)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if string(b) != tc.json {
				t.Errorf("Marshal = %s, want %s", b, tc.json)
			}
			var got Target
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("Unmarshal(%s): %v", b, err)
			}
			want := tc.target
			if len(want.Params) == 0 {
				want.Params = nil
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Unmarshal(%s) = %#v, want %#v", b, got, want)
			}
		})
	}
}

func TestTargetMarshalTypedValues(t *testing.T) {
	tg := Target{Context: "c", Params: map[string]any{"a": 5, "b": float64(7), "c": userID(9), "d": status("x"), "e": uint8(1)}}
	b, err := json.Marshal(tg)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"context":"c","params":{"a":5,"b":7,"c":9,"d":"x","e":1}}`; string(b) != want {
		t.Errorf("Marshal = %s, want %s", b, want)
	}
}

func TestTargetSliceJSON(t *testing.T) {
	in := `["user",{"context":"orders","params":{"user_id":5,"status":"open"}},{"context":"user","function":"user_profile","params":{"user_id":5}}]`
	var ts []Target
	if err := json.Unmarshal([]byte(in), &ts); err != nil {
		t.Fatal(err)
	}
	want := []Target{
		Broad("user"),
		{Context: "orders", Params: map[string]any{"user_id": int64(5), "status": "open"}},
		{Context: "user", Function: "user_profile", Params: map[string]any{"user_id": int64(5)}},
	}
	if !reflect.DeepEqual(ts, want) {
		t.Fatalf("Unmarshal = %#v, want %#v", ts, want)
	}
	b, err := json.Marshal(ts)
	if err != nil {
		t.Fatal(err)
	}
	if want := `["user",{"context":"orders","params":{"status":"open","user_id":5}},{"context":"user","function":"user_profile","params":{"user_id":5}}]`; string(b) != want {
		t.Errorf("Marshal = %s, want %s", b, want)
	}
}

func TestTargetUnmarshalJSON(t *testing.T) {
	tests := []struct {
		in   string
		want Target
	}{
		{` "user" `, Broad("user")},
		{`{"context":"user"}`, Broad("user")},
		{`{"params":{"a":1},"context":"user"}`, Target{Context: "user", Params: map[string]any{"a": int64(1)}}},
		{`{"context":"user","params":{}}`, Broad("user")},
		{`{"context":"user","params":null,"function":null}`, Broad("user")},
		{`{"context":"user","function":""}`, Broad("user")},
		{`{"context":"c","params":{"n":5.0,"m":-1e3,"u":9223372036854775808}}`,
			Target{Context: "c", Params: map[string]any{"n": int64(5), "m": int64(-1000), "u": uint64(1 << 63)}}},
		{`{"context":"c","params":{"s":"\u00e9\n","t":true,"f":false}}`,
			Target{Context: "c", Params: map[string]any{"s": "é\n", "t": true, "f": false}}},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			var got Target
			if err := got.UnmarshalJSON([]byte(tc.in)); err != nil {
				t.Fatalf("UnmarshalJSON(%s): %v", tc.in, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("UnmarshalJSON(%s) = %#v, want %#v", tc.in, got, tc.want)
			}
		})
	}
}

func TestTargetUnmarshalJSONRejects(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string
	}{
		{``, "protocol: target"},
		{`""`, "empty context name"},
		{`"us er"`, "invalid context name"},
		{`5`, "must be a JSON string or object"},
		{`null`, "must be a JSON string or object"},
		{`true`, "must be a JSON string or object"},
		{`["user"]`, "must be a JSON string or object"},
		{`"user" "x"`, "trailing data"},
		{`{"context":"user"} {}`, "trailing data"},
		{`{"context":"user"`, "protocol: target"},
		{`{}`, `missing "context"`},
		{`{"context":""}`, "empty context name"},
		{`{"context":null}`, `"context" must be a string`},
		{`{"context":5}`, `"context" must be a string`},
		{`{"context":"user","Context":"x"}`, `unknown key "Context"`},
		{`{"CONTEXT":"user"}`, `unknown key "CONTEXT"`},
		{`{"context":"user","extra":1}`, `unknown key "extra"`},
		{`{"context":"user","context":"x"}`, `repeated key "context"`},
		{`{"context":"user","function":"a","function":"b"}`, `repeated key "function"`},
		{`{"context":"user","params":{},"params":{}}`, `repeated key "params"`},
		{`{"context":"user","function":5}`, `"function" must be a string`},
		{`{"context":"user","function":"a b"}`, "invalid function name"},
		{`{"context":"user","params":[]}`, `"params" must be an object`},
		{`{"context":"user","params":"x"}`, `"params" must be an object`},
		{`{"context":"user","params":{"a":null}}`, `param "a" is null`},
		{`{"context":"user","params":{"a":{}}}`, `param "a" must be a string, number or boolean`},
		{`{"context":"user","params":{"a":[1]}}`, `param "a" must be a string, number or boolean`},
		{`{"context":"user","params":{"a":1.5}}`, `param "a": number 1.5 is not a 64-bit integer`},
		{`{"context":"user","params":{"a":1e20}}`, `param "a": number 1e20 is not a 64-bit integer`},
		{`{"context":"user","params":{"a":1,"a":2}}`, `repeated param "a"`},
		{`{"context":"user","params":{"":1}}`, "empty param name"},
		{`{"context":"user","params":{"a=b":1}}`, "invalid param name"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got := Target{Context: "untouched"}
			err := got.UnmarshalJSON([]byte(tc.in))
			if err == nil {
				t.Fatalf("UnmarshalJSON(%s) = %#v, want an error", tc.in, got)
			}
			if !strings.HasPrefix(err.Error(), "protocol: ") || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("UnmarshalJSON(%s) error %q, want prefix \"protocol: \" and %q", tc.in, err, tc.wantErr)
			}
			if got.Context != "untouched" {
				t.Errorf("UnmarshalJSON modified the target on error: %#v", got)
			}
		})
	}
}

func TestTargetMarshalJSONErrors(t *testing.T) {
	tests := []struct {
		name    string
		target  Target
		wantErr string
	}{
		{"empty context", Target{}, "empty context name"},
		{"empty context with params", Target{Params: map[string]any{"a": 1}}, "empty context name"},
		{"bad context", Target{Context: "a,b"}, "invalid context name"},
		{"bad function", Target{Context: "c", Function: "f g"}, "invalid function name"},
		{"bad param name", Target{Context: "c", Params: map[string]any{"a b": 1}}, "invalid param name"},
		{"float value", Target{Context: "c", Params: map[string]any{"a": 0.5}}, `param "a"`},
		{"nil value", Target{Context: "c", Params: map[string]any{"a": nil}}, "nil value"},
		{"slice value", Target{Context: "c", Params: map[string]any{"a": []string{}}}, "unsupported value type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.target.MarshalJSON()
			if err == nil {
				t.Fatalf("MarshalJSON = %s, want an error", b)
			}
			if !strings.HasPrefix(err.Error(), "protocol: ") || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("MarshalJSON error %q, want prefix \"protocol: \" and %q", err, tc.wantErr)
			}
		})
	}
}

func TestAppendTargets(t *testing.T) {
	got, err := AppendTargets([]byte("x="), []Target{
		Broad("user"),
		{Context: "orders", Params: map[string]any{"user_id": 5, "status": "open"}},
	})
	if want := `x=["user",{"context":"orders","params":{"status":"open","user_id":5}}]`; err != nil || string(got) != want {
		t.Errorf("AppendTargets: %s (%v), want %s", got, err, want)
	}
	if got, err := AppendTargets(nil, nil); err != nil || string(got) != "[]" {
		t.Errorf("no targets: %s (%v)", got, err)
	}
	if _, err := AppendTargets(nil, []Target{{Context: "bad name"}}); err == nil {
		t.Error("an invalid context name was encoded")
	}
}
