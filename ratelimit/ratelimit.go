// Package ratelimit counts attempts per key under a limit (the generic cell
// rate algorithm: a burst, then a steady rate), shared by every server
// process through Redis ([NewRedis], over github.com/go-redis/redis_rate),
// in one process ([NewMemory]), or in Redis with the process's own counts
// while Redis fails ([Fallback]).
//
// Package auth uses it to limit sign-in failures per username and per
// client address (docs/auth.md, "Limits and lockout").
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Limit is how many attempts a key may make: Burst at once, then Rate in
// every Period (one attempt comes back every Period/Rate).
type Limit struct {
	// Rate is how many attempts come back in every Period: positive.
	Rate int
	// Period is the time in which Rate attempts come back; Period/Rate
	// must be at least a millisecond.
	Period time.Duration
	// Burst is how many attempts a key with none counted may make at
	// once: positive.
	Burst int
}

// Valid reports whether l limits anything: a positive rate and burst, and
// at least a millisecond for one attempt to come back.
func (l Limit) Valid() bool {
	return l.Rate > 0 && l.Burst > 0 && l.Period > 0 && l.Period/time.Duration(l.Rate) >= time.Millisecond
}

// interval is the time one attempt takes to come back.
func (l Limit) interval() time.Duration { return l.Period / time.Duration(l.Rate) }

// Result is the state of a key after [Limiter.AllowN].
type Result struct {
	// Allowed reports whether the n attempts were counted (a refused
	// AllowN counts nothing).
	Allowed bool
	// Remaining is how many attempts the key may still make now.
	Remaining int
	// RetryAfter is, when Remaining is 0, how long until one more attempt
	// is allowed; 0 otherwise.
	RetryAfter time.Duration
}

// Limiter counts attempts per key. Implementations are safe for
// concurrent use.
type Limiter interface {
	// AllowN counts n attempts of key under l if they fit, and reports the
	// key's state. n = 0 only reads the state; n < 0 gives back -n
	// attempts counted before (a reservation that turned out not to be a
	// failure), never more than were counted.
	AllowN(ctx context.Context, key string, l Limit, n int) (Result, error)
	// Reset forgets the attempts of key.
	Reset(ctx context.Context, key string) error
}

// Memory is an in-process [Limiter]: its counts are lost on restart and
// not shared by several processes.
type Memory struct {
	now func() time.Time

	mu    sync.Mutex
	tat   map[string]time.Time // the theoretical arrival time of each key
	calls int
}

// NewMemory returns an empty Memory limiter. now returns the current time;
// nil means time.Now.
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, tat: map[string]time.Time{}}
}

// AllowN implements [Limiter] with the algorithm and the answers of
// redis_rate's script, so that the two backends agree.
func (m *Memory) AllowN(_ context.Context, key string, l Limit, n int) (Result, error) {
	if !l.Valid() {
		return Result{}, fmt.Errorf("ratelimit: invalid limit %+v", l)
	}
	now := m.now()
	iv := l.interval()
	burstOffset := iv * time.Duration(l.Burst)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.calls++; m.calls%1024 == 0 {
		for k, t := range m.tat {
			if !t.After(now) {
				delete(m.tat, k)
			}
		}
	}
	tat := m.tat[key]
	if tat.Before(now) {
		tat = now
	}
	if n < 0 {
		if back := tat.Add(iv * time.Duration(n)); back.After(now) {
			m.tat[key] = back
		} else {
			delete(m.tat, key)
		}
		return m.state(key, l, now), nil
	}
	newTat := tat.Add(iv * time.Duration(n))
	diff := now.Sub(newTat.Add(-burstOffset))
	if diff < 0 { // refused: nothing counted
		return Result{Allowed: false, Remaining: remaining(now.Sub(tat.Add(-burstOffset)), iv), RetryAfter: retryAfter(tat, now, burstOffset, iv)}, nil
	}
	if n > 0 {
		m.tat[key] = newTat
	}
	return Result{Allowed: true, Remaining: remaining(diff, iv), RetryAfter: retryAfter(newTat, now, burstOffset, iv)}, nil
}

// state is the Result of key now (m.mu is held).
func (m *Memory) state(key string, l Limit, now time.Time) Result {
	iv := l.interval()
	burstOffset := iv * time.Duration(l.Burst)
	tat := m.tat[key]
	if tat.Before(now) {
		tat = now
	}
	return Result{Allowed: true, Remaining: remaining(now.Sub(tat.Add(-burstOffset)), iv), RetryAfter: retryAfter(tat, now, burstOffset, iv)}
}

// remaining is how many intervals fit in diff.
func remaining(diff, iv time.Duration) int {
	if diff < 0 {
		return 0
	}
	return int(diff / iv)
}

