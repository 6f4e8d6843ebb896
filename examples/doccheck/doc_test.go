// Package doccheck checks that the Go code of the documentation compiles:
// every ```go block of README.md and docs/*.md is type-checked against the
// packages of this clone (the examples module replaces the framework with
// ../). Run it with
//
//	go -C examples test ./doccheck/
//
// # The convention
//
// A block whose first token (comments aside) is `package` is a program: it
// is type-checked on its own, strictly, and vetted with `go vet`.
//
// Any other block is a fragment. Its leading `import` lines, its function
// and method declarations and its `type` and `const` declarations go to the
// top level of a file; everything else (statements, `var`) goes, in order,
// into a block inside a function. The file also gets a prelude: the
// declarations and imports of testdata/preludes/default.go (a store of
// boards like the quickstart's, and app, ctx, logger, hub, ...), then
// those of the named prelude, if any. A declaration of the fragment
// replaces the prelude's of the same name. In a fragment, unused imports of
// the prelude and unused variables are not errors; everything else is.
//
// An HTML comment on the line before the block's fence (blank lines
// between are allowed) says more:
//
//	<!-- doccheck: prelude=NAME -->      add testdata/preludes/NAME.go
//	<!-- doccheck: skip REASON -->       do not compile this block (say why)
//	<!-- doccheck: generate=IMPORTPATH -->
//
// generate, on a program, writes it as the package IMPORTPATH (whose
// first two elements, example.com/shop, are taken as its module) in a
// scratch directory of this module, runs `go generate` in it, and lets the
// other blocks import the module's packages, such as the Go client its
// //go:generate line writes.
//
// Imports are type-checked from the export data that `go list -export`
// builds in this module, so the test needs no network once the module's
// dependencies are downloaded. It logs how many blocks it compiled as
// programs and as fragments (by prelude) and every skip with its reason:
// go test -v ./doccheck/.
//
// A named prelude may hold a function containing the statement
// doccheckBody(): the fragment's statements then go there instead (for a
// fragment that returns the values of a server function, say).
package doccheck

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/printer"
	"go/scanner"
	"go/token"
	"go/types"
	"io"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// examplesModule is the module path of the examples module, which this
// package is part of.
const examplesModule = "github.com/mizan-afi/mizan/examples"

// block is one ```go block of a Markdown file.
type block struct {
	file    string // relative to the root of the clone: docs/protocol.md
	line    int    // line of the block's first line of code
	src     string // the code, without the fences and their indentation
	skip    string // why it is not compiled; "" to compile it
	prelude string // the named prelude; "" for the default one alone
	gen     string // generate=: the import path of the program
	program bool   // starts with a package clause
}

func (b *block) pos() string { return fmt.Sprintf("%s:%d", b.file, b.line) }

var (
	fenceOpen  = regexp.MustCompile("^([ \t]*)(```+|~~~+)[ \t]*([A-Za-z0-9_+-]*)")
	directive  = regexp.MustCompile(`^<!--\s*doccheck:\s*(.*?)\s*-->$`)
	anyComment = regexp.MustCompile(`<!--\s*doccheck`)
)

