// Package ir is Mizan's intermediate representation of an app: every
// non-private server function (name, kind, context, parameters, result,
// affects, auth, route, cache settings), every named type reachable from
// their arguments and results, as encoding/json sees those types, and the
// schema of every form ([FormDef], docs/spec.md §10).
//
// The IR is what the code generators (package codegen) read. It is written
// and read as a KDL document whose first node is the versioned header
//
//	mizan-ir version=1
//
// and whose schema is described in docs/ir.md. [Encode] writes a [Document]
// byte for byte the same for the same app; [Parse] reads it back into an
// equal Document and reports malformed input with its line.
//
// # Building a Document
//
// Package ir does not import the root package mizan (the root imports ir).
// The root's App.IR turns its registered functions into [FunctionSpec]
// values and calls [Build], which reflects the Go types of arguments and
// results into IR types:
//
//   - json tags name fields; "-" skips a field; omitempty and omitzero make
//     it optional; the ",string" option makes a scalar a string;
//   - embedded structs are flattened with encoding/json's precedence rules;
//   - pointers are nullable; slices and arrays are lists, except []byte,
//     which is a base64 string (bytes); maps with string or integer keys are
//     records;
//   - time.Time is an RFC 3339 string (time); a type with its own
//     MarshalJSON is any, and one with MarshalText is a string;
//   - named structs, and named non-struct types, become named types, with
//     names made exported and generic instantiations named stably
//     (Page[Order] is PageOrder); anonymous structs are named after where
//     they are used (UpdateProfileResult).
package ir
