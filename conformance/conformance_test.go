package conformance_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The wire suite. TestMain builds the fixture command, starts it on a free
// loopback port and points every test at it over real HTTP; with
// MIZAN_CONFORMANCE_URL set it uses that server instead and starts nothing.

// urlEnv names the environment variable that points the suite at a running
// server.
const urlEnv = "MIZAN_CONFORMANCE_URL"

// prefix is where the fixture mounts the protocol endpoints.
const prefix = "/api/mizan/"

// headerInvalidate is the invalidation header (docs/spec.md §3). The suite
// spells out the wire instead of importing package protocol.
const headerInvalidate = "X-Mizan-Invalidate"

// server is the server under test, set by TestMain.
var server struct {
	url  string       // base URL without a trailing slash
	bin  string       // the built fixture command, "" with MIZAN_CONFORMANCE_URL
	proc *fixtureProc // the started fixture, nil with MIZAN_CONFORMANCE_URL
}

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

// runSuite sets up the server under test, runs the tests and stops the
// server, returning the exit status. A fixture that does not shut down
// cleanly (or, under -race, reports a data race) fails the run.
func runSuite(m *testing.M) int {
	if u := os.Getenv(urlEnv); u != "" {
		server.url = strings.TrimSuffix(u, "/")
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "mizan-conformance-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin, err := buildFixture(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		return 1
	}
	p, err := startFixture(bin, "-addr", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		return 1
	}
	server.url, server.bin, server.proc = p.url, bin, p
	code := m.Run()
	if err := p.stop(); err != nil {
		fmt.Fprintf(os.Stderr, "conformance: %v\nfixture stderr:\n%s\n", err, p.stderr.String())
		code = 1
	}
	return code
}

// goTool returns the go command: the one on PATH, else the one of the
// toolchain that built this test.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// buildFixture builds ./fixture into dir, with the race detector when the
// suite itself runs under it, and returns the binary's path.
func buildFixture(dir string) (string, error) {
	bin := filepath.Join(dir, "fixture")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool(), append(args, "./fixture")...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("building the fixture: %w\n%s", err, out)
	}
	return bin, nil
}

// fixtureProc is a running fixture command.
type fixtureProc struct {
	cmd    *exec.Cmd
	url    string
	stderr *syncBuffer
	exited chan struct{} // closed when the process has exited
	err    error         // the Wait error, valid once exited is closed
}

// listening matches the line the fixture prints once it listens.
var listening = regexp.MustCompile(`^mizan fixture listening on (http://[^\s/]+)$`)

// startFixture starts bin with args and waits for its listening line.
func startFixture(bin string, args ...string) (*fixtureProc, error) {
	return startFixtureEnv(bin, nil, args...)
}

// startFixtureEnv is startFixture with env (NAME=value entries) added to
// the environment.
func startFixtureEnv(bin string, env []string, args ...string) (*fixtureProc, error) {
	p := &fixtureProc{cmd: exec.Command(bin, args...), stderr: &syncBuffer{}, exited: make(chan struct{})}
	if env != nil {
		p.cmd.Env = append(os.Environ(), env...)
	}
	p.cmd.Stderr = p.stderr
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("starting the fixture: %w", err)
	}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the fixture: %w", err)
	}
	first := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		line := ""
		if sc.Scan() {
			line = sc.Text()
		}
		first <- line
		_, _ = io.Copy(io.Discard, stdout) // never block the fixture's writes
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	select {
	case line := <-first:
		m := listening.FindStringSubmatch(line)
		if m == nil {
			_ = p.cmd.Process.Kill()
			<-p.exited
			return nil, fmt.Errorf("the fixture printed %q, not its listening line (%v)\nstderr:\n%s", line, p.err, p.stderr.String())
		}
		p.url = m[1]
		return p, nil
	case <-time.After(time.Minute):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return nil, fmt.Errorf("the fixture did not announce its address within a minute\nstderr:\n%s", p.stderr.String())
	}
}

