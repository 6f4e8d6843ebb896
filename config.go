package mizan

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mizan-afi/mizan/auth"
	"github.com/mizan-afi/mizan/auth/mwt"
	"github.com/mizan-afi/mizan/auth/session"
	"github.com/mizan-afi/mizan/cache"
	"github.com/mizan-afi/mizan/cache/redis"
	"github.com/mizan-afi/mizan/idempotency"
	"github.com/mizan-afi/mizan/ratelimit"
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
	// Idempotency keeps the outcomes of idempotent calls (an
	// Idempotency-Key on POST call/, "idempotency_key" on a WebSocket
	// call; docs/spec.md §12) for 24 hours, per caller and key. Nil means
	// in the app's memory (idempotency.NewMemory); idempotency.OpenRedis or
	// idempotency.NewRedis shares them between instances; [NoIdempotency]
	// ignores keys. [ConfigFromEnv] sets it from MIZAN_IDEMPOTENCY.
	Idempotency IdempotencyStore
	// Observer watches requests, function runs, invalidations and the
	// origin cache, for tracing and metrics: package telemetry's
	// telemetry.New returns one (OpenTelemetry spans, Prometheus metrics;
	// docs/observability.md). Nil means off.
	Observer Observer
}

// DefaultConcurrencyThreshold is the default of
// [Config.ConcurrencyThreshold]: about four times what starting and joining
// a goroutine costs.
const DefaultConcurrencyThreshold = 10 * time.Microsecond

// DefaultPrefix is the conventional mount point of the protocol endpoints.
const DefaultPrefix = "/api/mizan/"

// The environment variables [ConfigFromEnv] reads.
const (
	EnvCacheSecret    = "MIZAN_CACHE_SECRET"    // HMAC secret of cache keys, 32 bytes or more
	EnvCacheRedisURL  = "MIZAN_CACHE_REDIS_URL" // redis:// or rediss:// URL of the cache
	EnvCacheAdmission = "MIZAN_CACHE_ADMISSION" // which misses the cache stores: auto (default), always or second

	EnvCacheMaxEntries = "MIZAN_CACHE_MAX_ENTRIES_PER_CONTEXT" // entries one context may hold, per process (100000; -1: no cap)
	EnvCacheTimeout    = "MIZAN_CACHE_TIMEOUT"                 // bound of one cache operation and of a Redis read or write, a Go duration (100ms)

	EnvJWTPrivateKey      = "JWT_PRIVATE_KEY"              // JWT key: HS256 secret (32 bytes or more) or PEM private key; turns auth on
	EnvJWTAlgorithm       = "JWT_ALGORITHM"                // HS256 (default), RS256 or EdDSA
	EnvJWTAccessTTL       = "JWT_ACCESS_TOKEN_EXPIRES_IN"  // access token lifetime, seconds (300)
	EnvJWTRefreshTTL      = "JWT_REFRESH_TOKEN_EXPIRES_IN" // refresh token and session lifetime, seconds (604800)
	EnvJWTValidateSession = "JWT_VALIDATE_SESSION"         // check the session on every access token (true)
	EnvJWTLeeway          = "JWT_LEEWAY"                   // clock skew tolerated, seconds (0)
	EnvMWTSecret          = "MIZAN_MWT_SECRET"             // MWT secret, 32 bytes or more; turns auth/mwt/ on
	EnvMWTTTL             = "MIZAN_MWT_TTL"                // MWT lifetime, seconds (300)
	EnvSessionRedisURL    = "MIZAN_SESSION_REDIS_URL"      // Redis of the sessions (default: MIZAN_CACHE_REDIS_URL)
	EnvPubSubRedisURL     = "MIZAN_PUBSUB_REDIS_URL"       // Redis pub/sub of the live hub (default: MIZAN_CACHE_REDIS_URL)
	EnvIdempotency        = "MIZAN_IDEMPOTENCY"            // where idempotent outcomes are kept: memory (default), redis, a redis:// URL, or off
	EnvAuthLimitUser      = "MIZAN_AUTH_LIMIT_USER"        // failed sign-ins allowed per username: N/DURATION (10/1h), or off
	EnvAuthLimitAddress   = "MIZAN_AUTH_LIMIT_ADDRESS"     // failed sign-ins allowed per client address: N/DURATION (30/1h), or off
)

