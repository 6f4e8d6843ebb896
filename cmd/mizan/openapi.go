package main

import (
	"fmt"
	"io"

	"github.com/mizan-afi/mizan/openapi"
)

// runOpenAPI implements "mizan openapi": it prints the OpenAPI 3.1
// document of an app's API (package openapi, docs/openapi.md), built from
// its IR, got from a file (--ir) or a program (--cmd) as for "mizan
// generate".
func runOpenAPI(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("openapi", "(--ir FILE | --cmd COMMAND) [-o FILE] [--title T] [--version V] [--auth]", stderr)
	var src irSource
	src.register(fs)
	var out string
	fs.StringVar(&out, "o", "", "write the document to `FILE` instead of standard output")
	fs.StringVar(&out, "out", "", "the same as -o")
	var opts openapi.Options
	fs.StringVar(&opts.Title, "title", "", "the document's info.title (default \""+openapi.DefaultTitle+"\")")
	fs.StringVar(&opts.Version, "version", "", "the API's version, info.version (default \""+openapi.DefaultVersion+"\")")
	fs.StringVar(&opts.Description, "description", "", "info.description (default: a generated one)")
	fs.StringVar(&opts.Prefix, "prefix", "", "the endpoints' `PATH` (default: the IR's prefix, else "+openapi.DefaultPrefix+")")
	fs.StringVar(&opts.Server, "server", "", "the `URL` of servers[0] (default \"/\", the host serving the document)")
	fs.StringVar(&opts.CSRFHeader, "csrf-header", "", "the app's CSRF header, Config.CSRFHeaderName (default "+openapi.DefaultCSRFHeader+")")
	fs.StringVar(&opts.CSRFCookie, "csrf-cookie", "", "the app's CSRF cookie, Config.CSRFCookieName (default "+openapi.DefaultCSRFCookie+")")
	fs.BoolVar(&opts.Auth, "auth", false, "describe the sign-in endpoint auth/token/ (the app sets Config.Auth)")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mizan openapi: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return exitUsage
	}
	if err := src.check(); err != nil {
		fmt.Fprintln(stderr, "mizan openapi:", err)
		fs.Usage()
		return exitUsage
	}
	doc, err := src.load(stdin, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "mizan openapi:", err)
		return exitFail
	}
	b, err := openapi.Generate(doc, opts)
	if err != nil {
		fmt.Fprintln(stderr, "mizan openapi:", err)
		return exitFail
	}
	if out == "" {
		_, err = stdout.Write(b)
	} else {
		err = writeIfChanged(out, b)
	}
	if err != nil {
		fmt.Fprintln(stderr, "mizan openapi:", err)
		return exitFail
	}
	return exitOK
}
