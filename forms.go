package mizan

import (
	"context"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/go-playground/validator/v10"
	"github.com/mizan-afi/mizan/ir"
)

// Forms (docs/forms.md, docs/spec.md §10). A form is one registration of a
// submit function whose argument struct carries the rules: go-playground
// validator tags, and a label per field. Form gives the three wire
// functions of §10, <form>_schema, <form>_validate and <form>, and, with a
// Route, the view path that browsers post to without JavaScript or with
// htmx (form_html.go). The schema is derived when the app is built
// (form_schema.go); decoding and checking are in form_check.go.

// Form registers a form from its submit function fn: the mutation <name>
// (form role submit) that runs every rule of In's `validate` tags before fn
// and reports every failure at once (400 invalid_args, one message per
// field in fields), and the standalone reads <name>_schema (the form's
// fields and the rules a client can check itself, [ir.FormDef]) and
// <name>_validate (every rule on the fields given, changing nothing:
// [FormValidation]). The name is fn's, as for [Mutation], or [Name]'s.
//
// In's fields are the form's fields, in declaration order: strings,
// integers, floats, bools (or pointers to them, for optional fields), and
// slices of structs, which are formsets whose rows have such fields. A
// field's `label` tag labels it. Every rule must follow `required` or
// `omitempty` in its tag, so that an empty optional field is not checked; a
// formset's tag ends in `dive`. The options are those of a mutation
// ([Affects], [RequireAuth], [WebSocket], ...), plus [Route], which gives
// the form a view path (GET renders it, POST takes
// application/x-www-form-urlencoded), [Success] and [WithFormRenderer].
// _schema and _validate have the submit function's guard.
func Form[In, Out any](app *App, fn func(context.Context, In) (Out, error), opts ...Option) *Func {
	f, err := newFunc(KindMutation, fn, opts)
	if err != nil {
		app.add(f, err)
		return f
	}
	name := f.meta.Name
	if f.cfg.form.Name != "" {
		app.add(f, fmt.Errorf("function %s: Form registers the form's functions itself; drop FormPart", name))
		return f
	}
	fd := &formDef{name: name, submit: f, route: f.cfg.route, success: f.cfg.success, render: f.cfg.renderer}
	f.form = fd
	f.meta.Form = FormInfo{Name: name, Role: FormSubmit}
	f.meta.Route = "" // the form's route is its view path, not the function's (IR form node)
	if fd.route != "" && !strings.HasPrefix(fd.route, "/") {
		app.add(f, fmt.Errorf("function %s: form route %q must start with /", name, fd.route))
		return f
	}
	if len(f.cfg.methods) > 0 {
		app.add(f, fmt.Errorf("function %s: a form's route answers GET (the form) and POST (a submission); drop Methods", name))
		return f
	}
	app.add(f, nil)

	shared := []Option{FormPart(name, FormSchema)}
	if f.cfg.websocket {
		shared = append(shared, WebSocket())
	}
	guard := optionFunc(func(c *funcConfig) { c.auth = f.cfg.auth })
	schemaFn := func(context.Context, struct{}) (ir.FormDef, error) { return fd.schema, nil }
	sf, err := newFunc(KindQuery, schemaFn, append(shared, Name(name+"_schema"), guard, NoCache()))
	if sf != nil {
		sf.form = fd
	}
	app.add(sf, err)

	shared[0] = FormPart(name, FormValidate)
	// The function never runs: runCall answers _validate itself (formValidate),
	// since it must see what was given and how it failed to decode.
	validateFn := func(context.Context, In) (FormValidation, error) { return FormValidation{}, nil }
	vf, err := newFunc(KindQuery, validateFn, append(shared, Name(name+"_validate"), guard, NoCache()))
	if vf != nil {
		vf.form = fd
		for i := range vf.meta.Params {
			vf.meta.Params[i].Optional = true
		}
	}
	app.add(vf, err)
	return f
}

// FormValidation is the result of <form>_validate (docs/spec.md §10).
type FormValidation struct {
	// Valid reports that no rule failed on the fields given.
	Valid bool `json:"valid"`
	// Errors holds the messages of each failing field, keyed by its name,
	// or for a formset by "lines" (the set) and "lines.<i>.<field>" (row i,
	// 0-based). It is empty when Valid.
	Errors map[string][]string `json:"errors"`
}

// Success sets where a form's view path sends the browser after a valid
// post (303 See Other): a path in which {name} is replaced by the value of
// the form's argument name, path-escaped. Without it the form's own route
// is the success location.
func Success(location string) Option {
	return optionFunc(func(c *funcConfig) { c.success = location })
}

// WithFormRenderer sets the renderer of a form's HTML: the page GET on its
// route answers with and the 422 answer to an invalid post. Without it,
// [DefaultFormRenderer] renders the form.
func WithFormRenderer(r FormRenderer) Option {
	return optionFunc(func(c *funcConfig) { c.renderer = r })
}

// formDef is a registered form: its schema and how to check its fields.
type formDef struct {
	name    string
	submit  *Func
	route   string
	success string
	render  FormRenderer
	schema  ir.FormDef  // derived at Build (buildForm)
	fields  []formField // parallel to schema.Fields
	byName  map[string]*formField
	// formsets reports a formset among the fields.
	formsets bool
}

