package edge

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/mizan-afi/mizan"
)

// The environment variables [ConfigFromEnv] reads.
const (
	// EnvPurgeURL is the edge's URL: its base ("https://edge.example.com")
	// or its purge endpoint ("https://edge.example.com/__mizan/purge", as
	// docs/spec.md §7 gives it). Unset means no edge to purge.
	EnvPurgeURL = "MIZAN_EDGE_PURGE_URL"
	// EnvPurgeSecret is the secret the posts are signed with, the same the
	// Worker is given with "wrangler secret put MIZAN_EDGE_PURGE_SECRET";
	// at least [MinSecretLen] bytes.
	EnvPurgeSecret = "MIZAN_EDGE_PURGE_SECRET"
)

// envEdgeKeySecret is the edge's own cache-key secret: the origin never
// needs it, but when it has it, the purge secret must differ from it.
const envEdgeKeySecret = "MIZAN_EDGE_KEY_SECRET"

// PurgePath is the path of the edge's purge endpoint, below its base URL.
const PurgePath = "/__mizan/purge"

// The headers that authenticate a post.
const (
	// HeaderTimestamp carries the time of the attempt, in Unix seconds.
	HeaderTimestamp = "X-Mizan-Timestamp"
	// HeaderSignature carries "v1=" and the signature of [Sign].
	HeaderSignature = "X-Mizan-Signature"
)

// MinSecretLen is the shortest purge secret accepted, in bytes.
const MinSecretLen = 16

// The defaults of [Config].
const (
	DefaultQueueSize  = 1024                  // invalidations waiting to be posted
	DefaultMinBackoff = 50 * time.Millisecond // the first retry's wait
	DefaultMaxBackoff = 5 * time.Second       // the longest wait between retries
	DefaultTimeout    = 5 * time.Second       // one attempt
)

// Config configures a [Purger]. URL and Secret are required; every other
// field has a default.
type Config struct {
	// URL is the edge's base URL ("https://edge.example.com"): the posts go
	// to URL + [PurgePath]. A URL whose path already ends in PurgePath is
	// used as it is. It must be an absolute http or https URL, without a
	// query or fragment.
	URL string
	// Secret signs the posts (HMAC-SHA256); the edge holds the same. At
	// least [MinSecretLen] bytes.
	Secret []byte
	// QueueSize bounds the invalidations waiting to be posted; beyond it,
	// they are coalesced into broad targets (see the package
	// documentation). Zero means [DefaultQueueSize].
	QueueSize int
	// MinBackoff and MaxBackoff bound the wait before a retry: it starts at
	// MinBackoff, doubles on every failure up to MaxBackoff, and is
	// jittered within the lower half. Zero means [DefaultMinBackoff] and
	// [DefaultMaxBackoff] (or MinBackoff, if that is larger).
	MinBackoff, MaxBackoff time.Duration
	// Timeout bounds one attempt, from connecting to reading the response.
	// Zero means [DefaultTimeout].
	Timeout time.Duration
	// Client makes the requests. Nil means a client of its own over
	// http.DefaultTransport that does not follow redirects (a redirect is
	// a failure, logged, so that a mistyped URL shows).
	Client *http.Client
	// Logger receives a warning for every failed attempt (its status and
	// error, never the secret). Nil means slog.Default().
	Logger *slog.Logger
	// Now tells the time: of each attempt's signature, and of the waits
	// [Stats.OldestPending] reports. Nil means time.Now.
	Now func() time.Time
}

