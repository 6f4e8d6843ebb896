package affects

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
)

// OpenDB opens a database through base (modernc.org/sqlite's
// &sqlite.Driver{}, pgx's stdlib.GetDefaultDriver(), ...) with the
// checker recording every statement: sql.OpenDB over [Checker.Connector].
func (c *Checker) OpenDB(base driver.Driver, dsn string) (*sql.DB, error) {
	if base == nil {
		return nil, errors.New("affects: OpenDB: nil driver")
	}
	var k driver.Connector
	if dc, ok := base.(driver.DriverContext); ok {
		var err error
		if k, err = dc.OpenConnector(dsn); err != nil {
			return nil, fmt.Errorf("affects: opening %T: %w", base, err)
		}
	} else {
		k = dsnConnector{dsn: dsn, d: base}
	}
	return sql.OpenDB(c.Connector(k)), nil
}

// Connector wraps base so that every connection it opens reports its
// statements to the checker.
func (c *Checker) Connector(base driver.Connector) driver.Connector {
	return &connector{base: base, c: c}
}

// Driver wraps base for sql.Register: every connection it opens reports
// its statements to the checker.
func (c *Checker) Driver(base driver.Driver) driver.Driver {
	return &wrappedDriver{base: base, c: c}
}

// dsnConnector is a driver.Connector of a driver without one.
type dsnConnector struct {
	dsn string
	d   driver.Driver
}

func (k dsnConnector) Connect(context.Context) (driver.Conn, error) { return k.d.Open(k.dsn) }
func (k dsnConnector) Driver() driver.Driver                        { return k.d }

type connector struct {
	base driver.Connector
	c    *Checker
}

func (k *connector) Connect(ctx context.Context) (driver.Conn, error) {
	cn, err := k.base.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &conn{Conn: cn, c: k.c}, nil
}

func (k *connector) Driver() driver.Driver { return &wrappedDriver{base: k.base.Driver(), c: k.c} }

type wrappedDriver struct {
	base driver.Driver
	c    *Checker
}

func (d *wrappedDriver) Open(name string) (driver.Conn, error) {
	cn, err := d.base.Open(name)
	if err != nil {
		return nil, err
	}
	return &conn{Conn: cn, c: d.c}, nil
}

func (d *wrappedDriver) OpenConnector(name string) (driver.Connector, error) {
	if dc, ok := d.base.(driver.DriverContext); ok {
		k, err := dc.OpenConnector(name)
		if err != nil {
			return nil, err
		}
		return &connector{base: k, c: d.c}, nil
	}
	return &connector{base: dsnConnector{dsn: name, d: d.base}, c: d.c}, nil
}

// conn reports the statements sent on one connection. database/sql uses
// a connection from one goroutine at a time.
type conn struct {
	driver.Conn
	c *Checker
	// txCtx is the context of the open transaction: a statement of the
	// transaction sent without a function's context is the function's.
	txCtx context.Context
}

// ctxOf returns the context to attribute a statement sent with ctx to.
func (cn *conn) ctxOf(ctx context.Context) context.Context {
	if cn.txCtx != nil {
		cn.c.mu.Lock()
		nameOf := cn.c.nameOf
		cn.c.mu.Unlock()
		if nameOf != nil && nameOf(ctx) == "" {
			return cn.txCtx
		}
	}
	return ctx
}

func (cn *conn) Prepare(query string) (driver.Stmt, error) {
	return cn.PrepareContext(context.Background(), query)
}

func (cn *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	var s driver.Stmt
	var err error
	if p, ok := cn.Conn.(driver.ConnPrepareContext); ok {
		s, err = p.PrepareContext(ctx, query)
	} else {
		s, err = cn.Conn.Prepare(query)
	}
	if err != nil {
		return nil, err
	}
	return &stmt{Stmt: s, cn: cn, query: query}, nil
}

func (cn *conn) Begin() (driver.Tx, error) {
	return cn.BeginTx(context.Background(), driver.TxOptions{})
}

func (cn *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	var tx driver.Tx
	var err error
	if b, ok := cn.Conn.(driver.ConnBeginTx); ok {
		tx, err = b.BeginTx(ctx, opts)
	} else {
		tx, err = cn.Conn.Begin() //nolint:staticcheck // the driver has nothing else
	}
	if err != nil {
		return nil, err
	}
	cn.txCtx = ctx
	return &txn{Tx: tx, cn: cn}, nil
}

func (cn *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := cn.Conn.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	cn.c.record(cn.ctxOf(ctx), query)
	return e.ExecContext(ctx, query, args)
}

func (cn *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := cn.Conn.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	cn.c.record(cn.ctxOf(ctx), query)
	return q.QueryContext(ctx, query, args)
}

func (cn *conn) Ping(ctx context.Context) error {
	if p, ok := cn.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (cn *conn) ResetSession(ctx context.Context) error {
	cn.txCtx = nil
	if r, ok := cn.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (cn *conn) IsValid() bool {
	if v, ok := cn.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (cn *conn) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := cn.Conn.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// txn ends the connection's transaction context.
type txn struct {
	driver.Tx
	cn *conn
}

func (t *txn) Commit() error {
	t.cn.txCtx = nil
	return t.Tx.Commit()
}

func (t *txn) Rollback() error {
	t.cn.txCtx = nil
	return t.Tx.Rollback()
}

// stmt reports a prepared statement each time it runs.
type stmt struct {
	driver.Stmt
	cn    *conn
	query string
}

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	s.cn.c.record(s.cn.ctxOf(ctx), s.query)
	if e, ok := s.Stmt.(driver.StmtExecContext); ok {
		return e.ExecContext(ctx, args)
	}
	vs, err := values(args)
	if err != nil {
		return nil, err
	}
	return s.Stmt.Exec(vs) //nolint:staticcheck // the driver has nothing else
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	s.cn.c.record(s.cn.ctxOf(ctx), s.query)
	if q, ok := s.Stmt.(driver.StmtQueryContext); ok {
		return q.QueryContext(ctx, args)
	}
	vs, err := values(args)
	if err != nil {
		return nil, err
	}
	return s.Stmt.Query(vs) //nolint:staticcheck // the driver has nothing else
}

func (s *stmt) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := s.Stmt.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return s.cn.CheckNamedValue(nv)
}

// values turns positional named values into plain ones, for a driver
// without the context interfaces.
func values(args []driver.NamedValue) ([]driver.Value, error) {
	out := make([]driver.Value, len(args))
	for i, a := range args {
		if a.Name != "" {
			return nil, errors.New("affects: the driver does not take named parameters")
		}
		out[i] = a.Value
	}
	return out, nil
}
