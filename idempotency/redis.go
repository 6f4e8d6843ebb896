package idempotency

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Defaults of [RedisOptions].
const (
	DefaultPrefix    = "mizan:idem:"
	DefaultFlightTTL = 30 * time.Second // of an in-flight marker, renewed while the call runs
)

// RedisOptions configures [NewRedis]. Zero values mean the defaults.
type RedisOptions struct {
	// Prefix is put before every key. Zero means [DefaultPrefix].
	Prefix string
	// TTL is how long an outcome is kept. Zero means [TTL], 24 hours.
	TTL time.Duration
	// FlightTTL is the lifetime of the in-flight marker of a claim; the
	// claim renews it every third of it while the call runs, so that a
	// marker left by a process that died expires soon. Zero means
	// [DefaultFlightTTL].
	FlightTTL time.Duration
}

// Redis is a [Store] in Redis, shared by every instance using the same
// server and prefix. A claim is an atomic SET NX PX of an in-flight marker
// holding a random token; completing and releasing it (a Lua script each)
// act only while the marker is still the claim's own.
type Redis struct {
	c      goredis.UniversalClient
	prefix string
	ttl    time.Duration
	flight time.Duration
	owned  bool
}

// NewRedis returns a store over c, which the caller keeps (Close does not
// close it).
func NewRedis(c goredis.UniversalClient, o RedisOptions) *Redis {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.TTL <= 0 {
		o.TTL = TTL
	}
	if o.FlightTTL <= 0 {
		o.FlightTTL = DefaultFlightTTL
	}
	return &Redis{c: c, prefix: o.Prefix, ttl: o.TTL, flight: o.FlightTTL}
}

// OpenRedis returns a store over a new client of the redis://, rediss:// or
// unix:// URL, with short timeouts (200 ms to connect, 500 ms to read or
// write, no retries): a Redis that does not answer makes idempotent calls
// fail fast with 503 rather than hang. Close closes the client.
func OpenRedis(url string, o RedisOptions) (*Redis, error) {
	opt, err := goredis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("idempotency: bad Redis URL: %w", err)
	}
	if opt.DialTimeout <= 0 || opt.DialTimeout == 5*time.Second {
		opt.DialTimeout = 200 * time.Millisecond
	}
	if opt.ReadTimeout <= 0 || opt.ReadTimeout == 3*time.Second {
		opt.ReadTimeout = 500 * time.Millisecond
	}
	if opt.WriteTimeout <= 0 || opt.WriteTimeout == 3*time.Second {
		opt.WriteTimeout = 500 * time.Millisecond
	}
	opt.MaxRetries = -1
	opt.DialerRetries = 1
	opt.ContextTimeoutEnabled = true
	r := NewRedis(goredis.NewClient(opt), o)
	r.owned = true
	return r, nil
}

// Close closes the client when OpenRedis made it.
func (r *Redis) Close() error {
	if r.owned {
		return r.c.Close()
	}
	return nil
}

// redisRecord is a record as stored: T (the claim's token) while in
// flight, S, B and H once complete.
type redisRecord struct {
	F string `json:"f"`
	T string `json:"t,omitempty"`
	S int    `json:"s,omitempty"`
	B []byte `json:"b,omitempty"`
	H string `json:"h,omitempty"`
}

// beginAttempts bounds the SET NX / GET rounds of Begin: the key can vanish
// between the two (its claim released), and then Begin tries again.
const beginAttempts = 3

// Begin implements [Store].
func (r *Redis) Begin(ctx context.Context, key, fp string) (Claim, *Record, error) {
	k := r.prefix + key
	var tok [16]byte
	_, _ = rand.Read(tok[:])
	marker, err := json.Marshal(redisRecord{F: fp, T: hex.EncodeToString(tok[:])})
	if err != nil {
		return nil, nil, err
	}
	for range beginAttempts {
		ok, err := r.c.SetNX(ctx, k, marker, r.flight).Result()
		if err != nil {
			return nil, nil, fmt.Errorf("idempotency: redis claim: %w", err)
		}
		if ok {
			return r.newClaim(k, string(marker)), nil, nil
		}
		v, err := r.c.Get(ctx, k).Bytes()
		if errors.Is(err, goredis.Nil) {
			continue // released or expired in between: try again
		}
		if err != nil {
			return nil, nil, fmt.Errorf("idempotency: redis read: %w", err)
		}
		var rec redisRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			return nil, nil, fmt.Errorf("idempotency: malformed record at %q: %w", k, err)
		}
		out := &Record{Fingerprint: rec.F}
		if rec.T == "" {
			out.Outcome = &Outcome{Status: rec.S, Body: rec.B, Invalidate: rec.H}
		}
		return nil, out, nil
	}
	return nil, nil, ErrClaimLost
}

// The scripts of a claim: each acts only while the key holds the claim's
// own marker (ARGV[1]), and returns 1 when it did.
var (
	completeScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`)
	releaseScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1`)
	renewScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`)
)

type redisClaim struct {
	r      *Redis
	key    string
	marker string
	once   sync.Once
	stop   chan struct{}
	done   chan struct{}
}

// newClaim returns the claim of key and starts renewing its marker.
func (r *Redis) newClaim(key, marker string) *redisClaim {
	c := &redisClaim{r: r, key: key, marker: marker, stop: make(chan struct{}), done: make(chan struct{})}
	go c.renew()
	return c
}

// renew extends the marker every third of its lifetime until stopped.
func (c *redisClaim) renew() {
	defer close(c.done)
	t := time.NewTicker(c.r.flight / 3)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), c.r.flight/3)
			n, err := renewScript.Run(ctx, c.r.c, []string{c.key}, c.marker, c.r.flight.Milliseconds()).Int()
			cancel()
			if err == nil && n == 0 {
				return // lost: Complete will say so
			}
		}
	}
}

func (c *redisClaim) end() {
	c.once.Do(func() { close(c.stop) })
	<-c.done
}

func (c *redisClaim) Complete(ctx context.Context, out Outcome) error {
	c.end()
	v, err := json.Marshal(redisRecord{F: fpOf(c.marker), S: out.Status, B: out.Body, H: out.Invalidate})
	if err != nil {
		return err
	}
	n, err := completeScript.Run(ctx, c.r.c, []string{c.key}, c.marker, v, c.r.ttl.Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("idempotency: redis complete: %w", err)
	}
	if n == 0 {
		return ErrClaimLost
	}
	return nil
}

func (c *redisClaim) Release(ctx context.Context) error {
	c.end()
	if err := releaseScript.Run(ctx, c.r.c, []string{c.key}, c.marker).Err(); err != nil {
		return fmt.Errorf("idempotency: redis release: %w", err)
	}
	return nil
}

// fpOf returns the fingerprint of a marker.
func fpOf(marker string) string {
	var rec redisRecord
	_ = json.Unmarshal([]byte(marker), &rec)
	return rec.F
}
