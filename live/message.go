package live

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/protocol"
)

// The types of the messages a client sends (docs/spec.md §9, and "auth",
// this implementation's way to carry a token).
const (
	typeSubscribe   = "subscribe"
	typeUnsubscribe = "unsubscribe"
	typeCall        = "call"
	typeAuth        = "auth"
)

// Bounds of the parts of a message.
const (
	maxIDLen    = 64 // bytes of a string id as sent, quotes included
	maxIDDigits = 16 // digits of a numeric id (JavaScript integers are exact up to 2^53)
)

// request is one message from a client, checked for shape: the members its
// type needs are there, the others are not.
type request struct {
	// ID is the id as sent, a JSON integer or string, echoed in replies;
	// nil when the message has none (or it could not be read).
	ID json.RawMessage
	// Type is subscribe, unsubscribe, call or auth.
	Type string
	// Context and Params name the instance of a subscribe or unsubscribe;
	// Params holds the wire strings of the values (docs/spec.md §4).
	Context string
	Params  map[string]string
	// Fn and Args are the function and arguments of a call.
	Fn   string
	Args json.RawMessage
	// IdempotencyKey is the "idempotency_key" of a call, or ""
	// (docs/spec.md §12).
	IdempotencyKey string
	// Token is the credential of an auth message.
	Token string
}

// wireRequest is a message as decoded, every member raw so that presence
// can be told from absence.
type wireRequest struct {
	ID      protocol.RawValue `json:"id"`
	Type    protocol.RawValue `json:"type"`
	Context protocol.RawValue `json:"context"`
	Params  protocol.RawValue `json:"params"`
	Fn      protocol.RawValue `json:"fn"`
	Args    protocol.RawValue `json:"args"`
	Token   protocol.RawValue `json:"token"`
	IdemKey protocol.RawValue `json:"idempotency_key"`
}

// badRequest is the error of a message of the wrong shape.
func badRequest(format string, args ...any) *mizan.Error {
	return mizan.NewError(mizan.CodeBadRequest, fmt.Sprintf(format, args...))
}

// parseRequest reads one client message. On an error the returned request
// still carries the message's id when one could be read, for the reply.
func parseRequest(b []byte) (request, *mizan.Error) {
	var req request
	var w wireRequest
	// Member names are exact and given once, as in every request body
	// (docs/spec.md §13.4).
	if err := protocol.UnmarshalStrict(b, &w); err != nil {
		req.ID = salvageID(b)
		if protocol.IsDuplicateName(err) {
			return req, badRequest("a message names a member twice")
		}
		return req, badRequest(`a message must be one JSON object such as {"id": 1, "type": "subscribe", "context": "user", "params": {"user_id": "1"}}`)
	}
	if len(w.ID) > 0 && string(w.ID) != "null" {
		if !validID(json.RawMessage(w.ID)) {
			return req, badRequest(`"id" must be an integer of at most %d digits or a string of at most %d bytes`, maxIDDigits, maxIDLen-2)
		}
		req.ID = json.RawMessage(w.ID)
	}
	if err := stringMember(w.Type, "type", &req.Type); err != nil {
		return req, err
	}
	allowed := []string{"id", "type"}
	switch req.Type {
	case typeSubscribe, typeUnsubscribe:
		allowed = append(allowed, "context", "params")
		if err := stringMember(w.Context, "context", &req.Context); err != nil {
			return req, err
		}
		if !validName(req.Context) {
			return req, badRequest(`"context" must be a context name (letters, digits, '_', '-' and '.')`)
		}
		params, err := parseParams(w.Params)
		if err != nil {
			return req, err
		}
		req.Params = params
	case typeCall:
		allowed = append(allowed, "fn", "args", "idempotency_key")
		if err := stringMember(w.Fn, "fn", &req.Fn); err != nil {
			return req, err
		}
		if len(w.IdemKey) > 0 && string(w.IdemKey) != "null" {
			var key string
			if json.Unmarshal(w.IdemKey, &key) != nil {
				return req, badRequest(`"idempotency_key" must be a string`)
			}
			if _, err := mizan.ParseIdempotencyKey(key); err != nil {
				return req, badRequest(`"idempotency_key" must be 1 to 255 printable ASCII characters`)
			}
			req.IdempotencyKey = key
		}
		if len(w.Args) > 0 && w.Args[0] != '{' && string(w.Args) != "null" {
			return req, badRequest(`"args" must be a JSON object`)
		}
		req.Args = json.RawMessage(w.Args)
	case typeAuth:
		allowed = append(allowed, "token")
		if err := stringMember(w.Token, "token", &req.Token); err != nil {
			return req, err
		}
	case "":
		return req, badRequest(`the message has no "type"; want subscribe, unsubscribe, call or auth`)
	default:
		return req, badRequest(`unknown message type %s; want subscribe, unsubscribe, call or auth`, quote(req.Type))
	}
	if req.ID == nil {
		return req, badRequest(`a %s message needs an "id" (an integer or a string) for its reply`, req.Type)
	}
	members := []struct {
		name string
		raw  protocol.RawValue
	}{{"context", w.Context}, {"params", w.Params}, {"fn", w.Fn}, {"args", w.Args}, {"token", w.Token},
		{"idempotency_key", w.IdemKey}}
	for _, m := range members {
		if len(m.raw) > 0 && !slices.Contains(allowed, m.name) {
			return req, badRequest(`a %s message has no member %q`, req.Type, m.name)
		}
	}
	return req, nil
}

