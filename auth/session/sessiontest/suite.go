// Package sessiontest checks an implementation of [session.Store] against
// the contract every store must keep.
package sessiontest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/mizan-afi/mizan/auth/session"
)

// Run runs the contract tests against stores returned by newStore, one per
// subtest. wait lets time pass for the store (a fake clock's advance, or a
// sleep for a real server); expiry is tested with sessions that live for
// expireAfter, and wait(2 * expireAfter) must outlive them.
func Run(t *testing.T, newStore func(t *testing.T) session.Store, expireAfter time.Duration, wait func(time.Duration)) {
	ctx := context.Background()
	later := func() time.Time { return time.Now().Add(time.Hour) }
	sample := func(id string) session.Session {
		return session.Session{ID: id, UserID: "7", Staff: true, Refresh: "r1", Expires: later()}
	}

	t.Run("CreateGetDelete", func(t *testing.T) {
		s := newStore(t)
		want := sample("a")
		want.Superuser = true
		if err := s.Create(ctx, want); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != "a" || got.UserID != "7" || !got.Staff || !got.Superuser || got.Refresh != "r1" ||
			got.Expires.Sub(want.Expires).Abs() > time.Millisecond {
			t.Errorf("Get = %+v, want %+v", got, want)
		}
		if err := s.Delete(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "a"); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("Get after Delete: %v, want ErrNotFound", err)
		}
		if err := s.Delete(ctx, "a"); err != nil {
			t.Errorf("deleting a missing session: %v", err)
		}
		if _, err := s.Get(ctx, "never"); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("Get of an unknown id: %v, want ErrNotFound", err)
		}
	})

	t.Run("DeleteUser", func(t *testing.T) {
		// Every session of the user goes, token and cookie sessions alike;
		// another user's stays.
		s := newStore(t)
		mine := []session.Session{sample("u1"), sample("u2"), {ID: "u3", UserID: "7", Expires: later()}}
		other := session.Session{ID: "o1", UserID: "8", Refresh: "r", Expires: later()}
		for _, x := range append(mine, other) {
			if err := s.Create(ctx, x); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.DeleteUser(ctx, "7"); err != nil {
			t.Fatal(err)
		}
		for _, x := range mine {
			if _, err := s.Get(ctx, x.ID); !errors.Is(err, session.ErrNotFound) {
				t.Errorf("session %s of the user survives DeleteUser: %v", x.ID, err)
			}
		}
		if got, err := s.Get(ctx, "o1"); err != nil || got.UserID != "8" {
			t.Errorf("another user's session: %+v, %v", got, err)
		}
		if err := s.DeleteUser(ctx, "nobody"); err != nil {
			t.Errorf("DeleteUser of a user without sessions: %v", err)
		}
		// A session created after DeleteUser lives.
		if err := s.Create(ctx, sample("u4")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "u4"); err != nil {
			t.Errorf("a session created after DeleteUser: %v", err)
		}
	})

	t.Run("CreateReplaces", func(t *testing.T) {
		s := newStore(t)
		if err := s.Create(ctx, sample("a")); err != nil {
			t.Fatal(err)
		}
		plain := session.Session{ID: "a", UserID: "8", Expires: later()}
		if err := s.Create(ctx, plain); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, "a")
		if err != nil || got.UserID != "8" || got.Staff || got.Refresh != "" {
			t.Errorf("Get = %+v, %v; want the second session", got, err)
		}
	})

	t.Run("Rotate", func(t *testing.T) {
		s := newStore(t)
		if err := s.Create(ctx, sample("a")); err != nil {
			t.Fatal(err)
		}
		exp := later().Add(time.Hour)
		if err := s.Rotate(ctx, "a", "r1", "r2", exp); err != nil {
			t.Fatalf("Rotate r1→r2: %v", err)
		}
		got, err := s.Get(ctx, "a")
		if err != nil || got.Refresh != "r2" || got.Expires.Sub(exp).Abs() > time.Millisecond {
			t.Fatalf("after Rotate: %+v, %v", got, err)
		}
		// Presenting r1 again: reuse; the session is gone.
		if err := s.Rotate(ctx, "a", "r1", "r3", exp); !errors.Is(err, session.ErrReused) {
			t.Fatalf("Rotate with a spent id: %v, want ErrReused", err)
		}
		if _, err := s.Get(ctx, "a"); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("session survives reuse: %v", err)
		}
		if err := s.Rotate(ctx, "a", "r2", "r3", exp); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("Rotate of a deleted session: %v, want ErrNotFound", err)
		}
	})

	t.Run("RotateCookieSession", func(t *testing.T) {
		s := newStore(t)
		if err := s.Create(ctx, session.Session{ID: "c", UserID: "1", Expires: later()}); err != nil {
			t.Fatal(err)
		}
		if err := s.Rotate(ctx, "c", "", "x", later()); !errors.Is(err, session.ErrReused) {
			t.Errorf("Rotate of a session without refresh id: %v, want ErrReused", err)
		}
	})

	t.Run("RotateRace", func(t *testing.T) {
		// Of concurrent rotations of one refresh id, at most one wins; the
		// others see reuse.
		s := newStore(t)
		if err := s.Create(ctx, sample("a")); err != nil {
			t.Fatal(err)
		}
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { errs[i] = s.Rotate(ctx, "a", "r1", session.NewID(), later()) })
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case errors.Is(err, session.ErrReused), errors.Is(err, session.ErrNotFound):
			default:
				t.Errorf("Rotate: %v", err)
			}
		}
		if wins > 1 {
			t.Errorf("%d concurrent rotations of one refresh id won", wins)
		}
		if _, err := s.Get(ctx, "a"); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("after a reuse the session must be gone: %v", err)
		}
	})

	t.Run("Expiry", func(t *testing.T) {
		s := newStore(t)
		sess := sample("e")
		sess.Expires = time.Now().Add(expireAfter)
		if err := s.Create(ctx, sess); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "e"); err != nil {
			t.Fatalf("before expiry: %v", err)
		}
		wait(2 * expireAfter)
		if _, err := s.Get(ctx, "e"); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("after expiry: %v, want ErrNotFound", err)
		}
		if err := s.Rotate(ctx, "e", "r1", "r2", later()); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("Rotate after expiry: %v, want ErrNotFound", err)
		}
		past := sample("p")
		past.Expires = time.Now().Add(-time.Second)
		if err := s.Create(ctx, past); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "p"); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("a session created expired is found: %v", err)
		}
	})

	t.Run("DeleteUserAfterRefresh", func(t *testing.T) {
		// Last: it lets time pass (a fake clock's advance misaligns it
		// with time.Now for the subtests after it). A session refreshed
		// past its first expiry is still one of its user's: DeleteUser
		// ends it. Regression: the user's index in
		// Redis kept the first expiry and was gone by then.
		s := newStore(t)
		short := sample("r1")
		short.Expires = time.Now().Add(expireAfter)
		if err := s.Create(ctx, short); err != nil {
			t.Fatal(err)
		}
		if err := s.Rotate(ctx, "r1", "r1", "r2", later()); err != nil {
			t.Fatal(err)
		}
		wait(2 * expireAfter)
		if _, err := s.Get(ctx, "r1"); err != nil {
			t.Fatalf("the refreshed session after its first expiry: %v", err)
		}
		if err := s.DeleteUser(ctx, "7"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "r1"); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("a refreshed session survives DeleteUser: %v", err)
		}
	})
}
