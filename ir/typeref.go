package ir

import (
	"fmt"
	"strconv"
	"strings"
)

// TypeKind is the kind of a type expression.
type TypeKind string

// The kinds of type expression. The scalar kinds are written in the IR as
// their own names; List, Record and Ref as described on [TypeRef.String].
const (
	Bool    TypeKind = "bool"
	String  TypeKind = "string"
	Int     TypeKind = "int"
	Int8    TypeKind = "int8"
	Int16   TypeKind = "int16"
	Int32   TypeKind = "int32"
	Int64   TypeKind = "int64"
	Uint    TypeKind = "uint"
	Uint8   TypeKind = "uint8"
	Uint16  TypeKind = "uint16"
	Uint32  TypeKind = "uint32"
	Uint64  TypeKind = "uint64"
	Float32 TypeKind = "float32"
	Float64 TypeKind = "float64"
	Bytes   TypeKind = "bytes"  // a base64 string ([]byte)
	Time    TypeKind = "time"   // an RFC 3339 string (time.Time)
	Any     TypeKind = "any"    // any JSON value
	List    TypeKind = "list"   // a JSON array of Elem
	Record  TypeKind = "record" // a JSON object with string keys and Elem values
	Ref     TypeKind = "ref"    // the named type Name
)

// scalarKinds are the kinds written as a bare word.
var scalarKinds = map[string]TypeKind{
	"bool": Bool, "string": String,
	"int": Int, "int8": Int8, "int16": Int16, "int32": Int32, "int64": Int64,
	"uint": Uint, "uint8": Uint8, "uint16": Uint16, "uint32": Uint32, "uint64": Uint64,
	"float32": Float32, "float64": Float64,
	"bytes": Bytes, "time": Time, "any": Any,
}

// IsScalar reports whether k is written as a bare word (every kind but
// List, Record and Ref).
func (k TypeKind) IsScalar() bool {
	_, ok := scalarKinds[string(k)]
	return ok
}

// IsInteger reports whether k is one of the integer kinds.
func (k TypeKind) IsInteger() bool {
	switch k {
	case Int, Int8, Int16, Int32, Int64, Uint, Uint8, Uint16, Uint32, Uint64:
		return true
	}
	return false
}

// IsNumber reports whether values of kind k are JSON numbers.
func (k TypeKind) IsNumber() bool { return k.IsInteger() || k == Float32 || k == Float64 }

// TypeRef is a type expression: a scalar, a list, a record or a reference
// to a named type, possibly nullable.
type TypeRef struct {
	Kind TypeKind
	// Elem is the element type of a List or the value type of a Record.
	Elem *TypeRef
	// Len is the length of a fixed-length List (a Go array), or -1 for a
	// List of any length. It is 0 for other kinds.
	Len int
	// Name is the referenced type of a Ref.
	Name string
	// Nullable reports whether the value may be null.
	Nullable bool
}

// Scalar returns the type expression of scalar kind k.
func Scalar(k TypeKind) TypeRef { return TypeRef{Kind: k} }

// ListOf returns the type expression of a list of elem.
func ListOf(elem TypeRef) TypeRef { return TypeRef{Kind: List, Elem: &elem, Len: -1} }

// RecordOf returns the type expression of a record of elem values.
func RecordOf(elem TypeRef) TypeRef { return TypeRef{Kind: Record, Elem: &elem} }

// RefTo returns the type expression referring to the named type name.
func RefTo(name string) TypeRef { return TypeRef{Kind: Ref, Name: name} }

// OrNull returns t made nullable.
func (t TypeRef) OrNull() TypeRef {
	t.Nullable = true
	return t
}

// String returns t in the IR's type syntax:
//
//	int            a scalar (bool, string, int…uint64, float32, float64, bytes, time, any)
//	Profile        a named type
//	list<Order>    a list; list<uint8,4> one of fixed length
//	record<int>    an object with string keys
//	Profile?       a nullable type (any suffix ?)
func (t TypeRef) String() string {
	var b strings.Builder
	t.write(&b)
	return b.String()
}

