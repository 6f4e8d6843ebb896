package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/auth"
	"github.com/mizan-afi/mizan/auth/passkey"
)

// Passkeys (package auth/passkey, docs/auth.md "Passkeys") are a second way
// into a demo account: signed in with the password, the header's "Add
// passkey" registers one (web/src/signin-passkey.tsx); the sign-in page's
// "Sign in with a passkey" then signs in as the same user (the same
// users.id, so the same rights), with the same pair of JWTs auth/token/
// answers.
//
// The passkeys are in the passkeys table of the database, the finished
// ceremonies in passkey_ceremonies (so that each is finished once, by any
// process sharing the database). The relying party is localhost: open the
// taskboard as http://localhost:PORT/ (browsers count http://localhost as
// a secure context, and an RP ID is a domain, never an IP address, so
// http://127.0.0.1:PORT/ cannot use passkeys). The origin is the one the
// browser asked for, on any port of localhost; set TASKBOARD_PASSKEY_ORIGIN
// (https://tasks.example.com) to serve passkeys at a fixed origin, whose
// host is then the RP ID.

// EnvPasskeyOrigin is the environment variable of the fixed origin.
const EnvPasskeyOrigin = "TASKBOARD_PASSKEY_ORIGIN"

// passkeySchema creates the passkey tables of a database that has none.
const passkeySchema = `
CREATE TABLE IF NOT EXISTS passkeys (
	id           BLOB PRIMARY KEY,
	user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	user_handle  BLOB NOT NULL,
	record       TEXT NOT NULL,
	created_at   INTEGER NOT NULL,
	last_used_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS passkeys_by_user ON passkeys(user_id);
CREATE TABLE IF NOT EXISTS passkey_ceremonies (
	id         TEXT PRIMARY KEY,
	expires_at INTEGER NOT NULL
);
`

// mountPasskeys adds passkeys (package auth/passkey) to app.
func (s *store) mountPasskeys(app *mizan.App, cfg appConfig) error {
	o := passkey.Options{
		RPDisplayName: "Mizan Taskboard",
		Lookup:        s.passkeyUser,
		Names:         s.passkeyNames,
		Logger:        cfg.logger,
		Now:           s.now,
	}
	if s.db == nil {
		// Only the IR is written: the endpoints are never called.
		o.Store = passkey.NewMemoryStore()
	} else {
		ps, err := openPasskeys(context.Background(), s.db, s.now)
		if err != nil {
			return err
		}
		o.Store = ps
	}
	if fixed := os.Getenv(EnvPasskeyOrigin); fixed != "" {
		u, err := url.Parse(fixed)
		if err != nil || u.Hostname() == "" {
			return fmt.Errorf("%s=%q: not an origin such as https://tasks.example.com", EnvPasskeyOrigin, fixed)
		}
		o.RPID, o.RPOrigins = u.Hostname(), []string{strings.TrimSuffix(fixed, "/")}
	} else {
		o.RPID, o.Origin = "localhost", localhostOrigin
	}
	if err := passkey.Mount(app, o); err != nil {
		return fmt.Errorf("passkeys: %w", err)
	}
	return nil
}

// localhostOrigin is the origin of a request to localhost: http (or https)
// and the Host it names, which must be localhost on some port. Any other
// host gets no passkeys (the browser would refuse the RP ID localhost
// there anyway).
func localhostOrigin(r *http.Request) (string, error) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if !strings.EqualFold(host, "localhost") {
		return "", mizan.NewError(mizan.CodeBadRequest, "passkeys need the taskboard opened as http://localhost:PORT/ (the RP ID is localhost)")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + strings.ToLower(r.Host), nil
}

// passkeyUser is the passkeys' Lookup: the user id's account, with its
// rights, as the password sign-in gives it; nil when there is none.
func (s *store) passkeyUser(ctx context.Context, userID string) (*auth.User, error) {
	id, err := strconv.Atoi(userID)
	if err != nil {
		return nil, nil
	}
	var staff bool
	err = s.db.QueryRowContext(ctx, "SELECT staff FROM users WHERE id = ?", id).Scan(&staff)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, unavailable("looking up a passkey's user", err)
	}
	return &auth.User{ID: userID, Staff: staff}, nil
}

// passkeyNames is the passkeys' Names: the username ("ada") and the name
// ("Ada Lovelace") the authenticator shows.
func (s *store) passkeyNames(ctx context.Context, userID string) (string, string, error) {
	var name, email string
	if err := s.db.QueryRowContext(ctx, "SELECT name, email FROM users WHERE id = ?", userID).Scan(&name, &email); err != nil {
		return "", "", unavailable("reading a user's names", err)
	}
	return username(email), name, nil
}

// sqlPasskeys is the taskboard's passkey.Store, in its SQLite database.
type sqlPasskeys struct {
	db  *sql.DB
	now func() time.Time
}

