package main

import (
	"bufio"
	"encoding/json"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// These tests write the app with -no-install: nothing is downloaded or
// built. cmd/mizan/testdata/e2e builds and runs a written app, in a
// browser (a step of .ci/test of its own).

// repoRoot is the checkout these tests run in.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// listFiles returns the files under dir, relative, with slashes, sorted.
func listFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		files = append(files, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	return files
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// packageJSON is the part of web/package.json the tests read.
type packageJSON struct {
	Name            string            `json:"name"`
	Private         bool              `json:"private"`
	Scripts         map[string]string `json:"scripts"`
	Dependencies    map[string]string `json:"dependencies"`
	DevDependencies map[string]string `json:"devDependencies"`
	Overrides       map[string]string `json:"overrides"`
}

func readPackageJSON(t *testing.T, path string) packageJSON {
	t.Helper()
	var p packageJSON
	if err := json.Unmarshal([]byte(readFile(t, path)), &p); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return p
}

func TestInitFromACheckout(t *testing.T) {
	root := repoRoot(t)
	dir := filepath.Join(t.TempDir(), "My App")
	code, out, errOut := runCLI(t, "init", "-no-install", "-replace", root, dir)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}

	want := []string{
		".gitignore", "Makefile", "README.md", "go.mod", "main.go", "main_test.go",
		"web/index.html", "web/package.json", "web/src/App.tsx", "web/src/main.tsx", "web/src/styles.css",
		"web/tsconfig.json", "web/vite.config.ts",
	}
	if got := listFiles(t, dir); !slices.Equal(got, want) {
		t.Errorf("files\n%q\nwant\n%q", got, want)
	}

	gomod := readFile(t, filepath.Join(dir, "go.mod"))
	for _, s := range []string{
		"module my-app\n",
		"\ngo " + scaffoldGoVersion + "\n",
		"\ntool github.com/mizan-afi/mizan/cmd/mizan\n",
		"\tgithub.com/mizan-afi/mizan v0.0.0-00010101000000-000000000000\n",
		"\tmodernc.org/sqlite " + scaffoldSQLiteVersion + "\n",
		"\nreplace github.com/mizan-afi/mizan => " + root + "\n",
	} {
		if !strings.Contains(gomod, s) {
			t.Errorf("go.mod lacks %q:\n%s", s, gomod)
		}
	}

	// The Go files are gofmt-formatted Go, package main, serving with
	// mizan.ListenAndServe and writing the IR for mizan generate.
	for _, name := range []string{"main.go", "main_test.go"} {
		src := readFile(t, filepath.Join(dir, name))
		formatted, err := format.Source([]byte(src))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if string(formatted) != src {
			t.Errorf("%s is not gofmt-formatted", name)
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.ImportsOnly)
		if err != nil || f.Name.Name != "main" {
			t.Errorf("%s: package %v, %v", name, f.Name, err)
		}
	}
	mainGo := readFile(t, filepath.Join(dir, "main.go"))
	for _, s := range []string{
		`_ "modernc.org/sqlite"`, "mizan.Query(app, s.listItems, mizan.In(List))",
		"mizan.Mutation(app, s.addItem, mizan.Affects(List))", "app.WriteIRFromEnv()",
		"mizan.ListenAndServe(ctx, *addr, app, mizan.ServerOptions{})", `envOr("MIZAN_ADDR", "127.0.0.1:8080")`,
		`fmt.Printf("my-app listening on http://%s/\n", *addr)`,
	} {
		if !strings.Contains(mainGo, s) {
			t.Errorf("main.go lacks %q", s)
		}
	}

	// web/package.json installs the @mizan packages from web/vendor, the
	// tarballs mizan init packs, at the checkout's versions.
	pkg := readPackageJSON(t, filepath.Join(dir, "web", "package.json"))
	if pkg.Name != "my-app-web" || !pkg.Private {
		t.Errorf("name %q, private %v", pkg.Name, pkg.Private)
	}
	for _, p := range frontendPackages {
		v, err := packageVersion(filepath.Join(root, "frontends", p.dir, "package.json"))
		if err != nil {
			t.Fatal(err)
		}
		spec := pkg.Dependencies[p.name]
		if p.name == "@mizan/vite" {
			spec = pkg.DevDependencies[p.name]
		}
		if want := "file:vendor/mizan-" + p.dir + "-" + v + ".tgz"; spec != want {
			t.Errorf("%s: %q, want %q", p.name, spec, want)
		}
	}
	if pkg.Scripts["build"] != "tsc --noEmit -p . && vite build" || pkg.Overrides["rollup"] != scaffoldNPM.Rollup {
		t.Errorf("scripts %v, overrides %v", pkg.Scripts, pkg.Overrides)
	}
	if vc := readFile(t, filepath.Join(dir, "web", "vite.config.ts")); !strings.Contains(vc, "plugins: [react(), mizan()]") {
		t.Errorf("vite.config.ts does not use @mizan/vite:\n%s", vc)
	}
	if html := readFile(t, filepath.Join(dir, "web", "index.html")); !strings.Contains(html, "<title>my-app</title>") {
		t.Errorf("index.html:\n%s", html)
	}

	// The Makefile's targets, as docs/new-project.md gives them.
	mk := readFile(t, filepath.Join(dir, "Makefile"))
	for _, s := range []string{
		"\ndev:\n\t$(MIZAN) dev\n",
		"\ngenerate:\n\t$(MIZAN) generate --cmd \"go run .\" --target react=web/src/gen\n",
		"\nbuild: generate\n\tcd web && npm run build\n\tgo build -o $(BIN) .\n",
		"\nMIZAN ?= go tool mizan\n", "\nBIN := bin/my-app\n",
	} {
		if !strings.Contains(mk, s) {
			t.Errorf("Makefile lacks %q", s)
		}
	}
	if readme := readFile(t, filepath.Join(dir, "README.md")); !strings.Contains(readme, "web/vendor/") {
		t.Error("README.md does not say where the @mizan packages come from")
	}
	for _, s := range []string{"go.mod replaces github.com/mizan-afi/mizan with the checkout " + root, "\tmake dev", "npm install"} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
}

func TestInitWithAVersion(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shop")
	code, out, errOut := runCLI(t, "init", "-no-install", "-version", "v0.3.0", "-module", "example.com/shop", dir)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	gomod := readFile(t, filepath.Join(dir, "go.mod"))
	if !strings.Contains(gomod, "module example.com/shop\n") || !strings.Contains(gomod, "\tgithub.com/mizan-afi/mizan v0.3.0\n") || strings.Contains(gomod, "replace") {
		t.Errorf("go.mod:\n%s", gomod)
	}
	pkg := readPackageJSON(t, filepath.Join(dir, "web", "package.json"))
	if pkg.Dependencies["@mizan/base"] != "^0.3.0" || pkg.Dependencies["@mizan/react"] != "^0.3.0" || pkg.DevDependencies["@mizan/vite"] != "^0.3.0" {
		t.Errorf("@mizan packages: %v %v", pkg.Dependencies, pkg.DevDependencies)
	}
	if readme := readFile(t, filepath.Join(dir, "README.md")); strings.Contains(readme, "vendor") {
		t.Error("README.md speaks of web/vendor, which a versioned app does not have")
	}
	if !strings.Contains(out, "registry") {
		t.Errorf("output does not say the packages come from the registry:\n%s", out)
	}
}

func TestInitIntoTheWorkingDirectory(t *testing.T) {
	root := repoRoot(t)
	dir := filepath.Join(t.TempDir(), "here")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	if code, _, errOut := runCLI(t, "init", "-no-install", "-replace", root); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if gomod := readFile(t, filepath.Join(dir, "go.mod")); !strings.HasPrefix(gomod, "module here\n") {
		t.Errorf("go.mod:\n%s", gomod)
	}
}

func TestInitRefuses(t *testing.T) {
	root := repoRoot(t)
	notEmpty := t.TempDir()
	if err := os.WriteFile(filepath.Join(notEmpty, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"a directory with files", []string{"-replace", root, notEmpty}, 1, "is not empty"},
		{"a directory that is not a checkout", []string{"-replace", t.TempDir(), filepath.Join(t.TempDir(), "a")}, 1, "not a checkout"},
		{"both sources", []string{"-replace", root, "-version", "v0.1.0", filepath.Join(t.TempDir(), "a")}, 2, "not both"},
		{"a directory in the checkout", []string{"-replace", root, filepath.Join(root, "cmd", "mizan", "testdata", "no-such-app")}, 1, "inside the checkout"},
		{"a bad module path", []string{"-replace", root, "-module", "a b", filepath.Join(t.TempDir(), "a")}, 1, "not a Go module path"},
		{"two directories", []string{"a", "b"}, 2, `unexpected argument "b"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, append([]string{"init", "-no-install"}, c.args...)...)
			if code != c.code || !strings.Contains(errOut, c.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, errOut, c.code, c.want)
			}
		})
	}
	// -force writes into a directory with files.
	if code, _, errOut := runCLI(t, "init", "-no-install", "-force", "-replace", root, notEmpty); code != 0 {
		t.Errorf("-force: exit %d, stderr %q", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(root, "cmd", "mizan", "testdata", "no-such-app")); err == nil {
		t.Error("an app was written inside the checkout")
	}
}

func TestFindCheckout(t *testing.T) {
	root := repoRoot(t)
	for _, dir := range []string{root, ".", "../../frontends/base"} {
		abs, _ := filepath.Abs(dir)
		if got := findCheckout(abs); got != root {
			t.Errorf("findCheckout(%s) = %q, want %q", dir, got, root)
		}
	}
	if got := findCheckout(t.TempDir()); got != "" {
		t.Errorf("findCheckout(a temporary directory) = %q", got)
	}
	// A go.mod of another module is not a checkout, nor one without frontends/.
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "go.mod"), []byte("module example.com/other\n"), 0o644)
	if isCheckout(other) {
		t.Error("another module is a checkout")
	}
	bare := t.TempDir()
	os.WriteFile(filepath.Join(bare, "go.mod"), []byte("module "+mizanModule+"\n"), 0o644)
	if isCheckout(bare) {
		t.Error("a go.mod without frontends/ is a checkout")
	}
}

func TestAppName(t *testing.T) {
	for in, want := range map[string]string{
		"myapp": "myapp", "My App": "my-app", "shop.v2": "shop.v2", "_x_": "x", "ünï": "n", "...": "app", "a/b": "a-b",
	} {
		if got := appName(in); got != want {
			t.Errorf("appName(%q) = %q, want %q", in, got, want)
		}
	}
	if got := tarballName("@mizan/base", "0.1.0"); got != "mizan-base-0.1.0.tgz" {
		t.Errorf("tarballName: %q", got)
	}
}

// TestScaffoldVersions checks the versions a new app starts with against
// the ones this repository builds and tests with, so that they are raised
// together.
func TestScaffoldVersions(t *testing.T) {
	root := repoRoot(t)
	if got := goModLine(t, filepath.Join(root, "go.mod"), "go"); got != scaffoldGoVersion {
		t.Errorf("go.mod says go %s, the scaffold %s", got, scaffoldGoVersion)
	}
	if got := goModLine(t, filepath.Join(root, "examples", "go.mod"), "modernc.org/sqlite"); got != scaffoldSQLiteVersion {
		t.Errorf("examples/go.mod requires modernc.org/sqlite %s, the scaffold %s", got, scaffoldSQLiteVersion)
	}
	fe := readPackageJSON(t, filepath.Join(root, "frontends", "package.json"))
	for name, v := range map[string]string{
		"react": scaffoldNPM.React, "react-dom": scaffoldNPM.React, "@types/react": scaffoldNPM.TypesReact,
		"@types/react-dom": scaffoldNPM.TypesReact, "typescript": scaffoldNPM.TypeScript, "vite": scaffoldNPM.Vite,
	} {
		if fe.DevDependencies[name] != v {
			t.Errorf("frontends/package.json has %s %q, the scaffold %q", name, fe.DevDependencies[name], v)
		}
	}
	if fe.Overrides["rollup"] != scaffoldNPM.Rollup {
		t.Errorf("frontends/package.json pins rollup %q, the scaffold %q", fe.Overrides["rollup"], scaffoldNPM.Rollup)
	}
}

// goModLine returns the version after the first line of a go.mod whose
// first field (after "require" or a tab) is key.
func goModLine(t *testing.T, file, key string) string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "require "))
		if len(fields) >= 2 && fields[0] == key {
			return fields[1]
		}
	}
	t.Fatalf("%s has no %s line", file, key)
	return ""
}
