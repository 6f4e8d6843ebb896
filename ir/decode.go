package ir

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"regexp"
	"slices"
	"strings"
	"time"

	kdl "github.com/sblinch/kdl-go"
	"github.com/sblinch/kdl-go/document"
)

// Parse reads an IR document written by [Encode] (or by hand, following
// docs/ir.md) and returns it. Functions and types are sorted by name, so
// Parse(Encode(d)) equals d for a valid d. Malformed input is reported with
// the line it is on: KDL that does not parse, a missing or unsupported
// header, unknown nodes or properties, values of the wrong type, and the
// problems [Document.Validate] finds.
func Parse(src []byte) (*Document, error) {
	lay, err := scanLayout(src)
	if err != nil {
		return nil, fmt.Errorf("ir: %w", err)
	}
	kd, err := parseKDL(src)
	if err != nil {
		return nil, fmt.Errorf("ir: %w", locateSyntaxError(src, lay))
	}
	p := &parser{lines: lay.lines}
	if len(lay.lines) != countNodes(kd.Nodes) {
		p.lines = nil // the scan disagrees with the parser: report no lines
	}
	return p.document(kd)
}

// Read reads all of r and parses it with [Parse].
func Read(r io.Reader) (*Document, error) {
	src, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("ir: reading the document: %w", err)
	}
	return Parse(src)
}

// rootNode wraps the source for parseKDL; the scan has checked that the
// source is balanced, so wrapping cannot change its meaning.
const rootNode = "mizan-ir-document"

// rootCatcher receives the wrapping node.
type rootCatcher struct{ node *document.Node }

// UnmarshalKDL implements kdl.Unmarshaler.
func (r *rootCatcher) UnmarshalKDL(n *document.Node) error {
	r.node = n
	return nil
}

// parseKDL parses src with the KDL library. kdl.Parse reads through a
// fixed 64 KiB buffer and misreads tokens that straddle its refills, so the
// source is instead handed whole to kdl.Unmarshal, wrapped in one node
// whose children are the document's nodes.
func parseKDL(src []byte) (*document.Document, error) {
	var root struct {
		Root rootCatcher `kdl:"mizan-ir-document"`
	}
	wrapped := make([]byte, 0, len(src)+len(rootNode)+8)
	wrapped = append(wrapped, rootNode+" {\n"...)
	wrapped = append(wrapped, src...)
	wrapped = append(wrapped, "\n}\n"...)
	if err := kdl.Unmarshal(wrapped, &root); err != nil {
		return nil, err
	}
	doc := document.New()
	if root.Root.node != nil {
		doc.Nodes = root.Root.node.Children
	}
	return doc, nil
}

// libLocation is the position the KDL library appends to its errors, which
// is not reliable; it is replaced by the line found here.
var libLocation = regexp.MustCompile(` at line \d+, column \d+:?`)

// locateSyntaxError finds the top-level node the KDL library cannot parse,
// by parsing each one alone, and returns its error at that node's line.
func locateSyntaxError(src []byte, lay layout) error {
	for i := 0; i+1 < len(lay.tops); i++ {
		start, end := lay.tops[i], lay.tops[i+1]
		if _, err := parseKDL(src[start:end]); err != nil {
			line := 1 + bytes.Count(src[:start], []byte("\n"))
			return &lineError{line: line, msg: "malformed KDL in this node: " + cleanLibError(err)}
		}
	}
	_, err := parseKDL(src)
	return fmt.Errorf("malformed KDL: %s", cleanLibError(err))
}

func cleanLibError(err error) string {
	msg := libLocation.ReplaceAllString(err.Error(), "")
	msg = strings.TrimPrefix(msg, "parse failed: ")
	msg, _, _ = strings.Cut(msg, "\n")
	return msg
}

func countNodes(ns []*document.Node) int {
	n := len(ns)
	for _, c := range ns {
		n += countNodes(c.Children)
	}
	return n
}

// parser turns the KDL document into the model, recording node lines.
type parser struct {
	lines []int // line of each node, depth-first
	next  int   // index in lines of the next node visited
	probs []error
}

// node is a KDL node being read, with its line.
type node struct {
	p    *parser
	n    *document.Node
	line int
	used map[string]bool
	bad  bool
}

func (p *parser) visit(n *document.Node) *node {
	line := 0
	if p.next < len(p.lines) {
		line = p.lines[p.next]
	}
	p.next++
	return &node{p: p, n: n, line: line, used: map[string]bool{}}
}

// skip accounts for the nodes below n that are not visited.
func (p *parser) skip(n *document.Node) { p.next += countNodes(n.Children) }

