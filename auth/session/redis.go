package session

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// DefaultRedisPrefix is put before the id of every session key in Redis.
const DefaultRedisPrefix = "mizan:session:"

// Redis is a [Store] over Redis: one hash per session,
// <prefix><id> → {u, st, su, r, e}, expiring with the session (PEXPIREAT),
// and one set per user, <prefix>user:<user id> → the ids of the user's
// sessions, expiring with the last of them (for [Redis.DeleteUser]).
// It works on a single node, a Sentinel primary and a Cluster (every
// command names one key). It is safe for concurrent use.
type Redis struct {
	c      goredis.UniversalClient
	prefix string
	owned  bool
}

var _ Store = (*Redis)(nil)

// NewRedis returns a store over a client the caller built and keeps (Close
// does not close it). An empty prefix means [DefaultRedisPrefix].
func NewRedis(c goredis.UniversalClient, prefix string) *Redis {
	if prefix == "" {
		prefix = DefaultRedisPrefix
	}
	return &Redis{c: c, prefix: prefix}
}

// OpenRedis returns a store over the Redis server at url
// (redis://[[user]:password@]host[:port][/db], rediss:// for TLS). It does
// not contact the server. Close closes the client it opens.
func OpenRedis(url string) (*Redis, error) {
	opt, err := goredis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("session: bad Redis URL: %w", err)
	}
	// A session check runs on every authenticated request: fail fast
	// rather than hold callers while Redis is unreachable.
	if opt.DialTimeout == 0 {
		opt.DialTimeout = time.Second
	}
	if opt.ReadTimeout == 0 {
		opt.ReadTimeout = 500 * time.Millisecond
	}
	if opt.WriteTimeout == 0 {
		opt.WriteTimeout = 500 * time.Millisecond
	}
	if opt.PoolTimeout == 0 {
		opt.PoolTimeout = opt.ReadTimeout
	}
	// One dial attempt and no command retries (go-redis reads MaxRetries -1
	// as none, 0 as three): its defaults would hold each request seconds
	// while Redis is away. As cache/redis does.
	if opt.DialerRetries <= 0 {
		opt.DialerRetries = 1
	}
	if opt.MaxRetries == 0 {
		opt.MaxRetries = -1
	}
	opt.ContextTimeoutEnabled = true
	r := NewRedis(goredis.NewClient(opt), "")
	r.owned = true
	return r, nil
}

// Client returns the store's Redis client (to share its connection pool,
// as ConfigFromEnv does with the sign-in limiter).
func (r *Redis) Client() goredis.UniversalClient { return r.c }

// Close closes the client when the store opened it ([OpenRedis]).
func (r *Redis) Close() error {
	if !r.owned {
		return nil
	}
	if err := r.c.Close(); err != nil {
		return fmt.Errorf("session: closing Redis: %w", err)
	}
	return nil
}

// Create implements [Store]: DEL, HSET and PEXPIREAT in one transaction.
func (r *Redis) Create(ctx context.Context, s Session) error {
	if s.ID == "" {
		return errors.New("session: creating a session without an id")
	}
	key := r.prefix + s.ID
	_, err := r.c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.Del(ctx, key)
		p.HSet(ctx, key,
			"u", s.UserID, "st", boolField(s.Staff), "su", boolField(s.Superuser),
			"r", s.Refresh, "e", strconv.FormatInt(s.Expires.UnixMilli(), 10))
		p.PExpireAt(ctx, key, s.Expires)
		return nil
	})
	if err == nil {
		// The user's index is another key (another Cluster slot), so
		// outside the transaction.
		err = r.index(ctx, s.UserID, s.ID, s.Expires)
	}
	if err != nil {
		return fmt.Errorf("session: redis create: %w", err)
	}
	return nil
}

