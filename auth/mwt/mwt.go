// Package mwt issues and verifies MWTs (Mizan Web Tokens): short-lived
// identity tokens that a Mizan server hands to a signed-in caller
// (GET auth/mwt/) and that the caller sends on the X-Mizan-Token header, so
// that an edge in front of the server can key user-scoped cache entries by
// the caller without holding the JWT key or the cache secret.
//
// An MWT is a compact JWS signed with HMAC-SHA256 under MIZAN_MWT_SECRET, a
// secret of its own (at least 32 bytes, distinct from the JWT key and the
// cache secret). Its header is {"alg":"HS256","typ":"MWT"} and its claims
//
//	{"sub": "<user id>", "staff": false, "super": false, "type": "mwt", "iat": 1700000000, "exp": 1700000300}
//
// A [Verifier] accepts only HS256 tokens under its secret whose type is
// "mwt" and whose exp has not passed (with the configured leeway).
//
// The package depends on no other package of this module, so an edge proxy
// can import it without the server.
package mwt

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Header is the request header that carries an MWT.
const Header = "X-Mizan-Token"

// DefaultTTL is the lifetime of an MWT when [Options.TTL] is zero
// (MIZAN_MWT_TTL, 300 seconds).
const DefaultTTL = 5 * time.Minute

// MinSecretLen is the shortest MWT secret accepted, in bytes.
const MinSecretLen = 32

// tokenType is the "type" claim of every MWT: it tells an MWT apart from the
// access and refresh tokens of package auth, which carry the same claim.
const tokenType = "mwt"

// Errors of this package. Verify wraps ErrInvalid or ErrExpired; test them
// with [errors.Is].
var (
	// ErrShortSecret is returned for a secret shorter than [MinSecretLen].
	ErrShortSecret = fmt.Errorf("mwt: secret must be at least %d bytes", MinSecretLen)
	// ErrInvalid is returned for a token that is malformed, not signed by
	// the secret with HS256, or not an MWT.
	ErrInvalid = errors.New("mwt: invalid token")
	// ErrExpired is returned for a well-signed token whose exp has passed.
	ErrExpired = errors.New("mwt: token expired")
	// ErrNoToken is returned by [Verifier.FromRequest] when the request
	// carries no X-Mizan-Token header.
	ErrNoToken = errors.New("mwt: no " + Header + " header")
)

// Claims is what an MWT says about its holder.
type Claims struct {
	// UserID identifies the user (the "sub" claim), as the server's
	// Identity.ID does: the "u" of user-scoped cache keys.
	UserID string
	// Staff and Superuser are the user's rights when the token was issued.
	Staff, Superuser bool
	// IssuedAt and ExpiresAt are the "iat" and "exp" claims, to the second.
	IssuedAt, ExpiresAt time.Time
}

// Options configures an [Issuer] or a [Verifier].
type Options struct {
	// Secret signs and verifies tokens (MIZAN_MWT_SECRET); at least
	// [MinSecretLen] bytes.
	Secret []byte
	// TTL is the lifetime of issued tokens. Zero means [DefaultTTL]. A
	// Verifier ignores it.
	TTL time.Duration
	// Leeway is the clock skew a Verifier tolerates on exp and iat. Zero
	// means none. An Issuer ignores it.
	Leeway time.Duration
	// Now returns the current time. Nil means time.Now. For tests.
	Now func() time.Time
}

