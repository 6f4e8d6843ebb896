package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/mizan-afi/mizan/explain"
	"github.com/mizan-afi/mizan/ir"
	"github.com/mizan-afi/mizan/manifest"
)

// headerFlags collects repeated --header "Name: value" flags.
type headerFlags http.Header

func (h headerFlags) String() string { return "" }

func (h headerFlags) Set(s string) error {
	name, value, ok := strings.Cut(s, ":")
	if !ok || strings.TrimSpace(name) == "" {
		return fmt.Errorf("want \"Name: value\", got %q", s)
	}
	http.Header(h).Add(strings.TrimSpace(name), strings.TrimSpace(value))
	return nil
}

// runExplain implements "mizan explain": it says what a mutation with
// given arguments invalidates, purges and refreshes, from the app's
// manifest and IR, and with --url runs it on a development server and
// compares what the server emitted.
func runExplain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("explain", "(--manifest FILE [--ir FILE] | --cmd COMMAND) [--url URL [--header 'K: V']...] [--caller ID] [--secret S] [--json] FN ['ARGS_JSON']", stderr)
	manifestFile := fs.String("manifest", "", "read the app's manifest from `FILE` (- for standard input)")
	irFile := fs.String("ir", "", "read the app's IR from `FILE`: per-target scoping, function-level targets, explicit scopes")
	cmd := fs.String("cmd", "", "run `COMMAND` (with sh -c) twice, with "+ir.EnvWriteIR+" and then "+manifest.EnvWrite+" set, and read the IR and manifest it writes")
	timeout := fs.Duration("timeout", defaultCmdTimeout, "how long the --cmd program may take, each time")
	base := fs.String("url", "", "also run the mutation on the app at `URL` (POST call/; it CHANGES DATA: a development server)\nand compare what it emitted with the prediction")
	prefix := fs.String("prefix", "", "the app's protocol `PATH` with --url (default: the IR's prefix, else /api/mizan/)")
	headers := headerFlags{}
	fs.Var(headers, "header", "add `NAME: VALUE` to the --url call (credentials: 'Authorization: Bearer ...'); repeat for more")
	caller := fs.String("caller", "", "the signed-in caller's user `ID` (tier-2 narrowing); \"\" is anonymous")
	secret := fs.String("secret", "", "the origin cache's `SECRET` (default $MIZAN_CACHE_SECRET), to print the exact generation keys purged")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() < 1 || fs.NArg() > 2 {
		fmt.Fprintln(stderr, "mizan explain: give the mutation's name and, optionally, its arguments as one JSON object")
		fs.Usage()
		return exitUsage
	}
	if (*manifestFile == "") == (*cmd == "") || (*cmd != "" && *irFile != "") {
		fmt.Fprintln(stderr, "mizan explain: give either --manifest FILE (with --ir FILE for the details) or --cmd COMMAND")
		fs.Usage()
		return exitUsage
	}
	if *manifestFile == "-" && *irFile == "-" {
		fmt.Fprintln(stderr, "mizan explain: --manifest and --ir cannot both read standard input")
		return exitUsage
	}
	fn, argJSON := fs.Arg(0), ""
	if fs.NArg() == 2 {
		argJSON = fs.Arg(1)
	}
	app, err := loadExplainApp(*manifestFile, *irFile, *cmd, *timeout, stdin, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "mizan explain:", err)
		return exitFail
	}
	key := *secret
	if key == "" {
		key = os.Getenv("MIZAN_CACHE_SECRET")
	}
	rep, err := explain.Explain(app, fn, []byte(argJSON), explain.Options{Caller: *caller, CacheSecret: []byte(key)})
	if err != nil {
		fmt.Fprintln(stderr, "mizan", err)
		return exitFail
	}
	code := exitOK
	if *base != "" {
		p := *prefix
		if p == "" && app.IR != nil {
			p = app.IR.Prefix
		}
		if p == "" {
			p = "/api/mizan/"
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		o, err := rep.Run(ctx, &http.Client{}, *base, p, http.Header(headers))
		cancel()
		if err != nil {
			fmt.Fprintln(stderr, "mizan", err)
			return exitFail
		}
		if !o.Agrees {
			code = exitFail
		}
	}
	if *asJSON {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteText(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "mizan explain:", err)
		return exitFail
	}
	return code
}

// loadExplainApp reads the manifest and the IR from files, or from a
// program run with --cmd.
func loadExplainApp(manifestFile, irFile, cmd string, timeout time.Duration, stdin io.Reader, stderr io.Writer) (explain.App, error) {
	read := func(file string) ([]byte, error) {
		if file == "-" {
			return io.ReadAll(stdin)
		}
		return os.ReadFile(file)
	}
	var app explain.App
	var msrc, isrc []byte
	var err error
	if cmd != "" {
		if isrc, err = irFromCommand(cmd, timeout, stderr); err != nil {
			return app, err
		}
		if msrc, err = manifestFromCommand(cmd, timeout, stderr); err != nil {
			return app, err
		}
	} else {
		if msrc, err = read(manifestFile); err != nil {
			return app, fmt.Errorf("reading the manifest: %w", err)
		}
		if irFile != "" {
			if isrc, err = read(irFile); err != nil {
				return app, fmt.Errorf("reading the IR: %w", err)
			}
		}
	}
	if app.Manifest, err = manifest.Parse(msrc); err != nil {
		return app, fmt.Errorf("the manifest: %w", err)
	}
	if isrc != nil {
		if app.IR, err = ir.Parse(isrc); err != nil {
			return app, fmt.Errorf("the IR: %w", err)
		}
	}
	if app.Manifest == nil {
		return app, errors.New("the manifest is empty")
	}
	return app, nil
}
