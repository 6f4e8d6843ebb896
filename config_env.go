package mizan

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/mizan-afi/mizan/cache"
	"github.com/mizan-afi/mizan/cache/redis"
)

// The environment variables [ConfigFromEnv] reads.
const (
	EnvCacheSecret   = "MIZAN_CACHE_SECRET"    // HMAC secret of cache keys, 32 bytes or more
	EnvCacheRedisURL = "MIZAN_CACHE_REDIS_URL" // redis:// or rediss:// URL of the cache
)

// ConfigFromEnv returns a Config built from the environment: the one place
// a Mizan app reads its settings from environment variables.
//
// With both MIZAN_CACHE_SECRET and MIZAN_CACHE_REDIS_URL set, the origin
// cache is on, in Redis; with either missing it is off and one warning is
// logged (to logger, or slog.Default() when nil). A secret shorter than 32
// bytes or a malformed URL is an error. Close the returned Config's Cache
// when the server stops.
func ConfigFromEnv(logger *slog.Logger) (Config, error) {
	if logger == nil {
		logger = slog.Default()
	}
	cfg := Config{Logger: logger}
	secret, url := os.Getenv(EnvCacheSecret), os.Getenv(EnvCacheRedisURL)
	switch {
	case secret == "" && url == "":
		logger.Warn("mizan: origin cache off: set " + EnvCacheSecret + " and " + EnvCacheRedisURL + " to turn it on")
		return cfg, nil
	case secret == "" || url == "":
		missing := EnvCacheSecret
		if url == "" {
			missing = EnvCacheRedisURL
		}
		logger.Warn("mizan: origin cache off: " + missing + " is not set")
		return cfg, nil
	}
	if len(secret) < cache.MinSecretLen {
		return cfg, fmt.Errorf("mizan: %s: %w (got %d)", EnvCacheSecret, cache.ErrShortSecret, len(secret))
	}
	backend, err := redis.New(redis.Options{URL: url})
	if err != nil {
		return cfg, fmt.Errorf("mizan: %s: %w", EnvCacheRedisURL, err)
	}
	c, err := cache.New(cache.Options{Backend: backend, Secret: []byte(secret), Logger: logger})
	if err != nil {
		return cfg, errors.Join(fmt.Errorf("mizan: cache: %w", err), backend.Close())
	}
	cfg.Cache = c
	return cfg, nil
}