// openPasskeys creates the passkey tables if needed and returns the store.
func openPasskeys(ctx context.Context, db *sql.DB, now func() time.Time) (*sqlPasskeys, error) {
	if _, err := db.ExecContext(ctx, passkeySchema); err != nil {
		return nil, fmt.Errorf("creating the passkey tables: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	return &sqlPasskeys{db: db, now: now}, nil
}

// unix is t in Unix seconds, 0 for the zero time.
func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// fromUnix is the time of Unix seconds, the zero time for 0.
func fromUnix(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0)
}

// scanPasskey reads a row of passkeys (user_id, user_handle, record,
// created_at, last_used_at).
func scanPasskey(row interface{ Scan(...any) error }) (*passkey.Credential, error) {
	var (
		c                passkey.Credential
		userID           int64
		record           string
		created, lastUse int64
	)
	if err := row.Scan(&userID, &c.UserHandle, &record, &created, &lastUse); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(record), &c.Record); err != nil {
		return nil, fmt.Errorf("decoding a passkey record: %w", err)
	}
	c.UserID, c.Created, c.LastUsed = strconv.FormatInt(userID, 10), fromUnix(created), fromUnix(lastUse)
	return &c, nil
}

// ByUser implements passkey.Store.
func (p *sqlPasskeys) ByUser(ctx context.Context, userID string) ([]passkey.Credential, error) {
	id, err := strconv.ParseInt(userID, 10, 64)
	if err != nil {
		return nil, nil // no such user, no passkeys
	}
	rows, err := p.db.QueryContext(ctx, "SELECT user_id, user_handle, record, created_at, last_used_at FROM passkeys WHERE user_id = ? ORDER BY created_at, rowid", id)
	if err != nil {
		return nil, fmt.Errorf("listing passkeys: %w", err)
	}
	defer rows.Close()
	var out []passkey.Credential
	for rows.Next() {
		c, err := scanPasskey(rows)
		if err != nil {
			return nil, fmt.Errorf("listing passkeys: %w", err)
		}
		out = append(out, *c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing passkeys: %w", err)
	}
	return out, nil
}

// ByID implements passkey.Store.
func (p *sqlPasskeys) ByID(ctx context.Context, id []byte) (*passkey.Credential, error) {
	c, err := scanPasskey(p.db.QueryRowContext(ctx, "SELECT user_id, user_handle, record, created_at, last_used_at FROM passkeys WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, passkey.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("finding a passkey: %w", err)
	}
	return c, nil
}

// Add implements passkey.Store.
func (p *sqlPasskeys) Add(ctx context.Context, c passkey.Credential) error {
	userID, err := strconv.ParseInt(c.UserID, 10, 64)
	if err != nil || len(c.Record.ID) == 0 {
		return fmt.Errorf("adding a passkey: user id %q, credential id of %d bytes", c.UserID, len(c.Record.ID))
	}
	record, err := json.Marshal(c.Record)
	if err != nil {
		return fmt.Errorf("encoding a passkey record: %w", err)
	}
	res, err := p.db.ExecContext(ctx, "INSERT OR IGNORE INTO passkeys (id, user_id, user_handle, record, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?)",
		c.Record.ID, userID, c.UserHandle, string(record), unix(c.Created), unix(c.LastUsed))
	if err != nil {
		return fmt.Errorf("adding a passkey: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("adding a passkey: %w", err)
	} else if n == 0 {
		return passkey.ErrDuplicate
	}
	return nil
}

// Update implements passkey.Store.
func (p *sqlPasskeys) Update(ctx context.Context, c passkey.Credential) error {
	record, err := json.Marshal(c.Record)
	if err != nil {
		return fmt.Errorf("encoding a passkey record: %w", err)
	}
	res, err := p.db.ExecContext(ctx, "UPDATE passkeys SET record = ?, last_used_at = ? WHERE id = ?", string(record), unix(c.LastUsed), c.Record.ID)
	if err != nil {
		return fmt.Errorf("updating a passkey: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("updating a passkey: %w", err)
	} else if n == 0 {
		return passkey.ErrNotFound
	}
	return nil
}

// Spend implements passkey.Store: the primary key makes a ceremony
// finishable once by every process sharing the database.
func (p *sqlPasskeys) Spend(ctx context.Context, id string, expires time.Time) error {
	if _, err := p.db.ExecContext(ctx, "DELETE FROM passkey_ceremonies WHERE expires_at < ?", p.now().Unix()); err != nil {
		return fmt.Errorf("forgetting old ceremonies: %w", err)
	}
	res, err := p.db.ExecContext(ctx, "INSERT OR IGNORE INTO passkey_ceremonies (id, expires_at) VALUES (?, ?)", id, expires.Unix())
	if err != nil {
		return fmt.Errorf("spending a ceremony: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("spending a ceremony: %w", err)
	} else if n == 0 {
		return passkey.ErrSpent
	}
	return nil
}
