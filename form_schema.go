package mizan

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mizan-afi/mizan/ir"
)

// The schema of a form, derived from its argument struct when the app is
// built (docs/forms.md, "The rules and where they run"). Each validator tag
// a client can check becomes a rule of the field's schema and a formRule
// (the tag that checks it alone, and the message both sides give); every
// other tag makes the field server_only.

// builtinPatterns are the validator tags that a client checks as a pattern.
var builtinPatterns = map[string][2]string{
	"alpha":       {`^[a-zA-Z]+$`, "Use letters only."},
	"alphanum":    {`^[a-zA-Z0-9]+$`, "Use letters and digits only."},
	"numeric":     {`^[-+]?[0-9]+(?:\.[0-9]+)?$`, "Enter a number."},
	"hexadecimal": {`^(0[xX])?[0-9a-fA-F]+$`, "Enter a hexadecimal number."},
}

// The form messages (docs/forms.md, "Messages"), the same in every client.
const (
	msgRequired = "This field is required."
	msgInvalid  = "Enter a valid value."
	msgEmail    = "Enter a valid email address."
	msgURL      = "Enter a valid URL."
	msgPattern  = "Enter a value in the expected format."
)

// typeMessage is the message of a value of the wrong type for kind.
func typeMessage(kind string) string {
	switch kind {
	case ir.FieldInt:
		return "Enter a whole number."
	case ir.FieldNumber:
		return "Enter a number."
	case ir.FieldBool:
		return "Enter true or false."
	case ir.FieldFormset:
		return "Enter a list of rows."
	}
	return "Enter text."
}

// boundMessage is the message of a failed len, min, max, gt or lt rule.
func boundMessage(kind, rule string, n float64) string {
	num := strconv.FormatFloat(n, 'f', -1, 64)
	unit := "characters"
	if kind == ir.FieldFormset {
		unit = "rows"
	}
	if n == 1 {
		unit = strings.TrimSuffix(unit, "s")
	}
	if kind == ir.FieldInt || kind == ir.FieldNumber {
		switch rule {
		case "min":
			return "Enter a value of at least " + num + "."
		case "max":
			return "Enter a value of at most " + num + "."
		case "gt":
			return "Enter a value greater than " + num + "."
		case "lt":
			return "Enter a value less than " + num + "."
		}
		return msgInvalid
	}
	verb := "Use"
	if kind == ir.FieldFormset {
		verb = "Add"
	}
	switch rule {
	case "len":
		return verb + " exactly " + num + " " + unit + "."
	case "min":
		return verb + " at least " + num + " " + unit + "."
	case "max":
		return verb + " at most " + num + " " + unit + "."
	}
	return msgInvalid
}

// choicesMessage is the message of a value outside choices.
func choicesMessage(choices []string) string {
	return "Select one of: " + strings.Join(choices, ", ") + "."
}

// buildForm derives fd's schema and checks from its submit function's
// argument struct. custom are the app's tags; defs its enums.
func buildForm(fd *formDef, custom map[string]*customRule, defs map[reflect.Type]*enumDef) error {
	f := fd.submit
	fields, err := formFields(f.args, custom, defs, true)
	if err != nil {
		return fmt.Errorf("form %s: %w", fd.name, err)
	}
	fd.fields = fields
	fd.byName = map[string]*formField{}
	fd.schema = ir.FormDef{Name: fd.name, Route: fd.route, Fields: make([]ir.FormField, 0, len(fields))}
	for i := range fields {
		fd.byName[fields[i].name] = &fd.fields[i]
		fd.formsets = fd.formsets || fields[i].kind == ir.FieldFormset
		fd.schema.Fields = append(fd.schema.Fields, fields[i].schema)
	}
	if fd.success != "" && !strings.HasPrefix(fd.success, "/") && !strings.Contains(fd.success, "://") {
		return fmt.Errorf("form %s: Success location %q must be a path (/...) or an absolute URL", fd.name, fd.success)
	}
	if fd.route == "" && (fd.success != "" || fd.render != nil) {
		return fmt.Errorf("form %s: Success and WithFormRenderer need a Route (the form's view path)", fd.name)
	}
	for _, name := range placeholders(fd.success) {
		if _, ok := fd.byName[name]; !ok {
			return fmt.Errorf("form %s: Success location names {%s}, which is not a field of the form", fd.name, name)
		}
	}
	return nil
}

// placeholders returns the {name}s of a location.
func placeholders(loc string) []string {
	var out []string
	for {
		i := strings.IndexByte(loc, '{')
		if i < 0 {
			return out
		}
		j := strings.IndexByte(loc[i:], '}')
		if j < 0 {
			return out
		}
		out = append(out, loc[i+1:i+j])
		loc = loc[i+j+1:]
	}
}