// extract returns the Go blocks of a Markdown file, and the mistakes in its
// doccheck comments.
func extract(root, rel string) ([]*block, []error) {
	data, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		return nil, []error{err}
	}
	lines := strings.Split(string(data), "\n")
	var (
		blocks  []*block
		errs    []error
		pending string // the text of a doccheck comment awaiting its block
		pendAt  int
	)
	bad := func(n int, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%d: %s", rel, n, fmt.Sprintf(format, args...)))
	}
	for i := 0; i < len(lines); i++ {
		line := strings.TrimRight(lines[i], "\r")
		trimmed := strings.TrimSpace(line)
		if m := directive.FindStringSubmatch(trimmed); m != nil {
			if pending != "" {
				bad(pendAt, "doccheck comment not followed by a ```go block")
			}
			pending, pendAt = m[1], i+1
			continue
		}
		if anyComment.MatchString(trimmed) {
			bad(i+1, "malformed doccheck comment (want <!-- doccheck: ... --> alone on its line)")
			continue
		}
		m := fenceOpen.FindStringSubmatch(line)
		if m == nil {
			if trimmed != "" && pending != "" {
				bad(pendAt, "doccheck comment not followed by a ```go block")
				pending = ""
			}
			continue
		}
		indent, fence, lang := m[1], m[2], m[3]
		start := i + 1
		var code []string
		for i++; i < len(lines); i++ {
			l := strings.TrimRight(lines[i], "\r")
			if t := strings.TrimSpace(l); strings.HasPrefix(t, fence[:3]) && strings.Trim(t, fence[:1]) == "" && len(t) >= len(fence) {
				break
			}
			code = append(code, strings.TrimPrefix(l, indent))
		}
		if lang != "go" && lang != "golang" {
			if pending != "" {
				bad(pendAt, "doccheck comment before a ```%s block, not a ```go one", lang)
				pending = ""
			}
			continue
		}
		b := &block{file: rel, line: start + 1, src: strings.Join(code, "\n") + "\n"}
		if pending != "" {
			for _, err := range b.apply(pending) {
				bad(pendAt, "%v", err)
			}
			pending = ""
		}
		b.program = startsWithPackage(b.src)
		if b.gen != "" && !b.program {
			bad(start, "generate= is for a program (a block starting with package)")
		}
		blocks = append(blocks, b)
	}
	if pending != "" {
		bad(pendAt, "doccheck comment not followed by a ```go block")
	}
	return blocks, errs
}

// apply reads the text of a doccheck comment into b.
func (b *block) apply(text string) []error {
	var errs []error
	if reason, ok := strings.CutPrefix(text, "skip"); ok && (reason == "" || reason[0] == ' ') {
		b.skip = strings.TrimSpace(reason)
		if b.skip == "" {
			errs = append(errs, errors.New("doccheck: skip needs a reason"))
		}
		return errs
	}
	for _, f := range strings.Fields(text) {
		k, v, _ := strings.Cut(f, "=")
		switch {
		case k == "prelude" && v != "":
			b.prelude = v
		case k == "generate" && strings.Count(v, "/") >= 2:
			b.gen = v
		default:
			errs = append(errs, fmt.Errorf("doccheck: unknown or malformed option %q (want prelude=NAME, generate=IMPORTPATH or skip REASON)", f))
		}
	}
	return errs
}

// startsWithPackage reports whether the first token of src is `package`.
func startsWithPackage(src string) bool {
	var s scanner.Scanner
	fset := token.NewFileSet()
	s.Init(fset.AddFile("", -1, len(src)), []byte(src), nil, 0)
	_, tok, _ := s.Scan()
	return tok == token.PACKAGE
}

// segment is a run of lines of a fragment that goes to one place.
type segment struct {
	kind  segKind
	first int // first line, 0-based within the block
	text  string
}

type segKind int

const (
	segImport segKind = iota
	segTop
	segBody
)

