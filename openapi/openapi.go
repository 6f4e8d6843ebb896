// Package openapi builds an OpenAPI 3.1 document (JSON Schema 2020-12)
// describing an app's protocol endpoints from its IR (package ir,
// docs/ir.md), so that third-party tools (Swagger UI, Postman, Redocly,
// openapi-typescript, fuzzers) can read a Mizan API. See docs/openapi.md.
//
// Each callable function (a mutation, or a read without a context, that is
// not a view) is one operation, POST <prefix>call/<fn>/ with the arguments
// object as the whole body (the alias of POST <prefix>call/, docs/spec.md
// §2), whose operationId is the function's name. Each context is one
// operation, GET <prefix>ctx/<context>/, with one query parameter per
// context parameter, answering the bundle of every function of the
// context; its operationId is "fetch_<context>" (or "ctx.<context>" when
// that name is taken by a function). The session endpoint, and with
// [Options.Auth] the sign-in endpoint, are described too.
//
// The document is deterministic: the same IR and options give the same
// bytes.
package openapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/mizan-afi/mizan/ir"
)

// Defaults of [Options].
const (
	DefaultTitle      = "Mizan API"
	DefaultVersion    = "1.0.0"
	DefaultPrefix     = "/api/mizan/"
	DefaultCSRFHeader = "X-CSRFToken"
	DefaultCSRFCookie = "csrftoken"
)

// Names of the components this package adds to every document. They hold a
// dot, which an IR type name never does, so they cannot collide with the
// app's types.
const (
	SchemaError  = "mizan.Error"  // the error envelope (docs/spec.md §5)
	SchemaTarget = "mizan.Target" // an invalidation target (docs/spec.md §3)
)

// The security schemes of every document.
const (
	SecurityBearer     = "bearer"     // Authorization: Bearer <access token> (a JWT)
	SecurityCSRFHeader = "csrfHeader" // the CSRF header a cookie session repeats
	SecurityCSRFCookie = "csrfCookie" // the CSRF cookie set by session/
)

// Options are the settings of [Generate] that the IR does not hold.
type Options struct {
	// Title is info.title; "" means DefaultTitle.
	Title string
	// Version is info.version, the version of the app's API; "" means
	// DefaultVersion.
	Version string
	// Description is info.description; "" gives a generated one.
	Description string
	// Prefix is the path of the endpoints ("/api/mizan/"); "" means the
	// IR's prefix, or DefaultPrefix when the IR has none.
	Prefix string
	// Server is the URL of servers[0]; "" means "/", the host serving the
	// document.
	Server string
	// CSRFHeader and CSRFCookie are the app's Config.CSRFHeaderName and
	// Config.CSRFCookieName; "" means their defaults.
	CSRFHeader string
	CSRFCookie string
	// Auth describes POST auth/token/ (sign-in, docs/spec.md §8): set it
	// when the app has sign-in on (Config.Auth).
	Auth bool
}

// Generate returns the OpenAPI 3.1 document of doc as indented JSON
// ending in a newline.
func Generate(doc *ir.Document, opts Options) ([]byte, error) {
	d, err := Build(doc, opts)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return nil, fmt.Errorf("openapi: encoding the document: %w", err)
	}
	return buf.Bytes(), nil
}

// Build returns the OpenAPI 3.1 document of doc as JSON values (maps,
// slices, strings, numbers, booleans), for a program that adds to it
// before encoding it. encoding/json writes it with sorted keys.
func Build(doc *ir.Document, opts Options) (map[string]any, error) {
	if doc == nil {
		return nil, errors.New("openapi: no IR document")
	}
	g := &gen{doc: doc, opts: opts.withDefaults(doc)}
	if !strings.HasPrefix(g.opts.Prefix, "/") || !strings.HasSuffix(g.opts.Prefix, "/") {
		return nil, fmt.Errorf("openapi: prefix %q must start and end with /", g.opts.Prefix)
	}
	return g.document()
}

func (o Options) withDefaults(doc *ir.Document) Options {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&o.Title, DefaultTitle)
	def(&o.Version, DefaultVersion)
	def(&o.Prefix, doc.Prefix)
	def(&o.Prefix, DefaultPrefix)
	def(&o.Server, "/")
	def(&o.CSRFHeader, DefaultCSRFHeader)
	def(&o.CSRFCookie, DefaultCSRFCookie)
	return o
}