// stop asks the fixture to shut down (SIGTERM; a kill where signals are not
// supported) and reports whether it exited cleanly.
func (p *fixtureProc) stop() error {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		_ = p.cmd.Process.Kill()
	}
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return errors.New("the fixture did not shut down within 30s of SIGTERM")
	}
	if p.err != nil {
		return fmt.Errorf("the fixture exited with an error after SIGTERM: %w", p.err)
	}
	if strings.Contains(p.stderr.String(), "DATA RACE") {
		return errors.New("the fixture reported a data race")
	}
	return nil
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// client never follows redirects: the suite checks them.
var client = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// response is an HTTP response with its body read.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request to the server under test. headers are name, value
// pairs. Every response of the protocol endpoints (under the prefix) is
// checked for Cache-Control: no-store.
func do(t *testing.T, method, path, body string, headers ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, server.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if len(headers)%2 != 0 {
		t.Fatalf("do: headers %q are not name, value pairs", headers)
	}
	for i := 0; i < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	r := response{status: res.StatusCode, header: res.Header, body: raw}
	if strings.HasPrefix(path, prefix) {
		if cc := res.Header.Values("Cache-Control"); len(cc) != 1 || cc[0] != "no-store" {
			t.Errorf("%s %s: Cache-Control %q, want exactly no-store (status %d)", method, path, cc, r.status)
		}
	}
	return r
}

// call posts {"fn": fn, "args": args} to call/ as JSON; args nil sends no
// "args" at all.
func call(t *testing.T, fn string, args any, headers ...string) response {
	t.Helper()
	req := map[string]any{"fn": fn}
	if args != nil {
		req["args"] = args
	}
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatalf("encoding the call of %s: %v", fn, err)
	}
	return do(t, http.MethodPost, prefix+"call/", string(body), append([]string{"Content-Type", "application/json"}, headers...)...)
}

// mediaType returns the media type of the response's Content-Type.
func (r response) mediaType() string {
	mt, _, _ := mime.ParseMediaType(r.header.Get("Content-Type"))
	return mt
}

// decodeObject decodes a JSON object into its members.
func decodeObject(b []byte) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if m == nil {
		return nil, errors.New("null, not a JSON object")
	}
	return m, nil
}

// jsonEqual reports whether two JSON texts encode the same value (object
// members in any order).
func jsonEqual(got []byte, want string) (bool, error) {
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		return false, fmt.Errorf("got invalid JSON %q: %w", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		return false, fmt.Errorf("want invalid JSON %q: %w", want, err)
	}
	return reflect.DeepEqual(g, w), nil
}

// wantJSON fails t unless got and want encode the same value.
func wantJSON(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	eq, err := jsonEqual(got, want)
	if err != nil {
		t.Errorf("%s: %v", what, err)
	} else if !eq {
		t.Errorf("%s:\n got %s\nwant %s", what, got, want)
	}
}

// wantHeader fails t unless the response has exactly one header name with
// value want, or none at all when want is "".
func wantHeader(t *testing.T, r response, name, want string) {
	t.Helper()
	got := r.header.Values(name)
	switch {
	case want == "" && len(got) > 0:
		t.Errorf("%s: %q, want no such header", name, got)
	case want != "" && (len(got) != 1 || got[0] != want):
		t.Errorf("%s: %q, want %q", name, got, want)
	}
}

// wantResult fails t unless r is a successful call/ response: 200, JSON,
// exactly {"result", "invalidate"} with the given values, and the
// invalidation header (header "" meaning none).
func wantResult(t *testing.T, r response, result, invalidate, header string) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", r.status, r.body)
	}
	if mt := r.mediaType(); mt != "application/json" {
		t.Errorf("Content-Type %q, want application/json", r.header.Get("Content-Type"))
	}
	obj, err := decodeObject(r.body)
	if err != nil {
		t.Fatalf("body %s: %v", r.body, err)
	}
	if keys := sortedKeys(obj); !slices.Equal(keys, []string{"invalidate", "result"}) {
		t.Errorf("body members %q, want exactly invalidate and result: %s", keys, r.body)
	}
	wantJSON(t, "result", obj["result"], result)
	wantJSON(t, "invalidate", obj["invalidate"], invalidate)
	wantHeader(t, r, headerInvalidate, header)
}

