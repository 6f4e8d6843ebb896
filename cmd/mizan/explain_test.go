package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/conformance"
)

func TestExplainOffline(t *testing.T) {
	code, out, errOut := runCLI(t, "explain", "--manifest", fixtureManifest, "--ir", fixtureIR,
		"add_task", `{"project_id": 2, "title": "x", "state": "done"}`)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"tasks;project_id=2  [argument, filter-skipped]",
		"X-Mizan-Invalidate: tasks;project_id=2",
		`DEL gen:p:tasks:<hmac {"g":"p","c":"tasks","n":"project_id","v":"2"}>`,
		"every subscription to tasks whose params agree on project_id=2",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestExplainJSON(t *testing.T) {
	code, out, errOut := runCLI(t, "explain", "--manifest", fixtureManifest, "--ir", fixtureIR, "--json",
		"--caller", "3", "--secret", strings.Repeat("s", 32), "update_my_name", `{"name": "Lin"}`)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep struct {
		Header  string `json:"header"`
		Targets []struct {
			Context string   `json:"context"`
			Rules   []string `json:"rules"`
			RunTime []string `json:"run_time"`
		} `json:"targets"`
		Cache []struct {
			User string   `json:"user"`
			Keys []string `json:"keys"`
		} `json:"cache"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if rep.Header != "global, user" || len(rep.Targets) != 2 || rep.Targets[1].RunTime[0] != "user_id" {
		t.Errorf("report %+v", rep)
	}
	if rep.Cache[0].User != "3" || !strings.HasPrefix(rep.Cache[0].Keys[0], "gen:u:global:") || strings.Contains(rep.Cache[0].Keys[0], "<") {
		t.Errorf("the caller's generation of global is not computed: %+v", rep.Cache[0])
	}
}

func TestExplainURL(t *testing.T) {
	app := conformance.NewFixture(conformance.FixtureConfig{App: mizan.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}})
	srv := httptest.NewServer(app)
	defer srv.Close()
	code, out, errOut := runCLI(t, "explain", "--manifest", fixtureManifest, "--ir", fixtureIR, "--url", srv.URL,
		"set_task_state", `{"task_id": 4, "state": "todo"}`)
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
	for _, want := range []string{
		"X-Mizan-Invalidate: task;task_id=4, tasks;project_id=2",
		"tasks (run-time scope possible) was emitted as tasks;project_id=2",
		"agrees with the prediction",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// A caller the mutation refuses: the error is the server's.
	if code, _, errOut := runCLI(t, "explain", "--manifest", fixtureManifest, "--url", srv.URL, "secret"); code != 1 || !strings.Contains(errOut, "401 unauthorized") {
		t.Errorf("secret without credentials: exit %d, %q", code, errOut)
	}
	if code, _, errOut := runCLI(t, "explain", "--manifest", fixtureManifest, "--url", srv.URL, "--header", "X-Test-User: 2", "secret"); code != 0 {
		t.Errorf("secret with a caller: exit %d, %q", code, errOut)
	}
}

func TestExplainUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"explain", "add_task"}, exitUsage, "give either --manifest"},
		{[]string{"explain", "--manifest", fixtureManifest}, exitUsage, "give the mutation's name"},
		{[]string{"explain", "--manifest", fixtureManifest, "a", "{}", "extra"}, exitUsage, "give the mutation's name"},
		{[]string{"explain", "--manifest", fixtureManifest, "--header", "nocolon", "a"}, exitUsage, `want "Name: value"`},
		{[]string{"explain", "--manifest", fixtureManifest, "nope"}, exitFail, `no mutation "nope"`},
		{[]string{"explain", "--manifest", fixtureManifest, "add_task", "{"}, exitFail, "must be a JSON object"},
		{[]string{"explain", "--manifest", "/nonexistent.json", "add_task"}, exitFail, "reading the manifest"},
		{[]string{"explain", "--manifest", fixtureIR, "add_task"}, exitFail, "the manifest"},
	} {
		code, _, errOut := runCLI(t, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, errOut, c.code, c.want)
		}
	}
}

func TestExplainFromCommand(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no shell")
	}
	// A program that writes the fixture's IR or manifest, as an app's
	// main does with WriteIRFromEnv and WriteManifestFromEnv.
	cmd := `if [ -n "$MIZAN_WRITE_IR" ]; then cp ` + fixtureIR + ` "$MIZAN_WRITE_IR"; else cp ` + fixtureManifest + ` "$MIZAN_WRITE_MANIFEST"; fi`
	code, out, errOut := runCLI(t, "explain", "--cmd", cmd, "update_name", `{"user_id": 2, "name": "x"}`)
	if code != 0 || !strings.Contains(out, "user#user_profile;user_id=2  [function-level, argument]") {
		t.Errorf("exit %d, stderr %q:\n%s", code, errOut, out)
	}
	if code, _, errOut := runCLI(t, "explain", "--cmd", "true", "update_name"); code != 1 || !strings.Contains(errOut, "exited without writing its IR") {
		t.Errorf("a program that writes nothing: exit %d, %q", code, errOut)
	}
}
