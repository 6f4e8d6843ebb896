package ssr

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// parseReply decodes one reply line of the worker. The common replies,
// {"id":N,"html":"..."} and {"id":N,"html":"...","reads":[...]}, are
// decoded by hand (the HTML is most of the bridge's work; the short list of
// reads that follows goes through encoding/json); anything else goes
// through encoding/json.
func parseReply(line []byte) (wireReply, error) {
	line = bytes.TrimRight(line, "\r\n")
	if rest, ok := bytes.CutPrefix(line, []byte(`{"id":`)); ok {
		end := 0
		for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
			end++
		}
		if end > 0 && end <= 18 {
			if after, ok := bytes.CutPrefix(rest[end:], []byte(`,"html":`)); ok {
				if html, tail, ok := unquote(after); ok {
					id, _ := strconv.ParseInt(string(rest[:end]), 10, 64)
					if string(tail) == "}" {
						return wireReply{ID: &id, HTML: &html}, nil
					}
					if list, ok := bytes.CutPrefix(tail, []byte(`,"reads":`)); ok {
						if list, ok := bytes.CutSuffix(list, []byte("}")); ok {
							var reads []string
							if json.Unmarshal(list, &reads) == nil && reads != nil {
								return wireReply{ID: &id, HTML: &html, Reads: reads}, nil
							}
						}
					}
				}
			}
		}
	}
	var m wireReply
	err := json.Unmarshal(line, &m)
	return m, err
}

// unquote decodes the JSON string at the start of b and returns it with
// what follows its closing quote. It reports false for anything that is not
// a valid JSON string; invalid \u surrogates become U+FFFD, as with
// encoding/json.
func unquote(b []byte) (string, []byte, bool) {
	if len(b) == 0 || b[0] != '"' {
		return "", nil, false
	}
	i := 1
	for i < len(b) && b[i] != '"' && b[i] != '\\' && b[i] >= 0x20 {
		i++
	}
	if i < len(b) && b[i] == '"' {
		s := b[1:i]
		if !utf8.Valid(s) {
			return "", nil, false
		}
		return string(s), b[i+1:], true
	}
	out := make([]byte, 0, len(b))
	out = append(out, b[1:i]...)
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			if !utf8.Valid(out) {
				return "", nil, false
			}
			return string(out), b[i+1:], true
		case c < 0x20:
			return "", nil, false
		case c != '\\':
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(b) {
			return "", nil, false
		}
		switch e := b[i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(b[i+2:])
			if !ok {
				return "", nil, false
			}
			i += 4
			if utf16.IsSurrogate(r) {
				r2, ok := rune(-1), false
				if i+7 < len(b) && b[i+2] == '\\' && b[i+3] == 'u' {
					r2, ok = hex4(b[i+4:])
				}
				if dec := utf16.DecodeRune(r, r2); ok && dec != utf8.RuneError {
					r = dec
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", nil, false
		}
		i += 2
	}
	return "", nil, false
}

// hex4 decodes four hexadecimal digits.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
