package conformance

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/mizan-afi/mizan"
)

// The task contexts of the fixture (docs/spec.md §7, revision 2).
const (
	tasksContext mizan.Context = "tasks"
	taskContext  mizan.Context = "task"
)

// TaskState is the state of a fixture task: an enum of todo, doing, done
// (declared with mizan.Enum in registerTasks).
type TaskState string

// The task states.
const (
	TaskTodo  TaskState = "todo"
	TaskDoing TaskState = "doing"
	TaskDone  TaskState = "done"
)

// Task is one fixture task, as the wire carries it (docs/spec.md §7).
type Task struct {
	ID        int               `json:"id"`
	ProjectID int               `json:"project_id"`
	Title     string            `json:"title"`
	State     TaskState         `json:"state"`
	Tags      []string          `json:"tags"`
	Meta      map[string]string `json:"meta"`
	BigID     int64             `json:"big_id,string"`
	CreatedAt time.Time         `json:"created_at"`
	Due       *time.Time        `json:"due"`
}

// firstBigID is the big_id of task 1: 2^53 + 1, which a JavaScript number
// cannot hold.
const firstBigID int64 = 9007199254740993

// taskStore holds the fixture's projects and tasks, under store.mu.
type taskStore struct {
	projects map[int]bool
	tasks    []Task // in id order
}

// initialTasks returns the fixture's projects 1 and 2 and tasks 1 to 4.
func initialTasks() taskStore {
	due := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	mk := func(id, project int, title string, state TaskState, tags []string, meta map[string]string) Task {
		return Task{ID: id, ProjectID: project, Title: title, State: state, Tags: tags, Meta: meta,
			BigID: firstBigID + int64(id) - 1, CreatedAt: time.Date(2026, 1, id, 9, 0, 0, 0, time.UTC)}
	}
	ts := taskStore{projects: map[int]bool{1: true, 2: true}, tasks: []Task{
		mk(1, 1, "Write spec", TaskTodo, []string{"docs"}, map[string]string{"owner": "ada"}),
		mk(2, 1, "Build core", TaskDoing, nil, nil),
		mk(3, 2, "Ship", TaskTodo, []string{"release"}, map[string]string{"owner": "lin"}),
		mk(4, 2, "Celebrate", TaskDone, nil, nil),
	}}
	ts.tasks[0].Due = &due
	return ts
}

// InitialTasks returns the tasks the fixture starts with, in id order, as
// its store holds them (tasks 2 and 4 with nil Tags and Meta): what the
// round-trip tests of the generated clients compare their decoding with.
func InitialTasks() []Task { return initialTasks().tasks }

// Arguments of the task functions.
type (
	taskListArgs struct {
		ProjectID int `json:"project_id"`
		// State is a filter: it selects rows by a value set_task_state
		// changes, so it never scopes a target.
		State TaskState `json:"state,omitempty" mizan:"filter" validate:"omitempty,oneof=todo doing done"`
	}
	taskArgs struct {
		TaskID int `json:"task_id"`
	}
	addTaskArgs struct {
		ProjectID int       `json:"project_id"`
		Title     string    `json:"title" validate:"required,max=200"`
		State     TaskState `json:"state,omitempty" validate:"omitempty,oneof=todo doing done"`
	}
	taskStateArgs struct {
		TaskID int       `json:"task_id"`
		State  TaskState `json:"state" validate:"oneof=todo doing done"`
	}
	renameTaskArgs struct {
		TaskID int    `json:"task_id"`
		Title  string `json:"title" validate:"required,max=200"`
	}
	myNameArgs struct {
		Name string `json:"name" validate:"required,max=100"`
	}
	newTaskResult struct {
		ID int `json:"id"`
	}
)

// registerTasks registers the task functions of docs/spec.md §7 revision 2.
func (s *store) registerTasks(app *mizan.App) {
	// TaskState's values, declared once: a TypeScript union and Go client
	// constants, and invalid_args for any other value (docs/spec.md §4).
	mizan.Enum(app, TaskTodo, TaskDoing, TaskDone)
	mizan.Query(app, s.taskList, mizan.Name("task_list"), mizan.In(tasksContext))
	mizan.Query(app, s.taskDetail, mizan.Name("task_detail"), mizan.In(taskContext))
	mizan.Mutation(app, s.addTask, mizan.Name("add_task"), mizan.Affects(tasksContext), mizan.WebSocket())
	mizan.Mutation(app, s.setTaskState, mizan.Name("set_task_state"), mizan.Affects(taskContext, tasksContext), mizan.WebSocket())
	mizan.Mutation(app, s.renameTask, mizan.Name("rename_task"), mizan.Affects(taskContext), mizan.ScopeBy())
	mizan.Mutation(app, s.updateMyName, mizan.Name("update_my_name"), mizan.RequireAuth(),
		mizan.CallerScoped(mizan.Global), mizan.Affects(userContext), mizan.WebSocket())
	// A page of the psr context task: what an edge caches as a page and
	// purges with the task's instance (docs/spec.md §11).
	mizan.View(app, s.taskPage, mizan.Name("task_page"), mizan.In(taskContext),
		mizan.Route("/tasks/{task_id}/"))
}

