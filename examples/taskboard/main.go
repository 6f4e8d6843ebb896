// Command taskboard is a small multi-user task board served by Mizan: a
// team, projects, tasks and comments in SQLite, and a React UI built from
// the client that "mizan generate" writes from this program's IR. From the
// root of the repository,
//
//	bash examples/taskboard/run.sh
//
// installs the npm packages, generates the client, builds the UI and runs
// this command, which prints the URL to open. See docs/example.md. The
// example is in the Go module of examples/ (examples/go.mod): from the
// root, "go -C examples run ./taskboard" runs the server alone, in
// examples/, which the -ui default is relative to. MIZAN_BUN names the Bun
// executable of the server-rendered pages (ssr.BunFromEnv).
//
// Flags:
//
//	-addr HOST:PORT  listen address (default 127.0.0.1:8080; port 0: any free port)
//	-db FILE         the SQLite database, created and seeded on first run
//	                 (default: taskboard.db in mizan-taskboard/ of the user's
//	                 cache directory, ~/.cache on Linux)
//	-reset           delete the database first, to start from the demo data
//	-ui DIR          the built UI (default taskboard/web/dist: relative to
//	                 examples/, where go -C examples run ./taskboard runs)
//	-cache=false     turn off the in-memory origin cache
//	-ssr=false       render every page in the browser (default: the main
//	                 pages are server-rendered by Bun, see pages.go; without
//	                 Bun, or when the UI is not built, they are rendered in
//	                 the browser and a line on standard error says why)
//	-pages DIR       the page components (default DIR/../src/pages, DIR
//	                 being -ui)
//	-access-ttl D    the lifetime of access tokens (default 5m; the browser
//	                 test sets a few seconds to see the UI refresh them)
//	-ir FILE         write the app's IR to FILE and exit (so does the
//	                 environment variable MIZAN_WRITE_IR, as set by
//	                 "mizan generate --cmd")
//
// Environment: with TASKBOARD_OIDC_ISSUER (the issuer URL of an OpenID
// Provider), TASKBOARD_OIDC_CLIENT_ID and TASKBOARD_OIDC_CLIENT_SECRET
// (optional TASKBOARD_OIDC_NAME and TASKBOARD_OIDC_DISPLAY_NAME) the sign-in
// page offers that provider (oidc.go; go -C examples run ./devidp runs one
// for development). Passkeys are served for pages opened at
// http://localhost:PORT (RP ID localhost), or at the fixed origin
// TASKBOARD_PASSKEY_ORIGIN (passkeys.go).
//
// Once it listens it prints "Taskboard listening on http://HOST:PORT/" on
// standard output. It serves until SIGINT or SIGTERM, then shuts down
// gracefully.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/cache"
)

