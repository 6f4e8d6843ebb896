package mizan

import (
	"bytes"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/mizan-afi/mizan/ir"
)

// A form's view path (docs/spec.md §10, docs/forms.md "Without JavaScript
// and with htmx"): GET <route> renders the form; POST <route> takes an
// HTML post, answers an invalid one with 422 and the form again, its
// errors beside their fields, and a valid one with 303 See Other to the
// success location, carrying X-Mizan-Invalidate (and HX-Trigger for htmx).
// As for any view, a cross-origin post is refused (net/http's
// CrossOriginProtection) and the form's guard applies.

// FormRenderer renders a form's HTML: what GET on its route answers with,
// and the answer to an invalid post.
type FormRenderer interface {
	RenderForm(w io.Writer, page *FormPage) error
}

// FormRendererFunc adapts a function to [FormRenderer].
type FormRendererFunc func(w io.Writer, page *FormPage) error

// RenderForm calls f(w, page).
func (f FormRendererFunc) RenderForm(w io.Writer, page *FormPage) error { return f(w, page) }

// FormPage is what a [FormRenderer] renders.
type FormPage struct {
	// Form is the form's schema: its fields in declaration order.
	Form ir.FormDef
	// Action is the path the form posts to: the request's path.
	Action string
	// Values are the values posted, by key ("name", "lines.0.sku"); empty
	// for GET.
	Values map[string]string
	// Errors are the messages of the failing fields, by key ("lines" for
	// a formset itself, "lines.0.sku" for a row's field).
	Errors map[string][]string
	// FormErrors are errors of the whole form: the message of an error the
	// submit function returned that names no field.
	FormErrors []string
	// Rows is how many rows to render for each formset: the rows posted
	// plus one blank row below the formset's max, and at least its min.
	Rows map[string]int
	// HTMX reports an htmx request (HX-Request: true), which swaps the
	// answer into the page: a fragment, not a document, is expected.
	HTMX bool
	// Status is the status the page is sent with: 200 for GET, 422 for an
	// invalid post, or the status of the submit function's own error.
	Status int
	// Request is the request being answered.
	Request *http.Request
}

// Value returns the value posted for key.
func (p *FormPage) Value(key string) string { return p.Values[key] }

// Error returns the messages of key.
func (p *FormPage) Error(key string) []string { return p.Errors[key] }

// RowKeys returns the keys of the rows to render for the formset name:
// "lines.0", "lines.1", ...
func (p *FormPage) RowKeys(name string) []string {
	n := p.Rows[name]
	out := make([]string, n)
	for i := range out {
		out[i] = name + "." + strconv.Itoa(i)
	}
	return out
}

// FormTemplate returns a [FormRenderer] that executes t with the
// *[FormPage].
func FormTemplate(t *template.Template) FormRenderer {
	return FormRendererFunc(func(w io.Writer, page *FormPage) error { return t.Execute(w, page) })
}

// DefaultFormRenderer renders a form as plain, accessible HTML: a <form>
// with a labelled input per field (a <select> for choices, a <textarea>
// for widget "textarea", a checkbox for a bool), native constraints
// (required, min and max for numbers, type email and url), each field's
// errors in a <ul class="errorlist"> beside it (aria-invalid and
// aria-describedby on the input), a formset as a <fieldset> of rows named
// lines.<i>.<field> (without required, since a blank row is dropped), and a
// submit button. For an htmx request it writes
// the <form> alone; otherwise a minimal HTML document holding it.
var DefaultFormRenderer FormRenderer = FormRendererFunc(renderDefaultForm)

