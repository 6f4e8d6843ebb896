package ir

import (
	"fmt"
	"unicode/utf8"
)

// The KDL library this package parses with does not record where nodes are,
// and its errors do not give reliable lines. layout scans the KDL source for
// its structure only (comments, strings, node boundaries, children blocks)
// to find the line of each node, and reports lexical errors (an unterminated
// string or comment, an unbalanced brace) with their line.

// layout is the structure of a KDL source.
type layout struct {
	// lines is the 1-based line of each node, in the order a depth-first
	// walk of the parsed document visits them; nodes commented out with /-
	// are left out, as the parser leaves them out.
	lines []int
	// tops are the byte offsets where the top-level nodes start (commented
	// out ones included), and the end of the source.
	tops []int
}

// lineError is a malformed-input error at a line.
type lineError struct {
	line int
	msg  string
}

// Error implements the error interface.
func (e *lineError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

type layoutScanner struct {
	src  []byte
	i    int
	line int
	out  layout

	inNode      bool // a node has started and not ended
	nodeSkipped bool // the current node is commented out
	slashdash   bool // a /- waits for what it comments out
	frames      []frame
}

// frame is an open children block.
type frame struct {
	line        int  // where its '{' is
	skipped     bool // the block is commented out, or inside one that is
	nodeSkipped bool // the node owning the block is commented out
}

// scanLayout returns the layout of the KDL source src, or the first lexical
// error in it.
func scanLayout(src []byte) (layout, error) {
	s := &layoutScanner{src: src, line: 1}
	if err := s.run(); err != nil {
		return layout{}, err
	}
	s.out.tops = append(s.out.tops, len(src))
	return s.out, nil
}

func (s *layoutScanner) fail(line int, format string, args ...any) error {
	return &lineError{line: line, msg: fmt.Sprintf(format, args...)}
}

func (s *layoutScanner) run() error {
	for s.i < len(s.src) {
		c := s.src[s.i]
		switch {
		case s.newline():
			s.endNode()
		case s.space():
		case c == ';':
			s.i++
			s.endNode()
		case c == '/':
			if err := s.slash(); err != nil {
				return err
			}
		case c == '\\':
			if err := s.continuation(); err != nil {
				return err
			}
		case c == '{':
			if !s.inNode {
				return s.fail(s.line, "'{' without a node before it")
			}
			skipped := s.slashdash || s.nodeSkipped || s.parentSkipped()
			s.frames = append(s.frames, frame{line: s.line, skipped: skipped, nodeSkipped: s.nodeSkipped})
			s.slashdash = false
			s.inNode = false
			s.i++
		case c == '}':
			if len(s.frames) == 0 {
				return s.fail(s.line, "'}' without a matching '{'")
			}
			f := s.frames[len(s.frames)-1]
			s.frames = s.frames[:len(s.frames)-1]
			s.inNode, s.nodeSkipped, s.slashdash = true, f.nodeSkipped, false
			s.i++
		case c == '=':
			if !s.inNode {
				return s.fail(s.line, "'=' without a node before it")
			}
			s.i++
		default:
			if err := s.token(); err != nil {
				return err
			}
		}
	}
	if s.slashdash {
		return s.fail(s.line, "'/-' at the end of the document comments out nothing")
	}
	if n := len(s.frames); n > 0 {
		return s.fail(s.frames[n-1].line, "'{' is never closed")
	}
	return nil
}

func (s *layoutScanner) parentSkipped() bool {
	return len(s.frames) > 0 && s.frames[len(s.frames)-1].skipped
}

// endNode ends the current node at a terminator. A /- inside the node
// that comments out nothing lapses, as the parser lets it; one between
// nodes applies to the next node.
func (s *layoutScanner) endNode() {
	if s.inNode {
		s.slashdash = false
	}
	s.inNode = false
}

// newline consumes a KDL newline at s.i and reports whether there was one.
// Lines are counted at "\n", "\r\n" and a lone "\r", as editors count them.
func (s *layoutScanner) newline() bool {
	switch c := s.src[s.i]; c {
	case '\n':
		s.i++
		s.line++
		return true
	case '\r':
		s.i++
		if s.i < len(s.src) && s.src[s.i] == '\n' {
			s.i++
		}
		s.line++
		return true
	case '\f':
		s.i++
		return true
	}
	if s.src[s.i] >= utf8.RuneSelf {
		r, size := utf8.DecodeRune(s.src[s.i:])
		if r == 0x85 || r == 0x2028 || r == 0x2029 {
			s.i += size
			return true
		}
	}
	return false
}

// space consumes KDL whitespace at s.i and reports whether there was some.
func (s *layoutScanner) space() bool {
	c := s.src[s.i]
	if c == ' ' || c == '\t' {
		s.i++
		return true
	}
	if c < utf8.RuneSelf {
		return false
	}
	r, size := utf8.DecodeRune(s.src[s.i:])
	if isUnicodeSpace(r) {
		s.i += size
		return true
	}
	return false
}

// isUnicodeSpace reports whether r is one of KDL's non-ASCII spaces.
func isUnicodeSpace(r rune) bool {
	return r == 0xa0 || r == 0x1680 || r >= 0x2000 && r <= 0x200a || r == 0x202f || r == 0x205f || r == 0x3000 || r == 0xfeff
}

// isUnicodeBreak reports whether r is a non-ASCII KDL space or newline,
// which ends a bare token.
func isUnicodeBreak(r rune) bool {
	return isUnicodeSpace(r) || r == 0x85 || r == 0x2028 || r == 0x2029
}

// slash handles "//", "/*" and "/-" at s.i.
func (s *layoutScanner) slash() error {
	if s.i+1 >= len(s.src) {
		return s.fail(s.line, "unexpected '/'")
	}
	switch s.src[s.i+1] {
	case '/':
		for s.i < len(s.src) && s.src[s.i] != '\n' && s.src[s.i] != '\r' {
			s.i++
		}
	case '*':
		start := s.line
		s.i += 2
		depth := 1
		for depth > 0 {
			if s.i >= len(s.src) {
				return s.fail(start, "'/*' comment is never closed")
			}
			switch {
			case s.src[s.i] == '*' && s.i+1 < len(s.src) && s.src[s.i+1] == '/':
				depth--
				s.i += 2
			case s.src[s.i] == '/' && s.i+1 < len(s.src) && s.src[s.i+1] == '*':
				depth++
				s.i += 2
			case s.newline():
			default:
				s.i++
			}
		}
	case '-':
		s.i += 2
		s.slashdash = true
	default:
		return s.fail(s.line, "unexpected '/'")
	}
	return nil
}

// continuation handles a line continuation: '\' then optional space and a
// comment, then a newline.
func (s *layoutScanner) continuation() error {
	line := s.line
	s.i++
	for s.i < len(s.src) {
		switch {
		case s.newline():
			return nil
		case s.space():
		case s.src[s.i] == '/' && s.i+1 < len(s.src) && s.src[s.i+1] == '/':
			for s.i < len(s.src) && s.src[s.i] != '\n' && s.src[s.i] != '\r' {
				s.i++
			}
		default:
			return s.fail(line, "'\\' continues a line only at its end")
		}
	}
	return nil
}

// token consumes a value, name or type annotation at s.i, starting a node
// when none is open.
func (s *layoutScanner) token() error {
	if !s.inNode {
		skipped := s.slashdash || s.parentSkipped()
		if len(s.frames) == 0 {
			s.out.tops = append(s.out.tops, s.i)
		}
		if !skipped {
			s.out.lines = append(s.out.lines, s.line)
		}
		s.inNode, s.nodeSkipped, s.slashdash = true, skipped, false
	} else if s.slashdash {
		s.slashdash = false // it comments out this argument or property
	}
	switch c := s.src[s.i]; {
	case c == '"':
		return s.quoted()
	case c == 'r' && s.rawStart():
		return s.raw()
	case c == '(':
		start := s.line
		s.i++
		for {
			if s.i >= len(s.src) {
				return s.fail(start, "'(' type annotation is never closed")
			}
			switch s.src[s.i] {
			case ')':
				s.i++
				return nil
			case '"':
				if err := s.quoted(); err != nil {
					return err
				}
			case '\n', '\r':
				return s.fail(start, "'(' type annotation is never closed on its line")
			default:
				s.i++
			}
		}
	case c == ')':
		return s.fail(s.line, "unexpected ')'")
	}
	for s.i < len(s.src) {
		c := s.src[s.i]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == ';' || c == '{' || c == '}' ||
			c == '(' || c == ')' || c == '"' || c == '=' || c == '\\' ||
			c == '/' && s.i+1 < len(s.src) && (s.src[s.i+1] == '/' || s.src[s.i+1] == '*' || s.src[s.i+1] == '-') {
			break
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(s.src[s.i:])
			if isUnicodeBreak(r) {
				break
			}
			s.i += size
			continue
		}
		s.i++
	}
	return nil
}

// rawStart reports whether a raw string r"…", r#"…"# starts at s.i.
func (s *layoutScanner) rawStart() bool {
	j := s.i + 1
	for j < len(s.src) && s.src[j] == '#' {
		j++
	}
	return j < len(s.src) && s.src[j] == '"'
}

// quoted consumes a quoted string at s.i.
func (s *layoutScanner) quoted() error {
	start := s.line
	s.i++
	for {
		if s.i >= len(s.src) {
			return s.fail(start, "string is never closed")
		}
		switch s.src[s.i] {
		case '"':
			s.i++
			return nil
		case '\\':
			s.i += 2
		default:
			if !s.newline() {
				s.i++
			}
		}
	}
}

// raw consumes a raw string at s.i.
func (s *layoutScanner) raw() error {
	start := s.line
	s.i++
	hashes := 0
	for s.src[s.i] == '#' {
		hashes++
		s.i++
	}
	s.i++ // the opening quote
	for {
		if s.i >= len(s.src) {
			return s.fail(start, "raw string is never closed")
		}
		if s.src[s.i] == '"' {
			j := s.i + 1
			n := 0
			for j < len(s.src) && s.src[j] == '#' && n < hashes {
				j++
				n++
			}
			if n == hashes {
				s.i = j
				return nil
			}
		}
		if !s.newline() {
			s.i++
		}
	}
}