type (
	obj = map[string]any
	arr = []any
)

type gen struct {
	doc  *ir.Document
	opts Options
}

func (g *gen) document() (obj, error) {
	paths := obj{}
	schemas := obj{}
	for _, t := range g.doc.Types {
		s, err := g.typeDef(t)
		if err != nil {
			return nil, err
		}
		schemas[t.Name] = s
	}
	schemas[SchemaError] = errorSchema()
	schemas[SchemaTarget] = targetSchema()

	opIDs := map[string]bool{}
	for _, f := range g.doc.Functions {
		if f.IsCallable() {
			opIDs[f.Name] = true
		}
	}
	var tags arr
	hasCalls := false
	for i := range g.doc.Functions {
		f := &g.doc.Functions[i]
		if !f.IsCallable() {
			continue
		}
		hasCalls = true
		op, err := g.callOperation(f)
		if err != nil {
			return nil, err
		}
		paths[g.opts.Prefix+"call/"+f.Name+"/"] = obj{"post": op}
	}
	if hasCalls {
		tags = append(tags, obj{"name": "functions", "description": "Callable functions (mutations and standalone reads): POST call/<fn>/ with the arguments as the body, the alias of POST call/ (docs/spec.md §2)."})
	}
	contexts := g.doc.Contexts()
	for _, c := range contexts {
		id := "fetch_" + c.Name
		if opIDs[id] || !validOpID(id) {
			id = "ctx." + c.Name
		}
		opIDs[id] = true
		op, err := g.contextOperation(c, id)
		if err != nil {
			return nil, err
		}
		paths[g.opts.Prefix+"ctx/"+c.Name+"/"] = obj{"get": op}
	}
	if len(contexts) > 0 {
		tags = append(tags, obj{"name": "contexts", "description": "Context fetches: GET ctx/<context>/ runs every function of the context and answers their results keyed by function name (docs/spec.md §2)."})
	}
	paths[g.opts.Prefix+"session/"] = obj{"get": g.sessionOperation()}
	if g.opts.Auth {
		paths[g.opts.Prefix+"auth/token/"] = obj{"post": g.tokenOperation()}
	}
	tags = append(tags, obj{"name": "session", "description": "The session and sign-in endpoints (docs/spec.md §2 and §8)."})

	desc := g.opts.Description
	if desc == "" {
		desc = "The protocol endpoints of a Mizan app (docs/spec.md), generated from its IR by `mizan openapi`. " +
			"Every failure is the error envelope `{\"error\": {\"code\", \"message\", \"fields\"}}` with a non-2xx status. " +
			"A mutation's answer names what it invalidated, in its body (`invalidate`) and in the `X-Mizan-Invalidate` header."
	}
	return obj{
		"openapi":           "3.1.0",
		"jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
		"info": obj{
			"title":       g.opts.Title,
			"version":     g.opts.Version,
			"description": desc,
			"license":     obj{"name": "Proprietary", "identifier": "LicenseRef-Proprietary"},
		},
		"servers": arr{obj{"url": g.opts.Server, "description": "The app's host; the paths include the endpoint prefix " + g.opts.Prefix}},
		"tags":    tags,
		"paths":   paths,
		"components": obj{
			"schemas":         schemas,
			"responses":       errorResponses(),
			"headers":         headers(),
			"securitySchemes": g.securitySchemes(),
		},
	}, nil
}

// validOpID reports whether s may be an operationId (URL-safe).
func validOpID(s string) bool {
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return s != ""
}

// The error statuses, each a component response.
var errorStatuses = []struct {
	status int
	name   string
	desc   string
}{
	{400, "mizan.BadRequest", "`bad_request` (malformed JSON, wrong shape, a bad Idempotency-Key) or `invalid_args` (a missing, unknown or wrongly typed argument; `fields` says which)."},
	{401, "mizan.Unauthorized", "`unauthorized`: no identity where the function requires one, or credentials presented and refused."},
	{403, "mizan.Forbidden", "`forbidden`: the auth guard refused the caller, the CSRF token is missing or wrong (cookie sessions), or a cross-origin request was refused."},
	{404, "mizan.NotFound", "`not_found`: an unknown function or context, or the function's own not_found."},
	{409, "mizan.Conflict", "`idempotency_in_flight` (a repeat while the first request with the key still runs, docs/spec.md §12), or the function's own error (`conflict`)."},
	{413, "mizan.PayloadTooLarge", "`payload_too_large`: the body is larger than the app accepts."},
	{422, "mizan.IdempotencyMismatch", "`idempotency_mismatch`: the Idempotency-Key was used with another function or other arguments (docs/spec.md §12)."},
	{429, "mizan.RateLimited", "`rate_limited`: too many requests; `Retry-After` says when to try again."},
	{500, "mizan.Internal", "`internal`: an unexpected error (logged with detail on the server, never sent)."},
	{503, "mizan.Unavailable", "`unavailable`: a backing service (session or idempotency store) is down."},
	{0, "mizan.Default", "The function's own error, with the code and status it chose; always the error envelope."},
}