var defaultFormTemplate = template.Must(template.New("form").Funcs(template.FuncMap{
	"fid": func(key string) string { return "id_" + strings.ReplaceAll(key, ".", "-") },
	"key": func(prefix, name string) string {
		if prefix == "" {
			return name
		}
		return prefix + "." + name
	},
	"title": defaultLabel,
	"num":   func(p *float64) string { return strconv.FormatFloat(*p, 'f', -1, 64) },
	"inputType": func(f ir.FormField) string {
		switch {
		case f.Widget != "" && f.Widget != "textarea":
			return f.Widget
		case f.Type == ir.FieldInt || f.Type == ir.FieldNumber:
			return "number"
		case f.Email:
			return "email"
		case f.URL:
			return "url"
		}
		return "text"
	},
	"field": func(page *FormPage, prefix string, f ir.FormField) map[string]any {
		return map[string]any{"Page": page, "Prefix": prefix, "F": f}
	},
}).Parse(`{{define "errors"}}{{if .}}<ul class="errorlist">{{range .}}<li>{{.}}</li>{{end}}</ul>{{end}}{{end}}
{{- define "field"}}{{$p := .Page}}{{$f := .F}}{{$row := .Prefix}}{{$k := key .Prefix $f.Name}}{{$errs := $p.Error $k}}
<div class="field{{if $errs}} invalid{{end}}" data-field="{{$k}}">
{{- if eq $f.Type "bool"}}
<label><input type="checkbox" id="{{fid $k}}" name="{{$k}}" value="true"{{if eq ($p.Value $k) "true" "on" "1"}} checked{{end}}{{if and $f.Required (not $row)}} required{{end}}{{if $errs}} aria-invalid="true" aria-describedby="{{fid $k}}-errors"{{end}}> {{$f.Label}}</label>
{{- else}}
<label for="{{fid $k}}">{{$f.Label}}</label>
{{- if $f.Choices}}
<select id="{{fid $k}}" name="{{$k}}"{{if and $f.Required (not $row)}} required{{end}}{{if $errs}} aria-invalid="true" aria-describedby="{{fid $k}}-errors"{{end}}>{{$v := $p.Value $k}}
<option value=""></option>{{range $f.Choices}}<option value="{{.}}"{{if eq . $v}} selected{{end}}>{{.}}</option>{{end}}
</select>
{{- else if eq $f.Widget "textarea"}}
<textarea id="{{fid $k}}" name="{{$k}}"{{if and $f.Required (not $row)}} required{{end}}{{if $errs}} aria-invalid="true" aria-describedby="{{fid $k}}-errors"{{end}}>{{$p.Value $k}}</textarea>
{{- else}}
<input type="{{inputType $f}}" id="{{fid $k}}" name="{{$k}}" value="{{$p.Value $k}}"{{if and $f.Required (not $row)}} required{{end}}{{if or (eq $f.Type "int") (eq $f.Type "number")}}{{if $f.Min}} min="{{num $f.Min}}"{{end}}{{if $f.Max}} max="{{num $f.Max}}"{{end}}{{end}}{{if $errs}} aria-invalid="true" aria-describedby="{{fid $k}}-errors"{{end}}>
{{- end}}
{{- end}}
{{if $errs}}<ul class="errorlist" id="{{fid $k}}-errors">{{range $errs}}<li>{{.}}</li>{{end}}</ul>{{end}}
</div>
{{- end}}
{{- define "form"}}{{$p := .}}<form method="post" action="{{.Action}}" class="mizan-form" data-mizan-form="{{.Form.Name}}">
{{template "errors" .FormErrors}}
{{- range .Form.Fields}}{{if eq .Type "formset"}}{{$fs := .}}{{$errs := $p.Error .Name}}
<fieldset class="formset{{if $errs}} invalid{{end}}" data-formset="{{.Name}}">
<legend>{{.Label}}</legend>
{{- if $errs}}<ul class="errorlist" id="{{fid .Name}}-errors">{{range $errs}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{- range $row := $p.RowKeys .Name}}
<div class="row" data-row="{{$row}}">{{range $fs.Fields}}{{template "field" field $p $row .}}{{end}}
</div>
{{- end}}
</fieldset>
{{- else}}{{template "field" field $p "" .}}{{end}}{{end}}
<button type="submit">Submit</button>
</form>
{{- end}}
{{- define "page"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{{title .Form.Name}}</title></head>
<body>
{{template "form" .}}
</body></html>
{{end}}`))

func renderDefaultForm(w io.Writer, page *FormPage) error {
	name := "page"
	if page.HTMX {
		name = "form"
	}
	return defaultFormTemplate.ExecuteTemplate(w, name, page)
}

// formRoute serves a form's route: GET and HEAD render it, POST takes a
// submission; anything else is 405.
func (a *App) formRoute(fd *formDef) http.Handler {
	serve := pipeline(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.serveForm(w, r, fd)
	}), a.sameOrigin, a.authenticated, a.bodyLimit)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodPost:
		default:
			w.Header().Set("Allow", "GET, HEAD, POST")
			writeError(w, r, a.logger, NewError(CodeMethodNotAllowed, "method "+r.Method+" is not allowed here; use GET, HEAD or POST"))
			return
		}
		defer recoverTo(w, r, a.logger)
		serve.ServeHTTP(w, r)
	})
}

