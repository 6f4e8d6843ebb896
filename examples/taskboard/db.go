package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, pure Go
)

// schemaVersion is stored in PRAGMA user_version once the schema is created
// and seeded; a database at this version is used as it is, and one at an
// earlier version is upgraded in place (upgrades).
const schemaVersion = 3

// upgrades[v] brings a database from version v+1 to v+2: version 2 gives
// tasks a description and a due date (the add_task form, forms.go);
// version 3 gives users a password hash (argon2id, auth.go), filled in by
// hashDemoPasswords.
var upgrades = []string{
	`ALTER TABLE tasks ADD COLUMN description TEXT NOT NULL DEFAULT '';
	 ALTER TABLE tasks ADD COLUMN due_date TEXT;`,
	`ALTER TABLE users ADD COLUMN password_hash TEXT NOT NULL DEFAULT '';`,
}

// schema creates the tables of a new database.
const schema = `
CREATE TABLE users (
	id    INTEGER PRIMARY KEY,
	name  TEXT NOT NULL,
	email TEXT NOT NULL UNIQUE,
	staff INTEGER NOT NULL DEFAULT 0,
	-- argon2id in PHC format (package auth/password); '' until set
	password_hash TEXT NOT NULL DEFAULT ''
);
CREATE TABLE projects (
	id          INTEGER PRIMARY KEY,
	name        TEXT NOT NULL,
	description TEXT NOT NULL DEFAULT ''
);
CREATE TABLE tasks (
	id          INTEGER PRIMARY KEY,
	project_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
	title       TEXT NOT NULL,
	description TEXT NOT NULL DEFAULT '',
	due_date    TEXT,
	status      TEXT NOT NULL DEFAULT 'todo' CHECK (status IN ('todo', 'doing', 'done')),
	assignee_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
	created_by  INTEGER NOT NULL REFERENCES users(id),
	created_at  INTEGER NOT NULL
);
CREATE INDEX tasks_by_project ON tasks(project_id);
CREATE TABLE comments (
	id         INTEGER PRIMARY KEY,
	task_id    INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
	author_id  INTEGER NOT NULL REFERENCES users(id),
	body       TEXT NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE INDEX comments_by_task ON comments(task_id);
CREATE TABLE settings (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
`

// seedUser, seedProject, seedTask and seedComment are the demo data a new
// database starts with.
type (
	seedUser struct {
		name, email string
		staff       bool
	}
	seedProject struct{ name, description string }
	seedTask    struct {
		project  int
		title    string
		status   Status
		assignee int // 0: nobody
		by       int
		hoursAgo int
	}
	seedComment struct {
		task, author int
		body         string
		hoursAgo     int
	}
)

var (
	seedUsers = []seedUser{
		{"Ada Lovelace", "ada@example.com", true},
		{"Grace Hopper", "grace@example.com", false},
		{"Alan Turing", "alan@example.com", false},
		{"Katherine Johnson", "katherine@example.com", false},
	}
	seedProjects = []seedProject{
		{"Website relaunch", "The new marketing site, live before the spring campaign."},
		{"Mobile app", "Version 2 of the iOS and Android app: offline mode and a new onboarding."},
	}
	seedTasks = []seedTask{
		{1, "Draft the new home page copy", StatusDone, 2, 1, 72},
		{1, "Pick a font pairing", StatusDone, 4, 1, 70},
		{1, "Build the pricing page", StatusDoing, 3, 1, 48},
		{1, "Set up redirects from the old URLs", StatusTodo, 0, 2, 30},
		{1, "Run an accessibility audit", StatusTodo, 4, 1, 20},
		{2, "Offline sync: design the conflict rules", StatusDoing, 2, 1, 60},
		{2, "Onboarding screens in Figma", StatusDone, 4, 3, 50},
		{2, "Crash on rotate in settings", StatusTodo, 3, 2, 10},
		{2, "Write release notes for 2.0", StatusTodo, 0, 1, 5},
	}
	seedComments = []seedComment{
		{1, 1, "Looks great. Ship it.", 40},
		{3, 2, "Should the annual plan show the monthly price too?", 30},
		{3, 3, "Yes, with the saving in brackets.", 28},
		{6, 4, "Last write wins is not enough for notes; let's merge line by line.", 20},
		{8, 2, "Only on Android 14, as far as I can tell.", 8},
	}
)

// defaultDBPath returns where the database lives when -db is not given:
// taskboard.db in a mizan-taskboard folder of the user's cache directory
// ($XDG_CACHE_HOME or ~/.cache on Linux), or ./taskboard.db when there is
// no such directory.
func defaultDBPath() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "taskboard.db"
	}
	return filepath.Join(dir, "mizan-taskboard", "taskboard.db")
}

// sqlOpen opens the database/sql handle of a DSN; the tests open it
// through the affects checker (affects_test.go).
var sqlOpen = func(dsn string) (*sql.DB, error) { return sql.Open("sqlite", dsn) }