// split cuts a fragment into imports, top-level declarations and
// statements, by the first tokens of its items at nesting depth zero.
func split(src string) []segment {
	fset := token.NewFileSet()
	f := fset.AddFile("", -1, len(src))
	var s scanner.Scanner
	s.Init(f, []byte(src), nil, 0)
	type tok struct {
		t    token.Token
		line int
	}
	var toks []tok
	for {
		p, t, _ := s.Scan()
		if t == token.EOF {
			break
		}
		toks = append(toks, tok{t, f.Line(p) - 1})
	}
	type item struct {
		kind segKind
		line int
	}
	var items []item
	depth, startOfItem := 0, true
	for i, t := range toks {
		if startOfItem && depth == 0 && t.t != token.SEMICOLON {
			k := segBody
			switch t.t {
			case token.IMPORT:
				k = segImport
			case token.TYPE, token.CONST:
				k = segTop
			case token.FUNC:
				if i+1 < len(toks) && toks[i+1].t == token.IDENT {
					k = segTop // a function declaration
				} else if i+1 < len(toks) && toks[i+1].t == token.LPAREN {
					// A method's receiver is followed by its name; a
					// function literal's parameters are not.
					d := 0
					for j := i + 1; j < len(toks); j++ {
						switch toks[j].t {
						case token.LPAREN:
							d++
						case token.RPAREN:
							d--
						}
						if d == 0 {
							if j+1 < len(toks) && toks[j+1].t == token.IDENT {
								k = segTop
							}
							break
						}
					}
				}
			}
			items = append(items, item{k, t.line})
			startOfItem = false
		}
		switch t.t {
		case token.LPAREN, token.LBRACE, token.LBRACK:
			depth++
		case token.RPAREN, token.RBRACE, token.RBRACK:
			depth--
		case token.SEMICOLON:
			if depth == 0 {
				startOfItem = true
			}
		}
	}
	lines := strings.SplitAfter(src, "\n")
	var segs []segment
	for i, it := range items {
		first := it.line
		if i == 0 {
			first = 0 // leading comments go with the first item
		}
		end := len(lines)
		if i+1 < len(items) {
			end = items[i+1].line
		}
		if first >= end {
			continue // two items on one line: the last one decides where it goes
		}
		text := strings.Join(lines[first:end], "")
		if n := len(segs); n > 0 && segs[n-1].kind == it.kind {
			segs[n-1].text += text
			continue
		}
		segs = append(segs, segment{kind: it.kind, first: first, text: text})
	}
	return segs
}

// prelude is a parsed prelude file.
type prelude struct {
	name    string
	fset    *token.FileSet
	imports []*ast.ImportSpec
	decls   []ast.Decl
}

func loadPrelude(name string) (*prelude, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join("testdata", "preludes", name+".go"), nil, 0)
	if err != nil {
		return nil, fmt.Errorf("prelude %s: %w", name, err)
	}
	p := &prelude{name: name, fset: fset, imports: f.Imports}
	for _, d := range f.Decls {
		if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.IMPORT {
			continue
		}
		p.decls = append(p.decls, d)
	}
	return p, nil
}

// funcName is the name a function declaration declares: the function's,
// or Recv.Method for a method.
func funcName(f *ast.FuncDecl) string {
	if f.Recv == nil || len(f.Recv.List) == 0 {
		return f.Name.Name
	}
	t := f.Recv.List[0].Type
	for {
		switch x := t.(type) {
		case *ast.StarExpr:
			t = x.X
			continue
		case *ast.IndexExpr:
			t = x.X
			continue
		case *ast.IndexListExpr:
			t = x.X
			continue
		case *ast.Ident:
			return x.Name + "." + f.Name.Name
		}
		return f.Name.Name
	}
}

// names returns the names declared by decls.
func names(decls []ast.Decl) map[string]bool {
	out := map[string]bool{}
	for _, d := range decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			out[funcName(d)] = true
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					out[s.Name.Name] = true
				case *ast.ValueSpec:
					for _, n := range s.Names {
						if n.Name != "_" {
							out[n.Name] = true
						}
					}
				}
			}
		}
	}
	return out
}

