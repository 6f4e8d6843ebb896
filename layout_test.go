package mizan_test

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// libraryFiles returns the non-test Go files of the library's packages:
// the module's packages but its commands (cmd/), the conformance fixture
// and load tool (conformance/), test support (internal/redistest) and
// nested modules (examples/).
func libraryFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch path {
			case "cmd", "conformance", "examples", "frontends", "internal/redistest", ".git", ".ci":
				return filepath.SkipDir
			}
			if d.Name() == "testdata" || d.Name() == "node_modules" {
				return filepath.SkipDir
			}
			if path != "." {
				if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
					return filepath.SkipDir // a module of its own
				}
			}
			return nil
		}
		if strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 20 {
		t.Fatalf("found %d library files: the walk is not where the library is", len(files))
	}
	return files
}

// TestEnvironmentReadOnlyFromEnvHelpers: library packages read the
// environment only in ConfigFromEnv's file (config.go) and in the
// documented *FromEnv functions, so that an app configured in code is
// never changed by a variable it does not know about.
func TestEnvironmentReadOnlyFromEnvHelpers(t *testing.T) {
	fset := token.NewFileSet()
	checked := 0
	for _, path := range libraryFiles(t) {
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			allowed := path == "config.go" || strings.HasSuffix(fn.Name.Name, "FromEnv")
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "os" {
					switch sel.Sel.Name {
					// (os.Environ passes the environment on to a child
					// process, as package ssr does for its workers: that is
					// not configuration.)
					case "Getenv", "LookupEnv":
						checked++
						if !allowed {
							t.Errorf("%s: %s calls os.%s: read the environment in a *FromEnv function (or ConfigFromEnv)", fset.Position(sel.Pos()), fn.Name.Name, sel.Sel.Name)
						}
					}
				}
				return true
			})
		}
	}
	if checked == 0 {
		t.Fatal("no os.Getenv found at all: ConfigFromEnv reads the environment, so the check is not looking")
	}
}

// TestModuleRequiresOnlyWhatItImports: every module the library's go.mod
// requires directly is imported by the module's own code (library, tests,
// commands, the conformance suite), and nothing of the examples' (SQLite,
// chi) is: those are in examples/go.mod.
func TestModuleRequiresOnlyWhatItImports(t *testing.T) {
	direct := directRequires(t, "go.mod")
	imported := map[string]bool{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "node_modules" || d.Name() == "testdata" || d.Name() == ".git" {
				return filepath.SkipDir
			}
			if path != "." {
				if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			for _, m := range direct {
				if p == m || strings.HasPrefix(p, m+"/") {
					imported[m] = true
				}
			}
			for _, banned := range []string{"modernc.org/sqlite", "github.com/go-chi/chi"} {
				if strings.HasPrefix(p, banned) {
					t.Errorf("%s imports %s: it belongs in a module of its own (examples/)", path, p)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(direct) == 0 {
		t.Fatal("go.mod lists no direct requirement")
	}
	for _, m := range direct {
		if !imported[m] {
			t.Errorf("go.mod requires %s, which no file of the module imports", m)
		}
	}
}

// directRequires returns the module paths go.mod requires without
// "// indirect".
func directRequires(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	inBlock := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "require (":
			inBlock = true
			continue
		case inBlock && line == ")":
			inBlock = false
			continue
		case strings.HasPrefix(line, "require "):
			line = strings.TrimPrefix(line, "require ")
		case !inBlock:
			continue
		}
		if strings.Contains(line, "// indirect") || line == "" {
			continue
		}
		out = append(out, strings.Fields(line)[0])
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