// peekID returns the id of a message that is not otherwise read (one over
// the rate limit), for its reply: the id as sent when the message is a JSON
// object whose "id" parseRequest would accept, else nil.
func peekID(b []byte) json.RawMessage {
	var w struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(b, &w) != nil || len(w.ID) == 0 || string(w.ID) == "null" || !validID(w.ID) {
		return nil
	}
	return w.ID
}

// stringMember decodes a member that must be a non-empty JSON string.
func stringMember(raw protocol.RawValue, name string, dst *string) *mizan.Error {
	if len(raw) == 0 || string(raw) == "null" {
		*dst = ""
		if name == "type" {
			return nil // reported with the list of types
		}
		return badRequest("the message is missing %q", name)
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return badRequest("%q must be a string", name)
	}
	if *dst == "" {
		return badRequest("%q must not be empty", name)
	}
	return nil
}

// validID reports whether an id as sent is a JSON integer of at most
// maxIDDigits digits or a JSON string of at most maxIDLen bytes.
func validID(raw json.RawMessage) bool {
	if raw[0] == '"' {
		var s string
		return len(raw) <= maxIDLen && json.Unmarshal(raw, &s) == nil
	}
	digits := strings.TrimPrefix(string(raw), "-")
	if digits == "" || len(digits) > maxIDDigits || (len(digits) > 1 && digits[0] == '0') {
		return false
	}
	for i := range len(digits) {
		if digits[i] < '0' || digits[i] > '9' {
			return false
		}
	}
	return true
}

// parseParams decodes the params of a subscription: a JSON object (or null,
// or absent) whose values are strings, booleans or integers, returned as
// their wire strings.
func parseParams(raw protocol.RawValue) (map[string]string, *mizan.Error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var m map[string]protocol.RawValue
	if err := protocol.UnmarshalStrict(raw, &m); err != nil {
		return nil, badRequest(`"params" must be a JSON object of strings, booleans and integers`)
	}
	out := make(map[string]string, len(m))
	fields := map[string]string{}
	for k, v := range m {
		if !validName(k) {
			fields[k] = "not a parameter name"
			continue
		}
		s, ok := paramString(json.RawMessage(v))
		if !ok {
			fields[k] = "must be a string, a boolean or an integer"
			continue
		}
		out[k] = s
	}
	if len(fields) > 0 {
		return nil, mizan.NewError(mizan.CodeInvalidArgs, "invalid subscription parameters").WithFields(fields)
	}
	return out, nil
}

