package openapi_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/mizan-afi/mizan/ir"
	"github.com/mizan-afi/mizan/openapi"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// fixtureIR is the IR of the conformance fixture (docs/spec.md §7).
const fixtureIR = "../codegen/testdata/fixture/ir.kdl"

func loadIR(t testing.TB, path string) *ir.Document {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := ir.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func generate(t testing.TB, doc *ir.Document, opts openapi.Options) map[string]any {
	t.Helper()
	b, err := openapi.Generate(doc, opts)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// at walks a decoded document along keys.
func at(t testing.TB, v any, keys ...string) any {
	t.Helper()
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: not an object at %q", strings.Join(keys, "/"), k)
		}
		if v, ok = m[k]; !ok {
			t.Fatalf("%s: no %q", strings.Join(keys, "/"), k)
		}
	}
	return v
}

func TestGolden(t *testing.T) {
	for _, c := range []struct {
		ir, golden string
		opts       openapi.Options
	}{
		{fixtureIR, "testdata/fixture.json", openapi.Options{Title: "Mizan fixture", Auth: true}},
		{"../ir/testdata/rich.kdl", "testdata/rich.json", openapi.Options{}},
	} {
		got, err := openapi.Generate(loadIR(t, c.ir), c.opts)
		if err != nil {
			t.Fatal(err)
		}
		if *update {
			if err := os.WriteFile(c.golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(c.golden)
		if err != nil {
			t.Fatalf("%v (run go test ./openapi -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s; run go test ./openapi -update and review the diff", c.ir, c.golden)
		}
		again, _ := openapi.Generate(loadIR(t, c.ir), c.opts)
		if !bytes.Equal(got, again) {
			t.Errorf("%s: two runs differ", c.ir)
		}
	}
}

func TestFixtureDocument(t *testing.T) {
	doc := loadIR(t, fixtureIR)
	d := generate(t, doc, openapi.Options{Auth: true})
	if at(t, d, "openapi") != "3.1.0" {
		t.Error("not OpenAPI 3.1")
	}
	paths := at(t, d, "paths").(map[string]any)
	calls, fetches := 0, 0
	for i := range doc.Functions {
		f := &doc.Functions[i]
		_, ok := paths["/api/mizan/call/"+f.Name+"/"]
		if ok != f.IsCallable() {
			t.Errorf("%s: call/%s/ described %v, callable %v", f.Name, f.Name, ok, f.IsCallable())
		}
		if ok {
			calls++
			if id := at(t, paths, "/api/mizan/call/"+f.Name+"/", "post", "operationId"); id != f.Name {
				t.Errorf("%s: operationId %v", f.Name, id)
			}
		}
	}
	for _, c := range doc.Contexts() {
		if _, ok := paths["/api/mizan/ctx/"+c.Name+"/"]; ok {
			fetches++
		}
	}
	if calls == 0 || fetches != len(doc.Contexts()) || len(paths) != calls+fetches+2 {
		t.Errorf("%d paths: %d calls, %d of %d contexts", len(paths), calls, fetches, len(doc.Contexts()))
	}
	schemas := at(t, d, "components", "schemas")
	// Enums, string-encoded integers, times, nullability.
	if e := jsonOf(at(t, schemas, "TaskState")); !strings.Contains(e, `"enum":["todo","doing","done"]`) || !strings.Contains(e, `"type":"string"`) {
		t.Errorf("TaskState: %s", e)
	}
	if s := jsonOf(at(t, schemas, "Task", "properties", "big_id")); !strings.Contains(s, `"pattern":"^-?[0-9]+$"`) || !strings.Contains(s, `"type":"string"`) {
		t.Errorf("big_id: %s", s)
	}
	if s := jsonOf(at(t, schemas, "Task", "properties", "due")); s != `{"format":"date-time","type":["string","null"]}` {
		t.Errorf("due: %s", s)
	}
	if s := jsonOf(at(t, schemas, "Task", "required")); !strings.Contains(s, `"due"`) || !strings.Contains(s, `"tags"`) {
		t.Errorf("Task required: %s", s)
	}
	current := at(t, paths, "/api/mizan/ctx/global/", "get", "responses", "200", "content", "application/json", "schema", "properties", "current_user")
	if s := jsonOf(current); s != `{"anyOf":[{"$ref":"#/components/schemas/CallerResult"},{"type":"null"}]}` {
		t.Errorf("current_user: %s", s)
	}
	// A context parameter per query parameter; a filter optional.
	params := jsonOf(at(t, paths, "/api/mizan/ctx/tasks/", "get", "parameters"))
	if !strings.Contains(params, `"in":"query","name":"project_id","required":true`) || !strings.Contains(params, `"in":"query","name":"state","required":false,"schema":{"$ref":"#/components/schemas/TaskState"}`) {
		t.Errorf("tasks parameters: %s", params)
	}
	// Security: a guarded function needs credentials, others do not.
	if s := jsonOf(at(t, paths, "/api/mizan/call/secret/", "post", "security")); s != `[{"bearer":[]},{"csrfCookie":[],"csrfHeader":[]}]` {
		t.Errorf("secret security: %s", s)
	}
	if s := jsonOf(at(t, paths, "/api/mizan/call/bump/", "post", "security")); !strings.HasPrefix(s, `[{},`) {
		t.Errorf("bump security: %s", s)
	}
	// The error envelope and its statuses, the invalidation header.
	resp := at(t, paths, "/api/mizan/call/bump/", "post", "responses").(map[string]any)
	for _, s := range []string{"200", "400", "401", "403", "404", "409", "413", "422", "429", "500", "503", "default"} {
		if _, ok := resp[s]; !ok {
			t.Errorf("bump: no %s response", s)
		}
	}
	if s := jsonOf(at(t, resp, "200", "headers", "X-Mizan-Invalidate")); s != `{"$ref":"#/components/headers/X-Mizan-Invalidate"}` {
		t.Errorf("bump 200 headers: %s", s)
	}
	if s := jsonOf(at(t, d, "components", "responses", "mizan.RateLimited", "headers")); !strings.Contains(s, "Retry-After") {
		t.Errorf("429 headers: %s", s)
	}
	if s := jsonOf(at(t, schemas, "mizan.Error", "required")); s != `["error"]` {
		t.Errorf("envelope: %s", s)
	}
	// A form's rules on its submit function's arguments.
	contact := jsonOf(at(t, paths, "/api/mizan/call/contact/", "post", "requestBody", "content", "application/json", "schema", "properties"))
	for _, want := range []string{`"name":{"maxLength":100,"minLength":1,"type":"string"}`, `"email":{"format":"email"`, `"topic":{"enum":["sales","support"]`, `"age":{"format":"int64","maximum":130,"minimum":18,"type":["integer","null"]}`} {
		if !strings.Contains(contact, want) {
			t.Errorf("contact arguments lack %s: %s", want, contact)
		}
	}
	// A function without required arguments takes an empty body.
	if at(t, paths, "/api/mizan/call/bump/", "post", "requestBody", "required") != false || at(t, paths, "/api/mizan/call/add_task/", "post", "requestBody", "required") != true {
		t.Error("requestBody.required")
	}
}

func TestScalars(t *testing.T) {
	src := `mizan-ir version=1
function "f" kind="mutation" {
    param "a" type="int8"
    param "b" type="uint64"
    param "c" type="bytes?"
    param "d" type="list<float32,3>"
    param "e" type="record<any>"
    param "g" type="Level?" optional=true
    result type="Wrap"
}
type "Level" underlying="int" {
    enum "1" "2"
}
type "Wrap" {
    field "n" type="uint32?" string=true
    field "ok" type="bool" string=true
    field "d" type="Duration"
}
type "Duration" go="time.Duration" underlying="int64"
`
	doc, err := ir.Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	d := generate(t, doc, openapi.Options{})
	args := at(t, d, "paths", "/api/mizan/call/f/", "post", "requestBody", "content", "application/json", "schema", "properties")
	for name, want := range map[string]string{
		"a": `{"maximum":127,"minimum":-128,"type":"integer"}`,
		"b": `{"maximum":18446744073709551615,"minimum":0,"type":"integer"}`,
		"c": `{"contentEncoding":"base64","type":["string","null"]}`,
		"d": `{"items":{"format":"float","type":"number"},"maxItems":3,"minItems":3,"type":"array"}`,
		"e": `{"additionalProperties":{},"type":"object"}`,
		"g": `{"anyOf":[{"$ref":"#/components/schemas/Level"},{"type":"null"}]}`,
	} {
		if got := jsonOf(at(t, args, name)); got != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}
	schemas := at(t, d, "components", "schemas")
	if s := jsonOf(at(t, schemas, "Level", "enum")); s != `[1,2]` {
		t.Errorf("integer enum: %s", s)
	}
	if s := jsonOf(at(t, schemas, "Wrap", "properties", "n", "type")); s != `["string","null"]` {
		t.Errorf("nullable string-encoded: %s", s)
	}
	if s := jsonOf(at(t, schemas, "Wrap", "properties", "ok", "enum")); s != `["true","false"]` {
		t.Errorf("string-encoded bool: %s", s)
	}
	if s := at(t, schemas, "Duration", "description"); !strings.Contains(s.(string), "nanoseconds") {
		t.Errorf("Duration: %v", s)
	}
	if _, err := openapi.Generate(doc, openapi.Options{Prefix: "api"}); err == nil {
		t.Error("a prefix without slashes accepted")
	}
	if _, err := openapi.Generate(nil, openapi.Options{}); err == nil {
		t.Error("nil document accepted")
	}
}

func jsonOf(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return strings.TrimSpace(b.String())
}

// FuzzGenerate checks that every IR document package ir accepts gives a
// document, and valid JSON.
func FuzzGenerate(f *testing.F) {
	for _, p := range []string{"../ir/testdata/rich.kdl"} {
		src, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(src))
	}
	f.Add("mizan-ir version=1\nfunction \"f\" kind=\"query\" context=\"c\" {\n    param \"x\" type=\"int?\"\n    result type=\"list<record<time?>>\"\n}\n")
	f.Add("mizan-ir version=1\nfunction \"c\" kind=\"mutation\" form=\"c\" form-role=\"submit\" {\n    param \"n\" type=\"int?\" optional=true\n    param \"s\" type=\"string\"\n    result type=\"bool\"\n}\nform \"c\" {\n    field \"n\" type=\"int\" label=\"N\" min=1 max=9 {\n        choices \"1\" \"2\"\n    }\n    field \"s\" type=\"string\" label=\"S\" required=true len=3 email=true\n}\n")
	f.Fuzz(func(t *testing.T, src string) {
		doc, err := ir.Parse([]byte(src))
		if err != nil {
			return
		}
		b, err := openapi.Generate(doc, openapi.Options{Auth: true})
		if err != nil {
			t.Fatalf("a parsed IR gave no document: %v", err)
		}
		if !json.Valid(b) {
			t.Fatal("not JSON")
		}
	})
}
