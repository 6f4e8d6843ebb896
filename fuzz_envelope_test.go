package mizan_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"testing"
)

// FuzzCallEnvelope posts arbitrary bytes to call/ and checks the decoding
// of the call envelope (docs/spec.md §2, §5; the hardening issue): the
// answer is never a panic or a 5xx, always a success or the 4xx error
// envelope (checkAnswer), and a body that is not exactly one JSON object
// of the members "fn" and "args", each at most once, with no member named
// twice in any object inside it, is never a success. Member names are
// compared decoded, as JSON defines them ("f\u006e" is "fn").
func FuzzCallEnvelope(f *testing.F) {
	for _, s := range []string{
		`{"fn":"reset_all"}`,
		`{"fn":"reset_all","args":{}}`,
		`{"fn":"reset_all","args":null}`,
		`{"fn":"echo","args":{"text":"x"}}`,
		`{"args":{"user_id":1,"name":"Ada"},"fn":"update_profile"}`,
		`{"f\u006e":"reset_all","\u0061rgs":{}}`,
		` {"fn" : "reset_all"} `,
		`{"FN":"reset_all"}`,
		`{"Fn":"reset_all","ARGS":{}}`,
		`{"fn":"echo","fn":"reset_all"}`,
		`{"f\u006e":"echo","fn":"reset_all"}`,
		`{"fn":"reset_all","args":{},"args":{}}`,
		`{"fn":"reset_all","extra":1}`,
		`{"fn":"reset_all","":null}`,
		`{"fn":"echo","args":{"text":"a","text":"b"}}`,
		`{"fn":"echo","args":{"text":"a","t\u0065xt":"b"}}`,
		`{"fn":"update_profile","args":{"user_id":1,"name":"x","user_id":2}}`,
		`{"fn":"archive_orders","args":{"user_id":1,"status":"open"}}`,
		`{"fn":"update_profile","args":{"user_id":1e400,"name":"x"}}`,
		`{"fn":"update_profile","args":{"user_id":9223372036854775808,"name":"x"}}`,
		"{\"fn\":\"reset_all\xff\"}", "\xef\xbb\xbf{\"fn\":\"reset_all\"}",
		`{"fn":"reset_all"} {"fn":"echo"}`, `{"fn":"reset_all"}x`, `{"fn":"reset_all",}`,
		`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[`, `{"fn":"echo","args":[[[[[[[[[[]]]]]]]]]]}`,
		`[{"fn":"reset_all"}]`, `null`, `""`, ``,
	} {
		f.Add([]byte(s))
	}
	app := fuzzApp(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest("POST", "/api/mizan/call/", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		app.ServeHTTP(w, req)
		checkAnswer(t, w)
		if w.Code < 300 {
			if err := exactEnvelope(body); err != nil {
				t.Fatalf("%q: %d %s, but the body is no call envelope: %v", body, w.Code, w.Body, err)
			}
		}
	})
}

// exactEnvelope returns why body is not exactly one JSON object whose
// members are "fn" and "args", each at most once, without a member named
// twice in any object it holds; nil when it is.
func exactEnvelope(body []byte) error {
	if !json.Valid(body) {
		return errors.New("not one JSON value")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != json.Delim('{') {
		return fmt.Errorf("%v, not an object", tok)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name := tok.(string)
		if name != "fn" && name != "args" {
			return fmt.Errorf("member %q", name)
		}
		if seen[name] {
			return fmt.Errorf("member %q twice", name)
		}
		seen[name] = true
		if err := uniqueNames(dec); err != nil {
			return fmt.Errorf("in %q: %w", name, err)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the object")
	}
	return nil
}

// uniqueNames reads one value from dec and returns an error when an object
// in it names a member twice.
func uniqueNames(dec *json.Decoder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			name := tok.(string)
			if seen[name] {
				return fmt.Errorf("member %q twice", name)
			}
			seen[name] = true
			if err := uniqueNames(dec); err != nil {
				return err
			}
		}
		_, err = dec.Token()
		return err
	case json.Delim('['):
		for dec.More() {
			if err := uniqueNames(dec); err != nil {
				return err
			}
		}
		_, err = dec.Token()
		return err
	}
	return nil
}
