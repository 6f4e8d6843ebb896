package mizan

import (
	"context"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
)

// The client/server rule table (testdata/forms/rules.json, docs/forms.md):
// for every rule and a set of edge values, the server's checks give the
// errors the table lists, and the schema derived from the tag is the one
// the table gives to clients. frontends/base/test runs the client checker
// (@mizan/base/forms) over the same file; both run in CI, so a client and
// the server that disagree on a value fail one of them.

type ruleTable struct {
	Groups []struct {
		Tag     string          `json:"tag"`
		Type    string          `json:"type"`
		RowType string          `json:"row_type"`
		RowTag  string          `json:"row_tag"`
		Field   json.RawMessage `json:"field"`
		Cases   []struct {
			Value  json.RawMessage     `json:"value"`
			Errors map[string][]string `json:"errors"`
		} `json:"cases"`
	} `json:"groups"`
}

// tableGoType is the Go type of a table field of kind typ under tag.
func tableGoType(t *testing.T, typ, tag string) reflect.Type {
	var base reflect.Type
	switch typ {
	case "string":
		base = reflect.TypeFor[string]()
	case "int":
		base = reflect.TypeFor[int64]()
	case "number":
		base = reflect.TypeFor[float64]()
	case "bool":
		base = reflect.TypeFor[bool]()
	default:
		t.Fatalf("table: unknown type %q", typ)
	}
	if strings.HasPrefix(tag, "omitempty") && typ != "string" && typ != "bool" {
		return reflect.PointerTo(base)
	}
	return base
}

func TestFormRuleTable(t *testing.T) {
	raw, err := os.ReadFile("testdata/forms/rules.json")
	if err != nil {
		t.Fatal(err)
	}
	var table ruleTable
	if err := json.Unmarshal(raw, &table); err != nil {
		t.Fatalf("testdata/forms/rules.json: %v", err)
	}
	a := New(Config{})
	a.validate = newValidator()
	cases := 0
	for gi, g := range table.Groups {
		var ft reflect.Type
		if g.Type == "formset" {
			row := reflect.StructOf([]reflect.StructField{{Name: "V", Type: tableGoType(t, g.RowType, g.RowTag),
				Tag: reflect.StructTag(`json:"v" validate:"` + g.RowTag + `"`)}})
			ft = reflect.SliceOf(row)
		} else {
			ft = tableGoType(t, g.Type, g.Tag)
		}
		st := reflect.StructOf([]reflect.StructField{{Name: "F", Type: ft,
			Tag: reflect.StructTag(`json:"f,omitempty" validate:"` + g.Tag + `"`)}})
		s, err := newArgSchema(st)
		if err != nil {
			t.Fatalf("group %d (%s): %v", gi, g.Tag, err)
		}
		fields, err := formFields(s, nil, nil, true)
		if err != nil {
			t.Errorf("group %d (%s %s): %v", gi, g.Type, g.Tag, err)
			continue
		}
		got, _ := json.Marshal(fields[0].schema)
		if ok, err := jsonSame(got, g.Field); err != nil || !ok {
			t.Errorf("group %d (%s %s): schema %s, the table says %s (%v)", gi, g.Type, g.Tag, got, g.Field, err)
		}
		fd := &formDef{name: "t", submit: &Func{args: s, newIn: func() any { return reflect.New(st).Interface() }},
			fields: fields, byName: map[string]*formField{"f": &fields[0]}}
		for ci, c := range g.Cases {
			cases++
			args := []byte("{}")
			if len(c.Value) > 0 {
				args = append(append([]byte(`{"f":`), c.Value...), '}')
			}
			fi, merr := fd.decodeJSON(args, ci%2 == 0) // both decoding paths
			if merr != nil {
				t.Errorf("group %d (%s %s) case %d (%s): decoding: %v", gi, g.Type, g.Tag, ci, c.Value, merr)
				continue
			}
			errs := a.formErrors(context.Background(), fd, fi)
			if len(errs) == 0 && len(c.Errors) == 0 {
				continue
			}
			if !reflect.DeepEqual(errs, c.Errors) {
				t.Errorf("group %d (%s %s) case %d (%s): the server says %q, the table %q", gi, g.Type, g.Tag, ci, c.Value, errs, c.Errors)
			}
		}
	}
	if cases < 100 {
		t.Errorf("the table has %d cases; it should cover every rule and its edge values", cases)
	}
}

// jsonSame reports whether two JSON texts hold equal values.
func jsonSame(a, b []byte) (bool, error) {
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		return false, err
	}
	return reflect.DeepEqual(va, vb), nil
}

type fuzzContact struct {
	Name  string  `json:"name" validate:"required,max=5"`
	Age   *int    `json:"age,omitempty" validate:"omitempty,min=18"`
	Score float64 `json:"score" validate:"omitempty,lt=1"`
	OK    bool    `json:"ok"`
}

// FuzzFormDecodePaths checks that a submit's quick decoding (the calls'
// fast path) and the exact one give the same arguments and the same errors.
func FuzzFormDecodePaths(f *testing.F) {
	for _, s := range []string{`{"name":"Ada"}`, `{"name":"Ada","age":20,"score":0.5,"ok":true}`, `{"name":null}`,
		`{"age":"x"}`, `{"Name":"a"}`, `{"name":"a","name":"b"}`, `{"name":"\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"}`, `{}`} {
		f.Add(s)
	}
	a := New(Config{})
	a.validate = newValidator()
	s, err := newArgSchema(reflect.TypeFor[fuzzContact]())
	if err != nil {
		f.Fatal(err)
	}
	fields, err := formFields(s, nil, nil, true)
	if err != nil {
		f.Fatal(err)
	}
	fd := &formDef{name: "c", submit: &Func{args: s, newIn: func() any { return new(fuzzContact) }}, fields: fields, byName: map[string]*formField{}}
	for i := range fields {
		fd.byName[fields[i].name] = &fd.fields[i]
	}
	f.Fuzz(func(t *testing.T, raw string) {
		quick, qerr := fd.decodeJSON([]byte(raw), true)
		exact, eerr := fd.decodeJSON([]byte(raw), false)
		if (qerr == nil) != (eerr == nil) {
			t.Fatalf("%s: quick error %v, exact %v", raw, qerr, eerr)
		}
		if qerr != nil {
			if qerr.Error() != eerr.Error() {
				t.Fatalf("%s: quick error %v, exact %v", raw, qerr, eerr)
			}
			return
		}
		if !reflect.DeepEqual(quick.in, exact.in) {
			t.Fatalf("%s: quick %+v, exact %+v", raw, quick.in, exact.in)
		}
		qe, ee := a.formErrors(context.Background(), fd, quick), a.formErrors(context.Background(), fd, exact)
		if !reflect.DeepEqual(qe, ee) {
			t.Fatalf("%s: quick errors %v, exact %v", raw, qe, ee)
		}
	})
}
