package main

import (
	"context"
	"database/sql"
	"errors"
	"reflect"
	"strconv"
	"strings"

	"github.com/go-playground/validator/v10"
	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/auth"
	"github.com/mizan-afi/mizan/ssr"
)

// The taskboard's forms (docs/forms.md): each is one Go struct whose tags
// are the only place its rules are written. The browser checks the rules it
// can before any request (the generated useAddTaskForm and useEditTasksForm
// hooks, web/src/forms.tsx); the server checks them all again, and the
// rules only it can check (a free title, a real date) too. Each form also
// works without JavaScript: its route renders the project's page (pages.go)
// with the form's state, an invalid post answers 422 with that page and the
// errors beside their fields, and a valid one redirects (303) to the
// project's page, fresh.

// AddTaskArgs are the fields of add_task, the form that creates a task.
// ProjectID comes from the form's route (/projects/{project_id}/tasks/new)
// and has the name of the project context's parameter, so a new task
// invalidates that project only: project;project_id=N.
type AddTaskArgs struct {
	ProjectID   int    `json:"project_id" validate:"required" widget:"hidden"`
	Title       string `json:"title" validate:"required,max=200,free_title" label:"Title"`
	Description string `json:"description,omitempty" validate:"omitempty,max=2000" label:"Description" widget:"textarea"`
	DueDate     string `json:"due_date,omitempty" validate:"omitempty,datetime=2006-01-02" label:"Due date" widget:"date"`
	AssigneeID  *int   `json:"assignee_id,omitempty" label:"Assignee"`
}

// EditTasksArgs are the fields of edit_tasks, the bulk-edit form: a formset
// of the project's tasks, each renamed or moved to another column, saved in
// one submit.
type EditTasksArgs struct {
	ProjectID int        `json:"project_id" validate:"required" widget:"hidden"`
	Tasks     []TaskEdit `json:"tasks" validate:"required,min=1,max=50,dive" label:"Tasks"`
}

// TaskEdit is one row of edit_tasks.
type TaskEdit struct {
	TaskID int    `json:"task_id" validate:"required" widget:"hidden" label:"Task"`
	Title  string `json:"title" validate:"required,max=200" label:"Title"`
	Status Status `json:"status" validate:"required,oneof=todo doing done" label:"Status"`
}

// SignInArgs are the fields of sign_in, the password form of the sign-in
// page for browsers without JavaScript (the script signs in with JWTs from
// auth/token/ instead).
type SignInArgs struct {
	Username string `json:"username" validate:"required,max=100" label:"Username"`
	Password string `json:"password" validate:"required,max=200" label:"Password" widget:"password"`
}

// Messages of the rules only the server checks.
const (
	msgTitleTaken = "A task with this title is already in the project."
	msgDueDate    = "Enter a date as YYYY-MM-DD."
	msgSignIn     = "Wrong username or password."
)

// Routes of the forms' view paths: the project's page (pages.go) is
// rendered for their GET and their invalid posts.
const (
	addTaskRoute   = "/projects/{project_id}/tasks/new"
	editTasksRoute = "/projects/{project_id}/tasks/edit"
	signInRoute    = "/signin/password"
	projectRoute   = "/projects/{project_id}"
)