// wantError fails t unless r is the protocol's error envelope with the
// given status and code (docs/spec.md §5), naming exactly fields (and
// carrying no "fields" when none are given), and without an invalidation
// header.
func wantError(t *testing.T, r response, status int, code string, fields ...string) {
	t.Helper()
	if r.status != status {
		t.Errorf("status %d, want %d: %s", r.status, status, r.body)
	}
	if r.status < 400 {
		t.Errorf("status %d of an error is not 4xx or 5xx", r.status)
	}
	if mt := r.mediaType(); mt != "application/json" {
		t.Errorf("Content-Type %q, want application/json", r.header.Get("Content-Type"))
	}
	wantHeader(t, r, headerInvalidate, "")
	env, err := decodeObject(r.body)
	if err != nil {
		t.Fatalf("error body %q: %v", r.body, err)
	}
	if keys := sortedKeys(env); !slices.Equal(keys, []string{"error"}) {
		t.Errorf("envelope members %q, want exactly error: %s", keys, r.body)
	}
	var e struct {
		Code    *string            `json:"code"`
		Message *string            `json:"message"`
		Fields  *map[string]string `json:"fields"`
	}
	dec := json.NewDecoder(bytes.NewReader(env["error"]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("error object %s is not {code, message[, fields]}: %v", env["error"], err)
	}
	switch {
	case e.Code == nil:
		t.Errorf("error without a code: %s", r.body)
	case *e.Code != code:
		t.Errorf("code %q, want %q: %s", *e.Code, code, r.body)
	}
	if e.Message == nil || strings.TrimSpace(*e.Message) == "" {
		t.Errorf("error without a message: %s", r.body)
	}
	switch {
	case len(fields) == 0 && e.Fields != nil:
		t.Errorf("fields %v, want none", *e.Fields)
	case len(fields) > 0 && e.Fields == nil:
		t.Errorf("no fields, want %q: %s", fields, r.body)
	case len(fields) > 0:
		got := sortedKeys(*e.Fields)
		want := slices.Sorted(slices.Values(fields))
		if !slices.Equal(got, want) {
			t.Errorf("fields name %q, want %q: %s", got, want, r.body)
		}
		for name, msg := range *e.Fields {
			if strings.TrimSpace(msg) == "" {
				t.Errorf("field %q has an empty message", name)
			}
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// needProcess skips t when the suite runs against a server it did not start.
func needProcess(t *testing.T) {
	t.Helper()
	if server.proc == nil {
		t.Skipf("%s is set: the suite did not start the fixture", urlEnv)
	}
}

// TestCommand checks the fixture command's exit statuses on bad usage and
// on an address it cannot listen on.
func TestCommand(t *testing.T) {
	needProcess(t)
	cases := []struct {
		name   string
		args   []string
		status int
		stderr string
	}{
		{"help", []string{"-h"}, 0, "-addr"},
		{"unknown flag", []string{"-no-such-flag"}, 2, "flag provided but not defined"},
		{"extra argument", []string{"serve"}, 2, "unexpected arguments"},
		{"bad address", []string{"-addr", "127.0.0.1:99999"}, 1, "fixture: listening"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, server.bin, c.args...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			status := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				status = ee.ExitCode()
			} else if err != nil {
				t.Fatalf("running the fixture: %v", err)
			}
			if status != c.status {
				t.Errorf("exit status %d, want %d\nstderr: %s", status, c.status, stderr.String())
			}
			if !strings.Contains(stderr.String(), c.stderr) {
				t.Errorf("stderr %q does not mention %q", stderr.String(), c.stderr)
			}
			if stdout.Len() > 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
		})
	}
}

// TestCommandAnnouncesItsAddress starts a second fixture on port 0 and
// checks that the address it announces is a real port that answers.
func TestCommandAnnouncesItsAddress(t *testing.T) {
	needProcess(t)
	p, err := startFixture(server.bin, "-addr", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := p.stop(); err != nil {
			t.Errorf("%v\nstderr:\n%s", err, p.stderr.String())
		}
	}()
	if !strings.HasPrefix(p.url, "http://127.0.0.1:") || strings.HasSuffix(p.url, ":0") {
		t.Fatalf("announced %q, want http://127.0.0.1:<port>", p.url)
	}
	res, err := client.Get(p.url + prefix + "ctx/subscription/")
	if err != nil {
		t.Fatalf("the announced address does not answer: %v", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("GET ctx/subscription/ on the announced address: %d", res.StatusCode)
	}
}
