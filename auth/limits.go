package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/mizan-afi/mizan/ratelimit"
)

// ErrRateLimited: too many failed attempts for the username or the client
// address; the error is a [*RateLimitedError] saying when to try again.
var ErrRateLimited = errors.New("auth: too many failed attempts")

// RateLimitedError is the error of [Service.Throttle] for an attempt over
// its limits. It wraps [ErrRateLimited].
type RateLimitedError struct {
	// RetryAfter is how long until one more attempt is allowed.
	RetryAfter time.Duration
	// By says which limit refused: "user" or "address".
	By string
}

// Error says which limit refused and when to try again.
func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("%v for this %s: try again in %v", ErrRateLimited, e.By, e.RetryAfter.Round(time.Second))
}

// Unwrap returns [ErrRateLimited].
func (e *RateLimitedError) Unwrap() error { return ErrRateLimited }

// Limits are the failed sign-in attempts allowed before an endpoint
// refuses with 429 rate_limited ([Config.Limits]). Each limit is a burst,
// then a steady rate ([ratelimit.Limit]); failures count, successes do not
// (and reset nothing).
type Limits struct {
	// PerUser bounds the failures for one username, from every address
	// together: it stops a slow guessing of one account from many
	// addresses. Default: 10 at once, then 10 an hour.
	PerUser ratelimit.Limit
	// PerAddress bounds the failures from one client address, for every
	// username together: it stops one client trying many accounts.
	// Default: 30 at once, then 30 an hour.
	PerAddress ratelimit.Limit
	// Off turns limiting off (tests of other things, or a proxy that
	// limits in front of the app).
	Off bool
}

// DefaultLimits are the limits of a zero [Config.Limits].
var DefaultLimits = Limits{
	PerUser:    ratelimit.Limit{Rate: 10, Period: time.Hour, Burst: 10},
	PerAddress: ratelimit.Limit{Rate: 30, Period: time.Hour, Burst: 30},
}

// Attempt names a sign-in attempt for [Service.Throttle] and
// [Service.Succeeded].
type Attempt struct {
	// Scope is the endpoint: "token" (auth/token/), "oidc" (a provider's
	// callback), "passkey"... Each scope counts on its own.
	Scope string
	// User is the username (or another account name) tried; "" when the
	// attempt names none (a passkey sign-in, an OIDC callback).
	User string
	// Addr is the client address ([ClientAddress]).
	Addr string
}

// ClientAddress returns the address attempts from r are counted under:
// the IP of r.RemoteAddr, an IPv6 one as its /64 (one host usually has a
// whole /64, so single addresses would give it unlimited budgets), and
// "unknown" for a RemoteAddr that is no IP (a Unix socket): one bucket for
// all of those. Behind a reverse proxy, which makes every client one
// address, set r.RemoteAddr in a middleware in front of the app to the
// client address your own proxy saw: the LAST entry of X-Forwarded-For
// when one proxy of yours appends to it (the entries before it are the
// client's to write, and would give an attacker a new budget per request).
// A nil r has the address "".
func ClientAddress(r *http.Request) string {
	if r == nil {
		return ""
	}
	host := r.RemoteAddr
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return "unknown"
	}
	a = a.WithZone("").Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// limiterKeys returns the limiter keys and limits of a.
func (s *Service) limiterKeys(a Attempt) (keys []string, limits []ratelimit.Limit, by []string) {
	if a.User != "" {
		// The username is hashed: keys then have a bounded length and
		// never show a mistyped password (typed in the name field) in
		// Redis.
		h := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(a.User))))
		keys = append(keys, "mizan:auth:"+a.Scope+":user:"+hex.EncodeToString(h[:16]))
		limits = append(limits, s.limits.PerUser)
		by = append(by, "user")
	}
	if a.Addr != "" {
		keys = append(keys, "mizan:auth:"+a.Scope+":addr:"+a.Addr)
		limits = append(limits, s.limits.PerAddress)
		by = append(by, "address")
	}
	return keys, limits, by
}

// Throttle reserves an attempt: it counts one failure against the
// attempt's user and its address, and refuses with a [*RateLimitedError]
// (counting nothing) when either has none left. The reservation stands as
// a failure unless [Service.Succeeded] gives it back, so that concurrent
// attempts are counted before they are checked: a burst of parallel
// guesses gets no more checks than the limit allows. A limiter that fails
// is reported by its fallback, never a pass: with no fallback, Throttle
// returns an error wrapping [ErrUnavailable].
func (s *Service) Throttle(ctx context.Context, a Attempt) error {
	if s.limits.Off {
		return nil
	}
	keys, limits, by := s.limiterKeys(a)
	for i, k := range keys {
		res, err := s.limiter.AllowN(ctx, k, limits[i], 1)
		if err == nil && res.Allowed {
			continue
		}
		s.giveBack(ctx, keys[:i], limits[:i])
		if err != nil {
			return fmt.Errorf("%w: the sign-in limiter: %w", ErrUnavailable, err)
		}
		return &RateLimitedError{RetryAfter: max(res.RetryAfter, time.Second), By: by[i]}
	}
	return nil
}

// Succeeded gives back the attempt [Service.Throttle] reserved: the
// attempt succeeded (successes count nothing and reset nothing), or
// failed for a reason that is not the caller's (a database down).
func (s *Service) Succeeded(ctx context.Context, a Attempt) {
	if s.limits.Off {
		return
	}
	keys, limits, _ := s.limiterKeys(a)
	s.giveBack(ctx, keys, limits)
}

// giveBack gives one attempt back to each key, even when ctx is done (the
// client went away after its attempt was checked).
func (s *Service) giveBack(ctx context.Context, keys []string, limits []ratelimit.Limit) {
	if len(keys) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	for i, k := range keys {
		_, _ = s.limiter.AllowN(ctx, k, limits[i], -1)
	}
}

// DeriveKey returns a 32-byte key for purpose (such as "oidc-state"),
// derived from the JWT key: the same on every server process with the same
// key, different for each purpose, and revealing nothing of the JWT key.
func (s *Service) DeriveKey(purpose string) []byte {
	m := hmac.New(sha256.New, s.cfg.PrivateKey)
	m.Write([]byte("mizan/derived-key/" + purpose))
	return m.Sum(nil)
}