func errorResponses() obj {
	out := obj{}
	for _, e := range errorStatuses {
		r := obj{
			"description": e.desc,
			"content":     obj{"application/json": obj{"schema": ref(SchemaError)}},
		}
		if e.status == 429 {
			r["headers"] = obj{"Retry-After": obj{"$ref": "#/components/headers/Retry-After"}}
		}
		out[e.name] = r
	}
	return out
}

// errorRefs returns the error responses of an operation, by status.
func errorRefs(responses obj, statuses ...int) {
	for _, e := range errorStatuses {
		if e.status == 0 || slices.Contains(statuses, e.status) {
			key := "default"
			if e.status != 0 {
				key = fmt.Sprint(e.status)
			}
			responses[key] = obj{"$ref": "#/components/responses/" + e.name}
		}
	}
}

func headers() obj {
	return obj{
		"X-Mizan-Invalidate": obj{
			"description": "The invalidation targets of the answer, as contexts with parameters (`user;user_id=5, notifications`; docs/spec.md §3). Absent when there are none.",
			"schema":      obj{"type": "string"},
		},
		"Idempotent-Replayed": obj{
			"description": "`true` on the kept answer of a repeated idempotent call (docs/spec.md §12).",
			"schema":      obj{"type": "string", "enum": arr{"true"}},
		},
		"Retry-After": obj{
			"description": "Seconds to wait before trying again.",
			"schema":      obj{"type": "string", "pattern": "^[0-9]+$"},
		},
	}
}

func (g *gen) securitySchemes() obj {
	return obj{
		SecurityBearer: obj{
			"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
			"description": "An access token of auth/token/ (docs/spec.md §8), as `Authorization: Bearer <access>`. Bearer callers need no CSRF token.",
		},
		SecurityCSRFHeader: obj{
			"type": "apiKey", "in": "header", "name": g.opts.CSRFHeader,
			"description": "For a caller signed in with a cookie session: the CSRF token of session/, repeated in this header on every POST (docs/spec.md §2).",
		},
		SecurityCSRFCookie: obj{
			"type": "apiKey", "in": "cookie", "name": g.opts.CSRFCookie,
			"description": "The CSRF cookie session/ sets; sent by the browser, repeated in the CSRF header.",
		},
	}
}

// security returns an operation's security requirements: guarded ones
// need a bearer token or a cookie session with its CSRF token (post) ;
// others take either, or nothing.
func security(guarded, post bool) arr {
	var out arr
	if !guarded {
		out = append(out, obj{})
	}
	out = append(out, obj{SecurityBearer: arr{}})
	if post {
		out = append(out, obj{SecurityCSRFHeader: arr{}, SecurityCSRFCookie: arr{}})
	}
	return out
}

func errorSchema() obj {
	return obj{
		"description": "The error envelope of every failure (docs/spec.md §5).",
		"type":        "object",
		"properties": obj{
			"error": obj{
				"type": "object",
				"properties": obj{
					"code": obj{
						"type":        "string",
						"description": "bad_request, invalid_args, unauthorized, forbidden, not_found, method_not_allowed, payload_too_large, rate_limited, idempotency_mismatch, idempotency_in_flight, unavailable, internal, or a function's own code.",
						"examples":    arr{"invalid_args"},
					},
					"message": obj{"type": "string", "description": "A human sentence."},
					"fields": obj{
						"type":                 "object",
						"description":          "Per argument or form field (`lines.0.sku`), the message; only where it applies.",
						"additionalProperties": obj{"type": "string"},
					},
				},
				"required":             arr{"code", "message"},
				"additionalProperties": false,
			},
		},
		"required":             arr{"error"},
		"additionalProperties": false,
	}
}