// taskPage renders a task as an HTML page.
func (s *store) taskPage(ctx context.Context, in taskArgs) (http.Handler, error) {
	t, err := s.taskDetail(ctx, in)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := taskTemplate.Execute(&b, t); err != nil {
		return nil, fmt.Errorf("rendering the page of task %d: %w", in.TaskID, err)
	}
	return mizan.HTML(http.StatusOK, b.String()), nil
}

var taskTemplate = template.Must(template.New("task").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body>
<h1 id="title">{{.Title}}</h1>
<p id="state">{{.State}}</p>
</body>
</html>
`))

func errNoTask(id int) *mizan.Error {
	return mizan.Errorf(mizan.CodeNotFound, "no task with id %d", id)
}

func (s *store) taskList(_ context.Context, in taskListArgs) ([]Task, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.ts.projects[in.ProjectID] {
		return nil, mizan.Errorf(mizan.CodeNotFound, "no project with id %d", in.ProjectID)
	}
	out := []Task{}
	for _, t := range s.ts.tasks {
		if t.ProjectID == in.ProjectID && (in.State == "" || t.State == in.State) {
			out = append(out, t)
		}
	}
	return out, nil
}

// task returns the index of task id, under s.mu.
func (s *store) task(id int) (int, bool) {
	i := slices.IndexFunc(s.ts.tasks, func(t Task) bool { return t.ID == id })
	return i, i >= 0
}

func (s *store) taskDetail(_ context.Context, in taskArgs) (Task, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	i, ok := s.task(in.TaskID)
	if !ok {
		return Task{}, errNoTask(in.TaskID)
	}
	return s.ts.tasks[i], nil
}

// addTask adds a task; its target is tasks;project_id=<p>: state is a
// filter of tasks, so tier 1 leaves it out.
func (s *store) addTask(_ context.Context, in addTaskArgs) (newTaskResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ts.projects[in.ProjectID] {
		return newTaskResult{}, mizan.Errorf(mizan.CodeNotFound, "no project with id %d", in.ProjectID)
	}
	if in.State == "" {
		in.State = TaskTodo
	}
	id := s.ts.tasks[len(s.ts.tasks)-1].ID + 1
	if len(s.ts.tasks) == 0 {
		id = 1
	}
	t := Task{ID: id, ProjectID: in.ProjectID, Title: in.Title, State: in.State,
		BigID: firstBigID + int64(id) - 1, CreatedAt: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC).AddDate(0, 0, id-1)}
	s.ts.tasks = append(slices.Clone(s.ts.tasks), t)
	return newTaskResult{ID: id}, nil
}

// setTaskState moves a task; its targets are task;task_id=<t> (tier 1) and
// tasks;project_id=<p>, scoped at run time by the project it looked up.
func (s *store) setTaskState(ctx context.Context, in taskStateArgs) (okResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.task(in.TaskID)
	if !ok {
		return okResult{}, errNoTask(in.TaskID)
	}
	tasks := slices.Clone(s.ts.tasks)
	tasks[i].State = in.State
	s.ts.tasks = tasks
	mizan.ScopeTo(ctx, tasksContext, mizan.Params{"project_id": tasks[i].ProjectID})
	return okResult{OK: true}, nil
}

// renameTask renames a task; its explicit empty scope makes its target the
// broad task.
func (s *store) renameTask(_ context.Context, in renameTaskArgs) (okResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.task(in.TaskID)
	if !ok {
		return okResult{}, errNoTask(in.TaskID)
	}
	tasks := slices.Clone(s.ts.tasks)
	tasks[i].Title = in.Title
	s.ts.tasks = tasks
	return okResult{OK: true}, nil
}

// updateMyName renames the caller. Its targets: global, narrowed to the
// caller (caller-scoped), and user;user_id=<caller id>, scoped at run time.
func (s *store) updateMyName(ctx context.Context, in myNameArgs) (okResult, error) {
	caller := mizan.Caller(ctx)
	id, err := strconv.Atoi(caller.ID)
	if err != nil {
		return okResult{}, mizan.Errorf(mizan.CodeForbidden, "caller %q is no fixture user", caller.ID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return okResult{}, fmt.Errorf("update_my_name: %w", errNoUser(id))
	}
	u.name = in.Name
	s.users[id] = u
	mizan.ScopeTo(ctx, userContext, mizan.Params{"user_id": id})
	return okResult{OK: true}, nil
}
