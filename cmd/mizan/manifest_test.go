package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fixtureManifest is the fixture app's edge manifest, the golden file of
// the conformance suite.
const fixtureManifest = "../../conformance/testdata/manifest.json"

func TestManifestPrintsTheNormalizedManifest(t *testing.T) {
	want, err := os.ReadFile(fixtureManifest)
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "manifest", "--manifest", fixtureManifest)
	if code != 0 || out != string(want) {
		t.Errorf("exit %d, stderr %q, stdout differs: %v", code, errOut, out != string(want))
	}
	path := filepath.Join(t.TempDir(), "out.json")
	if code, out, errOut := runCLI(t, "manifest", "--manifest", fixtureManifest, "--out", path); code != 0 || out != "" {
		t.Fatalf("--out: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if got, _ := os.ReadFile(path); string(got) != string(want) {
		t.Error("--out wrote something else")
	}
	// Compact input comes out indented, the same bytes.
	compact := strings.Join(strings.Fields(string(want)), "")
	var outBuf, errBuf strings.Builder
	if code := run([]string{"manifest", "--manifest", "-"}, strings.NewReader(compact), &outBuf, &errBuf); code != 0 || outBuf.String() != string(want) {
		t.Errorf("from stdin: exit %d, stderr %q", code, errBuf.String())
	}
}

func TestManifestFromCommand(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no shell")
	}
	cases := []struct {
		cmd     string
		timeout time.Duration
		want    string
	}{
		{"true", time.Minute, `"true" exited without writing its manifest: main must call app.WriteManifestFromEnv()`},
		{"exit 3", time.Minute, `running "exit 3": exit status 3`},
		{"sleep 30", 200 * time.Millisecond, `"sleep 30" did not exit within 200ms: does main call app.WriteManifestFromEnv() before serving?`},
		{`printf '{"contexts": {}}' > "$MIZAN_WRITE_MANIFEST"`, time.Minute, `manifest: "contexts" and "mutations" are required`},
	}
	for _, c := range cases {
		start := time.Now()
		code, _, errOut := runCLI(t, "manifest", "--cmd", c.cmd, "--timeout", c.timeout.String())
		if code != 1 || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: exit %d, stderr %q, want %q", c.cmd, code, errOut, c.want)
		}
		if time.Since(start) > 20*time.Second {
			t.Errorf("%s: took %s", c.cmd, time.Since(start))
		}
	}
	code, out, errOut := runCLI(t, "manifest", "--cmd", `cat `+fixtureManifest+` > "$MIZAN_WRITE_MANIFEST"`)
	want, _ := os.ReadFile(fixtureManifest)
	if code != 0 || out != string(want) {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestManifestUsageErrors(t *testing.T) {
	cases := [][]string{
		{"manifest"},
		{"manifest", "--cmd", "true", "--manifest", fixtureManifest},
	}
	for _, args := range cases {
		if code, _, errOut := runCLI(t, args...); code != 2 || !strings.Contains(errOut, "give either --cmd COMMAND or --manifest FILE") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
	if code, _, errOut := runCLI(t, "manifest", "--manifest", fixtureManifest, "x"); code != 2 || !strings.Contains(errOut, `unexpected argument "x"`) {
		t.Errorf("extra argument: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := runCLI(t, "manifest", "--manifest", "no-such-file.json"); code != 1 || !strings.Contains(errOut, "no-such-file.json") {
		t.Errorf("missing file: exit %d, stderr %q", code, errOut)
	}
}
