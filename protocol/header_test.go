package protocol

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
)

// headerVectors mirrors testdata/vectors/invalidate-header.json. Decoding
// refuses unknown keys, so a vector file that grows a field fails loudly.
type headerVectors struct {
	About  string `json:"about"`
	Format []struct {
		Name    string      `json:"name"`
		Targets []vecTarget `json:"targets"`
		Header  string      `json:"header"`
	} `json:"format"`
	Parse []struct {
		Name    string      `json:"name"`
		Header  string      `json:"header"`
		Targets []vecTarget `json:"targets"`
	} `json:"parse"`
	Reject []struct {
		Name   string `json:"name"`
		Header string `json:"header"`
	} `json:"reject"`
}

type vecTarget struct {
	Context string            `json:"context"`
	Params  map[string]string `json:"params"`
}

func (v vecTarget) target() Target {
	t := Target{Context: v.Context}
	if v.Params != nil {
		t.Params = make(map[string]any, len(v.Params))
		for k, s := range v.Params {
			t.Params[k] = s
		}
	}
	return t
}

func loadHeaderVectors(tb testing.TB) headerVectors {
	tb.Helper()
	b, err := os.ReadFile("../testdata/vectors/invalidate-header.json")
	if err != nil {
		tb.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	var v headerVectors
	if err := dec.Decode(&v); err != nil {
		tb.Fatalf("decoding vectors: %v", err)
	}
	if len(v.Format) == 0 || len(v.Parse) == 0 || len(v.Reject) == 0 {
		tb.Fatalf("vectors incomplete: %d format, %d parse, %d reject", len(v.Format), len(v.Parse), len(v.Reject))
	}
	return v
}

// stringTargets reduces parsed targets to comparable values.
func stringTargets(tb testing.TB, ts []Target) []vecTarget {
	tb.Helper()
	out := make([]vecTarget, len(ts))
	for i, t := range ts {
		if t.Params == nil {
			tb.Errorf("target %d: Params is nil, want an empty map", i)
		}
		p := make(map[string]string, len(t.Params))
		for k, v := range t.Params {
			s, ok := v.(string)
			if !ok {
				tb.Errorf("target %d: param %q is %T, want string", i, k, v)
			}
			p[k] = s
		}
		out[i] = vecTarget{Context: t.Context, Params: p}
	}
	return out
}

func TestFormatHeaderVectors(t *testing.T) {
	for _, tc := range loadHeaderVectors(t).Format {
		t.Run(tc.Name, func(t *testing.T) {
			targets := make([]Target, len(tc.Targets))
			for i, v := range tc.Targets {
				targets[i] = v.target()
			}
			got, err := FormatHeader(targets)
			if err != nil {
				t.Fatalf("FormatHeader: %v", err)
			}
			if got != tc.Header {
				t.Errorf("FormatHeader = %q, want %q", got, tc.Header)
			}
			prefix := []byte("X: ")
			b, err := AppendHeader(prefix, targets)
			if err != nil || string(b) != "X: "+tc.Header {
				t.Errorf("AppendHeader = %q, %v; want %q", b, err, "X: "+tc.Header)
			}
		})
	}
}

func TestParseHeaderVectors(t *testing.T) {
	for _, tc := range loadHeaderVectors(t).Parse {
		t.Run(tc.Name, func(t *testing.T) {
			got, err := ParseHeader(tc.Header)
			if err != nil {
				t.Fatalf("ParseHeader(%q): %v", tc.Header, err)
			}
			want := tc.Targets
			for i := range want {
				if want[i].Params == nil {
					want[i].Params = map[string]string{}
				}
			}
			if gs := stringTargets(t, got); !reflect.DeepEqual(gs, want) {
				t.Errorf("ParseHeader(%q) = %+v, want %+v", tc.Header, gs, want)
			}
		})
	}
}

func TestParseHeaderRejectVectors(t *testing.T) {
	for _, tc := range loadHeaderVectors(t).Reject {
		t.Run(tc.Name, func(t *testing.T) {
			got, err := ParseHeader(tc.Header)
			if err == nil {
				t.Fatalf("ParseHeader(%q) = %+v, want an error", tc.Header, got)
			}
			if !strings.HasPrefix(err.Error(), "protocol: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestFormatHeader(t *testing.T) {
	tests := []struct {
		name    string
		targets []Target
		want    string
	}{
		{"none", nil, ""},
		{"empty slice", []Target{}, ""},
		{"typed values", []Target{{Context: "orders", Params: map[string]any{
			"user_id": 5, "big": uint64(1 << 63), "neg": int8(-3), "open": true, "f": float64(7), "s": "x y",
		}}}, "orders;big=9223372036854775808;f=7;neg=-3;open=true;s=x%20y;user_id=5"},
		{"int and string collapse", []Target{
			{Context: "user", Params: map[string]any{"user_id": 5}},
			{Context: "user", Params: map[string]any{"user_id": "5"}},
		}, "user;user_id=5"},
		{"function-level scoped appears as context", []Target{
			{Context: "user", Function: "user_profile", Params: map[string]any{"user_id": 5}},
		}, "user;user_id=5"},
		{"function-level without params is broad", []Target{
			{Context: "user", Params: map[string]any{"user_id": 5}},
			{Context: "user", Function: "user_profile"},
		}, "user"},
		{"broad keeps its own position", []Target{
			{Context: "user", Params: map[string]any{"user_id": 5}},
			Broad("notifications"),
			Broad("user"),
			{Context: "user", Params: map[string]any{"user_id": 6}},
		}, "notifications, user"},
		{"duplicate broad collapses", []Target{Broad("a"), Broad("b"), Broad("a")}, "a, b"},
		{"empty params map is broad", []Target{
			{Context: "user", Params: map[string]any{"user_id": 5}},
			{Context: "user", Params: map[string]any{}},
		}, "user"},
		{"tilde and unreserved stay raw", []Target{{Context: "s", Params: map[string]any{"q": "A-z.0_9~"}}}, "s;q=A-z.0_9~"},
		{"control and non-ASCII encoded", []Target{{Context: "s", Params: map[string]any{"q": "\x00\r\n€"}}}, "s;q=%00%0D%0A%E2%82%AC"},
		{"many params", []Target{{Context: "c", Params: map[string]any{
			"j": 10, "i": 9, "h": 8, "g": 7, "f": 6, "e": 5, "d": 4, "c": 3, "b": 2, "a": 1,
		}}}, "c;a=1;b=2;c=3;d=4;e=5;f=6;g=7;h=8;i=9;j=10"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FormatHeader(tc.targets)
			if err != nil {
				t.Fatalf("FormatHeader: %v", err)
			}
			if got != tc.want {
				t.Errorf("FormatHeader = %q, want %q", got, tc.want)
			}
			// Repeating the targets changes nothing, and with more than
			// maxLinearTargets of them takes AppendHeader's map path.
			if len(tc.targets) == 0 {
				return
			}
			got, err = FormatHeader(repeatTargets(tc.targets))
			if err != nil || got != tc.want {
				t.Errorf("FormatHeader(repeated) = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// repeatTargets repeats ts until there are more than maxLinearTargets.
func repeatTargets(ts []Target) []Target {
	var out []Target
	for len(out) <= maxLinearTargets {
		out = append(out, ts...)
	}
	return out
}

func TestFormatHeaderManyTargets(t *testing.T) {
	// More entries than AppendHeader's stack array of spans.
	var targets []Target
	var want []string
	for i := range 40 {
		p := map[string]any{"id": i}
		targets = append(targets, Target{Context: "c", Params: p}, Target{Context: "c", Params: p})
		s, _ := Stringify(i)
		want = append(want, "c;id="+s)
	}
	got, err := FormatHeader(targets)
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(want, ", "); got != w {
		t.Errorf("FormatHeader = %q, want %q", got, w)
	}
}

func TestFormatHeaderErrors(t *testing.T) {
	tests := []struct {
		name    string
		targets []Target
		wantErr string
	}{
		{"float value", []Target{{Context: "c", Params: map[string]any{"x": 1.5}}}, `param "x"`},
		{"nil value", []Target{{Context: "c", Params: map[string]any{"x": nil}}}, "nil value"},
		{"struct value", []Target{{Context: "c", Params: map[string]any{"x": struct{}{}}}}, "unsupported value type"},
		{"invalid UTF-8", []Target{{Context: "c", Params: map[string]any{"x": "\xff"}}}, "UTF-8"},
		{"empty context", []Target{{}}, "empty context name"},
		{"bad context", []Target{{Context: "us er"}}, "invalid context name"},
		{"bad context after good one", []Target{Broad("a"), Broad("b,c")}, "invalid context name"},
		{"bad param name", []Target{{Context: "c", Params: map[string]any{"a=b": 1}}}, "invalid param name"},
		{"empty param name", []Target{{Context: "c", Params: map[string]any{"": 1}}}, "empty param name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FormatHeader(tc.targets)
			if err == nil {
				t.Fatalf("FormatHeader = %q, want an error", got)
			}
			if !strings.HasPrefix(err.Error(), "protocol: ") || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q, want prefix \"protocol: \" and %q", err, tc.wantErr)
			}
			dst := []byte("keep")
			b, err := AppendHeader(dst, tc.targets)
			if err == nil || string(b) != "keep" {
				t.Errorf("AppendHeader = %q, %v; want dst unchanged and an error", b, err)
			}
		})
	}
}

func TestAppendHeaderAllocs(t *testing.T) {
	targets := benchTargets()
	buf := make([]byte, 0, 256)
	allocs := testing.AllocsPerRun(100, func() {
		var err error
		if buf, err = AppendHeader(buf[:0], targets); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("AppendHeader allocates %v times per call, want 0", allocs)
	}
}

func TestParseHeader(t *testing.T) {
	tests := []struct {
		header string
		want   []vecTarget
	}{
		{"user", []vecTarget{{"user", map[string]string{}}}},
		{"\tuser\t", []vecTarget{{"user", map[string]string{}}}},
		{"user ; user_id = 5 ; org_id=2", []vecTarget{{"user", map[string]string{"user_id": "5", "org_id": "2"}}}},
		{"user, user", []vecTarget{{"user", map[string]string{}}, {"user", map[string]string{}}}},
		{"A-b.c_9", []vecTarget{{"A-b.c_9", map[string]string{}}}},
		{"%75ser;user%5Fid=5", []vecTarget{{"user", map[string]string{"user_id": "5"}}}},
		{"s;q=%e2%82%ac", []vecTarget{{"s", map[string]string{"q": "€"}}}},
		{"s;q=a=b", []vecTarget{{"s", map[string]string{"q": "a=b"}}}},
		{"s;q=%0A%00", []vecTarget{{"s", map[string]string{"q": "\n\x00"}}}},
		{"s;q=~!*'()\"", []vecTarget{{"s", map[string]string{"q": "~!*'()\""}}}},
	}
	for _, tc := range tests {
		t.Run(tc.header, func(t *testing.T) {
			got, err := ParseHeader(tc.header)
			if err != nil {
				t.Fatalf("ParseHeader(%q): %v", tc.header, err)
			}
			if gs := stringTargets(t, got); !reflect.DeepEqual(gs, tc.want) {
				t.Errorf("ParseHeader(%q) = %+v, want %+v", tc.header, gs, tc.want)
			}
		})
	}
}

func TestParseHeaderRejects(t *testing.T) {
	tests := []struct {
		header  string
		wantErr string
	}{
		{"   ", "empty invalidate header"},
		{"user,", "entry 2: empty entry"},
		{",user", "entry 1: empty entry"},
		{"user,,notifications", "entry 2: empty entry"},
		{"user;", "empty parameter"},
		{"user;;a=1", "empty parameter"},
		{"user;a=1;", "empty parameter"},
		{"user;a=1;a=2", `repeated parameter "a"`},
		{"user;a=1;%61=2", `repeated parameter "a"`},
		{"user;a", "has no '='"},
		{" ;a=1", "missing context name"},
		{"user; =1", "missing parameter name"},
		{"us er", "invalid context name"},
		{"user;us er=1", "invalid parameter name"},
		{"us%20er", "invalid context name"},
		{"user~", "invalid context name"},
		{"café", "invalid context name"},
		{"user;a=b c", "unencoded"},
		{"user;a=b\tc", "unencoded"},
		{"user;a=\x7f", "unencoded"},
		{"user;a=caf\xc3\xa9", "unencoded"},
		{"user;a=\x00", "unencoded"},
		{"user\r\n", "invalid context name"},
		{"user;a=%", "truncated percent escape"},
		{"user;a=%4", "truncated percent escape"},
		{"user;a=%zz", "bad percent escape"},
		{"user;a=%+1", "bad percent escape"},
		{"user;a=%C3", "not valid UTF-8"},
		{"user;a=%ED%A0%80", "not valid UTF-8"}, // a surrogate
		{"%", "truncated percent escape"},
	}
	for _, tc := range tests {
		t.Run(tc.header, func(t *testing.T) {
			got, err := ParseHeader(tc.header)
			if err == nil {
				t.Fatalf("ParseHeader(%q) = %+v, want an error", tc.header, got)
			}
			if !strings.HasPrefix(err.Error(), "protocol: ") || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseHeader(%q) error %q, want prefix \"protocol: \" and %q", tc.header, err, tc.wantErr)
			}
		})
	}
}

func benchTargets() []Target {
	return []Target{
		{Context: "user", Params: map[string]any{"user_id": int64(5)}},
		{Context: "orders", Params: map[string]any{"user_id": int64(5), "status": "open & shut"}},
		Broad("notifications"),
		{Context: "user", Function: "user_profile", Params: map[string]any{"user_id": int64(5)}},
	}
}

func BenchmarkFormatHeader(b *testing.B) {
	targets := benchTargets()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FormatHeader(targets); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendHeader(b *testing.B) {
	targets := benchTargets()
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendHeader(buf[:0], targets); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseHeader(b *testing.B) {
	const h = "user;user_id=5, orders;status=open%20%26%20shut;user_id=5, notifications"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseHeader(h); err != nil {
			b.Fatal(err)
		}
	}
}

func TestAppendPercentRoundTrip(t *testing.T) {
	for _, v := range []string{"", "5", "a b", "x;y=z,w", "100%", "é\x00+"} {
		entry := string(AppendPercent([]byte("ctx;k="), v))
		ts, err := ParseHeader(entry)
		if err != nil {
			t.Fatalf("ParseHeader(%q): %v", entry, err)
		}
		if len(ts) != 1 || ts[0].Context != "ctx" || ts[0].Params["k"] != v {
			t.Fatalf("ParseHeader(%q) = %#v, want ctx with k=%q", entry, ts, v)
		}
	}
}