func (t TypeRef) write(b *strings.Builder) {
	switch t.Kind {
	case List:
		b.WriteString("list<")
		t.elem().write(b)
		if t.Len >= 0 {
			b.WriteByte(',')
			b.WriteString(strconv.Itoa(t.Len))
		}
		b.WriteByte('>')
	case Record:
		b.WriteString("record<")
		t.elem().write(b)
		b.WriteByte('>')
	case Ref:
		b.WriteString(t.Name)
	default:
		b.WriteString(string(t.Kind))
	}
	if t.Nullable {
		b.WriteByte('?')
	}
}

func (t TypeRef) elem() TypeRef {
	if t.Elem == nil {
		return TypeRef{Kind: Any}
	}
	return *t.Elem
}

// Equal reports whether t and u are the same type expression.
func (t TypeRef) Equal(u TypeRef) bool {
	if t.Kind != u.Kind || t.Len != u.Len || t.Name != u.Name || t.Nullable != u.Nullable {
		return false
	}
	if (t.Elem == nil) != (u.Elem == nil) {
		return false
	}
	return t.Elem == nil || t.Elem.Equal(*u.Elem)
}

// ParseTypeRef parses a type expression written as [TypeRef.String] writes
// it. Spaces are not allowed.
func ParseTypeRef(s string) (TypeRef, error) {
	p := typeParser{s: s}
	t, err := p.parse()
	if err == nil && p.i < len(s) {
		err = fmt.Errorf("unexpected %q at offset %d", s[p.i:], p.i)
	}
	if err != nil {
		return TypeRef{}, fmt.Errorf("type %q: %w", s, err)
	}
	return t, nil
}

type typeParser struct {
	s string
	i int
}

func (p *typeParser) parse() (TypeRef, error) {
	start := p.i
	for p.i < len(p.s) && isIdentByte(p.s[p.i], p.i > start) {
		p.i++
	}
	word := p.s[start:p.i]
	var t TypeRef
	switch {
	case word == "":
		if p.i == len(p.s) {
			return t, fmt.Errorf("missing type at end")
		}
		return t, fmt.Errorf("unexpected %q at offset %d", p.s[p.i:], p.i)
	case word == "list" || word == "record":
		if !p.eat('<') {
			return t, fmt.Errorf("%s needs <element type> at offset %d", word, p.i)
		}
		elem, err := p.parse()
		if err != nil {
			return t, err
		}
		if word == "list" {
			t = ListOf(elem)
			if p.eat(',') {
				n := p.i
				for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
					p.i++
				}
				l, err := strconv.Atoi(p.s[n:p.i])
				if err != nil || l < 0 {
					return t, fmt.Errorf("list length must be a non-negative integer at offset %d", n)
				}
				t.Len = l
			}
		} else {
			t = RecordOf(elem)
		}
		if !p.eat('>') {
			return t, fmt.Errorf("missing > at offset %d", p.i)
		}
	case word[0] >= 'A' && word[0] <= 'Z':
		t = RefTo(word)
	default:
		k, ok := scalarKinds[word]
		if !ok {
			return t, fmt.Errorf("unknown type %q (named types start with an upper-case letter)", word)
		}
		t = Scalar(k)
	}
	if p.eat('?') {
		t.Nullable = true
	}
	return t, nil
}

func (p *typeParser) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// isIdentByte reports whether c may appear in an identifier (not first
// when later is false).
func isIdentByte(c byte, later bool) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || later && c >= '0' && c <= '9'
}

// ValidTypeName reports whether s can name a type: an ASCII identifier
// starting with an upper-case letter.
func ValidTypeName(s string) bool {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := range len(s) {
		if !isIdentByte(s[i], true) {
			return false
		}
	}
	return true
}
