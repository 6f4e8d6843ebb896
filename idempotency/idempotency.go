// Package idempotency keeps the outcomes of idempotent calls (docs/spec.md
// §12): a [Store] records, per key, the fingerprint of the first call and,
// once it has run, its outcome, for [TTL]. Package mizan claims a key before
// it runs the function and completes or releases the claim after; this
// package knows nothing of functions or HTTP.
//
// Two stores are provided: [Memory], per process, and [Redis], shared by
// every instance of an app. [Off] keeps nothing.
package idempotency

import (
	"context"
	"errors"
	"sync"
	"time"
)

// TTL is how long an outcome is kept (docs/spec.md §12: 24 hours).
const TTL = 24 * time.Hour

// Outcome is what the first run of a call answered: the HTTP status, the
// whole response body and the X-Mizan-Invalidate value ("" for none).
type Outcome struct {
	Status     int
	Body       []byte
	Invalidate string
}

// Record is what a store holds for a key: the fingerprint of the call that
// claimed it and, once that call has run, its outcome (nil while in
// flight).
type Record struct {
	Fingerprint string
	Outcome     *Outcome
}

// Claim is a key claimed by [Store.Begin] for one run. Exactly one of
// Complete and Release must be called, once.
type Claim interface {
	// Complete keeps out for the key, for TTL. It returns [ErrClaimLost]
	// when the claim no longer holds (it expired and was taken again, or
	// the store lost it), and another error when the store is unreachable.
	Complete(ctx context.Context, out Outcome) error
	// Release gives the key up without keeping anything, so that the call
	// can be retried with it.
	Release(ctx context.Context) error
}

// Store keeps the records of idempotency keys. It must be safe for
// concurrent use.
type Store interface {
	// Begin claims key for a call whose fingerprint is fp, or reports the
	// record the key already has. It returns a Claim (the caller runs the
	// call, then completes or releases it), or a Record (the key is taken:
	// in flight when its Outcome is nil), or an error: the store is
	// unreachable, or the claim could not be made ([ErrClaimLost]). The
	// caller never runs the call without a Claim.
	Begin(ctx context.Context, key, fp string) (Claim, *Record, error)
}

// ErrClaimLost reports a claim that could not be made or no longer holds.
var ErrClaimLost = errors.New("idempotency: the claim on the key was lost")

// ErrOff is what [Off] returns from Begin.
var ErrOff = errors.New("idempotency: off")

// Off is a Store that keeps nothing: package mizan then ignores
// idempotency keys (MIZAN_IDEMPOTENCY=off). Its Begin returns [ErrOff].
var Off Store = off{}

type off struct{}

func (off) Begin(context.Context, string, string) (Claim, *Record, error) { return nil, nil, ErrOff }

// Defaults of [MemoryOptions].
const (
	DefaultMaxEntries = 100_000  // outcomes kept per process
	DefaultMaxBytes   = 64 << 20 // bytes of kept bodies per process
)

// MemoryOptions configures [NewMemory]. Zero values mean the defaults.
type MemoryOptions struct {
	// TTL is how long an outcome is kept. Zero means [TTL], 24 hours.
	TTL time.Duration
	// MaxEntries and MaxBytes bound what is kept (outcomes, and the bytes
	// of their bodies and headers): beyond either, the oldest outcome is
	// dropped. Zero means [DefaultMaxEntries] and [DefaultMaxBytes].
	MaxEntries int
	MaxBytes   int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Memory is a [Store] in the memory of one process: keys are not shared
// with other instances and are lost on restart.
type Memory struct {
	mu       sync.Mutex
	m        map[string]*memEntry
	done     []doneRef // completed entries, oldest first (every TTL is the same)
	bytes    int
	seq      uint64
	ttl      time.Duration
	maxN     int
	maxBytes int
	now      func() time.Time
}

type memEntry struct {
	fp  string
	out *Outcome
	exp time.Time
	tok uint64
}

type doneRef struct {
	key string
	tok uint64
	exp time.Time
}

// NewMemory returns an empty in-memory store.
func NewMemory(o MemoryOptions) *Memory {
	if o.TTL <= 0 {
		o.TTL = TTL
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Memory{m: map[string]*memEntry{}, ttl: o.TTL, maxN: o.MaxEntries, maxBytes: o.MaxBytes, now: o.Now}
}

// Len returns the number of keys held, in flight or completed.
func (s *Memory) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// Begin implements [Store].
func (s *Memory) Begin(_ context.Context, key, fp string) (Claim, *Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.evict(now, false)
	if e, ok := s.m[key]; ok && (e.out == nil || now.Before(e.exp)) {
		return nil, &Record{Fingerprint: e.fp, Outcome: e.out}, nil
	}
	s.seq++
	s.m[key] = &memEntry{fp: fp, tok: s.seq}
	return &memClaim{s: s, key: key, tok: s.seq}, nil, nil
}

// evict drops the expired outcomes, and the oldest beyond the bounds when
// full; call with s.mu held.
func (s *Memory) evict(now time.Time, full bool) {
	for len(s.done) > 0 {
		d := s.done[0]
		over := full && (len(s.done) > s.maxN || s.bytes > s.maxBytes)
		if !over && now.Before(d.exp) {
			return
		}
		s.done = s.done[1:]
		if e, ok := s.m[d.key]; ok && e.tok == d.tok {
			s.bytes -= size(e.out)
			delete(s.m, d.key)
		}
	}
}

func size(o *Outcome) int {
	if o == nil {
		return 0
	}
	return len(o.Body) + len(o.Invalidate)
}

type memClaim struct {
	s   *Memory
	key string
	tok uint64
}

func (c *memClaim) Complete(_ context.Context, out Outcome) error {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[c.key]
	if !ok || e.tok != c.tok || e.out != nil {
		return ErrClaimLost
	}
	out.Body = append([]byte(nil), out.Body...)
	now := s.now()
	e.out, e.exp = &out, now.Add(s.ttl)
	s.done = append(s.done, doneRef{key: c.key, tok: c.tok, exp: e.exp})
	s.bytes += size(e.out)
	s.evict(now, true)
	return nil
}

func (c *memClaim) Release(context.Context) error {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.m[c.key]; ok && e.tok == c.tok && e.out == nil {
		delete(s.m, c.key)
	}
	return nil
}
