package mizan

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/mizan-afi/mizan/idempotency"
	"github.com/mizan-afi/mizan/protocol"
)

// This file is idempotent calls (docs/spec.md §12): POST call/ with an
// Idempotency-Key header, and a WebSocket call with "idempotency_key"
// ([CallRequest.IdempotencyKey]). The key is claimed after the guard, the
// decoding and the validation of the arguments, right before the function
// runs; the outcome of a function that ran (its result, or its own error
// below 500) is kept, anything else releases the key.

// IdempotencyStore keeps the outcomes of idempotent calls ([Config.Idempotency]):
// idempotency.NewMemory (the default), idempotency.NewRedis or
// idempotency.OpenRedis (shared by every instance), or [NoIdempotency].
type IdempotencyStore = idempotency.Store

// NoIdempotency is the [Config.Idempotency] that keeps nothing: an
// Idempotency-Key is still checked for its form, then ignored (the call
// runs as without one). MIZAN_IDEMPOTENCY=off.
var NoIdempotency IdempotencyStore = idempotency.Off

// The headers of idempotent calls (docs/spec.md §12).
const (
	HeaderIdempotencyKey     = "Idempotency-Key"
	HeaderIdempotentReplayed = "Idempotent-Replayed"
)

// MaxIdempotencyKeyLen is the longest idempotency key, in bytes.
const MaxIdempotencyKeyLen = 255

// errBadIdempotencyKey is the answer to a malformed key; it never repeats
// the key.
var errBadIdempotencyKey = NewError(CodeBadRequest,
	"Idempotency-Key must be given once, as 1 to 255 printable ASCII characters")

// ParseIdempotencyKey checks an idempotency key: 1 to
// [MaxIdempotencyKeyLen] bytes, each printable ASCII (space to '~'). The
// error is a bad_request that does not repeat the key.
func ParseIdempotencyKey(v string) (string, error) {
	if len(v) == 0 || len(v) > MaxIdempotencyKeyLen {
		return "", errBadIdempotencyKey
	}
	for i := range len(v) {
		if v[i] < 0x20 || v[i] > 0x7e {
			return "", errBadIdempotencyKey
		}
	}
	return v, nil
}

// idemCall is the idempotency state of one call carrying a key.
type idemCall struct {
	store  idempotency.Store
	key    string // the store's key: caller's space and key, hashed
	fp     string // set by begin
	claim  idempotency.Claim
	ran    bool                 // the function was called
	done   bool                 // the claim was completed or released
	replay *idempotency.Outcome // the kept outcome, for a repeat
}

// newIdemCall returns the state of a call with the (checked) key, or nil
// when the app keeps no keys.
func (a *App) newIdemCall(key string, caller *Identity) *idemCall {
	if a.idem == nil || a.idem == idempotency.Off {
		return nil
	}
	h := sha256.New()
	if caller == nil {
		h.Write([]byte("a\x00"))
	} else {
		h.Write([]byte("u" + strconv.Itoa(len(caller.ID)) + ":" + caller.ID + "\x00"))
	}
	h.Write([]byte(key))
	return &idemCall{store: a.idem, key: hex.EncodeToString(h.Sum(nil))}
}

// idemFingerprint is the hash of a call: the function's name and its
// arguments with members sorted and whitespace removed (numbers and
// strings as written).
func idemFingerprint(fn string, args []byte) string {
	v := jsontext.Value("{}")
	if len(args) > 0 && string(args) != "null" {
		v = jsontext.Value(append([]byte(nil), args...))
		if err := v.Canonicalize(jsontext.CanonicalizeRawInts(false), jsontext.CanonicalizeRawFloats(false)); err != nil {
			v = jsontext.Value(args)
		}
	}
	h := sha256.New()
	h.Write([]byte(fn))
	h.Write([]byte{0})
	h.Write(v)
	return hex.EncodeToString(h.Sum(nil))
}

