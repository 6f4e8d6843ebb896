package mizan

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

type fastInner struct {
	Tag string `json:"tag"`
}

type fastEmbedded struct {
	Page int `json:"page,omitempty"`
}

// fastArgs has a parameter of every shape the fast path must agree on:
// required, optional, nullable, lists, objects, records, embedded fields.
type fastArgs struct {
	fastEmbedded
	UserID int               `json:"user_id"`
	Name   string            `json:"name"`
	Note   *string           `json:"note"`
	Limit  int               `json:"limit,omitempty"`
	IDs    []int             `json:"ids,omitempty"`
	Inner  fastInner         `json:"inner,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
	Any    any               `json:"any,omitempty"`
}

// exactDecode is decodeJSON without the fast path.
func exactDecode(s *argSchema, raw []byte, dst reflect.Value) (presence, *Error) {
	shadow := s.shadow
	s.shadow = nil
	defer func() { s.shadow = shadow }()
	return s.decodeJSON(raw, dst)
}

// checkFastAgrees fails unless the fast path, when it accepts raw, gives
// what the exact path gives.
func checkFastAgrees(t *testing.T, s *argSchema, raw []byte) (accepted bool) {
	t.Helper()
	if !json.Valid(raw) {
		return false
	}
	raw = bytes.TrimSpace(raw)
	fast := reflect.New(s.typ).Elem()
	given, ok := s.decodeFast(raw, fast)
	if !ok {
		if !reflect.DeepEqual(fast.Interface(), reflect.Zero(s.typ).Interface()) {
			t.Fatalf("fast path refused %s but changed dst: %+v", raw, fast.Interface())
		}
		return false
	}
	exact := reflect.New(s.typ).Elem()
	egiven, merr := exactDecode(s, raw, exact)
	if merr != nil {
		t.Fatalf("fast path accepted %s, exact path refused it: %v %v", raw, merr, merr.fields)
	}
	if given != egiven {
		t.Fatalf("%s: presence fast %b, exact %b", raw, given, egiven)
	}
	if !reflect.DeepEqual(fast.Interface(), exact.Interface()) {
		t.Fatalf("%s: fast %+v, exact %+v", raw, fast.Interface(), exact.Interface())
	}
	return true
}

func fastSchema(t testing.TB) *argSchema {
	s, err := newArgSchema(reflect.TypeFor[fastArgs]())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var fastSeeds = []string{
	`{"user_id":5,"name":"Ryth"}`,
	`{"user_id":5,"name":"Ryth","note":null}`,
	`{"user_id":5,"name":"Ryth","note":"hi","limit":3,"ids":[1,2],"inner":{"tag":"x"},"labels":{"a":"b"},"any":[1,{"x":null}],"page":2}`,
	` { "name" : "a\"b" , "user_id" : 1, "note": "n" } `,
	`{"USER_ID":5,"name":"x"}`,
	`{"user_id":5,"USER_ID":6,"name":"x"}`,
	`{"user\u005fid":5,"name":"x"}`,
	`{"user_id":"5","name":"x"}`,
	`{"user_id":null,"name":"x"}`,
	`{"name":"x"}`,
	`{"user_id":5,"name":"x","extra":1}`,
	`{"user_id":5,"name":"user_id","inner":{"user_id":1}}`,
	`{"user_id":5,"name":"x","limit":null}`,
	`{"user_id":1e2,"name":"x"}`,
	`{}`,
}

func TestArgsFastPathAgreesWithExact(t *testing.T) {
	s := fastSchema(t)
	accepted := map[string]bool{}
	for _, raw := range fastSeeds {
		accepted[raw] = checkFastAgrees(t, s, []byte(raw))
	}
	// The fast path must take the common good calls, and leave every
	// doubtful one to the exact path.
	for raw, want := range map[string]bool{
		fastSeeds[2]: true, fastSeeds[3]: true,
		fastSeeds[0]:                           false, // note is required: the exact path says so
		fastSeeds[1]:                           false, // null for a required pointer: allowed, but only the exact path tells null from absent
		`{"USER_ID":5,"name":"x"}`:             false,
		`{"user_id":5,"USER_ID":6,"name":"x"}`: false,
		`{"user\u005fid":5,"name":"x"}`:        false,
		`{"user_id":"5","name":"x"}`:           false,
		`{"user_id":null,"name":"x"}`:          false,
		`{"name":"x"}`:                         false,
		`{"user_id":5,"name":"x","extra":1}`:   false,
	} {
		if accepted[raw] != want {
			t.Errorf("fast path accepted %s: %v, want %v", raw, accepted[raw], want)
		}
	}
	// What the fast path leaves to the exact path still gets its precise
	// error.
	dst := reflect.New(s.typ).Elem()
	if _, merr := s.decodeJSON([]byte(`{"USER_ID":5,"name":"x"}`), dst); merr == nil ||
		merr.fields["USER_ID"] != "unknown argument" || merr.fields["user_id"] != "required" {
		t.Errorf("inexact key: %v", merr)
	}
}

func TestObjectKeys(t *testing.T) {
	for raw, want := range map[string][]string{
		`{}`: {},
		` {"a":1 , "b" : [1,{"c":"}"}] ,"d":"x\"y"}`: {"a", "b", "d"},
		`{"a":{"b":{"c":[]}},"e":null}`:              {"a", "e"},
		`{"a":true,"b":false}`:                       {"a", "b"},
		`[1]`:                                        nil,
		`{"a\n":1}`:                                  nil,
	} {
		var got []string
		ok := objectKeys([]byte(raw), func(k []byte) bool { got = append(got, string(k)); return true })
		if want == nil {
			if ok {
				t.Errorf("%s: accepted, keys %q", raw, got)
			}
			continue
		}
		if !ok || len(got) != len(want) {
			t.Errorf("%s: ok=%v keys %q, want %q", raw, ok, got, want)
			continue
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s: keys %q, want %q", raw, got, want)
			}
		}
	}
}

// FuzzArgsFastPath: whatever the fast path accepts, the exact path accepts
// with the same arguments and the same presence.
func FuzzArgsFastPath(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add([]byte(s))
	}
	s := fastSchema(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkFastAgrees(t, s, raw)
	})
}