// openDB opens the SQLite database at path, creating its directory, the
// schema and the demo data when it does not exist yet. It reports whether
// it seeded a new database.
func openDB(ctx context.Context, path string) (db *sql.DB, created bool, err error) {
	if path == "" || strings.ContainsRune(path, '?') {
		return nil, false, fmt.Errorf("opening the database: invalid path %q", path)
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, false, fmt.Errorf("opening the database: %w", err)
		}
	}
	// WAL lets the functions of a context fetch read concurrently while a
	// mutation writes; busy_timeout makes a writer wait for another instead
	// of failing; immediate transactions take the write lock up front, so
	// two read-then-write transactions cannot deadlock.
	dsn := path + "?_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_txlock=immediate"
	db, err = sqlOpen(dsn)
	if err != nil {
		return nil, false, fmt.Errorf("opening the database %s: %w", path, err)
	}
	created, err = migrate(ctx, db)
	if err != nil {
		db.Close()
		return nil, false, fmt.Errorf("preparing the database %s: %w", path, err)
	}
	return db, created, nil
}

// migrate creates the schema and the demo data in a new database, or
// upgrades an older one, in one transaction, and reports whether it
// created one.
func migrate(ctx context.Context, db *sql.DB) (created bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("beginning: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return false, fmt.Errorf("reading the schema version: %w", err)
	}
	switch {
	case version == schemaVersion:
		return false, tx.Commit()
	case version > 0 && version < schemaVersion:
		for v := version; v < schemaVersion; v++ {
			if _, err := tx.ExecContext(ctx, upgrades[v-1]); err != nil {
				return false, fmt.Errorf("upgrading the schema from version %d: %w", v, err)
			}
		}
		if err := hashDemoPasswords(ctx, tx); err != nil {
			return false, err
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion)); err != nil {
			return false, fmt.Errorf("setting the schema version: %w", err)
		}
		return false, tx.Commit()
	case version != 0:
		return false, fmt.Errorf("schema version %d, want %d: delete the file or start with -reset", version, schemaVersion)
	}
	if _, err := tx.ExecContext(ctx, schema); err != nil {
		return false, fmt.Errorf("creating the schema: %w", err)
	}
	if err := seed(ctx, tx, time.Now()); err != nil {
		return false, fmt.Errorf("seeding: %w", err)
	}
	if err := hashDemoPasswords(ctx, tx); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion)); err != nil {
		return false, fmt.Errorf("setting the schema version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("committing: %w", err)
	}
	return true, nil
}

// hashDemoPasswords stores the argon2id hash of each demo user's password
// (demoPassword) where the user has none yet.
func hashDemoPasswords(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, "SELECT id, email FROM users WHERE password_hash = ''")
	if err != nil {
		return fmt.Errorf("reading the users without a password: %w", err)
	}
	type row struct {
		id    int
		email string
	}
	var todo []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.email); err != nil {
			rows.Close()
			return fmt.Errorf("reading the users without a password: %w", err)
		}
		todo = append(todo, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading the users without a password: %w", err)
	}
	for _, r := range todo {
		h, err := passwords.Hash(demoPassword(username(r.email)))
		if err != nil {
			return fmt.Errorf("hashing the password of %s: %w", r.email, err)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE users SET password_hash = ? WHERE id = ?", h, r.id); err != nil {
			return fmt.Errorf("storing the password of %s: %w", r.email, err)
		}
	}
	return nil
}

// seed inserts the demo data and a fresh key for the JWTs.
func seed(ctx context.Context, tx *sql.Tx, now time.Time) error {
	ago := func(hours int) int64 { return now.Add(-time.Duration(hours) * time.Hour).Unix() }
	for _, u := range seedUsers {
		if _, err := tx.ExecContext(ctx, "INSERT INTO users (name, email, staff) VALUES (?, ?, ?)", u.name, u.email, u.staff); err != nil {
			return fmt.Errorf("user %s: %w", u.email, err)
		}
	}
	for _, p := range seedProjects {
		if _, err := tx.ExecContext(ctx, "INSERT INTO projects (name, description) VALUES (?, ?)", p.name, p.description); err != nil {
			return fmt.Errorf("project %s: %w", p.name, err)
		}
	}
	for _, t := range seedTasks {
		var assignee any
		if t.assignee != 0 {
			assignee = t.assignee
		}
		if _, err := tx.ExecContext(ctx,
			"INSERT INTO tasks (project_id, title, status, assignee_id, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)",
			t.project, t.title, t.status, assignee, t.by, ago(t.hoursAgo)); err != nil {
			return fmt.Errorf("task %q: %w", t.title, err)
		}
	}
	for _, c := range seedComments {
		if _, err := tx.ExecContext(ctx,
			"INSERT INTO comments (task_id, author_id, body, created_at) VALUES (?, ?, ?, ?)",
			c.task, c.author, c.body, ago(c.hoursAgo)); err != nil {
			return fmt.Errorf("comment on task %d: %w", c.task, err)
		}
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return fmt.Errorf("generating the JWT key: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO settings (key, value) VALUES ('cookie_secret', ?)", hex.EncodeToString(secret)); err != nil {
		return fmt.Errorf("storing the JWT key: %w", err)
	}
	return nil
}

// jwtKey returns the key that signs the JWTs (HS256), created with the
// database (stored as cookie_secret, its first use) so that it outlives a
// restart. The sessions live in memory: a restart signs everyone out.
func jwtKey(ctx context.Context, db *sql.DB) ([]byte, error) {
	var s string
	err := db.QueryRowContext(ctx, "SELECT value FROM settings WHERE key = 'cookie_secret'").Scan(&s)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errors.New("reading the JWT key: the database has none")
	}
	if err != nil {
		return nil, fmt.Errorf("reading the JWT key: %w", err)
	}
	b, err := hex.DecodeString(s)
	if err != nil || len(b) < 32 {
		return nil, errors.New("reading the JWT key: malformed")
	}
	return b, nil
}
