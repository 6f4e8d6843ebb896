package conformance_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Forms (docs/spec.md §10): the fixture's contact and order_lines, over
// HTTP: the three functions of each, contact's view path (urlencoded, 422
// with an HTML fragment, 303 with the invalidation header and, for htmx,
// HX-Trigger), and formset errors keyed by path.

const contactSchema = `{"name": "contact", "route": "/contact/", "fields": [
	{"name": "name", "type": "string", "label": "Name", "required": true, "max": 100},
	{"name": "email", "type": "string", "label": "Email", "required": true, "email": true},
	{"name": "age", "type": "int", "label": "Age", "required": false, "min": 18, "max": 130},
	{"name": "topic", "type": "string", "label": "Topic", "required": true, "choices": ["sales", "support"]},
	{"name": "message", "type": "string", "label": "Message", "required": true, "min": 10, "max": 2000, "widget": "textarea"}]}`

const orderLinesSchema = `{"name": "order_lines", "fields": [
	{"name": "customer", "type": "string", "label": "Customer", "required": true},
	{"name": "lines", "type": "formset", "label": "Lines", "required": true, "min": 1, "max": 5, "fields": [
		{"name": "sku", "type": "string", "label": "SKU", "required": true, "len": 6},
		{"name": "qty", "type": "int", "label": "Quantity", "required": true, "min": 1, "max": 99}]}]}`

// goodContact is a valid contact submission.
func goodContact() map[string]any {
	return map[string]any{"name": "Ada", "email": "ada@example.com", "age": 36, "topic": "support", "message": "The spec is lovely."}
}

// messageCount is message_count's count, read through ctx/messages/.
func messageCount(t *testing.T) int {
	t.Helper()
	r := do(t, http.MethodGet, prefix+"ctx/messages/", "")
	var b struct {
		MessageCount struct {
			Count *int `json:"count"`
		} `json:"message_count"`
	}
	if err := json.Unmarshal(r.body, &b); err != nil || b.MessageCount.Count == nil {
		t.Fatalf("ctx/messages/: status %d, %s (%v)", r.status, r.body, err)
	}
	return *b.MessageCount.Count
}

