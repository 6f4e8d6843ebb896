package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/mizan-afi/mizan"
)

// TaskRef names a task of a project. Both names are context parameters:
// project_id scopes the project target, task_id the task target.
type TaskRef struct {
	ProjectID int `json:"project_id"`
	TaskID    int `json:"task_id"`
}

// MoveTaskArgs are the arguments of move_task.
type MoveTaskArgs struct {
	ProjectID int    `json:"project_id"`
	TaskID    int    `json:"task_id"`
	Status    Status `json:"status" validate:"oneof=todo doing done"`
}

// AssignTaskArgs are the arguments of assign_task; a null assignee_id
// leaves the task to nobody.
type AssignTaskArgs struct {
	ProjectID  int  `json:"project_id"`
	TaskID     int  `json:"task_id"`
	AssigneeID *int `json:"assignee_id"`
}

// AddCommentArgs are the arguments of add_comment.
type AddCommentArgs struct {
	ProjectID int    `json:"project_id"`
	TaskID    int    `json:"task_id"`
	Body      string `json:"body" validate:"required,max=2000"`
}

// ProjectFields are the arguments of create_project.
type ProjectFields struct {
	Name        string `json:"name" validate:"required,max=80"`
	Description string `json:"description,omitempty" validate:"max=500"`
}

// RenameProjectArgs are the arguments of rename_project.
type RenameProjectArgs struct {
	ProjectID   int    `json:"project_id"`
	Name        string `json:"name" validate:"required,max=80"`
	Description string `json:"description,omitempty" validate:"max=500"`
}

// RenameUserArgs are the arguments of rename_user.
type RenameUserArgs struct {
	UserID int    `json:"user_id"`
	Name   string `json:"name" validate:"required,max=40"`
}

// write runs fn in a transaction and commits it.
func (s *store) write(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return unavailable(op, err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return unavailable(op, err)
	}
	return nil
}

// callerID returns the signed-in caller's user id.
func callerID(ctx context.Context) (int, bool) {
	c := mizan.Caller(ctx)
	if c == nil {
		return 0, false
	}
	id, err := strconv.Atoi(c.ID)
	return id, err == nil
}

// mustCaller returns the caller's user id in a function guarded by
// RequireAuth, where there always is one.
func mustCaller(ctx context.Context) (int, error) {
	id, ok := callerID(ctx)
	if !ok {
		return 0, mizan.NewError(mizan.CodeUnauthorized, "sign in first")
	}
	return id, nil
}

// assignee returns user id as a task's assignee, or an invalid_args error
// for argument field when there is no such user.
func assignee(ctx context.Context, tx *sql.Tx, field string, id int) (*Person, error) {
	p := &Person{ID: id}
	err := tx.QueryRowContext(ctx, "SELECT name FROM users WHERE id = ?", id).Scan(&p.Name)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, mizan.Errorf(mizan.CodeInvalidArgs, "no user %d", id).WithFields(map[string]string{field: "no such user"})
	}
	if err != nil {
		return nil, unavailable("reading a user", err)
	}
	return p, nil
}

// checkTask returns a not_found error unless task ref.TaskID is in project
// ref.ProjectID. The mutations take both ids because both scope their
// targets; this keeps a caller from naming a task under the wrong project.
func checkTask(ctx context.Context, tx *sql.Tx, ref TaskRef) error {
	var exists bool
	err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM tasks WHERE id = ? AND project_id = ?)", ref.TaskID, ref.ProjectID).Scan(&exists)
	if err != nil {
		return unavailable("reading a task", err)
	}
	if !exists {
		return mizan.Errorf(mizan.CodeNotFound, "no task %d in project %d", ref.TaskID, ref.ProjectID)
	}
	return nil
}

// moveTask moves a task to another column.
func (s *store) moveTask(ctx context.Context, in MoveTaskArgs) (OK, error) {
	err := s.write(ctx, "moving a task", func(tx *sql.Tx) error {
		if err := checkTask(ctx, tx, TaskRef{in.ProjectID, in.TaskID}); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE tasks SET status = ? WHERE id = ?", in.Status, in.TaskID); err != nil {
			return unavailable("moving a task", err)
		}
		return nil
	})
	return OK{err == nil}, err
}

// assignTask gives a task to a user, or to nobody.
func (s *store) assignTask(ctx context.Context, in AssignTaskArgs) (OK, error) {
	err := s.write(ctx, "assigning a task", func(tx *sql.Tx) error {
		if err := checkTask(ctx, tx, TaskRef{in.ProjectID, in.TaskID}); err != nil {
			return err
		}
		if in.AssigneeID != nil {
			if _, err := assignee(ctx, tx, "assignee_id", *in.AssigneeID); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, "UPDATE tasks SET assignee_id = ? WHERE id = ?", in.AssigneeID, in.TaskID); err != nil {
			return unavailable("assigning a task", err)
		}
		return nil
	})
	return OK{err == nil}, err
}