// print writes the declarations of p that declare none of the names in
// drop.
func (p *prelude) print(w *bytes.Buffer, drop map[string]bool) error {
	for _, d := range p.decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if drop[funcName(d)] {
				continue
			}
			d.Doc = nil
		case *ast.GenDecl:
			var specs []ast.Spec
			for _, s := range d.Specs {
				keep := true
				switch s := s.(type) {
				case *ast.TypeSpec:
					keep = !drop[s.Name.Name]
					s.Doc, s.Comment = nil, nil
				case *ast.ValueSpec:
					for _, n := range s.Names {
						keep = keep && !drop[n.Name]
					}
					s.Doc, s.Comment = nil, nil
				}
				if keep {
					specs = append(specs, s)
				}
			}
			if len(specs) == 0 {
				continue
			}
			cp := *d
			cp.Specs, cp.Doc = specs, nil
			if len(specs) > 1 && !cp.Lparen.IsValid() {
				cp.Lparen = d.Pos()
			}
			d = &cp
			if err := prettyPrinter.Fprint(w, p.fset, d); err != nil {
				return err
			}
			w.WriteString("\n\n")
			continue
		}
		if err := prettyPrinter.Fprint(w, p.fset, d); err != nil {
			return err
		}
		w.WriteString("\n\n")
	}
	return nil
}

var prettyPrinter = printer.Config{Mode: printer.UseSpaces | printer.TabIndent, Tabwidth: 8}

// checker holds what the blocks are checked with.
type checker struct {
	t        *testing.T
	root     string // the clone
	work     string // scratch directory, inside the examples module
	preludes map[string]*prelude
	exports  map[string]string // import path → export data file
	names    map[string]string // import path → package name
	mapped   map[string]string // module path → import path of its scratch copy
	fset     *token.FileSet
	imp      types.Importer
}

// source is a file to type-check, made from one block.
type source struct {
	b    *block
	name string // file name of the generated text, for its own positions
	text string
}

func TestDocBlocks(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	files := []string{"README.md"}
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		files = append(files, filepath.ToSlash(strings.TrimPrefix(d, root+string(filepath.Separator))))
	}
	var blocks []*block
	for _, f := range files {
		bs, errs := extract(root, f)
		for _, err := range errs {
			t.Error(err)
		}
		blocks = append(blocks, bs...)
	}
	if len(blocks) == 0 {
		t.Fatal("no ```go blocks found: wrong directory?")
	}
	work, err := os.MkdirTemp(".", "_work")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	c := &checker{t: t, root: root, work: work, preludes: map[string]*prelude{},
		mapped: map[string]string{}, fset: token.NewFileSet()}
	c.run(blocks)
}

