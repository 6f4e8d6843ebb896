package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixtureKDL is the fixture app's IR, the golden file of the generators.
const fixtureKDL = "../../codegen/testdata/fixture/ir.kdl"

func TestOpenAPIFromIRFile(t *testing.T) {
	want, err := os.ReadFile("../../openapi/testdata/fixture.json")
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "openapi", "--ir", fixtureKDL, "--title", "Mizan fixture", "--auth")
	if code != 0 || out != string(want) {
		t.Fatalf("exit %d, stderr %q, stdout is the golden document: %v", code, errOut, out == string(want))
	}
	path := filepath.Join(t.TempDir(), "openapi.json")
	if code, out, errOut := runCLI(t, "openapi", "--ir", fixtureKDL, "--title", "Mizan fixture", "--auth", "-o", path); code != 0 || out != "" {
		t.Fatalf("-o: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if got, _ := os.ReadFile(path); string(got) != string(want) {
		t.Error("-o wrote something else")
	}
}

func TestOpenAPIOptions(t *testing.T) {
	code, out, errOut := runCLI(t, "openapi", "--ir", fixtureKDL, "--version", "2.3.4", "--prefix", "/rpc/", "--csrf-header", "X-XSRF", "--server", "https://api.example.org")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var d struct {
		Info struct {
			Title, Version string
		}
		Servers []struct{ URL string }
		Paths   map[string]any
		Comps   struct {
			Security map[string]struct{ Name string } `json:"securitySchemes"`
		} `json:"components"`
	}
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatal(err)
	}
	if d.Info.Version != "2.3.4" || d.Info.Title != "Mizan API" || d.Servers[0].URL != "https://api.example.org" {
		t.Errorf("info %+v servers %+v", d.Info, d.Servers)
	}
	if _, ok := d.Paths["/rpc/call/update_profile/"]; !ok {
		t.Errorf("no /rpc/call/update_profile/ in %d paths", len(d.Paths))
	}
	if _, ok := d.Paths["/rpc/auth/token/"]; ok {
		t.Error("auth/token/ described without --auth")
	}
	if d.Comps.Security["csrfHeader"].Name != "X-XSRF" {
		t.Errorf("csrf header %+v", d.Comps.Security)
	}
}

func TestOpenAPIFromCommand(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no shell")
	}
	cmd := `cp ` + fixtureKDL + ` "$MIZAN_WRITE_IR"`
	code, out, errOut := runCLI(t, "openapi", "--cmd", cmd)
	if code != 0 || !strings.Contains(out, `"operationId": "update_profile"`) {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := runCLI(t, "openapi", "--cmd", "true"); code != 1 || !strings.Contains(errOut, "exited without writing its IR") {
		t.Errorf("a command that writes nothing: exit %d, %q", code, errOut)
	}
}

func TestOpenAPIUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"openapi"},
		{"openapi", "--ir", fixtureKDL, "--cmd", "true"},
		{"openapi", "--ir", fixtureKDL, "extra"},
		{"openapi", "--nope"},
	} {
		if code, _, errOut := runCLI(t, args...); code != 2 || !strings.Contains(errOut, "usage: mizan openapi") {
			t.Errorf("%q: exit %d, stderr %q", args, code, errOut)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.kdl")
	if err := os.WriteFile(bad, []byte("mizan-ir version=1 prefix=\"nope\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(t, "openapi", "--ir", bad); code != 1 || !strings.Contains(errOut, "mizan openapi:") {
		t.Errorf("bad IR: exit %d, %q", code, errOut)
	}
	if code, _, errOut := runCLI(t, "openapi", "--ir", filepath.Join(t.TempDir(), "missing.kdl")); code != 1 || !strings.Contains(errOut, "reading the IR") {
		t.Errorf("missing IR: exit %d, %q", code, errOut)
	}
}
