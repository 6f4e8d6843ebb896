package mizan

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// ServerOptions are the settings of [NewServer] and [ListenAndServe]. The
// zero value gives the defaults below, chosen so that a slow or idle
// client cannot hold a connection forever.
type ServerOptions struct {
	// ReadHeaderTimeout bounds reading a request's headers. Default 10 s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included: a client
	// sending its body slowly is cut off. Default 30 s.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing a response. Default 60 s. It does not
	// bound WebSockets: net/http clears a connection's deadlines when a
	// WebSocket takes it over (package live bounds its own writes).
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection left idle. Default 120 s.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds request headers, URL included. Default 64 KiB.
	MaxHeaderBytes int
	// ShutdownTimeout bounds the graceful shutdown: requests in flight
	// drain for at most this long before connections are closed. Default
	// 30 s.
	ShutdownTimeout time.Duration
	// OnShutdown are called, in order, once requests have drained during a
	// shutdown: close the live hub (its WebSockets), the SSR pages and
	// renderer, the cache. Each gets what is left of ShutdownTimeout.
	OnShutdown []func(context.Context) error
	// Logger receives the server's start and shutdown; nil means
	// slog.Default().
	Logger *slog.Logger
}

// Defaults of [ServerOptions].
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 60 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
	DefaultShutdownTimeout   = 30 * time.Second
)

func (o ServerOptions) withDefaults() ServerOptions {
	set := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	set(&o.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	set(&o.ReadTimeout, DefaultReadTimeout)
	set(&o.WriteTimeout, DefaultWriteTimeout)
	set(&o.IdleTimeout, DefaultIdleTimeout)
	set(&o.ShutdownTimeout, DefaultShutdownTimeout)
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// NewServer returns an *http.Server for h on addr with the timeouts and
// limits of o (see [ServerOptions] for the defaults). Serve it with
// [Serve], or with its own methods when the application manages shutdown.
func NewServer(addr string, h http.Handler, o ServerOptions) *http.Server {
	o = o.withDefaults()
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: o.ReadHeaderTimeout,
		ReadTimeout:       o.ReadTimeout,
		WriteTimeout:      o.WriteTimeout,
		IdleTimeout:       o.IdleTimeout,
		MaxHeaderBytes:    o.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn),
	}
}

// ListenAndServe serves h on addr with safe defaults (o; see
// [ServerOptions]) until ctx ends or the process receives SIGINT or
// SIGTERM, then shuts down gracefully: it stops accepting connections,
// lets requests in flight finish (within o.ShutdownTimeout), then calls
// o.OnShutdown (the live hub's WebSockets, the SSR pool). It returns nil
// after a clean shutdown.
//
//	log.Fatal(mizan.ListenAndServe(ctx, ":8080", app, mizan.ServerOptions{
//		OnShutdown: []func(context.Context) error{func(context.Context) error { return hub.Close() }},
//	}))
func ListenAndServe(ctx context.Context, addr string, h http.Handler, o ServerOptions) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("mizan: listen on %s: %w", addr, err)
	}
	return Serve(ctx, ln, h, o)
}

// Serve is [ListenAndServe] on a listener the caller opened (one on port 0
// whose address it announces, for example). It closes ln.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, o ServerOptions) error {
	o = o.withDefaults()
	srv := NewServer(ln.Addr().String(), h, o)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("mizan: serving on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	stop() // a second signal ends the process at once
	o.Logger.Info("mizan: shutting down: draining requests", "addr", ln.Addr().String(), "timeout", o.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.ShutdownTimeout)
	defer cancel()
	var errs []error
	if err := srv.Shutdown(sctx); err != nil {
		errs = append(errs, fmt.Errorf("mizan: draining requests: %w", err))
		_ = srv.Close()
	}
	for _, f := range o.OnShutdown {
		if err := f(sctx); err != nil {
			errs = append(errs, fmt.Errorf("mizan: shutdown: %w", err))
		}
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		errs = append(errs, fmt.Errorf("mizan: serving on %s: %w", ln.Addr(), err))
	}
	return errors.Join(errs...)
}
