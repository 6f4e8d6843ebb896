package protocol

import (
	"fmt"
	"slices"
	"strings"
)

// Param is one parameter of a target or of a context instance as a wire
// string (docs/spec.md §4).
type Param struct {
	Name  string
	Value string
}

// Instance is one instance of a context, the unit every consumer of
// invalidations holds: a context name and its parameters as wire strings,
// already normalized through their declared types (docs/spec.md §4), sorted
// by name.
type Instance struct {
	Context string
	Params  []Param
}

// Lookup returns the value of the named parameter and whether inst has it.
func (inst Instance) Lookup(name string) (string, bool) {
	return lookup(inst.Params, name)
}

// Normal is a target in the form every consumer reads: its params sorted by
// name with their values stringified once (docs/spec.md §4). The emission
// step normalizes each target once; consumers never stringify again.
type Normal struct {
	Context  string
	Function string
	Params   []Param // sorted by name; empty for a broad target
}

// Normalize returns t in normal form. It fails for an invalid name or a
// value [Stringify] refuses.
func Normalize(t Target) (Normal, error) {
	if err := checkName("context", t.Context); err != nil {
		return Normal{}, err
	}
	if t.Function != "" {
		if err := checkName("function", t.Function); err != nil {
			return Normal{}, err
		}
	}
	n := Normal{Context: t.Context, Function: t.Function}
	if len(t.Params) == 0 {
		return n, nil
	}
	n.Params = make([]Param, 0, len(t.Params))
	var arr [8]string
	for _, name := range sortedKeys(arr[:0], t.Params) {
		if err := checkName("param", name); err != nil {
			return Normal{}, err
		}
		s, err := Stringify(t.Params[name])
		if err != nil {
			return Normal{}, fmt.Errorf("protocol: target %q: param %q: %w", t.Context, name, err)
		}
		n.Params = append(n.Params, Param{Name: name, Value: s})
	}
	return n, nil
}

// IsBroad reports whether n has no parameters.
func (n Normal) IsBroad() bool { return len(n.Params) == 0 }

// Lookup returns the value of the named target parameter and whether n
// has it.
func (n Normal) Lookup(name string) (string, bool) {
	return lookup(n.Params, name)
}

// String formats n for logs: its header entry form without percent-encoding
// (user;user_id=5), with the function after a '#' when there is one.
func (n Normal) String() string {
	var b strings.Builder
	b.WriteString(n.Context)
	if n.Function != "" {
		b.WriteByte('#')
		b.WriteString(n.Function)
	}
	for _, p := range n.Params {
		b.WriteByte(';')
		b.WriteString(p.Name)
		b.WriteByte('=')
		b.WriteString(p.Value)
	}
	return b.String()
}

// Match reports whether target t applies to the instance: the matching rule
// of docs/spec.md §3, the one every consumer (the origin cache, the live
// hub, page re-rendering, the edge) calls. t matches when its context is
// the instance's and, for every parameter of t, the instance either lacks
// it or has exactly the same string. A broad target matches every instance
// of its context.
func Match(t Normal, inst Instance) bool {
	return MatchFunc(t, inst.Context, inst.Lookup)
}

// MatchFunc is [Match] for an instance whose parameters are read through
// lookup (a consumer that keeps them in a map).
func MatchFunc(t Normal, context string, lookup func(name string) (string, bool)) bool {
	if t.Context != context {
		return false
	}
	for _, p := range t.Params {
		if v, ok := lookup(p.Name); ok && v != p.Value {
			return false
		}
	}
	return true
}

// Refetch says what a matching target asks a consumer to refresh: "" for
// the whole instance, or the name of the one function whose part of the
// instance changed (a consumer that cannot refresh one function refreshes
// the instance).
func (n Normal) Refetch() string { return n.Function }

// SortParams sorts params by name, in place, and returns them.
func SortParams(params []Param) []Param {
	slices.SortFunc(params, func(a, b Param) int { return strings.Compare(a.Name, b.Name) })
	return params
}

func lookup(params []Param, name string) (string, bool) {
	for _, p := range params {
		if p.Name == name {
			return p.Value, true
		}
	}
	return "", false
}

// AppendInstance appends inst as one header-form entry (the format of
// X-Mizan-Invalidate, §3): its context, then ";name=value" for each param
// in order, percent-encoded as [FormatHeader] encodes them. The origin
// names the instances a response shows this way in X-Mizan-Instance
// (docs/spec.md §13.8); [ParseHeader] reads them back.
func AppendInstance(dst []byte, inst Instance) []byte {
	dst = append(dst, inst.Context...)
	for _, p := range inst.Params {
		dst = append(dst, ';')
		dst = appendPercent(dst, p.Name)
		dst = append(dst, '=')
		dst = appendPercent(dst, p.Value)
	}
	return dst
}
