package mizan

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/go-playground/validator/v10"
	"github.com/mizan-afi/mizan/auth"
	"github.com/mizan-afi/mizan/idempotency"
	"golang.org/x/sync/singleflight"
)

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
	// extraAuth are the auth/<name>/ endpoints added by HandleAuth.
	extraAuth []authEndpoint
	enums     map[reflect.Type]*enumDef // declared with Enum
	// customRules are the validate tags added by Validation and Pattern.
	customRules map[string]*customRule
	// messages are the messages set with Message, by validator tag.
	messages map[string]string
	built    bool

	once     sync.Once
	buildErr error
	plan     *plan

	auth *auth.Service // built from cfg.Auth by Build

	invalidators atomic.Pointer[[]Invalidator]
	validate     *validator.Validate
	flights      singleflight.Group

	idem idempotency.Store // Config.Idempotency, or a memory store
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
	a := &App{cfg: cfg, logger: logger, idem: cfg.Idempotency}
	if a.idem == nil {
		a.idem = idempotency.NewMemory(idempotency.MemoryOptions{})
	}
	if cfg.Cache != nil {
		a.OnInvalidate(InvalidatorFunc(a.purge))
	}
	a.observeNew()
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
