package affects_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/affects"
)

// fakeDriver answers every statement with no rows; it implements the
// context interfaces only when ctxAware is set (else database/sql goes
// through Prepare).
type fakeDriver struct {
	ctxAware bool
	mu       sync.Mutex
	seen     []string
}

func (d *fakeDriver) Open(string) (driver.Conn, error) {
	if d.ctxAware {
		return &ctxConn{fakeConn{d}}, nil
	}
	return &fakeConn{d}, nil
}

type fakeConn struct{ d *fakeDriver }

func (c *fakeConn) Prepare(q string) (driver.Stmt, error) { return &fakeStmt{c.d, q}, nil }
func (c *fakeConn) Close() error                          { return nil }
func (c *fakeConn) Begin() (driver.Tx, error)             { return fakeTx{}, nil }

type ctxConn struct{ fakeConn }

func (c *ctxConn) ExecContext(_ context.Context, q string, _ []driver.NamedValue) (driver.Result, error) {
	c.d.note(q)
	return driver.RowsAffected(1), nil
}

func (c *ctxConn) QueryContext(_ context.Context, q string, _ []driver.NamedValue) (driver.Rows, error) {
	c.d.note(q)
	return &noRows{}, nil
}

func (d *fakeDriver) note(q string) {
	d.mu.Lock()
	d.seen = append(d.seen, q)
	d.mu.Unlock()
}

type fakeTx struct{}

func (fakeTx) Commit() error   { return nil }
func (fakeTx) Rollback() error { return nil }

type fakeStmt struct {
	d *fakeDriver
	q string
}

func (s *fakeStmt) Close() error  { return nil }
func (s *fakeStmt) NumInput() int { return -1 }
func (s *fakeStmt) Exec([]driver.Value) (driver.Result, error) {
	s.d.note(s.q)
	return driver.RowsAffected(1), nil
}
func (s *fakeStmt) Query([]driver.Value) (driver.Rows, error) {
	s.d.note(s.q)
	return &noRows{}, nil
}

type noRows struct{}

func (*noRows) Columns() []string         { return []string{"x"} }
func (*noRows) Close() error              { return nil }
func (*noRows) Next([]driver.Value) error { return io.EOF }

