package ssr_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/ssr"
)

type renameForm struct {
	ProjectID int    `json:"project_id" validate:"required"`
	Name      string `json:"name" validate:"required,min=3,max=40"`
}

// TestFormRenderer checks a form whose HTML is a server-rendered page:
// GET on the form's route and an invalid post answer with the page of the
// project, rendered with the project's data and the form's state (the
// values posted and the errors beside their field).
func TestFormRenderer(t *testing.T) {
	requireBun(t)
	app := mizan.New(mizan.Config{Logger: quiet})
	names := map[int]string{1: "Apollo"}
	mizan.Query(app, func(_ context.Context, in projectArgs) (map[string]any, error) {
		if names[in.ProjectID] == "" {
			return nil, mizan.Errorf(mizan.CodeNotFound, "no project %d", in.ProjectID)
		}
		return map[string]any{"id": in.ProjectID, "name": names[in.ProjectID]}, nil
	}, mizan.In(project), mizan.Name("project_info"))
	r, err := ssr.New(ssr.Config{Dirs: []string{"testdata/components"}, Workers: 1, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	pages, err := ssr.NewPages(app, r, ssr.PagesConfig{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	pages.Page("/projects/{project_id}/", "FormPage.tsx", project)
	mizan.Form(app, func(_ context.Context, in renameForm) (bool, error) { return true, nil },
		mizan.Name("rename"), mizan.Affects(project), mizan.Route("/projects/{project_id}/rename/"),
		mizan.Success("/projects/{project_id}/"), mizan.WithFormRenderer(pages.FormRenderer("/projects/{project_id}/")))
	if err := app.Build(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = pages.Close(ctx)
		_ = r.Close(ctx)
	})

	post := func(name string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/projects/1/rename/", strings.NewReader(url.Values{"name": {name}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		app.ServeHTTP(w, req)
		return w
	}
	w := post("<b")
	body := w.Body.String()
	if w.Code != http.StatusUnprocessableEntity {
		t.Fatalf("invalid post: %d %s", w.Code, body)
	}
	for _, want := range []string{`Apollo`, `<p class="error">Use at least 3 characters.</p>`, `value="&lt;b"`, `<p id="status">422</p>`, `<!DOCTYPE html>`} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q:\n%s", want, body)
		}
	}
	// The prop is embedded for hydration, beside params: the browser's
	// first render can show the same errors (readInitialData("mizan-props")).
	props := regexp.MustCompile(`<script type="application/json" id="mizan-props">(.*?)</script>`).FindStringSubmatch(body)
	if props == nil {
		t.Fatalf("the page embeds no props:\n%s", body)
	}
	var embedded struct {
		Form   ssr.FormProps     `json:"form"`
		Params map[string]string `json:"params"`
	}
	if err := json.Unmarshal([]byte(props[1]), &embedded); err != nil {
		t.Fatalf("the props script: %v", err)
	}
	if f := embedded.Form; f.Name != "rename" || f.Status != 422 || f.Values["name"] != "<b" ||
		len(f.Errors["name"]) != 1 || f.Errors["name"][0] != "Use at least 3 characters." || embedded.Params["project_id"] != "1" {
		t.Errorf("embedded props: %+v", embedded)
	}
	req := httptest.NewRequest(http.MethodGet, "/projects/1/rename/", nil)
	w = httptest.NewRecorder()
	app.ServeHTTP(w, req)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `<p id="status">200</p>`) {
		t.Errorf("GET: %d %s", w.Code, w.Body.String())
	}
	// A page the form's route names but whose data does not exist: the
	// page's error (404 here), not a 500 of the renderer; for a post too
	// (invalid, so the page is rendered again).
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		req := httptest.NewRequest(method, "/projects/9/rename/", strings.NewReader("name=ab")) // invalid: the page is rendered
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		app.ServeHTTP(w, req)
		if w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), `"code":"not_found"`) {
			t.Errorf("%s of a missing project's form = %d %s", method, w.Code, w.Body.String())
		}
	}
	if w := post("Artemis"); w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/projects/1/" {
		t.Errorf("valid post: %d %v", w.Code, w.Header())
	}
}
