package cache

import (
	"context"
	"time"
)

// Backend is a key-value store the origin cache keeps its entries and
// generations in. Keys arrive without the backend's own prefix; a backend
// adds it. Implementations must be safe for concurrent use and must return
// promptly when ctx is done.
type Backend interface {
	// GetMulti returns the values stored under keys, nil where a key is
	// absent, in the order of keys. It must not modify or keep keys (the
	// cache passes slices it reuses). The cache reads the returned values
	// only; a backend may return slices of its own storage.
	GetMulti(ctx context.Context, keys ...string) ([][]byte, error)
	// Set stores value under key for ttl (zero: the backend's default),
	// replacing the value and the expiry the key had. Then each key of
	// extend that is present and would expire before key does is given
	// key's expiry, in the same round trip where the backend can (Redis:
	// PEXPIRE ... GT): an absent key stays absent, a key without expiry
	// keeps none, no expiry is shortened and no value changes. The cache
	// passes the generations an entry is stored under, so that none expires
	// before the entry.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration, extend ...string) error
	// SetPermanent stores value under key with no expiry, replacing any
	// expiry the key had.
	SetPermanent(ctx context.Context, key string, value []byte) error
	// SetNX stores value under key if the key is absent (Redis: SET NX),
	// atomically, and reports whether it did. The key expires after ttl,
	// or never when ttl is zero or less (unlike Set, whose zero is the
	// default TTL). A key that expired counts as absent.
	SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error)
	// Delete removes keys; absent keys are not an error. A purge is one
	// Delete of the generations it names.
	Delete(ctx context.Context, keys ...string) error
	// DeletePrefix removes every key that starts with prefix.
	DeletePrefix(ctx context.Context, prefix string) error
	// Ping reports whether the backend answers.
	Ping(ctx context.Context) error
	// Close releases the backend's resources.
	Close() error
}