func (c *checker) run(blocks []*block) {
	t := c.t
	// Preludes.
	for _, b := range blocks {
		for _, name := range []string{"default", b.prelude} {
			if name == "" || c.preludes[name] != nil || b.skip != "" || b.program {
				continue
			}
			p, err := loadPrelude(name)
			if err != nil {
				t.Errorf("%s: %v", b.pos(), err)
				b.skip = "its prelude is broken"
				continue
			}
			c.preludes[name] = p
		}
	}
	// Programs that generate code run first: later blocks import it.
	for _, b := range blocks {
		if b.gen != "" && b.skip == "" {
			if err := c.generate(b); err != nil {
				t.Errorf("%s: %v", b.pos(), err)
			}
		}
	}
	// Every import path, for one go list, with the blocks importing it.
	paths := map[string][]string{}
	use := func(p string, b *block) { paths[p] = append(paths[p], b.pos()) }
	var splits = map[*block][]segment{}
	for _, b := range blocks {
		if b.skip != "" {
			continue
		}
		if b.program {
			for _, p := range importsOf(b.src) {
				use(c.resolve(p), b)
			}
			continue
		}
		segs := split(b.src)
		splits[b] = segs
		for _, s := range segs {
			if s.kind == segImport {
				for _, p := range importsOf("package p\n" + s.text) {
					use(c.resolve(p), b)
				}
			}
		}
		for _, name := range []string{"default", b.prelude} {
			if p := c.preludes[name]; p != nil {
				for _, is := range p.imports {
					ip := strings.Trim(is.Path.Value, `"`)
					if _, ok := paths[ip]; !ok {
						paths[ip] = nil
					}
				}
			}
		}
	}
	if err := c.list(paths); err != nil {
		t.Fatal(err)
	}
	c.imp = importer.ForCompiler(c.fset, "gc", func(p string) (io.ReadCloser, error) {
		if f, ok := c.exports[c.resolve(p)]; ok && f != "" {
			return os.Open(f)
		}
		return nil, fmt.Errorf("no export data for %s (is it in the examples module's go.mod?)", p)
	})

	var programs, fragments, skipped int
	var vet []string
	reasons := map[string][]string{}
	byPrelude := map[string]int{}
	for i, b := range blocks {
		if b.skip != "" {
			skipped++
			reasons[b.skip] = append(reasons[b.skip], b.pos())
			continue
		}
		if b.program {
			programs++
			src := source{b: b, name: fmt.Sprintf("program%d.go", i), text: fmt.Sprintf("//line %s:%d:1\n%s", b.file, b.line, b.src)}
			errs := c.check(src)
			for _, err := range errs {
				t.Errorf("%v", err)
			}
			if len(errs) > 0 {
				continue
			}
			// go vet it too, in a directory of its own.
			dir := filepath.Join(c.work, fmt.Sprintf("program%d", i))
			text := fmt.Sprintf("//line %s:%d:1\n%s", filepath.Join(c.root, b.file), b.line, b.src)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			vet = append(vet, "./"+filepath.ToSlash(filepath.Join("doccheck", dir)))
			continue
		}
		fragments++
		name := "default"
		if b.prelude != "" {
			name = "default+" + b.prelude
		}
		byPrelude[name]++
		src, err := c.assemble(b, splits[b], i)
		if err != nil {
			t.Errorf("%s: %v", b.pos(), err)
			continue
		}
		for _, err := range c.check(src) {
			t.Errorf("%v", err)
		}
	}
	if len(vet) > 0 {
		cmd := exec.Command("go", append([]string{"vet"}, vet...)...)
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("go vet of the programs: %v\n%s", err, out)
		}
	}
	t.Logf("%d Go blocks: %d compiled as programs, %d as fragments (%s), %d skipped",
		programs+fragments+skipped, programs, fragments, counts(byPrelude), skipped)
	for _, r := range slices.Sorted(maps.Keys(reasons)) {
		t.Logf("  skipped %s: %s", strings.Join(reasons[r], ", "), r)
	}
}

func counts(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// importsOf returns the import paths of a Go file.
func importsOf(src string) []string {
	f, err := parser.ParseFile(token.NewFileSet(), "", src, parser.ImportsOnly)
	if err != nil {
		return nil // the type check reports it
	}
	var out []string
	for _, is := range f.Imports {
		out = append(out, strings.Trim(is.Path.Value, `"`))
	}
	return out
}

// resolve maps an import path of a generated module to its scratch copy.
func (c *checker) resolve(p string) string {
	for mod, to := range c.mapped {
		if p == mod || strings.HasPrefix(p, mod+"/") {
			return to + strings.TrimPrefix(p, mod)
		}
	}
	return p
}

// list fills c.exports and c.names with go list -export, which builds the
// packages. importers names the blocks importing each path, for errors.
func (c *checker) list(importers map[string][]string) error {
	args := []string{"list", "-e", "-export", "-deps", "-json=ImportPath,Name,Export,Error", "--"}
	args = append(args, slices.Sorted(maps.Keys(importers))...)
	cmd := exec.Command("go", args...)
	cmd.Dir = ".."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("go list: %v\n%s", err, stderr.Bytes())
	}
	c.exports, c.names = map[string]string{}, map[string]string{}
	var errs []error
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			ImportPath, Name, Export string
			Error                    *struct{ Err string }
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("go list output: %v", err)
		}
		if p.Error != nil {
			by := ""
			if bs := importers[p.ImportPath]; len(bs) > 0 {
				by = " (imported by " + strings.Join(bs, ", ") + ")"
			}
			errs = append(errs, fmt.Errorf("package %s%s: %s", p.ImportPath, by, strings.TrimSpace(p.Error.Err)))
		}
		c.exports[p.ImportPath], c.names[p.ImportPath] = p.Export, p.Name
	}
	if len(errs) > 0 {
		return fmt.Errorf("the packages the docs import do not build, so no block can be checked:\n%w", errors.Join(errs...))
	}
	return nil
}

