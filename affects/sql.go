package affects

import (
	"slices"
	"strings"
)

// Statement is what [Parse] finds in one SQL text (which may hold several
// statements separated by ';').
type Statement struct {
	// Reads are the tables read (FROM, JOIN, USING, MERGE ... USING),
	// sorted, without the names of common table expressions.
	Reads []string
	// Writes are the tables written (INSERT INTO, REPLACE INTO, UPDATE,
	// DELETE FROM, TRUNCATE, MERGE INTO), sorted.
	Writes []Write
	// Words are the lower-cased identifiers of the text: the columns a
	// read may depend on, as far as a token can tell.
	Words map[string]bool
	// Star reports a select-list star (* or t.*): the read depends on
	// every column.
	Star bool
}

// Write is one table a statement writes.
type Write struct {
	Table string
	// Columns are the columns an UPDATE sets, sorted; nil for a write
	// that adds or removes rows (INSERT, DELETE, TRUNCATE, MERGE, an
	// upsert), which may change any read of the table.
	Columns []string
}

// token kinds.
const (
	tWord  = iota // an unquoted identifier or keyword, lower-cased
	tQuote        // a quoted identifier, as written inside the quotes
	tPunct        // one byte: ( ) , . ; * =
	tOther        // a literal, a parameter, an operator
)

type token struct {
	kind int
	text string
}

// lex splits SQL into tokens, dropping comments, string literals (their
// content) and whitespace. It understands the quoting of SQLite and
// Postgres: 'string' (” inside), E'...' with backslash escapes,
// $tag$...$tag$, "identifier" (""), `identifier`, [identifier], -- and
// /* */ comments (nested, as Postgres allows).
func lex(s string) []token {
	var out []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			depth := 0
			for i < len(s) {
				if i+1 < len(s) && s[i] == '/' && s[i+1] == '*' {
					depth++
					i += 2
				} else if i+1 < len(s) && s[i] == '*' && s[i+1] == '/' {
					depth--
					i += 2
					if depth == 0 {
						break
					}
				} else {
					i++
				}
			}
		case c == '\'':
			i = skipQuoted(s, i, '\'', false)
			out = append(out, token{tOther, "'"})
		case (c == 'e' || c == 'E') && i+1 < len(s) && s[i+1] == '\'':
			i = skipQuoted(s, i+1, '\'', true)
			out = append(out, token{tOther, "'"})
		case c == '"' || c == '`':
			j := skipQuoted(s, i, c, false)
			inner := s[i+1 : max(i+1, j-1)]
			out = append(out, token{tQuote, strings.ReplaceAll(inner, string([]byte{c, c}), string(c))})
			i = j
		case c == '[':
			j := strings.IndexByte(s[i+1:], ']')
			if j < 0 {
				out = append(out, token{tQuote, s[i+1:]})
				i = len(s)
				continue
			}
			out = append(out, token{tQuote, s[i+1 : i+1+j]})
			i += j + 2
		case c == '$' && i+1 < len(s) && (s[i+1] == '$' || isIdentStart(s[i+1])):
			j := i + 1
			for j < len(s) && s[j] != '$' && isIdent(s[j]) {
				j++
			}
			if j < len(s) && s[j] == '$' {
				tag := s[i : j+1]
				end := strings.Index(s[j+1:], tag)
				if end < 0 {
					i = len(s)
				} else {
					i = j + 1 + end + len(tag)
				}
				out = append(out, token{tOther, "'"})
			} else {
				out = append(out, token{tOther, s[i:j]}) // $1, $name
				i = j
			}
		case isIdentStart(c):
			j := i
			for j < len(s) && isIdent(s[j]) {
				j++
			}
			out = append(out, token{tWord, strings.ToLower(s[i:j])})
			i = j
		case c >= '0' && c <= '9':
			j := i
			for j < len(s) && (isIdent(s[j]) || s[j] == '.') {
				j++
			}
			out = append(out, token{tOther, s[i:j]})
			i = j
		case strings.IndexByte("(),.;*=", c) >= 0:
			out = append(out, token{tPunct, string(c)})
			i++
		default:
			out = append(out, token{tOther, string(c)})
			i++
		}
	}
	return out
}