func boolField(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// Get implements [Store].
func (r *Redis) Get(ctx context.Context, id string) (Session, error) {
	m, err := r.c.HGetAll(ctx, r.prefix+id).Result()
	if err != nil {
		return Session{}, fmt.Errorf("session: redis get: %w", err)
	}
	if len(m) == 0 {
		return Session{}, ErrNotFound
	}
	ms, err := strconv.ParseInt(m["e"], 10, 64)
	if err != nil || m["u"] == "" {
		return Session{}, fmt.Errorf("session: redis get: malformed session hash %q", r.prefix+id)
	}
	return Session{
		ID: id, UserID: m["u"], Staff: m["st"] == "1", Superuser: m["su"] == "1",
		Refresh: m["r"], Expires: time.UnixMilli(ms),
	}, nil
}

// rotateScript compares and swaps the refresh id: 0 when the session is
// missing, 1 after deleting it on a mismatch, {2, user id} after the swap.
var rotateScript = goredis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'r')
if not cur then return 0 end
if cur == '' or cur ~= ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
redis.call('HSET', KEYS[1], 'r', ARGV[2], 'e', ARGV[3])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return {2, redis.call('HGET', KEYS[1], 'u')}
`)

// Rotate implements [Store] with a Lua script, atomic on the server; the
// user's index then lives as long as the session (a session refreshed
// past its first expiry is still found by DeleteUser).
func (r *Redis) Rotate(ctx context.Context, id, old, new string, expires time.Time) error {
	v, err := rotateScript.Run(ctx, r.c, []string{r.prefix + id}, old, new, strconv.FormatInt(expires.UnixMilli(), 10)).Result()
	if err != nil {
		return fmt.Errorf("session: redis rotate: %w", err)
	}
	switch v := v.(type) {
	case int64:
		if v == 1 {
			return ErrReused
		}
		return ErrNotFound
	case []any:
		if len(v) == 2 {
			if user, ok := v[1].(string); ok && user != "" {
				if err := r.index(ctx, user, "", expires); err != nil {
					return fmt.Errorf("session: redis rotate: %w", err)
				}
			}
		}
		return nil
	}
	return fmt.Errorf("session: redis rotate: unexpected answer %v", v)
}

// indexScript adds ARGV[1] (unless "") to the set KEYS[1] and makes the
// set live at least until ARGV[2] (Unix milliseconds): its expiry only
// grows. PTTL and TIME rather than PEXPIREAT's GT, which Redis before 7.0
// does not have.
var indexScript = goredis.NewScript(`
redis.replicate_commands()
if ARGV[1] ~= '' then redis.call('SADD', KEYS[1], ARGV[1]) end
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local want = tonumber(ARGV[2])
local ttl = redis.call('PTTL', KEYS[1])
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
if ttl < 0 or now + ttl < want then redis.call('PEXPIREAT', KEYS[1], want) end
return 1
`)

// index records session id (unless "") in userID's set and makes the set
// outlive expires.
func (r *Redis) index(ctx context.Context, userID, id string, expires time.Time) error {
	if err := indexScript.Run(ctx, r.c, []string{r.userKey(userID)}, id, expires.UnixMilli()).Err(); err != nil {
		return fmt.Errorf("indexing the session by user: %w", err)
	}
	return nil
}

// userKey is the key of the set of userID's session ids.
func (r *Redis) userKey(userID string) string { return r.prefix + "user:" + userID }

// DeleteUser implements [Store]: it reads the user's set and deletes each
// session and the set. A session id can never be "user:...": ids are
// base64url ([NewID]).
func (r *Redis) DeleteUser(ctx context.Context, userID string) error {
	uk := r.userKey(userID)
	ids, err := r.c.SMembers(ctx, uk).Result()
	if err != nil {
		return fmt.Errorf("session: redis delete user: %w", err)
	}
	if len(ids) == 0 {
		return nil
	}
	_, err = r.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, id := range ids {
			p.Del(ctx, r.prefix+id)
		}
		p.SRem(ctx, uk, toAny(ids)...)
		return nil
	})
	if err != nil {
		return fmt.Errorf("session: redis delete user: %w", err)
	}
	return nil
}

func toAny(ids []string) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

// Delete implements [Store]: the session, and its id in its user's set.
func (r *Redis) Delete(ctx context.Context, id string) error {
	user, err := r.c.HGet(ctx, r.prefix+id, "u").Result()
	if err != nil && !errors.Is(err, goredis.Nil) {
		return fmt.Errorf("session: redis delete: %w", err)
	}
	if err := r.c.Del(ctx, r.prefix+id).Err(); err != nil {
		return fmt.Errorf("session: redis delete: %w", err)
	}
	if user != "" {
		if err := r.c.SRem(ctx, r.userKey(user), id).Err(); err != nil {
			return fmt.Errorf("session: redis delete: %w", err)
		}
	}
	return nil
}