// registerForms registers the taskboard's forms on app. pages, when not
// nil, renders their HTML (the project's and the sign-in page, so that they
// work without JavaScript); without it they get mizan's default renderer.
func (s *store) registerForms(app *mizan.App, pages *ssr.Pages) {
	render := func(pattern string) mizan.Option {
		if pages == nil {
			return mizan.WithFormRenderer(mizan.DefaultFormRenderer)
		}
		return mizan.WithFormRenderer(pages.FormRenderer(pattern))
	}
	// free_title runs on the server, in add_task and add_task_validate
	// (which the browser asks, debounced, as the title is typed): a title
	// no other task of the project has, letter case aside. add_task checks
	// it again in its transaction, so two concurrent posts cannot both win.
	app.Validation("free_title", func(ctx context.Context, fl validator.FieldLevel) bool {
		pid := reflect.Indirect(fl.Top()).FieldByName("ProjectID")
		if !pid.IsValid() {
			return true
		}
		taken, err := titleTaken(ctx, s.db, int(pid.Int()), fl.Field().String(), 0)
		return err != nil || !taken // a failing database is the submit's to report
	}, msgTitleTaken)
	app.Message("datetime", msgDueDate)

	signedIn := mizan.RequireAuth()
	// project;project_id=N: scoped by the project_id argument.
	mizan.Form(app, s.addTask, mizan.Affects(ProjectContext), signedIn,
		mizan.Route(addTaskRoute), mizan.Success(projectRoute), render(projectRoute))
	// project;project_id=N, and task;task_id=M for each task edited (a
	// run-time scope: the rows are inside the arguments).
	mizan.Form(app, s.editTasks, mizan.Affects(ProjectContext, TaskContext), signedIn,
		mizan.Route(editTasksRoute), mizan.Success(projectRoute), render(projectRoute))
	// Signing in changes no data: the pages after it are rendered for the
	// new session's user.
	mizan.Form(app, func(ctx context.Context, in SignInArgs) (OK, error) { return s.signIn(ctx, app.Auth(), in) },
		mizan.Name("sign_in"), mizan.Route(signInRoute), mizan.Success("/"), render("/signin"))
}

// titleTaken reports whether a task of project other than task except has
// title, letter case aside.
func titleTaken(ctx context.Context, q querier, project int, title string, except int) (bool, error) {
	var taken bool
	err := q.QueryRowContext(ctx,
		"SELECT EXISTS (SELECT 1 FROM tasks WHERE project_id = ? AND lower(title) = lower(?) AND id != ?)",
		project, strings.TrimSpace(title), except).Scan(&taken)
	if err != nil {
		return false, unavailable("reading the tasks", err)
	}
	return taken, nil
}

// titleError is the invalid_args error of a title already taken, on key.
func titleError(key string) error {
	return mizan.NewError(mizan.CodeInvalidArgs, "invalid arguments: "+key).WithFields(map[string]string{key: msgTitleTaken})
}

