package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestIRPrintsTheNormalizedIR(t *testing.T) {
	want, err := os.ReadFile(fixtureIR)
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "ir", "--ir", fixtureIR)
	if code != 0 || out != string(want) {
		t.Errorf("exit %d, stderr %q, stdout differs: %v", code, errOut, out != string(want))
	}
	path := filepath.Join(t.TempDir(), "out.kdl")
	if code, out, errOut := runCLI(t, "ir", "--ir", fixtureIR, "--out", path); code != 0 || out != "" {
		t.Fatalf("--out: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if got, _ := os.ReadFile(path); string(got) != string(want) {
		t.Error("--out wrote something else")
	}
}

func TestIRFromCommand(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no shell")
	}
	cases := []struct {
		cmd     string
		timeout time.Duration
		want    string
	}{
		{"true", time.Minute, `"true" exited without writing its IR: main must call app.WriteIRFromEnv()`},
		{"exit 3", time.Minute, `running "exit 3": exit status 3`},
		{"sleep 30", 200 * time.Millisecond, `"sleep 30" did not exit within 200ms: does main call app.WriteIRFromEnv() before serving?`},
		{`printf 'mizan-ir version=1\nbad' > "$MIZAN_WRITE_IR"`, time.Minute, `ir: line 2: unknown node "bad"`},
	}
	for _, c := range cases {
		start := time.Now()
		code, _, errOut := runCLI(t, "ir", "--cmd", c.cmd, "--timeout", c.timeout.String())
		if code != 1 || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: exit %d, stderr %q, want %q", c.cmd, code, errOut, c.want)
		}
		if time.Since(start) > 20*time.Second {
			t.Errorf("%s: took %s", c.cmd, time.Since(start))
		}
	}
	code, out, errOut := runCLI(t, "ir", "--cmd", `printf 'mizan-ir version=1\n' > "$MIZAN_WRITE_IR"`)
	if code != 0 || !strings.HasSuffix(out, "mizan-ir version=1\n") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestIRUsageErrors(t *testing.T) {
	if code, _, errOut := runCLI(t, "ir"); code != 2 || !strings.Contains(errOut, "give the IR with --ir FILE or --cmd COMMAND") {
		t.Errorf("no source: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := runCLI(t, "ir", "--ir", fixtureIR, "x"); code != 2 || !strings.Contains(errOut, `unexpected argument "x"`) {
		t.Errorf("extra argument: exit %d, stderr %q", code, errOut)
	}
}
