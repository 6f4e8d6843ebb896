package mizan

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"time"

	"github.com/mizan-afi/mizan/auth"
	"github.com/mizan-afi/mizan/protocol"
)

// Code is a protocol error code, such as "not_found" or "conflict". The codes
// of docs/spec.md §5 are predeclared; an application may use codes of its own.
type Code = protocol.Code

// The error codes of the protocol. Each has a default HTTP status, reported by
// [Code.Status].
const (
	CodeBadRequest       = protocol.CodeBadRequest       // 400: malformed JSON, wrong shape
	CodeInvalidArgs      = protocol.CodeInvalidArgs      // 400: missing, unknown or mistyped argument
	CodeUnauthorized     = protocol.CodeUnauthorized     // 401: no identity where one is required
	CodeForbidden        = protocol.CodeForbidden        // 403: auth guard or CSRF refused
	CodeNotFound         = protocol.CodeNotFound         // 404: unknown function, context or resource
	CodeMethodNotAllowed = protocol.CodeMethodNotAllowed // 405
	CodeConflict         = protocol.CodeConflict         // 409
	CodePayloadTooLarge  = protocol.CodePayloadTooLarge  // 413
	// CodeIdempotencyMismatch (422): an Idempotency-Key used before with
	// another function or other arguments (docs/spec.md §12).
	CodeIdempotencyMismatch = protocol.CodeIdempotencyMismatch
	// CodeIdempotencyInFlight (409): a repeat while the key's first call is
	// still running (docs/spec.md §12).
	CodeIdempotencyInFlight = protocol.CodeIdempotencyInFlight
	// CodeRateLimited (429): too many attempts (sign-in failures, WebSocket
	// messages); the Retry-After header says when to try again.
	CodeRateLimited = protocol.CodeRateLimited
	CodeInternal    = protocol.CodeInternal    // 500: never carries detail to the client
	CodeUnavailable = protocol.CodeUnavailable // 503
)

// Error is an error with a protocol code, an HTTP status, a message meant for
// the caller and, optionally, per-field messages. A server function returns
// one to choose what the caller sees; any other error becomes [CodeInternal]
// and its text is logged, never sent, except a *auth.RateLimitedError (a
// sign-in over its limits), which becomes 429 [CodeRateLimited] with
// Retry-After wherever it is returned. Use [errors.As] to find an *Error in
// a chain.
type Error struct {
	code    Code
	status  int
	message string
	fields  map[string]string
	cause   error
	// retryAfter is the Retry-After of the answer, in seconds; 0: none.
	retryAfter int
}

// NewError returns an error with the given code and message. Its status is the
// code's default ([Code.Status]); use [Error.WithStatus] to choose another.
func NewError(code Code, message string) *Error {
	return &Error{code: code, status: code.Status(), message: message}
}

// Errorf is [NewError] with a formatted message. A %w verb records the wrapped
// error as the cause ([Error.Unwrap]). The whole formatted text, the wrapped
// error's included, is sent to the caller: to keep a cause private, use
// [NewError] with [Error.WithCause].
func Errorf(code Code, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{code: code, status: code.Status(), message: err.Error(), cause: errors.Unwrap(err)}
}

// WithStatus returns a copy of e with the given HTTP status.
func (e *Error) WithStatus(status int) *Error {
	c := *e
	c.status = status
	return &c
}

// WithFields returns a copy of e carrying per-field messages, keyed by argument
// or form field name.
func (e *Error) WithFields(fields map[string]string) *Error {
	c := *e
	c.fields = maps.Clone(fields)
	return &c
}

// WithCause returns a copy of e that wraps cause. The cause is for the server
// (errors.Is, logs); it is never sent to the caller.
func (e *Error) WithCause(cause error) *Error {
	c := *e
	c.cause = cause
	return &c
}

// Code returns the protocol code.
func (e *Error) Code() Code { return e.code }

// Status returns the HTTP status the error is sent with.
func (e *Error) Status() int { return e.status }

// Message returns the human-readable message sent to the caller.
func (e *Error) Message() string { return e.message }

// Fields returns the per-field messages, or nil.
func (e *Error) Fields() map[string]string { return e.fields }

// Unwrap returns the cause, if any.
func (e *Error) Unwrap() error { return e.cause }

// Error implements the error interface.
func (e *Error) Error() string {
	return "mizan: " + string(e.code) + ": " + e.message
}

// asError finds the *Error in err's chain, or reports false.
func asError(err error) (*Error, bool) {
	var me *Error
	if errors.As(err, &me) {
		return me, true
	}
	var rl *auth.RateLimitedError
	if errors.As(err, &rl) || errors.Is(err, auth.ErrRateLimited) {
		secs := 60 // the bare sentinel says not when: a minute
		if rl != nil {
			secs = max(int((rl.RetryAfter+time.Second-1)/time.Second), 1)
		}
		me = NewError(CodeRateLimited, "too many failed sign-in attempts: try again in "+strconv.Itoa(secs)+" s").WithCause(err)
		me.retryAfter = secs
		return me, true
	}
	return nil, false
}

// errInternal is what every unexpected failure looks like to the caller.
var errInternal = &Error{code: CodeInternal, status: http.StatusInternalServerError, message: "internal server error"}
