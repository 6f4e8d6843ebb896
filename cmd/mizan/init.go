package main

import (
	"bufio"
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"
)

// appTemplates is the app "mizan init" writes. Files ending in .tmpl are
// text/template templates over initData (the suffix is dropped); the rest
// are copied as they are. Go files and go.mod carry the .tmpl suffix so
// that this module does not see them as code of its own, and gitignore is
// written as .gitignore.
//
//go:embed all:templates/app
var appTemplates embed.FS

const appTemplateRoot = "templates/app"

// mizanModule is the library's module path.
const mizanModule = "github.com/mizan-afi/mizan"

// The versions a new app starts with. TestScaffoldVersions checks them
// against this repository: the go line of go.mod, modernc.org/sqlite in
// examples/go.mod, and the npm packages frontends/ is tested with.
const (
	scaffoldGoVersion     = "1.26.0"
	scaffoldSQLiteVersion = "v1.62.0"
	// noVersion is what go.mod requires with a replace: the version is
	// never looked up.
	noVersion = "v0.0.0-00010101000000-000000000000"
)

// scaffoldNPM are the npm version ranges of web/package.json.
var scaffoldNPM = npmVersions{
	React:       "^19.3.1",
	TypesReact:  "^19.3.0",
	PluginReact: "^5.2.0",
	TypeScript:  "^5.9.3",
	Vite:        "^7.3.8",
	// Pinned like frontends/ pins it: a rollup release whose platform
	// packages the registry does not all serve makes npm write a lockfile
	// that npm ci then refuses (frontends/README.md).
	Rollup: "4.67.4",
}

// npmVersions are the npm packages of the scaffold's web/ besides @mizan/*.
type npmVersions struct {
	React, TypesReact, PluginReact, TypeScript, Vite, Rollup string
}

// frontendPackages are the @mizan packages a new app's web/ installs, by
// the name of their directory under frontends/.
var frontendPackages = []struct{ name, dir string }{
	{"@mizan/base", "base"},
	{"@mizan/react", "react"},
	{"@mizan/vite", "vite"},
}

// initData is what the templates are executed with.
type initData struct {
	Name          string // the app's name: the directory's, made a valid npm and file name
	Module        string // the Go module path
	GoVersion     string
	MizanVersion  string // required version of the library
	SQLiteVersion string
	Replace       string // the checkout go.mod replaces the library with, or ""
	Vendored      bool   // web/vendor holds the @mizan tarballs
	Packages      struct{ Base, React, Vite string }
	Versions      npmVersions
}

// runInit implements "mizan init".
func runInit(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("init", "[flags] [DIR]", stderr)
	module := fs.String("module", "", "the new app's Go module `PATH` (default: the directory's name)")
	replace := fs.String("replace", "", "build against the Mizan checkout at `PATH`: go.mod replaces "+mizanModule+" with it,\nand web/vendor gets the @mizan npm packages packed from its frontends/\n(default: the checkout the current directory is in, if any)")
	version := fs.String("version", "", "require "+mizanModule+" at `VERSION` instead (no checkout; the @mizan npm packages from the registry)")
	noInstall := fs.Bool("no-install", false, "only write the files: no go mod tidy, no packing of the @mizan packages, no npm install")
	force := fs.Bool("force", false, "write into a directory that is not empty, overwriting files of the same names")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 1 {
		fmt.Fprintf(stderr, "mizan init: unexpected argument %q\n", fs.Arg(1))
		fs.Usage()
		return exitUsage
	}
	if *replace != "" && *version != "" {
		fmt.Fprintln(stderr, "mizan init: give -replace or -version, not both")
		return exitUsage
	}
	dir := "."
	if fs.NArg() == 1 {
		dir = fs.Arg(0)
	}
	opts := initOptions{dir: dir, module: *module, replace: *replace, version: *version, install: !*noInstall, force: *force}
	if err := initApp(opts, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "mizan init:", err)
		return exitFail
	}
	return exitOK
}

// initOptions are the choices of one "mizan init".
type initOptions struct {
	dir     string
	module  string
	replace string // a checkout; "" looks for one around the working directory
	version string
	install bool
	force   bool
}

