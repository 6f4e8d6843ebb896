package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mizan-afi/mizan/manifest"
)

// tomlLines reads the key = value lines of a wrangler.toml, keyed by their
// table's header as written ("" before the first, "[vars]",
// "[[migrations]]") and the key: enough TOML for the files edge init
// writes (one table of each name), without a TOML dependency.
func tomlLines(t *testing.T, text string) map[string]string {
	t.Helper()
	out := map[string]string{}
	table := ""
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			table = line
		default:
			k, v, ok := strings.Cut(line, " = ")
			if !ok {
				t.Fatalf("wrangler.toml line %d is neither a table, a key = value nor a comment: %q", i+1, line)
			}
			if _, dup := out[table+" "+k]; dup {
				t.Fatalf("wrangler.toml line %d repeats %s %s", i+1, table, k)
			}
			out[table+" "+k] = v
		}
	}
	return out
}

func TestEdgeInitWritesTheWorkerProject(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shop", "edge")
	code, out, errOut := runCLI(t, "edge", "init", "-dir", dir, "-manifest", fixtureManifest, "-origin", "https://app.example.com/", "-name", "shop-edge-1")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	for _, want := range []string{"wrote the Worker shop-edge-1 (5 files", "in front of https://app.example.com", "npm install",
		"wrangler secret put MIZAN_MWT_SECRET", "wrangler secret put MIZAN_EDGE_KEY_SECRET", "wrangler secret put MIZAN_EDGE_PURGE_SECRET", "MIZAN_EDGE_PURGE_URL"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "for wrangler dev: give -origin") {
		t.Errorf("the origin was given, yet stdout says it is the default:\n%s", out)
	}
	if got, want := listFiles(t, dir), []string{".gitignore", "mizan-manifest.json", "package.json", "src/index.ts", "wrangler.toml"}; !slices.Equal(got, want) {
		t.Fatalf("files %v, want %v", got, want)
	}

	toml := readFile(t, filepath.Join(dir, "wrangler.toml"))
	kv := tomlLines(t, toml)
	for k, want := range map[string]string{
		" name":                             `"shop-edge-1"`,
		" main":                             `"src/index.ts"`,
		" compatibility_date":               `"2026-07-01"`,
		"[vars] MIZAN_ORIGIN":               `"https://app.example.com"`,
		"[[durable_objects.bindings]] name": `"MIZAN_FRESHNESS"`,
		"[[durable_objects.bindings]] class_name": `"MizanFreshness"`,
		"[[migrations]] tag":                      `"v1"`,
		"[[migrations]] new_sqlite_classes":       `["MizanFreshness"]`,
	} {
		if kv[k] != want {
			t.Errorf("wrangler.toml %s = %s, want %s", k, kv[k], want)
		}
	}
	if len(kv) != 8 {
		t.Errorf("wrangler.toml has %d keys, want 8: %v", len(kv), kv)
	}
	for _, s := range []string{"MIZAN_MWT_SECRET", "MIZAN_EDGE_KEY_SECRET", "MIZAN_EDGE_PURGE_SECRET"} {
		if !regexp.MustCompile(`(?m)^#\s+wrangler secret put ` + s + `\b`).MatchString(toml) {
			t.Errorf("wrangler.toml does not say how to set %s:\n%s", s, toml)
		}
		if strings.Contains(toml, s+" =") {
			t.Errorf("wrangler.toml sets the secret %s", s)
		}
	}

	index := readFile(t, filepath.Join(dir, "src", "index.ts"))
	for _, want := range []string{
		"import { createEdge, MizanFreshness } from '@mizan/edge';\n",
		"import manifest from '../mizan-manifest.json' with { type: 'json' };\n",
		"export { MizanFreshness };\n",
		"export default createEdge({ manifest });\n",
	} {
		if !strings.Contains(index, want) {
			t.Errorf("src/index.ts lacks %q:\n%s", want, index)
		}
	}

	// The manifest is the app's, checked and normalized.
	src, err := os.ReadFile(fixtureManifest)
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	want, err := manifest.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "mizan-manifest.json")); got != string(want) {
		t.Error("mizan-manifest.json is not the normalized manifest")
	}

	pkg := readPackageJSON(t, filepath.Join(dir, "package.json"))
	if pkg.Name != "shop-edge-1" || !pkg.Private || pkg.DevDependencies["@mizan/edge"] != edgeNPMEdge || pkg.DevDependencies["wrangler"] != edgeNPMWrangler ||
		len(pkg.DevDependencies) != 2 || len(pkg.Dependencies) != 0 || pkg.Scripts["deploy"] != "wrangler deploy" || pkg.Scripts["dev"] != "wrangler dev" {
		t.Errorf("package.json %+v", pkg)
	}
	if gi := readFile(t, filepath.Join(dir, ".gitignore")); !strings.Contains(gi, "/.dev.vars\n") || !strings.Contains(gi, "/node_modules/\n") {
		t.Errorf(".gitignore does not keep the local secrets and node_modules out:\n%s", gi)
	}
}

