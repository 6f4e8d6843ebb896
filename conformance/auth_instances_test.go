package conformance_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/mizan-afi/mizan/internal/redistest"
)

// twoInstances starts two fixture processes with one JWT key and their
// sessions and sign-in limits in one real Redis (MIZAN_SESSION_REDIS_URL),
// as two instances of an app behind a load balancer; extraEnv is added to
// both.
func twoInstances(t *testing.T, extraEnv ...string) (a, b *fixtureProc) {
	t.Helper()
	needProcess(t)
	r := redistest.Start(t)
	env := append([]string{
		"JWT_PRIVATE_KEY=conformance-jwt-key-shared-0123456789abcdef",
		"MIZAN_SESSION_REDIS_URL=" + r.URL(),
		"MIZAN_CACHE_REDIS_URL=", "MIZAN_PUBSUB_REDIS_URL=", "MIZAN_CACHE_SECRET=",
	}, extraEnv...)
	var procs [2]*fixtureProc
	for i := range procs {
		p, err := startFixtureEnv(server.bin, env, "-addr", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := p.stop(); err != nil {
				t.Errorf("fixture at %s: %v\nstderr:\n%s", p.url, err, p.stderr.String())
			}
		})
		procs[i] = p
	}
	return procs[0], procs[1]
}

// loginAt signs user in at base with password.
func loginAt(t *testing.T, base, user, password string) response {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": user, "password": password})
	return doAt(t, base, http.MethodPost, prefix+"auth/token/", string(body), jsonBody...)
}

// TestLogoutEverywhereAcrossInstances: grace signs in on both instances
// (three sessions); auth/logout/ with {"everywhere": true} on one of them
// ends all three at once, on both instances (access and refresh tokens),
// and leaves ada's session alone (docs/spec.md §8).
func TestLogoutEverywhereAcrossInstances(t *testing.T) {
	a, b := twoInstances(t)
	g1 := wantTokens(t, loginAt(t, a.url, "grace", "grace-pw"))
	g2 := wantTokens(t, loginAt(t, b.url, "grace", "grace-pw"))
	g3 := wantTokens(t, loginAt(t, a.url, "grace", "grace-pw"))
	ada := wantTokens(t, loginAt(t, b.url, "ada", "ada-pw"))
	secret := func(base, tok string) response {
		return doAt(t, base, http.MethodPost, prefix+"call/", `{"fn":"secret"}`, with(jsonBody, bearer(tok)...)...)
	}
	for _, base := range []string{a.url, b.url} {
		for _, tk := range []tokens{g1, g2, g3, ada} {
			if r := secret(base, tk.Access); r.status != 200 {
				t.Fatalf("before: a token on %s: %d %s", base, r.status, r.body)
			}
		}
	}
	r := doAt(t, b.url, http.MethodPost, prefix+"auth/logout/", `{"everywhere": true}`, with(jsonBody, bearer(g2.Access)...)...)
	if r.status != 200 || strings.TrimSpace(string(r.body)) != `{"ok":true}` {
		t.Fatalf("logout everywhere: %d %s", r.status, r.body)
	}
	for _, base := range []string{a.url, b.url} {
		for i, tk := range []tokens{g1, g2, g3} {
			wantError(t, secret(base, tk.Access), http.StatusUnauthorized, "unauthorized")
			rr := doAt(t, base, http.MethodPost, prefix+"auth/refresh/", `{"refresh":"`+tk.Refresh+`"}`, jsonBody...)
			if rr.status != http.StatusUnauthorized {
				t.Errorf("grace's refresh token %d on %s after logout everywhere: %d %s", i+1, base, rr.status, rr.body)
			}
		}
		if r := secret(base, ada.Access); r.status != 200 {
			t.Errorf("ada's session on %s after grace's logout everywhere: %d %s", base, r.status, r.body)
		}
	}
	// Signing in again works, on either instance.
	wantTokens(t, loginAt(t, a.url, "grace", "grace-pw"))
}

// TestTokenLimitSharedAcrossInstances: failed sign-ins for one username
// count on every instance together (the limits are in Redis): after the
// failures allowed, spread over both instances, either answers 429
// rate_limited with Retry-After, even to the right password, while
// another username still signs in.
func TestTokenLimitSharedAcrossInstances(t *testing.T) {
	a, b := twoInstances(t, "MIZAN_AUTH_LIMIT_USER=4/1h", "MIZAN_AUTH_LIMIT_ADDRESS=100/1h")
	for i := range 4 {
		base := a.url
		if i%2 == 1 {
			base = b.url
		}
		wantError(t, loginAt(t, base, "lin", "guess-"+strconv.Itoa(i)), http.StatusUnauthorized, "unauthorized")
	}
	for _, base := range []string{a.url, b.url} {
		r := loginAt(t, base, "lin", "lin-pw")
		wantError(t, r, http.StatusTooManyRequests, "rate_limited")
		if secs, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || secs < 1 || secs > 900 {
			t.Errorf("Retry-After %q on %s; one attempt comes back every 15 minutes", r.header.Get("Retry-After"), base)
		}
	}
	wantTokens(t, loginAt(t, b.url, "grace", "grace-pw"))
}