type recorder struct {
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// board is a small app over db: a context "board" whose function reads
// tasks and users, and mutations that write them with right and wrong
// affects.
func board(t *testing.T, db *sql.DB, tx bool) *mizan.App {
	app := mizan.New(mizan.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	type none struct{}
	type ok struct {
		OK bool `json:"ok"`
	}
	mizan.Query(app, func(ctx context.Context, _ none) ([]int, error) {
		rows, err := db.QueryContext(ctx, "SELECT t.id, u.name FROM tasks t JOIN users u ON u.id = t.owner ORDER BY t.title")
		if err != nil {
			return nil, err
		}
		rows.Close()
		return []int{}, nil
	}, mizan.Name("board_tasks"), mizan.In("board"))
	mizan.Query(app, func(ctx context.Context, _ none) ([]int, error) {
		_, err := db.QueryContext(ctx, "SELECT id, email FROM users")
		return []int{}, err
	}, mizan.Name("emails"), mizan.In("people"))
	exec := func(q string) func(ctx context.Context, _ none) (ok, error) {
		return func(ctx context.Context, _ none) (ok, error) {
			if !tx {
				_, err := db.ExecContext(ctx, q)
				return ok{err == nil}, err
			}
			t, err := db.BeginTx(ctx, nil)
			if err != nil {
				return ok{}, err
			}
			// Without the function's context: attributed through the
			// transaction's.
			if _, err := t.Exec(q); err != nil {
				return ok{}, err
			}
			return ok{true}, t.Commit()
		}
	}
	mizan.Mutation(app, exec("INSERT INTO tasks (title) VALUES ('x')"), mizan.Name("add_task"), mizan.Affects("board"))
	mizan.Mutation(app, exec("UPDATE tasks SET title = 'y'"), mizan.Name("retitle_wrong"), mizan.Affects("people"))
	mizan.Mutation(app, exec("UPDATE users SET email = 'e'"), mizan.Name("set_email"), mizan.Affects("people"))
	mizan.Mutation(app, exec("DELETE FROM users"), mizan.Name("purge_users"), mizan.Affects("people"))
	return app
}

func call(t *testing.T, app *mizan.App, fn string) {
	t.Helper()
	r, _ := http.NewRequest(http.MethodPost, "/", nil)
	if _, err := app.Call(context.Background(), mizan.CallRequest{Fn: fn, Request: r}); err != nil {
		t.Fatalf("%s: %v", fn, err)
	}
}

func fetch(t *testing.T, app *mizan.App, c string) {
	t.Helper()
	r, _ := http.NewRequest(http.MethodGet, "/api/mizan/ctx/"+c+"/", nil)
	w := &discard{h: http.Header{}}
	app.ServeHTTP(w, r)
	if w.status != 0 && w.status != http.StatusOK {
		t.Fatalf("ctx/%s/: %d", c, w.status)
	}
}

type discard struct {
	h      http.Header
	status int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(s int)           { d.status = s }

func TestChecker(t *testing.T) {
	for _, mode := range []struct {
		name     string
		ctxAware bool
		tx       bool
	}{{"context driver", true, false}, {"prepare-only driver", false, false}, {"transaction", true, true}} {
		t.Run(mode.name, func(t *testing.T) {
			fd := &fakeDriver{ctxAware: mode.ctxAware}
			var logged strings.Builder
			c := affects.New(affects.Options{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
			db, err := c.OpenDB(fd, "x")
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			app := board(t, db, mode.tx)
			if err := c.Attach(app); err != nil {
				t.Fatal(err)
			}
			// A write before the read, and reads before writes: both orders.
			call(t, app, "retitle_wrong")
			fetch(t, app, "board")
			fetch(t, app, "people")
			call(t, app, "add_task")
			call(t, app, "set_email")
			call(t, app, "purge_users")
			call(t, app, "retitle_wrong")
			ws := c.Warnings()
			var got []string
			for _, w := range ws {
				got = append(got, w.Mutation+">"+w.Function+"@"+w.Table+fmt.Sprint(w.Columns))
			}
			want := []string{"retitle_wrong>board_tasks@tasks[title]", "purge_users>board_tasks@users[]"}
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("warnings %v, want %v (statements %q)", got, want, fd.seen)
			}
			if !strings.Contains(logged.String(), "mutation retitle_wrong updates title of table tasks, which board_tasks (context board) reads") {
				t.Errorf("log: %s", logged.String())
			}
			var rec recorder
			c.Check(&rec)
			if len(rec.errs) != 2 || !strings.Contains(rec.errs[0], `mizan.Affects("board")`) {
				t.Errorf("Check reported %q", rec.errs)
			}
			rec = recorder{}
			c.Check(&rec)
			if len(rec.errs) != 0 {
				t.Errorf("a second Check reported again: %q", rec.errs)
			}
		})
	}
}

func TestAllow(t *testing.T) {
	c := affects.New(affects.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	db, err := c.OpenDB(&fakeDriver{ctxAware: true}, "x")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	app := board(t, db, false)
	if err := c.Attach(app); err != nil {
		t.Fatal(err)
	}
	c.Allow("purge_users", "board_tasks", "users", "the test says so")
	fetch(t, app, "board")
	call(t, app, "purge_users")
	if ws := c.Warnings(); len(ws) != 0 {
		t.Errorf("an allowed pair warned: %v", ws)
	}
	defer func() {
		if recover() == nil {
			t.Error("Allow without a reason did not panic")
		}
	}()
	c.Allow("a", "b", "c", " ")
}

func TestUnattributed(t *testing.T) {
	c := affects.New(affects.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	fd := &fakeDriver{ctxAware: true}
	db, err := c.OpenDB(fd, "x")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Statements outside any function (migrations, seeds) are not recorded.
	if _, err := db.ExecContext(context.Background(), "UPDATE tasks SET title = 1"); err != nil {
		t.Fatal(err)
	}
	if len(fd.seen) != 1 || len(c.Warnings()) != 0 {
		t.Errorf("seen %q, warnings %v", fd.seen, c.Warnings())
	}
	if _, err := c.OpenDB(nil, ""); err == nil {
		t.Error("OpenDB(nil) gave no error")
	}
}
