package conformance_test

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/mizan-afi/mizan/conformance"
)

var update = flag.Bool("update", false, "rewrite the golden manifest in testdata")

// goldenManifest is the fixture's edge manifest, checked in: a change to
// it is a change to what the edge sees, reviewed in the diff.
var goldenManifest = filepath.Join("testdata", "manifest.json")

// TestManifestGolden compares the fixture's edge manifest with the golden
// file (go test ./conformance/ -run TestManifestGolden -update rewrites it).
func TestManifestGolden(t *testing.T) {
	var got bytes.Buffer
	if err := conformance.NewFixture(conformance.FixtureConfig{}).WriteManifest(&got); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(goldenManifest, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(goldenManifest)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("the fixture's manifest differs from %s (rerun with -update if the change is intended):\n%s", goldenManifest, got.String())
	}
}

// TestCommandWritesTheManifest runs the fixture command with -manifest.
func TestCommandWritesTheManifest(t *testing.T) {
	needProcess(t)
	want, err := os.ReadFile(goldenManifest)
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"-manifest"}, {"-ir", filepath.Join(t.TempDir(), "ir.kdl"), "-manifest"}} {
		path := filepath.Join(t.TempDir(), "m.json")
		out, err := exec.Command(server.bin, append(args, path)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		if got, _ := os.ReadFile(path); !bytes.Equal(got, want) || len(out) != 0 {
			t.Errorf("%v: wrote %q, printed %q", args, got, out)
		}
	}
}
