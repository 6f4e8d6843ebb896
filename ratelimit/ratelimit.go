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
// every Period.
type Limit struct {
	Rate   int
	Period time.Duration
	Burst  int
}

// Valid reports whether l limits anything: a positive rate, period and
// burst.
func (l Limit) Valid() bool { return l.Rate > 0 && l.Period > 0 && l.Burst > 0 }

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
	// key's state. n = 0 only reads the state.
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
	if !l.Valid() || n < 0 {
		return Result{}, fmt.Errorf("ratelimit: invalid limit %+v or count %d", l, n)
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

// AllowN implements [Limiter].
func (r *Redis) AllowN(ctx context.Context, key string, l Limit, n int) (Result, error) {
	if !l.Valid() || n < 0 {
		return Result{}, fmt.Errorf("ratelimit: invalid limit %+v or count %d", l, n)
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
