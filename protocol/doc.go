// Package protocol holds the wire types and codecs of the Mizan protocol (AFI)
// that the server, the Go client and the edge proxy share.
//
// It imports only the standard library and nothing else of this module, so
// every other package may depend on it.
//
// # Invalidation targets
//
// A [Target] names a context, optionally scoped by parameters and, in JSON
// bodies only, narrowed to one function of the context. [Target.MarshalJSON]
// and [Target.UnmarshalJSON] implement the three body forms:
//
//	"user"
//	{"context": "user", "params": {"user_id": 5}}
//	{"context": "user", "function": "user_profile", "params": {"user_id": 5}}
//
// # The X-Mizan-Invalidate header
//
// [FormatHeader] and [AppendHeader] write targets as the value of the
// [HeaderInvalidate] response header, and [ParseHeader] reads it back:
//
//	X-Mizan-Invalidate: user;user_id=5, notifications
//
// Formatting sorts parameters by name, percent-encodes values, drops scoped
// targets of a context that is also invalidated broadly and collapses exact
// duplicates. Parsing is strict: anything malformed is an error.
//
// # Values as strings
//
// Query parameters, cache-key parameters and header values are strings.
// [Stringify] and [StringParams] turn typed values into them: integers in
// decimal, booleans as true or false, strings unchanged.
//
// # Errors
//
// Failures are sent as the JSON envelope {"error": {"code", "message",
// "fields"}}. [Code] lists the protocol's error codes and their HTTP
// statuses; [Envelope] is the envelope's Go shape and [AppendEnvelope]
// encodes it without reflection.
package protocol