func targetSchema() obj {
	value := obj{"type": arr{"string", "integer", "boolean"}}
	return obj{
		"description": "An invalidation target (docs/spec.md §3): a context name (broad), or a context with parameters, optionally narrowed to one function.",
		"oneOf": arr{
			obj{"type": "string", "description": "A broad target: every instance of the context."},
			obj{
				"type": "object",
				"properties": obj{
					"context":  obj{"type": "string"},
					"function": obj{"type": "string"},
					"params":   obj{"type": "object", "additionalProperties": value},
				},
				"required":             arr{"context"},
				"additionalProperties": false,
			},
		},
	}
}

func ref(name string) obj { return obj{"$ref": "#/components/schemas/" + name} }

// callOperation is POST call/<fn>/.
func (g *gen) callOperation(f *ir.Function) (obj, error) {
	args, required, err := g.paramsSchema(f.Params)
	if err != nil {
		return nil, fmt.Errorf("openapi: function %s: %w", f.Name, err)
	}
	if f.Form.Role == ir.FormSubmit {
		if fd, ok := g.doc.Form(f.Form.Name); ok {
			formRules(args["properties"].(obj), fd.Fields)
		}
	}
	if f.Result == nil {
		return nil, fmt.Errorf("openapi: function %s: no result type", f.Name)
	}
	result, err := g.typeRef(*f.Result, false)
	if err != nil {
		return nil, fmt.Errorf("openapi: function %s: result: %w", f.Name, err)
	}
	kind := "Mutation"
	if f.Kind == ir.KindQuery {
		kind = "Read"
	}
	var notes []string
	if f.Auth != "" {
		notes = append(notes, "Auth: "+f.Auth+".")
	}
	if len(f.Affects) > 0 {
		var ts []string
		for _, a := range f.Affects {
			t := a.Context
			if a.Function != "" {
				t += "." + a.Function
			}
			if len(a.ScopedBy) > 0 {
				t += " (scoped by " + strings.Join(a.ScopedBy, ", ") + ")"
			}
			if a.CallerScoped {
				t += " (caller-scoped)"
			}
			ts = append(ts, t)
		}
		notes = append(notes, "Affects: "+strings.Join(ts, "; ")+".")
	}
	if f.Form.Name != "" {
		notes = append(notes, "Form "+f.Form.Name+", role "+f.Form.Role+".")
	}
	if f.WebSocket {
		notes = append(notes, "Also callable over the WebSocket transport.")
	}
	desc := kind + " `" + f.Name + "`: the same as POST call/ with `{\"fn\": \"" + f.Name + "\", \"args\": <body>}`."
	if len(notes) > 0 {
		desc += " " + strings.Join(notes, " ")
	}
	body := obj{
		"required": required,
		"content":  obj{"application/json": obj{"schema": args}},
	}
	if !required {
		body["description"] = "The arguments; an empty body or `null` means none."
	} else {
		body["description"] = "The arguments."
	}
	responses := obj{
		"200": obj{
			"description": "The function's result and the targets it invalidated.",
			"headers": obj{
				"X-Mizan-Invalidate":  obj{"$ref": "#/components/headers/X-Mizan-Invalidate"},
				"Idempotent-Replayed": obj{"$ref": "#/components/headers/Idempotent-Replayed"},
			},
			"content": obj{"application/json": obj{"schema": obj{
				"type": "object",
				"properties": obj{
					"result":     result,
					"invalidate": obj{"type": "array", "items": ref(SchemaTarget)},
				},
				"required":             arr{"result", "invalidate"},
				"additionalProperties": false,
			}}},
		},
	}
	errorRefs(responses, 400, 401, 403, 404, 409, 413, 422, 429, 500, 503)
	return obj{
		"operationId": f.Name,
		"summary":     kind + " " + f.Name,
		"description": desc,
		"tags":        arr{"functions"},
		"parameters": arr{obj{
			"name": "Idempotency-Key", "in": "header", "required": false,
			"description": "Makes the call idempotent (docs/spec.md §12): 1 to 255 printable ASCII characters.",
			"schema":      obj{"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
		}},
		"requestBody": body,
		"responses":   responses,
		"security":    security(f.Auth != "", true),
	}, nil
}

// contextOperation is GET ctx/<context>/.
func (g *gen) contextOperation(c ir.Context, id string) (obj, error) {
	var params arr
	for _, p := range c.Params {
		s, err := g.typeRef(p.Type, false)
		if err != nil {
			return nil, fmt.Errorf("openapi: context %s: parameter %s: %w", c.Name, p.Name, err)
		}
		desc := "A parameter of the context."
		if p.Filter {
			desc = "A filter of the context (docs/spec.md §3): it selects rows, it never scopes an invalidation target."
		}
		params = append(params, obj{
			"name": p.Name, "in": "query", "required": !p.Optional,
			"description": desc, "schema": s,
		})
	}
	props := obj{}
	var names arr
	guarded := false
	for _, f := range c.Functions {
		if f.Result == nil {
			return nil, fmt.Errorf("openapi: function %s: no result type", f.Name)
		}
		s, err := g.typeRef(*f.Result, false)
		if err != nil {
			return nil, fmt.Errorf("openapi: function %s: result: %w", f.Name, err)
		}
		props[f.Name] = s
		names = append(names, f.Name)
		guarded = guarded || f.Auth != ""
	}
	op := obj{
		"operationId": id,
		"summary":     "Fetch context " + c.Name,
		"description": "Runs every function of context `" + c.Name + "` (" + strings.Join(toStrings(names), ", ") +
			") with the query parameters each declares, and answers their results keyed by function name.",
		"tags": arr{"contexts"},
		"responses": func() obj {
			r := obj{"200": obj{
				"description": "The bundle: each function's result, keyed by its name.",
				"content": obj{"application/json": obj{"schema": obj{
					"type": "object", "properties": props, "required": names, "additionalProperties": false,
				}}},
			}}
			errorRefs(r, 400, 401, 403, 404, 429, 500, 503)
			return r
		}(),
		"security": security(guarded, false),
	}
	if len(params) > 0 {
		op["parameters"] = params
	}
	return op, nil
}

func toStrings(a arr) []string {
	out := make([]string, len(a))
	for i, v := range a {
		out[i] = v.(string)
	}
	return out
}

func (g *gen) sessionOperation() obj {
	responses := obj{"200": obj{
		"description": "A session: the CSRF cookie is set, and its token is in the body.",
		"content": obj{"application/json": obj{"schema": obj{
			"type":                 "object",
			"properties":           obj{"csrf_token": obj{"type": "string"}},
			"required":             arr{"csrf_token"},
			"additionalProperties": false,
		}}},
	}}
	errorRefs(responses, 401, 429, 500, 503)
	return obj{
		"operationId": "mizan.session",
		"summary":     "Start a session",
		"description": "Sets the CSRF cookie (" + g.opts.CSRFCookie + ") and answers its token, which a cookie-session caller repeats in " + g.opts.CSRFHeader + " on every POST (docs/spec.md §2).",
		"tags":        arr{"session"},
		"responses":   responses,
		"security":    security(false, false),
	}
}

func (g *gen) tokenOperation() obj {
	responses := obj{"200": obj{
		"description": "The access and refresh tokens.",
		"content": obj{"application/json": obj{"schema": obj{
			"type":                 "object",
			"properties":           obj{"access": obj{"type": "string"}, "refresh": obj{"type": "string"}},
			"required":             arr{"access", "refresh"},
			"additionalProperties": false,
		}}},
	}}
	errorRefs(responses, 400, 401, 403, 413, 429, 500, 503)
	return obj{
		"operationId": "mizan.token",
		"summary":     "Sign in",
		"description": "Checks the credentials and answers an access token (send it as `Authorization: Bearer <access>`) and a refresh token (docs/spec.md §8). Repeated failures answer 429.",
		"tags":        arr{"session"},
		"requestBody": obj{
			"required": true,
			"content": obj{"application/json": obj{"schema": obj{
				"type":       "object",
				"properties": obj{"username": obj{"type": "string"}, "password": obj{"type": "string"}},
				"required":   arr{"username", "password"},
			}}},
		},
		"responses": responses,
		"security":  arr{obj{}},
	}
}

// paramsSchema is the object schema of a function's arguments, and whether
// the body is required (some argument is).
func (g *gen) paramsSchema(params []ir.Field) (obj, bool, error) {
	props := obj{}
	var required arr
	for _, p := range params {
		s, err := g.typeRef(p.Type, false)
		if err != nil {
			return nil, false, fmt.Errorf("argument %s: %w", p.Name, err)
		}
		props[p.Name] = s
		if !p.Optional {
			required = append(required, p.Name)
		}
	}
	s := obj{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	if len(required) == 0 {
		s["type"] = arr{"object", "null"}
	}
	return s, len(required) > 0, nil
}

// typeDef is the component schema of a named type.
func (g *gen) typeDef(t ir.TypeDef) (obj, error) {
	var s obj
	if t.IsStruct() {
		props := obj{}
		var required arr
		for _, f := range t.Fields {
			fs, err := g.typeRef(f.Type, f.String)
			if err != nil {
				return nil, fmt.Errorf("openapi: type %s: field %s: %w", t.Name, f.Name, err)
			}
			props[f.Name] = fs
			if !f.Optional {
				required = append(required, f.Name)
			}
		}
		s = obj{"type": "object", "properties": props, "additionalProperties": false}
		if len(required) > 0 {
			s["required"] = required
		}
	} else {
		u, err := g.typeRef(*t.Underlying, false)
		if err != nil {
			return nil, fmt.Errorf("openapi: type %s: %w", t.Name, err)
		}
		s = u
		if len(t.Enum) > 0 {
			vals := arr{}
			for _, v := range t.Enum {
				if t.Underlying.Kind.IsInteger() {
					vals = append(vals, json.Number(v))
				} else {
					vals = append(vals, v)
				}
			}
			s["enum"] = vals
		}
		if t.Go == "time.Duration" {
			s["description"] = "A duration in integer nanoseconds (time.Duration)."
		}
	}
	if t.Go != "" {
		s["x-go-type"] = t.Go
	}
	return s, nil
}

// typeRef is the schema of a type expression; asString for a field with
// the json ",string" option.
func (g *gen) typeRef(t ir.TypeRef, asString bool) (obj, error) {
	var s obj
	switch {
	case asString:
		s = stringEncoded(t.Kind)
	case t.Kind == ir.List:
		if t.Elem == nil {
			return nil, errors.New("list without an element type")
		}
		e, err := g.typeRef(*t.Elem, false)
		if err != nil {
			return nil, err
		}
		s = obj{"type": "array", "items": e}
		if t.Len >= 0 {
			s["minItems"], s["maxItems"] = t.Len, t.Len
		}
	case t.Kind == ir.Record:
		if t.Elem == nil {
			return nil, errors.New("record without a value type")
		}
		e, err := g.typeRef(*t.Elem, false)
		if err != nil {
			return nil, err
		}
		s = obj{"type": "object", "additionalProperties": e}
	case t.Kind == ir.Ref:
		if _, ok := g.doc.Type(t.Name); !ok {
			return nil, fmt.Errorf("unknown type %q", t.Name)
		}
		s = ref(t.Name)
	default:
		var err error
		if s, err = scalar(t.Kind); err != nil {
			return nil, err
		}
	}
	if t.Nullable {
		s = nullable(s)
	}
	return s, nil
}

// nullable returns s that also admits null.
func nullable(s obj) obj {
	switch ty := s["type"].(type) {
	case nil:
		if len(s) == 0 {
			return s // any: null included
		}
		return obj{"anyOf": arr{s, obj{"type": "null"}}}
	case string:
		s["type"] = arr{ty, "null"}
	case arr:
		s["type"] = append(slices.Clone(ty), "null")
	}
	if e, ok := s["enum"].(arr); ok {
		s["enum"] = append(slices.Clone(e), nil)
	}
	return s
}

var intRanges = map[ir.TypeKind][2]any{
	ir.Int8:   {math.MinInt8, math.MaxInt8},
	ir.Int16:  {math.MinInt16, math.MaxInt16},
	ir.Int32:  {math.MinInt32, math.MaxInt32},
	ir.Int:    {int64(math.MinInt64), int64(math.MaxInt64)},
	ir.Int64:  {int64(math.MinInt64), int64(math.MaxInt64)},
	ir.Uint8:  {0, math.MaxUint8},
	ir.Uint16: {0, math.MaxUint16},
	ir.Uint32: {0, uint64(math.MaxUint32)},
	ir.Uint:   {0, uint64(math.MaxUint64)},
	ir.Uint64: {0, uint64(math.MaxUint64)},
}

func scalar(k ir.TypeKind) (obj, error) {
	switch k {
	case ir.Bool:
		return obj{"type": "boolean"}, nil
	case ir.String:
		return obj{"type": "string"}, nil
	case ir.Float32:
		return obj{"type": "number", "format": "float"}, nil
	case ir.Float64:
		return obj{"type": "number", "format": "double"}, nil
	case ir.Bytes:
		return obj{"type": "string", "contentEncoding": "base64"}, nil
	case ir.Time:
		return obj{"type": "string", "format": "date-time"}, nil
	case ir.Any:
		return obj{}, nil
	}
	if r, ok := intRanges[k]; ok {
		s := obj{"type": "integer", "minimum": r[0], "maximum": r[1]}
		switch k {
		case ir.Int32:
			s["format"] = "int32"
		case ir.Int, ir.Int64:
			s["format"] = "int64"
		}
		return s, nil
	}
	return nil, fmt.Errorf("unknown type kind %q", k)
}

// stringEncoded is the schema of a scalar written as a JSON string holding
// its JSON text (the json ",string" option, docs/ir.md).
func stringEncoded(k ir.TypeKind) obj {
	switch {
	case k.IsInteger():
		p := "^-?[0-9]+$"
		if strings.HasPrefix(string(k), "uint") {
			p = "^[0-9]+$"
		}
		return obj{"type": "string", "pattern": p, "description": "An integer written as a decimal string (json \",string\"), exact beyond 2^53."}
	case k == ir.Bool:
		return obj{"type": "string", "enum": arr{"true", "false"}, "description": "A boolean written as a string (json \",string\")."}
	case k.IsNumber():
		return obj{"type": "string", "pattern": `^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`, "description": "A number written as a string (json \",string\")."}
	}
	return obj{"type": "string", "description": "A string holding a JSON string (json \",string\")."}
}

// formRules adds to the argument schemas of a form's submit function the
// rules of its fields that JSON Schema says alike (docs/spec.md §10):
// lengths, bounds, choices, email and URL formats. Patterns are left out
// (RE2 and ECMAScript regular expressions differ), and so are a formset's
// row rules (its rows are a named type shared with other uses).
func formRules(props obj, fields []ir.FormField) {
	for _, ff := range fields {
		s, ok := props[ff.Name].(obj)
		if !ok || s["$ref"] != nil || s["anyOf"] != nil {
			continue
		}
		num := func(v *float64) any {
			if *v == float64(int64(*v)) {
				return int64(*v)
			}
			return *v
		}
		switch ff.Type {
		case ir.FieldString:
			if ff.Min != nil {
				s["minLength"] = num(ff.Min)
			} else if ff.Required {
				s["minLength"] = 1
			}
			if ff.Max != nil {
				s["maxLength"] = num(ff.Max)
			}
			if ff.Len != nil {
				s["minLength"], s["maxLength"] = num(ff.Len), num(ff.Len)
			}
			if ff.Email {
				s["format"] = "email"
			}
			if ff.URL {
				s["format"] = "uri"
			}
		case ir.FieldInt, ir.FieldNumber:
			if ff.Min != nil {
				s["minimum"] = num(ff.Min)
			}
			if ff.Max != nil {
				s["maximum"] = num(ff.Max)
			}
			if ff.Gt != nil {
				s["exclusiveMinimum"] = num(ff.Gt)
			}
			if ff.Lt != nil {
				s["exclusiveMaximum"] = num(ff.Lt)
			}
		case ir.FieldFormset:
			if ff.Min != nil {
				s["minItems"] = num(ff.Min)
			}
			if ff.Max != nil {
				s["maxItems"] = num(ff.Max)
			}
			if ff.Len != nil {
				s["minItems"], s["maxItems"] = num(ff.Len), num(ff.Len)
			}
		}
		if len(ff.Choices) > 0 && ff.Type != ir.FieldFormset {
			var vals arr
			for _, c := range ff.Choices {
				if ff.Type == ir.FieldString {
					vals = append(vals, c)
				} else {
					vals = append(vals, json.Number(c))
				}
			}
			if ty, ok := s["type"].(arr); ok && slices.Contains(ty, any("null")) {
				vals = append(vals, nil)
			}
			s["enum"] = vals
		}
	}
}
