package mizan

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
)

// This file is POST call/<fn>/, the alias of POST call/ whose body is the
// arguments object alone (docs/spec.md §2): one operation per function for
// tools that describe an API operation by operation (OpenAPI, package
// openapi). It passes the same steps as call/ (routes, plan.go) and then
// hands call/ the body {"fn": "<fn>", "args": <body>}, so that the answer,
// its headers, its errors and an idempotency key's fingerprint are those of
// the equivalent call/ request.

// serveCallAlias serves POST call/<fn>/, after the steps of call/.
//
// It checks in call/'s order, so that the first error is the one call/
// would answer: the Idempotency-Key header, then the body (its size, then
// its JSON), then the function's name.
func (a *App) serveCallAlias(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("fn")
	if vs, ok := r.Header[HeaderIdempotencyKey]; ok {
		var err error = errBadIdempotencyKey
		if len(vs) == 1 {
			_, err = ParseIdempotencyKey(vs[0])
		}
		if err != nil {
			writeError(w, r, a.logger, err)
			return
		}
	}
	buf := getBuf()
	defer putBuf(buf)
	args, err := a.readBody(r, buf.b[:0])
	if err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	buf.b = args
	body, ok := aliasBody(name, args)
	if !ok {
		writeError(w, r, a.logger, NewError(CodeBadRequest, "body must be the JSON object of the arguments of "+quote(name)+" (or empty, for none)"))
		return
	}
	if _, ok := a.plan.callable[name]; !ok {
		writeError(w, r, a.logger, NewError(CodeNotFound, "no function named "+quote(name)))
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	a.serveCall(w, r)
}

// aliasBody returns the call/ body of a call of fn with args, the body of
// call/<fn>/: an empty (or blank) body is a call without arguments. It
// reports false when args is not one JSON value, which could otherwise
// change the shape of the call/ body it is put in.
func aliasBody(fn string, args []byte) ([]byte, bool) {
	name, err := json.Marshal(fn)
	if err != nil {
		return nil, false
	}
	body := append(append([]byte(`{"fn":`), name...), '}')
	if len(bytes.TrimSpace(args)) == 0 {
		return body, true
	}
	if !json.Valid(args) {
		return nil, false
	}
	body = append(body[:len(body)-1], `,"args":`...)
	body = append(body, args...)
	return append(body, '}'), true
}
