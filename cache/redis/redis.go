package redis

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/mizan-afi/mizan/cache"
)

// Defaults of [Options], used where a field is zero.
const (
	DefaultPrefix       = "mizan:"               // put before every key
	DefaultTTL          = 24 * time.Hour         // of a Set with ttl 0
	DefaultPoolSize     = 50                     // connections per node
	DefaultDialTimeout  = 200 * time.Millisecond // to open a connection
	DefaultReadTimeout  = 100 * time.Millisecond // to wait for a reply
	DefaultWriteTimeout = 100 * time.Millisecond // to write a command
)

// scanCount is the COUNT hint of each SCAN of a broad purge: the keys
// examined, and at most deleted, per round trip.
const scanCount = 1000

// Options configures a [Backend] built by [New]. Zero values mean the
// documented defaults.
//
// The server is named either by URL (one node) or by Addrs, which takes
// precedence: with MasterName, Addrs are Sentinels; with more than one
// address, or with ClusterMode, Addrs are seeds of a Cluster; otherwise the
// one address is a single node.
type Options struct {
	// URL names a single node: redis://[[user]:password@]host[:port][/db],
	// rediss://... for TLS, or unix:///path/to/socket. Query parameters
	// that go-redis understands (?read_timeout=...) are honoured where the
	// field below is zero. Ignored when Addrs is set.
	URL string

	// Addrs are host:port addresses: Sentinels when MasterName is set,
	// cluster seeds when there are several or ClusterMode is set, else a
	// single node. They take precedence over URL.
	Addrs []string
	// MasterName is the name of the primary that the Sentinels at Addrs
	// monitor.
	MasterName string
	// ClusterMode makes a single address in Addrs a cluster seed (a cluster
	// configuration endpoint) rather than a node.
	ClusterMode bool
	// Username and Password authenticate to the Redis servers named by
	// Addrs (a URL carries its own).
	Username, Password string
	// SentinelUsername and SentinelPassword authenticate to the Sentinels,
	// when these require it.
	SentinelUsername, SentinelPassword string
	// DB is the database selected on a single node or Sentinel primary
	// named by Addrs (a Cluster has only database 0).
	DB int
	// TLSConfig enables TLS to the servers named by Addrs (a URL enables it
	// with rediss://).
	TLSConfig *tls.Config

	// Prefix is put before every key. Zero means [DefaultPrefix], "mizan:".
	Prefix string
	// DefaultTTL is the lifetime of an entry stored with a zero TTL, a safety
	// net since mutations purge. Zero means [DefaultTTL], 24 hours.
	DefaultTTL time.Duration
	// PoolSize is the number of connections kept per node. Zero means
	// [DefaultPoolSize], 50.
	PoolSize int
	// DialTimeout bounds opening a connection. Zero means 200ms.
	DialTimeout time.Duration
	// ReadTimeout bounds waiting for a reply. Zero means 100ms.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing a command. Zero means 100ms.
	WriteTimeout time.Duration
	// PoolTimeout bounds waiting for a free connection when all PoolSize
	// are busy. Zero means ReadTimeout.
	PoolTimeout time.Duration
	// MaxRetries is how many times a command that failed on the network is
	// retried. Zero means none: the cache serves without Redis rather than
	// wait for it.
	MaxRetries int
}

// Backend is a [cache.Backend] over Redis. It is safe for concurrent use.
type Backend struct {
	c          goredis.UniversalClient
	prefix     string
	defaultTTL time.Duration
	owned      bool        // c was built by New and is closed by Close
	noGT       atomic.Bool // the server lacks PEXPIRE ... GT: Set extends by script
}

var _ cache.Backend = (*Backend)(nil)

// New returns a Backend connected as o describes. It does not contact
// Redis: a server that is down at start-up is reported by the first
// operation, and the cache serves without it until it answers.
func New(o Options) (*Backend, error) {
	var c goredis.UniversalClient
	switch {
	case len(o.Addrs) > 0:
		c = goredis.NewUniversalClient(o.universal())
	case o.URL != "":
		opt, err := goredis.ParseURL(o.URL)
		if err != nil {
			return nil, fmt.Errorf("cache/redis: bad URL: %w", err)
		}
		o.apply(opt)
		c = goredis.NewClient(opt)
	default:
		return nil, errors.New("cache/redis: no URL and no Addrs")
	}
	b := NewFromClient(c, o.Prefix, o.DefaultTTL)
	b.owned = true
	return b, nil
}