// skipQuoted returns the index after the literal opened by q at s[i]; a
// doubled q stands for itself, and with backslash a backslash escapes the
// next byte. An unterminated literal runs to the end.
func skipQuoted(s string, i int, q byte, backslash bool) int {
	for j := i + 1; j < len(s); j++ {
		switch {
		case backslash && s[j] == '\\':
			j++
		case s[j] == q:
			if j+1 < len(s) && s[j+1] == q {
				j++
				continue
			}
			return j + 1
		}
	}
	return len(s)
}

func isIdentStart(c byte) bool {
	return c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z') || c >= 0x80
}

func isIdent(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') || c == '$' }

// stopWords end a table reference: after them no alias follows.
var stopWords = map[string]bool{
	"where": true, "join": true, "inner": true, "left": true, "right": true, "full": true, "outer": true,
	"cross": true, "natural": true, "on": true, "using": true, "group": true, "order": true, "having": true,
	"limit": true, "offset": true, "union": true, "intersect": true, "except": true, "window": true,
	"set": true, "values": true, "select": true, "returning": true, "default": true, "as": true,
	"indexed": true, "not": true, "for": true, "with": true, "lateral": true, "only": true,
	"fetch": true, "into": true, "do": true, "then": true, "when": true, "tablesample": true,
	"from": true, "and": true, "or": true, "is": true, "in": true, "by": true, "overriding": true,
}

// Parse finds the tables a SQL text reads and writes. It is a scanner, not
// a parser of the whole grammar: it reads a table name after FROM, JOIN,
// INTO, UPDATE, DELETE FROM, TRUNCATE and USING, at any depth (so
// subqueries and CTE bodies count), takes schema-qualified names
// (main.tasks, public."Tasks") as their last part unless the schema is
// another, skips table-valued functions (json_each(...)) and the names
// CTEs define, and ignores the FROM of EXTRACT, SUBSTRING, TRIM and IS
// DISTINCT FROM. It never fails: what it cannot read it leaves out.
func Parse(query string) Statement {
	toks := lex(query)
	st := Statement{Words: map[string]bool{}}
	ctes := map[string]bool{}
	reads := map[string]bool{}
	writes := map[string][]string{} // table → columns set, nil for rows
	rowWrite := map[string]bool{}
	var parens []bool // per open paren: true when a function-like call (FROM there is not a table's)
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.kind == tWord || t.kind == tQuote {
			st.Words[strings.ToLower(t.text)] = true
		}
		if t.kind == tPunct {
			switch t.text {
			case "(":
				fn := i > 0 && (toks[i-1].kind == tWord || toks[i-1].kind == tQuote) && !keywordBeforeParen[toks[i-1].text]
				parens = append(parens, fn)
			case ")":
				if len(parens) > 0 {
					parens = parens[:len(parens)-1]
				}
			case "*":
				if i > 0 && (isWord(toks[i-1], "select") || isWord(toks[i-1], "distinct") || isWord(toks[i-1], "all") || toks[i-1].text == "," || toks[i-1].text == ".") {
					st.Star = true
				}
			}
			continue
		}
		if t.kind != tWord {
			continue
		}
		inCall := len(parens) > 0 && parens[len(parens)-1]
		prev := ""
		if i > 0 && toks[i-1].kind == tWord {
			prev = toks[i-1].text
		}
		switch t.text {
		case "with":
			i = cteNames(toks, i+1, ctes) - 1
		case "from":
			if inCall || prev == "distinct" || prev == "delete" {
				continue
			}
			i = tableList(toks, i+1, reads) - 1
		case "join":
			if name, j, ok := tableRef(toks, i+1, false); ok {
				reads[name] = true
				i = j - 1
			}
		case "using":
			if i+1 < len(toks) && toks[i+1].text == "(" {
				continue
			}
			i = tableList(toks, i+1, reads) - 1
		case "into":
			if prev != "insert" && prev != "replace" && prev != "merge" && !orConflict(toks, i) {
				continue
			}
			if name, j, ok := tableRef(toks, i+1, true); ok {
				rowWrite[name] = true
				i = j - 1
			}
		case "update":
			if prev == "do" || prev == "for" || prev == "key" || prev == "on" || prev == "no" {
				continue
			}
			j := i + 1
			if j+1 < len(toks) && isWord(toks[j], "or") {
				j += 2
			}
			name, k, ok := tableRef(toks, j, false)
			if !ok {
				continue
			}
			cols, upsert := setColumns(toks, k)
			if upsert {
				rowWrite[name] = true
			} else if writes[name] == nil {
				writes[name] = cols
			} else {
				writes[name] = append(writes[name], cols...)
			}
			i = k - 1
		case "delete":
			if prev == "on" || i+1 >= len(toks) || !isWord(toks[i+1], "from") {
				continue
			}
			if name, j, ok := tableRef(toks, i+2, false); ok {
				rowWrite[name] = true
				i = j - 1
			}
		case "truncate":
			j := i + 1
			if j < len(toks) && isWord(toks[j], "table") {
				j++
			}
			for {
				name, k, ok := tableRef(toks, j, false)
				if !ok {
					break
				}
				rowWrite[name] = true
				j = k
				if j < len(toks) && toks[j].text == "," {
					j++
					continue
				}
				break
			}
			i = j - 1
		}
	}
	for name := range reads {
		if !ctes[name] {
			st.Reads = append(st.Reads, name)
		}
	}
	slices.Sort(st.Reads)
	for name := range rowWrite {
		if !ctes[name] {
			st.Writes = append(st.Writes, Write{Table: name})
		}
	}
	for name, cols := range writes {
		if ctes[name] || rowWrite[name] {
			continue
		}
		slices.Sort(cols)
		st.Writes = append(st.Writes, Write{Table: name, Columns: slices.Compact(cols)})
	}
	slices.SortFunc(st.Writes, func(a, b Write) int { return strings.Compare(a.Table, b.Table) })
	return st
}

