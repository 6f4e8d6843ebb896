package oidc_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"golang.org/x/oauth2"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/auth"
	"github.com/mizan-afi/mizan/auth/oidc"
)

// fakeGitHub is a FAKE of GitHub's OAuth2 token endpoint and of its REST
// API's GET /user and /user/emails (github.com cannot be reached from the
// tests): it issues one access token per code, once, checking the client
// and the PKCE verifier against the challenge the authorization URL
// carried.
type fakeGitHub struct {
	srv *httptest.Server

	mu         sync.Mutex
	challenges map[string]string // code → S256 challenge
	emails     []map[string]any
}

func newFakeGitHub(t *testing.T) *fakeGitHub {
	f := &fakeGitHub{challenges: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login/oauth/authorize", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("the fake's authorization page"))
	})
	mux.HandleFunc("POST /login/oauth/access_token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		id, secret, ok := r.BasicAuth()
		if !ok {
			id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		f.mu.Lock()
		challenge, known := f.challenges[r.PostForm.Get("code")]
		delete(f.challenges, r.PostForm.Get("code"))
		f.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		w.Header().Set("Content-Type", "application/json")
		if id != "gh-client" || secret != "gh-secret" || !known || base64.RawURLEncoding.EncodeToString(sum[:]) != challenge {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"bad_verification_code"}`))
			return
		}
		_, _ = w.Write([]byte(`{"access_token":"gho_fake","token_type":"bearer","scope":"read:user,user:email"}`))
	})
	api := func(v func() any) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer gho_fake" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(v())
		}
	}
	mux.HandleFunc("GET /api/user", api(func() any { return map[string]any{"id": 583231, "login": "octocat", "name": "The Octocat"} }))
	mux.HandleFunc("GET /api/user/emails", api(func() any {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.emails
	}))
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// authorize plays GitHub's authorization page: it reads the state and the
// PKCE challenge of the start redirect and returns a code for them.
func (f *fakeGitHub) authorize(t *testing.T, authURL string) (code, state string) {
	t.Helper()
	u, err := url.Parse(authURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Path != "/login/oauth/authorize" || q.Get("client_id") != "gh-client" || q.Get("code_challenge_method") != "S256" || q.Get("scope") != "read:user user:email" {
		t.Fatalf("authorization URL %s", authURL)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	code = "code-" + q.Get("state")[:8]
	f.challenges[code] = q.Get("code_challenge")
	return code, q.Get("state")
}

func TestGitHubFake(t *testing.T) {
	f := newFakeGitHub(t)
	gh, err := oidc.NewGitHub(oidc.GitHubConfig{ClientID: "gh-client", ClientSecret: "gh-secret",
		Endpoint: oauth2.Endpoint{AuthURL: f.srv.URL + "/login/oauth/authorize", TokenURL: f.srv.URL + "/login/oauth/access_token"},
		APIURL:   f.srv.URL + "/api"})
	if err != nil {
		t.Fatal(err)
	}
	app := mizan.New(mizan.Config{Auth: &auth.Config{PrivateKey: testKey}})
	if err := oidc.Mount(app, oidc.Options{Providers: []oidc.Provider{gh}}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app)
	defer srv.Close()

	signIn := func(t *testing.T) *http.Response {
		b := newBrowser(t)
		resp := b.get(t, srv.URL+"/api/mizan/auth/oidc/github/start/?return=/home")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("start led to %s %d", resp.Request.URL, resp.StatusCode)
		}
		code, state := f.authorize(t, resp.Request.URL.String())
		return b.get(t, srv.URL+"/api/mizan/auth/oidc/github/callback/?code="+code+"&state="+url.QueryEscape(state))
	}

	t.Run("primary verified email", func(t *testing.T) {
		f.mu.Lock()
		f.emails = []map[string]any{
			{"email": "octocat@users.noreply.github.com", "primary": false, "verified": true},
			{"email": "Octocat@Example.com", "primary": true, "verified": true},
		}
		f.mu.Unlock()
		refresh := refreshFrom(t, signIn(t), "/home")
		pair, err := app.Auth().Refresh(context.Background(), refresh)
		if err != nil {
			t.Fatal(err)
		}
		p, err := app.Auth().Verify(context.Background(), pair.Access)
		if err != nil || p.ID != "octocat@example.com" {
			t.Fatalf("signed in as %+v, %v; want octocat@example.com", p, err)
		}
	})
	t.Run("unverified primary email", func(t *testing.T) {
		f.mu.Lock()
		f.emails = []map[string]any{{"email": "octocat@example.com", "primary": true, "verified": false}}
		f.mu.Unlock()
		wantError(t, signIn(t), http.StatusUnauthorized, "unauthorized", "not verified this email address")
	})
	t.Run("code refused", func(t *testing.T) {
		b := newBrowser(t)
		resp := b.get(t, srv.URL+"/api/mizan/auth/oidc/github/start/")
		_, state := f.authorize(t, resp.Request.URL.String())
		wantError(t, b.get(t, srv.URL+"/api/mizan/auth/oidc/github/callback/?code=forged&state="+url.QueryEscape(state)),
			http.StatusUnauthorized, "unauthorized", "GitHub refused the code")
	})
}

func TestGitHubIdentity(t *testing.T) {
	f := newFakeGitHub(t)
	var got oidc.Identity
	gh, err := oidc.NewGitHub(oidc.GitHubConfig{Name: "gh", ClientID: "gh-client", ClientSecret: "gh-secret",
		Endpoint: oauth2.Endpoint{AuthURL: f.srv.URL + "/login/oauth/authorize", TokenURL: f.srv.URL + "/login/oauth/access_token"},
		APIURL:   f.srv.URL + "/api/"})
	if err != nil {
		t.Fatal(err)
	}
	f.emails = []map[string]any{{"email": "a@example.com", "primary": false, "verified": true}, {"email": "b@example.com", "primary": true, "verified": false}}
	authURL, err := gh.AuthCodeURL(context.Background(), oidc.AuthRequest{State: "state-0123456789", Verifier: "v-0123456789-0123456789-0123456789-0123456", RedirectURL: "http://app/cb"})
	if err != nil {
		t.Fatal(err)
	}
	code, _ := f.authorize(t, authURL)
	if got, err = gh.Exchange(context.Background(), oidc.Exchange{Code: code, Verifier: "v-0123456789-0123456789-0123456789-0123456", RedirectURL: "http://app/cb"}); err != nil {
		t.Fatal(err)
	}
	// The primary address is unverified: the first verified one is taken.
	if got.Provider != "gh" || got.Subject != "583231" || got.Username != "octocat" || got.Name != "The Octocat" || got.Email != "a@example.com" || !got.EmailVerified {
		t.Fatalf("identity %+v", got)
	}
	// The verifier is checked: a wrong one is refused.
	code, _ = f.authorize(t, authURL)
	if _, err := gh.Exchange(context.Background(), oidc.Exchange{Code: code, Verifier: "wrong", RedirectURL: "http://app/cb"}); err == nil {
		t.Fatal("a wrong PKCE verifier was accepted")
	}
}