// universal maps o to go-redis's options for the Addrs form.
func (o *Options) universal() *goredis.UniversalOptions {
	u := &goredis.UniversalOptions{
		Addrs:            o.Addrs,
		MasterName:       o.MasterName,
		IsClusterMode:    o.ClusterMode,
		Username:         o.Username,
		Password:         o.Password,
		SentinelUsername: o.SentinelUsername,
		SentinelPassword: o.SentinelPassword,
		DB:               o.DB,
		TLSConfig:        o.TLSConfig,
	}
	var s goredis.Options
	o.apply(&s)
	u.PoolSize, u.PoolTimeout = s.PoolSize, s.PoolTimeout
	u.DialTimeout, u.DialerRetries = s.DialTimeout, s.DialerRetries
	u.ReadTimeout, u.WriteTimeout = s.ReadTimeout, s.WriteTimeout
	u.MaxRetries = s.MaxRetries
	u.ContextTimeoutEnabled = s.ContextTimeoutEnabled
	return u
}

// apply sets the pool, timeout and retry options of opt: a field of o when
// set, else what opt already holds (from a URL), else the default.
func (o *Options) apply(opt *goredis.Options) {
	pick := func(field, parsed, def time.Duration) time.Duration {
		switch {
		case field > 0:
			return field
		case parsed > 0:
			return parsed
		}
		return def
	}
	switch {
	case o.PoolSize > 0:
		opt.PoolSize = o.PoolSize
	case opt.PoolSize <= 0:
		opt.PoolSize = DefaultPoolSize
	}
	opt.DialTimeout = pick(o.DialTimeout, opt.DialTimeout, DefaultDialTimeout)
	opt.ReadTimeout = pick(o.ReadTimeout, opt.ReadTimeout, DefaultReadTimeout)
	opt.WriteTimeout = pick(o.WriteTimeout, opt.WriteTimeout, DefaultWriteTimeout)
	opt.PoolTimeout = pick(o.PoolTimeout, opt.PoolTimeout, opt.ReadTimeout)
	// One dial attempt per connection: go-redis's default of five, 100ms
	// apart, would hold a caller half a second on a refused connection.
	if opt.DialerRetries <= 0 {
		opt.DialerRetries = 1
	}
	// go-redis reads MaxRetries 0 as "3" and -1 as "none".
	switch {
	case o.MaxRetries > 0:
		opt.MaxRetries = o.MaxRetries
	case opt.MaxRetries <= 0:
		opt.MaxRetries = -1
	}
	// Let a caller's deadline cut a command short, not only ReadTimeout.
	opt.ContextTimeoutEnabled = true
}

// NewFromClient returns a Backend over a client the caller built (any of
// go-redis's clients: *goredis.Client, a Sentinel failover client,
// *goredis.ClusterClient or *goredis.Ring). The caller keeps ownership:
// [Backend.Close] does not close c. An empty prefix means [DefaultPrefix]
// and a zero defaultTTL means [DefaultTTL].
//
// The client's own timeouts and retries apply; see the package
// documentation for the ones [New] chooses, and why.
func NewFromClient(c goredis.UniversalClient, prefix string, defaultTTL time.Duration) *Backend {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if defaultTTL <= 0 {
		defaultTTL = DefaultTTL
	}
	return &Backend{c: c, prefix: prefix, defaultTTL: defaultTTL}
}

// Client returns the underlying go-redis client.
func (b *Backend) Client() goredis.UniversalClient { return b.c }

// Prefix returns the prefix put before every key.
func (b *Backend) Prefix() string { return b.prefix }

// DefaultTTL returns the lifetime of an entry stored with a zero TTL.
func (b *Backend) DefaultTTL() time.Duration { return b.defaultTTL }