func main() {
	// run stops on SIGINT or SIGTERM by itself (mizan.Serve); a second one
	// ends the process at once.
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command's flags.
type options struct {
	addr, db, ui, ir, pages string
	cache, reset, ssr       bool
	accessTTL               time.Duration
}

// parseFlags reads the command line. ok is false when the program should
// exit with code.
func parseFlags(args []string, stderr io.Writer) (o options, code int, ok bool) {
	fs := flag.NewFlagSet("taskboard", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen on `HOST:PORT` (port 0: any free port)")
	fs.StringVar(&o.db, "db", defaultDBPath(), "the SQLite database `FILE`, created and seeded on first run")
	fs.BoolVar(&o.reset, "reset", false, "delete the database first, to start again from the demo data")
	fs.StringVar(&o.ui, "ui", "taskboard/web/dist", "serve the built UI from `DIR`")
	fs.BoolVar(&o.cache, "cache", true, "serve context fetches through an in-memory origin cache")
	fs.StringVar(&o.ir, "ir", "", "write the app's IR to `FILE` and exit")
	fs.BoolVar(&o.ssr, "ssr", true, "render the main pages on the server (needs Bun: npm ci in frontends/)")
	fs.StringVar(&o.pages, "pages", "", "the page components `DIR` (default: ../src/pages beside -ui)")
	fs.DurationVar(&o.accessTTL, "access-ttl", 0, "the lifetime of access tokens (`DURATION`; default 5m)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, 0, false
		}
		return o, 2, false
	}
	if o.accessTTL < 0 {
		fmt.Fprintf(stderr, "taskboard: -access-ttl %s: must not be negative\n", o.accessTTL)
		return o, 2, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "taskboard: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return o, 2, false
	}
	if o.ir == "" {
		o.ir = os.Getenv(mizan.EnvWriteIR)
	}
	return o, 0, true
}

// run is the command: it returns the exit status, 0 after a clean
// shutdown, 1 on a failure and 2 on a usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, code, ok := parseFlags(args, stderr)
	if !ok {
		return code
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	var err error
	if o.ir != "" {
		err = writeIR(o.ir)
	} else {
		err = serve(ctx, o, stdout, stderr, logger)
	}
	if err != nil {
		fmt.Fprintln(stderr, "taskboard:", err)
		return 1
	}
	return 0
}

// writeIR writes the app's IR to path. The functions are registered but
// never called, so no database is opened.
func writeIR(path string) error {
	app, hub, _, err := newApp(&store{now: time.Now}, appConfig{})
	if err != nil {
		return err
	}
	defer hub.Close()
	return app.WriteIRFile(path)
}

// serve opens the database, serves the app until ctx is done or the
// process gets SIGINT or SIGTERM, then shuts down gracefully.
func serve(ctx context.Context, o options, stdout, stderr io.Writer, logger *slog.Logger) error {
	if o.reset {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Remove(o.db + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("resetting the database: %w", err)
			}
		}
	}
	db, created, err := openDB(ctx, o.db)
	if err != nil {
		return err
	}
	defer db.Close()
	key, err := jwtKey(ctx, db)
	if err != nil {
		return err
	}
	cfg := appConfig{ui: uiHandler(o.ui), logger: logger, jwtKey: key, accessTTL: o.accessTTL}
	if o.cache {
		if cfg.cache, err = newMemoryCache(logger); err != nil {
			return err
		}
		defer cfg.cache.Close()
	}
	st := &store{db: db, now: time.Now}
	rendering := "in the browser (SSR off: -ssr=false)"
	if o.ssr {
		dir := o.pages
		if dir == "" {
			dir = filepath.Join(o.ui, "..", "src", "pages")
		}
		if cfg.ssr, err = newSSR(dir, o.ui); err != nil {
			fmt.Fprintf(stderr, "taskboard: SSR off, pages are rendered in the browser: %v\n", err)
			rendering = "in the browser (SSR off, see above)"
		}
	}
	if cfg.ssr != nil {
		defer cfg.ssr.renderer.Close(context.Background())
	}
	app, hub, pages, err := newApp(st, cfg)
	if err != nil {
		return err
	}
	if pages != nil {
		// Start the Bun workers and render the pre-rendered pages ahead. If
		// that fails (a broken install), serve without SSR rather than not
		// at all: build the app again, without the page routes.
		startCtx, cancel := context.WithTimeout(ctx, time.Minute)
		err := pages.Start(startCtx)
		cancel()
		if err == nil {
			rendering = fmt.Sprintf("server-rendered by Bun (%d workers), pre-rendered for anonymous visitors", cfg.ssr.renderer.Workers())
		} else {
			fmt.Fprintf(stderr, "taskboard: SSR off, pages are rendered in the browser: %v\n", err)
			rendering = "in the browser (SSR off, see above)"
			_ = pages.Close(context.Background())
			_ = hub.Close()
			_ = cfg.ssr.renderer.Close(context.Background()) // its workers, if any started
			cfg.ssr = nil
			if app, hub, pages, err = newApp(st, cfg); err != nil {
				return err
			}
		}
	}
	defer hub.Close()
	if pages != nil {
		defer pages.Close(context.Background())
	}

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", o.addr, err)
	}
	var handler http.Handler = app
	if pages != nil {
		handler = pageErrors(app, o.ui)
	}

	state := "opened"
	if created {
		state = "created and seeded"
	}
	fmt.Fprintf(stdout, "Database: %s (%s)\n", o.db, state)
	fmt.Fprintf(stdout, "UI: %s\n", o.ui)
	fmt.Fprintf(stdout, "Pages: %s\n", rendering)
	fmt.Fprintf(stdout, "Taskboard listening on %s/\n", baseURL(ln.Addr()))
	fmt.Fprintln(stdout, "Open it in a browser and sign in as ada (password ada), grace, alan or katherine. Press Ctrl+C to stop.")

	// mizan.Serve bounds reading a request (headers and body), writing a
	// response and idle keep-alive connections, limits the headers, and on
	// SIGINT, SIGTERM or the end of ctx drains the requests in flight, then
	// runs OnShutdown in order: the hub closes the WebSockets (a drain does
	// not wait for them), the pages stop re-rendering, the renderer stops
	// its Bun workers, the cache stops. The defers above close the same
	// things when serving fails; each Close is safe to call twice.
	opts := mizan.ServerOptions{Logger: logger}
	opts.OnShutdown = append(opts.OnShutdown, func(context.Context) error { return hub.Close() })
	if pages != nil {
		opts.OnShutdown = append(opts.OnShutdown, pages.Close)
	}
	if cfg.ssr != nil {
		opts.OnShutdown = append(opts.OnShutdown, cfg.ssr.renderer.Close)
	}
	if cfg.cache != nil {
		opts.OnShutdown = append(opts.OnShutdown, func(context.Context) error { return cfg.cache.Close() })
	}
	return mizan.Serve(ctx, ln, handler, opts)
}

// newMemoryCache returns an in-process origin cache under a fresh random
// secret: the cache lives as long as the process, and every mutation
// purges what it invalidates.
func newMemoryCache(logger *slog.Logger) (*cache.Cache, error) {
	secret := make([]byte, cache.MinSecretLen)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("generating a cache secret: %w", err)
	}
	c, err := cache.New(cache.Options{
		Backend: cache.NewMemory(cache.MemoryOptions{}),
		Secret:  secret,
		Logger:  logger,
	})
	if err != nil {
		return nil, fmt.Errorf("creating the origin cache: %w", err)
	}
	return c, nil
}

// baseURL returns the URL a listener answers on, naming the loopback host
// when it listens on every interface.
func baseURL(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return "http://" + a.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}
