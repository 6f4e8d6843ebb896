package mizan_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/auth"
	"github.com/mizan-afi/mizan/ratelimit"
)

// tokenFrom posts a sign-in to auth/token/ from the client address addr,
// straight to the app (httptest's server would make every client
// 127.0.0.1).
func (e *authEnv) tokenFrom(t *testing.T, addr, user, password string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/api/mizan/auth/token/",
		strings.NewReader(`{"username":"`+user+`","password":"`+password+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = addr + ":40000"
	w := httptest.NewRecorder()
	e.app.ServeHTTP(w, req)
	return w
}

// wantLimited fails unless w is 429 rate_limited with a Retry-After of a
// positive number of seconds, and returns it.
func wantLimited(t *testing.T, w *httptest.ResponseRecorder) int {
	t.Helper()
	if w.Code != http.StatusTooManyRequests || !strings.Contains(w.Body.String(), `"code":"rate_limited"`) {
		t.Fatalf("want 429 rate_limited, got %d %s", w.Code, w.Body)
	}
	secs, err := strconv.Atoi(w.Header().Get("Retry-After"))
	if err != nil || secs < 1 {
		t.Fatalf("Retry-After %q on a 429", w.Header().Get("Retry-After"))
	}
	return secs
}

var smallLimits = auth.Limits{
	PerUser:    ratelimit.Limit{Rate: 3, Period: 3 * time.Minute, Burst: 3},
	PerAddress: ratelimit.Limit{Rate: 5, Period: 5 * time.Minute, Burst: 5},
}

// TestTokenLimitPerUser: failures for one username from many addresses
// lock that username (even with the right password, until Retry-After),
// not another; the lock ends as the attempts come back.
func TestTokenLimitPerUser(t *testing.T) {
	e := newAuthApp(t, auth.Config{Limits: smallLimits})
	e.app.Auth() // built
	for i := range 3 {
		w := e.tokenFrom(t, "10.0.0."+strconv.Itoa(i+1), "grace", "wrong")
		if w.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d %s", i+1, w.Code, w.Body)
		}
	}
	secs := wantLimited(t, e.tokenFrom(t, "10.0.0.9", "grace", "grace-pw"))
	if secs > 60 {
		t.Errorf("Retry-After %d s; one attempt comes back each minute", secs)
	}
	if w := e.tokenFrom(t, "10.0.0.9", "ada", "ada-pw"); w.Code != http.StatusOK {
		t.Errorf("another username from the same address: %d %s", w.Code, w.Body)
	}
	// The username is compared as the check would see it: case and spaces
	// do not make a new budget.
	wantLimited(t, e.tokenFrom(t, "10.0.0.9", " GRACE ", "grace-pw"))
	e.clock.advance(time.Minute)
	if w := e.tokenFrom(t, "10.0.0.9", "grace", "grace-pw"); w.Code != http.StatusOK {
		t.Errorf("a minute later: %d %s", w.Code, w.Body)
	}
}

// TestTokenLimitPerAddress: one address failing on many usernames is
// refused for all of them; another address is not; a success from another
// address does not reset the count of the attacking one.
func TestTokenLimitPerAddress(t *testing.T) {
	e := newAuthApp(t, auth.Config{Limits: smallLimits})
	for i := range 5 {
		w := e.tokenFrom(t, "192.0.2.7", "user"+strconv.Itoa(i), "guess")
		if w.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d %s", i+1, w.Code, w.Body)
		}
	}
	wantLimited(t, e.tokenFrom(t, "192.0.2.7", "ada", "ada-pw"))
	if w := e.tokenFrom(t, "192.0.2.8", "ada", "ada-pw"); w.Code != http.StatusOK {
		t.Fatalf("ada from another address: %d %s", w.Code, w.Body)
	}
	wantLimited(t, e.tokenFrom(t, "192.0.2.7", "grace", "grace-pw"))
	// Successes count nothing: ada signing in again and again from a third
	// address is never limited.
	for i := range 10 {
		if w := e.tokenFrom(t, "192.0.2.9", "ada", "ada-pw"); w.Code != http.StatusOK {
			t.Fatalf("success %d: %d %s", i+1, w.Code, w.Body)
		}
	}
}

