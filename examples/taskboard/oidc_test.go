package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
)

// opUsers are the test OpenID Provider's users: ada and grace are demo
// users, eve's address is unverified, stranger has no taskboard account.
type opUsers map[string]*storage.User

func (u opUsers) GetUserByID(id string) *storage.User { return u[id] }
func (u opUsers) GetUserByUsername(name string) *storage.User {
	for _, x := range u {
		if x.Username == name {
			return x
		}
	}
	return nil
}
func (u opUsers) ExampleClientID() string { return "service" }

// lateHandler is a handler set once its server's URL is known.
type lateHandler struct{ h http.Handler }

func (l *lateHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) { l.h.ServeHTTP(w, r) }

var loginID = regexp.MustCompile(`name="id" value="([^"]+)"`)

func TestOIDCSignIn(t *testing.T) {
	late := &lateHandler{}
	op := httptest.NewServer(late)
	defer op.Close()
	clients := map[string]*storage.Client{}
	users := opUsers{
		"1": {ID: "1", Username: "ada", Password: "pw", FirstName: "Ada", Email: "ADA@example.com", EmailVerified: true},
		"2": {ID: "2", Username: "grace", Password: "pw", FirstName: "Grace", Email: "grace@example.com", EmailVerified: true},
		"3": {ID: "3", Username: "eve", Password: "pw", FirstName: "Eve", Email: "alan@example.com", EmailVerified: false},
		"4": {ID: "4", Username: "stranger", Password: "pw", FirstName: "Sam", Email: "sam@example.org", EmailVerified: true},
	}
	late.h = exampleop.SetupServer(op.URL, storage.NewStorageWithClients(users, clients), nil, false)

	t.Setenv(envOIDCIssuer, op.URL)
	t.Setenv(envOIDCClientID, "taskboard")
	t.Setenv(envOIDCSecret, "tb-secret")
	t.Setenv(envOIDCName, "devidp")
	t.Setenv(envOIDCDisplayName, "Dev IdP")
	srv := newTestServer(t, nil)
	clients["taskboard"] = storage.WebClient("taskboard", "tb-secret", srv.URL+"/api/mizan/auth/oidc/devidp/callback/")

	anon := newClient(t, srv)
	r := anon.do("GET", "/api/mizan/auth/oidc/", "", "")
	var list struct {
		Providers []struct {
			Name        string `json:"name"`
			DisplayName string `json:"display_name"`
			Start       string `json:"start"`
		} `json:"providers"`
	}
	if err := json.Unmarshal(r.body, &list); err != nil || len(list.Providers) != 1 {
		t.Fatalf("auth/oidc/: %d %s", r.status, r.body)
	}
	if p := list.Providers[0]; p.Name != "devidp" || p.DisplayName != "Dev IdP" || p.Start != "/api/mizan/auth/oidc/devidp/start/" {
		t.Fatalf("provider %+v", p)
	}

	// signIn goes through the OP's login form as username and returns
	// the callback's answer.
	signIn := func(t *testing.T, username string) *http.Response {
		t.Helper()
		jar, _ := cookiejar.New(nil)
		hc := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if strings.Contains(req.URL.Path, "/callback/") || strings.Contains(via[0].URL.Path, "/callback/") {
				return http.ErrUseLastResponse
			}
			return nil
		}}
		resp, err := hc.Get(srv.URL + "/api/mizan/auth/oidc/devidp/start/?return=/")
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := loginID.FindSubmatch(page)
		if m == nil {
			t.Fatalf("no login form at %s: %s", resp.Request.URL, page)
		}
		resp, err = hc.PostForm(resp.Request.URL.String(), url.Values{"id": {string(m[1])}, "username": {username}, "password": {"pw"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("login as %s: %d", username, resp.StatusCode)
		}
		resp, err = hc.Get(resp.Header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}

	resp := signIn(t, "ada")
	frag, ok := strings.CutPrefix(resp.Header.Get("Location"), "/#mizan_refresh=")
	if resp.StatusCode != http.StatusSeeOther || !ok {
		t.Fatalf("callback: %d to %q, want 303 to /#mizan_refresh=...", resp.StatusCode, resp.Header.Get("Location"))
	}
	refresh, _ := url.QueryUnescape(frag)
	c := newClient(t, srv)
	body, _ := json.Marshal(map[string]string{"refresh": refresh})
	r = c.do("POST", "/api/mizan/auth/refresh/", "application/json", string(body))
	var pair struct{ Access, Refresh string }
	if err := json.Unmarshal(r.body, &pair); r.status != http.StatusOK || err != nil || pair.Access == "" {
		t.Fatalf("auth/refresh/ with the fragment's token: %d %s", r.status, r.body)
	}
	c.access = pair.Access
	var global struct {
		CurrentUser *User `json:"current_user"`
	}
	c.fetch("global", "", &global)
	if global.CurrentUser == nil || global.CurrentUser.ID != 1 || global.CurrentUser.Name != "Ada Lovelace" || !global.CurrentUser.Staff {
		t.Fatalf("signed in as %+v, want Ada Lovelace (1, staff)", global.CurrentUser)
	}

	for username, msg := range map[string]string{
		"eve":      "not verified your email address",
		"stranger": "no taskboard account has this email address",
	} {
		resp := signIn(t, username)
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(b), msg) {
			t.Errorf("%s: %d %s, want 401 %q", username, resp.StatusCode, b, msg)
		}
	}
}

func TestOIDCOffWithoutIssuer(t *testing.T) {
	t.Setenv(envOIDCIssuer, "")
	c := newClient(t, newTestServer(t, nil))
	if r := c.do("GET", "/api/mizan/auth/oidc/", "", ""); r.status != http.StatusOK || strings.TrimSpace(string(r.body)) != `{"providers":[]}` {
		t.Fatalf("auth/oidc/ without %s: %d %s, want no providers", envOIDCIssuer, r.status, r.body)
	}
	if r := c.do("GET", "/api/mizan/auth/oidc/oidc/start/", "", ""); r.status != http.StatusNotFound {
		t.Fatalf("a start without %s: %d %s, want 404", envOIDCIssuer, r.status, r.body)
	}
}
