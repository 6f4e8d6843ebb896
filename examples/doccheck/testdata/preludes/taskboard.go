// The taskboard's names (examples/taskboard), for fragments that quote it.
package doccheck

import (
	"context"

	"github.com/mizan-afi/mizan"
)

const (
	BoardContext   mizan.Context = "board"
	ProjectContext mizan.Context = "project"
	TaskContext    mizan.Context = "task"
)

type MoveTaskArgs struct {
	ProjectID int    `json:"project_id"`
	TaskID    int    `json:"task_id"`
	Status    string `json:"status" validate:"oneof=todo doing done"`
}

func (s *store) moveTask(ctx context.Context, in MoveTaskArgs) (OK, error) { return OK{}, nil }