// ConfigFromEnv returns a Config built from the environment: the one place
// a Mizan app reads its settings from environment variables.
//
// With both MIZAN_CACHE_SECRET and MIZAN_CACHE_REDIS_URL set, the origin
// cache is on, in Redis; with either missing it is off and one warning is
// logged (to logger, or slog.Default() when nil). A secret shorter than 32
// bytes or a malformed URL is an error. MIZAN_CACHE_ADMISSION chooses which
// misses the cache stores (cache.ParseAdmission: auto, the default, always
// or second; docs/cache.md), MIZAN_CACHE_MAX_ENTRIES_PER_CONTEXT how many
// entries one context may hold (cache.Options.MaxEntriesPerContext), and
// MIZAN_CACHE_TIMEOUT (a Go duration, 100ms by default) how long one cache
// operation, and a Redis read or write, may take before the cache treats
// the backend as down and serves without it (cache.Options.Timeout, the
// backend's ReadTimeout and WriteTimeout).
//
// With JWT_PRIVATE_KEY set, Config.Auth is set (sign-in with JWTs,
// docs/auth.md) from the JWT_* variables and MIZAN_MWT_SECRET and
// MIZAN_MWT_TTL; its sessions are kept in Redis at MIZAN_SESSION_REDIS_URL
// (or, without it, MIZAN_CACHE_REDIS_URL), else in memory with a warning,
// and so are the counts of failed sign-ins (auth.Config.Limiter: in that
// Redis, with per-process counts while it fails). MIZAN_AUTH_LIMIT_USER
// and MIZAN_AUTH_LIMIT_ADDRESS set auth.Config.Limits as N/DURATION (N
// failures at once, then N every DURATION: "10/1h"); "off" in both turns
// limiting off. The app still has to set Config.Auth.Credentials, its
// password check.
//
// Config.PubSubRedisURL, the Redis through which the live hub (package
// live) shares invalidations between server instances, is
// MIZAN_PUBSUB_REDIS_URL, or else MIZAN_CACHE_REDIS_URL; a URL whose
// scheme is not redis or rediss is an error.
//
// MIZAN_IDEMPOTENCY chooses Config.Idempotency, where the outcomes of
// idempotent calls are kept (docs/spec.md §12): unset or "memory" in the
// process's memory; "redis" in the Redis of MIZAN_CACHE_REDIS_URL (an
// error when that is unset); a redis://, rediss:// or unix:// URL in that
// Redis; "off" nowhere (keys are ignored). Anything else is an error.
//
// The cache secret, the JWT key and the MWT secret must be three different
// values: ConfigFromEnv refuses two that are equal and names them. Close
// the returned Config ([Config.Close]) when the server stops.
func ConfigFromEnv(logger *slog.Logger) (Config, error) {
	if logger == nil {
		logger = slog.Default()
	}
	cfg := Config{Logger: logger}
	if err := distinctEnvSecrets(EnvCacheSecret, EnvJWTPrivateKey, EnvMWTSecret); err != nil {
		return cfg, err
	}
	c, err := cacheFromEnv(logger)
	if err != nil {
		return cfg, err
	}
	cfg.Cache = c
	if cfg.PubSubRedisURL, err = pubSubFromEnv(); err != nil {
		return cfg, errors.Join(err, cfg.Close())
	}
	if cfg.Auth, err = authFromEnv(logger); err != nil {
		return cfg, errors.Join(err, cfg.Close())
	}
	if cfg.Idempotency, err = idempotencyFromEnv(); err != nil {
		return cfg, errors.Join(err, cfg.Close())
	}
	return cfg, nil
}

// idempotencyFromEnv returns the store MIZAN_IDEMPOTENCY names; nil is
// memory.
func idempotencyFromEnv() (IdempotencyStore, error) {
	v := os.Getenv(EnvIdempotency)
	switch v {
	case "", "memory":
		return nil, nil
	case "off":
		return NoIdempotency, nil
	case "redis":
		v = os.Getenv(EnvCacheRedisURL)
		if v == "" {
			return nil, fmt.Errorf("mizan: %s=redis needs %s (or give a redis:// URL)", EnvIdempotency, EnvCacheRedisURL)
		}
	}
	u, err := url.Parse(v)
	switch {
	case err == nil && (u.Scheme == "redis" || u.Scheme == "rediss") && u.Host != "":
	case err == nil && u.Scheme == "unix" && u.Path != "":
	default:
		return nil, fmt.Errorf("mizan: %s: want memory, redis, off, or a redis://, rediss:// or unix:// URL", EnvIdempotency)
	}
	s, err := idempotency.OpenRedis(v, idempotency.RedisOptions{})
	if err != nil {
		return nil, fmt.Errorf("mizan: %s: %w", EnvIdempotency, err)
	}
	return s, nil
}

// Close releases what [ConfigFromEnv] opened: the cache's connections, the
// session store's and the idempotency store's, when they are Redis.
func (c Config) Close() error {
	var errs []error
	if c.Cache != nil {
		errs = append(errs, c.Cache.Close())
	}
	if c.Auth != nil {
		if cl, ok := c.Auth.Sessions.(io.Closer); ok {
			errs = append(errs, cl.Close())
		}
	}
	if cl, ok := c.Idempotency.(io.Closer); ok {
		errs = append(errs, cl.Close())
	}
	return errors.Join(errs...)
}

