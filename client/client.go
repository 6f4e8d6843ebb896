// Package client is the runtime of the Go clients "mizan generate --target
// go" writes: it calls a Mizan app's protocol endpoints over HTTP, decodes
// results, invalidation targets and the error envelope. Generated code wraps
// it in one typed method per function; it can also be used directly.
//
//	rt := client.New(client.Config{BaseURL: "http://localhost:8080"})
//	res, err := client.Call[Profile](ctx, rt, "update_profile", args)
//	var e *client.Error
//	if errors.As(err, &e) && e.Code == protocol.CodeInvalidArgs {
//		fmt.Println(e.Fields["name"])
//	}
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/mizan-afi/mizan/protocol"
)

// DefaultPrefix is the path the protocol endpoints are served under when
// Config.Prefix is empty.
const DefaultPrefix = "/api/mizan/"

// maxBody bounds the responses the client reads.
const maxBody = 64 << 20

// Config configures a [Client].
type Config struct {
	// BaseURL is the app's origin, such as "http://localhost:8080".
	BaseURL string
	// Prefix is the path the protocol endpoints are served under. Empty
	// means DefaultPrefix ("/api/mizan/").
	Prefix string
	// HTTPClient sends the requests. Nil means http.DefaultClient. Give it a
	// cookie jar to use cookie sessions (and call [Client.Session] for the
	// CSRF token).
	HTTPClient *http.Client
	// Header is added to every request: credentials such as
	// "Authorization: Bearer …", for example.
	Header http.Header
	// CSRFHeaderName is the header [Client.Session]'s token is sent in.
	// Empty means "X-CSRFToken".
	CSRFHeaderName string
}

// Client calls the protocol endpoints of one Mizan app. It is safe for
// concurrent use.
type Client struct {
	cfg  Config
	base string // BaseURL + Prefix, without the trailing slash

	mu   sync.RWMutex
	csrf string
}

// New returns a Client for the app cfg describes.
func New(cfg Config) *Client {
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	if cfg.CSRFHeaderName == "" {
		cfg.CSRFHeaderName = "X-CSRFToken"
	}
	cfg.Header = cfg.Header.Clone()
	base := strings.TrimSuffix(cfg.BaseURL, "/") + "/" + strings.Trim(cfg.Prefix, "/")
	return &Client{cfg: cfg, base: strings.TrimSuffix(base, "/")}
}

// Result is what a call returns: the function's result and the
// invalidation targets of a mutation (empty for a read).
type Result[T any] struct {
	Result     T
	Invalidate []protocol.Target
}

// Call runs the function fn with args (a struct or map encoding to a JSON
// object; nil for none) through POST call/ and decodes its result into R.
// A failure reported by the app is an [*Error].
func Call[R any](ctx context.Context, c *Client, fn string, args any) (Result[R], error) {
	var r R
	targets, err := c.Call(ctx, fn, args, &r)
	return Result[R]{Result: r, Invalidate: targets}, err
}

// Call runs the function fn with args through POST call/, decodes its
// result into result (a pointer, or nil to discard it) and returns the
// invalidation targets. A failure reported by the app is an [*Error].
func (c *Client) Call(ctx context.Context, fn string, args, result any) ([]protocol.Target, error) {
	body, err := encodeCall(fn, args)
	if err != nil {
		return nil, fmt.Errorf("client: call %s: %w", fn, err)
	}
	req, err := c.newRequest(ctx, http.MethodPost, c.base+"/call/", body)
	if err != nil {
		return nil, fmt.Errorf("client: call %s: %w", fn, err)
	}
	req.Header.Set("Content-Type", "application/json")
	var resp struct {
		Result     json.RawMessage   `json:"result"`
		Invalidate []protocol.Target `json:"invalidate"`
	}
	if err := c.do(req, &resp); err != nil {
		return nil, fmt.Errorf("client: call %s: %w", fn, err)
	}
	if result != nil && len(resp.Result) > 0 {
		if err := json.Unmarshal(resp.Result, result); err != nil {
			return resp.Invalidate, fmt.Errorf("client: call %s: decoding the result: %w", fn, err)
		}
	}
	if resp.Invalidate == nil {
		resp.Invalidate = []protocol.Target{}
	}
	return resp.Invalidate, nil
}

