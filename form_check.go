package mizan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/go-playground/validator/v10"
	"github.com/mizan-afi/mizan/ir"
	"github.com/mizan-afi/mizan/protocol"
)

// Decoding and checking a form's fields (docs/forms.md). A form decodes its
// fields itself, more leniently than call/'s arguments: a missing field is
// its zero value, for its rules to judge (required), and a value of the
// wrong type is an error on its field ("Enter a whole number."), keyed as
// the form keys errors: "lines" and "lines.<i>.<field>" for a formset.

// maxFormRows bounds a formset's rows in an HTML post.
const maxFormRows = 1000

// formInput is one decoded submission of a form.
type formInput struct {
	in    any                 // *In
	given presence            // the submit function's parameters given
	top   map[string]bool     // the names of the fields given
	errs  map[string][]string // decoding errors, by key
	// raw holds an HTML post's values by key ("lines.0.sku"), rows
	// renumbered as decoded, for the form to be rendered again.
	raw map[string]string
}

func (fi *formInput) fail(key, msg string) {
	if fi.errs == nil {
		fi.errs = map[string][]string{}
	}
	if _, ok := fi.errs[key]; !ok {
		fi.errs[key] = []string{msg}
	}
}

// decodeJSON decodes the JSON object of a call's arguments. Malformed JSON
// and unknown fields are the call's error (400); a value of the wrong type
// is its field's.
//
// For a submit (quick) of a form without formsets, the arguments decoding of
// every call is tried first (args_fast.go): it takes only objects of known
// keys, each given once, with values of their fields' types, which the
// exact path below decodes alike. (Formset rows are left to the exact
// path, which refuses their unknown keys; a null it reports as given, which
// only _validate reads.)
func (fd *formDef) decodeJSON(raw []byte, quick bool) (*formInput, *Error) {
	fi := &formInput{in: fd.submit.newIn(), top: map[string]bool{}}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, jsonNull) {
		raw = []byte("{}")
	}
	if raw[0] != '{' {
		return nil, NewError(CodeBadRequest, `"args" must be a JSON object`)
	}
	if quick && !fd.formsets {
		if given, ok := fd.submit.args.decodeFast(raw, reflectElem(fi.in)); ok {
			fi.given = given
			return fi, nil
		}
		fi.in = fd.submit.newIn() // the failed pass may have filled some
	}
	var obj map[string]protocol.RawValue
	if err := protocol.UnmarshalStrict(raw, &obj); err != nil {
		if protocol.IsDuplicateName(err) {
			return nil, NewError(CodeBadRequest, `"args" names an argument twice`)
		}
		return nil, NewError(CodeBadRequest, `"args" is not a valid JSON object`)
	}
	var unknown map[string]string
	for k := range obj {
		if _, ok := fd.byName[k]; !ok {
			if unknown == nil {
				unknown = map[string]string{}
			}
			unknown[k] = "unknown field"
		}
	}
	dst := reflectElem(fi.in)
	for i := range fd.fields {
		ff := &fd.fields[i]
		v, ok := obj[ff.name]
		if !ok {
			continue
		}
		fi.given.set(i)
		fi.top[ff.name] = true
		if bytes.Equal(v, jsonNull) {
			continue
		}
		f := dst.FieldByIndex(ff.index)
		if ff.kind != ir.FieldFormset {
			if json.Unmarshal(v, f.Addr().Interface()) != nil {
				fi.fail(ff.name, typeMessage(ff.kind))
			}
			continue
		}
		var rows []protocol.RawValue
		if json.Unmarshal(v, &rows) != nil {
			fi.fail(ff.name, typeMessage(ff.kind))
			continue
		}
		f.Set(reflect.MakeSlice(f.Type(), len(rows), len(rows)))
		for j, rv := range rows {
			key := ff.name + "." + strconv.Itoa(j)
			var cells map[string]protocol.RawValue
			if !bytes.HasPrefix(bytes.TrimSpace(rv), []byte("{")) || protocol.UnmarshalStrict(rv, &cells) != nil {
				fi.fail(key, "Enter a row as an object.")
				continue
			}
			row := f.Index(j)
			for name, cv := range cells {
				rf := ff.byName[name]
				if rf == nil {
					if unknown == nil {
						unknown = map[string]string{}
					}
					unknown[key+"."+name] = "unknown field"
					continue
				}
				if !bytes.Equal(cv, jsonNull) && json.Unmarshal(cv, row.FieldByIndex(rf.index).Addr().Interface()) != nil {
					fi.fail(key+"."+name, typeMessage(rf.kind))
				}
			}
		}
	}
	if unknown != nil {
		return nil, invalidArgs(unknown)
	}
	return fi, nil
}

