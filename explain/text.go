package explain

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/mizan-afi/mizan/protocol"
)

// WriteJSON writes r as indented JSON, for tools.
func (r *Report) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("explain: encoding the report: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteText writes r for people.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	args, _ := json.Marshal(r.Args)
	fmt.Fprintf(&b, "mutation %s %s", r.Mutation, args)
	if r.Caller != "" {
		fmt.Fprintf(&b, " by caller %s", r.Caller)
	}
	b.WriteString("\n")
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	if len(r.Targets) == 0 {
		b.WriteString("\nIt declares no targets: it invalidates nothing (no header, no purge, no push).\n")
	}
	b.WriteString("\nTargets:\n")
	for _, t := range r.Targets {
		n, err := protocol.Normalize(t.Wire())
		name := t.Context
		if err == nil {
			name = n.String()
		}
		rules := make([]string, len(t.Rules))
		for i, rl := range t.Rules {
			rules[i] = string(rl)
		}
		fmt.Fprintf(&b, "  %s  [%s]\n", name, strings.Join(rules, ", "))
		for _, y := range t.Why {
			fmt.Fprintf(&b, "      %s\n", y)
		}
	}
	fmt.Fprintf(&b, "\nX-Mizan-Invalidate: %s\n", r.Header)
	fmt.Fprintf(&b, "invalidate (body): %s\n", r.Body)
	b.WriteString("\nOrigin cache (generations deleted):\n")
	for _, c := range r.Cache {
		if c.Skipped != "" {
			fmt.Fprintf(&b, "  %s: nothing (%s)\n", c.Context, c.Skipped)
			continue
		}
		what := "every entry"
		switch {
		case c.User != "":
			what = "the entries of caller " + c.User
		case c.Param != "" && c.MayLack:
			what = "entries with " + c.Param + "=" + c.Value + " or without " + c.Param
		case c.Param != "":
			what = "entries with " + c.Param + "=" + c.Value
		}
		fmt.Fprintf(&b, "  %s: %s\n", c.Context, what)
		for _, k := range c.Keys {
			fmt.Fprintf(&b, "      DEL %s\n", k)
		}
	}
	b.WriteString("\nWebSocket pushes:\n")
	for _, l := range r.Live {
		fmt.Fprintf(&b, "  %s\n", l.Text)
	}
	b.WriteString("\nPages:\n")
	if len(r.Pages) == 0 {
		b.WriteString("  none (no affected context has a page route)\n")
	}
	for _, p := range r.Pages {
		when := "rendered again on its next request"
		if p.Strategy == "psr" {
			when = "re-rendered ahead by ssr.Pages (psr)"
		}
		fmt.Fprintf(&b, "  %s  (%s, route %s): %s\n", p.Path, p.Context, p.Route, when)
	}
	b.WriteString("\nEdge purge (entries the targets match):\n")
	for _, e := range r.Edge {
		if e.Skipped != "" {
			fmt.Fprintf(&b, "  %s: nothing (%s)\n", e.Context, e.Skipped)
			continue
		}
		var where []string
		where = append(where, e.Endpoints...)
		where = append(where, e.Pages...)
		scope := "every instance"
		if len(e.Params) > 0 {
			var kv []string
			for k, v := range e.Params {
				kv = append(kv, k+"="+v)
			}
			sort.Strings(kv)
			scope = "instances with " + strings.Join(kv, ", ") + " (or without them)"
		}
		who := "every caller's entries"
		if e.CallerOnly {
			who = "the caller's entries only (MWT sub)"
		}
		fmt.Fprintf(&b, "  %s: %s of %s, %s\n", e.Context, scope, strings.Join(where, " "), who)
	}
	if o := r.Observed; o != nil {
		b.WriteString("\nObserved (the mutation ran):\n")
		fmt.Fprintf(&b, "  status %d\n  X-Mizan-Invalidate: %s\n", o.Status, o.Header)
		for _, s := range o.Resolved {
			fmt.Fprintf(&b, "  %s\n", s)
		}
		if o.Agrees {
			b.WriteString("  agrees with the prediction\n")
		}
		for _, d := range o.Differences {
			fmt.Fprintf(&b, "  DIFFERS: %s\n", d)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
