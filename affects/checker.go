// Package affects is a development-time check of what mutations declare
// they affect (docs/explain.md): a database/sql driver wrapper records
// which tables each context function reads and each mutation writes, and
// when a mutation writes a table that a context function reads while the
// mutation's declared affects do not cover that function's context, the
// [Checker] logs a warning naming both functions and the table.
// [Checker.Check] turns the warnings into test failures.
//
//	checker := affects.New(affects.Options{})
//	db, err := checker.OpenDB(&sqlite.Driver{}, dsn) // any driver.Driver
//	// ... register the app's functions over db, then:
//	err = checker.Attach(app) // before the app serves
//	// ... exercise the app, then in a test:
//	checker.Check(t)
//
// Statements are attributed to the running function through the context
// it passes to QueryContext and ExecContext ([mizan.FunctionNames]); a
// statement outside any function, or sent without the function's context,
// is not recorded. Use it in development and tests only.
package affects

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/mizan-afi/mizan"
)

// Options configure a [Checker].
type Options struct {
	// Logger receives the warnings; nil is slog.Default().
	Logger *slog.Logger
}

// Warning is one mutation that writes a table a context function reads,
// without declaring that it affects the function's context.
type Warning struct {
	Mutation string // the mutation's wire name
	Function string // the context function's wire name
	Context  string // the function's context
	Table    string
	// Columns are the columns the mutation's UPDATEs set that the
	// function's statements name; nil when the mutation adds or removes
	// rows.
	Columns []string
}

// String says what is missing and how to fix it.
func (w Warning) String() string {
	what := "writes rows of"
	if len(w.Columns) > 0 {
		what = "updates " + strings.Join(w.Columns, ", ") + " of"
	}
	return fmt.Sprintf("mizan affects: mutation %s %s table %s, which %s (context %s) reads, but %s does not declare mizan.Affects(%q) or mizan.AffectsFunction(%q)",
		w.Mutation, what, w.Table, w.Function, w.Context, w.Mutation, w.Context, w.Function)
}

// fnDecl is what the checker knows of a function.
type fnDecl struct {
	mutation bool
	view     bool // a view: re-rendered whole when any target of its context matches
	context  string
	affects  []mizan.Affect
}

// readSet is what one function's statements on one table named.
type readSet struct {
	words map[string]bool
	star  bool
}

// writeSet is what one mutation's statements did to one table.
type writeSet struct {
	rows    bool
	columns map[string]bool
}

// Checker records reads and writes and reports what a mutation's affects
// miss. It is safe for concurrent use.
type Checker struct {
	logger *slog.Logger

	mu       sync.Mutex
	nameOf   func(context.Context) string
	decls    map[string]fnDecl
	reads    map[string]map[string]*readSet  // table → function → what it named
	writes   map[string]map[string]*writeSet // table → mutation → what it did
	allowed  map[[3]string]string            // mutation, function, table → reason
	reported map[[3]string]bool
	warnings []Warning
}

// New returns a Checker with nothing recorded.
func New(opts Options) *Checker {
	l := opts.Logger
	if l == nil {
		l = slog.Default()
	}
	return &Checker{
		logger:   l,
		decls:    map[string]fnDecl{},
		reads:    map[string]map[string]*readSet{},
		writes:   map[string]map[string]*writeSet{},
		allowed:  map[[3]string]string{},
		reported: map[[3]string]bool{},
	}
}

// Attach builds app and makes the checker attribute the statements its
// functions send, reading their declared affects from its metadata
// (private functions included). Call it once every function is registered
// and before app serves; several apps may be attached (their functions
// are told apart by name).
func (c *Checker) Attach(app *mizan.App) error {
	nameOf, err := mizan.FunctionNames(app)
	if err != nil {
		return fmt.Errorf("affects: %w", err)
	}
	fns, err := app.Functions()
	if err != nil {
		return fmt.Errorf("affects: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nameOf = nameOf
	for _, m := range fns {
		c.decls[m.Name] = fnDecl{mutation: m.Kind == mizan.KindMutation, view: m.ViewPath, context: m.Context, affects: m.Affects}
	}
	return nil
}

// Allow accepts that mutation writes table while function reads it
// without the mutation affecting function's context, for a reason the
// checker cannot see (the function reads the table only to check that a
// row exists; the mutation only inserts rows with new keys that no
// cached instance names). reason is required: it documents the decision.
func (c *Checker) Allow(mutation, function, table, reason string) {
	if strings.TrimSpace(reason) == "" {
		panic("affects: Allow needs a reason")
	}
	c.mu.Lock()
	c.allowed[[3]string{mutation, function, table}] = reason
	c.mu.Unlock()
}

// Warnings returns the warnings reported so far.
func (c *Checker) Warnings() []Warning {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.warnings)
}

// TB is the part of testing.TB that [Checker.Check] uses.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
}

