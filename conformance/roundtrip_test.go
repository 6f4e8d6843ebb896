package conformance_test

// Round trip of the generated Go client (docs/spec.md §4 and the Task and
// TaskState rows of §7): the fixture's own generated client (the golden
// codegen/testdata/fixture/go, which go test ./codegen keeps equal to what
// mizan generate writes from the fixture's IR) fetches task_list and
// task_detail from a fresh fixture process, and what it decodes must be
// the values the fixture's store holds (conformance.InitialTasks), not a
// JSON text written down here. The conversion below is itself the type
// check: a client type that lied (big_id as a bare string, state as a
// plain string, due not a pointer) would not compile into a Task.

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	mizanclient "github.com/mizan-afi/mizan/client"
	fixtureclient "github.com/mizan-afi/mizan/codegen/testdata/fixture/go"
	"github.com/mizan-afi/mizan/conformance"
	"github.com/mizan-afi/mizan/protocol"
)

// taskOf is t as the fixture's own type, field by field.
func taskOf(t fixtureclient.Task) conformance.Task {
	var due *time.Time = t.Due
	var big int64 = t.BigID
	var state fixtureclient.TaskState = t.State
	return conformance.Task{ID: t.ID, ProjectID: t.ProjectID, Title: t.Title, State: conformance.TaskState(state),
		Tags: t.Tags, Meta: t.Meta, BigID: big, CreatedAt: t.CreatedAt, Due: due}
}

// sameTask reports how got (decoded) differs from want (held): nil and
// empty collections are the same on the wire ([] and {}), but got's must be
// non-nil, proving the wire carried [] and {} and not null.
func sameTask(t *testing.T, got fixtureclient.Task, want conformance.Task) {
	t.Helper()
	g := taskOf(got)
	if g.Tags == nil || g.Meta == nil {
		t.Errorf("task %d: tags %#v, meta %#v decoded as nil: the wire held null", want.ID, g.Tags, g.Meta)
	}
	if len(want.Tags) == 0 && len(g.Tags) == 0 {
		g.Tags, want.Tags = nil, nil
	}
	if len(want.Meta) == 0 && len(g.Meta) == 0 {
		g.Meta, want.Meta = nil, nil
	}
	if !g.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("task %d: created_at %v, want %v", want.ID, g.CreatedAt, want.CreatedAt)
	}
	if (g.Due == nil) != (want.Due == nil) || g.Due != nil && !g.Due.Equal(*want.Due) {
		t.Errorf("task %d: due %v, want %v", want.ID, g.Due, want.Due)
	}
	g.CreatedAt, want.CreatedAt, g.Due, want.Due = time.Time{}, time.Time{}, nil, nil
	if !reflect.DeepEqual(g, want) {
		t.Errorf("task %d decoded as\n%#v\nthe fixture holds\n%#v", want.ID, g, want)
	}
}

func TestRoundTripGoClientTasks(t *testing.T) {
	if server.bin == "" {
		t.Skip("needs a fresh fixture process (not with " + urlEnv + ")")
	}
	p, err := startFixture(server.bin, "-addr", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.stop() })
	ctx := context.Background()
	api := fixtureclient.New(mizanclient.Config{BaseURL: p.url})
	want := conformance.InitialTasks()

	// Every case of §7's Task: nil collections (tasks 2 and 4), due nil
	// and set (task 1), big_id beyond 2^53, the times, the enum.
	if want[0].BigID <= 1<<53 || want[1].Tags != nil || want[0].Due == nil {
		t.Fatalf("the fixture's tasks no longer cover every case: %#v", want)
	}
	for _, project := range []int{1, 2} {
		got, err := api.TaskList(ctx, fixtureclient.TasksParams{ProjectID: project})
		if err != nil {
			t.Fatalf("task_list %d: %v", project, err)
		}
		var held []conformance.Task
		for _, w := range want {
			if w.ProjectID == project {
				held = append(held, w)
			}
		}
		if len(got) != len(held) {
			t.Fatalf("task_list %d: %d tasks, want %d", project, len(got), len(held))
		}
		for i := range got {
			sameTask(t, got[i], held[i])
		}
	}
	for _, w := range want {
		got, err := api.TaskDetail(ctx, fixtureclient.TaskParams{TaskID: w.ID})
		if err != nil {
			t.Fatalf("task_detail %d: %v", w.ID, err)
		}
		sameTask(t, got, w)
	}

	// The enum's constants are the fixture's values, and filter task_list.
	consts := map[fixtureclient.TaskState]conformance.TaskState{
		fixtureclient.TaskStateTodo: conformance.TaskTodo, fixtureclient.TaskStateDoing: conformance.TaskDoing,
		fixtureclient.TaskStateDone: conformance.TaskDone,
	}
	for c, v := range consts {
		if string(c) != string(v) {
			t.Errorf("constant %q, the fixture's value %q", c, v)
		}
	}
	doing := fixtureclient.TaskStateDoing
	got, err := api.TaskList(ctx, fixtureclient.TasksParams{ProjectID: 1, State: &doing})
	if err != nil || len(got) != 1 || got[0].ID != 2 {
		t.Errorf("task_list state=doing: %v %v, want task 2 only", got, err)
	}

	// A value outside the enum: invalid_args naming the argument, as a
	// query parameter and as a call argument alike.
	bogus := fixtureclient.TaskState("bogus")
	_, err = api.TaskList(ctx, fixtureclient.TasksParams{ProjectID: 1, State: &bogus})
	wantEnumError(t, "ctx/tasks/?state=bogus", err)
	_, err = api.SetTaskState(ctx, fixtureclient.SetTaskStateArgs{TaskID: 1, State: bogus})
	wantEnumError(t, "call set_task_state", err)
}

func wantEnumError(t *testing.T, what string, err error) {
	t.Helper()
	var e *mizanclient.Error
	if !errors.As(err, &e) || e.Code != protocol.CodeInvalidArgs || e.Fields["state"] != "must be one of todo, doing, done" {
		t.Errorf("%s: %v (fields %v), want invalid_args with state: must be one of todo, doing, done", what, err, e)
	}
}
