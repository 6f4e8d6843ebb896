package mizan_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/auth"
	"github.com/mizan-afi/mizan/auth/session"
	"github.com/mizan-afi/mizan/idempotency"
	"github.com/mizan-afi/mizan/internal/redistest"
	"github.com/mizan-afi/mizan/ratelimit"
)

// authEnvVars are every variable the auth part of ConfigFromEnv reads.
var authEnvVars = []string{
	mizan.EnvCacheSecret, mizan.EnvCacheRedisURL, mizan.EnvJWTPrivateKey, mizan.EnvJWTAlgorithm,
	mizan.EnvJWTAccessTTL, mizan.EnvJWTRefreshTTL, mizan.EnvJWTValidateSession, mizan.EnvJWTLeeway,
	mizan.EnvMWTSecret, mizan.EnvMWTTTL, mizan.EnvSessionRedisURL, mizan.EnvIdempotency,
	mizan.EnvAuthLimitUser, mizan.EnvAuthLimitAddress,
}

// setEnv clears the auth variables, then sets pairs of name, value.
func setEnv(t *testing.T, pairs ...string) {
	t.Helper()
	for _, name := range authEnvVars {
		t.Setenv(name, "")
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		t.Setenv(pairs[i], pairs[i+1])
	}
}

func TestConfigFromEnvAuth(t *testing.T) {
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(&logs, nil))

	setEnv(t)
	cfg, err := mizan.ConfigFromEnv(logger)
	if err != nil || cfg.Auth != nil {
		t.Fatalf("no JWT_PRIVATE_KEY: Auth %+v, %v", cfg.Auth, err)
	}

	setEnv(t, mizan.EnvJWTPrivateKey, string(jwtKey), mizan.EnvMWTSecret, string(mwtKey),
		mizan.EnvJWTAccessTTL, "60", mizan.EnvJWTRefreshTTL, "3600", mizan.EnvJWTLeeway, "5",
		mizan.EnvJWTValidateSession, "false", mizan.EnvMWTTTL, "120")
	logs.Reset()
	cfg, err = mizan.ConfigFromEnv(logger)
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Auth
	if a == nil || string(a.PrivateKey) != string(jwtKey) || string(a.MWTSecret) != string(mwtKey) ||
		a.AccessTTL != time.Minute || a.RefreshTTL != time.Hour || a.Leeway != 5*time.Second ||
		!a.SkipSessionCheck || a.MWTTTL != 2*time.Minute || a.Sessions != nil {
		t.Errorf("Auth = %+v", a)
	}
	if !strings.Contains(logs.String(), "sessions are kept in memory") {
		t.Errorf("no warning about in-memory sessions: %s", logs.String())
	}
	// The configuration works: an app signs in with it.
	a.Credentials = checkPassword
	app := mizan.New(cfg)
	mizan.Mutation(app, secret, mizan.RequireAuth())
	if err := app.Build(); err != nil {
		t.Fatal(err)
	}
	if app.Auth().Algorithm() != "HS256" {
		t.Errorf("algorithm %s", app.Auth().Algorithm())
	}
	if err := cfg.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestConfigFromEnvRefusesBadAuthSettings(t *testing.T) {
	same := strings.Repeat("s", 40)
	cases := []struct {
		env  []string
		want string
	}{
		{[]string{mizan.EnvCacheSecret, same, mizan.EnvJWTPrivateKey, same}, "MIZAN_CACHE_SECRET and JWT_PRIVATE_KEY have the same value"},
		{[]string{mizan.EnvCacheSecret, same, mizan.EnvMWTSecret, same}, "MIZAN_CACHE_SECRET and MIZAN_MWT_SECRET have the same value"},
		{[]string{mizan.EnvJWTPrivateKey, same, mizan.EnvMWTSecret, same}, "JWT_PRIVATE_KEY and MIZAN_MWT_SECRET have the same value"},
		{[]string{mizan.EnvJWTPrivateKey, "short"}, "JWT_PRIVATE_KEY / JWT_ALGORITHM: auth: the HS256 JWT key must be at least 32 bytes"},
		{[]string{mizan.EnvJWTPrivateKey, same, mizan.EnvJWTAlgorithm, "none"}, `unsupported JWT algorithm "none"`},
		{[]string{mizan.EnvJWTPrivateKey, same, mizan.EnvMWTSecret, "short"}, "MIZAN_MWT_SECRET: mwt: secret must be at least 32 bytes"},
		{[]string{mizan.EnvJWTPrivateKey, same, mizan.EnvJWTAccessTTL, "5m"}, "JWT_ACCESS_TOKEN_EXPIRES_IN: want a positive whole number of seconds"},
		{[]string{mizan.EnvJWTPrivateKey, same, mizan.EnvJWTRefreshTTL, "0"}, "JWT_REFRESH_TOKEN_EXPIRES_IN"},
		{[]string{mizan.EnvJWTPrivateKey, same, mizan.EnvJWTLeeway, "-1"}, "JWT_LEEWAY"},
		{[]string{mizan.EnvJWTPrivateKey, same, mizan.EnvMWTTTL, "x"}, "MIZAN_MWT_TTL"},
		{[]string{mizan.EnvJWTPrivateKey, same, mizan.EnvJWTValidateSession, "maybe"}, "JWT_VALIDATE_SESSION: want true or false"},
		{[]string{mizan.EnvJWTPrivateKey, same, mizan.EnvSessionRedisURL, "http://nope"}, "MIZAN_SESSION_REDIS_URL"},
		{[]string{mizan.EnvJWTPrivateKey, same, mizan.EnvAuthLimitUser, "10"}, "MIZAN_AUTH_LIMIT_USER: want N/DURATION"},
		{[]string{mizan.EnvJWTPrivateKey, same, mizan.EnvAuthLimitAddress, "0/1h"}, "MIZAN_AUTH_LIMIT_ADDRESS: want N/DURATION"},
		{[]string{mizan.EnvJWTPrivateKey, same, mizan.EnvAuthLimitUser, "5/forever"}, "MIZAN_AUTH_LIMIT_USER"},
		{[]string{mizan.EnvJWTPrivateKey, same, mizan.EnvAuthLimitUser, "off"}, "set both to off"},
	}
	for _, c := range cases {
		setEnv(t, c.env...)
		if _, err := mizan.ConfigFromEnv(slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err %v, want %q", c.env, err, c.want)
		}
	}
}