// initApp writes the app and, with opts.install, makes it buildable: go
// mod tidy, the @mizan packages packed into web/vendor, npm install.
func initApp(opts initOptions, stdout, stderr io.Writer) error {
	dir, err := filepath.Abs(opts.dir)
	if err != nil {
		return err
	}
	d := initData{
		Name:          appName(filepath.Base(dir)),
		Module:        opts.module,
		GoVersion:     scaffoldGoVersion,
		SQLiteVersion: scaffoldSQLiteVersion,
		Versions:      scaffoldNPM,
	}
	if d.Module == "" {
		d.Module = d.Name
	}
	if !validModulePath(d.Module) {
		return fmt.Errorf("%q is not a Go module path: give one with -module", d.Module)
	}

	// Where the library and the @mizan packages come from.
	var checkout string
	switch {
	case opts.replace != "":
		if checkout, err = filepath.Abs(opts.replace); err != nil {
			return err
		}
		if !isCheckout(checkout) {
			return fmt.Errorf("-replace %s: not a checkout of %s (no go.mod of that module there)", opts.replace, mizanModule)
		}
	case opts.version != "":
	default:
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		checkout = findCheckout(wd)
		if checkout == "" {
			if v := toolVersion(); v != "devel" {
				opts.version = v
			} else {
				return fmt.Errorf("the working directory is not in a checkout of %s and this mizan is a development build: give -replace PATH (a checkout) or -version VERSION", mizanModule)
			}
		}
	}
	if checkout != "" {
		if within(dir, checkout) {
			return fmt.Errorf("%s is inside the checkout %s: create the app outside it (mizan init ../%s)", dir, checkout, d.Name)
		}
		d.Replace = checkout
		d.MizanVersion = noVersion
		d.Vendored = true
		for _, p := range frontendPackages {
			v, err := packageVersion(filepath.Join(checkout, "frontends", p.dir, "package.json"))
			if err != nil {
				return err
			}
			spec := "file:vendor/" + tarballName(p.name, v)
			switch p.dir {
			case "base":
				d.Packages.Base = spec
			case "react":
				d.Packages.React = spec
			case "vite":
				d.Packages.Vite = spec
			}
		}
	} else {
		d.MizanVersion = opts.version
		if !strings.HasPrefix(d.MizanVersion, "v") {
			d.MizanVersion = "v" + d.MizanVersion
		}
		npm := "^" + strings.TrimPrefix(d.MizanVersion, "v")
		d.Packages.Base, d.Packages.React, d.Packages.Vite = npm, npm, npm
	}

	if err := checkEmpty(dir, opts.force); err != nil {
		return err
	}
	files, err := renderApp(d)
	if err != nil {
		return err
	}
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.content, 0o644); err != nil {
			return err
		}
	}
	rel := relToWD(dir)
	fmt.Fprintf(stdout, "mizan init: wrote %d files of %s (Go module %s) in %s\n", len(files), d.Name, d.Module, rel)
	if d.Replace != "" {
		fmt.Fprintf(stdout, "mizan init: go.mod replaces %s with the checkout %s\n", mizanModule, d.Replace)
	} else {
		fmt.Fprintf(stdout, "mizan init: go.mod requires %s %s; the @mizan npm packages come from the registry\n", mizanModule, d.MizanVersion)
	}

	if opts.install {
		step := func(format string, args ...any) { fmt.Fprintf(stdout, "mizan init: "+format+"\n", args...) }
		step("go mod tidy")
		if err := runIn(dir, stderr, "go", "mod", "tidy"); err != nil {
			return err
		}
		if d.Vendored {
			if err := packFrontends(d.Replace, filepath.Join(dir, "web", "vendor"), step, stderr); err != nil {
				return err
			}
		}
		step("npm install in web/")
		if err := runIn(filepath.Join(dir, "web"), stderr, "npm", "install", "--no-audit", "--no-fund"); err != nil {
			return err
		}
	}

	fmt.Fprintf(stdout, "\nNext:\n\n")
	if rel != "." {
		fmt.Fprintf(stdout, "\tcd %s\n", rel)
	}
	if !opts.install {
		fmt.Fprintf(stdout, "\t# the installs mizan init skipped (-no-install): see docs/new-project.md\n\tgo mod tidy\n")
		if d.Vendored {
			vendor := filepath.Join(dir, "web", "vendor")
			fmt.Fprintf(stdout, "\tmkdir -p %s\n\t(cd %s/frontends && npm ci && npm run build && npm pack --ignore-scripts -w @mizan/base -w @mizan/react -w @mizan/vite --pack-destination %s)\n",
				vendor, d.Replace, vendor)
		}
		fmt.Fprintf(stdout, "\t(cd web && npm install)\n")
	}
	fmt.Fprintf(stdout, "\tmake dev      # the Go server, the client regenerated on change, Vite with hot reload\n")
	fmt.Fprintf(stdout, "\tmake build    # then ./bin/%s serves the UI and the API on http://127.0.0.1:8080/\n", d.Name)
	return nil
}

// scaffoldFile is one file of the app, its path relative to the app's
// directory, with slashes.
type scaffoldFile struct {
	path    string
	content []byte
}

// renderApp executes the templates.
func renderApp(d initData) ([]scaffoldFile, error) {
	return renderTemplates(appTemplates, appTemplateRoot, nil, d)
}

