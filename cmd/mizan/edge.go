package main

import (
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"text/template"

	"github.com/mizan-afi/mizan/manifest"
)

// edgeTemplates is the Worker project "mizan edge init" writes: files
// ending in .tmpl are text/template templates over edgeData (the suffix is
// dropped), the rest are copied, and gitignore is written as .gitignore.
// The manifest, mizan-manifest.json, is written beside them.
//
//go:embed all:templates/edge
var edgeTemplates embed.FS

const edgeTemplateRoot = "templates/edge"

// edgeManifestFile is the manifest's name in the Worker project: src/index.ts
// imports it.
const edgeManifestFile = "mizan-manifest.json"

// The versions a new edge project starts with. TestEdgeScaffoldVersions
// checks them against frontends/edge/package.json.
const (
	// edgeCompatibilityDate is the Workers runtime's compatibility date.
	edgeCompatibilityDate = "2026-07-01"
	// edgeNPMEdge is the range of @mizan/edge, the package's version.
	edgeNPMEdge = "^0.1.0"
	// edgeNPMWrangler is the range of wrangler @mizan/edge is tested with.
	edgeNPMWrangler = "^4.164.0"
)

// defaultOrigin is where "mizan init"'s app serves.
const defaultOrigin = "http://127.0.0.1:8080"

// edgeData is what the edge templates are executed with.
type edgeData struct {
	Name              string // the Worker's name
	Origin            string // MIZAN_ORIGIN
	CompatibilityDate string
	Versions          struct{ Edge, Wrangler string }
}

// runEdge implements "mizan edge": its subcommands.
func runEdge(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		edgeUsage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		edgeUsage(stderr)
		return exitOK
	case "init":
		return runEdgeInit(args[1:], stdin, stdout, stderr)
	}
	fmt.Fprintf(stderr, "mizan edge: unknown command %q\n", args[0])
	edgeUsage(stderr)
	return exitUsage
}

// edgeUsage lists the subcommands of "mizan edge".
func edgeUsage(w io.Writer) {
	fmt.Fprint(w, `usage: mizan edge <command> [flags]

The edge: a Cloudflare Worker (package @mizan/edge) that caches the app's
context fetches and pages per caller, driven by its manifest, and purged by
its invalidations (docs/spec.md §11).

Commands:

	init  write the Worker project: wrangler.toml, src/index.ts, package.json
	      and a copy of the app's manifest

Run "mizan edge <command> -h" for the flags of a command.
`)
}

// runEdgeInit implements "mizan edge init".
func runEdgeInit(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("edge init", "-manifest FILE [-dir DIR] [-origin URL] [-name NAME] [-force]", stderr)
	dir := fs.String("dir", "edge", "write the Worker project into `DIR`")
	file := fs.String("manifest", "", "the app's edge manifest `FILE` (- for standard input), copied into the project as "+edgeManifestFile+";\nwrite one with: mizan manifest --cmd 'go run .' --out manifest.json")
	origin := fs.String("origin", defaultOrigin, "the origin `URL` the edge forwards to (MIZAN_ORIGIN)")
	name := fs.String("name", "", "the Worker's `NAME`: lower-case letters, digits and dashes\n(default: the directory's name, or, for a directory called edge, its parent's and \"-edge\")")
	force := fs.Bool("force", false, "overwrite files of the project that already exist")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mizan edge init: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return exitUsage
	}
	if *file == "" {
		fmt.Fprintln(stderr, "mizan edge init: give the app's manifest with -manifest FILE (mizan manifest --cmd 'go run .' --out FILE writes one)")
		fs.Usage()
		return exitUsage
	}
	o, err := checkOrigin(*origin)
	if err != nil {
		fmt.Fprintln(stderr, "mizan edge init: -origin:", err)
		return exitUsage
	}
	if *name != "" && !workerNameRE.MatchString(*name) {
		fmt.Fprintf(stderr, "mizan edge init: -name %q: a Worker's name is 1 to 63 lower-case letters, digits and dashes, not starting or ending with a dash\n", *name)
		return exitUsage
	}
	opts := edgeOptions{dir: *dir, manifest: *file, origin: o, name: *name, force: *force}
	if err := initEdge(opts, stdin, stdout); err != nil {
		fmt.Fprintln(stderr, "mizan edge init:", err)
		return exitFail
	}
	return exitOK
}

// edgeOptions are the choices of one "mizan edge init".
type edgeOptions struct {
	dir, manifest, origin, name string
	force                       bool
}

