package mizan

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/mizan-afi/mizan/protocol"
)

// This file is the call endpoint, POST call/, and its in-process twin
// [App.Call], which the WebSocket transport (package live) uses: one
// function pipeline (guard, decoding, validation, the run, the emission
// step) behind both.

// callRequest is the body of POST call/.
type callRequest struct {
	Fn   string            `json:"fn"`
	Args protocol.RawValue `json:"args"`
}

// serveCall serves POST call/, after the steps routes puts in front of it
// (same origin, JSON body, authenticated, CSRF, body limit).
func (a *App) serveCall(w http.ResponseWriter, r *http.Request) {
	ci := callFrom(r.Context())
	buf := getBuf()
	defer putBuf(buf)
	body, err := a.readBody(r, buf.b[:0])
	if err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	buf.b = body
	var req callRequest
	if err := protocol.UnmarshalStrict(body, &req); err != nil {
		msg := `body must be a JSON object {"fn": "<name>", "args": {...}} (member names are exact, each given once)`
		if protocol.IsDuplicateName(err) {
			msg = "body names a member twice"
		}
		writeError(w, r, a.logger, NewError(CodeBadRequest, msg))
		return
	}
	if req.Fn == "" {
		writeError(w, r, a.logger, NewError(CodeBadRequest, `body is missing "fn"`))
		return
	}
	f, ok := a.plan.callable[req.Fn]
	if !ok {
		writeError(w, r, a.logger, NewError(CodeNotFound, "no function named "+quote(req.Fn)))
		return
	}
	rbuf := getBuf()
	defer putBuf(rbuf)
	resp, e, err := a.runCall(r.Context(), f, json.RawMessage(req.Args), append(rbuf.b[:0], `{"result":`...))
	if err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	resp = append(resp, `,"invalidate":`...)
	if resp, err = protocol.AppendTargets(resp, e.inv.Targets); err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	resp = append(resp, '}')
	h := w.Header()
	mergeHeader(h, ci.header)
	h.Set("Content-Type", "application/json")
	if err := e.writeHeaders(h, r); err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	_, _ = w.Write(resp)
	rbuf.b = resp
}

// runCall is the function pipeline of a callable function, for call/ and
// [App.Call]: its guard, the decoding and validation of args (every
// failing argument reported at once), the function itself (ctx carries the
// call's *callInfo), and the emission step. It appends the JSON of the
// result to dst.
func (a *App) runCall(ctx context.Context, f *Func, args json.RawMessage, dst []byte) ([]byte, emitted, error) {
	ci := callFrom(ctx)
	if merr := f.cfg.auth.check(ci.r, ci.caller); merr != nil {
		return dst, emitted{}, merr
	}
	in := f.newIn()
	given, merr := f.args.decodeJSON(args, reflectElem(in))
	if merr = a.validated(f, in, merr); merr != nil {
		return dst, emitted{}, merr
	}
	out, err := a.runJSON(ctx, f, in, dst)
	if err != nil {
		return dst, emitted{}, err
	}
	e, err := a.emitMutation(ctx, f, ci.caller, in, given)
	if err != nil {
		return dst, emitted{}, err
	}
	return out, e, nil
}

// CallRequest is one call of a function made through [App.Call].
type CallRequest struct {
	// Fn is the function's wire name.
	Fn string
	// Args is the JSON object of the arguments; empty means none.
	Args json.RawMessage
	// Request is the HTTP request the call came with (for a WebSocket, the
	// upgrade request): what [Request] returns inside the function and what
	// guards made with [RequireFunc] see. It must not be nil.
	Request *http.Request
	// Caller is who calls ([App.Authenticate]); nil is anonymous.
	Caller *Identity
	// WebSocket restricts the call to functions registered with
	// [WebSocket]: another function that call/ would run is refused with
	// method_not_allowed.
	WebSocket bool
}

// CallResult is the answer of a successful [App.Call]: what POST call/
// answers with, in two parts.
type CallResult struct {
	// Result is the JSON encoding of the function's return value.
	Result json.RawMessage
	// Invalidate holds the invalidation targets of the call, which have
	// already gone to every [Invalidator].
	Invalidate []Target
}

// Call runs a function as POST call/ does, for code that carries calls
// over another transport (package live): the same lookup (an unknown or
// private function, a context function or a view is not_found), guard,
// argument decoding and validation, panic recovery and emission step,
// whose consumers all run with ctx before Call returns. The function runs
// with ctx, in which [Caller] and [Request] return req's caller and
// request. The CSRF and cross-origin checks of call/ are the transport's to
// make (a WebSocket's origin is checked when it opens).
//
// A failure is the [*Error] call/ would answer with: the function's own,
// or internal for an unexpected error, which is logged and not returned.
func (a *App) Call(ctx context.Context, req CallRequest) (CallResult, error) {
	if err := a.Build(); err != nil {
		return CallResult{}, err
	}
	if req.Request == nil {
		return CallResult{}, errors.New("mizan: Call: CallRequest.Request is nil")
	}
	if req.Fn == "" {
		return CallResult{}, NewError(CodeBadRequest, `the call is missing "fn"`)
	}
	f, ok := a.plan.callable[req.Fn]
	if !ok {
		return CallResult{}, NewError(CodeNotFound, "no function named "+quote(req.Fn))
	}
	if req.WebSocket && !f.meta.WebSocket {
		return CallResult{}, NewError(CodeMethodNotAllowed, "function "+quote(req.Fn)+" is not callable over WebSocket (it is not registered with mizan.WebSocket()); call it through call/")
	}
	ctx, _ = withCall(ctx, req.Request, req.Caller)
	out, e, err := a.runCall(ctx, f, req.Args, nil)
	if err != nil {
		if me, ok := asError(err); ok {
			return CallResult{}, me
		}
		a.logger.Error("mizan: internal error", "fn", req.Fn, "err", err)
		return CallResult{}, errInternal
	}
	return CallResult{Result: out, Invalidate: e.inv.Targets}, nil
}
