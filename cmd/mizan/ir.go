package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/mizan-afi/mizan/ir"
)

// defaultCmdTimeout bounds how long a program run with --cmd may take to
// write its IR (it includes compiling it with "go run").
const defaultCmdTimeout = 5 * time.Minute

// irSource is where a command gets an app's IR: an IR file (--ir) or a
// program run with MIZAN_WRITE_IR set (--cmd).
type irSource struct {
	file    string
	cmd     string
	timeout time.Duration
}

// register adds the source flags to fs.
func (s *irSource) register(fs *flag.FlagSet) {
	fs.StringVar(&s.file, "ir", "", "read the IR from `FILE` (- for standard input)")
	fs.StringVar(&s.cmd, "cmd", "", "run `COMMAND` (with sh -c) with "+ir.EnvWriteIR+" set, and read the IR it writes;\nmain must call app.WriteIRFromEnv() (or write the IR to $"+ir.EnvWriteIR+" itself) before serving")
	fs.DurationVar(&s.timeout, "timeout", defaultCmdTimeout, "how long the --cmd program may take")
}

// check reports a command line that names no source, or two.
func (s *irSource) check() error {
	switch {
	case s.file == "" && s.cmd == "":
		return errors.New("give the IR with --ir FILE or --cmd COMMAND")
	case s.file != "" && s.cmd != "":
		return errors.New("give either --ir or --cmd, not both")
	}
	return nil
}

// load returns the IR document and its text.
func (s *irSource) load(stdin io.Reader, stderr io.Writer) (*ir.Document, error) {
	var src []byte
	var err error
	switch {
	case s.file == "-":
		src, err = io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("reading the IR from standard input: %w", err)
		}
	case s.file != "":
		src, err = os.ReadFile(s.file)
		if err != nil {
			return nil, fmt.Errorf("reading the IR: %w", err)
		}
	default:
		src, err = irFromCommand(s.cmd, s.timeout, stderr)
		if err != nil {
			return nil, err
		}
	}
	doc, err := ir.Parse(src)
	if err != nil {
		name := s.file
		if s.cmd != "" {
			name = "the IR of " + s.cmd
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return doc, nil
}

// irFromCommand runs command with MIZAN_WRITE_IR naming a temporary
// file, and returns the IR the program wrote there.
func irFromCommand(command string, timeout time.Duration, stderr io.Writer) ([]byte, error) {
	return fileFromCommand(command, timeout, stderr, ir.EnvWriteIR, "app.kdl", "IR", "app.WriteIRFromEnv()")
}

// fileFromCommand runs command through the shell with the environment
// variable env naming a temporary file called name, and returns what the
// program wrote there: its IR or its manifest (what), written by the
// method call (how) its main must make before serving. The program's output
// goes to stderr; it is killed, with its process group, after timeout.
func fileFromCommand(command string, timeout time.Duration, stderr io.Writer, env, name, what, how string) ([]byte, error) {
	dir, err := os.MkdirTemp("", "mizan-")
	if err != nil {
		return nil, fmt.Errorf("creating a temporary directory: %w", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, name)

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := shellCommand(ctx, command)
	cmd.Env = append(os.Environ(), env+"="+path)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	cmd.WaitDelay = 5 * time.Second
	killGroup(cmd)
	err = cmd.Run()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return nil, fmt.Errorf("%q did not exit within %s: does main call %s before serving?", command, timeout, how)
	}
	if err != nil {
		return nil, fmt.Errorf("running %q: %w", command, err)
	}
	src, err := os.ReadFile(path)
	if err != nil || len(src) == 0 {
		return nil, fmt.Errorf("%q exited without writing its %s: main must call %s (which honours %s) before serving", command, what, how, env)
	}
	return src, nil
}

// shellCommand returns the command that runs command through the system's
// shell.
func shellCommand(ctx context.Context, command string) *exec.Cmd {
	if runtime.GOOS == "windows" {
		return exec.CommandContext(ctx, "cmd", "/C", command)
	}
	return exec.CommandContext(ctx, "sh", "-c", command)
}

// runIR implements "mizan ir".
func runIR(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("ir", "(--ir FILE | --cmd COMMAND) [--out FILE]", stderr)
	var src irSource
	src.register(fs)
	out := fs.String("out", "", "write the IR to `FILE` instead of standard output")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mizan ir: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return exitUsage
	}
	if err := src.check(); err != nil {
		fmt.Fprintln(stderr, "mizan ir:", err)
		fs.Usage()
		return exitUsage
	}
	doc, err := src.load(stdin, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "mizan ir:", err)
		return exitFail
	}
	b, err := ir.Encode(doc)
	if err != nil {
		fmt.Fprintln(stderr, "mizan ir:", err)
		return exitFail
	}
	if *out == "" {
		if _, err := stdout.Write(b); err != nil {
			fmt.Fprintln(stderr, "mizan ir:", err)
			return exitFail
		}
		return exitOK
	}
	if err := writeIfChanged(*out, b); err != nil {
		fmt.Fprintln(stderr, "mizan ir:", err)
		return exitFail
	}
	return exitOK
}

// writeIfChanged writes b to path unless the file already holds b, so that
// regenerating leaves unchanged files (and their times) alone.
func writeIfChanged(path string, b []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, b) {
		return nil
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
