package main

import (
	"fmt"
	"io"
	"runtime/debug"
)

// version is the release of this build. Release builds set it with
//
//	go build -ldflags "-X main.version=v0.1.0" ./cmd/mizan
//
// When it is empty the main module's version from the build information is
// used ("go install github.com/mizan-afi/mizan/cmd/mizan@v0.1.0" records
// it), and "devel" for a build from a source tree.
var version string

// toolVersion returns the version "mizan version" prints.
func toolVersion() string {
	if version != "" {
		return version
	}
	return buildInfoVersion(debug.ReadBuildInfo())
}

// buildInfoVersion returns the main module's version recorded in a build,
// or "devel" when there is none.
func buildInfoVersion(info *debug.BuildInfo, ok bool) string {
	if !ok || info == nil {
		return "devel"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	return "devel"
}

// runVersion implements "mizan version".
func runVersion(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("version", "", stderr)
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mizan version: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return exitUsage
	}
	fmt.Fprintf(stdout, "mizan %s\n", toolVersion())
	return exitOK
}
