package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mizan-afi/mizan"
)

// ProjectArgs name one project. project_id is the project context's
// parameter: GET ctx/project/?project_id=1.
type ProjectArgs struct {
	ProjectID int `json:"project_id"`
}

// TaskArgs name one task. task_id is the task context's parameter.
type TaskArgs struct {
	TaskID int `json:"task_id"`
}

// unavailable is what a caller sees when the database fails: a 503 whose
// cause is logged, never sent.
func unavailable(op string, err error) error {
	return mizan.NewError(mizan.CodeUnavailable, "the database is not answering").
		WithCause(fmt.Errorf("%s: %w", op, err))
}

// currentUser is the current_user function of the global context: the
// signed-in user, or null.
func (s *store) currentUser(ctx context.Context, _ struct{}) (*User, error) {
	id, ok := callerID(ctx)
	if !ok {
		return nil, nil
	}
	var u User
	err := s.db.QueryRowContext(ctx, "SELECT id, name, email, staff FROM users WHERE id = ?", id).
		Scan(&u.ID, &u.Name, &u.Email, &u.Staff)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil // deleted since they signed in
	}
	if err != nil {
		return nil, unavailable("reading the current user", err)
	}
	return &u, nil
}

// projects is the projects function of the board context: every project,
// by name.
func (s *store) projects(ctx context.Context, _ struct{}) ([]Project, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT id, name, description FROM projects ORDER BY name COLLATE NOCASE, id")
	if err != nil {
		return nil, unavailable("listing projects", err)
	}
	defer rows.Close()
	out := []Project{}
	for rows.Next() {
		var p Project
		if err := rows.Scan(&p.ID, &p.Name, &p.Description); err != nil {
			return nil, unavailable("listing projects", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("listing projects", err)
	}
	return out, nil
}

// team is the team function of the board context: every user, by name,
// as anyone may see them (id and name). Email addresses and staff flags
// are members'.
func (s *store) team(ctx context.Context, _ struct{}) ([]Person, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT id, name FROM users ORDER BY name COLLATE NOCASE, id")
	if err != nil {
		return nil, unavailable("listing users", err)
	}
	defer rows.Close()
	out := []Person{}
	for rows.Next() {
		var p Person
		if err := rows.Scan(&p.ID, &p.Name); err != nil {
			return nil, unavailable("listing users", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("listing users", err)
	}
	return out, nil
}

// members is the members function of the directory context, registered
// with RequireAuth: every user's email address and staff flag, in the
// order of team, for signed-in callers only. It has no names, but it is
// in name order, so renaming someone reorders it (rename_user affects
// directory).
func (s *store) members(ctx context.Context, _ struct{}) ([]Member, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT id, email, staff FROM users ORDER BY name COLLATE NOCASE, id")
	if err != nil {
		return nil, unavailable("listing members", err)
	}
	defer rows.Close()
	out := []Member{}
	for rows.Next() {
		var m Member
		if err := rows.Scan(&m.ID, &m.Email, &m.Staff); err != nil {
			return nil, unavailable("listing members", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("listing members", err)
	}
	return out, nil
}

// demoAccounts is the demo_accounts function of the demo context: the
// demo users' usernames, which are also their passwords, and who is staff,
// for the sign-in page to list. It publishes on purpose what a real app
// keeps to itself (an account list, its credentials, its admins) and
// exists only because this is a demo whose passwords are public anyway:
// an application has no such read. It returns no email address, though a
// demo username is the part of one before the @.
func (s *store) demoAccounts(ctx context.Context, _ struct{}) ([]DemoAccount, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT id, email, staff FROM users ORDER BY id")
	if err != nil {
		return nil, unavailable("listing the demo accounts", err)
	}
	defer rows.Close()
	out := []DemoAccount{}
	for rows.Next() {
		var a DemoAccount
		var email string
		if err := rows.Scan(&a.ID, &email, &a.Staff); err != nil {
			return nil, unavailable("listing the demo accounts", err)
		}
		a.Username = username(email)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("listing the demo accounts", err)
	}
	return out, nil
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// project returns project id, or a not_found error.
func project(ctx context.Context, q querier, id int) (Project, error) {
	p := Project{ID: id}
	err := q.QueryRowContext(ctx, "SELECT name, description FROM projects WHERE id = ?", id).Scan(&p.Name, &p.Description)
	if errors.Is(err, sql.ErrNoRows) {
		return Project{}, mizan.Errorf(mizan.CodeNotFound, "no project %d", id)
	}
	if err != nil {
		return Project{}, unavailable("reading a project", err)
	}
	return p, nil
}

// projectInfo is the project_info function of the project context.
func (s *store) projectInfo(ctx context.Context, in ProjectArgs) (Project, error) {
	return project(ctx, s.db, in.ProjectID)
}

// projectTasks is the project_tasks function of the project context: its
// tasks, oldest first, with their comment counts.
func (s *store) projectTasks(ctx context.Context, in ProjectArgs) ([]TaskCard, error) {
	if _, err := project(ctx, s.db, in.ProjectID); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `
		SELECT t.id, t.title, t.status, u.id, u.name,
		       (SELECT count(*) FROM comments c WHERE c.task_id = t.id), t.due_date
		FROM tasks t LEFT JOIN users u ON u.id = t.assignee_id
		WHERE t.project_id = ? ORDER BY t.id`, in.ProjectID)
	if err != nil {
		return nil, unavailable("listing tasks", err)
	}
	defer rows.Close()
	out := []TaskCard{}
	for rows.Next() {
		var t TaskCard
		var aid sql.NullInt64
		var aname sql.NullString
		if err := rows.Scan(&t.ID, &t.Title, &t.Status, &aid, &aname, &t.Comments, &t.DueDate); err != nil {
			return nil, unavailable("listing tasks", err)
		}
		t.Assignee = person(aid, aname)
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("listing tasks", err)
	}
	return out, nil
}

// person returns the person of a LEFT JOIN, or nil when there is none.
func person(id sql.NullInt64, name sql.NullString) *Person {
	if !id.Valid {
		return nil
	}
	return &Person{ID: int(id.Int64), Name: name.String}
}

// projectStats is the project_stats function of the project context.
func (s *store) projectStats(ctx context.Context, in ProjectArgs) (Stats, error) {
	if _, err := project(ctx, s.db, in.ProjectID); err != nil {
		return Stats{}, err
	}
	var st Stats
	err := s.db.QueryRowContext(ctx, `
		SELECT coalesce(sum(status = 'todo'), 0), coalesce(sum(status = 'doing'), 0),
		       coalesce(sum(status = 'done'), 0), count(*)
		FROM tasks WHERE project_id = ?`, in.ProjectID).Scan(&st.Todo, &st.Doing, &st.Done, &st.Total)
	if err != nil {
		return Stats{}, unavailable("counting tasks", err)
	}
	return st, nil
}

// taskDetail is the task_detail function of the task context.
func (s *store) taskDetail(ctx context.Context, in TaskArgs) (TaskDetail, error) {
	t := TaskDetail{ID: in.TaskID}
	var aid sql.NullInt64
	var aname sql.NullString
	var created int64
	err := s.db.QueryRowContext(ctx, `
		SELECT t.project_id, p.name, t.title, t.description, t.due_date, t.status, a.id, a.name, c.id, c.name, t.created_at
		FROM tasks t JOIN projects p ON p.id = t.project_id
		LEFT JOIN users a ON a.id = t.assignee_id JOIN users c ON c.id = t.created_by
		WHERE t.id = ?`, in.TaskID).
		Scan(&t.ProjectID, &t.ProjectName, &t.Title, &t.Description, &t.DueDate, &t.Status, &aid, &aname, &t.CreatedBy.ID, &t.CreatedBy.Name, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return TaskDetail{}, mizan.Errorf(mizan.CodeNotFound, "no task %d", in.TaskID)
	}
	if err != nil {
		return TaskDetail{}, unavailable("reading a task", err)
	}
	t.Assignee = person(aid, aname)
	t.CreatedAt = time.Unix(created, 0).UTC()
	return t, nil
}

// taskComments is the task_comments function of the task context: the
// task's comments, oldest first.
func (s *store) taskComments(ctx context.Context, in TaskArgs) ([]TaskComment, error) {
	var exists bool
	if err := s.db.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM tasks WHERE id = ?)", in.TaskID).Scan(&exists); err != nil {
		return nil, unavailable("reading a task", err)
	}
	if !exists {
		return nil, mizan.Errorf(mizan.CodeNotFound, "no task %d", in.TaskID)
	}
	rows, err := s.db.QueryContext(ctx, `
		SELECT c.id, u.id, u.name, c.body, c.created_at
		FROM comments c JOIN users u ON u.id = c.author_id
		WHERE c.task_id = ? ORDER BY c.id`, in.TaskID)
	if err != nil {
		return nil, unavailable("listing comments", err)
	}
	defer rows.Close()
	out := []TaskComment{}
	for rows.Next() {
		var c TaskComment
		var created int64
		if err := rows.Scan(&c.ID, &c.Author.ID, &c.Author.Name, &c.Body, &created); err != nil {
			return nil, unavailable("listing comments", err)
		}
		c.CreatedAt = time.Unix(created, 0).UTC()
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("listing comments", err)
	}
	return out, nil
}
