package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// HeaderInvalidate is the name of the response header that carries
// invalidation targets (docs/spec.md §3).
const HeaderInvalidate = "X-Mizan-Invalidate"

// FormatHeader formats targets as the value of the [HeaderInvalidate]
// header (docs/spec.md §3), for example "user;user_id=5, notifications".
//
// Each target becomes its context name followed by ";name=value" for each
// parameter, sorted by name, with the value stringified as by [Stringify]
// and percent-encoded byte by byte: every byte outside A-Z a-z 0-9 - . _ ~
// as %XX with upper-case hex. Entries are joined by ", ".
//
// The header names contexts only: a function-level target appears as its
// context, broad if it has no parameters and scoped if it has. A broad
// target drops every scoped target of the same context, wherever it
// appears in targets, and exact duplicates collapse; the entries left keep
// the order of their first occurrence.
//
// FormatHeader returns "" for no targets. It returns an error when a value
// cannot be stringified or a name is empty or invalid (names are bytes of
// A-Z a-z 0-9 _ - .), so that what it formats always parses.
func FormatHeader(targets []Target) (string, error) {
	if len(targets) == 0 {
		return "", nil
	}
	var arr [128]byte
	b, err := AppendHeader(arr[:0], targets)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// AppendHeader is like [FormatHeader] but appends the header value to dst
// and returns the extended buffer. On error it returns dst unchanged. When
// dst has room for the result it does not allocate, for up to 16 distinct
// entries of up to eight parameters each.
func AppendHeader(dst []byte, targets []Target) ([]byte, error) {
	orig := len(dst)
	// Duplicates are found by comparing formatted entries (the encoding is
	// injective): by a linear scan of the spans of the entries written so
	// far when targets are few, through maps when they are many.
	type span struct{ start, end int }
	var spanArr [16]span
	spans := spanArr[:0]
	var broad map[string]bool
	var seen map[string]struct{}
	if len(targets) > maxLinearTargets {
		broad = make(map[string]bool)
		for i := range targets {
			if targets[i].IsBroad() {
				broad[targets[i].Context] = true
			}
		}
		seen = make(map[string]struct{}, len(targets))
	}
	for i := range targets {
		t := &targets[i]
		if !t.IsBroad() {
			if broad != nil && broad[t.Context] || broad == nil && hasBroad(targets, t.Context) {
				continue
			}
		}
		sep := len(dst)
		if len(dst) > orig {
			dst = append(dst, ", "...)
		}
		start := len(dst)
		var err error
		if dst, err = appendEntry(dst, t); err != nil {
			return dst[:orig], err
		}
		dup := false
		if seen != nil {
			if _, dup = seen[string(dst[start:])]; !dup {
				seen[string(dst[start:])] = struct{}{}
			}
		} else {
			for _, sp := range spans {
				if dup = bytes.Equal(dst[sp.start:sp.end], dst[start:]); dup {
					break
				}
			}
			if !dup {
				spans = append(spans, span{start, len(dst)})
			}
		}
		if dup {
			dst = dst[:sep]
		}
	}
	return dst, nil
}

// maxLinearTargets is the number of targets up to which AppendHeader finds
// subsumed and duplicate targets by linear scans, without allocating.
const maxLinearTargets = 32

// hasBroad reports whether targets holds a broad target of context.
func hasBroad(targets []Target, context string) bool {
	for i := range targets {
		if targets[i].IsBroad() && targets[i].Context == context {
			return true
		}
	}
	return false
}

// appendEntry appends one header entry for t.
func appendEntry(dst []byte, t *Target) ([]byte, error) {
	if err := checkName("context", t.Context); err != nil {
		return dst, err
	}
	dst = append(dst, t.Context...)
	if len(t.Params) == 0 {
		return dst, nil
	}
	var arr [8]string
	for _, name := range sortedKeys(arr[:0], t.Params) {
		if err := checkName("param", name); err != nil {
			return dst, err
		}
		sv, err := scalarOf(t.Params[name])
		if err != nil {
			return dst, fmt.Errorf("protocol: target %q: param %q: %w", t.Context, name, err)
		}
		dst = append(dst, ';')
		dst = append(dst, name...)
		dst = append(dst, '=')
		if sv.kind == kindString {
			dst = appendPercent(dst, sv.s)
		} else {
			dst = sv.appendTo(dst)
		}
	}
	return dst, nil
}

// appendPercent appends s with every byte outside A-Z a-z 0-9 - . _ ~
// written as %XX, upper-case hex.
func appendPercent(dst []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved[c] {
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = append(dst, '%', hex[c>>4], hex[c&0xF])
		start = i + 1
	}
	return append(dst, s[start:]...)
}

var unreserved = func() [256]bool {
	t := nameByte
	t['~'] = true
	return t
}()

// ParseHeader parses the value of the [HeaderInvalidate] header into
// targets, in the order of the entries. Params holds each parameter's
// decoded value as a string; it is an empty, non-nil map for a broad entry.
// Duplicate entries are kept.
//
// Entries are separated by commas; spaces and tabs around entries, names,
// '=' and values are ignored. Each entry is a context name followed by
// ";name=value" pairs. Names and values are percent-decoded, '+' being a
// literal plus. ParseHeader is strict and returns an error, never panicking,
// for:
//   - an empty header, or one of separators only;
//   - an empty entry: a leading, doubled or trailing comma;
//   - an empty parameter: a stray, doubled or trailing ';';
//   - a missing context name, a parameter without '=' or without a name,
//     or the same parameter twice in one entry;
//   - a malformed or truncated % escape;
//   - a name that, decoded, is not made of A-Z a-z 0-9 _ - . only;
//   - a value holding raw whitespace, control characters or non-ASCII bytes
//     (they must be percent-encoded), or that decodes to invalid UTF-8.
func ParseHeader(s string) ([]Target, error) {
	if trimOWS(s) == "" {
		return nil, errors.New("protocol: empty invalidate header")
	}
	out := make([]Target, 0, 1+strings.Count(s, ","))
	for n := 1; ; n++ {
		entry, rest, more := strings.Cut(s, ",")
		t, err := parseEntry(trimOWS(entry))
		if err != nil {
			return nil, fmt.Errorf("protocol: invalidate header entry %d: %w", n, err)
		}
		out = append(out, t)
		if !more {
			return out, nil
		}
		s = rest
	}
}

// parseEntry parses one trimmed entry. Its errors carry no package prefix.
func parseEntry(e string) (Target, error) {
	if e == "" {
		return Target{}, errors.New("empty entry")
	}
	name, rest, more := strings.Cut(e, ";")
	context, err := parseName(trimOWS(name), "context")
	if err != nil {
		return Target{}, err
	}
	t := Target{Context: context, Params: map[string]any{}}
	for more {
		var seg string
		seg, rest, more = strings.Cut(rest, ";")
		seg = trimOWS(seg)
		if seg == "" {
			return Target{}, errors.New("empty parameter")
		}
		k, v, ok := strings.Cut(seg, "=")
		if !ok {
			return Target{}, fmt.Errorf("parameter %q has no '='", seg)
		}
		pname, err := parseName(trimOWS(k), "parameter")
		if err != nil {
			return Target{}, err
		}
		if _, dup := t.Params[pname]; dup {
			return Target{}, fmt.Errorf("repeated parameter %q", pname)
		}
		val, err := parseValue(trimOWS(v))
		if err != nil {
			return Target{}, fmt.Errorf("parameter %q: %w", pname, err)
		}
		t.Params[pname] = val
	}
	return t, nil
}

// parseName percent-decodes and validates a context or parameter name.
func parseName(raw, what string) (string, error) {
	if raw == "" {
		return "", fmt.Errorf("missing %s name", what)
	}
	name, err := percentDecode(raw)
	if err != nil {
		return "", fmt.Errorf("%s name %q: %w", what, raw, err)
	}
	if !validName(name) {
		return "", fmt.Errorf("invalid %s name %q", what, raw)
	}
	return name, nil
}

// parseValue validates and percent-decodes a parameter value.
func parseValue(raw string) (string, error) {
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c <= ' ' || c >= 0x7f {
			return "", fmt.Errorf("value %q holds byte 0x%02X unencoded", raw, c)
		}
	}
	v, err := percentDecode(raw)
	if err != nil {
		return "", fmt.Errorf("value %q: %w", raw, err)
	}
	if !utf8.ValidString(v) {
		return "", fmt.Errorf("value %q is not valid UTF-8 once decoded", raw)
	}
	return v, nil
}

// percentDecode replaces each %XX (either case of hex) by its byte. It
// returns s itself when s holds no '%'.
func percentDecode(s string) (string, error) {
	i := strings.IndexByte(s, '%')
	if i < 0 {
		return s, nil
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b = append(b, c)
			continue
		}
		if i+2 >= len(s) {
			return "", errors.New("truncated percent escape")
		}
		hi, ok1 := unhex(s[i+1])
		lo, ok2 := unhex(s[i+2])
		if !ok1 || !ok2 {
			return "", fmt.Errorf("bad percent escape %q", s[i:i+3])
		}
		b = append(b, hi<<4|lo)
		i += 2
	}
	return string(b), nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// trimOWS trims the spaces and tabs around s.
func trimOWS(s string) string {
	return strings.Trim(s, " \t")
}

// AppendPercent appends s percent-encoded as the header format encodes a
// parameter name or a string value: every byte outside A-Z a-z 0-9 - . _ ~
// as %XX, upper-case hex. With it a server writes header-form entries of
// values that are wire strings already (§4), as the origin names the
// instance it served in X-Mizan-Instance (docs/spec.md §11); [ParseHeader]
// reads them back.
func AppendPercent(dst []byte, s string) []byte { return appendPercent(dst, s) }
