package main

import (
	"bytes"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
)

// runCLI runs the tool in-process and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestVersion(t *testing.T) {
	code, out, errOut := runCLI(t, "version")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if !regexp.MustCompile(`^mizan \S+\n$`).MatchString(out) {
		t.Errorf("output %q is not one line \"mizan <version>\"", out)
	}
}

func TestVersionFromLinkerFlag(t *testing.T) {
	old := version
	t.Cleanup(func() { version = old })
	version = "v1.2.3"
	if code, out, _ := runCLI(t, "version"); code != 0 || out != "mizan v1.2.3\n" {
		t.Errorf("exit %d, output %q", code, out)
	}
}

func TestBuildInfoVersion(t *testing.T) {
	cases := []struct {
		info *debug.BuildInfo
		ok   bool
		want string
	}{
		{nil, false, "devel"},
		{&debug.BuildInfo{}, true, "devel"},
		{&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, true, "devel"},
		{&debug.BuildInfo{Main: debug.Module{Version: "v0.3.0"}}, true, "v0.3.0"},
	}
	for _, c := range cases {
		if got := buildInfoVersion(c.info, c.ok); got != c.want {
			t.Errorf("buildInfoVersion(%+v, %v) = %q, want %q", c.info, c.ok, got, c.want)
		}
	}
}

func TestVersionRejectsArguments(t *testing.T) {
	code, out, errOut := runCLI(t, "version", "extra")
	if code != 2 || out != "" || !strings.Contains(errOut, `unexpected argument "extra"`) {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, _, errOut = runCLI(t, "version", "-nope")
	if code != 2 || !strings.Contains(errOut, "flag provided but not defined: -nope") {
		t.Errorf("unknown flag: exit %d, stderr %q", code, errOut)
	}
}

func TestHelpListsEveryCommand(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}, {"-help"}} {
		code, out, errOut := runCLI(t, args...)
		if code != 0 || errOut != "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
		for _, c := range commands() {
			if !regexp.MustCompile(`\t` + regexp.QuoteMeta(c.name) + ` {2,}` + regexp.QuoteMeta(c.summary) + `\n`).MatchString(out) {
				t.Errorf("%v: %q is not listed with its summary in\n%s", args, c.name, out)
			}
		}
		if !strings.Contains(out, "help") {
			t.Errorf("%v: help is not listed", args)
		}
	}
}

func TestNoArgumentsPrintsUsage(t *testing.T) {
	code, out, errOut := runCLI(t)
	if code != 2 || out != "" || !strings.Contains(errOut, "Commands:") || !strings.Contains(errOut, "version") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestUnknownCommand(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `mizan: unknown command "frobnicate"`},
		{[]string{"--verbose", "version"}, "mizan: flag --verbose given before a command"},
		{[]string{"help", "frobnicate"}, `mizan help: unknown command "frobnicate"`},
	}
	for _, c := range cases {
		code, out, errOut := runCLI(t, c.args...)
		if code != 2 || out != "" {
			t.Errorf("%v: exit %d, stdout %q", c.args, code, out)
		}
		if !strings.Contains(errOut, c.want) || !strings.Contains(errOut, `Run "mizan help"`) {
			t.Errorf("%v: stderr %q lacks %q and the hint", c.args, errOut, c.want)
		}
	}
}

func TestHelpForCommand(t *testing.T) {
	for _, args := range [][]string{{"help", "version"}, {"version", "-h"}} {
		code, out, errOut := runCLI(t, args...)
		if code != 0 || !strings.Contains(out+errOut, "usage: mizan version") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
	if code, _, _ := runCLI(t, "help", "version", "extra"); code != 2 {
		t.Errorf("help with two arguments: exit %d", code)
	}
}

func TestCommandTable(t *testing.T) {
	seen := map[string]bool{"help": true}
	for _, c := range commands() {
		if c.name == "" || c.summary == "" || c.run == nil {
			t.Errorf("incomplete command %+v", c)
		}
		if seen[c.name] {
			t.Errorf("command %q is listed twice (or shadows help)", c.name)
		}
		seen[c.name] = true
		if strings.HasSuffix(c.summary, ".") || strings.ToLower(c.summary[:1]) != c.summary[:1] {
			t.Errorf("summary of %q should be lower case without a period: %q", c.name, c.summary)
		}
	}
}