// keywordBeforeParen are words after which "(" opens a subquery or a list,
// not a function's arguments.
var keywordBeforeParen = map[string]bool{
	"from": true, "join": true, "in": true, "exists": true, "as": true, "select": true, "where": true,
	"and": true, "or": true, "not": true, "on": true, "using": true, "values": true, "into": true,
	"union": true, "all": true, "any": true, "some": true, "lateral": true, "set": true, "with": true,
	"materialized": true, "then": true, "else": true, "when": true, "returning": true, "by": true,
	"having": true, "intersect": true, "except": true, "distinct": true, "case": true, "limit": true,
}

func isWord(t token, w string) bool { return t.kind == tWord && t.text == w }

// orConflict reports INSERT OR <action> INTO / REPLACE: toks[i] is INTO
// after "insert or replace" and the like.
func orConflict(toks []token, i int) bool {
	return i >= 3 && isWord(toks[i-2], "or") && isWord(toks[i-3], "insert")
}

// tableRef reads a table name at toks[i] (after ONLY or LATERAL):
// name, schema.name or a quoted part, returning the normalized name and
// the index after it and its alias. A name followed by "(" is a
// table-valued function and gives false, unless columns says that a
// column list may follow (INSERT INTO t (a, b)); so does anything else.
func tableRef(toks []token, i int, columns bool) (string, int, bool) {
	for i < len(toks) && (isWord(toks[i], "only") || isWord(toks[i], "lateral")) {
		i++
	}
	var parts []string
	for i < len(toks) {
		t := toks[i]
		if t.kind == tQuote && t.text != "" {
			parts = append(parts, t.text)
		} else if t.kind == tWord && (len(parts) > 0 || !stopWords[t.text]) {
			parts = append(parts, t.text)
		} else {
			break
		}
		i++
		if i+1 < len(toks) && toks[i].text == "." && toks[i].kind == tPunct {
			i++
			continue
		}
		break
	}
	if len(parts) == 0 || len(parts) > 3 || (!columns && i < len(toks) && toks[i].text == "(" && toks[i].kind == tPunct) {
		return "", i, false
	}
	name := parts[len(parts)-1]
	if len(parts) >= 2 {
		if schema := parts[len(parts)-2]; schema != "main" && schema != "public" {
			name = schema + "." + name
		}
	}
	if i < len(toks) && toks[i].text == "*" {
		return "", i, false
	}
	// An alias: AS name, or a word that ends nothing.
	if i < len(toks) && isWord(toks[i], "as") {
		i++
		if i < len(toks) && (toks[i].kind == tWord || toks[i].kind == tQuote) {
			i++
		}
	} else if i < len(toks) && (toks[i].kind == tQuote || (toks[i].kind == tWord && !stopWords[toks[i].text])) {
		i++
	}
	return name, i, true
}