// sharded reports whether keys spread over several servers, so that a
// command must name keys of one hash slot (Cluster) or one shard (Ring).
func (b *Backend) sharded() bool {
	switch b.c.(type) {
	case *goredis.ClusterClient, *goredis.Ring:
		return true
	}
	return false
}

// GetMulti implements [cache.Backend]. It pipelines one GET per key, which
// go-redis splits by node on a Cluster (an MGET would fail across slots).
func (b *Backend) GetMulti(ctx context.Context, keys ...string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	cmds := make([]*goredis.StringCmd, len(keys))
	_, err := b.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.Get(ctx, b.prefix+k)
		}
		return nil
	})
	// Pipelined reports the first command's error, goredis.Nil included:
	// judge each command on its own.
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("cache/redis: get: %w", err)
	}
	for i, cmd := range cmds {
		v, err := cmd.Bytes()
		switch {
		case err == nil:
			if v == nil {
				v = []byte{} // present but empty is not absent
			}
			out[i] = v
		case errors.Is(err, goredis.Nil):
		default:
			return nil, fmt.Errorf("cache/redis: get: %w", err)
		}
	}
	return out, nil
}

// Set implements [cache.Backend]: SET with PX (or EX for whole seconds).
// A ttl of zero or less means the backend's default TTL; a ttl under a
// millisecond, Redis's resolution, is one millisecond. The keys of extend
// get a PEXPIRE ... GT each, pipelined after the SET (one round trip,
// which go-redis splits by node on a Cluster); on a server older than
// Redis 7.0, which lacks GT, the backend switches for good to a Lua script
// that does the same (PTTL, then PEXPIRE when shorter).
func (b *Backend) Set(ctx context.Context, key string, value []byte, ttl time.Duration, extend ...string) error {
	if ttl <= 0 {
		ttl = b.defaultTTL
	}
	ttl = max(ttl, time.Millisecond)
	if len(extend) == 0 {
		if err := b.c.Set(ctx, b.prefix+key, value, ttl).Err(); err != nil {
			return fmt.Errorf("cache/redis: set: %w", err)
		}
		return nil
	}
	ms := ttl.Milliseconds()
	noGT := b.noGT.Load()
	var set *goredis.StatusCmd
	exts := make([]goredis.Cmder, len(extend))
	_, err := b.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		set = p.Set(ctx, b.prefix+key, value, ttl)
		for i, k := range extend {
			exts[i] = b.extendCmd(ctx, p, b.prefix+k, ms, noGT)
		}
		return nil
	})
	if err := set.Err(); err != nil {
		return fmt.Errorf("cache/redis: set: %w", err)
	}
	if err == nil {
		return nil
	}
	if noGT || !lacksGT(exts) {
		return fmt.Errorf("cache/redis: set: extend: %w", err)
	}
	// The server refused GT: extend with the script from now on.
	b.noGT.Store(true)
	_, err = b.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, k := range extend {
			b.extendCmd(ctx, p, b.prefix+k, ms, true)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("cache/redis: set: extend: %w", err)
	}
	return nil
}

// extendScript gives KEYS[1], when it exists with an expiry shorter than
// ARGV[1] milliseconds, that expiry: PEXPIRE ... GT for servers without GT.
var extendScript = goredis.NewScript(`local t = redis.call('PTTL', KEYS[1])
if t >= 0 and t < tonumber(ARGV[1]) then
	return redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return 0`)

// extendCmd queues on p the extension of key (in full) to ms milliseconds.
func (b *Backend) extendCmd(ctx context.Context, p goredis.Pipeliner, key string, ms int64, noGT bool) goredis.Cmder {
	if noGT {
		return extendScript.Eval(ctx, p, []string{key}, ms)
	}
	return p.Do(ctx, "pexpire", key, ms, "gt")
}

// lacksGT reports whether one of cmds failed because the server does not
// know PEXPIRE's GT option (Redis before 7.0: "ERR wrong number of
// arguments for 'pexpire' command"; look-alike servers: a syntax or
// unsupported-option error).
func lacksGT(cmds []goredis.Cmder) bool {
	for _, c := range cmds {
		err := c.Err()
		var rerr goredis.Error
		if err == nil || !errors.As(err, &rerr) {
			continue
		}
		msg := strings.ToLower(err.Error())
		for _, s := range []string{"wrong number of arguments", "syntax error", "unsupported option", "unknown option", "invalid option"} {
			if strings.Contains(msg, s) {
				return true
			}
		}
	}
	return false
}

