// Command taskboard is a small multi-user task board served by Mizan: a
// team, projects, tasks and comments in SQLite, and a React UI built from
// the client that "mizan generate" writes from this program's IR. From the
// root of the repository,
//
//	bash examples/taskboard/run.sh
//
// installs the npm packages, generates the client, builds the UI and runs
// this command, which prints the URL to open. See docs/example.md.
//
// Flags:
//
//	-addr HOST:PORT  listen address (default 127.0.0.1:8080; port 0: any free port)
//	-db FILE         the SQLite database, created and seeded on first run
//	                 (default: taskboard.db in mizan-taskboard/ of the user's
//	                 cache directory, ~/.cache on Linux)
//	-reset           delete the database first, to start from the demo data
//	-ui DIR          the built UI (default examples/taskboard/web/dist)
//	-cache=false     turn off the in-memory origin cache
//	-ir FILE         write the app's IR to FILE and exit (so does the
//	                 environment variable MIZAN_WRITE_IR, as set by
//	                 "mizan generate --cmd")
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
	"os/signal"
	"syscall"
	"time"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/cache"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command's flags.
type options struct {
	addr, db, ui, ir string
	cache, reset     bool
}

// parseFlags reads the command line. ok is false when the program should
// exit with code.
func parseFlags(args []string, stderr io.Writer) (o options, code int, ok bool) {
	fs := flag.NewFlagSet("taskboard", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen on `HOST:PORT` (port 0: any free port)")
	fs.StringVar(&o.db, "db", defaultDBPath(), "the SQLite database `FILE`, created and seeded on first run")
	fs.BoolVar(&o.reset, "reset", false, "delete the database first, to start again from the demo data")
	fs.StringVar(&o.ui, "ui", "examples/taskboard/web/dist", "serve the built UI from `DIR`")
	fs.BoolVar(&o.cache, "cache", true, "serve context fetches through an in-memory origin cache")
	fs.StringVar(&o.ir, "ir", "", "write the app's IR to `FILE` and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, 0, false
		}
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
		err = serve(ctx, o, stdout, logger)
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
	app, hub, err := newApp(&store{now: time.Now}, appConfig{})
	if err != nil {
		return err
	}
	defer hub.Close()
	return app.WriteIRFile(path)
}

// serve opens the database, serves the app until ctx is done, then shuts
// down gracefully.
func serve(ctx context.Context, o options, stdout io.Writer, logger *slog.Logger) error {
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
	secret, err := cookieSecret(ctx, db)
	if err != nil {
		return err
	}
	cfg := appConfig{ui: uiHandler(o.ui), logger: logger}
	if o.cache {
		if cfg.cache, err = newMemoryCache(logger); err != nil {
			return err
		}
		defer cfg.cache.Close()
	}
	app, hub, err := newApp(&store{db: db, sessions: &sessions{secret: secret}, now: time.Now}, cfg)
	if err != nil {
		return err
	}
	defer hub.Close()

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", o.addr, err)
	}
	srv := &http.Server{
		Handler:           app,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelError),
	}
	// Shutdown does not wait for WebSockets (hijacked connections): the
	// hub closes them.
	srv.RegisterOnShutdown(func() { _ = hub.Close() })
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	state := "opened"
	if created {
		state = "created and seeded"
	}
	fmt.Fprintf(stdout, "Database: %s (%s)\n", o.db, state)
	fmt.Fprintf(stdout, "UI: %s\n", o.ui)
	fmt.Fprintf(stdout, "Taskboard listening on %s/\n", baseURL(ln.Addr()))
	fmt.Fprintln(stdout, "Open it in a browser and sign in as any member of the team. Press Ctrl+C to stop.")

	select {
	case err := <-served:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	fmt.Fprintln(stdout, "Shutting down.")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	return nil
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