func (p *parser) failAt(line int, format string, args ...any) {
	if len(p.probs) == maxProblems {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if line > 0 {
		p.probs = append(p.probs, fmt.Errorf("ir: line %d: %s", line, msg))
	} else {
		p.probs = append(p.probs, fmt.Errorf("ir: %s", msg))
	}
}

func (n *node) name() string { return n.n.Name.ValueString() }

func (n *node) fail(format string, args ...any) {
	n.bad = true
	n.p.failAt(n.line, "%s: %s", n.name(), fmt.Sprintf(format, args...))
}

// prop returns the value of property key, or nil.
func (n *node) prop(key string) any {
	n.used[key] = true
	v, ok := n.n.Properties.Get(key)
	if !ok || v == nil {
		return nil
	}
	return v.Value
}

func (n *node) has(key string) bool {
	_, ok := n.n.Properties.Get(key)
	return ok
}

func (n *node) str(key string) string {
	switch v := n.prop(key).(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		n.fail("property %s must be a string, not %v", key, v)
		return ""
	}
}

func (n *node) boolean(key string) bool {
	switch v := n.prop(key).(type) {
	case nil:
		return false
	case bool:
		return v
	default:
		n.fail("property %s must be true or false, not %v", key, v)
		return false
	}
}

func (n *node) integer(key string) int {
	switch v := n.prop(key).(type) {
	case nil:
		return 0
	case int64:
		if v >= math.MinInt32 && v <= math.MaxInt32 {
			return int(v)
		}
	}
	n.fail("property %s must be an integer", key)
	return 0
}

func (n *node) typeRef(key string) TypeRef {
	s := n.str(key)
	if s == "" {
		if !n.bad {
			n.fail("property %s (a type) is required", key)
		}
		return Scalar(Any)
	}
	t, err := ParseTypeRef(s)
	if err != nil {
		n.fail("%v", err)
		return Scalar(Any)
	}
	return t
}

// args returns the node's arguments, which must be strings.
func (n *node) args() []string {
	out := make([]string, 0, len(n.n.Arguments))
	for _, a := range n.n.Arguments {
		s, ok := a.Value.(string)
		if !ok {
			n.fail("arguments must be strings, not %v", a.Value)
			return nil
		}
		out = append(out, s)
	}
	return out
}

// arg returns the node's one string argument.
func (n *node) arg(what string) string {
	as := n.args()
	if len(as) != 1 {
		if !n.bad {
			n.fail("needs one argument, the %s", what)
		}
		return ""
	}
	return as[0]
}

// done reports properties the schema does not know.
func (n *node) done() {
	var unknown []string
	for k := range n.n.Properties.Unordered() {
		if !n.used[k] {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		n.fail("unknown property %s", k)
	}
}

func (n *node) noChildren() {
	if len(n.n.Children) > 0 {
		n.fail("has no children")
		n.p.skip(n.n)
	}
}

// parsed is a decoded function or type with the lines of its nodes.
type parsedFunc struct {
	f     Function
	lines map[loc]int
}

type parsedType struct {
	t     TypeDef
	lines map[loc]int
}

type parsedForm struct {
	f     FormDef
	lines map[loc]int
}

func (p *parser) document(kd *document.Document) (*Document, error) {
	d := &Document{}
	if len(kd.Nodes) == 0 {
		return nil, errors.New("ir: empty document: the first node must be " + HeaderNode + " version=1")
	}
	h := p.visit(kd.Nodes[0])
	if h.name() != HeaderNode {
		return nil, fmt.Errorf("ir: line %d: not a Mizan IR document: the first node is %q, not %s version=%d", h.line, h.name(), HeaderNode, Version)
	}
	d.Version = h.integer("version")
	if h.bad {
		return nil, errors.Join(p.probs...)
	}
	if d.Version != Version {
		if !h.has("version") {
			return nil, fmt.Errorf("ir: line %d: %s needs a version property", h.line, HeaderNode)
		}
		if d.Version > Version {
			return nil, fmt.Errorf("ir: line %d: IR version %d is newer than this mizan reads (%d); upgrade mizan", h.line, d.Version, Version)
		}
		return nil, fmt.Errorf("ir: line %d: IR version %d is not supported (this mizan reads version %d); regenerate the IR", h.line, d.Version, Version)
	}
	d.Prefix = h.str("prefix")
	h.done()
	h.noChildren()

	var fns []parsedFunc
	var types []parsedType
	var forms []parsedForm
	for _, kn := range kd.Nodes[1:] {
		n := p.visit(kn)
		switch n.name() {
		case "function":
			fns = append(fns, p.function(n))
		case "type":
			types = append(types, p.typeDef(n))
		case "form":
			forms = append(forms, p.form(n))
		case HeaderNode:
			n.fail("the header may appear only once, first")
			p.skip(kn)
		default:
			p.failAt(n.line, "unknown node %q: expected function, form or type", n.name())
			p.skip(kn)
		}
	}
	if len(p.probs) > 0 {
		return nil, errors.Join(p.probs...)
	}
	slices.SortStableFunc(fns, func(a, b parsedFunc) int { return strings.Compare(a.f.Name, b.f.Name) })
	slices.SortStableFunc(types, func(a, b parsedType) int { return strings.Compare(a.t.Name, b.t.Name) })
	slices.SortStableFunc(forms, func(a, b parsedForm) int { return strings.Compare(a.f.Name, b.f.Name) })
	lines := map[loc]int{}
	for i, pf := range fns {
		d.Functions = append(d.Functions, pf.f)
		for l, n := range pf.lines {
			l.fn = i
			lines[l] = n
		}
	}
	for i, pt := range types {
		d.Types = append(d.Types, pt.t)
		for l, n := range pt.lines {
			l.typ = i
			lines[l] = n
		}
	}
	for i, pf := range forms {
		d.Forms = append(d.Forms, pf.f)
		for l, n := range pf.lines {
			l.form = i + 1
			lines[l] = n
		}
	}
	if err := d.validate(func(l loc) int {
		if n, ok := lines[l]; ok {
			return n
		}
		if l.sub != 0 { // a row field without a line of its own: its formset's
			l.sub = 0
			if n, ok := lines[l]; ok {
				return n
			}
		}
		l.kind, l.child = "", 0
		return lines[l]
	}); err != nil {
		return nil, err
	}
	return d, nil
}

func (p *parser) function(n *node) parsedFunc {
	lines := map[loc]int{{fn: 0, typ: -1}: n.line}
	f := Function{
		Name:      n.arg("function name"),
		Kind:      n.str("kind"),
		Context:   n.str("context"),
		View:      n.boolean("view"),
		Auth:      n.str("auth"),
		WebSocket: n.boolean("websocket"),
		Shared:    n.boolean("shared"),
		Rev:       n.integer("rev"),
		Form:      Form{Name: n.str("form"), Role: n.str("form-role")},
	}
	switch v := n.prop("cache").(type) {
	case nil:
	case string:
		if v != "off" {
			n.fail(`property cache must be "off" or a number of seconds, not %q`, v)
		}
		f.Cache.Off = true
	case int64:
		f.Cache.TTL = time.Duration(v) * time.Second
	case float64:
		f.Cache.TTL = time.Duration(v * float64(time.Second))
	default:
		n.fail(`property cache must be "off" or a number of seconds`)
	}
	if f.Kind == "" && !n.bad {
		n.fail("property kind is required")
	}
	n.done()
	for _, kc := range n.n.Children {
		c := p.visit(kc)
		switch c.name() {
		case "route":
			lines[loc{fn: 0, typ: -1, kind: "route"}] = c.line
			f.Route = c.arg("route pattern")
			c.done()
		case "methods":
			lines[loc{fn: 0, typ: -1, kind: "methods"}] = c.line
			f.Methods = c.args()
			c.done()
		case "param":
			lines[loc{fn: 0, typ: -1, kind: "param", child: len(f.Params)}] = c.line
			f.Params = append(f.Params, c.field("parameter name", true))
		case "result":
			lines[loc{fn: 0, typ: -1, kind: "result"}] = c.line
			if f.Result != nil {
				c.fail("given twice")
			}
			t := c.typeRef("type")
			f.Result = &t
			c.done()
		case "scope":
			lines[loc{fn: 0, typ: -1, kind: "scope"}] = c.line
			if f.HasScope {
				c.fail("given twice")
			}
			f.HasScope = true
			f.Scope = append(f.Scope, c.args()...)
			c.done()
		case "affects":
			lines[loc{fn: 0, typ: -1, kind: "affects", child: len(f.Affects)}] = c.line
			f.Affects = append(f.Affects, p.affect(c))
			continue
		default:
			c.fail("unknown node in a function: expected route, methods, param, result, scope or affects")
		}
		c.noChildren()
	}
	return parsedFunc{f: f, lines: lines}
}

func (p *parser) affect(n *node) Affect {
	a := Affect{Context: n.str("context"), Function: n.str("function"), CallerScoped: n.boolean("caller-scoped")}
	if len(n.n.Arguments) > 0 {
		n.fail("takes no arguments; use context= and function=")
	}
	n.done()
	for _, kc := range n.n.Children {
		c := p.visit(kc)
		if c.name() != "scoped-by" {
			c.fail("unknown node in affects: expected scoped-by")
		} else {
			a.ScopedBy = append(a.ScopedBy, c.args()...)
		}
		c.done()
		c.noChildren()
	}
	return a
}

// field reads a param or field node; only a param may say filter.
func (n *node) field(what string, param bool) Field {
	f := Field{Name: n.arg(what), Type: n.typeRef("type"), Optional: n.boolean("optional")}
	if param {
		f.Filter = n.boolean("filter")
	} else {
		f.String = n.boolean("string")
	}
	n.done()
	return f
}

func (p *parser) typeDef(n *node) parsedType {
	lines := map[loc]int{{fn: -1, typ: 0}: n.line}
	t := TypeDef{Name: n.arg("type name"), Go: n.str("go")}
	if n.has("underlying") {
		u := n.typeRef("underlying")
		t.Underlying = &u
	}
	n.done()
	if t.Underlying != nil {
		for _, kc := range n.n.Children {
			c := p.visit(kc)
			if c.name() != "enum" {
				c.fail("unknown node in a type with an underlying type: expected enum")
				p.skip(kc)
				continue
			}
			if t.Enum != nil {
				c.fail("given twice")
			}
			lines[loc{fn: -1, typ: 0, kind: "enum"}] = c.line
			t.Enum = c.args()
			if t.Enum == nil {
				t.Enum = []string{}
			}
			c.done()
			c.noChildren()
		}
		return parsedType{t: t, lines: lines}
	}
	t.Fields = []Field{}
	for _, kc := range n.n.Children {
		c := p.visit(kc)
		if c.name() != "field" {
			c.fail("unknown node in a type: expected field")
			p.skip(kc)
			continue
		}
		lines[loc{fn: -1, typ: 0, kind: "field", child: len(t.Fields)}] = c.line
		t.Fields = append(t.Fields, c.field("field name", false))
		c.noChildren()
	}
	return parsedType{t: t, lines: lines}
}

// number returns the value of property key, a number, or nil when absent.
func (n *node) number(key string) *float64 {
	var f float64
	switch v := n.prop(key).(type) {
	case nil:
		if !n.has(key) {
			return nil
		}
		n.fail("property %s must be a number", key)
		return nil
	case int64:
		f = float64(v)
	case float64:
		f = v
	case *big.Int:
		f, _ = new(big.Float).SetInt(v).Float64()
	default:
		n.fail("property %s must be a number, not %v", key, v)
		return nil
	}
	return &f
}

// form reads a form node: its fields, each possibly a formset with row
// fields of its own.
func (p *parser) form(n *node) parsedForm {
	at := loc{fn: -1, typ: -1, form: 1}
	lines := map[loc]int{at: n.line}
	f := FormDef{Name: n.arg("form name"), Route: n.str("route")}
	n.done()
	for _, kc := range n.n.Children {
		c := p.visit(kc)
		if c.name() != "field" {
			c.fail("unknown node in a form: expected field")
			p.skip(kc)
			continue
		}
		fl := loc{fn: -1, typ: -1, form: 1, kind: "field", child: len(f.Fields)}
		lines[fl] = c.line
		f.Fields = append(f.Fields, p.formField(c, func(k, line int) {
			rl := fl
			rl.sub = k + 1
			lines[rl] = line
		}))
	}
	return parsedForm{f: f, lines: lines}
}

// formField reads a field node of a form, or of a formset's row when row
// is nil; row records the lines of a formset's row fields.
func (p *parser) formField(n *node, row func(k, line int)) FormField {
	f := FormField{
		Name:           n.arg("field name"),
		Type:           n.str("type"),
		Label:          n.str("label"),
		Required:       n.boolean("required"),
		Min:            n.number("min"),
		Max:            n.number("max"),
		Gt:             n.number("gt"),
		Lt:             n.number("lt"),
		Len:            n.number("len"),
		Email:          n.boolean("email"),
		URL:            n.boolean("url"),
		Pattern:        n.str("pattern"),
		PatternMessage: n.str("pattern-message"),
		ServerOnly:     n.boolean("server-only"),
		Widget:         n.str("widget"),
	}
	if f.Type == "" && !n.bad {
		n.fail("property type is required")
	}
	n.done()
	for _, kc := range n.n.Children {
		c := p.visit(kc)
		switch c.name() {
		case "choices":
			if f.Choices != nil {
				c.fail("given twice")
			}
			f.Choices = c.args()
			if f.Choices == nil {
				f.Choices = []string{}
			}
			c.done()
			c.noChildren()
		case "field":
			if row == nil {
				c.fail("a formset's row field has no fields of its own (formsets do not nest)")
				p.skip(kc)
				continue
			}
			row(len(f.Fields), c.line)
			f.Fields = append(f.Fields, p.formField(c, nil))
		default:
			c.fail("unknown node in a form field: expected choices or field")
			p.skip(kc)
		}
	}
	return f
}