// ConfigFromEnv returns the Config of MIZAN_EDGE_PURGE_URL and
// MIZAN_EDGE_PURGE_SECRET: the one place this package reads the
// environment. ok reports whether MIZAN_EDGE_PURGE_URL is set; when it is
// not, there is no edge to purge and cfg is the zero Config. err is set
// when the URL is set but is not an absolute http or https URL, when the
// secret is missing or shorter than [MinSecretLen] bytes, or when the
// secret equals another of Mizan's secrets (MIZAN_MWT_SECRET,
// MIZAN_CACHE_SECRET, MIZAN_EDGE_KEY_SECRET): each secret must be its own.
// The other fields of cfg are left to their defaults.
func ConfigFromEnv() (cfg Config, ok bool, err error) {
	raw := strings.TrimSpace(os.Getenv(EnvPurgeURL))
	if raw == "" {
		return Config{}, false, nil
	}
	if _, err := endpointOf(raw); err != nil {
		return Config{}, true, fmt.Errorf("edge: %s: %w", EnvPurgeURL, err)
	}
	secret := os.Getenv(EnvPurgeSecret)
	switch {
	case secret == "":
		return Config{}, true, fmt.Errorf("edge: %s is set but %s is not: the purge posts must be signed", EnvPurgeURL, EnvPurgeSecret)
	case len(secret) < MinSecretLen:
		return Config{}, true, fmt.Errorf("edge: %s is %d bytes: it must be at least %d", EnvPurgeSecret, len(secret), MinSecretLen)
	}
	for _, other := range []string{mizan.EnvMWTSecret, mizan.EnvCacheSecret, envEdgeKeySecret} {
		if os.Getenv(other) == secret {
			return Config{}, true, fmt.Errorf("edge: %s equals %s: give each secret a value of its own", EnvPurgeSecret, other)
		}
	}
	return Config{URL: raw, Secret: []byte(secret)}, true, nil
}

// endpointOf returns the purge endpoint of an edge URL: the URL itself when
// its path ends in [PurgePath], else the URL with PurgePath appended.
func endpointOf(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("not a URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%q is not an absolute http or https URL", u.Redacted())
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%q has no host", u.Redacted())
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return nil, fmt.Errorf("%q has a query or fragment: give the edge's base URL", u.Redacted())
	}
	if !strings.HasSuffix(u.Path, PurgePath) {
		u = u.JoinPath(PurgePath)
	}
	return u, nil
}

// settings is a Config checked and with its defaults filled in.
type settings struct {
	endpoint   string // the purge endpoint
	redacted   string // endpoint without a password, for logs
	secret     []byte
	queueSize  int
	minBackoff time.Duration
	maxBackoff time.Duration
	timeout    time.Duration
	client     *http.Client
	log        *slog.Logger
	now        func() time.Time
}

// check validates cfg and fills in its defaults.
func (cfg Config) check() (settings, error) {
	var s settings
	if cfg.URL == "" {
		return s, errors.New("edge: Config.URL is required")
	}
	u, err := endpointOf(cfg.URL)
	if err != nil {
		return s, fmt.Errorf("edge: Config.URL: %w", err)
	}
	s.endpoint, s.redacted = u.String(), u.Redacted()
	if len(cfg.Secret) < MinSecretLen {
		return s, fmt.Errorf("edge: Config.Secret is %d bytes: it must be at least %d", len(cfg.Secret), MinSecretLen)
	}
	s.secret = append([]byte(nil), cfg.Secret...)
	switch {
	case cfg.QueueSize < 0:
		return s, fmt.Errorf("edge: Config.QueueSize is %d: it must not be negative", cfg.QueueSize)
	case cfg.QueueSize == 0:
		s.queueSize = DefaultQueueSize
	default:
		s.queueSize = cfg.QueueSize
	}
	if cfg.MinBackoff < 0 || cfg.MaxBackoff < 0 || cfg.Timeout < 0 {
		return s, errors.New("edge: Config.MinBackoff, MaxBackoff and Timeout must not be negative")
	}
	s.minBackoff = orDefault(cfg.MinBackoff, DefaultMinBackoff)
	s.maxBackoff = cfg.MaxBackoff
	if s.maxBackoff == 0 {
		s.maxBackoff = max(DefaultMaxBackoff, s.minBackoff)
	}
	if s.maxBackoff < s.minBackoff {
		return s, fmt.Errorf("edge: Config.MaxBackoff (%v) is below MinBackoff (%v)", s.maxBackoff, s.minBackoff)
	}
	s.timeout = orDefault(cfg.Timeout, DefaultTimeout)
	s.client = cfg.Client
	if s.client == nil {
		s.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	s.log = cfg.Logger
	if s.log == nil {
		s.log = slog.Default()
	}
	s.now = cfg.Now
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// orDefault returns d, or def when d is zero.
func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}