func TestEdgeInitDefaults(t *testing.T) {
	root := filepath.Join(t.TempDir(), "My Shop")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	src := readFile(t, fixtureManifest)
	t.Chdir(root)
	var stdout, stderr strings.Builder
	code := run([]string{"edge", "init", "-manifest", "-"}, strings.NewReader(src), &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	kv := tomlLines(t, readFile(t, filepath.Join(root, "edge", "wrangler.toml")))
	if kv[" name"] != `"my-shop-edge"` || kv["[vars] MIZAN_ORIGIN"] != `"`+defaultOrigin+`"` {
		t.Errorf("name %s, origin %s", kv[" name"], kv["[vars] MIZAN_ORIGIN"])
	}
	if !strings.Contains(stdout.String(), "\tcd edge\n") || !strings.Contains(stdout.String(), "give -origin") {
		t.Errorf("stdout:\n%s", stdout.String())
	}
}

func TestEdgeInitRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	mine := filepath.Join(dir, "wrangler.toml")
	if err := os.WriteFile(mine, []byte("name = \"mine\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	keep := filepath.Join(dir, "README.md") // not one of the project's: never a reason to refuse
	if err := os.WriteFile(keep, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, "edge", "init", "-dir", dir, "-manifest", fixtureManifest)
	if code != 1 || !strings.Contains(errOut, "already has wrangler.toml: give -force") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	if got := readFile(t, mine); got != "name = \"mine\"\n" {
		t.Errorf("wrangler.toml was changed: %q", got)
	}
	if files := listFiles(t, dir); !slices.Equal(files, []string{"README.md", "wrangler.toml"}) {
		t.Errorf("a refused init wrote files: %v", files)
	}
	if code, _, errOut := runCLI(t, "edge", "init", "-dir", dir, "-manifest", fixtureManifest, "-force"); code != 0 {
		t.Fatalf("-force: exit %d, stderr %q", code, errOut)
	}
	if got := readFile(t, mine); !strings.Contains(got, "MizanFreshness") {
		t.Errorf("-force did not overwrite wrangler.toml: %q", got)
	}
	if readFile(t, keep) != "mine" {
		t.Error("-force changed a file that is not the project's")
	}
	// Once written, a second init refuses and names every file.
	code, _, errOut = runCLI(t, "edge", "init", "-dir", dir, "-manifest", fixtureManifest)
	if code != 1 || !strings.Contains(errOut, ".gitignore, mizan-manifest.json, package.json, src/index.ts, wrangler.toml") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

func TestEdgeInitUsageErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"contexts":{},"mutations":{},"extra":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "edge")
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no subcommand", []string{"edge"}, 2, "usage: mizan edge <command>"},
		{"unknown subcommand", []string{"edge", "deploy"}, 2, `unknown command "deploy"`},
		{"no manifest", []string{"edge", "init", "-dir", dir}, 2, "give the app's manifest with -manifest FILE"},
		{"a missing manifest", []string{"edge", "init", "-dir", dir, "-manifest", filepath.Join(dir, "nope.json")}, 1, "reading the manifest"},
		{"a bad manifest", []string{"edge", "init", "-dir", dir, "-manifest", bad}, 1, `unknown field "extra"`},
		{"a relative origin", []string{"edge", "init", "-dir", dir, "-manifest", fixtureManifest, "-origin", "app.example.com"}, 2, "absolute http or https"},
		{"an origin with a path", []string{"edge", "init", "-dir", dir, "-manifest", fixtureManifest, "-origin", "https://app.example.com/api"}, 2, "path, query or fragment"},
		{"an origin with credentials", []string{"edge", "init", "-dir", dir, "-manifest", fixtureManifest, "-origin", "https://u:p@app.example.com"}, 2, "credentials"},
		{"a bad name", []string{"edge", "init", "-dir", dir, "-manifest", fixtureManifest, "-name", "My_Edge"}, 2, "lower-case letters, digits and dashes"},
		{"a name ending in a dash", []string{"edge", "init", "-dir", dir, "-manifest", fixtureManifest, "-name", "edge-"}, 2, "not starting or ending with a dash"},
		{"an argument", []string{"edge", "init", "-manifest", fixtureManifest, dir}, 2, "unexpected argument"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, c.args...)
			if code != c.code || out != "" || !strings.Contains(errOut, c.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and %q", code, out, errOut, c.code, c.want)
			}
		})
	}
	if _, err := os.Stat(dir); err == nil {
		t.Error("a refused init created the directory")
	}
}

