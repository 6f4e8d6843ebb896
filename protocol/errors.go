package protocol

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Code is a protocol error code (docs/spec.md §5), sent as the "code" of the
// error envelope. The constants are the codes the protocol defines; a
// function may return an error with a code of its own.
type Code string

// The protocol's error codes, each commented with its HTTP status.
const (
	CodeBadRequest       Code = "bad_request"        // 400: malformed JSON, wrong shape
	CodeInvalidArgs      Code = "invalid_args"       // 400: missing, unknown or wrongly typed argument
	CodeUnauthorized     Code = "unauthorized"       // 401
	CodeForbidden        Code = "forbidden"          // 403: auth guard or CSRF
	CodeNotFound         Code = "not_found"          // 404: unknown (or private) function or context
	CodeMethodNotAllowed Code = "method_not_allowed" // 405
	CodeConflict         Code = "conflict"           // 409
	CodePayloadTooLarge  Code = "payload_too_large"  // 413
	// The idempotency errors (docs/spec.md §12).
	CodeIdempotencyMismatch Code = "idempotency_mismatch"  // 422: the key was used with another call
	CodeIdempotencyInFlight Code = "idempotency_in_flight" // 409: the key's first call is still running
	CodeRateLimited         Code = "rate_limited"          // 429: too many attempts; Retry-After says when to try again
	CodeInternal            Code = "internal"              // 500: detail logged, never sent
	CodeUnavailable         Code = "unavailable"           // 503
)

// Status returns the HTTP status of c: the status the protocol assigns to a
// known code, and 400 (Bad Request) for any other, application-defined code.
// An application that wants another status for its own code sets it
// explicitly where it builds the error.
func (c Code) Status() int {
	// Plain integers rather than net/http's constants keep this package,
	// at the bottom of the module, free of net/http.
	switch c {
	case CodeBadRequest, CodeInvalidArgs:
		return 400
	case CodeUnauthorized:
		return 401
	case CodeForbidden:
		return 403
	case CodeNotFound:
		return 404
	case CodeMethodNotAllowed:
		return 405
	case CodeConflict:
		return 409
	case CodePayloadTooLarge:
		return 413
	case CodeIdempotencyMismatch:
		return 422
	case CodeIdempotencyInFlight:
		return 409
	case CodeRateLimited:
		return 429
	case CodeInternal:
		return 500
	case CodeUnavailable:
		return 503
	}
	return 400
}

// ErrorBody is the inner object of the error [Envelope].
type ErrorBody struct {
	// Code is the error code.
	Code Code `json:"code"`

	// Message is a human sentence describing the failure.
	Message string `json:"message"`

	// Fields holds a message per argument or form field, where that applies.
	Fields map[string]string `json:"fields,omitempty"`
}

// Envelope is the JSON error envelope every failure of the protocol's
// endpoints is sent as: {"error": {"code": ..., "message": ..., "fields": ...}}.
type Envelope struct {
	// Error is the error being reported.
	Error ErrorBody `json:"error"`
}

// Limits on what an error envelope repeats (docs/spec.md §13.4): an error
// never echoes unbounded input, however much the request sent.
const (
	// MaxErrorFields is the most fields an envelope lists; the message
	// says how many more there were.
	MaxErrorFields = 32
	// MaxErrorName is the longest field name, in bytes, an envelope
	// repeats; a longer one is cut and ends with "…".
	MaxErrorName = 64
	// MaxErrorText is the longest message or field message, in bytes.
	MaxErrorText = 512
)

// AppendEnvelope appends to dst the JSON encoding of the [Envelope] for
// code, message and fields, and returns the extended buffer. It uses no
// reflection and writes what [encoding/json.Marshal] writes for the same
// Envelope (fields sorted by key and omitted when empty, strings escaped as
// encoding/json escapes them, invalid UTF-8 replaced by U+FFFD), within the
// limits above: at most [MaxErrorFields] fields, the first by name, with
// "(N more fields not listed)" added to the message when there were more;
// names cut to [MaxErrorName] bytes and texts to [MaxErrorText].
func AppendEnvelope(dst []byte, code Code, message string, fields map[string]string) []byte {
	dst = append(dst, `{"error":{"code":`...)
	dst = appendJSONString(dst, string(code))
	dst = append(dst, `,"message":`...)
	message = Truncate(message, MaxErrorText)
	if extra := len(fields) - MaxErrorFields; extra > 0 {
		message += " (" + strconv.Itoa(extra) + " more fields not listed)"
	}
	dst = appendJSONString(dst, message)
	if len(fields) > 0 {
		dst = append(dst, `,"fields":{`...)
		var arr [8]string
		names := sortedKeys(arr[:0], fields)
		// The names are written cut (Truncate): in the order of what is
		// written, as encoding/json would, which can differ from the order
		// of the whole names when a long one is cut.
		if slices.ContainsFunc(names, func(k string) bool { return len(k) > MaxErrorName }) {
			slices.SortStableFunc(names, func(a, b string) int {
				return strings.Compare(Truncate(a, MaxErrorName), Truncate(b, MaxErrorName))
			})
		}
		var prev string
		n := 0
		for _, k := range names {
			if n == MaxErrorFields {
				break
			}
			name := Truncate(k, MaxErrorName)
			if n > 0 && name == prev {
				continue // two long names cut alike: one entry
			}
			if n > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, name)
			dst = append(dst, ':')
			dst = appendJSONString(dst, Truncate(fields[k], MaxErrorText))
			prev = name
			n++
		}
		dst = append(dst, '}')
	}
	return append(dst, "}}"...)
}

// Truncate returns s when it has at most max bytes, else its first bytes up
// to a UTF-8 boundary followed by "…", within max bytes (max ≥ 3).
func Truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	const ellipsis = "…"
	i := max - len(ellipsis)
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + ellipsis
}
