package ssr

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// scriptJSON returns the text of the <script type="application/json"> with
// the given id in doc.
func scriptJSON(t *testing.T, doc, id string) string {
	t.Helper()
	open := `<script type="application/json" id="` + id + `">`
	i := strings.Index(doc, open)
	if i < 0 {
		t.Fatalf("no %s script in %s", id, doc)
	}
	rest := doc[i+len(open):]
	j := strings.Index(rest, "</script>")
	if j < 0 {
		t.Fatalf("the %s script is not closed", id)
	}
	return rest[:j]
}

// TestHydrationEscaping renders a document whose data and props hold text
// that would break out of a script element if embedded raw: the embedded
// JSON must contain no '<' (so neither "</script>" nor "<!--"), no raw
// U+2028/U+2029, and parse back to exactly the original values.
func TestHydrationEscaping(t *testing.T) {
	r := newRenderer(t, Config{Workers: 1})
	ctx := testContext(t)
	nasty := "</script><script>alert(1)</script><!-- <!--x --> \u2028\u2029 a&b > c </SCRIPT >"
	bundle, err := json.Marshal(map[string]any{"project_info": map[string]any{"name": nasty, "id": 1}})
	if err != nil {
		t.Fatal(err)
	}
	data := Data{}
	data.Add("project", map[string]string{"project_id": "1"}, bundle)
	props := map[string]any{"note": nasty, "params": map[string]string{"project_id": "1"}}
	doc, err := r.RenderDocument(ctx, Document{
		Component: "Data.tsx", Props: props, Data: data,
		Title: "A </title><script>", Lang: `en" onload="x`,
		Scripts: []string{`/assets/entry.js?a=1&b="2"`},
	})
	if err != nil {
		t.Fatalf("RenderDocument: %v", err)
	}
	html := string(doc)

	for id, want := range map[string]any{
		DataScriptID:  map[string]any{"project?project_id=1": map[string]any{"project_info": map[string]any{"name": nasty, "id": 1.0}}},
		PropsScriptID: map[string]any{"note": nasty, "params": map[string]any{"project_id": "1"}},
	} {
		text := scriptJSON(t, html, id)
		if strings.ContainsAny(text, "<>&\u2028\u2029") {
			t.Errorf("%s script holds raw <, >, & or a line separator: %s", id, text)
		}
		var got any
		if err := json.Unmarshal([]byte(text), &got); err != nil {
			t.Fatalf("%s script is not JSON: %v\n%s", id, err, text)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s script parses to %v, want %v", id, got, want)
		}
	}
	// Exactly the document's own script elements close: two JSON ones and
	// one module script.
	if n := strings.Count(strings.ToLower(html), "</script"); n != 3 {
		t.Errorf("%d script end tags in the document, want 3:\n%s", n, html)
	}
	if strings.Count(html, "<!--") != strings.Count(html, "<!-- -->") {
		t.Errorf("a comment opens outside React's text separators:\n%s", html)
	}
	for _, want := range []string{
		"<title>A &lt;/title&gt;&lt;script&gt;</title>",
		`<html lang="en&#34; onload=&#34;x">`,
		`<script type="module" src="/assets/entry.js?a=1&amp;b=&#34;2&#34;"></script>`,
		`<div id="root"><main><pre id="data">`,
		"&lt;/script&gt;&lt;script&gt;alert(1)", // the component saw initialData, escaped by React
		`<p id="params">{&quot;project_id&quot;:&quot;1&quot;}</p>`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("document lacks %s:\n%s", want, html)
		}
	}
}

func TestDocumentErrors(t *testing.T) {
	r := newRenderer(t, Config{Workers: 1})
	ctx := testContext(t)
	if _, err := r.RenderDocument(ctx, Document{Component: "Data.tsx", Data: Data{"x": json.RawMessage("{bad")}}); err == nil || !strings.Contains(err.Error(), "not valid JSON") {
		t.Errorf("invalid bundle: err = %v", err)
	}
	if _, err := r.RenderDocument(ctx, Document{Component: "../Data.tsx"}); err == nil {
		t.Error("a refused component name rendered")
	}
}

func TestWithInitialData(t *testing.T) {
	for props, want := range map[string]string{
		`{}`:             `{"initialData":{"k":1}}`,
		` { } `:          `{"initialData":{"k":1}}`,
		`{"a":1}`:        `{"initialData":{"k":1},"a":1}`,
		`{"a":{"b":2}} `: `{"initialData":{"k":1},"a":{"b":2}}`,
	} {
		if got := string(withInitialData([]byte(props), []byte(`{"k":1}`))); got != want {
			t.Errorf("withInitialData(%s) = %s, want %s", props, got, want)
		}
	}
}

// TestInstanceKeyMatchesKernel computes instance keys with the kernel's own
// instanceKey (frontends/base/src/targets.ts, run by Bun) and compares.
func TestInstanceKeyMatchesKernel(t *testing.T) {
	requireBun(t)
	bun, err := FindBun("", "../frontends/ssr")
	if err != nil {
		t.Fatal(err)
	}
	targets, err := filepath.Abs("../frontends/base/src/targets.ts")
	if err != nil {
		t.Fatal(err)
	}
	type kcase struct {
		Context string            `json:"context"`
		Params  map[string]string `json:"params"`
	}
	cases := []kcase{
		{"user", nil},
		{"user", map[string]string{}},
		{"user", map[string]string{"user_id": "5"}},
		{"orders", map[string]string{"user_id": "1", "status": "a b&c=d", "page": "2"}},
		{"x", map[string]string{"q": "é/ü?#%+", "z": "!'()*~-_.", "a b": "😀", "": "empty name"}},
		{"x", map[string]string{"semi": "a;b,c", "nl": "line\nbreak", "quote": `"<>`}},
	}
	in, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "keys.ts")
	src := "import { instanceKey } from " + jsString(targets) + ";\n" +
		"const cases = JSON.parse(process.argv[2]);\n" +
		"console.log(JSON.stringify(cases.map((c: { context: string; params?: Record<string, string> }) => instanceKey(c.context, c.params ?? undefined))));\n"
	if err := os.WriteFile(script, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bun, "--no-install", script, string(in)).Output()
	if err != nil {
		t.Fatalf("bun: %v", err)
	}
	var want []string
	if err := json.Unmarshal(bytes.TrimSpace(out), &want); err != nil || len(want) != len(cases) {
		t.Fatalf("kernel keys %q: %v", out, err)
	}
	for i, c := range cases {
		if got := InstanceKey(c.Context, c.Params); got != want[i] {
			t.Errorf("InstanceKey(%q, %v) = %q, kernel says %q", c.Context, c.Params, got, want[i])
		}
		// And back: the keys a page's reads are reported by.
		ctx, params, ok := ParseInstanceKey(want[i])
		if len(c.Params) == 0 {
			c.Params = nil
		}
		if !ok || ctx != c.Context || !maps.Equal(params, c.Params) {
			t.Errorf("ParseInstanceKey(%q) = %q, %v, %v; want %q, %v", want[i], ctx, params, ok, c.Context, c.Params)
		}
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
