package mizan

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-playground/validator/v10"
	"github.com/mizan-afi/mizan/auth"
	"github.com/mizan-afi/mizan/cache"
	"golang.org/x/sync/singleflight"
)

// Config configures an [App]. The zero value is usable: endpoints under
// /api/mizan/, every caller anonymous, 1 MiB request bodies.
type Config struct {
	// Prefix is the path the protocol endpoints are mounted under. It must
	// start and end with "/". Default "/api/mizan/".
	Prefix string
	// Authenticator finds the caller of each request. Nil means every caller
	// is anonymous (and functions guarded by Require* always refuse).
	Authenticator Authenticator
	// MaxBodyBytes bounds request bodies; larger ones get 413. Zero means
	// 1 MiB; a negative value means no bound.
	MaxBodyBytes int64
	// Logger receives errors that are not sent to callers (panics, internal
	// errors). Nil means slog.Default().
	Logger *slog.Logger
	// CSRFCookieName is the cookie set by session/. Default "csrftoken".
	CSRFCookieName string
	// SecureCookies marks the CSRF cookie Secure even when the request did not
	// reach this process over TLS (TLS ends at a proxy in front of it). The
	// cookie is always Secure on a TLS request.
	SecureCookies bool
	// CSRFHeaderName is the request header that must repeat the cookie.
	// Default "X-CSRFToken".
	CSRFHeaderName string
	// TrustedOrigins are origins ("https://app.example.com") whose
	// cross-origin state-changing requests are allowed. Same-origin requests
	// and requests from non-browser clients are always allowed.
	TrustedOrigins []string
	// Cache is the origin cache of context bundles (package cache, with a
	// memory or Redis backend). Nil turns origin caching off; see
	// [ConfigFromEnv].
	Cache *cache.Cache
	// CacheTTL is how long a bundle stays cached when no function of its
	// context sets [Cache]. Zero means the backend's default (24 hours: a
	// safety net, since mutations purge what they change).
	CacheTTL time.Duration
	// Fallback serves requests that match no Mizan endpoint or route (a
	// single-page app's files, for example). Nil means a 404 error envelope.
	Fallback http.Handler
	// PubSubRedisURL is the redis:// or rediss:// URL through which the
	// live hub (package live) shares invalidations with the app's other
	// server instances. It is read by package live only; empty means
	// in-process fan-out. [ConfigFromEnv] sets it from
	// MIZAN_PUBSUB_REDIS_URL, or else MIZAN_CACHE_REDIS_URL.
	PubSubRedisURL string
	// Auth turns on sign-in with JWTs and sessions (package auth, see
	// docs/auth.md): the endpoints auth/token/, auth/refresh/,
	// auth/logout/ and auth/mwt/ under the prefix, and, ahead of
	// Authenticator, the caller named by an access token
	// ("Authorization: Bearer") or a session cookie. A request carrying
	// neither goes on to Authenticator. Nil means off. Set Auth.Credentials
	// to the application's password check. Build reports a configuration
	// auth.New refuses, and a secret shared with the cache.
	Auth *auth.Config
	// ConcurrencyThreshold decides when a context fetch runs its functions
	// concurrently. Mizan keeps a moving average of each function's running
	// time; the functions of a context run concurrently when overlapping
	// them would save more than this (the sum of the averages minus the
	// largest), and one after another on the request's goroutine otherwise,
	// since a goroutine costs a few microseconds. A function not yet measured
	// counts as slow. Zero means [DefaultConcurrencyThreshold]; a negative
	// value makes every context with several functions always concurrent.
	ConcurrencyThreshold time.Duration
}

// DefaultConcurrencyThreshold is the default of
// [Config.ConcurrencyThreshold]: about four times what starting and joining
// a goroutine costs.
const DefaultConcurrencyThreshold = 10 * time.Microsecond

// DefaultPrefix is the conventional mount point of the protocol endpoints.
const DefaultPrefix = "/api/mizan/"

// App holds the registered functions and serves them. Register functions
// with [Query], [Mutation] and [View], then call [App.Build]; the App is then
// an [http.Handler]. It is safe for concurrent use once built.
type App struct {
	cfg    Config
	logger *slog.Logger

	mu    sync.Mutex
	funcs []*Func
	errs  []error
	extra []extraEndpoint // added by Handle
	built bool

	once     sync.Once
	buildErr error
	plan     *plan

	auth *auth.Service // built from cfg.Auth by Build

	invalidators atomic.Pointer[[]Invalidator]
	validate     *validator.Validate
	flights      singleflight.Group
}

// New returns an App configured by cfg.
func New(cfg Config) *App {
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.CSRFCookieName == "" {
		cfg.CSRFCookieName = "csrftoken"
	}
	if cfg.CSRFHeaderName == "" {
		cfg.CSRFHeaderName = "X-CSRFToken"
	}
	if cfg.ConcurrencyThreshold == 0 {
		cfg.ConcurrencyThreshold = DefaultConcurrencyThreshold
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	a := &App{cfg: cfg, logger: logger}
	if cfg.Cache != nil {
		a.OnInvalidate(InvalidatorFunc(a.purge))
	}
	return a
}

// Prefix returns the path the protocol endpoints are served under.
func (a *App) Prefix() string { return a.cfg.Prefix }

// add records a registration; it panics when the app is already built, a
// mistake in start-up code that no request can trigger.
func (a *App) add(f *Func, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.built {
		panic("mizan: function " + f.meta.Name + " registered after Build")
	}
	if err != nil {
		a.errs = append(a.errs, err)
		return
	}
	a.funcs = append(a.funcs, f)
}

// Build checks every registration and freezes the app. It returns every
// misuse it finds (a context and affects on one function, affects naming
// nothing known, duplicate names, arguments a query string cannot carry,
// conflicting routes), joined. Build runs once; later calls return the first
// result. ServeHTTP builds on first use, but a server should call Build at
// start-up to see these errors.
func (a *App) Build() error {
	a.once.Do(func() {
		a.mu.Lock()
		a.built = true
		errs := a.errs
		funcs := a.funcs
		a.mu.Unlock()
		if err := a.buildAuth(); err != nil {
			errs = append(errs, err)
		}
		p, err := newPlan(a, funcs)
		if err != nil {
			errs = append(errs, err)
		}
		if len(errs) > 0 {
			a.buildErr = fmt.Errorf("mizan: app has errors: %w", errors.Join(errs...))
			return
		}
		a.plan = p
	})
	return a.buildErr
}

// ServeHTTP serves the protocol endpoints under the prefix, the routes of
// views, and the fallback for everything else.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := a.Build(); err != nil {
		a.logger.Error("mizan: serving an app that failed to build", "err", err)
		writeError(w, r, a.logger, errInternal)
		return
	}
	a.plan.mux.ServeHTTP(w, r)
}

// Functions returns the metadata of every registered function, private ones
// included, sorted by name. It builds the app if needed.
func (a *App) Functions() ([]Meta, error) {
	if err := a.Build(); err != nil {
		return nil, err
	}
	out := make([]Meta, 0, len(a.plan.sorted))
	for _, f := range a.plan.sorted {
		out = append(out, f.Meta())
	}
	return out, nil
}

// Lookup returns the registered function with the given wire name.
func (a *App) Lookup(name string) (*Func, bool) {
	if err := a.Build(); err != nil {
		return nil, false
	}
	f, ok := a.plan.byName[name]
	return f, ok
}