// decodeValues decodes an HTML post (application/x-www-form-urlencoded or
// multipart): a formset's cells are named "lines.<i>.<field>". Names that
// are not fields (a CSRF token, the submit button) are ignored, as are
// formset rows whose cells are all empty (the blank rows a page offers for
// adding one); the rows left are numbered from 0 in the order of their
// indices. An empty number field is absent.
func (fd *formDef) decodeValues(vals url.Values) *formInput {
	fi := &formInput{in: fd.submit.newIn(), top: map[string]bool{}, raw: map[string]string{}}
	dst := reflectElem(fi.in)
	for i := range fd.fields {
		ff := &fd.fields[i]
		f := dst.FieldByIndex(ff.index)
		if ff.kind != ir.FieldFormset {
			vs, ok := vals[ff.name]
			if !ok {
				if ff.kind == ir.FieldBool { // an unchecked checkbox sends nothing
					fi.given.set(i)
					fi.top[ff.name] = true
				}
				continue
			}
			fi.given.set(i)
			fi.top[ff.name] = true
			fi.raw[ff.name] = vs[0]
			if len(vs) > 1 {
				fi.fail(ff.name, "Enter a single value.")
				continue
			}
			if msg := setFormString(f, ff.kind, vs[0]); msg != "" {
				fi.fail(ff.name, msg)
			}
			continue
		}
		cells := map[int]map[string]string{}
		prefix := ff.name + "."
		tooMany := false
		for k, vs := range vals {
			rest, ok := strings.CutPrefix(k, prefix)
			if !ok {
				continue
			}
			idx, name, ok := strings.Cut(rest, ".")
			n, err := strconv.Atoi(idx)
			if !ok || err != nil || n < 0 || idx != strconv.Itoa(n) || ff.byName[name] == nil {
				continue
			}
			if n >= maxFormRows {
				tooMany = true
				continue
			}
			if cells[n] == nil {
				cells[n] = map[string]string{}
			}
			cells[n][name] = vs[0]
		}
		fi.given.set(i)
		fi.top[ff.name] = true
		if tooMany {
			fi.fail(ff.name, boundMessage(ir.FieldFormset, "max", maxFormRows))
		}
		var order []int
		for n, row := range cells {
			blank := true
			for _, v := range row {
				blank = blank && strings.TrimSpace(v) == ""
			}
			if !blank {
				order = append(order, n)
			}
		}
		slices.Sort(order)
		f.Set(reflect.MakeSlice(f.Type(), len(order), len(order)))
		for j, n := range order {
			row := f.Index(j)
			for name, v := range cells[n] {
				rf := ff.byName[name]
				key := prefix + strconv.Itoa(j) + "." + name
				fi.raw[key] = v
				if msg := setFormString(row.FieldByIndex(rf.index), rf.kind, v); msg != "" {
					fi.fail(key, msg)
				}
			}
		}
	}
	return fi
}