// renderTemplates executes the scaffold templates under root in fsys with
// data d: a file named NAME.tmpl is a text/template (with funcs), written
// as NAME; any other is copied; a file named gitignore is written as
// .gitignore (a .gitignore would be left out of the embedded files).
func renderTemplates(fsys fs.ReadFileFS, root string, funcs template.FuncMap, d any) ([]scaffoldFile, error) {
	var files []scaffoldFile
	err := fs.WalkDir(fsys, root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		src, err := fsys.ReadFile(p)
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(p, root+"/")
		if name, ok := strings.CutSuffix(rel, ".tmpl"); ok {
			t, err := template.New(rel).Option("missingkey=error").Funcs(funcs).Parse(string(src))
			if err != nil {
				return err
			}
			var b bytes.Buffer
			if err := t.Execute(&b, d); err != nil {
				return err
			}
			rel, src = name, b.Bytes()
		}
		if path.Base(rel) == "gitignore" {
			rel = path.Join(path.Dir(rel), ".gitignore")
		}
		files = append(files, scaffoldFile{path: path.Clean(rel), content: src})
		return nil
	})
	return files, err
}

// appName makes a directory's name the app's: lower case, with anything
// npm does not allow in a package name (or a shell would need quoted)
// replaced by "-".
func appName(base string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(base) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	name := strings.Trim(b.String(), "-._")
	if name == "" {
		return "app"
	}
	return name
}

// modulePathRE is a conservative Go module path: slash-separated elements
// of letters, digits and "-._~".
var modulePathRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._~-]*(/[A-Za-z0-9._~-]+)*$`)

func validModulePath(p string) bool { return modulePathRE.MatchString(p) && !strings.Contains(p, "..") }

// isCheckout reports whether dir is the root of a checkout of the library:
// a go.mod declaring its module, and the frontends/ workspace beside it.
func isCheckout(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) == 2 && fields[0] == "module" {
			if strings.Trim(fields[1], `"`) != mizanModule {
				return false
			}
			_, err := os.Stat(filepath.Join(dir, "frontends", "package.json"))
			return err == nil
		}
	}
	return false
}

// findCheckout returns the checkout dir is in (dir or a parent), or "".
func findCheckout(dir string) string {
	for {
		if isCheckout(dir) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// within reports whether path is root or under it.
func within(path, root string) bool {
	rel, err := filepath.Rel(root, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// checkEmpty refuses a directory that has files in it, unless force.
func checkEmpty(dir string, force bool) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(entries) > 0 && !force {
		return fmt.Errorf("%s is not empty: choose a new directory, or give -force to write into it", dir)
	}
	return nil
}

// packageVersion reads the version of an npm package.json.
func packageVersion(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	var pkg struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		return "", fmt.Errorf("%s: %w", file, err)
	}
	if pkg.Version == "" {
		return "", fmt.Errorf("%s has no version", file)
	}
	return pkg.Version, nil
}

// tarballName is the file npm pack writes for a package: @mizan/base at
// 0.1.0 is mizan-base-0.1.0.tgz.
func tarballName(name, version string) string {
	return strings.ReplaceAll(strings.TrimPrefix(name, "@"), "/", "-") + "-" + version + ".tgz"
}

// packFrontends builds the checkout's @mizan packages and packs them into
// dest: npm ci in frontends/ when it has no node_modules yet, npm run
// build, npm pack.
func packFrontends(checkout, dest string, step func(string, ...any), stderr io.Writer) error {
	fe := filepath.Join(checkout, "frontends")
	if _, err := os.Stat(filepath.Join(fe, "node_modules")); errors.Is(err, fs.ErrNotExist) {
		step("npm ci in %s (the @mizan packages' build tools)", fe)
		if err := runIn(fe, stderr, "npm", "ci", "--no-audit", "--no-fund"); err != nil {
			return err
		}
	}
	step("building the @mizan packages in %s", fe)
	if err := runIn(fe, stderr, "npm", "run", "build", "--silent"); err != nil {
		return err
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return err
	}
	args := []string{"pack", "--ignore-scripts", "--silent", "--pack-destination", dest}
	var names []string
	for _, p := range frontendPackages {
		args = append(args, "-w", p.name)
		names = append(names, p.name)
	}
	step("npm pack %s into %s", strings.Join(names, " "), relToWD(dest))
	if err := runIn(fe, stderr, "npm", args...); err != nil {
		return err
	}
	return nil
}

// runIn runs a command in dir, its output to w.
func runIn(dir string, w io.Writer, name string, args ...string) error {
	if _, err := exec.LookPath(name); err != nil {
		return fmt.Errorf("%s is not installed (mizan init needs Go, and Node.js 20.19+ with npm; -no-install only writes the files)", name)
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s in %s: %w", name, strings.Join(args, " "), dir, err)
	}
	return nil
}

// relToWD returns path relative to the working directory when it is under
// it or a sibling's, else path.
func relToWD(p string) string {
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	rel, err := filepath.Rel(wd, p)
	if err != nil || strings.HasPrefix(rel, ".."+string(filepath.Separator)+"..") {
		return p
	}
	return rel
}
