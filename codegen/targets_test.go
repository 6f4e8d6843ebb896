package codegen

import (
	"testing"

	"github.com/mizan-afi/mizan/ir"
)

// TestTSTargetSpecs checks the mutationTargets entries client.ts emits for
// each shape of declared target (docs/ir.md, affects).
func TestTSTargetSpecs(t *testing.T) {
	for _, c := range []struct {
		affects []ir.Affect
		want    string
	}{
		{nil, "[]"},
		{[]ir.Affect{{Context: "tasks", ScopedBy: []string{"project_id"}}}, "[['tasks', ['project_id']]]"},
		{[]ir.Affect{{Context: "task"}, {Context: "global", CallerScoped: true}}, "[['task'], ['global']]"},
		{[]ir.Affect{{Context: "orders", ScopedBy: []string{"status", "user_id"}}}, "[['orders', ['status', 'user_id']]]"},
		{[]ir.Affect{{Context: "user", Function: "user_profile", ScopedBy: []string{"user_id"}}}, "[['user', ['user_id'], 'user_profile']]"},
		{[]ir.Affect{{Context: "user", Function: "user_profile"}}, "[['user', [], 'user_profile']]"},
		{[]ir.Affect{{Context: "it's"}}, `[['it\'s']]`},
	} {
		if got := tsTargetSpecs(c.affects); got != c.want {
			t.Errorf("tsTargetSpecs(%+v) = %s, want %s", c.affects, got, c.want)
		}
	}
}