// begin claims the key for a run of f with args, right before it runs. It
// returns the refusal (422, 409, 503) or nil; ic.replay is then set for a
// repeat, else the function may run.
func (a *App) idemBegin(ctx context.Context, ic *idemCall, f *Func, args []byte) error {
	ic.fp = idemFingerprint(f.meta.Name, args)
	claim, rec, err := ic.store.Begin(ctx, ic.key, ic.fp)
	switch {
	case errors.Is(err, idempotency.ErrOff):
		ic.done = true
		return nil
	case err != nil:
		a.logger.Error("mizan: idempotency store", "fn", f.meta.Name, "err", err)
		return NewError(CodeUnavailable, "the idempotency store is unavailable: the call did not run; retry later").WithCause(err)
	case rec != nil:
		ic.done = true
		if rec.Fingerprint != ic.fp {
			return NewError(CodeIdempotencyMismatch, "this Idempotency-Key was used with another function or other arguments")
		}
		if rec.Outcome == nil {
			return NewError(CodeIdempotencyInFlight, "the first call with this Idempotency-Key is still running; retry later")
		}
		ic.replay = rec.Outcome
		return nil
	}
	ic.claim = claim
	return nil
}

// finishTimeout bounds completing or releasing a claim.
const finishTimeout = 2 * time.Second

// complete keeps the outcome of a call that ran (status, whole body,
// X-Mizan-Invalidate); a failure is logged (the response still goes out).
func (a *App) idemComplete(ctx context.Context, ic *idemCall, status int, body []byte, header string) {
	if ic == nil || ic.claim == nil || ic.done {
		return
	}
	ic.done = true
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	if err := ic.claim.Complete(ctx, idempotency.Outcome{Status: status, Body: body, Invalidate: header}); err != nil {
		a.logger.Error("mizan: keeping the outcome of an idempotent call", "err", err)
	}
}

// release gives the key up unless the claim was completed: deferred by
// every path that claims one.
func (a *App) idemRelease(ctx context.Context, ic *idemCall) {
	if ic == nil || ic.claim == nil || ic.done {
		return
	}
	ic.done = true
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	if err := ic.claim.Release(ctx); err != nil {
		a.logger.Error("mizan: releasing an idempotency key", "err", err)
	}
}

// idemFailed completes the claim with err when the function ran and err is
// its own coded error below 500; otherwise the deferred release frees the
// key.
func (a *App) idemFailed(ctx context.Context, ic *idemCall, err error) {
	if ic == nil || !ic.ran {
		return
	}
	me, ok := asError(err)
	if !ok || me.status >= 500 {
		return
	}
	a.idemComplete(ctx, ic, me.status, protocol.AppendEnvelope(nil, me.code, me.message, me.fields), "")
}

// writeReplay answers a repeat with the kept outcome.
func writeReplay(w http.ResponseWriter, out *idempotency.Outcome) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if out.Invalidate != "" {
		h.Set(protocol.HeaderInvalidate, out.Invalidate)
	}
	h.Set(HeaderIdempotentReplayed, "true")
	w.WriteHeader(out.Status)
	_, _ = w.Write(out.Body)
}

// replayResult turns a kept outcome into what [App.Call] returns: the
// result, or the kept error; err reports an outcome that does not decode.
func replayResult(out *idempotency.Outcome) (CallResult, *Error, error) {
	if out.Status == http.StatusOK {
		var body struct {
			Result     json.RawMessage `json:"result"`
			Invalidate []Target        `json:"invalidate"`
		}
		if err := json.Unmarshal(out.Body, &body); err != nil {
			return CallResult{}, nil, err
		}
		return CallResult{Result: body.Result, Invalidate: body.Invalidate, Replayed: true}, nil, nil
	}
	var env protocol.Envelope
	if err := json.Unmarshal(out.Body, &env); err != nil {
		return CallResult{}, nil, err
	}
	e := NewError(env.Error.Code, env.Error.Message).WithStatus(out.Status)
	if len(env.Error.Fields) > 0 {
		e = e.WithFields(env.Error.Fields)
	}
	return CallResult{}, e, nil
}