// TestTokenSameAnswerForUnknownUserAndWrongPassword: the status, code and
// message do not tell whether the username exists, and both count as a
// failure.
func TestTokenSameAnswerForUnknownUserAndWrongPassword(t *testing.T) {
	e := newAuthApp(t, auth.Config{Limits: smallLimits})
	unknown := e.tokenFrom(t, "198.51.100.1", "nobody", "x")
	wrong := e.tokenFrom(t, "198.51.100.2", "grace", "x")
	if unknown.Code != 401 || wrong.Code != 401 || unknown.Body.String() != wrong.Body.String() {
		t.Fatalf("unknown user: %d %s; wrong password: %d %s", unknown.Code, unknown.Body, wrong.Code, wrong.Body)
	}
	if !strings.Contains(wrong.Body.String(), "wrong username or password") {
		t.Errorf("message %s", wrong.Body)
	}
	for range 2 {
		e.tokenFrom(t, "198.51.100.1", "nobody", "x")
	}
	wantLimited(t, e.tokenFrom(t, "198.51.100.3", "nobody", "x"))
}

// TestTokenLimitHoldsUnderParallelAttempts: a burst of parallel guesses
// gets no more password checks than the limit allows (each attempt is
// counted before it is checked), and the rest are refused with 429.
// Regression: failures were counted after the check, so 200 parallel
// requests all passed the limit.
func TestTokenLimitHoldsUnderParallelAttempts(t *testing.T) {
	var checks atomic.Int32
	slow := func(ctx context.Context, username, password string) (*auth.User, error) {
		checks.Add(1)
		time.Sleep(20 * time.Millisecond) // an argon2id hash
		return checkPassword(ctx, username, password)
	}
	e := newAuthApp(t, auth.Config{Limits: smallLimits, Credentials: slow})
	var wg sync.WaitGroup
	var limited atomic.Int32
	for range 40 {
		wg.Go(func() {
			if w := e.tokenFrom(t, "10.9.9.9", "grace", "guess"); w.Code == http.StatusTooManyRequests {
				limited.Add(1)
			}
		})
	}
	wg.Wait()
	if n := checks.Load(); n > int32(smallLimits.PerUser.Burst) {
		t.Fatalf("%d password checks for 40 parallel guesses; the limit allows %d", n, smallLimits.PerUser.Burst)
	}
	if limited.Load() != 40-checks.Load() {
		t.Fatalf("%d answered 429, %d checked, of 40", limited.Load(), checks.Load())
	}
}

// TestTokenLimitsOff: Limits.Off lets every failure through to the check.
func TestTokenLimitsOff(t *testing.T) {
	e := newAuthApp(t, auth.Config{Limits: auth.Limits{Off: true}})
	for i := range 50 {
		if w := e.tokenFrom(t, "203.0.113.1", "grace", "wrong"); w.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d with limits off: %d %s", i+1, w.Code, w.Body)
		}
	}
}

// TestRateLimitedErrorFromAFunction: a function that checks a password
// itself (a sign-in form) with CheckCredentials answers 429 rate_limited
// with Retry-After once the limits are spent, through call/ as through
// auth/token/, and shares their budget.
func TestRateLimitedErrorFromAFunction(t *testing.T) {
	app := mizan.New(mizan.Config{Auth: &auth.Config{PrivateKey: jwtKey, Credentials: checkPassword, Limits: smallLimits}})
	mizan.Mutation(app, func(ctx context.Context, in struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}) (ok, error) {
		_, err := app.Auth().CheckCredentials(ctx, auth.ClientAddress(mizan.Request(ctx)), in.Username, in.Password)
		if errors.Is(err, auth.ErrBadCredentials) {
			return ok{}, mizan.NewError(mizan.CodeUnauthorized, "wrong username or password")
		}
		return ok{err == nil}, err
	}, mizan.Name("form_sign_in"))
	if err := app.Build(); err != nil {
		t.Fatal(err)
	}
	post := func(path, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = "192.0.2.50:1234"
		w := httptest.NewRecorder()
		app.ServeHTTP(w, req)
		return w
	}
	call := func(pw string) *httptest.ResponseRecorder {
		return post("/api/mizan/call/", `{"fn":"form_sign_in","args":{"username":"grace","password":"`+pw+`"}}`)
	}
	for i := range 2 {
		if w := call("wrong"); w.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d %s", i+1, w.Code, w.Body)
		}
	}
	// The third failure, through auth/token/: one budget.
	if w := post("/api/mizan/auth/token/", `{"username":"grace","password":"wrong"}`); w.Code != http.StatusUnauthorized {
		t.Fatalf("auth/token/ failure: %d %s", w.Code, w.Body)
	}
	wantLimited(t, call("grace-pw"))
	wantLimited(t, post("/api/mizan/auth/token/", `{"username":"grace","password":"grace-pw"}`))
}