// retryAfter is how long until one attempt fits after tat: 0 when one
// fits now.
func retryAfter(tat, now time.Time, burstOffset, iv time.Duration) time.Duration {
	d := tat.Sub(now) - (burstOffset - iv)
	if d < 0 {
		return 0
	}
	return d
}

// Reset implements [Limiter].
func (m *Memory) Reset(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.tat, key)
	return nil
}

// Redis is a [Limiter] whose counts live in Redis, shared by every server
// process using it (keys "rate:<prefix><key>", expiring when their
// attempts have come back).
type Redis struct {
	l      *redis_rate.Limiter
	rdb    redis.UniversalClient
	prefix string
}

// NewRedis returns a Limiter over rdb (a client, a Cluster client...);
// prefix is put before every key.
func NewRedis(rdb redis.UniversalClient, prefix string) *Redis {
	return &Redis{l: redis_rate.NewLimiter(rdb), rdb: rdb, prefix: prefix}
}

// giveBack gives back ARGV[1] seconds of a redis_rate key's theoretical
// arrival time (stored as seconds since 2017-01-01, as redis_rate's own
// script does), deleting the key when nothing is left counted.
var giveBack = redis.NewScript(`
redis.replicate_commands()
local tat = redis.call('GET', KEYS[1])
if not tat then return 0 end
local now = redis.call('TIME')
now = (now[1] - 1483228800) + (now[2] / 1000000)
local back = tonumber(tat) - tonumber(ARGV[1])
if back <= now then
  redis.call('DEL', KEYS[1])
  return 1
end
redis.call('SET', KEYS[1], back, 'EX', math.ceil(back - now))
return 1
`)

// redisRatePrefix is the prefix redis_rate puts before every key.
const redisRatePrefix = "rate:"

// AllowN implements [Limiter].
func (r *Redis) AllowN(ctx context.Context, key string, l Limit, n int) (Result, error) {
	if !l.Valid() {
		return Result{}, fmt.Errorf("ratelimit: invalid limit %+v", l)
	}
	if n < 0 {
		// redis_rate has no way to give attempts back (its script leaves
		// a key whose time would fall into the past as it is): a script
		// of ours on the same key does.
		secs := (l.interval() * time.Duration(-n)).Seconds()
		if err := giveBack.Run(ctx, r.rdb, []string{redisRatePrefix + r.prefix + key}, secs).Err(); err != nil {
			return Result{}, fmt.Errorf("ratelimit: redis: %w", err)
		}
		n = 0
	}
	res, err := r.l.AllowN(ctx, r.prefix+key, redis_rate.Limit{Rate: l.Rate, Burst: l.Burst, Period: l.Period}, n)
	if err != nil {
		return Result{}, fmt.Errorf("ratelimit: redis: %w", err)
	}
	out := Result{Allowed: res.Allowed > 0 || n == 0 && res.Remaining >= 0, Remaining: max(res.Remaining, 0)}
	if out.Remaining == 0 {
		// redis_rate answers how long until the whole burst is back
		// (ResetAfter); one attempt is back Burst-1 intervals earlier.
		out.RetryAfter = max(res.ResetAfter-l.interval()*time.Duration(l.Burst-1), 0)
		if !out.Allowed && res.RetryAfter > 0 {
			out.RetryAfter = res.RetryAfter
		}
	}
	return out, nil
}

// Reset implements [Limiter].
func (r *Redis) Reset(ctx context.Context, key string) error {
	if err := r.l.Reset(ctx, r.prefix+key); err != nil {
		return fmt.Errorf("ratelimit: redis: %w", err)
	}
	return nil
}

// fallback is the Limiter of [Fallback].
type fallback struct {
	primary, local Limiter
	onErr          func(error)
}

// Fallback returns a Limiter that counts with primary (a [Redis] one) and,
// for each operation primary fails, with local (a [Memory] one) instead,
// after calling onErr (nil: nothing) with primary's error. While Redis is
// down every process limits on its own: attempts are still limited, per
// process rather than in all.
func Fallback(primary, local Limiter, onErr func(error)) Limiter {
	return &fallback{primary: primary, local: local, onErr: onErr}
}

func (f *fallback) AllowN(ctx context.Context, key string, l Limit, n int) (Result, error) {
	res, err := f.primary.AllowN(ctx, key, l, n)
	if err == nil {
		return res, nil
	}
	if f.onErr != nil {
		f.onErr(err)
	}
	res, lerr := f.local.AllowN(ctx, key, l, n)
	if lerr != nil {
		return Result{}, errors.Join(err, lerr)
	}
	return res, nil
}

func (f *fallback) Reset(ctx context.Context, key string) error {
	err := f.primary.Reset(ctx, key)
	if lerr := f.local.Reset(ctx, key); lerr != nil {
		return errors.Join(err, lerr)
	}
	if err != nil && f.onErr != nil {
		f.onErr(err)
	}
	return nil
}
