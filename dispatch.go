package mizan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"reflect"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"

	"github.com/go-playground/validator/v10"
	"github.com/mizan-afi/mizan/protocol"
)

// recoverTo turns a panic in Mizan's own code into an internal error.
func recoverTo(w http.ResponseWriter, r *http.Request, logger *slog.Logger) {
	if v := recover(); v != nil {
		if v == http.ErrAbortHandler {
			panic(v)
		}
		logger.Error("mizan: panic while serving", "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
		writeError(w, r, logger, errInternal)
	}
}

// writeError is the one place errors become HTTP responses.
func writeError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	me, ok := asError(err)
	if !ok {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			me = NewError(CodePayloadTooLarge, fmt.Sprintf("request body is larger than %d bytes", mbe.Limit))
		} else {
			logger.Error("mizan: internal error", "path", r.URL.Path, "err", err)
			me = errInternal
		}
	}
	recordErrorCode(w, me.code)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Del("X-Mizan-Invalidate")
	if me.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(me.retryAfter))
	}
	w.WriteHeader(me.status)
	buf := getBuf()
	defer putBuf(buf)
	buf.b = protocol.AppendEnvelope(buf.b[:0], me.code, me.message, me.fields)
	_, _ = w.Write(buf.b)
}

// buffer pool for request and response bodies.
type byteBuf struct{ b []byte }

var bufPool = sync.Pool{New: func() any { return &byteBuf{b: make([]byte, 0, 1024)} }}

func getBuf() *byteBuf { return bufPool.Get().(*byteBuf) }

func putBuf(b *byteBuf) {
	if cap(b.b) <= 64<<10 {
		b.b = b.b[:0]
		bufPool.Put(b)
	}
}

// authenticate finds the caller: by an access token or session cookie when
// Config.Auth is set, else (or when the request carries neither) by the
// configured Authenticator.
func (a *App) authenticate(r *http.Request) (*Identity, *Error) {
	if a.auth != nil {
		p, err := a.auth.Authenticate(r)
		if err != nil {
			if me, ok := asError(a.authError(nil, r, err)); ok {
				return nil, me
			}
			a.logger.Error("mizan: auth: internal error", "path", r.URL.Path, "err", err)
			return nil, errInternal
		}
		if p != nil {
			return &Identity{ID: p.ID, Staff: p.Staff, Superuser: p.Superuser, Bearer: p.Bearer}, nil
		}
	}
	if a.cfg.Authenticator == nil {
		return nil, nil
	}
	id, err := a.cfg.Authenticator.Authenticate(r)
	if err != nil {
		if me, ok := asError(err); ok {
			return nil, me
		}
		return nil, NewError(CodeUnauthorized, "invalid credentials").WithCause(err)
	}
	return id, nil
}

// readBody reads a request body, which the bodyLimit step bounded.
func (a *App) readBody(r *http.Request, dst []byte) ([]byte, error) {
	b := bytes.NewBuffer(dst)
	if _, err := b.ReadFrom(r.Body); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, NewError(CodeBadRequest, "could not read the request body").WithCause(err)
	}
	return b.Bytes(), nil
}

// run calls f with its decoded arguments, turning a panic into an internal
// error with the detail logged.
func (a *App) run(ctx context.Context, f *Func, in any) (out any, err error) {
	if octx, end := a.observeFunc(ctx, f); end != nil {
		ctx = octx
		defer func() { end(err) }()
	}
	defer a.recoverCall(f, &err)
	return f.invoke(ctx, in)
}

// runJSON runs f and appends the result encoding of its result to dst
// (protocol.ResultEncoder: nil slices and maps as [] and {}, 64-bit
// integers JavaScript cannot hold refused), under the panic guard. On error
// dst is returned unchanged.
func (a *App) runJSON(ctx context.Context, f *Func, in any, dst []byte) (data []byte, err error) {
	if octx, end := a.observeFunc(ctx, f); end != nil {
		ctx = octx
		defer func() { end(err) }()
	}
	defer a.recoverCall(f, &err)
	out, err := f.invoke(ctx, in)
	if err != nil {
		return dst, err
	}
	if data, err = f.result.Append(dst, out); err != nil {
		return dst, fmt.Errorf("encoding the result of %s: %w", f.meta.Name, err)
	}
	return data, nil
}

// recoverCall, deferred, turns a panic of a server function into errInternal.
func (a *App) recoverCall(f *Func, err *error) {
	if v := recover(); v != nil {
		if v == http.ErrAbortHandler {
			panic(v)
		}
		a.logger.Error("mizan: panic in server function", "fn", f.meta.Name, "panic", v, "stack", string(debug.Stack()))
		*err = errInternal
	}
}

// validated returns every argument error of one call at once: decodeErr,
// the decoding's (wrongly typed, unknown, missing arguments), merged with
// the values outside their enums (enum.go), then with the failures of the `validate` rules on what did decode. Decoding errors
// other than invalid_args (malformed JSON) are returned as they are.
func (a *App) validated(f *Func, in any, decodeErr *Error) *Error {
	if decodeErr != nil && decodeErr.code != CodeInvalidArgs {
		return decodeErr
	}
	if len(f.enums) > 0 {
		var fields map[string]string
		if decodeErr != nil {
			fields = maps.Clone(decodeErr.fields)
		}
		if fields = enumErrors(f.enums, reflectElem(in), fields); fields != nil {
			decodeErr = invalidArgs(fields)
		}
	}
	verr := a.check(f, in)
	switch {
	case verr == nil:
		return decodeErr
	case decodeErr == nil:
		return verr
	}
	fields := maps.Clone(decodeErr.fields)
	for k, v := range verr.fields {
		if _, ok := fields[k]; !ok {
			fields[k] = v
		}
	}
	return invalidArgs(fields)
}

// check validates decoded arguments with their `validate` tags.
func (a *App) check(f *Func, in any) *Error {
	if !f.args.validate {
		return nil
	}
	err := a.validate.Struct(in)
	if err == nil {
		return nil
	}
	var ves validator.ValidationErrors
	if !errors.As(err, &ves) {
		return NewError(CodeInvalidArgs, "invalid arguments")
	}
	fields := make(map[string]string, len(ves))
	for _, fe := range ves {
		name := fe.Field()
		if ns := fe.Namespace(); strings.Count(ns, ".") > 1 {
			name = ns[strings.IndexByte(ns, '.')+1:]
		}
		msg := "failed the " + fe.Tag() + " rule"
		if fe.Param() != "" {
			msg += " (" + fe.Param() + ")"
		}
		fields[name] = msg
	}
	return invalidArgs(fields)
}

func reflectElem(in any) reflect.Value { return reflect.ValueOf(in).Elem() }

// quote returns s as a JSON string, for messages naming user input.
func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	b, _ := json.Marshal(s)
	return string(b)
}
