package mizan

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"unicode/utf8"

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
	ctx, ci := callOf(w, r)
	var ic *idemCall
	if vs, ok := r.Header[HeaderIdempotencyKey]; ok {
		var key string
		var err error
		if len(vs) == 1 {
			key, err = ParseIdempotencyKey(vs[0])
		} else {
			err = errBadIdempotencyKey
		}
		if err != nil {
			writeError(w, r, a.logger, err)
			return
		}
		var caller *Identity
		if ci != nil {
			caller = ci.caller
		}
		if ic = a.newIdemCall(key, caller); ic != nil {
			defer a.idemRelease(ctx, ic)
		}
	}
	buf := getBuf()
	defer putBuf(buf)
	body, err := a.readBody(r, buf.b[:0])
	if err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	buf.b = body
	// The common call is read without encoding/json (quickCall); anything
	// it does not take is decoded as the protocol says.
	f, pre, ok := a.quickCall(body)
	var args json.RawMessage
	if !ok {
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
		if f, ok = a.plan.callable[req.Fn]; !ok {
			writeError(w, r, a.logger, NewError(CodeNotFound, "no function named "+quote(req.Fn)))
			return
		}
		args = json.RawMessage(req.Args)
	}
	rbuf := getBuf()
	defer putBuf(rbuf)
	resp, e, err := a.runCall(ctx, f, args, pre, append(rbuf.b[:0], `{"result":`...), ic)
	if err != nil {
		a.idemFailed(ctx, ic, err)
		writeError(w, r, a.logger, err)
		return
	}
	if ic != nil && ic.replay != nil {
		if fromEdge(r) {
			var caller *Identity
			if ci != nil {
				caller = ci.caller
			}
			setEdgeHeaders(w.Header(), caller, "")
		}
		writeReplay(w, ic.replay)
		return
	}
	resp = append(resp, `,"invalidate":`...)
	if resp, err = protocol.AppendTargets(resp, e.inv.Targets); err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	resp = append(resp, '}')
	h := w.Header()
	if ci != nil {
		mergeHeader(h, ci.header)
	}
	setHeader(w, h, 1, "Content-Type", "application/json")
	if fromEdge(r) {
		var caller *Identity
		if ci != nil {
			caller = ci.caller
		}
		setEdgeHeaders(h, caller, "")
	}
	if err := e.setHeaders(w, h, r); err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	a.idemComplete(ctx, ic, http.StatusOK, resp, e.header)
	_, _ = w.Write(resp)
	rbuf.b = resp
}

// decodedArgs are the arguments of a call decoded before runCall.
type decodedArgs struct {
	in    any
	given presence
	raw   []byte // the arguments as sent ("{}" for none)
}

// quickCall reads a call/ body without encoding/json when it is the
// common call: an object of "fn", a string without escapes naming a
// callable function, and "args", arguments decodeQuick takes (or none),
// each member given once, valid UTF-8, nothing else. Since decodeQuick
// checks the arguments completely, such a body is one that
// protocol.UnmarshalStrict accepts with the same fn and args, and whose
// args decodeJSON decodes alike. It reports false for anything else, for
// the whole path to decode (and report, when it is an error).
func (a *App) quickCall(body []byte) (*Func, *decodedArgs, bool) {
	if !utf8.Valid(body) {
		return nil, nil, false
	}
	var fn, args []byte
	haveFn, haveArgs := false, false
	i := skipSpace(body, 0)
	if i >= len(body) || body[i] != '{' {
		return nil, nil, false
	}
	i = skipSpace(body, i+1)
	if i < len(body) && body[i] == '}' {
		return nil, nil, false // no "fn"
	}
	for {
		key, j, ok := quickString(body, i)
		if !ok {
			return nil, nil, false
		}
		i = skipSpace(body, j)
		if i >= len(body) || body[i] != ':' {
			return nil, nil, false
		}
		i = skipSpace(body, i+1)
		switch string(key) {
		case "fn":
			if haveFn {
				return nil, nil, false
			}
			haveFn = true
			if fn, i, ok = quickString(body, i); !ok {
				return nil, nil, false
			}
		case "args":
			if haveArgs {
				return nil, nil, false
			}
			haveArgs = true
			if j = skipValue(body, i); j <= i {
				return nil, nil, false
			}
			args, i = body[i:j], j // checked by decodeQuick below
		default:
			return nil, nil, false
		}
		i = skipSpace(body, i)
		if i >= len(body) {
			return nil, nil, false
		}
		if body[i] == ',' {
			i = skipSpace(body, i+1)
			continue
		}
		if body[i] != '}' || skipSpace(body, i+1) != len(body) {
			return nil, nil, false
		}
		break
	}
	if !haveFn {
		return nil, nil, false
	}
	f, ok := a.plan.callable[string(fn)]
	if !ok || f.form != nil {
		return nil, nil, false
	}
	if len(args) == 0 || string(args) == "null" {
		args = []byte("{}") // as decodeJSON reads them
	}
	in := f.newIn()
	given, ok := f.args.decodeQuick(args, reflectElem(in))
	if !ok {
		return nil, nil, false
	}
	return f, &decodedArgs{in: in, given: given, raw: args}, true
}