// paramString returns the wire string of one parameter value.
func paramString(v json.RawMessage) (string, bool) {
	switch {
	case len(v) == 0:
		return "", false
	case v[0] == '"':
		var s string
		err := json.Unmarshal(v, &s)
		return s, err == nil
	case string(v) == "true" || string(v) == "false":
		return string(v), true
	}
	if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
		return strconv.FormatInt(n, 10), true
	}
	if n, err := strconv.ParseUint(string(v), 10, 64); err == nil {
		return strconv.FormatUint(n, 10), true
	}
	return "", false
}

// validName reports whether s is a context or parameter name: letters,
// digits, '_', '-' and '.'.
func validName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// instanceKey names the instance of context with params: the context, then
// the params sorted by name as a query string.
func instanceKey(context string, params map[string]string) string {
	if len(params) == 0 {
		return context
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString(context)
	for i, k := range keys {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(k))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(params[k]))
	}
	return b.String()
}

// quote returns s as a JSON string, shortened, for messages naming input.
func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	b, _ := json.Marshal(s)
	return string(b)
}

// appendHead appends {"id":<id>,"type":"<typ>" (no id when id is nil).
func appendHead(dst []byte, id json.RawMessage, typ string) []byte {
	dst = append(dst, '{')
	if id != nil {
		dst = append(dst, `"id":`...)
		dst = append(dst, id...)
		dst = append(dst, ',')
	}
	dst = append(dst, `"type":"`...)
	dst = append(dst, typ...)
	return append(dst, '"')
}

// appendOK appends {"id":<id>,"type":"ok"}.
func appendOK(dst []byte, id json.RawMessage) []byte {
	return append(appendHead(dst, id, "ok"), '}')
}

// appendError appends {"id":<id>,"type":"error","error":{...}}: the error
// envelope of docs/spec.md §5 with the id and type in front.
func appendError(dst []byte, id json.RawMessage, e *mizan.Error) []byte {
	dst = append(appendHead(dst, id, "error"), ',')
	env := protocol.AppendEnvelope(nil, e.Code(), e.Message(), e.Fields())
	return append(dst, env[1:]...) // "error":{...}}
}

// appendResult appends {"id":<id>,"type":"result","result":...,"invalidate":[...]},
// with "replayed":true after the targets for the repeat of an idempotent
// call.
func appendResult(dst []byte, id json.RawMessage, result json.RawMessage, targets []mizan.Target, replayed bool) ([]byte, error) {
	dst = append(appendHead(dst, id, "result"), `,"result":`...)
	if len(result) == 0 {
		result = json.RawMessage("null")
	}
	dst = append(dst, result...)
	dst = append(dst, `,"invalidate":`...)
	dst, err := protocol.AppendTargets(dst, targets)
	if err != nil {
		return nil, err
	}
	if replayed {
		dst = append(dst, `,"replayed":true`...)
	}
	return append(dst, '}'), nil
}

// appendInvalidate appends {"type":"invalidate","targets":[...]}.
func appendInvalidate(dst []byte, targets []mizan.Target) ([]byte, error) {
	dst = append(appendHead(dst, nil, "invalidate"), `,"targets":`...)
	dst, err := protocol.AppendTargets(dst, targets)
	if err != nil {
		return nil, err
	}
	return append(dst, '}'), nil
}

// salvageID returns the id of a message that did not decode strictly (a
// member named twice, an unknown member), so that the refusal can name it:
// when b is one well-formed JSON object with exactly one member named
// "id", whose value is a valid id. Otherwise nil: the refusal has no id.
func salvageID(b []byte) json.RawMessage {
	dec := jsontext.NewDecoder(bytes.NewReader(b), jsontext.AllowDuplicateNames(true))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return nil
	}
	var id json.RawMessage
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return nil
		}
		name := tok.String() // before the next read voids tok
		v, err := dec.ReadValue()
		if err != nil {
			return nil
		}
		if name == "id" {
			if id != nil {
				return nil // two ids: neither is the message's
			}
			id = json.RawMessage(slices.Clone(v))
		}
	}
	if _, err := dec.ReadToken(); err != nil { // '}'
		return nil
	}
	if _, err := dec.ReadToken(); err != io.EOF { // nothing after the object
		return nil
	}
	if id == nil || string(id) == "null" || !validID(id) {
		return nil
	}
	return id
}