// check validates the options shared by both types.
func (o *Options) check() error {
	if len(o.Secret) < MinSecretLen {
		return fmt.Errorf("%w (got %d)", ErrShortSecret, len(o.Secret))
	}
	if o.TTL < 0 || o.Leeway < 0 {
		return errors.New("mwt: TTL and Leeway must not be negative")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// wireClaims is the JSON form of the claims.
type wireClaims struct {
	Staff bool   `json:"staff"`
	Super bool   `json:"super"`
	Type  string `json:"type"`
	jwt.RegisteredClaims
}

// Issuer signs MWTs. It is safe for concurrent use.
type Issuer struct {
	secret []byte
	ttl    time.Duration
	now    func() time.Time
}

// NewIssuer returns an Issuer configured by o.
func NewIssuer(o Options) (*Issuer, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	if o.TTL == 0 {
		o.TTL = DefaultTTL
	}
	return &Issuer{secret: append([]byte(nil), o.Secret...), ttl: o.TTL, now: o.Now}, nil
}

// Issue returns a token for the user, valid for the Issuer's TTL from now,
// and the claims it carries.
func (i *Issuer) Issue(userID string, staff, superuser bool) (string, Claims, error) {
	if userID == "" {
		return "", Claims{}, errors.New("mwt: issuing a token for an empty user id")
	}
	now := i.now().Truncate(time.Second)
	c := Claims{UserID: userID, Staff: staff, Superuser: superuser, IssuedAt: now, ExpiresAt: now.Add(i.ttl)}
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, wireClaims{
		Staff: staff, Super: superuser, Type: tokenType,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   userID,
			IssuedAt:  jwt.NewNumericDate(c.IssuedAt),
			ExpiresAt: jwt.NewNumericDate(c.ExpiresAt),
		},
	})
	t.Header["typ"] = "MWT"
	s, err := t.SignedString(i.secret)
	if err != nil {
		return "", Claims{}, fmt.Errorf("mwt: signing: %w", err)
	}
	return s, c, nil
}

// Verifier checks MWTs. It is safe for concurrent use.
type Verifier struct {
	secret []byte
	parser *jwt.Parser
}

// NewVerifier returns a Verifier configured by o (o.TTL is not used).
func NewVerifier(o Options) (*Verifier, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(o.Leeway),
		jwt.WithTimeFunc(o.Now),
		jwt.WithStrictDecoding(),
	)
	return &Verifier{secret: append([]byte(nil), o.Secret...), parser: p}, nil
}

// Verify checks token and returns its claims. The error wraps [ErrExpired]
// for a token past its exp and [ErrInvalid] for any other refusal.
func (v *Verifier) Verify(token string) (Claims, error) {
	var wc wireClaims
	_, err := v.parser.ParseWithClaims(token, &wc, func(t *jwt.Token) (any, error) {
		if t.Method != jwt.SigningMethodHS256 {
			return nil, fmt.Errorf("unexpected signing method %v", t.Header["alg"])
		}
		return v.secret, nil
	})
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrTokenExpired) && !errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return Claims{}, fmt.Errorf("%w: %v", ErrExpired, err)
	default:
		return Claims{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if subtle.ConstantTimeCompare([]byte(wc.Type), []byte(tokenType)) != 1 {
		return Claims{}, fmt.Errorf("%w: type %q is not %q", ErrInvalid, wc.Type, tokenType)
	}
	if wc.Subject == "" || wc.IssuedAt == nil {
		return Claims{}, fmt.Errorf("%w: no sub or iat claim", ErrInvalid)
	}
	return Claims{
		UserID: wc.Subject, Staff: wc.Staff, Superuser: wc.Super,
		IssuedAt: wc.IssuedAt.Time, ExpiresAt: wc.ExpiresAt.Time,
	}, nil
}

// FromRequest verifies the MWT in r's X-Mizan-Token header. It returns an
// error wrapping [ErrNoToken] when the header is absent or empty.
func (v *Verifier) FromRequest(r *http.Request) (Claims, error) {
	tok := r.Header.Get(Header)
	if tok == "" {
		return Claims{}, ErrNoToken
	}
	return v.Verify(tok)
}

// Verify is a shortcut: it verifies token under secret, without leeway,
// at the current time.
func Verify(secret []byte, token string) (Claims, error) {
	v, err := NewVerifier(Options{Secret: secret})
	if err != nil {
		return Claims{}, err
	}
	return v.Verify(token)
}