// TestConfigFromEnvAuthLimits: the two limits as N/DURATION, the defaults
// without them, and "off" in both.
func TestConfigFromEnvAuthLimits(t *testing.T) {
	setEnv(t, mizan.EnvJWTPrivateKey, string(jwtKey))
	cfg, err := mizan.ConfigFromEnv(slog.New(slog.DiscardHandler))
	if err != nil || cfg.Auth.Limits != auth.DefaultLimits {
		t.Fatalf("no limit variables: %+v, %v; want auth.DefaultLimits", cfg.Auth.Limits, err)
	}
	setEnv(t, mizan.EnvJWTPrivateKey, string(jwtKey), mizan.EnvAuthLimitUser, "3/15m", mizan.EnvAuthLimitAddress, "100/24h")
	cfg, err = mizan.ConfigFromEnv(slog.New(slog.DiscardHandler))
	want := auth.Limits{PerUser: ratelimit.Limit{Rate: 3, Period: 15 * time.Minute, Burst: 3},
		PerAddress: ratelimit.Limit{Rate: 100, Period: 24 * time.Hour, Burst: 100}}
	if err != nil || cfg.Auth.Limits != want {
		t.Fatalf("limits %+v, %v; want %+v", cfg.Auth.Limits, err, want)
	}
	setEnv(t, mizan.EnvJWTPrivateKey, string(jwtKey), mizan.EnvAuthLimitUser, "off", mizan.EnvAuthLimitAddress, "off")
	if cfg, err = mizan.ConfigFromEnv(slog.New(slog.DiscardHandler)); err != nil || !cfg.Auth.Limits.Off {
		t.Fatalf("off: %+v, %v", cfg.Auth.Limits, err)
	}
}

