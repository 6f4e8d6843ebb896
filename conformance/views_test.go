package conformance_test

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const formType = "application/x-www-form-urlencoded"

// TestProfilePage checks the view profile_page: an HTML page with the
// user's name on /profile/{user_id}/.
func TestProfilePage(t *testing.T) {
	r := do(t, http.MethodGet, "/profile/1/", "")
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if mt := r.mediaType(); mt != "text/html" {
		t.Errorf("Content-Type %q, want text/html", r.header.Get("Content-Type"))
	}
	for _, want := range []string{"Ada", "ada@example.com"} {
		if !bytes.Contains(r.body, []byte(want)) {
			t.Errorf("page lacks %q:\n%s", want, r.body)
		}
	}
	wantHeader(t, r, headerInvalidate, "")
	if r := do(t, http.MethodGet, "/profile/2/", ""); !bytes.Contains(r.body, []byte("grace@example.com")) {
		t.Errorf("profile of 2 lacks the email of user 2:\n%s", r.body)
	}

	errs := []struct {
		name   string
		path   string
		status int
		code   string
		fields []string
	}{
		{"unknown user", "/profile/99/", http.StatusNotFound, "not_found", nil},
		{"non-integer id", "/profile/ada/", http.StatusBadRequest, "invalid_args", []string{"user_id"}},
	}
	for _, c := range errs {
		t.Run(c.name, func(t *testing.T) {
			wantError(t, do(t, http.MethodGet, c.path, ""), c.status, c.code, c.fields...)
		})
	}
	if r := do(t, http.MethodGet, "/profile/1/orders", ""); r.status != http.StatusNotFound {
		t.Errorf("GET below the route: status %d, want 404", r.status)
	}
}

// TestUpdateProfileView checks the view mutation update_profile_view: a form
// POST that changes the name and answers 302 to the profile page with the
// invalidation header.
func TestUpdateProfileView(t *testing.T) {
	name := "Lin <Hopper> & co"
	form := url.Values{"name": {name}}.Encode()
	r := do(t, http.MethodPost, "/profile/3/update/", form, "Content-Type", formType)
	if r.status != http.StatusFound {
		t.Fatalf("status %d, want 302: %s", r.status, r.body)
	}
	wantHeader(t, r, "Location", "/profile/3/")
	wantHeader(t, r, headerInvalidate, "user;user_id=3")
	if bytes.Contains(r.body, []byte("invalidate")) {
		t.Errorf("a view mutation carries the targets in its body too: %s", r.body)
	}

	page := do(t, http.MethodGet, "/profile/3/", "")
	if !bytes.Contains(page.body, []byte("Lin &lt;Hopper&gt; &amp; co")) {
		t.Errorf("the page does not show the new name, HTML-escaped:\n%s", page.body)
	}
	if bytes.Contains(page.body, []byte("<Hopper>")) {
		t.Errorf("the page shows the name unescaped:\n%s", page.body)
	}
	ctx := do(t, http.MethodGet, prefix+"ctx/user/?user_id=3", "")
	obj, err := decodeObject(ctx.body)
	if err != nil {
		t.Fatalf("ctx/user/: %v", err)
	}
	wantJSON(t, "user_profile of 3", obj["user_profile"], `{"id": 3, "name": "Lin <Hopper> & co", "email": "lin@example.com"}`)

	t.Run("GET", func(t *testing.T) {
		r := do(t, http.MethodGet, "/profile/3/update/", "")
		wantError(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
		if allow := r.header.Get("Allow"); !strings.Contains(allow, http.MethodPost) {
			t.Errorf("Allow %q does not list POST", allow)
		}
	})
	t.Run("unknown user", func(t *testing.T) {
		r := do(t, http.MethodPost, "/profile/99/update/", "name=X", "Content-Type", formType)
		wantError(t, r, http.StatusNotFound, "not_found")
	})
	t.Run("cross-site", func(t *testing.T) {
		r := do(t, http.MethodPost, "/profile/3/update/", "name=Mallory", "Content-Type", formType, "Sec-Fetch-Site", "cross-site")
		wantError(t, r, http.StatusForbidden, "forbidden")
		if page := do(t, http.MethodGet, "/profile/3/", ""); bytes.Contains(page.body, []byte("Mallory")) {
			t.Errorf("a refused cross-site POST changed the name:\n%s", page.body)
		}
	})
}

// TestStripeWebhook checks the private view mutation stripe_webhook: 200
// with the header subscription on its route, and through call/ a 404
// exactly like a function that does not exist.
func TestStripeWebhook(t *testing.T) {
	r := do(t, http.MethodPost, "/webhooks/stripe/", `{"type": "invoice.paid"}`, "Content-Type", "application/json")
	if r.status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", r.status, r.body)
	}
	wantHeader(t, r, headerInvalidate, "subscription")

	t.Run("GET", func(t *testing.T) {
		wantError(t, do(t, http.MethodGet, "/webhooks/stripe/", ""), http.StatusMethodNotAllowed, "method_not_allowed")
	})
	t.Run("body over 1 MiB", func(t *testing.T) {
		body := `{"type": "` + strings.Repeat("x", 1<<20) + `"}`
		r := do(t, http.MethodPost, "/webhooks/stripe/", body, "Content-Type", "application/json")
		wantError(t, r, http.StatusRequestEntityTooLarge, "payload_too_large")
	})
	t.Run("through call/", func(t *testing.T) {
		const unknown = "stripe_webhooX" // as long as the real name
		priv := call(t, "stripe_webhook", nil)
		none := call(t, unknown, nil)
		wantError(t, priv, http.StatusNotFound, "not_found")
		wantError(t, none, http.StatusNotFound, "not_found")
		if got := bytes.ReplaceAll(priv.body, []byte("stripe_webhook"), []byte(unknown)); !bytes.Equal(got, none.body) {
			t.Errorf("a private function is told apart from an unknown one:\nprivate: %s\nunknown: %s", priv.body, none.body)
		}
	})
}