// runCall is the function pipeline of a callable function, for call/ and
// [App.Call]: its guard, the decoding and validation of args (every
// failing argument reported at once) unless pre holds them decoded, the
// function itself (ctx carries the call's *callInfo), and the emission
// step. It appends the JSON of the result to dst. With ic (the call
// carries an idempotency key) the key is claimed right before the function
// runs (idemBegin); for a repeat, ic.replay is set and nothing runs.
func (a *App) runCall(ctx context.Context, f *Func, args json.RawMessage, pre *decodedArgs, dst []byte, ic *idemCall) ([]byte, emitted, error) {
	ci := callFrom(ctx)
	if merr := f.cfg.auth.check(ci.guardRequest(f.cfg.auth), ci.caller); merr != nil {
		return dst, emitted{}, merr
	}
	var in any
	var given presence
	var merr *Error
	switch {
	case f.form != nil && f.meta.Form.Role == FormValidate:
		res, merr := a.formValidate(ctx, f.form, args)
		if merr != nil {
			return dst, emitted{}, merr
		}
		out, err := f.result.Append(dst, res)
		return out, emitted{}, err
	case f.form != nil && f.meta.Form.Role == FormSubmit:
		if in, given, merr = a.formSubmitArgs(ctx, f.form, args); merr != nil {
			return dst, emitted{}, merr
		}
	case pre != nil:
		in, given = pre.in, pre.given
	default:
		in = f.newIn()
		given, merr = f.args.decodeJSON(args, reflectElem(in))
	}
	if f.form == nil || f.meta.Form.Role != FormSubmit {
		if merr = a.validated(f, in, merr); merr != nil {
			return dst, emitted{}, merr
		}
	}
	if ic != nil {
		raw := []byte(args)
		if pre != nil {
			raw = pre.raw
		}
		if err := a.idemBegin(ctx, ic, f, raw); err != nil {
			return dst, emitted{}, err
		}
		if ic.replay != nil {
			return dst, emitted{}, nil
		}
		ic.ran = true
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
	// IdempotencyKey, when not empty, makes the call idempotent as the
	// Idempotency-Key header makes a POST call/ (docs/spec.md §12): a
	// repeat returns the kept outcome (with Replayed set, or the kept
	// error) without running the function. A key that is not 1 to 255
	// printable ASCII characters is bad_request.
	IdempotencyKey string
}

// CallResult is the answer of a successful [App.Call]: what POST call/
// answers with, in two parts.
type CallResult struct {
	// Result is the JSON encoding of the function's return value.
	Result json.RawMessage
	// Invalidate holds the invalidation targets of the call, which have
	// already gone to every [Invalidator].
	Invalidate []Target
	// Replayed reports a repeat of an idempotent call: Result and
	// Invalidate are those kept from its first run, and nothing ran or
	// went to the invalidators this time.
	Replayed bool
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
	var ic *idemCall
	if req.IdempotencyKey != "" {
		key, err := ParseIdempotencyKey(req.IdempotencyKey)
		if err != nil {
			return CallResult{}, err
		}
		if ic = a.newIdemCall(key, req.Caller); ic != nil {
			defer a.idemRelease(ctx, ic)
		}
	}
	ctx, _ = withCall(ctx, req.Request, req.Caller)
	out, e, err := a.runCall(ctx, f, req.Args, nil, nil, ic)
	if err == nil && ic != nil && ic.replay != nil {
		res, kept, rerr := replayResult(ic.replay)
		if rerr != nil {
			a.logger.Error("mizan: a kept idempotent outcome does not decode", "fn", req.Fn, "err", rerr)
			return CallResult{}, errInternal
		}
		if kept != nil {
			return CallResult{}, kept
		}
		return res, nil
	}
	if err == nil && ic != nil {
		body := append(append([]byte(`{"result":`), out...), `,"invalidate":`...)
		if body, err = protocol.AppendTargets(body, e.inv.Targets); err == nil {
			a.idemComplete(ctx, ic, http.StatusOK, append(body, '}'), e.header)
		}
	}
	if err != nil {
		a.idemFailed(ctx, ic, err)
		if me, ok := asError(err); ok {
			return CallResult{}, me
		}
		a.logger.Error("mizan: internal error", "fn", req.Fn, "err", err)
		return CallResult{}, errInternal
	}
	return CallResult{Result: out, Invalidate: e.inv.Targets}, nil
}
