package protocol

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCodeStatus(t *testing.T) {
	tests := []struct {
		code Code
		want int
	}{
		{CodeBadRequest, 400},
		{CodeInvalidArgs, 400},
		{CodeUnauthorized, 401},
		{CodeForbidden, 403},
		{CodeNotFound, 404},
		{CodeMethodNotAllowed, 405},
		{CodeConflict, 409},
		{CodePayloadTooLarge, 413},
		{CodeIdempotencyMismatch, 422},
		{CodeIdempotencyInFlight, 409},
		{CodeInternal, 500},
		{CodeUnavailable, 503},
		{CodeRateLimited, 429},
		{"app_specific", 400},
		{"", 400},
	}
	for _, tc := range tests {
		if got := tc.code.Status(); got != tc.want {
			t.Errorf("Code(%q).Status() = %d, want %d", tc.code, got, tc.want)
		}
	}
}

func TestAppendEnvelope(t *testing.T) {
	var ctrl strings.Builder
	for c := range 0x20 {
		ctrl.WriteByte(byte(c))
	}
	ctrl.WriteByte(0x7f)
	many := map[string]string{}
	for _, k := range strings.Split("k j i h g f e d c b a", " ") {
		many[k] = "v" + k
	}
	tests := []struct {
		name    string
		code    Code
		message string
		fields  map[string]string
	}{
		{"plain", CodeNotFound, "unknown function", nil},
		{"empty fields omitted", CodeInvalidArgs, "bad", map[string]string{}},
		{"fields", CodeInvalidArgs, "invalid arguments", map[string]string{"user_id": "required", "name": "too long"}},
		{"many fields", CodeInvalidArgs, "x", many},
		{"empty strings", "", "", map[string]string{"": ""}},
		{"quotes and backslashes", CodeBadRequest, `say "hi" \ \\ \"`, map[string]string{`"k"`: `\`}},
		{"control characters", CodeBadRequest, ctrl.String(), map[string]string{ctrl.String(): "\b\f\n\r\t"}},
		{"html", CodeForbidden, "<script>alert('x') && 1</script>", nil},
		{"unicode", CodeConflict, "café ☕ 𝄞 \u2028 \u2029 \ufeff", map[string]string{"名前": "必須"}},
		{"invalid UTF-8", CodeInternal, "a\xffb\xc3(\xe2\x82\xf0\x9f\x98", map[string]string{"\xfe": "\xed\xa0\x80"}},
		{"odd code", Code("a\"b"), "m", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := Envelope{Error: ErrorBody{Code: tc.code, Message: tc.message, Fields: tc.fields}}
			got := AppendEnvelope([]byte("prefix"), tc.code, tc.message, tc.fields)
			if !strings.HasPrefix(string(got), "prefix") {
				t.Fatalf("AppendEnvelope dropped dst: %s", got)
			}
			got = got[len("prefix"):]
			if !json.Valid(got) {
				t.Fatalf("AppendEnvelope wrote invalid JSON: %s", got)
			}
			want, err := json.Marshal(env)
			if err != nil {
				t.Fatal(err)
			}
			var g, w Envelope
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(want, &w); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(g, w) {
				t.Errorf("decoded AppendEnvelope = %#v, want %#v", g, w)
			}
			if string(got) != string(want) {
				t.Errorf("AppendEnvelope = %s\nwant (json.Marshal) %s", got, want)
			}
		})
	}
}

func BenchmarkAppendEnvelope(b *testing.B) {
	fields := map[string]string{"user_id": "required", "name": "too long"}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendEnvelope(buf[:0], CodeInvalidArgs, "invalid arguments", fields)
	}
}

// TestEnvelopeBoundsWhatItRepeats: the hardening attack's 1 MiB field name
// and 9,000 fields give a small envelope that says what it left out.
func TestEnvelopeBoundsWhatItRepeats(t *testing.T) {
	huge := strings.Repeat("é", 1<<19) // 1 MiB of two-byte runes
	fields := map[string]string{huge: "unknown parameter", "a": strings.Repeat("x", 1<<20)}
	for i := range 9000 {
		fields[fmt.Sprintf("p%05d", i)] = "unknown argument"
	}
	b := AppendEnvelope(nil, CodeInvalidArgs, "invalid arguments: "+huge, fields)
	if len(b) > 8<<10 {
		t.Fatalf("envelope of %d bytes", len(b))
	}
	var env Envelope
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if len(env.Error.Fields) != MaxErrorFields {
		t.Errorf("%d fields, want %d", len(env.Error.Fields), MaxErrorFields)
	}
	if !strings.HasSuffix(env.Error.Message, "(8970 more fields not listed)") || !utf8.ValidString(env.Error.Message) {
		t.Errorf("message %q", env.Error.Message)
	}
	for k, v := range env.Error.Fields {
		if len(k) > MaxErrorName || len(v) > MaxErrorText || !utf8.ValidString(k) {
			t.Errorf("field %q: %d-byte name, %d-byte text", k[:min(len(k), 20)], len(k), len(v))
		}
	}
	// Small envelopes are unchanged: what encoding/json writes.
	small := map[string]string{"name": "required"}
	want, _ := json.Marshal(Envelope{Error: ErrorBody{Code: CodeInvalidArgs, Message: "invalid arguments: name", Fields: small}})
	if got := AppendEnvelope(nil, CodeInvalidArgs, "invalid arguments: name", small); string(got) != string(want) {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestTruncate(t *testing.T) {
	for _, c := range []struct {
		in   string
		max  int
		want string
	}{{"short", 10, "short"}, {"abcdefghij", 10, "abcdefghij"}, {"abcdefghijk", 10, "abcdefg…"}, {"ééééé", 8, "éé…"}} {
		if got := Truncate(c.in, c.max); got != c.want || len(got) > c.max {
			t.Errorf("Truncate(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
		}
	}
}