// formFields derives the fields of an argument struct; top tells the
// form's own fields (which may be formsets) from a row's.
func formFields(s *argSchema, custom map[string]*customRule, defs map[reflect.Type]*enumDef, top bool) ([]formField, error) {
	var out []formField
	var errs []string
	for _, p := range s.params {
		sf := s.typ.FieldByIndex(p.index)
		ff, err := newFormField(p, sf, custom, defs, top)
		if err != nil {
			errs = append(errs, fmt.Sprintf("field %s: %v", p.name, err))
			continue
		}
		out = append(out, ff)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("has no fields")
	}
	return out, nil
}

// fieldKind is the form type of a Go field type (pointers stripped).
func fieldKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return ir.FieldString
	case reflect.Bool:
		return ir.FieldBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return ir.FieldInt
	case reflect.Float32, reflect.Float64:
		return ir.FieldNumber
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Struct {
			return ir.FieldFormset
		}
	}
	return ""
}

// newFormField derives one field: its kind, label, and rules.
func newFormField(p param, sf reflect.StructField, custom map[string]*customRule, defs map[reflect.Type]*enumDef, top bool) (formField, error) {
	ff := formField{name: p.name, index: p.index, typ: p.typ}
	if len(p.index) > 1 {
		return ff, fmt.Errorf("a form's fields cannot come from an embedded struct; declare them in the form's struct")
	}
	ff.kind = fieldKind(p.base)
	if ff.kind == "" {
		return ff, fmt.Errorf("a form field must be a string, an integer, a float, a bool (or a pointer to one), or a slice of structs (a formset), not %s", p.typ)
	}
	if ff.kind == ir.FieldFormset && !top {
		return ff, fmt.Errorf("a formset's rows cannot hold formsets")
	}
	label := sf.Tag.Get("label")
	if label == "" {
		label = defaultLabel(p.name)
	}
	sch := ir.FormField{Name: p.name, Type: ff.kind, Label: label, Widget: sf.Tag.Get("widget")}
	tags := splitTags(sf.Tag.Get("validate"))
	if ff.kind == ir.FieldFormset {
		i := slices.Index(tags, "dive")
		if i < 0 {
			return ff, fmt.Errorf("a formset's validate tag must end in dive, so that its rows are checked")
		}
		if i != len(tags)-1 {
			return ff, fmt.Errorf("nothing may follow dive in a formset's tag: its rows are checked by their own fields' tags")
		}
		tags = tags[:i]
		ff.rowType = p.base.Elem()
		rs, err := newArgSchema(ff.rowType)
		if err != nil {
			return ff, err
		}
		rows, err := formFields(rs, custom, defs, false)
		if err != nil {
			return ff, fmt.Errorf("its rows: %w", err)
		}
		ff.rows = rows
		ff.byName = map[string]*formField{}
		for i := range ff.rows {
			ff.byName[ff.rows[i].name] = &ff.rows[i]
			sch.Fields = append(sch.Fields, ff.rows[i].schema)
		}
	}
	if err := ff.translate(tags, &sch, custom); err != nil {
		return ff, err
	}
	if b := enumBase(p.typ); b != nil && defs[b] != nil && sch.Choices == nil && ff.kind != ir.FieldFormset {
		sch.Choices = slices.Clone(defs[b].values)
		ff.rules = append(ff.rules, formRule{tag: enumRuleTag, msg: choicesMessage(sch.Choices)})
		ff.enum = defs[b]
	}
	slices.SortStableFunc(ff.rules, func(a, b formRule) int { return ruleOrder(a.tag) - ruleOrder(b.tag) })
	sch.ServerOnly = len(ff.server) > 0
	ff.required = sch.Required
	ff.schema = sch
	return ff, nil
}

// enumRuleTag stands for a field's enum in its rules: checked by the enum's
// set, not by a validator tag.
const enumRuleTag = "\x00enum"

// ruleOrder is the canonical order of client rules: len, min, max, gt, lt,
// choices, email, url, pattern.
func ruleOrder(tag string) int {
	name, _, _ := strings.Cut(tag, "=")
	switch name {
	case "len":
		return 0
	case "min", "gte":
		return 1
	case "max", "lte":
		return 2
	case "gt":
		return 3
	case "lt":
		return 4
	case "oneof", enumRuleTag:
		return 5
	case "email":
		return 6
	case "url":
		return 7
	}
	return 8 // patterns
}