// tableList reads the comma-separated table references after FROM or
// USING into reads and returns the index after them.
func tableList(toks []token, i int, reads map[string]bool) int {
	for i < len(toks) {
		name, j, ok := tableRef(toks, i, false)
		if !ok {
			return i
		}
		reads[name] = true
		i = j
		if i < len(toks) && toks[i].kind == tPunct && toks[i].text == "," {
			i++
			continue
		}
		return i
	}
	return i
}

// cteNames records the names WITH [RECURSIVE] name [(cols)] AS (...)
// defines, at toks[i], and returns where its first body begins.
func cteNames(toks []token, i int, ctes map[string]bool) int {
	if i < len(toks) && isWord(toks[i], "recursive") {
		i++
	}
	if i < len(toks) && (toks[i].kind == tWord || toks[i].kind == tQuote) {
		ctes[strings.ToLower(toks[i].text)] = true
		if toks[i].kind == tQuote {
			ctes[toks[i].text] = true
		}
	}
	// Later CTEs of the list: "), name AS (" at depth 0 of the WITH.
	depth := 0
	for j := i; j < len(toks); j++ {
		switch toks[j].text {
		case "(":
			depth++
		case ")":
			depth--
			if depth == 0 && j+2 < len(toks) && toks[j+1].text == "," && (toks[j+2].kind == tWord || toks[j+2].kind == tQuote) {
				ctes[strings.ToLower(toks[j+2].text)] = true
				if toks[j+2].kind == tQuote {
					ctes[toks[j+2].text] = true
				}
			}
			if depth < 0 {
				return i
			}
		}
		if depth == 0 && toks[j].kind == tWord && (toks[j].text == "select" || toks[j].text == "insert" || toks[j].text == "update" || toks[j].text == "delete") {
			break
		}
	}
	return i
}

// setColumns reads "SET a = ..., b = ..." (or SET (a, b) = ...) after an
// UPDATE's table at toks[i]. upsert reports an UPDATE that is not
// followed by SET (a dialect this does not know: counted as rows).
func setColumns(toks []token, i int) (cols []string, upsert bool) {
	if i >= len(toks) || !isWord(toks[i], "set") {
		return nil, true
	}
	depth := 0
	expectCol := true
	for j := i + 1; j < len(toks); j++ {
		t := toks[j]
		switch {
		case t.kind == tPunct && t.text == "(":
			if expectCol && depth == 0 {
				// SET (a, b) = (...): the names up to ")".
				for j++; j < len(toks) && toks[j].text != ")"; j++ {
					if toks[j].kind == tWord || toks[j].kind == tQuote {
						cols = append(cols, strings.ToLower(toks[j].text))
					}
				}
				expectCol = false
				continue
			}
			depth++
		case t.kind == tPunct && t.text == ")":
			depth--
		case t.kind == tPunct && t.text == "," && depth == 0:
			expectCol = true
		case t.kind == tPunct && t.text == ";" && depth == 0:
			return cols, false
		case depth == 0 && t.kind == tWord && (t.text == "where" || t.text == "from" || t.text == "returning"):
			return cols, false
		case expectCol && (t.kind == tWord || t.kind == tQuote):
			name := strings.ToLower(t.text)
			if j+2 < len(toks) && toks[j+1].text == "." { // SET t.col = (MySQL style)
				name = strings.ToLower(toks[j+2].text)
				j += 2
			}
			cols = append(cols, name)
			expectCol = false
		}
	}
	return cols, false
}