// deleteTask deletes a task and its comments.
func (s *store) deleteTask(ctx context.Context, in TaskRef) (OK, error) {
	err := s.write(ctx, "deleting a task", func(tx *sql.Tx) error {
		if err := checkTask(ctx, tx, in); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM tasks WHERE id = ?", in.TaskID); err != nil {
			return unavailable("deleting a task", err)
		}
		return nil
	})
	return OK{err == nil}, err
}

// addComment adds the caller's comment to a task.
func (s *store) addComment(ctx context.Context, in AddCommentArgs) (TaskComment, error) {
	by, err := mustCaller(ctx)
	if err != nil {
		return TaskComment{}, err
	}
	c := TaskComment{Author: Person{ID: by}, Body: in.Body, CreatedAt: s.now().UTC().Truncate(time.Second)}
	err = s.write(ctx, "adding a comment", func(tx *sql.Tx) error {
		if err := checkTask(ctx, tx, TaskRef{in.ProjectID, in.TaskID}); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, "SELECT name FROM users WHERE id = ?", by).Scan(&c.Author.Name); err != nil {
			return unavailable("reading a user", err)
		}
		res, err := tx.ExecContext(ctx, "INSERT INTO comments (task_id, author_id, body, created_at) VALUES (?, ?, ?, ?)",
			in.TaskID, by, in.Body, c.CreatedAt.Unix())
		if err != nil {
			return unavailable("adding a comment", err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return unavailable("adding a comment", err)
		}
		c.ID = int(id)
		return nil
	})
	if err != nil {
		return TaskComment{}, err
	}
	return c, nil
}

// renameProject changes a project's name and description.
func (s *store) renameProject(ctx context.Context, in RenameProjectArgs) (Project, error) {
	err := s.write(ctx, "renaming a project", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE projects SET name = ?, description = ? WHERE id = ?", in.Name, in.Description, in.ProjectID)
		if err != nil {
			return unavailable("renaming a project", err)
		}
		return mustChange(res, mizan.Errorf(mizan.CodeNotFound, "no project %d", in.ProjectID))
	})
	if err != nil {
		return Project{}, err
	}
	return Project{ID: in.ProjectID, Name: in.Name, Description: in.Description}, nil
}

// mustChange returns notFound when res changed no row.
func mustChange(res sql.Result, notFound error) error {
	n, err := res.RowsAffected()
	if err != nil {
		return unavailable("counting changed rows", err)
	}
	if n == 0 {
		return notFound
	}
	return nil
}

// createProject creates an empty project. Staff only.
func (s *store) createProject(ctx context.Context, in ProjectFields) (Project, error) {
	p := Project{Name: in.Name, Description: in.Description}
	err := s.write(ctx, "creating a project", func(tx *sql.Tx) error {
		var taken bool
		if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM projects WHERE name = ? COLLATE NOCASE)", in.Name).Scan(&taken); err != nil {
			return unavailable("creating a project", err)
		}
		if taken {
			return mizan.Errorf(mizan.CodeConflict, "there is already a project called %q", in.Name).
				WithFields(map[string]string{"name": "already taken"})
		}
		res, err := tx.ExecContext(ctx, "INSERT INTO projects (name, description) VALUES (?, ?)", in.Name, in.Description)
		if err != nil {
			return unavailable("creating a project", err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return unavailable("creating a project", err)
		}
		p.ID = int(id)
		return nil
	})
	if err != nil {
		return Project{}, err
	}
	return p, nil
}

// deleteProject deletes a project with its tasks and their comments. Staff
// only.
func (s *store) deleteProject(ctx context.Context, in ProjectArgs) (OK, error) {
	err := s.write(ctx, "deleting a project", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM projects WHERE id = ?", in.ProjectID)
		if err != nil {
			return unavailable("deleting a project", err)
		}
		return mustChange(res, mizan.Errorf(mizan.CodeNotFound, "no project %d", in.ProjectID))
	})
	return OK{err == nil}, err
}

// renameUser changes a user's name. Anyone may rename themselves; only
// staff may rename someone else.
func (s *store) renameUser(ctx context.Context, in RenameUserArgs) (User, error) {
	c := mizan.Caller(ctx)
	if c == nil {
		return User{}, mizan.NewError(mizan.CodeUnauthorized, "sign in first")
	}
	if c.ID != strconv.Itoa(in.UserID) && !c.Staff {
		return User{}, mizan.NewError(mizan.CodeForbidden, "only staff may rename someone else")
	}
	u := User{ID: in.UserID}
	err := s.write(ctx, "renaming a user", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "UPDATE users SET name = ? WHERE id = ?", in.Name, in.UserID); err != nil {
			return unavailable("renaming a user", err)
		}
		err := tx.QueryRowContext(ctx, "SELECT name, email, staff FROM users WHERE id = ?", in.UserID).Scan(&u.Name, &u.Email, &u.Staff)
		if errors.Is(err, sql.ErrNoRows) {
			return mizan.Errorf(mizan.CodeNotFound, "no user %d", in.UserID)
		}
		if err != nil {
			return unavailable("renaming a user", fmt.Errorf("reading back: %w", err))
		}
		return nil
	})
	if err != nil {
		return User{}, err
	}
	return u, nil
}
