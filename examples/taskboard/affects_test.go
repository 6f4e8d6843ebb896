package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/affects"
	"modernc.org/sqlite"
)

// checker records what every test's functions read and write: every
// database the tests open goes through it (sqlOpen), and every app
// newTestServer builds is attached to it (checkAffects). A warning fails
// the test that triggered it, or the run (TestMain).
var checker = affects.New(affects.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})

func init() {
	// What the checker cannot see, decided here once with the reason.
	for _, fn := range []string{"project_info", "project_tasks", "project_stats", "project_print", "task_detail"} {
		checker.Allow("create_project", fn, "projects",
			"a new project has a new id: no instance of project or task showed it, and a not_found is never cached")
	}
	for _, fn := range []string{"task_detail", "task_comments"} {
		checker.Allow("add_task", fn, "tasks",
			"a new task has a new id: no instance of task showed it, and a not_found is never cached")
	}
	for _, fn := range []string{"project_tasks", "project_stats"} {
		checker.Allow("rename_project", fn, "projects",
			"project_tasks and project_stats read the project only to answer not_found for a missing one; neither returns its name")
	}
}

// checkAffects attaches app's functions to the checker and fails t with
// any warning its run gives.
func checkAffects(t *testing.T, app *mizan.App) {
	t.Helper()
	if err := checker.Attach(app); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { checker.Check(t) })
}

// fatalTB records Check's errors, printing them on stderr unless quiet,
// for TestMain.
type fatalTB struct{ failed, quiet bool }

func (f *fatalTB) Helper() {}
func (f *fatalTB) Errorf(format string, args ...any) {
	f.failed = true
	if !f.quiet {
		fmt.Fprintf(os.Stderr, format+"\n", args...)
	}
}

func TestMain(m *testing.M) {
	sqlOpen = func(dsn string) (*sql.DB, error) { return checker.OpenDB(&sqlite.Driver{}, dsn) }
	code := m.Run()
	var tb fatalTB
	checker.Check(&tb)
	if tb.failed && code == 0 {
		code = 1
	}
	os.Exit(code)
}

// TestAffectsCheckerCatchesAWrongMutation registers, in this test only, a
// mutation that marks a project's tasks done but declares that it affects
// the board: the checker names it, project_tasks and the table.
func TestAffectsCheckerCatchesAWrongMutation(t *testing.T) {
	ctx := context.Background()
	c := affects.New(affects.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	db, err := c.OpenDB(&sqlite.Driver{}, filepath.Join(t.TempDir(), "wrong.db")+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	s := &store{db: db, now: time.Now}
	app := mizan.New(mizan.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	mizan.Query(app, s.projects, mizan.In(BoardContext), mizan.Shared())
	mizan.Query(app, s.projectTasks, mizan.In(ProjectContext), mizan.Shared())
	mizan.Mutation(app, func(ctx context.Context, in ProjectArgs) (OK, error) {
		_, err := db.ExecContext(ctx, "UPDATE tasks SET status = 'done' WHERE project_id = ?", in.ProjectID)
		return OK{err == nil}, err
	}, mizan.Name("finish_project"), mizan.Affects(BoardContext)) // wrong: project_tasks shows the status
	if err := c.Attach(app); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app)
	defer srv.Close()
	if r, err := http.Get(srv.URL + "/api/mizan/ctx/project/?project_id=1"); err != nil || r.StatusCode != http.StatusOK {
		t.Fatalf("ctx/project/: %v %v", r, err)
	}
	r, err := http.Post(srv.URL+"/api/mizan/call/", "application/json", strings.NewReader(`{"fn": "finish_project", "args": {"project_id": 1}}`))
	if err != nil || r.StatusCode != http.StatusOK {
		t.Fatalf("call/: %v %v", r, err)
	}
	ws := c.Warnings()
	if len(ws) != 1 || ws[0].Mutation != "finish_project" || ws[0].Function != "project_tasks" || ws[0].Table != "tasks" || ws[0].Context != "project" {
		t.Fatalf("warnings %+v", ws)
	}
	tb := fatalTB{quiet: true}
	c.Check(&tb)
	if !tb.failed {
		t.Error("Check did not fail on the warning")
	}
}
