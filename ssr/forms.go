package ssr

import (
	"fmt"
	"io"

	"github.com/mizan-afi/mizan"
)

// FormProps is the "form" prop of a page that [Pages.FormRenderer]
// renders: the state of one form on the page (docs/forms.md).
type FormProps struct {
	// Name is the form's name.
	Name string `json:"name"`
	// Values are the values posted, by key ("title", "tasks.0.state").
	Values map[string]string `json:"values"`
	// Errors are the messages of the failing fields, by key.
	Errors map[string][]string `json:"errors"`
	// FormErrors are the errors of the whole form.
	FormErrors []string `json:"form_errors"`
	// Status is the status the page is sent with (422 for an invalid post).
	Status int `json:"status"`
}

// FormRenderer returns a [mizan.FormRenderer] that answers a form's GET and
// its invalid posts with a page of ps: the route with pattern, rendered for
// the caller as a request of the page would be (its contexts fetched with
// the path values of the form's request, so the form's route must have the
// page's wildcards), its component given, beside params and initialData,
// the prop "form" ([FormProps]). The page component shows the form's
// errors beside its fields from that prop; in the browser it hydrates as
// usual. Use it with [mizan.WithFormRenderer] for pages that work without
// JavaScript. It renders the whole page for htmx requests too. Call it
// after the route is handled.
func (ps *Pages) FormRenderer(pattern string) mizan.FormRenderer {
	return mizan.FormRendererFunc(func(w io.Writer, page *mizan.FormPage) error {
		rt := ps.route(pattern)
		if rt == nil {
			return fmt.Errorf("ssr: FormRenderer: no page route %q", pattern)
		}
		if err := ps.init(); err != nil {
			return err
		}
		r := page.Request
		values := make(map[string]string, len(rt.params))
		for _, name := range rt.params {
			values[name] = r.PathValue(name)
		}
		form := FormProps{Name: page.Form.Name, Values: page.Values, Errors: page.Errors, FormErrors: page.FormErrors, Status: page.Status}
		if form.Values == nil {
			form.Values = map[string]string{}
		}
		if form.Errors == nil {
			form.Errors = map[string][]string{}
		}
		ps.dynamic.Add(1)
		res, err := ps.renderPageWith(r.Context(), rt, values, nil, map[string]any{"form": form})
		if err != nil {
			return err
		}
		_, err = w.Write(res.html)
		return err
	})
}

// route returns the route with pattern, nil when none.
func (ps *Pages) route(pattern string) *route {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for _, rt := range ps.routes {
		if rt.Pattern == pattern {
			return rt
		}
	}
	return nil
}
