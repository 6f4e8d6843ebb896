package main

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mizan-afi/mizan/auth"
	"github.com/mizan-afi/mizan/auth/password"
)

// testDB opens a new seeded database in a temporary directory.
func testDB(t testing.TB) *sql.DB {
	t.Helper()
	db, _, err := openDB(context.Background(), filepath.Join(t.TempDir(), "taskboard.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestPasswordsStoredAsArgon2id: every demo user's password is stored as
// an argon2id hash of the current parameters, never as itself, and
// verifies.
func TestPasswordsStoredAsArgon2id(t *testing.T) {
	db := testDB(t)
	rows, err := db.Query("SELECT email, password_hash FROM users")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var email, hash string
		if err := rows.Scan(&email, &hash); err != nil {
			t.Fatal(err)
		}
		n++
		pw := demoPassword(username(email))
		p, _, _, err := password.Decode(hash)
		if err != nil || p != password.DefaultParams || strings.Contains(hash, pw) {
			t.Errorf("%s: stored %q (%v)", email, hash, err)
		}
		if ok, rehash, err := passwords.Verify(pw, hash); !ok || rehash || err != nil {
			t.Errorf("%s: the demo password does not verify: ok %v rehash %v %v", email, ok, rehash, err)
		}
	}
	if n != len(seedUsers) {
		t.Errorf("%d users, want %d", n, len(seedUsers))
	}
}

// TestRehashOnSignIn: a hash made with older (cheaper) parameters still
// signs the user in, and is replaced by one of the current parameters; a
// wrong password changes nothing.
func TestRehashOnSignIn(t *testing.T) {
	ctx := context.Background()
	db := testDB(t)
	s := &store{db: db, now: time.Now}
	old, err := (&password.Hasher{Params: password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}}).Hash("grace")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("UPDATE users SET password_hash = ? WHERE email = 'grace@example.com'", old); err != nil {
		t.Fatal(err)
	}
	stored := func() string {
		var h string
		if err := db.QueryRow("SELECT password_hash FROM users WHERE email = 'grace@example.com'").Scan(&h); err != nil {
			t.Fatal(err)
		}
		return h
	}
	if u, err := s.credentials(ctx, "grace", "wrong"); u != nil || err != nil || stored() != old {
		t.Fatalf("a wrong password: %v %v, hash changed: %v", u, err, stored() != old)
	}
	u, err := s.credentials(ctx, "grace", "grace")
	if err != nil || u == nil || u.ID != "2" {
		t.Fatalf("grace with an old hash: %+v %v", u, err)
	}
	now := stored()
	if p, _, _, err := password.Decode(now); now == old || err != nil || p != password.DefaultParams {
		t.Fatalf("after sign-in the hash is %q (%v); want one of the current parameters", now, err)
	}
	if u, err := s.credentials(ctx, "grace", "grace"); u == nil || err != nil || stored() != now {
		t.Fatalf("signing in with the new hash: %+v %v, rehashed again: %v", u, err, stored() != now)
	}
}

// TestSignInSameAnswerUnknownOrWrong: auth/token/ answers an unknown
// username and a wrong password with one status and one body.
func TestSignInSameAnswerUnknownOrWrong(t *testing.T) {
	srv := newTestServer(t, nil)
	post := func(user, pw string) (int, string) {
		res, err := http.Post(srv.URL+"/api/mizan/auth/token/", "application/json",
			strings.NewReader(`{"username":"`+user+`","password":"`+pw+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	s1, b1 := post("nobody", "nobody")
	s2, b2 := post("grace", "nobody")
	s3, b3 := post("grace@example.com", "grace")
	if s1 != 401 || s1 != s2 || b1 != b2 || s3 != s1 || b3 != b1 {
		t.Fatalf("unknown user: %d %s; wrong password: %d %s; an email as username: %d %s", s1, b1, s2, b2, s3, b3)
	}
	if !strings.Contains(b1, "wrong username or password") {
		t.Errorf("message: %s", b1)
	}
}

// BenchmarkSignInTiming measures auth/token/ answering an unknown
// username, a wrong password and the right one (limits off), through the
// app as a client reaches it. The first two must cost the same (one
// argon2id hash each): compare their ns/op. docs/performance.md records a
// run:
//
//	go -C examples test -run '^$' -bench BenchmarkSignInTiming -benchtime 200x -count 3 ./taskboard
func BenchmarkSignInTiming(b *testing.B) {
	ctx := context.Background()
	db := testDB(b)
	key, err := jwtKey(ctx, db)
	if err != nil {
		b.Fatal(err)
	}
	s := &store{db: db, now: time.Now}
	app, hub, _, err := newApp(s, appConfig{logger: slog.New(slog.NewTextHandler(io.Discard, nil)), jwtKey: key,
		limits: auth.Limits{Off: true}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = hub.Close() })
	for _, c := range []struct {
		name, user, pw string
		want           int
	}{
		{"unknown_user", "nobody", "nobody", 401},
		{"wrong_password", "grace", "nobody", 401},
		{"right_password", "grace", "grace", 200},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			body := `{"username":"` + c.user + `","password":"` + c.pw + `"}`
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/api/mizan/auth/token/", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				w := httptest.NewRecorder()
				app.ServeHTTP(w, req)
				if w.Code != c.want {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	}
}