// localName is the name a file refers to an import by.
func (c *checker) localName(is *ast.ImportSpec) string {
	if is.Name != nil {
		return is.Name.Name
	}
	p := strings.Trim(is.Path.Value, `"`)
	if n := c.names[c.resolve(p)]; n != "" {
		return n
	}
	return path.Base(p)
}

// assemble makes the file of a fragment: prelude imports, the fragment's
// imports, prelude declarations, the fragment's declarations, then its
// statements in a function.
func (c *checker) assemble(b *block, segs []segment, i int) (source, error) {
	name := fmt.Sprintf("fragment%d.go", i)
	var out bytes.Buffer
	// at writes a line directive: what follows is line n of file.
	at := func(file string, n int) { fmt.Fprintf(&out, "\n//line %s:%d:1\n", file, n) }
	here := func() { at(name, bytes.Count(out.Bytes(), []byte("\n"))+3) }

	var top, imports bytes.Buffer
	for _, s := range segs {
		switch s.kind {
		case segTop:
			top.WriteString(s.text)
		case segImport:
			imports.WriteString(s.text)
		}
	}
	// What the fragment declares and imports replaces the prelude's.
	drop := map[string]bool{}
	if f, err := parser.ParseFile(token.NewFileSet(), "", "package p\n"+top.String(), 0); err == nil {
		drop = names(f.Decls)
	}
	ownPaths, ownNames := map[string]bool{}, map[string]bool{}
	if f, err := parser.ParseFile(token.NewFileSet(), "", "package p\n"+imports.String(), parser.ImportsOnly); err == nil {
		for _, is := range f.Imports {
			ownPaths[strings.Trim(is.Path.Value, `"`)] = true
			ownNames[c.localName(is)] = true
		}
	}
	var chain []*prelude
	for _, n := range []string{"default", b.prelude} {
		if p := c.preludes[n]; p != nil {
			chain = append(chain, p)
		}
	}

	out.WriteString("package doccheck\n\nimport (\n")
	seen := map[string]bool{}
	for _, p := range chain {
		for _, is := range p.imports {
			ip := strings.Trim(is.Path.Value, `"`)
			if ownPaths[ip] || ownNames[c.localName(is)] || seen[ip] {
				continue
			}
			seen[ip] = true
			if is.Name != nil {
				fmt.Fprintf(&out, "\t%s %q\n", is.Name.Name, c.resolve(ip))
			} else {
				fmt.Fprintf(&out, "\t%s %q\n", c.localName(is), c.resolve(ip))
			}
		}
	}
	out.WriteString(")\n")
	for _, s := range segs {
		if s.kind == segImport {
			at(b.file, b.line+s.first)
			out.WriteString(c.rewriteImports(s.text))
		}
	}
	here()
	// The fragment's declarations, then the preludes' but those it
	// replaces, then its statements in the prelude's body function or a
	// function of their own.
	for _, s := range segs {
		if s.kind == segTop {
			at(b.file, b.line+s.first)
			out.WriteString(s.text)
			here()
		}
	}
	var body string
	for k, p := range chain {
		d := maps.Clone(drop)
		for _, later := range chain[k+1:] {
			for n := range names(later.decls) {
				d[n] = true
			}
		}
		var buf bytes.Buffer
		if err := p.print(&buf, d); err != nil {
			return source{}, err
		}
		text := buf.String()
		if before, after, ok := strings.Cut(text, "doccheckBody()"); ok && body == "" {
			out.WriteString(before)
			body = after
			continue
		}
		if body != "" {
			body += text
			continue
		}
		out.WriteString(text)
	}
	if body == "" {
		out.WriteString("func _() {\n")
		body = "\n}\n"
	}
	out.WriteString("{")
	for _, s := range segs {
		if s.kind == segBody {
			at(b.file, b.line+s.first)
			out.WriteString(s.text)
		}
	}
	here()
	out.WriteString("}")
	out.WriteString(body)
	return source{b: b, name: name, text: out.String()}, nil
}