// encodeCall returns the body of a call/ request.
func encodeCall(fn string, args any) ([]byte, error) {
	raw := json.RawMessage("{}")
	if args != nil {
		b, err := json.Marshal(args)
		if err != nil {
			return nil, fmt.Errorf("encoding the arguments: %w", err)
		}
		if string(b) != "null" {
			raw = b
		}
	}
	return json.Marshal(struct {
		Fn   string          `json:"fn"`
		Args json.RawMessage `json:"args"`
	}{fn, raw})
}

// FetchContext runs every function of the context name through GET
// ctx/<name>/ with params (stringified as the protocol says: integers in
// decimal, booleans as true or false; nil values are left out) and decodes
// the bundle, an object keyed by function name, into bundle.
func (c *Client) FetchContext(ctx context.Context, name string, params map[string]any, bundle any) error {
	q := url.Values{}
	keys := make([]string, 0, len(params))
	for k, v := range params {
		if v != nil {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		s, err := protocol.Stringify(params[k])
		if err != nil {
			return fmt.Errorf("client: fetch %s: param %q: %w", name, k, err)
		}
		q.Set(k, s)
	}
	u := c.base + "/ctx/" + url.PathEscape(name) + "/"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := c.newRequest(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("client: fetch %s: %w", name, err)
	}
	if err := c.do(req, bundle); err != nil {
		return fmt.Errorf("client: fetch %s: %w", name, err)
	}
	return nil
}

// Session calls GET session/, which sets the CSRF cookie, and sends the
// token it returns with every later request. A client that authenticates
// with cookies (Config.HTTPClient with a jar) needs it before calling
// mutations; one sending a header credential does not.
func (c *Client) Session(ctx context.Context) (string, error) {
	req, err := c.newRequest(ctx, http.MethodGet, c.base+"/session/", nil)
	if err != nil {
		return "", fmt.Errorf("client: session: %w", err)
	}
	var out struct {
		CSRFToken string `json:"csrf_token"`
	}
	if err := c.do(req, &out); err != nil {
		return "", fmt.Errorf("client: session: %w", err)
	}
	c.mu.Lock()
	c.csrf = out.CSRFToken
	c.mu.Unlock()
	return out.CSRFToken, nil
}

func (c *Client) newRequest(ctx context.Context, method, u string, body []byte) (*http.Request, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return nil, err
	}
	for k, vs := range c.cfg.Header {
		req.Header[k] = slices.Clone(vs)
	}
	req.Header.Set("Accept", "application/json")
	c.mu.RLock()
	if c.csrf != "" {
		req.Header.Set(c.cfg.CSRFHeaderName, c.csrf)
	}
	c.mu.RUnlock()
	return req, nil
}

// do sends req and decodes a 2xx JSON body into out, or returns the error
// the response carries.
func (c *Client) do(req *http.Request, out any) error {
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("reading the response: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return errorFrom(resp.StatusCode, body)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("decoding the response: %w", err)
	}
	return nil
}

// CodeUnexpected is the code of an [Error] for a failed response that does
// not carry the protocol's error envelope (a proxy's error page, say).
const CodeUnexpected protocol.Code = "unexpected_response"

// Error is a failure the app reported with the protocol's error envelope
// (docs/spec.md §5), or a failed response without one (CodeUnexpected).
// Find it in an error chain with errors.As.
type Error struct {
	Status  int               // the HTTP status
	Code    protocol.Code     // the envelope's code, such as protocol.CodeInvalidArgs
	Message string            // the envelope's human-readable message
	Fields  map[string]string // per-argument messages, or nil
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("%s (%d): %s", e.Code, e.Status, e.Message)
}

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, &client.Error{Code: protocol.CodeNotFound}) matches any
// not_found error.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// errorFrom builds the Error of a failed response.
func errorFrom(status int, body []byte) *Error {
	var env protocol.Envelope
	if err := json.Unmarshal(body, &env); err != nil || env.Error.Code == "" {
		msg := strings.TrimSpace(string(body))
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		if msg == "" {
			msg = http.StatusText(status)
		}
		return &Error{Status: status, Code: CodeUnexpected, Message: msg}
	}
	return &Error{Status: status, Code: env.Error.Code, Message: env.Error.Message, Fields: env.Error.Fields}
}

// AsError returns the *Error in err's chain, if there is one.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
