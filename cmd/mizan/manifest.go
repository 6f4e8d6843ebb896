package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mizan-afi/mizan/manifest"
)

// runManifest implements "mizan manifest": it prints an app's edge
// manifest, got from a program (--cmd) or checked from a file (--manifest).
func runManifest(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("manifest", "(--cmd COMMAND | --manifest FILE) [--out FILE]", stderr)
	cmd := fs.String("cmd", "", "run `COMMAND` (with sh -c) with "+manifest.EnvWrite+" set, and read the manifest it writes;\nmain must call app.WriteManifestFromEnv() (or write the manifest to $"+manifest.EnvWrite+" itself) before serving")
	file := fs.String("manifest", "", "check the manifest in `FILE` (- for standard input) and print it normalized")
	timeout := fs.Duration("timeout", defaultCmdTimeout, "how long the --cmd program may take")
	out := fs.String("out", "", "write the manifest to `FILE` instead of standard output")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mizan manifest: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return exitUsage
	}
	if (*cmd == "") == (*file == "") {
		fmt.Fprintln(stderr, "mizan manifest: give either --cmd COMMAND or --manifest FILE")
		fs.Usage()
		return exitUsage
	}
	var src []byte
	var err error
	switch {
	case *file == "-":
		src, err = io.ReadAll(stdin)
	case *file != "":
		src, err = os.ReadFile(*file)
	default:
		src, err = manifestFromCommand(*cmd, *timeout, stderr)
	}
	if err != nil {
		fmt.Fprintln(stderr, "mizan manifest:", err)
		return exitFail
	}
	m, err := manifest.Parse(src)
	if err == nil {
		src, err = manifest.Encode(m)
	}
	if err != nil {
		fmt.Fprintln(stderr, "mizan manifest:", err)
		return exitFail
	}
	if *out == "" {
		_, err = stdout.Write(src)
	} else {
		err = writeIfChanged(*out, src)
	}
	if err != nil {
		fmt.Fprintln(stderr, "mizan manifest:", err)
		return exitFail
	}
	return exitOK
}

// manifestFromCommand runs command with MIZAN_WRITE_MANIFEST naming a
// temporary file, and returns the manifest the program wrote there.
func manifestFromCommand(command string, timeout time.Duration, stderr io.Writer) ([]byte, error) {
	return fileFromCommand(command, timeout, stderr, manifest.EnvWrite, "manifest.json", "manifest", "app.WriteManifestFromEnv()")
}