func TestEdgeHelp(t *testing.T) {
	code, out, _ := runCLI(t, "help", "edge")
	if code != 0 || !strings.Contains(out, "usage: mizan edge <command>") || !regexp.MustCompile(`\n\tinit  write the Worker project`).MatchString(out) {
		t.Errorf("help edge: exit %d, stdout %q", code, out)
	}
	code, _, errOut := runCLI(t, "edge", "init", "-h")
	for _, want := range []string{"usage: mizan edge init -manifest FILE", "-dir DIR", "-origin URL", "-name NAME", "-force"} {
		if code != 0 || !strings.Contains(errOut, want) {
			t.Errorf("edge init -h: exit %d, lacks %q:\n%s", code, want, errOut)
		}
	}
}

func TestDefaultWorkerName(t *testing.T) {
	for dir, want := range map[string]string{
		"/home/ada/shop/edge":                  "shop-edge",
		"/home/ada/My Shop/edge":               "my-shop-edge",
		"/home/ada/shop/worker":                "worker",
		"/home/ada/shop/__Edge.Proxy__":        "edge-proxy",
		"/edge":                                "edge",
		"/home/ada/___/___":                    "mizan-edge",
		"/x/" + strings.Repeat("a", 70):        strings.Repeat("a", 63),
		"/x/" + strings.Repeat("a", 62) + "-b": strings.Repeat("a", 62),
	} {
		got := defaultWorkerName(filepath.FromSlash(dir))
		if got != want || !workerNameRE.MatchString(got) {
			t.Errorf("defaultWorkerName(%q) = %q, want %q", dir, got, want)
		}
	}
}

func TestTOMLString(t *testing.T) {
	for in, want := range map[string]string{
		"https://app.example.com": `"https://app.example.com"`,
		`a"b\c`:                   `"a\"b\\c"`,
		"tab\there\n\x7f":         `"tab\u0009here\u000A\u007F"`,
		"héllo":                   `"héllo"`,
	} {
		if got := tomlString(in); got != want {
			t.Errorf("tomlString(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestEdgeScaffoldVersions: the project starts with the versions of
// @mizan/edge and of wrangler that frontends/edge has.
func TestEdgeScaffoldVersions(t *testing.T) {
	file := filepath.Join(repoRoot(t), "frontends", "edge", "package.json")
	if _, err := os.Stat(file); err != nil {
		t.Skipf("no %s: %v", file, err)
	}
	pkg := readPackageJSON(t, file)
	v, err := packageVersion(file)
	if err != nil {
		t.Fatal(err)
	}
	if edgeNPMEdge != "^"+v {
		t.Errorf("@mizan/edge is %s, the scaffold says %s", v, edgeNPMEdge)
	}
	if got := pkg.DevDependencies["wrangler"]; got != edgeNPMWrangler {
		t.Errorf("frontends/edge has wrangler %q, the scaffold %q", got, edgeNPMWrangler)
	}
}
