package protocol

import (
	"encoding/json"
	"os"
	"testing"
)

// matchVectors mirrors testdata/vectors/target-match.json (docs/spec.md §3).
type matchVectors struct {
	Cases []struct {
		Name     string          `json:"name"`
		Target   json.RawMessage `json:"target"`
		Instance struct {
			Context string            `json:"context"`
			Params  map[string]string `json:"params"`
		} `json:"instance"`
		Matches bool   `json:"matches"`
		Refetch string `json:"refetch"`
	} `json:"cases"`
}

func loadMatchVectors(tb testing.TB) matchVectors {
	tb.Helper()
	b, err := os.ReadFile("../testdata/vectors/target-match.json")
	if err != nil {
		tb.Fatal(err)
	}
	var v matchVectors
	if err := json.Unmarshal(b, &v); err != nil {
		tb.Fatalf("decoding vectors: %v", err)
	}
	if len(v.Cases) < 20 {
		tb.Fatalf("only %d target-match vectors", len(v.Cases))
	}
	return v
}

// instanceOf builds an Instance from a vector's params.
func instanceOf(context string, params map[string]string) Instance {
	inst := Instance{Context: context}
	for k, v := range params {
		inst.Params = append(inst.Params, Param{Name: k, Value: v})
	}
	SortParams(inst.Params)
	return inst
}

func TestMatchVectors(t *testing.T) {
	for _, c := range loadMatchVectors(t).Cases {
		t.Run(c.Name, func(t *testing.T) {
			var tg Target
			if err := json.Unmarshal(c.Target, &tg); err != nil {
				t.Fatalf("target %s: %v", c.Target, err)
			}
			n, err := Normalize(tg)
			if err != nil {
				t.Fatal(err)
			}
			inst := instanceOf(c.Instance.Context, c.Instance.Params)
			if got := Match(n, inst); got != c.Matches {
				t.Fatalf("Match(%s, %+v) = %v, want %v", n, inst, got, c.Matches)
			}
			byMap := MatchFunc(n, inst.Context, func(k string) (string, bool) { v, ok := c.Instance.Params[k]; return v, ok })
			if byMap != c.Matches {
				t.Fatalf("MatchFunc = %v, want %v", byMap, c.Matches)
			}
			if !c.Matches {
				return
			}
			want := c.Refetch
			got := "instance"
			if fn := n.Refetch(); fn != "" {
				got = "function:" + fn
			}
			if got != want {
				t.Fatalf("refetch %q, want %q", got, want)
			}
		})
	}
}

func TestNormalizeSortsAndStringifies(t *testing.T) {
	n, err := Normalize(Target{Context: "orders", Params: map[string]any{"user_id": 1, "status": "open", "all": true}})
	if err != nil {
		t.Fatal(err)
	}
	want := []Param{{"all", "true"}, {"status", "open"}, {"user_id", "1"}}
	if len(n.Params) != len(want) {
		t.Fatalf("params %v", n.Params)
	}
	for i := range want {
		if n.Params[i] != want[i] {
			t.Fatalf("params %v, want %v", n.Params, want)
		}
	}
	if n.String() != "orders;all=true;status=open;user_id=1" {
		t.Fatalf("String() = %q", n.String())
	}
	if _, err := Normalize(Target{Context: "bad name"}); err == nil {
		t.Fatal("an invalid context name normalized")
	}
	if _, err := Normalize(Target{Context: "x", Params: map[string]any{"f": 1.5}}); err == nil {
		t.Fatal("a fractional value normalized")
	}
}