// serveForm renders the form (GET) or takes a submission (POST).
func (a *App) serveForm(w http.ResponseWriter, r *http.Request, fd *formDef) {
	ci := callFrom(r.Context())
	f := fd.submit
	if merr := f.cfg.auth.check(r, ci.caller); merr != nil {
		writeError(w, r, a.logger, merr)
		return
	}
	page := &FormPage{Form: fd.schema, Action: r.URL.Path, Values: map[string]string{}, Status: http.StatusOK,
		HTMX: r.Header.Get("HX-Request") == "true", Request: r}
	if r.Method != http.MethodPost {
		for i := range fd.fields {
			if v := r.PathValue(fd.fields[i].name); v != "" {
				page.Values[fd.fields[i].name] = v
			}
		}
		a.renderForm(w, r, fd, page)
		return
	}
	if err := parseForm(r, a.cfg.MaxBodyBytes); err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	vals := url.Values{}
	for k, vs := range r.PostForm {
		vals[k] = vs
	}
	for i := range fd.fields {
		if v := r.PathValue(fd.fields[i].name); v != "" {
			vals[fd.fields[i].name] = []string{v}
		}
	}
	fi := fd.decodeValues(vals)
	page.Values = fi.raw
	ctx := r.Context()
	if errs := a.formErrors(ctx, fd, fi); errs != nil {
		page.Errors, page.Status = errs, http.StatusUnprocessableEntity
		a.renderForm(w, r, fd, page)
		return
	}
	if _, err := a.run(ctx, f, fi.in); err != nil {
		me, ok := asError(err)
		if !ok || me.status >= 500 {
			writeError(w, r, a.logger, err)
			return
		}
		page.Status = me.status
		if me.code == CodeInvalidArgs {
			page.Status = http.StatusUnprocessableEntity
		}
		if len(me.fields) > 0 {
			page.Errors = map[string][]string{}
			for k, m := range me.fields {
				page.Errors[k] = []string{m}
			}
		} else {
			page.FormErrors = []string{me.message}
		}
		a.renderForm(w, r, fd, page)
		return
	}
	h := w.Header()
	mergeHeader(h, ci.header)
	e, err := a.emitMutation(ctx, f, ci.caller, fi.in, fi.given)
	if err == nil {
		err = e.writeHeaders(h, r)
	}
	if err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	h.Set("Cache-Control", "no-store")
	h.Set("Location", fd.location(r, fi.raw))
	w.WriteHeader(http.StatusSeeOther)
}

// location is the success location of a valid post: Success's, its {name}s
// filled from the values posted, or else the route requested.
func (fd *formDef) location(r *http.Request, raw map[string]string) string {
	if fd.success == "" {
		return r.URL.Path
	}
	loc := fd.success
	for _, name := range placeholders(loc) {
		loc = strings.ReplaceAll(loc, "{"+name+"}", url.PathEscape(raw[name]))
	}
	return loc
}

// renderForm writes page with the form's renderer: rendered in full before
// anything is sent, so that a failing renderer is a 500, not half a page.
func (a *App) renderForm(w http.ResponseWriter, r *http.Request, fd *formDef, page *FormPage) {
	page.Rows = map[string]int{}
	for _, ff := range fd.schema.Fields {
		if ff.Type != ir.FieldFormset {
			continue
		}
		n := 0
		for k := range page.Values {
			if rest, ok := strings.CutPrefix(k, ff.Name+"."); ok {
				idx, _, _ := strings.Cut(rest, ".")
				if i, err := strconv.Atoi(idx); err == nil && i+1 > n {
					n = i + 1
				}
			}
		}
		if ff.Max == nil || float64(n) < *ff.Max {
			n++ // a blank row to add one
		}
		if ff.Min != nil && float64(n) < *ff.Min {
			n = int(*ff.Min)
		}
		page.Rows[ff.Name] = n
	}
	render := fd.render
	if render == nil {
		render = DefaultFormRenderer
	}
	var buf bytes.Buffer
	if err := render.RenderForm(&buf, page); err != nil {
		// A renderer that fetched data the request names (a page of a
		// project that does not exist) answers with that error: a 4xx is
		// the caller's, not a fault of the renderer.
		if me, ok := asError(err); ok && me.status < 500 {
			writeError(w, r, a.logger, me)
			return
		}
		a.logger.Error("mizan: rendering a form", "form", fd.name, "err", err)
		writeError(w, r, a.logger, errInternal)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(page.Status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}