// SetPermanent implements [cache.Backend]: SET without expiry, which also
// removes an expiry the key had.
func (b *Backend) SetPermanent(ctx context.Context, key string, value []byte) error {
	if err := b.c.Set(ctx, b.prefix+key, value, 0).Err(); err != nil {
		return fmt.Errorf("cache/redis: set: %w", err)
	}
	return nil
}

// SetNX implements [cache.Backend]: SET NX with PX (or EX for whole
// seconds) when ttl is positive, else without expiry. A ttl under a
// millisecond is one millisecond.
func (b *Backend) SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if ttl > 0 {
		ttl = max(ttl, time.Millisecond)
	} else {
		ttl = 0 // go-redis: no expiry
	}
	ok, err := b.c.SetNX(ctx, b.prefix+key, value, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("cache/redis: set nx: %w", err)
	}
	return ok, nil
}

// Delete implements [cache.Backend] with UNLINK, which frees memory off
// Redis's main thread.
func (b *Backend) Delete(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	full := make([]string, len(keys))
	for i, k := range keys {
		full[i] = b.prefix + k
	}
	if err := b.unlink(ctx, full); err != nil {
		return fmt.Errorf("cache/redis: delete: %w", err)
	}
	return nil
}

// unlink removes keys given in full (prefixed): one UNLINK on a single
// server, a pipeline of single-key UNLINKs where keys may live on different
// slots or shards.
func (b *Backend) unlink(ctx context.Context, keys []string) error {
	if !b.sharded() {
		return b.c.Unlink(ctx, keys...).Err()
	}
	_, err := b.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, k := range keys {
			p.Unlink(ctx, k)
		}
		return nil
	})
	return err
}

// DeletePrefix implements [cache.Backend]: SCAN MATCH prefix* COUNT 1000,
// each batch unlinked as it arrives, on every master of a Cluster (every
// shard of a Ring). The prefix is matched literally, glob characters
// included. Keys written while the scan runs may survive it. It stops with
// ctx's error between batches when ctx is done.
func (b *Backend) DeletePrefix(ctx context.Context, prefix string) error {
	match := escapeGlob(b.prefix+prefix) + "*"
	scan := func(ctx context.Context, node *goredis.Client) error {
		return b.scanUnlink(ctx, node, match)
	}
	var err error
	switch c := b.c.(type) {
	case *goredis.ClusterClient:
		err = c.ForEachMaster(ctx, scan)
	case *goredis.Ring:
		err = c.ForEachShard(ctx, scan)
	default:
		err = b.scanUnlink(ctx, b.c, match)
	}
	if err != nil {
		return fmt.Errorf("cache/redis: delete prefix %q: %w", prefix, err)
	}
	return nil
}

// scanUnlink scans one server for keys matching match and unlinks them,
// through b.c so that each key reaches the node that holds its slot.
func (b *Backend) scanUnlink(ctx context.Context, server goredis.Cmdable, match string) error {
	var cursor uint64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		keys, next, err := server.Scan(ctx, cursor, match, scanCount).Result()
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			if err := b.unlink(ctx, keys); err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// escapeGlob escapes the characters special in a Redis glob pattern, so
// that s matches itself only.
func escapeGlob(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var sb strings.Builder
	sb.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '*', '?', '[', ']', '\\':
			sb.WriteByte('\\')
			sb.WriteByte(c)
		default:
			sb.WriteByte(c)
		}
	}
	return sb.String()
}

// Ping implements [cache.Backend].
func (b *Backend) Ping(ctx context.Context) error {
	if err := b.c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("cache/redis: ping: %w", err)
	}
	return nil
}

// Close implements [cache.Backend]. It closes the client when [New] built
// it, and leaves a client given to [NewFromClient] to its owner.
func (b *Backend) Close() error {
	if !b.owned {
		return nil
	}
	if err := b.c.Close(); err != nil {
		return fmt.Errorf("cache/redis: close: %w", err)
	}
	return nil
}
