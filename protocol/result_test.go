package protocol_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mizan-afi/mizan/protocol"
)

type node struct {
	Name     string  `json:"name"`
	Children []*node `json:"children"`
}

type stamp struct{ t time.Time }

func (s stamp) MarshalJSON() ([]byte, error) { return json.Marshal(s.t.Unix()) }

type mixed struct {
	A     []int             `json:"a"`
	M     map[string]string `json:"m"`
	B     []byte            `json:"b"`
	P     *int              `json:"p"`
	O     []int             `json:"o,omitempty"`
	Big   int64             `json:"big,string"`
	HTML  string            `json:"html"`
	Any   any               `json:"any"`
	Stamp stamp             `json:"stamp"`
	Raw   json.RawMessage   `json:"raw"`
	node
}

// TestAppendResult: results are what encoding/json writes, except that nil
// slices and maps are [] and {} and a nil []byte is "" (docs/spec.md §4).
func TestAppendResult(t *testing.T) {
	for _, c := range []struct {
		v    any
		want string
	}{
		{nil, `null`},
		{[]int(nil), `[]`},
		{map[string]int(nil), `{}`},
		{[]byte(nil), `""`},
		{struct {
			OK bool `json:"ok"`
		}{true}, `{"ok":true}`},
		{mixed{HTML: "<a>&\u2028", Any: map[string]any{"z": []string(nil), "a": 1}, Big: 1<<53 + 1},
			`{"a":[],"m":{},"b":"","p":null,"big":"9007199254740993","html":"\u003ca\u003e\u0026\u2028","any":{"a":1,"z":[]},"stamp":-62135596800,"raw":null,"name":"","children":[]}`},
		{&node{Children: []*node{{Name: "x"}, nil}}, `{"name":"","children":[{"name":"x","children":[]},null]}`},
		{[2][]int{}, `[[],[]]`},
		{map[int][]string{2: nil, 1: {}}, `{"1":[],"2":[]}`},
	} {
		got, err := protocol.AppendResult([]byte("x"), c.v)
		if err != nil || string(got) != "x"+c.want {
			t.Errorf("%#v:\n got %s (%v)\nwant x%s", c.v, got, err, c.want)
		}
	}
}

// TestAppendResultMatchesEncodingJSON: without nil collections the bytes are
// encoding/json's, whichever encoder the type takes.
func TestAppendResultMatchesEncodingJSON(t *testing.T) {
	n := 3
	for _, v := range []any{
		mixed{A: []int{1}, M: map[string]string{"b": "<", "a": ">"}, B: []byte("hi"), P: &n, O: []int{2}, Any: 1.5,
			Raw: json.RawMessage(`{"k":[1]}`), node: node{Children: []*node{}}},
		struct {
			F float64   `json:"f"`
			T time.Time `json:"t"`
			S string    `json:"s,omitempty"`
		}{F: 1e21, T: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)},
		map[string]any{"x": []any{"a", 1, true, nil}},
		"</script>",
	} {
		want, _ := json.Marshal(v)
		got, err := protocol.AppendResult(nil, v)
		if err != nil || string(got) != string(want) {
			t.Errorf("%T:\n got %s (%v)\nwant %s", v, got, err, want)
		}
		if e := protocol.ResultEncoderFor(reflect.TypeOf(v)); e != protocol.ResultEncoderFor(reflect.TypeOf(v)) {
			t.Errorf("ResultEncoderFor(%T) is not cached", v)
		}
	}
	if _, err := protocol.AppendResult(nil, map[string]any{"c": make(chan int)}); err == nil || !strings.Contains(err.Error(), "chan") {
		t.Errorf("a channel: %v", err)
	}
}
