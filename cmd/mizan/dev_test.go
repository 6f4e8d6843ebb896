//go:build unix

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the children's output copiers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// devAppSource is the main.go of a small app for "mizan dev" to run, with
// the standard library only (nothing to download): it writes an IR with
// one function per name in fns when MIZAN_WRITE_IR is set, and otherwise
// answers every request on $MIZAN_ADDR with its version and arguments.
func devAppSource(version string, fns ...string) string {
	var ir strings.Builder
	ir.WriteString(`mizan-ir version=1 prefix="/api/mizan/"` + "\n\n")
	for _, fn := range fns {
		fmt.Fprintf(&ir, "function %q kind=\"query\" context=\"demo\" {\n    result type=\"string\"\n}\n", fn)
	}
	return fmt.Sprintf(`package main

import (
	"fmt"
	"net/http"
	"os"
	"strings"
)

const ir = %q

func main() {
	if p := os.Getenv("MIZAN_WRITE_IR"); p != "" {
		if err := os.WriteFile(p, []byte(ir), 0o644); err != nil {
			panic(err)
		}
		return
	}
	http.ListenAndServe(os.Getenv("MIZAN_ADDR"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, %q+" "+strings.Join(os.Args[1:], " "))
	}))
}
`, ir.String(), version)
}

// fakeVite is web/node_modules/.bin/vite: a shell that records its pid and
// the target it was given, and starts a background sleep. A non-interactive
// shell's background job ignores SIGINT, so only the kill of the whole
// process group that follows stops it.
const fakeVite = `#!/bin/sh
echo "$$" > "$DEVTEST/vite.pid"
echo "$MIZAN_TARGET" > "$DEVTEST/target"
sleep 300 &
echo "$!" > "$DEVTEST/sleep.pid"
echo "fake vite ready"
wait
`

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// eventually polls cond every 50 ms until it holds, failing after timeout.
func eventually(t *testing.T, timeout time.Duration, what func() string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s: %s", timeout, what())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// alive reports whether the process pid exists (and is not a zombie).
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return !errors.Is(err, os.ErrNotExist) && syscall.Kill(pid, 0) == nil
	}
	// The state is the field after the parenthesised command name.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}

