package ir

import (
	"bytes"
	"os"
	"slices"
	"testing"

	kdl "github.com/sblinch/kdl-go"
)

func TestScanLayout(t *testing.T) {
	cases := []struct {
		src   string
		lines []int
	}{
		{"a\nb\n", []int{1, 2}},
		{"a; b\r\nc", []int{1, 1, 2}},
		{"a {\n  b\n  c { d; }\n}\ne", []int{1, 2, 3, 3, 5}},
		{"/- a {\n  b\n}\nc", []int{4}},
		{"a /- {\n  b\n}\nc", []int{1, 4}},
		{"a /-\"1\"\nb", []int{1, 2}},
		{"/-\na\nb", []int{3}},
		{"x /-;a\nb", []int{1, 1, 2}},
		{"a \"multi\nline\" r#\"raw \" # \"\n\"#\nb", []int{1, 4}},
		{"// c\n/* x\n /* y */ z */ a \\ // cont\n  x=1\nb", []int{3, 5}},
		{"(t)a (u)\"v\" {\n (w)b\n}", []int{1, 2}},
		{"a {\n}\n/-b\n", []int{1}},
	}
	for _, c := range cases {
		lay, err := scanLayout([]byte(c.src))
		if err != nil {
			t.Errorf("%q: %v", c.src, err)
			continue
		}
		if !slices.Equal(lay.lines, c.lines) {
			t.Errorf("%q: lines %v, want %v", c.src, lay.lines, c.lines)
		}
		doc, err := kdl.Parse(bytes.NewReader([]byte(c.src)))
		if err != nil {
			t.Errorf("%q: the library refuses it: %v", c.src, err)
			continue
		}
		if n := countNodes(doc.Nodes); n != len(c.lines) {
			t.Errorf("%q: the library sees %d nodes, the scan %d", c.src, n, len(c.lines))
		}
	}
}

func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("testdata/rich.kdl"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("mizan-ir version=1\ntype \"A\" {\n field \"a\" type=\"list<A?,2>\"\n}\n"))
	f.Add([]byte("/- a {\n b\n}\nmizan-ir version=1 /-x=1 ; function \"f\" kind=\"query\" { result type=r\"int\"; }"))
	f.Fuzz(func(t *testing.T, src []byte) {
		// The scan and the library may disagree on input the KDL library
		// handles loosely (form feeds, stray /-); Parse then reports no
		// lines. What must hold: no panic, and a stable encoding.
		doc, err := Parse(src)
		if err != nil {
			return
		}
		b, err := Encode(doc)
		if err != nil {
			t.Fatalf("a parsed document does not encode: %v", err)
		}
		again, err := Parse(b)
		if err != nil {
			t.Fatalf("re-parsing the encoding fails: %v\n%s", err, b)
		}
		b2, _ := Encode(again)
		if !bytes.Equal(b, b2) {
			t.Fatalf("encoding is not stable:\n%s\n---\n%s", b, b2)
		}
	})
}