// distinctEnvSecrets refuses two of the named variables that are set to
// one value.
func distinctEnvSecrets(names ...string) error {
	for i, a := range names {
		for _, b := range names[i+1:] {
			va, vb := os.Getenv(a), os.Getenv(b)
			if va != "" && va == vb {
				return fmt.Errorf("mizan: %s and %s have the same value: the cache secret, the JWT key and the MWT secret must be distinct (docs/auth.md)", a, b)
			}
		}
	}
	return nil
}

// cacheFromEnv returns the origin cache that the environment configures,
// or nil.
func cacheFromEnv(logger *slog.Logger) (*cache.Cache, error) {
	secret, url := os.Getenv(EnvCacheSecret), os.Getenv(EnvCacheRedisURL)
	switch {
	case secret == "" && url == "":
		logger.Warn("mizan: origin cache off: set " + EnvCacheSecret + " and " + EnvCacheRedisURL + " to turn it on")
		return nil, nil
	case secret == "" || url == "":
		missing := EnvCacheSecret
		if url == "" {
			missing = EnvCacheRedisURL
		}
		logger.Warn("mizan: origin cache off: " + missing + " is not set")
		return nil, nil
	}
	if len(secret) < cache.MinSecretLen {
		return nil, fmt.Errorf("mizan: %s: %w (got %d)", EnvCacheSecret, cache.ErrShortSecret, len(secret))
	}
	admission, err := cache.ParseAdmission(os.Getenv(EnvCacheAdmission))
	if err != nil {
		return nil, fmt.Errorf("mizan: %s: %w", EnvCacheAdmission, err)
	}
	var maxEntries int
	if v := os.Getenv(EnvCacheMaxEntries); v != "" {
		if maxEntries, err = strconv.Atoi(v); err != nil || maxEntries == 0 {
			return nil, fmt.Errorf("mizan: %s: want a number of entries, or -1 for no cap", EnvCacheMaxEntries)
		}
	}
	var timeout time.Duration
	if v := os.Getenv(EnvCacheTimeout); v != "" {
		if timeout, err = time.ParseDuration(v); err != nil || timeout <= 0 {
			return nil, fmt.Errorf("mizan: %s: want a positive Go duration such as 250ms", EnvCacheTimeout)
		}
	}
	backend, err := redis.New(redis.Options{URL: url, ReadTimeout: timeout, WriteTimeout: timeout})
	if err != nil {
		return nil, fmt.Errorf("mizan: %s: %w", EnvCacheRedisURL, err)
	}
	c, err := cache.New(cache.Options{Backend: backend, Secret: []byte(secret), Logger: logger, Admission: admission,
		MaxEntriesPerContext: maxEntries, Timeout: timeout})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("mizan: cache: %w", err), backend.Close())
	}
	return c, nil
}

// pubSubFromEnv returns the Redis URL of the live hub's pub/sub, or "".
func pubSubFromEnv() (string, error) {
	v, from := os.Getenv(EnvPubSubRedisURL), EnvPubSubRedisURL
	if v == "" {
		v, from = os.Getenv(EnvCacheRedisURL), EnvCacheRedisURL
	}
	if v == "" {
		return "", nil
	}
	u, err := url.Parse(v)
	switch {
	case err == nil && (u.Scheme == "redis" || u.Scheme == "rediss") && u.Host != "":
	case err == nil && u.Scheme == "unix" && u.Path != "":
	default:
		return "", fmt.Errorf("mizan: %s: want a redis:// or rediss:// URL with a host, or a unix:// socket path", from)
	}
	return v, nil
}