func readPid(t *testing.T, file string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func TestDevRebuildsRegeneratesRestartsAndStops(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	dir := t.TempDir()
	state := t.TempDir()
	t.Setenv("DEVTEST", state)
	write := func(name, content string, mode os.FileMode) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module devtest\n\ngo 1.26.0\n", 0o644)
	write("main.go", devAppSource("v1", "ping"), 0o644)
	write("web/node_modules/.bin/vite", fakeVite, 0o755)

	addr := freeAddr(t)
	var out, errOut syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- dev(ctx, devConfig{
			dir: dir, pkg: ".", targets: "ts=gen", web: "web", addr: addr, poll: 50 * time.Millisecond,
			serverArgs: []string{"-x", "y"}, stdout: &out, stderr: &errOut,
		})
	}()
	logs := func() string { return out.String() + errOut.String() }

	get := func() string {
		res, err := http.Get("http://" + addr + "/")
		if err != nil {
			return ""
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	genTypes := func() string {
		b, _ := os.ReadFile(filepath.Join(dir, "gen", "types.ts"))
		return string(b)
	}

	// The first build: served with the arguments after --, the client
	// generated into gen/ (relative to the app), Vite told the target.
	eventually(t, 60*time.Second, logs, func() bool { return get() == "v1 -x y" })
	if !strings.Contains(genTypes(), "ping") {
		t.Fatalf("gen/types.ts:\n%s\nlogs:\n%s", genTypes(), logs())
	}
	if b, _ := os.ReadFile(filepath.Join(state, "target")); strings.TrimSpace(string(b)) != "http://"+addr {
		t.Errorf("Vite's MIZAN_TARGET %q, want http://%s", b, addr)
	}
	if !strings.Contains(out.String(), "fake vite ready") {
		t.Errorf("Vite's output does not reach stdout:\n%s", out.String())
	}

	// A change: rebuilt, regenerated, restarted.
	write("main.go", devAppSource("v2", "ping", "pong"), 0o644)
	eventually(t, 60*time.Second, logs, func() bool { return get() == "v2 -x y" })
	eventually(t, 10*time.Second, genTypes, func() bool { return strings.Contains(genTypes(), "pong") })
	if !strings.Contains(errOut.String(), "mizan dev: main.go changed; rebuilding") {
		t.Errorf("no rebuild message:\n%s", errOut.String())
	}

	// A change that does not build: the running server stays; the next
	// good change replaces it. A test file's change is not one.
	write("main.go", "package main\n\nfunc main() { undefined() }\n", 0o644)
	eventually(t, 60*time.Second, logs, func() bool { return strings.Contains(errOut.String(), "go build . failed") })
	if got := get(); got != "v2 -x y" {
		t.Errorf("after a failed build the server answers %q", got)
	}
	builds := strings.Count(errOut.String(), "rebuilding")
	write("main_test.go", "package main\n", 0o644)
	time.Sleep(500 * time.Millisecond)
	if n := strings.Count(errOut.String(), "rebuilding"); n != builds {
		t.Errorf("a _test.go file triggered a rebuild")
	}
	write("main.go", devAppSource("v3", "ping"), 0o644)
	eventually(t, 60*time.Second, logs, func() bool { return get() == "v3 -x y" })

	// Stopping: the server, Vite and what Vite left in its group are gone.
	vitePid, sleepPid := readPid(t, filepath.Join(state, "vite.pid")), readPid(t, filepath.Join(state, "sleep.pid"))
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("dev: %v\n%s", err, logs())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("dev did not return 30 s after its context ended:\n%s", logs())
	}
	if get() != "" {
		t.Error("the server still answers")
	}
	for name, pid := range map[string]int{"vite": vitePid, "vite's background sleep": sleepPid} {
		eventually(t, 5*time.Second, func() string { return name + " is still running" }, func() bool { return !alive(pid) })
	}
}

func TestDevNeedsTheViteProject(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module x\n"), 0o644)
	err := dev(context.Background(), devConfig{dir: dir, pkg: ".", targets: "ts=gen", web: "web", addr: "127.0.0.1:0", poll: time.Second, stdout: io.Discard, stderr: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "npm install") {
		t.Errorf("err = %v, want one saying to install the UI's packages", err)
	}
	err = dev(context.Background(), devConfig{dir: t.TempDir(), targets: "ts=gen", stdout: io.Discard, stderr: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "no go.mod") {
		t.Errorf("err = %v, want one about go.mod", err)
	}
}

func TestDevFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-poll", "0s"}, "-poll must be positive"},
		{[]string{"-target", "cobol"}, `unknown target "cobol"`},
	} {
		code, _, errOut := runCLI(t, append([]string{"dev"}, c.args...)...)
		if code != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q", c.args, code, errOut)
		}
	}
}

func TestScanGoFiles(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"main.go", "go.mod", "go.sum", "x_test.go", "notes.md", "pkg/a.go", "web/node_modules/m/b.go", ".git/c.go", "testdata/d.go", "_old/e.go"} {
		p := filepath.Join(dir, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("x"), 0o644)
	}
	got, err := scanGoFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for k := range got {
		names = append(names, filepath.ToSlash(k))
	}
	want := map[string]bool{"main.go": true, "go.mod": true, "go.sum": true, "pkg/a.go": true}
	if len(names) != len(want) {
		t.Errorf("scanned %v, want %v", names, want)
	}
	for _, n := range names {
		if !want[n] {
			t.Errorf("scanned %s", n)
		}
	}
	a := map[string]fileStamp{"a.go": {size: 1}, "b.go": {size: 1}}
	b := map[string]fileStamp{"a.go": {size: 2}, "b.go": {size: 1}, "c.go": {size: 1}}
	if sameStamps(a, b) || !sameStamps(a, a) {
		t.Error("sameStamps")
	}
	if got := describeChange(a, b); got != "a.go and 1 more" {
		t.Errorf("describeChange = %q", got)
	}
}