func TestConfigFromEnvEdDSAKeyOnOneLine(t *testing.T) {
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	oneLine := strings.ReplaceAll(pemKey, "\n", `\n`)
	setEnv(t, mizan.EnvJWTPrivateKey, oneLine, mizan.EnvJWTAlgorithm, "EdDSA")
	cfg, err := mizan.ConfigFromEnv(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if string(cfg.Auth.PrivateKey) != pemKey {
		t.Errorf("key %q, want the PEM with its line breaks", cfg.Auth.PrivateKey)
	}
	// MWT secret without a JWT key: a warning, no auth.
	var logs strings.Builder
	setEnv(t, mizan.EnvMWTSecret, string(mwtKey))
	cfg, err = mizan.ConfigFromEnv(slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil || cfg.Auth != nil || !strings.Contains(logs.String(), "auth/mwt/ is off") {
		t.Errorf("MWT alone: %+v, %v, logs %s", cfg.Auth, err, logs.String())
	}
}

func TestConfigFromEnvSessionsInRedis(t *testing.T) {
	srv := redistest.Start(t)
	for _, v := range []string{mizan.EnvSessionRedisURL, mizan.EnvCacheRedisURL} {
		setEnv(t, mizan.EnvJWTPrivateKey, string(jwtKey), v, srv.URL())
		cfg, err := mizan.ConfigFromEnv(slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := cfg.Auth.Sessions.(*session.Redis); !ok {
			t.Fatalf("with %s: sessions in %T, want Redis", v, cfg.Auth.Sessions)
		}
		cfg.Auth.Credentials = checkPassword
		app := mizan.New(cfg)
		mizan.Mutation(app, secret, mizan.RequireAuth())
		if err := app.Build(); err != nil {
			t.Fatal(err)
		}
		pair, err := app.Auth().Login(t.Context(), "ada", "ada-pw")
		if err != nil {
			t.Fatal(err)
		}
		// The session is in Redis.
		keys, err := redistest.Do(srv.Addr, "KEYS", session.DefaultRedisPrefix+"*")
		if err != nil || keys == "" {
			t.Errorf("no session key in Redis: %q, %v", keys, err)
		}
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", "Bearer "+pair.Access)
		if p, err := app.Auth().Authenticate(r); err != nil || p == nil || p.ID != "1" {
			t.Errorf("Authenticate = %+v, %v", p, err)
		}
		if err := cfg.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		_, _ = redistest.Do(srv.Addr, "FLUSHALL")
	}
}

func TestConfigFromEnvIdempotency(t *testing.T) {
	srv := redistest.Start(t)
	cases := []struct {
		env  []string
		want string // the store's type, "off", or "error"
	}{
		{nil, "nil"},
		{[]string{mizan.EnvIdempotency, "memory"}, "nil"},
		{[]string{mizan.EnvIdempotency, "memory", mizan.EnvCacheRedisURL, srv.URL()}, "nil"},
		{[]string{mizan.EnvIdempotency, "off"}, "off"},
		{[]string{mizan.EnvIdempotency, srv.URL()}, "redis"},
		{[]string{mizan.EnvIdempotency, "redis", mizan.EnvCacheRedisURL, srv.URL()}, "redis"},
		{[]string{mizan.EnvIdempotency, "redis"}, "error"},
		{[]string{mizan.EnvIdempotency, "Memory"}, "error"},
		{[]string{mizan.EnvIdempotency, "http://example.com"}, "error"},
		{[]string{mizan.EnvIdempotency, "redis://"}, "error"},
	}
	for _, c := range cases {
		setEnv(t, c.env...)
		cfg, err := mizan.ConfigFromEnv(slog.New(slog.DiscardHandler))
		got := "error"
		if err == nil {
			switch s := cfg.Idempotency.(type) {
			case nil:
				got = "nil"
			case *idempotency.Redis:
				got = "redis"
			default:
				if s == mizan.NoIdempotency {
					got = "off"
				}
			}
		} else if !strings.Contains(err.Error(), mizan.EnvIdempotency) {
			t.Errorf("%v: the error does not name %s: %v", c.env, mizan.EnvIdempotency, err)
		}
		if got != c.want {
			t.Errorf("%v: %s (%v), want %s", c.env, got, err, c.want)
		}
		if err == nil {
			if err := cfg.Close(); err != nil {
				t.Errorf("%v: Close: %v", c.env, err)
			}
		}
	}
}

// TestConfigFromEnvCacheTimeout checks MIZAN_CACHE_TIMEOUT: a positive Go
// duration, anything else refused with the variable's name.
func TestConfigFromEnvCacheTimeout(t *testing.T) {
	t.Setenv("MIZAN_CACHE_SECRET", strings.Repeat("c", 32))
	t.Setenv("MIZAN_CACHE_REDIS_URL", "redis://127.0.0.1:1/0")
	for _, bad := range []string{"abc", "0s", "-1s", "100"} {
		t.Setenv("MIZAN_CACHE_TIMEOUT", bad)
		if cfg, err := mizan.ConfigFromEnv(slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil || !strings.Contains(err.Error(), "MIZAN_CACHE_TIMEOUT") {
			_ = cfg.Close()
			t.Errorf("MIZAN_CACHE_TIMEOUT=%q: %v, want an error naming the variable", bad, err)
		}
	}
	t.Setenv("MIZAN_CACHE_TIMEOUT", "250ms")
	cfg, err := mizan.ConfigFromEnv(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil || cfg.Cache == nil {
		t.Fatalf("MIZAN_CACHE_TIMEOUT=250ms: cache %v, %v", cfg.Cache, err)
	}
	_ = cfg.Close()
}