// fieldMessages returns the fields of an error envelope.
func fieldMessages(t *testing.T, r response) map[string]string {
	t.Helper()
	var e struct {
		Error struct {
			Fields map[string]string `json:"fields"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body %s: %v", r.body, err)
	}
	return e.Error.Fields
}

func TestFormSchema(t *testing.T) {
	wantResult(t, call(t, "contact_schema", map[string]any{}), contactSchema, `[]`, "")
	wantResult(t, call(t, "order_lines_schema", nil), orderLinesSchema, `[]`, "")
	wantError(t, call(t, "contact_schema", map[string]any{"name": "x"}), http.StatusBadRequest, "invalid_args", "name")
}

func TestFormSubmit(t *testing.T) {
	before := messageCount(t)
	t.Run("every failure at once", func(t *testing.T) {
		bad := map[string]any{"name": strings.Repeat("é", 101), "email": "ada@", "age": 17, "topic": "billing", "message": "too short"}
		r := call(t, "contact", bad)
		wantError(t, r, http.StatusBadRequest, "invalid_args", "name", "email", "age", "topic", "message")
		want := map[string]string{
			"name":    "Use at most 100 characters.",
			"email":   "Enter a valid email address.",
			"age":     "Enter a value of at least 18.",
			"topic":   "Select one of: sales, support.",
			"message": "Use at least 10 characters.",
		}
		for k, m := range want {
			if got := fieldMessages(t, r)[k]; got != m {
				t.Errorf("%s: %q, want %q", k, got, m)
			}
		}
	})
	t.Run("missing and wrongly typed fields", func(t *testing.T) {
		r := call(t, "contact", map[string]any{"age": "old", "message": 12})
		wantError(t, r, http.StatusBadRequest, "invalid_args", "name", "email", "age", "topic", "message")
		got := fieldMessages(t, r)
		if got["name"] != "This field is required." || got["age"] != "Enter a whole number." || got["message"] != "Enter text." {
			t.Errorf("fields %q", got)
		}
	})
	t.Run("unknown field", func(t *testing.T) {
		args := goodContact()
		args["phone"] = "1"
		wantError(t, call(t, "contact", args), http.StatusBadRequest, "invalid_args", "phone")
	})
	if n := messageCount(t); n != before {
		t.Fatalf("invalid submissions stored messages: count %d, was %d", n, before)
	}
	t.Run("valid", func(t *testing.T) {
		r := call(t, "contact", goodContact())
		var res struct {
			Result struct {
				OK bool `json:"ok"`
				ID int  `json:"id"`
			} `json:"result"`
		}
		if err := json.Unmarshal(r.body, &res); err != nil || !res.Result.OK || res.Result.ID < 1 {
			t.Fatalf("result %s (%v)", r.body, err)
		}
		wantJSON(t, "invalidate", mustMember(t, r.body, "invalidate"), `["messages"]`)
		wantHeader(t, r, headerInvalidate, "messages")
		if n := messageCount(t); n != before+1 {
			t.Errorf("message_count %d after a valid submit, want %d", n, before+1)
		}
	})
	t.Run("optional age absent or null", func(t *testing.T) {
		args := goodContact()
		delete(args, "age")
		if r := call(t, "contact", args); r.status != http.StatusOK {
			t.Errorf("without age: %d %s", r.status, r.body)
		}
		args["age"] = nil
		if r := call(t, "contact", args); r.status != http.StatusOK {
			t.Errorf("age null: %d %s", r.status, r.body)
		}
	})
}

func mustMember(t *testing.T, body []byte, name string) []byte {
	t.Helper()
	obj, err := decodeObject(body)
	if err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	return obj[name]
}

func TestFormValidate(t *testing.T) {
	before := messageCount(t)
	wantResult(t, call(t, "contact_validate", map[string]any{"email": "nope", "age": 200}),
		`{"valid": false, "errors": {"email": ["Enter a valid email address."], "age": ["Enter a value of at most 130."]}}`, `[]`, "")
	// Only the fields given are checked: the required ones left out are not reported.
	wantResult(t, call(t, "contact_validate", map[string]any{"name": "Ada"}), `{"valid": true, "errors": {}}`, `[]`, "")
	wantResult(t, call(t, "contact_validate", goodContact()), `{"valid": true, "errors": {}}`, `[]`, "")
	wantResult(t, call(t, "contact_validate", map[string]any{"name": ""}),
		`{"valid": false, "errors": {"name": ["This field is required."]}}`, `[]`, "")
	wantResult(t, call(t, "order_lines_validate", map[string]any{"lines": []any{}}),
		`{"valid": false, "errors": {"lines": ["Add at least 1 row."]}}`, `[]`, "")
	wantResult(t, call(t, "order_lines_validate", map[string]any{"lines": []any{map[string]any{"sku": "ABC", "qty": 0}}}),
		`{"valid": false, "errors": {"lines.0.sku": ["Use exactly 6 characters."], "lines.0.qty": ["This field is required."]}}`, `[]`, "")
	wantError(t, call(t, "contact_validate", map[string]any{"nick": "x"}), http.StatusBadRequest, "invalid_args", "nick")
	wantError(t, call(t, "contact_validate", []any{}), http.StatusBadRequest, "bad_request")
	if n := messageCount(t); n != before {
		t.Errorf("_validate changed the data: message_count %d, was %d", n, before)
	}
}

func TestFormset(t *testing.T) {
	t.Run("too few and too many rows", func(t *testing.T) {
		r := call(t, "order_lines", map[string]any{"customer": "Lin", "lines": []any{}})
		wantError(t, r, http.StatusBadRequest, "invalid_args", "lines")
		if got := fieldMessages(t, r)["lines"]; got != "Add at least 1 row." {
			t.Errorf("lines: %q", got)
		}
		var six []any
		for range 6 {
			six = append(six, map[string]any{"sku": "ABCDEF", "qty": 1})
		}
		six[5] = map[string]any{"sku": "ABC", "qty": 1}
		r = call(t, "order_lines", map[string]any{"customer": "Lin", "lines": six})
		wantError(t, r, http.StatusBadRequest, "invalid_args", "lines", "lines.5.sku")
		if got := fieldMessages(t, r)["lines"]; got != "Add at most 5 rows." {
			t.Errorf("six rows: %q (%s)", got, r.body)
		}
		r = call(t, "order_lines", map[string]any{"customer": "Lin"})
		if got := fieldMessages(t, r)["lines"]; got != "This field is required." {
			t.Errorf("no lines: %q (%s)", got, r.body)
		}
	})
	t.Run("row errors by path", func(t *testing.T) {
		r := call(t, "order_lines", map[string]any{"customer": "", "lines": []any{
			map[string]any{"sku": "ABCDEF", "qty": 2},
			map[string]any{"sku": "ABC", "qty": 100},
			map[string]any{"sku": "ÀBCDÉF", "qty": "two"},
			"not a row",
		}})
		wantError(t, r, http.StatusBadRequest, "invalid_args", "customer", "lines.1.sku", "lines.1.qty", "lines.2.qty", "lines.3")
		want := map[string]string{"customer": "This field is required.", "lines.1.sku": "Use exactly 6 characters.",
			"lines.1.qty": "Enter a value of at most 99.", "lines.2.qty": "Enter a whole number.", "lines.3": "Enter a row as an object."}
		for k, m := range want {
			if got := fieldMessages(t, r)[k]; got != m {
				t.Errorf("%s: %q, want %q", k, got, m)
			}
		}
		wantError(t, call(t, "order_lines", map[string]any{"customer": "x", "lines": []any{map[string]any{"sku": "ABCDEF", "qty": 1, "price": 3}}}),
			http.StatusBadRequest, "invalid_args", "lines.0.price")
	})
	t.Run("valid", func(t *testing.T) {
		r := call(t, "order_lines", map[string]any{"customer": "Grace", "lines": []any{
			map[string]any{"sku": "ABCDEF", "qty": 2}, map[string]any{"sku": "ÀBCDÉF", "qty": 99}}})
		wantResult(t, r, `{"ok": true, "lines": 2}`, `["orders"]`, "orders")
	})
}

func TestFormViewPath(t *testing.T) {
	post := func(t *testing.T, form url.Values, headers ...string) response {
		t.Helper()
		return do(t, http.MethodPost, "/contact/", form.Encode(), append([]string{"Content-Type", formType}, headers...)...)
	}
	good := url.Values{"name": {"Grace"}, "email": {"grace@example.com"}, "age": {""}, "topic": {"sales"}, "message": {"Ten characters at least."}}

	t.Run("GET renders the form", func(t *testing.T) {
		r := do(t, http.MethodGet, "/contact/", "")
		if r.status != http.StatusOK || r.mediaType() != "text/html" {
			t.Fatalf("status %d, %s", r.status, r.header.Get("Content-Type"))
		}
		for _, want := range []string{`<form method="post" action="/contact/"`, `name="email"`, `<option value="support">`, `<textarea id="id_message" name="message" required>`} {
			if !bytes.Contains(r.body, []byte(want)) {
				t.Errorf("the form lacks %q:\n%s", want, r.body)
			}
		}
	})
	t.Run("invalid: 422 with the errors beside their fields", func(t *testing.T) {
		before := messageCount(t)
		bad := url.Values{"name": {"<b>Ada</b>"}, "email": {"ada@"}, "age": {"twelve"}, "topic": {"sales"}, "message": {"short"}}
		r := post(t, bad)
		if r.status != http.StatusUnprocessableEntity || r.mediaType() != "text/html" {
			t.Fatalf("status %d, %s: %s", r.status, r.header.Get("Content-Type"), r.body)
		}
		wantHeader(t, r, headerInvalidate, "")
		for _, want := range []string{
			`<div class="field invalid" data-field="email">`,
			`<ul class="errorlist" id="id_email-errors"><li>Enter a valid email address.</li></ul>`,
			`<ul class="errorlist" id="id_age-errors"><li>Enter a whole number.</li></ul>`,
			`<ul class="errorlist" id="id_message-errors"><li>Use at least 10 characters.</li></ul>`,
			`value="&lt;b&gt;Ada&lt;/b&gt;"`, // the value posted, escaped
		} {
			if !bytes.Contains(r.body, []byte(want)) {
				t.Errorf("the 422 page lacks %q:\n%s", want, r.body)
			}
		}
		if bytes.Contains(r.body, []byte("<b>Ada")) {
			t.Errorf("the page echoes the value unescaped")
		}
		if !bytes.HasPrefix(r.body, []byte("<!doctype html>")) {
			t.Errorf("a plain post gets a whole page; got %.60q", r.body)
		}
		hx := post(t, bad, "HX-Request", "true")
		if hx.status != http.StatusUnprocessableEntity || !bytes.HasPrefix(hx.body, []byte("<form ")) {
			t.Errorf("htmx: status %d, want 422 and the <form> fragment alone: %.80q", hx.status, hx.body)
		}
		if n := messageCount(t); n != before {
			t.Errorf("an invalid post stored a message")
		}
	})
	t.Run("valid: 303 to the success location with the header", func(t *testing.T) {
		before := messageCount(t)
		r := post(t, good)
		if r.status != http.StatusSeeOther {
			t.Fatalf("status %d, want 303: %s", r.status, r.body)
		}
		wantHeader(t, r, "Location", "/contact/thanks/")
		wantHeader(t, r, headerInvalidate, "messages")
		wantHeader(t, r, "HX-Trigger", "")
		if n := messageCount(t); n != before+1 {
			t.Errorf("message_count %d, want %d", n, before+1)
		}
		hx := post(t, good, "HX-Request", "true")
		if hx.status != http.StatusSeeOther {
			t.Fatalf("htmx: status %d", hx.status)
		}
		wantHeader(t, hx, headerInvalidate, "messages")
		wantHeader(t, hx, "HX-Trigger", `{"mizan:invalidate":{"targets":["messages"]}}`)
	})
	t.Run("cross-origin post refused", func(t *testing.T) {
		before := messageCount(t)
		r := post(t, good, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
		wantError(t, r, http.StatusForbidden, "forbidden")
		if n := messageCount(t); n != before {
			t.Errorf("a cross-origin post stored a message")
		}
	})
	t.Run("other methods", func(t *testing.T) {
		r := do(t, http.MethodPut, "/contact/", good.Encode(), "Content-Type", formType)
		wantError(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
		wantHeader(t, r, "Allow", "GET, HEAD, POST")
	})
}