// rewriteImports points a fragment's imports of a generated module at its
// scratch copy (whose package name is the same).
func (c *checker) rewriteImports(text string) string {
	for mod, to := range c.mapped {
		text = strings.ReplaceAll(text, `"`+mod+`/`, `"`+to+`/`)
	}
	return text
}

// check type-checks one file and returns its errors, positioned in the
// Markdown file where they come from the block. When some come from the
// code wrapped around it, the last error lists that code.
func (c *checker) check(src source) []error {
	var errs []error
	wrapped := false
	report := func(pos token.Position, msg string) {
		if pos.Filename == src.b.file {
			errs = append(errs, fmt.Errorf("%s:%d:%d: %s", pos.Filename, pos.Line, pos.Column, msg))
			return
		}
		wrapped = true
		errs = append(errs, fmt.Errorf("%s: in the code wrapped around the block, %s:%d: %s", src.b.pos(), pos.Filename, pos.Line, msg))
	}
	defer func() {
		if wrapped {
			var numbered strings.Builder
			sc := bufio.NewScanner(strings.NewReader(src.text))
			for n := 1; sc.Scan(); n++ {
				fmt.Fprintf(&numbered, "%4d  %s\n", n, sc.Text())
			}
			errs = append(errs, fmt.Errorf("%s: the code wrapped around the block (%s):\n%s", src.b.pos(), src.name, numbered.String()))
		}
	}()
	f, err := parser.ParseFile(c.fset, src.name, src.text, parser.ParseComments)
	if err != nil {
		var list scanner.ErrorList
		if !errors.As(err, &list) {
			return []error{err}
		}
		for _, e := range list {
			report(e.Pos, e.Msg)
		}
		return errs
	}
	conf := types.Config{
		Importer: c.imp,
		Error: func(err error) {
			te := err.(types.Error)
			pos := c.fset.Position(te.Pos)
			if !src.b.program && te.Soft {
				switch {
				case strings.Contains(te.Msg, "declared and not used"):
					return
				case strings.Contains(te.Msg, "imported") && strings.HasSuffix(te.Msg, "not used") && pos.Filename != src.b.file:
					return // the prelude's
				}
			}
			report(pos, te.Msg)
		},
	}
	pkg, _ := conf.Check("doccheck/"+strings.TrimSuffix(src.name, ".go"), c.fset, []*ast.File{f}, nil)
	if src.b.program && pkg != nil && pkg.Name() == "main" && pkg.Scope().Lookup("main") == nil {
		errs = append(errs, fmt.Errorf("%s: package main has no func main", src.b.pos()))
	}
	return errs
}

// generate writes program b as package b.gen in the scratch directory and
// runs go generate in it.
func (c *checker) generate(b *block) error {
	parts := strings.SplitN(b.gen, "/", 3)
	mod := parts[0] + "/" + parts[1]
	dir := filepath.Join(c.work, filepath.FromSlash(b.gen))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(b.src), 0o644); err != nil {
		return err
	}
	c.mapped[mod] = examplesModule + "/doccheck/" + filepath.ToSlash(filepath.Join(c.work, mod))
	cmd := exec.Command("go", "generate", ".")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go generate in %s: %v\n%s", b.gen, err, out)
	}
	c.t.Logf("%s: go generate: %s", b.pos(), bytes.TrimSpace(out))
	return nil
}