// TestBareErrRateLimited: a function returning auth.ErrRateLimited itself
// (wrapped or not) is answered 429 with a Retry-After, not 500.
func TestBareErrRateLimited(t *testing.T) {
	app := mizan.New(mizan.Config{})
	mizan.Mutation(app, func(context.Context, struct{}) (ok, error) {
		return ok{}, fmt.Errorf("my own limiter: %w", auth.ErrRateLimited)
	}, mizan.Name("limited"))
	if err := app.Build(); err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/api/mizan/call/", strings.NewReader(`{"fn":"limited"}`))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	app.ServeHTTP(w, req)
	if secs := wantLimited(t, w); secs != 60 {
		t.Errorf("Retry-After %d, want the default 60", secs)
	}
}

// TestLogoutEverywhere: {"everywhere": true} ends every session of the
// caller (token and cookie sessions), not another user's; without it,
// only the caller's session; a malformed body is a 400 that ends nothing.
func TestLogoutEverywhere(t *testing.T) {
	e := newAuthApp(t, auth.Config{})
	a, b, c := e.login(t, "grace"), e.login(t, "grace"), e.login(t, "grace")
	other := e.login(t, "ada")
	cookieRes := e.call(t, "sign_in", map[string]string{"id": "2"}) // grace's id
	cookie := strings.SplitN(cookieRes.header.Get("Set-Cookie"), ";", 2)[0]
	if !strings.HasPrefix(cookie, "mizan_session=") {
		t.Fatalf("no cookie session: %s", cookieRes.raw)
	}
	for _, body := range []string{`{"everywhere": "yes"}`, `{"everywhere": true, "x": 1}`, `[true]`, `{"everywhere": true`} {
		wantErr(t, e.do(t, http.MethodPost, "/api/mizan/auth/logout/", body, bearer(a.Access)...), 400, "bad_request")
	}
	if r := e.call(t, "secret", nil, bearer(a.Access)...); r.status != 200 {
		t.Fatalf("a refused logout ended the session: %d %s", r.status, r.raw)
	}
	// Plain logout: that session only.
	if r := e.do(t, http.MethodPost, "/api/mizan/auth/logout/", `{"everywhere": false}`, bearer(c.Access)...); r.status != 200 {
		t.Fatalf("logout: %d %s", r.status, r.raw)
	}
	if r := e.call(t, "secret", nil, bearer(b.Access)...); r.status != 200 {
		t.Fatalf("another session after a plain logout: %d %s", r.status, r.raw)
	}
	r := e.do(t, http.MethodPost, "/api/mizan/auth/logout/", `{"everywhere": true}`, bearer(a.Access)...)
	if r.status != 200 || r.raw != `{"ok":true}` {
		t.Fatalf("logout everywhere: %d %s", r.status, r.raw)
	}
	for name, p := range map[string]auth.Pair{"the caller's": a, "another of grace's": b} {
		wantErr(t, e.call(t, "secret", nil, bearer(p.Access)...), 401, "unauthorized")
		if r := e.do(t, http.MethodPost, "/api/mizan/auth/refresh/", `{"refresh":"`+p.Refresh+`"}`); r.status != 401 {
			t.Errorf("%s refresh token after logout everywhere: %d %s", name, r.status, r.raw)
		}
	}
	if r := e.do(t, http.MethodGet, "/api/mizan/ctx/global/", "", "Cookie", cookie); r.raw != `{"whoami":null}` {
		t.Errorf("grace's cookie session after logout everywhere: %s", r.raw)
	}
	if r := e.call(t, "secret", nil, bearer(other.Access)...); r.status != 200 {
		t.Errorf("ada's session after grace's logout everywhere: %d %s", r.status, r.raw)
	}
}