// formField is one field of a form, or of a formset's row.
type formField struct {
	name     string
	kind     string       // ir.FieldString, ...
	index    []int        // the field's index in its struct
	typ      reflect.Type // the field's Go type
	required bool
	rules    []formRule  // the client-checkable rules, in the canonical order (docs/forms.md)
	server   []string    // the tags only the server checks
	rows     []formField // a formset's row fields
	rowType  reflect.Type
	byName   map[string]*formField // a formset's row fields by name
	enum     *enumDef              // the field's enum, when its type is one
	schema   ir.FormField
}

// formRule is one client-checkable rule: the validator tag that checks it
// alone and its message.
type formRule struct {
	tag  string // "min=10"
	msg  string
	from string // the tag's rule as the validator reports it ("len" for an integer's min=n of len=n)
}

// Validation registers a custom `validate` tag for the app's argument
// structs: fn decides on the server (in a form's submit and its _validate,
// and for any other function whose arguments carry the tag), and message is
// what a form reports when it fails ("" gives "Enter a valid value."). A
// form marks fields with the tag server_only: clients send them to
// <form>_validate. fn runs with the call's context, so [Caller] works in
// it; fl.Parent() is the struct being checked. Register before the app is
// built.
func (a *App) Validation(tag string, fn func(ctx context.Context, fl validator.FieldLevel) bool, message string) {
	a.addRule("Validation", tag, &customRule{fn: fn, message: message})
}

// Pattern registers a custom `validate` tag that requires a string to match
// the regular expression expr: checked by the server with package regexp
// and, since the schema carries it as the field's pattern, by clients too
// (with JavaScript's RegExp and the u flag). expr must mean the same to
// both: keep to the syntax they share (character classes, quantifiers,
// groups, alternation, anchors); it is anchored with ^ and $ if it is not.
// message is what a form reports when it fails.
func (a *App) Pattern(tag, expr, message string) {
	if !strings.HasPrefix(expr, "^") {
		expr = "^" + expr
	}
	if !strings.HasSuffix(expr, "$") {
		expr += "$"
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		a.mu.Lock()
		a.errs = append(a.errs, fmt.Errorf("mizan: Pattern %q: %w", tag, err))
		a.mu.Unlock()
		return
	}
	a.addRule("Pattern", tag, &customRule{pattern: re, message: message})
}

// Message sets the message a form reports when the validator's own tag
// fails on a field where only the server checks it: a tag the schema
// marks server_only, such as datetime=2006-01-02 or uuid ("" keeps
// "Enter a valid value."). tag is the rule's name, without its
// parameter. The messages of the rules clients check (required, min,
// email...) stay fixed, so that every client shows the server's words
// (docs/forms.md "Messages"). A name that is not one of the validator's
// tags is refused at Build; so is one given twice. Register before the
// app is built.
func (a *App) Message(tag, message string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !validTag(tag) || !builtinTag(tag) || a.messages[tag] != "" || message == "" {
		a.errs = append(a.errs, fmt.Errorf("mizan: Message: tag %q is not one of the validator's, was given a message already, or the message is empty", tag))
		return
	}
	if a.messages == nil {
		a.messages = map[string]string{}
	}
	a.messages[tag] = message
}

// addRule records a custom tag, refusing (at Build) a malformed name or
// one already defined, by the app or by the validator.
func (a *App) addRule(by, tag string, cr *customRule) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !validTag(tag) || a.customRules[tag] != nil || builtinTag(tag) {
		a.errs = append(a.errs, fmt.Errorf("mizan: %s: tag %q is empty, malformed, or already defined", by, tag))
		return
	}
	if a.customRules == nil {
		a.customRules = map[string]*customRule{}
	}
	a.customRules[tag] = cr
}

// customRule is a tag registered with [App.Validation] or [App.Pattern].
type customRule struct {
	fn      func(ctx context.Context, fl validator.FieldLevel) bool
	pattern *regexp.Regexp
	message string
}

// validTag reports whether s can be a validator tag name.
func validTag(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// builtinTag reports whether tag is one of the validator's own tags (or
// one of its operators), which an app cannot redefine.
func builtinTag(tag string) bool {
	v := baseValidator()
	ok := true
	func() {
		// Var with an unknown tag panics saying so; a known one returns, or
		// panics otherwise for want of its parameter.
		defer func() {
			if r := recover(); r != nil && strings.Contains(fmt.Sprint(r), "Undefined validation function") {
				ok = false
			}
		}()
		_ = v.Var("", tag)
	}()
	return ok || slices.Contains([]string{"dive", "keys", "endkeys", "omitempty", "omitnil", "omitzero", "required", "isdefault"}, tag)
}

// registerCustom adds the app's custom tags to v.
func registerCustom(v *validator.Validate, rules map[string]*customRule) error {
	for tag, cr := range rules {
		var err error
		if cr.pattern != nil {
			re := cr.pattern
			err = v.RegisterValidation(tag, func(fl validator.FieldLevel) bool {
				f := fl.Field()
				return f.Kind() == reflect.String && re.MatchString(f.String())
			})
		} else {
			fn := cr.fn
			err = v.RegisterValidationCtx(tag, func(ctx context.Context, fl validator.FieldLevel) bool { return fn(ctx, fl) })
		}
		if err != nil {
			return fmt.Errorf("mizan: registering validate tag %q: %w", tag, err)
		}
	}
	return nil
}
