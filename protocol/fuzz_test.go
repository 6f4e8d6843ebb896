package protocol

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// normalise applies FormatHeader's rules to parsed targets, independently of
// FormatHeader: scoped targets of a context that has a broad one are
// dropped, then exact duplicates collapse, keeping first occurrences.
func normalise(ts []Target) []Target {
	broad := map[string]bool{}
	for _, t := range ts {
		if t.IsBroad() {
			broad[t.Context] = true
		}
	}
	seen := map[string]bool{}
	var out []Target
	for _, t := range ts {
		if !t.IsBroad() && broad[t.Context] {
			continue
		}
		key := t.Context
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range t.Params {
				if !yield(k) {
					return
				}
			}
		}) {
			key += "\x00" + k + "\x00" + t.Params[k].(string)
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, t)
	}
	return out
}

func FuzzParseHeader(f *testing.F) {
	v := loadHeaderVectors(f)
	for _, c := range v.Format {
		f.Add(c.Header)
	}
	for _, c := range v.Parse {
		f.Add(c.Header)
	}
	for _, c := range v.Reject {
		f.Add(c.Header)
	}
	f.Add("user;a=1, user, user;a=1, orders;b=%7E, orders;b=~")
	f.Fuzz(func(t *testing.T, s string) {
		parsed, err := ParseHeader(s)
		if err != nil {
			if parsed != nil {
				t.Fatalf("ParseHeader(%q) returned targets with error %v", s, err)
			}
			if !strings.HasPrefix(err.Error(), "protocol: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
			return
		}
		if len(parsed) == 0 {
			t.Fatalf("ParseHeader(%q) returned no targets and no error", s)
		}
		h, err := FormatHeader(parsed)
		if err != nil {
			t.Fatalf("FormatHeader(ParseHeader(%q)): %v", s, err)
		}
		again, err := ParseHeader(h)
		if err != nil {
			t.Fatalf("ParseHeader(%q) (formatted from %q): %v", h, s, err)
		}
		if want := normalise(parsed); !reflect.DeepEqual(again, want) {
			t.Fatalf("parse(format(parse(%q))) = %+v, want %+v", s, again, want)
		}
		if h2, err := FormatHeader(repeatTargets(parsed)); err != nil || h2 != h {
			t.Fatalf("FormatHeader of repeated targets = %q (%v), want %q", h2, err, h)
		}
		// Formatting is idempotent on its own output.
		if h2, err := FormatHeader(again); err != nil || h2 != h {
			t.Fatalf("FormatHeader not idempotent: %q then %q (%v)", h, h2, err)
		}
	})
}

// nameFrom maps arbitrary bytes onto the name alphabet, never empty.
func nameFrom(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-."
	if s == "" {
		return "x"
	}
	b := []byte(s)
	for i, c := range b {
		b[i] = alphabet[int(c)%len(alphabet)]
	}
	return string(b)
}

func FuzzFormatParse(f *testing.F) {
	for _, c := range loadHeaderVectors(f).Format {
		for _, tg := range c.Targets {
			var k1, v1, k2, v2 string
			for k, v := range tg.Params {
				if k1 == "" {
					k1, v1 = k, v
				} else {
					k2, v2 = k, v
				}
			}
			f.Add(tg.Context, k1, v1, k2, v2, int64(-7))
		}
	}
	f.Fuzz(func(t *testing.T, ctx, k1, v1, k2, v2 string, n int64) {
		tg := Target{Context: nameFrom(ctx), Params: map[string]any{
			nameFrom(k1):            v1,
			nameFrom(k2):            v2,
			nameFrom(k1 + k2 + "n"): n,
		}}
		want, err := StringParams(tg.Params)
		if err != nil {
			if utf8.ValidString(v1) && utf8.ValidString(v2) {
				t.Fatalf("StringParams: %v", err)
			}
			return
		}
		h, err := FormatHeader([]Target{tg})
		if err != nil {
			t.Fatalf("FormatHeader(%+v): %v", tg, err)
		}
		got, err := ParseHeader(h)
		if err != nil {
			t.Fatalf("ParseHeader(%q): %v", h, err)
		}
		if len(got) != 1 || got[0].Context != tg.Context {
			t.Fatalf("ParseHeader(%q) = %+v, want context %q", h, got, tg.Context)
		}
		gotParams := map[string]string{}
		for k, v := range got[0].Params {
			gotParams[k] = v.(string)
		}
		if !reflect.DeepEqual(gotParams, want) {
			t.Fatalf("ParseHeader(%q) params = %q, want %q", h, gotParams, want)
		}
	})
}

func FuzzTargetJSON(f *testing.F) {
	for _, s := range []string{
		`"user"`,
		`{"context":"user","params":{"user_id":5}}`,
		`{"context":"user","function":"user_profile","params":{"user_id":5,"q":"a\"b","ok":true}}`,
		`{"context":"user","params":{"n":5.0,"m":1e3,"u":18446744073709551615}}`,
		`{"context":"user","params":null,"function":null}`,
		`{"context":"user","params":{"x":null}}`,
		`{"context":""}`,
		`[]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var tg Target
		if err := tg.UnmarshalJSON([]byte(s)); err != nil {
			if !strings.HasPrefix(err.Error(), "protocol: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
			return
		}
		b, err := json.Marshal(tg)
		if err != nil {
			t.Fatalf("Marshal of %q decoded as %+v: %v", s, tg, err)
		}
		var again Target
		if err := json.Unmarshal(b, &again); err != nil {
			t.Fatalf("Unmarshal(%s) (from %q): %v", b, s, err)
		}
		if !reflect.DeepEqual(again, tg) {
			t.Fatalf("round trip of %q: %+v, then %+v", s, tg, again)
		}
	})
}

func FuzzAppendEnvelope(f *testing.F) {
	f.Add("bad_request", "a \"quoted\" \\ message\n", "name", "<b>&\u2028\xff")
	f.Fuzz(func(t *testing.T, code, message, k, v string) {
		fields := map[string]string{k: v, "z" + k: message}
		got := AppendEnvelope(nil, Code(code), message, fields)
		// What encoding/json writes for the envelope within the limits
		// AppendEnvelope keeps (names and texts cut, docs/spec.md §13.4).
		// Two names cut alike are one entry: the smaller whole name's.
		bounded := map[string]string{}
		for _, name := range slices.Sorted(maps.Keys(fields)) {
			if cut := Truncate(name, MaxErrorName); !hasKey(bounded, cut) {
				bounded[cut] = Truncate(fields[name], MaxErrorText)
			}
		}
		want, err := json.Marshal(Envelope{ErrorBody{Code(code), Truncate(message, MaxErrorText), bounded}})
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Fatalf("AppendEnvelope = %s, want %s", got, want)
		}
	})
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}
