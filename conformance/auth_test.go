package conformance_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// The auth endpoints of docs/spec.md §8, against the fixture users of §7:
// ada (staff), grace and lin, password username + "-pw".

// tokens is the body of auth/token/ and auth/refresh/.
type tokens struct {
	Access  string `json:"access"`
	Refresh string `json:"refresh"`
}

// wantTokens fails t unless r is 200 with exactly {"access", "refresh"},
// two non-empty strings, and returns them.
func wantTokens(t *testing.T, r response) tokens {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", r.status, r.body)
	}
	if mt := r.mediaType(); mt != "application/json" {
		t.Errorf("Content-Type %q, want application/json", r.header.Get("Content-Type"))
	}
	obj, err := decodeObject(r.body)
	if err != nil {
		t.Fatalf("body %s: %v", r.body, err)
	}
	if keys := sortedKeys(obj); !slices.Equal(keys, []string{"access", "refresh"}) {
		t.Errorf("members %q, want exactly access and refresh", keys)
	}
	var tk tokens
	if err := json.Unmarshal(r.body, &tk); err != nil || tk.Access == "" || tk.Refresh == "" || tk.Access == tk.Refresh {
		t.Fatalf("access and refresh must be two different non-empty strings: %s", r.body)
	}
	return tk
}

// login signs a fixture user in.
func login(t *testing.T, user, password string) response {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": user, "password": password})
	return do(t, http.MethodPost, prefix+"auth/token/", string(body), "Content-Type", "application/json")
}

func refresh(t *testing.T, tok string) response {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"refresh": tok})
	return do(t, http.MethodPost, prefix+"auth/refresh/", string(body), "Content-Type", "application/json")
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

func TestAuthTokenSignsInFixtureUsers(t *testing.T) {
	for _, u := range []struct{ name, id string }{{"ada", "1"}, {"grace", "2"}, {"lin", "3"}} {
		tk := wantTokens(t, login(t, u.name, u.name+"-pw"))
		r := do(t, http.MethodGet, prefix+"ctx/global/", "", bearer(tk.Access)...)
		if r.status != 200 {
			t.Fatalf("%s: ctx/global/ with the access token: %d %s", u.name, r.status, r.body)
		}
		wantJSON(t, u.name+": current_user", r.body, `{"current_user": {"id": `+u.id+`}}`)
		wantResult(t, call(t, "secret", nil, bearer(tk.Access)...), `{"secret": 42}`, `[]`, "")
	}
}

func TestAuthTokenRefusesWrongCredentials(t *testing.T) {
	for _, c := range [][2]string{{"ada", "grace-pw"}, {"ada", "ada-pw "}, {"nobody", "nobody-pw"}, {"ADA", "ada-pw"}} {
		wantError(t, login(t, c[0], c[1]), http.StatusUnauthorized, "unauthorized")
	}
	wantError(t, do(t, http.MethodPost, prefix+"auth/token/", "not json", "Content-Type", "application/json"),
		http.StatusBadRequest, "bad_request")
	wantError(t, do(t, http.MethodGet, prefix+"auth/token/", ""), http.StatusMethodNotAllowed, "method_not_allowed")
}

func TestAuthStaffGuardThroughToken(t *testing.T) {
	ada := wantTokens(t, login(t, "ada", "ada-pw"))
	grace := wantTokens(t, login(t, "grace", "grace-pw"))
	wantResult(t, call(t, "admin_action", nil, bearer(ada.Access)...), `{"ok": true}`, `[]`, "")
	wantError(t, call(t, "admin_action", nil, bearer(grace.Access)...), http.StatusForbidden, "forbidden")
}

func TestAuthRefreshRotatesAndReuseRevokes(t *testing.T) {
	first := wantTokens(t, login(t, "lin", "lin-pw"))
	second := wantTokens(t, refresh(t, first.Refresh))
	if second.Refresh == first.Refresh {
		t.Fatal("auth/refresh/ returned the same refresh token")
	}
	wantResult(t, call(t, "secret", nil, bearer(second.Access)...), `{"secret": 42}`, `[]`, "")
	// The first refresh token is spent: presenting it again revokes the
	// whole session, the new tokens included.
	wantError(t, refresh(t, first.Refresh), http.StatusUnauthorized, "unauthorized")
	wantError(t, call(t, "secret", nil, bearer(second.Access)...), http.StatusUnauthorized, "unauthorized")
	wantError(t, refresh(t, second.Refresh), http.StatusUnauthorized, "unauthorized")
}

func TestAuthLogoutRevokesEveryToken(t *testing.T) {
	tk := wantTokens(t, login(t, "grace", "grace-pw"))
	r := do(t, http.MethodPost, prefix+"auth/logout/", "", bearer(tk.Access)...)
	if r.status != http.StatusOK {
		t.Fatalf("logout: %d %s", r.status, r.body)
	}
	wantError(t, call(t, "secret", nil, bearer(tk.Access)...), http.StatusUnauthorized, "unauthorized")
	wantError(t, do(t, http.MethodGet, prefix+"ctx/global/", "", bearer(tk.Access)...), http.StatusUnauthorized, "unauthorized")
	wantError(t, refresh(t, tk.Refresh), http.StatusUnauthorized, "unauthorized")
	wantError(t, do(t, http.MethodPost, prefix+"auth/logout/", ""), http.StatusUnauthorized, "unauthorized")
}

func TestAuthRefusesForeignTokens(t *testing.T) {
	tk := wantTokens(t, login(t, "grace", "grace-pw"))
	parts := strings.Split(tk.Access, ".")
	if len(parts) != 3 {
		t.Fatalf("the access token is not a compact JWS: %q", tk.Access)
	}
	sig := []byte(parts[2])
	sig[0] ^= 1 // a different signature character
	for name, tok := range map[string]string{
		"refresh token as access": tk.Refresh,
		"bad signature":           parts[0] + "." + parts[1] + "." + string(sig),
		"garbage":                 "not-a-token",
	} {
		t.Run(name, func(t *testing.T) {
			wantError(t, call(t, "secret", nil, bearer(tok)...), http.StatusUnauthorized, "unauthorized")
		})
	}
}

func TestAuthMWT(t *testing.T) {
	tk := wantTokens(t, login(t, "ada", "ada-pw"))
	before := time.Now().Unix()
	r := do(t, http.MethodGet, prefix+"auth/mwt/", "", bearer(tk.Access)...)
	if r.status != http.StatusOK {
		t.Fatalf("auth/mwt/: %d %s", r.status, r.body)
	}
	var m struct {
		Token     string `json:"token"`
		ExpiresAt int64  `json:"expires_at"`
	}
	obj, err := decodeObject(r.body)
	if err != nil || !slices.Equal(sortedKeys(obj), []string{"expires_at", "token"}) || json.Unmarshal(r.body, &m) != nil {
		t.Fatalf("want exactly {token, expires_at}: %s", r.body)
	}
	if m.Token == "" || m.Token == tk.Access {
		t.Errorf("token %q", m.Token)
	}
	// expires_at is Unix seconds, MIZAN_MWT_TTL (300 s by default) ahead.
	if m.ExpiresAt <= before || m.ExpiresAt > time.Now().Unix()+300+5 {
		t.Errorf("expires_at %d, want within 300 s of %d", m.ExpiresAt, before)
	}
	// An MWT is no access token.
	wantError(t, call(t, "secret", nil, bearer(m.Token)...), http.StatusUnauthorized, "unauthorized")
	wantError(t, do(t, http.MethodGet, prefix+"auth/mwt/", ""), http.StatusUnauthorized, "unauthorized")
}
