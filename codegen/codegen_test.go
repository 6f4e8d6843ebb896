package codegen_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mizan-afi/mizan/codegen"
	"github.com/mizan-afi/mizan/conformance"
	"github.com/mizan-afi/mizan/ir"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// goPackages are the package names of the go target, by case.
var goPackages = map[string]string{"fixture": "fixtureclient", "names": "namesclient"}

// TestFixtureIR checks the fixture app's IR against testdata/fixture/ir.kdl,
// the input of the fixture's golden case.
func TestFixtureIR(t *testing.T) {
	app := conformance.NewFixture(conformance.FixtureConfig{})
	var b bytes.Buffer
	if err := app.WriteIR(&b); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "fixture", "ir.kdl")
	if *update {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("the fixture's IR differs from %s (run go test ./codegen -update after checking):\n%s", path, b.String())
	}
	doc, err := ir.Parse(want)
	if err != nil {
		t.Fatal(err)
	}
	again, err := ir.Encode(doc)
	if err != nil || !bytes.Equal(again, want) {
		t.Errorf("the IR does not survive a round trip: %v", err)
	}
}

// TestGolden generates every target for each case testdata/<case>/ir.kdl
// and compares the files with testdata/<case>/<target>/.
func TestGolden(t *testing.T) {
	cases, err := filepath.Glob(filepath.Join("testdata", "*", "ir.kdl"))
	if err != nil || len(cases) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, in := range cases {
		dir := filepath.Dir(in)
		name := filepath.Base(dir)
		src, err := os.ReadFile(in)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := ir.Parse(src)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		for _, target := range codegen.Targets() {
			t.Run(name+"/"+target, func(t *testing.T) {
				files, err := codegen.Generate(context.Background(), doc, target, codegen.Options{Package: goPackages[name]})
				if err != nil {
					t.Fatal(err)
				}
				compareDir(t, filepath.Join(dir, target), files)
				again, _ := codegen.Generate(context.Background(), doc, target, codegen.Options{Package: goPackages[name]})
				for i := range files {
					if !bytes.Equal(files[i].Content, again[i].Content) {
						t.Errorf("%s differs between two runs", files[i].Path)
					}
				}
			})
		}
	}
}

// compareDir compares files with the directory dir, or rewrites dir with
// -update.
func compareDir(t *testing.T, dir string, files []codegen.File) {
	t.Helper()
	if *update {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if err := os.WriteFile(filepath.Join(dir, f.Path), f.Content, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	var want []string
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("%v (run go test ./codegen -update to create it)", err)
	}
	for _, e := range entries {
		want = append(want, e.Name())
	}
	var got []string
	for _, f := range files {
		got = append(got, f.Path)
		header := codegen.Header
		if strings.HasSuffix(f.Path, ".py") || strings.HasSuffix(f.Path, ".toml") {
			header = codegen.PythonHeader
		}
		if !bytes.HasPrefix(f.Content, []byte(header+"\n")) {
			t.Errorf("%s does not start with %q", f.Path, header)
		}
		golden, err := os.ReadFile(filepath.Join(dir, f.Path))
		if err != nil {
			continue
		}
		if !bytes.Equal(f.Content, golden) {
			t.Errorf("%s differs from the golden file (run go test ./codegen -update after checking):\n%s",
				filepath.Join(dir, f.Path), f.Content)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("generated files %v, golden directory %s holds %v", got, dir, want)
	}
}

func TestUnknownTarget(t *testing.T) {
	_, err := codegen.Generate(context.Background(), &ir.Document{Version: ir.Version}, "cobol", codegen.Options{})
	if err == nil || err.Error() != `codegen: unknown target "cobol" (targets: go, python, react, rust, svelte, ts, vue)` {
		t.Errorf("error %v", err)
	}
}

func TestGeneratorsRefuse(t *testing.T) {
	valid := &ir.Document{Version: ir.Version}
	invalid := &ir.Document{Version: ir.Version, Functions: []ir.Function{{Name: "f", Kind: "read"}}}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		name   string
		ctx    context.Context
		doc    *ir.Document
		target string
		opts   codegen.Options
		want   string
	}{
		{"invalid IR", context.Background(), invalid, "ts", codegen.Options{}, `codegen: the IR is not valid: ir: function "f": kind "read"`},
		{"no document", context.Background(), nil, "react", codegen.Options{}, "codegen: no document"},
		{"canceled", canceled, valid, "go", codegen.Options{}, "context canceled"},
		{"bad package", context.Background(), valid, "go", codegen.Options{Package: "my-client"}, `codegen: package name "my-client" is not a Go identifier`},
		{"keyword package", context.Background(), valid, "go", codegen.Options{Package: "func"}, `codegen: package name "func" is not a Go identifier`},
	}
	for _, c := range cases {
		_, err := codegen.Generate(c.ctx, c.doc, c.target, c.opts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

func TestEmptyDocument(t *testing.T) {
	for _, target := range codegen.Targets() {
		files, err := codegen.Generate(context.Background(), &ir.Document{Version: ir.Version}, target, codegen.Options{})
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		if len(files) == 0 {
			t.Errorf("%s: no files", target)
		}
	}
}