// Check reports every warning not reported to a Check before as a test
// error (t.Errorf), and forgets it. What was recorded stays, so that a
// later write still meets an earlier read.
func (c *Checker) Check(t TB) {
	t.Helper()
	c.mu.Lock()
	ws := c.warnings
	c.warnings = nil
	c.mu.Unlock()
	for _, w := range ws {
		t.Errorf("%s", w)
	}
}

// record attributes one SQL text sent with ctx.
func (c *Checker) record(ctx context.Context, query string) {
	c.mu.Lock()
	nameOf := c.nameOf
	c.mu.Unlock()
	if nameOf == nil || ctx == nil {
		return
	}
	name := nameOf(ctx)
	if name == "" {
		return
	}
	st := Parse(query)
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.decls[name]
	if !ok {
		return
	}
	var found []Warning
	if d.mutation {
		for _, w := range st.Writes {
			byFn := c.writes[w.Table]
			if byFn == nil {
				byFn = map[string]*writeSet{}
				c.writes[w.Table] = byFn
			}
			ws := byFn[name]
			if ws == nil {
				ws = &writeSet{columns: map[string]bool{}}
				byFn[name] = ws
			}
			ws.rows = ws.rows || w.Columns == nil
			for _, col := range w.Columns {
				ws.columns[col] = true
			}
			for fn, rs := range c.reads[w.Table] {
				found = c.conflict(found, name, d, fn, w.Table, ws, rs)
			}
		}
	} else if d.context != "" {
		for _, table := range st.Reads {
			byFn := c.reads[table]
			if byFn == nil {
				byFn = map[string]*readSet{}
				c.reads[table] = byFn
			}
			rs := byFn[name]
			if rs == nil {
				rs = &readSet{words: map[string]bool{}}
				byFn[name] = rs
			}
			rs.star = rs.star || st.Star
			for wd := range st.Words {
				rs.words[wd] = true
			}
			for mut, ws := range c.writes[table] {
				found = c.conflict(found, mut, c.decls[mut], name, table, ws, rs)
			}
		}
	}
	for _, w := range found {
		c.warnings = append(c.warnings, w)
		c.logger.Warn(w.String(), "mutation", w.Mutation, "function", w.Function, "context", w.Context, "table", w.Table)
	}
}

// conflict appends the warning for mutation mut (declared md) writing
// table as ws says while function fn reads it as rs says, unless the
// affects cover fn, it is allowed, or it was reported already. A target
// of fn's context covers fn when it names the whole context or fn, or
// when fn is a view (a page cannot refresh one function: any target of
// its context renders it again, docs/spec.md §3). c.mu is held.
func (c *Checker) conflict(found []Warning, mut string, md fnDecl, fn, table string, ws *writeSet, rs *readSet) []Warning {
	fd := c.decls[fn]
	key := [3]string{mut, fn, table}
	if c.reported[key] || fd.context == "" {
		return found
	}
	if _, ok := c.allowed[key]; ok {
		return found
	}
	for _, a := range md.affects {
		if a.Context == fd.context && (a.Function == "" || a.Function == fn || fd.view) {
			return found
		}
	}
	var cols []string
	if !ws.rows {
		for col := range ws.columns {
			if rs.star || rs.words[col] {
				cols = append(cols, col)
			}
		}
		if len(cols) == 0 {
			return found // the updated columns are not ones the read names
		}
		sort.Strings(cols)
	}
	c.reported[key] = true
	return append(found, Warning{Mutation: mut, Function: fn, Context: fd.context, Table: table, Columns: cols})
}