// setFormString sets a form field from an HTML value; it returns a message
// when the value is not of the field's type.
func setFormString(f reflect.Value, kind, s string) string {
	if f.Kind() == reflect.Pointer {
		if s == "" {
			return "" // absent
		}
		f.Set(reflect.New(f.Type().Elem()))
		f = f.Elem()
	}
	switch kind {
	case ir.FieldInt, ir.FieldNumber:
		if s == "" {
			return ""
		}
		if kind == ir.FieldNumber {
			n, err := strconv.ParseFloat(s, f.Type().Bits())
			if err != nil {
				return typeMessage(kind)
			}
			f.SetFloat(n)
			return ""
		}
	case ir.FieldBool:
		switch s {
		case "", "false", "off", "0":
			f.SetBool(false)
		case "true", "on", "1":
			f.SetBool(true)
		default:
			return typeMessage(kind)
		}
		return ""
	}
	if setString(f, s) != "" {
		return typeMessage(kind)
	}
	return ""
}

// formErrors runs every rule of the form on a decoded submission and
// returns the messages of every failing field by key, decoding errors
// first; nil when every rule holds.
func (a *App) formErrors(ctx context.Context, fd *formDef, fi *formInput) map[string][]string {
	var errs map[string][]string
	for k, m := range fi.errs {
		if errs == nil {
			errs = map[string][]string{}
		}
		errs[k] = m
	}
	add := func(key string, msgs []string) {
		// A key already failed, or a row that did not decode (lines.3 for
		// lines.3.qty), keeps its decoding error alone.
		if _, ok := errs[key]; ok {
			return
		}
		for k := key; ; {
			if _, ok := fi.errs[k]; ok {
				return
			}
			i := strings.LastIndexByte(k, '.')
			if i < 0 {
				break
			}
			k = k[:i]
		}
		if errs == nil {
			errs = map[string][]string{}
		}
		errs[key] = msgs
	}
	dst := reflectElem(fi.in)
	for i := range fd.fields {
		ff := &fd.fields[i]
		v := dst.FieldByIndex(ff.index)
		if ff.enum != nil && !ff.inEnum(v) {
			add(ff.name, a.fieldMessages(ctx, ff, v, ""))
		}
		if ff.kind == ir.FieldFormset {
			for j := range v.Len() {
				row := v.Index(j)
				for k := range ff.rows {
					rf := &ff.rows[k]
					if rv := row.FieldByIndex(rf.index); rf.enum != nil && !rf.inEnum(rv) {
						add(ff.name+"."+strconv.Itoa(j)+"."+rf.name, a.fieldMessages(ctx, rf, rv, ""))
					}
				}
			}
		}
	}
	err := a.validate.StructCtx(ctx, fi.in)
	var ves validator.ValidationErrors
	if errors.As(err, &ves) {
		for _, fe := range ves {
			key := formKey(fe.Namespace(), fd.submit.args.typ.Name())
			ff, v := fd.locate(dst, key)
			if ff == nil {
				add(key, []string{msgInvalid})
				continue
			}
			add(key, a.fieldMessages(ctx, ff, v, fe.Tag()))
		}
	} else if err != nil {
		a.logger.Error("mizan: checking a form", "form", fd.name, "err", err)
		add("", []string{msgInvalid})
	}
	// The validator stops at a formset's first failing rule (too many
	// rows) before it dives into the rows: check them too, so that every
	// failure is reported at once.
	for i := range fd.fields {
		ff := &fd.fields[i]
		if _, failed := errs[ff.name]; !failed || ff.kind != ir.FieldFormset {
			continue
		}
		v := dst.FieldByIndex(ff.index)
		for j := range v.Len() {
			row := v.Index(j)
			err := a.validate.StructCtx(ctx, row.Addr().Interface())
			var rves validator.ValidationErrors
			if !errors.As(err, &rves) {
				continue
			}
			prefix := ff.name + "." + strconv.Itoa(j) + "."
			for _, fe := range rves {
				rf := ff.byName[formKey(fe.Namespace(), ff.rowType.Name())]
				if rf == nil {
					continue
				}
				add(prefix+rf.name, a.fieldMessages(ctx, rf, row.FieldByIndex(rf.index), fe.Tag()))
			}
		}
	}
	return errs
}