// authFromEnv returns the auth configuration that the environment
// configures, or nil when JWT_PRIVATE_KEY is not set.
func authFromEnv(logger *slog.Logger) (*auth.Config, error) {
	key := os.Getenv(EnvJWTPrivateKey)
	mwtSecret := os.Getenv(EnvMWTSecret)
	if key == "" {
		if mwtSecret != "" {
			logger.Warn("mizan: " + EnvMWTSecret + " is set but " + EnvJWTPrivateKey + " is not: MWTs are issued to signed-in callers only, so auth/mwt/ is off")
		}
		return nil, nil
	}
	// A PEM key may come with its line breaks written as \n, for
	// environments that cannot carry a multi-line value.
	if strings.Contains(key, "-----BEGIN ") && !strings.Contains(key, "\n") {
		key = strings.ReplaceAll(key, `\n`, "\n")
	}
	ac := &auth.Config{Algorithm: os.Getenv(EnvJWTAlgorithm), PrivateKey: []byte(key)}
	var err error
	if ac.AccessTTL, err = envSeconds(EnvJWTAccessTTL, false); err != nil {
		return nil, err
	}
	if ac.RefreshTTL, err = envSeconds(EnvJWTRefreshTTL, false); err != nil {
		return nil, err
	}
	if ac.Leeway, err = envSeconds(EnvJWTLeeway, true); err != nil {
		return nil, err
	}
	if ac.MWTTTL, err = envSeconds(EnvMWTTTL, false); err != nil {
		return nil, err
	}
	if v := os.Getenv(EnvJWTValidateSession); v != "" {
		check, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("mizan: %s: want true or false, got %q", EnvJWTValidateSession, v)
		}
		ac.SkipSessionCheck = !check
	}
	if mwtSecret != "" {
		if len(mwtSecret) < mwt.MinSecretLen {
			return nil, fmt.Errorf("mizan: %s: %w (got %d)", EnvMWTSecret, mwt.ErrShortSecret, len(mwtSecret))
		}
		ac.MWTSecret = []byte(mwtSecret)
	}
	if ac.Limits, err = limitsFromEnv(); err != nil {
		return nil, err
	}
	// Check the key and algorithm now, naming the variables.
	if _, err := auth.New(*ac); err != nil {
		return nil, fmt.Errorf("mizan: %s / %s: %w", EnvJWTPrivateKey, EnvJWTAlgorithm, err)
	}
	url, from := os.Getenv(EnvSessionRedisURL), EnvSessionRedisURL
	if url == "" {
		url, from = os.Getenv(EnvCacheRedisURL), EnvCacheRedisURL
	}
	if url == "" {
		logger.Warn("mizan: sessions are kept in memory: lost on restart and not shared between processes; set " + EnvSessionRedisURL + " to keep them in Redis")
		return ac, nil
	}
	store, err := session.OpenRedis(url)
	if err != nil {
		return nil, fmt.Errorf("mizan: %s: %w", from, err)
	}
	ac.Sessions = store
	ac.Limiter = ratelimit.Fallback(ratelimit.NewRedis(store.Client(), ""), ratelimit.NewMemory(nil), limiterWarning(logger))
	return ac, nil
}

// limitsFromEnv reads MIZAN_AUTH_LIMIT_USER and MIZAN_AUTH_LIMIT_ADDRESS.
func limitsFromEnv() (auth.Limits, error) {
	l := auth.DefaultLimits
	user, addr := os.Getenv(EnvAuthLimitUser), os.Getenv(EnvAuthLimitAddress)
	if user == "off" || addr == "off" {
		if user != addr {
			return l, fmt.Errorf("mizan: %s and %s: \"off\" turns both limits off; set both to off", EnvAuthLimitUser, EnvAuthLimitAddress)
		}
		return auth.Limits{Off: true}, nil
	}
	for _, e := range []struct {
		name string
		v    string
		dst  *ratelimit.Limit
	}{{EnvAuthLimitUser, user, &l.PerUser}, {EnvAuthLimitAddress, addr, &l.PerAddress}} {
		if e.v == "" {
			continue
		}
		n, per, ok := strings.Cut(e.v, "/")
		count, err1 := strconv.Atoi(n)
		d, err2 := time.ParseDuration(per)
		if !ok || err1 != nil || err2 != nil || count < 1 || d <= 0 {
			return l, fmt.Errorf("mizan: %s: want N/DURATION (such as 10/1h) or off, got %.40q", e.name, e.v)
		}
		*e.dst = ratelimit.Limit{Rate: count, Period: d, Burst: count}
	}
	return l, nil
}

// limiterWarning returns the limiter's onErr: a warning, at most one a
// minute, that Redis failed and each process counts on its own.
func limiterWarning(logger *slog.Logger) func(error) {
	var last atomic.Int64
	return func(err error) {
		now := time.Now().UnixNano()
		if prev := last.Load(); now-prev > int64(time.Minute) && last.CompareAndSwap(prev, now) {
			logger.Warn("mizan: auth: the sign-in limiter's Redis failed; counting failed attempts in this process until it is back", "err", err)
		}
	}
}

// envSeconds reads a duration in whole seconds; unset means zero (the
// default). Zero itself is accepted only when zeroOK.
func envSeconds(name string, zeroOK bool) (time.Duration, error) {
	v := os.Getenv(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || (n == 0 && !zeroOK) || n > 10*365*24*3600 {
		return 0, fmt.Errorf("mizan: %s: want a positive whole number of seconds, got %q", name, v)
	}
	return time.Duration(n) * time.Second, nil
}