// initEdge writes the Worker project.
func initEdge(opts edgeOptions, stdin io.Reader, stdout io.Writer) error {
	dir, err := filepath.Abs(opts.dir)
	if err != nil {
		return fmt.Errorf("the directory %s: %w", opts.dir, err)
	}
	var src []byte
	if opts.manifest == "-" {
		src, err = io.ReadAll(stdin)
	} else {
		src, err = os.ReadFile(opts.manifest)
	}
	if err != nil {
		return fmt.Errorf("reading the manifest: %w", err)
	}
	m, err := manifest.Parse(src)
	if err != nil {
		return fmt.Errorf("%s: %w", opts.manifest, err)
	}
	mb, err := manifest.Encode(m)
	if err != nil {
		return err
	}
	d := edgeData{Name: opts.name, Origin: opts.origin, CompatibilityDate: edgeCompatibilityDate}
	if d.Name == "" {
		d.Name = defaultWorkerName(dir)
	}
	d.Versions.Edge, d.Versions.Wrangler = edgeNPMEdge, edgeNPMWrangler
	files, err := renderEdge(d)
	if err != nil {
		return fmt.Errorf("rendering the project: %w", err)
	}
	files = append(files, scaffoldFile{path: edgeManifestFile, content: mb})
	slices.SortFunc(files, func(a, b scaffoldFile) int { return strings.Compare(a.path, b.path) })

	if !opts.force {
		var exist []string
		for _, f := range files {
			p := filepath.Join(dir, filepath.FromSlash(f.path))
			if _, err := os.Lstat(p); err == nil {
				exist = append(exist, f.path)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		if len(exist) > 0 {
			return fmt.Errorf("%s already has %s: give -force to overwrite", relToWD(dir), strings.Join(exist, ", "))
		}
	}
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", filepath.Dir(p), err)
		}
		if err := os.WriteFile(p, f.content, 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", p, err)
		}
	}

	rel := relToWD(dir)
	fmt.Fprintf(stdout, "mizan edge init: wrote the Worker %s (%d files, %d contexts and %d mutations in its manifest) in %s, in front of %s\n",
		d.Name, len(files), len(m.Contexts), len(m.Mutations), rel, d.Origin)
	fmt.Fprintf(stdout, "\nNext:\n\n")
	if rel != "." {
		fmt.Fprintf(stdout, "\tcd %s\n", rel)
	}
	fmt.Fprint(stdout, `	npm install
	npx wrangler secret put MIZAN_MWT_SECRET         # the origin's MIZAN_MWT_SECRET
	npx wrangler secret put MIZAN_EDGE_KEY_SECRET    # a new random secret of the edge's own
	npx wrangler secret put MIZAN_EDGE_PURGE_SECRET  # a new random secret, given to the origin too
	npx wrangler deploy
	# then run the origin with MIZAN_EDGE_PURGE_URL=<the Worker's URL> and the same MIZAN_EDGE_PURGE_SECRET
	# (for "npx wrangler dev", put the three secrets in .dev.vars)
`)
	if d.Origin == defaultOrigin {
		fmt.Fprintf(stdout, "\nMIZAN_ORIGIN is %s, for wrangler dev: give -origin, or edit wrangler.toml, before deploying.\n", defaultOrigin)
	}
	return nil
}

// renderEdge executes the edge templates.
func renderEdge(d edgeData) ([]scaffoldFile, error) {
	return renderTemplates(edgeTemplates, edgeTemplateRoot, template.FuncMap{"toml": tomlString}, d)
}

// workerNameRE is a name Cloudflare accepts for a Worker.
var workerNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// defaultWorkerName names the Worker of a project in dir: the directory's
// name, or for one called edge (the default), its parent's and "-edge";
// lower case, anything else than letters and digits made a dash.
func defaultWorkerName(dir string) string {
	base := filepath.Base(dir)
	if base == "edge" {
		base = filepath.Base(filepath.Dir(dir)) + "-edge"
	}
	var b strings.Builder
	for _, r := range strings.ToLower(base) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else if !strings.HasSuffix(b.String(), "-") {
			b.WriteByte('-')
		}
	}
	name := strings.Trim(b.String(), "-")
	if len(name) > 63 {
		name = strings.TrimRight(name[:63], "-")
	}
	if !workerNameRE.MatchString(name) {
		return "mizan-edge"
	}
	return name
}

// checkOrigin validates the origin URL and returns it without a trailing
// slash: an absolute http or https URL with a host and no path, query or
// fragment (the edge forwards each request's own path to it).
func checkOrigin(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("not a URL: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("%q is not an absolute http or https URL", raw)
	case u.Host == "":
		return "", fmt.Errorf("%q has no host", raw)
	case u.User != nil:
		return "", fmt.Errorf("%q carries credentials: the origin is a public URL", u.Redacted())
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", fmt.Errorf("%q has a path, query or fragment: give the origin alone (https://app.example.com)", raw)
	}
	return strings.TrimSuffix(raw, "/"), nil
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