// addTask adds a task to a project, in the todo column.
func (s *store) addTask(ctx context.Context, in AddTaskArgs) (TaskCard, error) {
	by, err := mustCaller(ctx)
	if err != nil {
		return TaskCard{}, err
	}
	title := strings.TrimSpace(in.Title)
	card := TaskCard{Title: title, Status: StatusTodo, DueDate: nullable(in.DueDate)}
	err = s.write(ctx, "adding a task", func(tx *sql.Tx) error {
		if _, err := project(ctx, tx, in.ProjectID); err != nil {
			return err
		}
		if taken, err := titleTaken(ctx, tx, in.ProjectID, title, 0); err != nil || taken {
			return errors.Join(err, titleError("title"))
		}
		if in.AssigneeID != nil {
			var err error
			if card.Assignee, err = assignee(ctx, tx, "assignee_id", *in.AssigneeID); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx,
			"INSERT INTO tasks (project_id, title, description, due_date, status, assignee_id, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			in.ProjectID, title, strings.TrimSpace(in.Description), card.DueDate, StatusTodo, in.AssigneeID, by, s.now().Unix())
		if err != nil {
			return unavailable("adding a task", err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return unavailable("adding a task", err)
		}
		card.ID = int(id)
		return nil
	})
	if err != nil {
		return TaskCard{}, err
	}
	return card, nil
}

// nullable returns nil for "", else &s.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// editTasks renames and moves several tasks of a project at once: every
// row or none. A row naming a task of another project, or a title another
// task of the project has (or another row gives), is an error on that row.
func (s *store) editTasks(ctx context.Context, in EditTasksArgs) (OK, error) {
	err := s.write(ctx, "editing tasks", func(tx *sql.Tx) error {
		if _, err := project(ctx, tx, in.ProjectID); err != nil {
			return err
		}
		fields := map[string]string{}
		rowKey := func(i int, field string) string { return "tasks." + strconv.Itoa(i) + "." + field }
		titles := map[string]int{}
		seen := map[int]bool{}
		for i, row := range in.Tasks {
			title := strings.ToLower(strings.TrimSpace(row.Title))
			if j, dup := titles[title]; dup {
				fields[rowKey(i, "title")] = "Another row has this title (row " + strconv.Itoa(j+1) + ")."
			}
			titles[title] = i
			if seen[row.TaskID] {
				fields[rowKey(i, "task_id")] = "This task is in another row too."
			}
			seen[row.TaskID] = true
		}
		for i, row := range in.Tasks {
			if _, bad := fields[rowKey(i, "title")]; bad {
				continue
			}
			err := checkTask(ctx, tx, TaskRef{in.ProjectID, row.TaskID})
			var me *mizan.Error
			if errors.As(err, &me) && me.Code() == mizan.CodeNotFound {
				fields[rowKey(i, "task_id")] = "No such task in this project."
				continue
			}
			if err != nil {
				return err
			}
			// A title kept by another row's task is checked among the rows.
			if taken, err := titleTakenOutside(ctx, tx, in, i); err != nil {
				return err
			} else if taken {
				fields[rowKey(i, "title")] = msgTitleTaken
			}
		}
		if len(fields) > 0 {
			return mizan.NewError(mizan.CodeInvalidArgs, "invalid arguments: a row of tasks").WithFields(fields)
		}
		for _, row := range in.Tasks {
			if _, err := tx.ExecContext(ctx, "UPDATE tasks SET title = ?, status = ? WHERE id = ?",
				strings.TrimSpace(row.Title), row.Status, row.TaskID); err != nil {
				return unavailable("editing tasks", err)
			}
			mizan.ScopeTo(ctx, TaskContext, mizan.Params{"task_id": row.TaskID})
		}
		return nil
	})
	return OK{err == nil}, err
}

// titleTakenOutside reports whether row i's title is the title of a task
// of the project that no row of in edits (a task a row edits has its new
// title, checked among the rows).
func titleTakenOutside(ctx context.Context, tx *sql.Tx, in EditTasksArgs, i int) (bool, error) {
	title := strings.TrimSpace(in.Tasks[i].Title)
	rows, err := tx.QueryContext(ctx, "SELECT id FROM tasks WHERE project_id = ? AND lower(title) = lower(?)", in.ProjectID, title)
	if err != nil {
		return false, unavailable("reading the tasks", err)
	}
	defer rows.Close()
	edited := map[int]bool{}
	for _, r := range in.Tasks {
		edited[r.TaskID] = true
	}
	for rows.Next() {
		var id int
		if err := rows.Scan(&id); err != nil {
			return false, unavailable("reading the tasks", err)
		}
		if !edited[id] {
			return true, nil
		}
	}
	if err := rows.Err(); err != nil {
		return false, unavailable("reading the tasks", err)
	}
	return false, nil
}

// signIn checks a username and password with the app's credential check
// and starts a cookie session (package auth): the browser sends the cookie
// with every page request, so the pages are rendered for the user. A wrong
// pair is an error of the whole form (401), the same for an unknown user
// and a wrong password. The failures count against the limits of
// auth/token/ (CheckCredentials): one budget per username and per address,
// whichever way the password comes; over them the form answers 429
// rate_limited.
func (s *store) signIn(ctx context.Context, svc *auth.Service, in SignInArgs) (OK, error) {
	u, err := svc.CheckCredentials(ctx, auth.ClientAddress(mizan.Request(ctx)), in.Username, in.Password)
	if errors.Is(err, auth.ErrBadCredentials) {
		return OK{}, mizan.NewError(mizan.CodeUnauthorized, msgSignIn)
	}
	if err != nil {
		return OK{}, err
	}
	c, err := svc.StartCookieSession(ctx, *u)
	if err != nil {
		return OK{}, unavailable("starting a session", err)
	}
	mizan.ResponseHeader(ctx).Add("Set-Cookie", c.String())
	return OK{true}, nil
}