// inEnum reports whether a field's value is empty or in its enum.
func (ff *formField) inEnum(v reflect.Value) bool {
	p := enumParam{name: ff.name, optional: true, def: ff.enum}
	return p.inSet(v)
}

// fieldMessages returns the messages of a field the validator (or its
// enum) failed: every failing client rule, each checked alone by the
// validator, in the canonical order, then the message of failed when it
// is a rule only the server checks.
func (a *App) fieldMessages(ctx context.Context, ff *formField, v reflect.Value, failed string) []string {
	if failed == "required" {
		return []string{msgRequired}
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return []string{msgRequired}
		}
		v = v.Elem()
	}
	var out []string
	client := failed == ""
	for _, r := range ff.rules {
		if r.from == failed {
			client = true
		}
		var bad bool
		if r.tag == enumRuleTag {
			bad = !ff.inEnum(v)
		} else {
			bad = a.validate.VarCtx(ctx, v.Interface(), r.tag) != nil
		}
		if bad {
			out = append(out, r.msg)
		}
	}
	if !client {
		out = append(out, serverMessage(a.customRules, a.messages, failed))
	}
	if len(out) == 0 {
		out = []string{msgInvalid}
	}
	return out
}

// formKey turns a validator namespace ("ContactForm.lines[0].sku", whose
// first part is root, the name of the form's struct type, "" for an
// anonymous struct) into a form's error key ("lines.0.sku").
func formKey(ns, root string) string {
	if root != "" {
		ns = strings.TrimPrefix(ns, root+".")
	}
	ns = strings.ReplaceAll(ns, "[", ".")
	return strings.ReplaceAll(ns, "]", "")
}

// locate finds the field an error key names and its value in dst.
func (fd *formDef) locate(dst reflect.Value, key string) (*formField, reflect.Value) {
	parts := strings.Split(key, ".")
	ff := fd.byName[parts[0]]
	if ff == nil {
		return nil, reflect.Value{}
	}
	v := dst.FieldByIndex(ff.index)
	switch {
	case len(parts) == 1:
		return ff, v
	case len(parts) == 3 && ff.kind == ir.FieldFormset:
		j, err := strconv.Atoi(parts[1])
		rf := ff.byName[parts[2]]
		if err != nil || j < 0 || j >= v.Len() || rf == nil {
			return nil, reflect.Value{}
		}
		return rf, v.Index(j).FieldByIndex(rf.index)
	}
	return nil, reflect.Value{}
}

// firstMessages is errs with each key's first message: the fields of an
// invalid_args error.
func firstMessages(errs map[string][]string) map[string]string {
	out := make(map[string]string, len(errs))
	for k, m := range errs {
		out[k] = m[0]
	}
	return out
}

// formSubmitArgs decodes and checks the arguments of a form's submit call:
// every failure at once as invalid_args.
func (a *App) formSubmitArgs(ctx context.Context, fd *formDef, args []byte) (any, presence, *Error) {
	fi, merr := fd.decodeJSON(args, true)
	if merr != nil {
		return nil, 0, merr
	}
	if errs := a.formErrors(ctx, fd, fi); errs != nil {
		return nil, 0, invalidArgs(firstMessages(errs))
	}
	return fi.in, fi.given, nil
}

// formValidate answers <form>_validate: every rule on the fields given.
func (a *App) formValidate(ctx context.Context, fd *formDef, args []byte) (FormValidation, *Error) {
	fi, merr := fd.decodeJSON(args, false)
	if merr != nil {
		return FormValidation{}, merr
	}
	res := FormValidation{Valid: true, Errors: map[string][]string{}}
	for k, m := range a.formErrors(ctx, fd, fi) {
		top, _, _ := strings.Cut(k, ".")
		if fi.top[top] {
			res.Errors[k] = m
			res.Valid = false
		}
	}
	return res, nil
}