// splitTags splits a validate tag into its rules.
func splitTags(tag string) []string {
	if strings.TrimSpace(tag) == "" {
		return nil
	}
	parts := strings.Split(tag, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// translate reads a field's rules into its schema and checks.
func (ff *formField) translate(tags []string, sch *ir.FormField, custom map[string]*customRule) error {
	if len(tags) > 0 && tags[0] != "required" && tags[0] != "omitempty" {
		return fmt.Errorf("its validate tag must start with required or omitempty (so that an empty optional field is not checked), not %q", tags[0])
	}
	num := func(s string, whole bool) (float64, error) {
		n, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(n, 0) || math.IsNaN(n) || whole && n != math.Trunc(n) {
			return 0, fmt.Errorf("rule parameter %q is not a number the rule can use", s)
		}
		return n, nil
	}
	lengthKind := ff.kind == ir.FieldString || ff.kind == ir.FieldFormset
	whole := ff.kind != ir.FieldNumber
	for i, t := range tags {
		name, param, _ := strings.Cut(t, "=")
		if strings.Contains(t, "|") {
			ff.server = append(ff.server, t)
			continue
		}
		switch name {
		case "required":
			if i > 0 {
				return fmt.Errorf("required must come first in its validate tag")
			}
			sch.Required = true
			continue
		case "omitempty":
			if i > 0 {
				return fmt.Errorf("omitempty must come first in its validate tag")
			}
			continue
		case "dive":
			return fmt.Errorf("dive is only for formsets (slices of structs)")
		}
		if ff.kind == ir.FieldBool {
			ff.server = append(ff.server, t)
			continue
		}
		set := func(dst **float64, n float64, rule string) {
			*dst = &n
			ff.rules = append(ff.rules, formRule{tag: t, msg: boundMessage(ff.kind, rule, n)})
		}
		switch name {
		case "len":
			n, err := num(param, true)
			if err != nil {
				return err
			}
			if lengthKind {
				set(&sch.Len, n, "len")
			} else {
				lo, hi := n, n
				sch.Min, sch.Max = &lo, &hi
				ff.rules = append(ff.rules, formRule{tag: "min=" + param, msg: boundMessage(ff.kind, "min", n), from: "len"},
					formRule{tag: "max=" + param, msg: boundMessage(ff.kind, "max", n), from: "len"})
			}
		case "min", "gte", "max", "lte":
			n, err := num(param, lengthKind)
			if err != nil {
				return err
			}
			if name == "min" || name == "gte" {
				set(&sch.Min, n, "min")
			} else {
				set(&sch.Max, n, "max")
			}
		case "gt", "lt":
			n, err := num(param, whole)
			if err != nil {
				return err
			}
			switch {
			case ff.kind == ir.FieldNumber && name == "gt":
				set(&sch.Gt, n, "gt")
			case ff.kind == ir.FieldNumber:
				set(&sch.Lt, n, "lt")
			case name == "gt":
				set(&sch.Min, n+1, "min")
			default:
				set(&sch.Max, n-1, "max")
			}
		case "oneof":
			if ff.kind == ir.FieldFormset {
				return fmt.Errorf("oneof is not a rule of a formset")
			}
			vals, _ := oneofValues(t)
			if len(vals) == 0 {
				return fmt.Errorf("oneof needs values")
			}
			sch.Choices = vals
			ff.rules = append(ff.rules, formRule{tag: t, msg: choicesMessage(vals)})
		case "email", "url":
			if ff.kind != ir.FieldString || param != "" {
				ff.server = append(ff.server, t)
				continue
			}
			if name == "email" {
				sch.Email = true
				ff.rules = append(ff.rules, formRule{tag: t, msg: msgEmail})
			} else {
				sch.URL = true
				ff.rules = append(ff.rules, formRule{tag: t, msg: msgURL})
			}
		default:
			expr, msg := "", ""
			if bp, ok := builtinPatterns[name]; ok && param == "" {
				expr, msg = bp[0], bp[1]
			} else if cr := custom[name]; cr != nil && cr.pattern != nil {
				expr, msg = cr.pattern.String(), cr.message
			}
			if expr == "" || ff.kind != ir.FieldString || sch.Pattern != "" {
				ff.server = append(ff.server, t)
				continue
			}
			sch.Pattern, sch.PatternMessage = expr, msg
			if msg == "" {
				msg = msgPattern
			}
			ff.rules = append(ff.rules, formRule{tag: t, msg: msg})
		}
	}
	for i := range ff.rules {
		if ff.rules[i].from == "" {
			ff.rules[i].from, _, _ = strings.Cut(ff.rules[i].tag, "=")
		}
	}
	return nil
}

// defaultLabel labels a field by its name: due_date is "Due date".
func defaultLabel(name string) string {
	s := strings.ReplaceAll(name, "_", " ")
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

// serverMessage is the message of a failed tag only the server checks.
func serverMessage(custom map[string]*customRule, messages map[string]string, tag string) string {
	name, _, _ := strings.Cut(tag, "=")
	if cr := custom[name]; cr != nil && cr.message != "" {
		return cr.message
	}
	if m := messages[name]; m != "" {
		return m
	}
	return msgInvalid
}
