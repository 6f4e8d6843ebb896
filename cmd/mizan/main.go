// Command mizan is the Mizan command-line tool. Each subcommand is a thin
// layer of flag parsing over a package of this module.
//
// Usage:
//
//	mizan <command> [flags] [arguments]
//
// Run "mizan help" for the list of commands and "mizan help <command>" for
// the flags of one.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// Exit codes of the tool.
const (
	exitOK    = 0 // success
	exitFail  = 1 // the command ran and failed
	exitUsage = 2 // the command line was wrong
)

// command is one subcommand of the tool.
type command struct {
	name    string
	summary string // one line, lower case, no period
	run     func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

// commands returns the subcommands, in the order "mizan help" lists them.
// A new subcommand is one more entry here and a file of its own.
func commands() []command {
	return []command{
		{name: "cache-key", summary: "print the origin-cache key of a context instance", run: runCacheKey},
		{name: "dev", summary: "run the app: its server, rebuilt and its client regenerated on change, and Vite", run: runDev},
		{name: "edge", summary: "write the Cloudflare Worker project of the app's edge cache (mizan edge init)", run: runEdge},
		{name: "explain", summary: "say what a mutation with given arguments invalidates, purges and refreshes", run: runExplain},
		{name: "generate", summary: "write typed clients (ts, react, vue, svelte, go, python, rust) from an app's IR", run: runGenerate},
		{name: "init", summary: "create a new app: a Go server with SQLite and a Vite + React UI", run: runInit},
		{name: "ir", summary: "print an app's IR, or check an IR file", run: runIR},
		{name: "manifest", summary: "print an app's edge manifest, or check a manifest file", run: runManifest},
		{name: "openapi", summary: "print the OpenAPI 3.1 document of an app's API", run: runOpenAPI},
		{name: "version", summary: "print the mizan version", run: runVersion},
	}
}

// lookup returns the subcommand called name.
func lookup(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// run runs the tool with args (without the program name) and returns the
// process exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch name := args[0]; name {
	case "help", "-h", "-help", "--help":
		return runHelp(args[1:], stdin, stdout, stderr)
	default:
		c, ok := lookup(name)
		if !ok {
			if strings.HasPrefix(name, "-") {
				fmt.Fprintf(stderr, "mizan: flag %s given before a command\n", name)
			} else {
				fmt.Fprintf(stderr, "mizan: unknown command %q\n", name)
			}
			fmt.Fprintln(stderr, `Run "mizan help" for the list of commands.`)
			return exitUsage
		}
		return c.run(args[1:], stdin, stdout, stderr)
	}
}

// runHelp lists the commands, or shows the flags of one ("mizan help version").
func runHelp(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	switch len(args) {
	case 0:
		usage(stdout)
		return exitOK
	case 1:
		c, ok := lookup(args[0])
		if !ok {
			fmt.Fprintf(stderr, "mizan help: unknown command %q\n", args[0])
			fmt.Fprintln(stderr, `Run "mizan help" for the list of commands.`)
			return exitUsage
		}
		return c.run([]string{"-h"}, stdin, stdout, stdout)
	default:
		fmt.Fprintln(stderr, "usage: mizan help [command]")
		return exitUsage
	}
}

// usage writes the list of commands to w.
func usage(w io.Writer) {
	cs := commands()
	width := len("help")
	for _, c := range cs {
		width = max(width, len(c.name))
	}
	fmt.Fprint(w, "Mizan: register a Go function once; get the wire protocol, invalidation and typed clients.\n\n")
	fmt.Fprint(w, "Usage:\n\n\tmizan <command> [flags] [arguments]\n\nCommands:\n\n")
	for _, c := range cs {
		fmt.Fprintf(w, "\t%-*s  %s\n", width, c.name, c.summary)
	}
	fmt.Fprintf(w, "\t%-*s  %s\n", width, "help", "list the commands, or show the flags of one")
	fmt.Fprint(w, "\nRun \"mizan help <command>\" for the flags of a command.\n")
}

// newFlagSet returns the flag set of a subcommand: errors are returned, not
// fatal, and usage goes to stderr with the command's own synopsis.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("mizan "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), strings.TrimSpace("usage: mizan "+name+" "+synopsis))
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintln(fs.Output(), "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args into fs. It reports whether the command should go
// on, and otherwise the exit code: 0 after -h, 2 for a bad command line
// (the flag package has already printed the error and the usage).
func parseFlags(fs *flag.FlagSet, args []string) (ok bool, code int) {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return true, exitOK
	case errors.Is(err, flag.ErrHelp):
		return false, exitOK
	default:
		return false, exitUsage
	}
}
