// Package auth signs users in with JWTs and sessions, and issues MWTs.
//
// # Tokens
//
// A sign-in ([Service.Login] with a username and password checked by the
// application, or [Service.Issue] for a user the application has already
// identified) creates a session in a [session.Store] and returns a pair of
// JWTs: a short-lived access token (5 minutes by default) and a refresh
// token (7 days). Both carry the claims
//
//	sub    the user id
//	sid    the session id
//	staff  the user is staff
//	super  the user is a superuser
//	type   "access" or "refresh"
//	iat    issued at (Unix seconds)
//	exp    expires at (Unix seconds)
//
// and a refresh token also a random "jti". They are signed with HS256 by
// default, or RS256 or EdDSA ([Config.Algorithm]); only the configured
// algorithm is ever accepted ("none" never, and an RS256 service refuses an
// HS256 token made with its public key).
//
// # Sessions and revocation
//
// The session remembers the id of its one live refresh token.
// [Service.Refresh] spends a refresh token and returns a new pair; presenting
// a spent refresh token again is taken as theft and deletes the whole
// session. Deleting the session ([Service.Revoke], the logout endpoint)
// revokes every token of it at once: with [Config.SkipSessionCheck] false
// (the default) every use of an access token checks that its session still
// exists.
//
// A session can also be carried by a cookie ([Service.StartCookieSession]),
// for server-rendered pages; [Service.Authenticate] reads either.
//
// # MWT
//
// With [Config.MWTSecret] set, [Service.IssueMWT] issues the edge identity
// token of package mwt, signed with a secret of its own.
//
// The HTTP endpoints (auth/token/, auth/refresh/, auth/logout/, auth/mwt/)
// are served by package mizan when its Config.Auth is set; see docs/auth.md.
package auth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mizan-afi/mizan/auth/mwt"
	"github.com/mizan-afi/mizan/auth/session"
	"github.com/mizan-afi/mizan/ratelimit"
)

// The signing algorithms a [Service] supports.
const (
	HS256 = "HS256" // HMAC-SHA256 with a secret of at least 32 bytes (the default)
	RS256 = "RS256" // RSA PKCS#1 v1.5 with SHA-256, a key of at least 2048 bits
	EdDSA = "EdDSA" // Ed25519
)

// Defaults of [Config].
const (
	DefaultAccessTTL  = 5 * time.Minute    // JWT_ACCESS_TOKEN_EXPIRES_IN, 300 s
	DefaultRefreshTTL = 7 * 24 * time.Hour // JWT_REFRESH_TOKEN_EXPIRES_IN, 604800 s
	DefaultCookieName = "mizan_session"
)

// MinSecretLen is the shortest HS256 key accepted, in bytes.
const MinSecretLen = 32

// The token types, the "type" claim.
const (
	typeAccess  = "access"
	typeRefresh = "refresh"
)

// Errors of a [Service]. Test them with [errors.Is]. Any other error of a
// Service method is a failure of the application's credential check.
var (
	// ErrBadCredentials: the credential check refused the username and
	// password.
	ErrBadCredentials = errors.New("auth: wrong username or password")
	// ErrInvalidToken: a token that is malformed, not signed by the
	// configured key and algorithm, or of the wrong type (a refresh token
	// or an MWT presented as an access token).
	ErrInvalidToken = errors.New("auth: invalid token")
	// ErrExpiredToken: a well-signed token whose exp has passed.
	ErrExpiredToken = errors.New("auth: token expired")
	// ErrRevoked: the token's session no longer exists (logout, reuse of
	// a refresh token, expiry).
	ErrRevoked = errors.New("auth: session revoked")
	// ErrReused: a spent refresh token was presented; its session has just
	// been deleted.
	ErrReused = errors.New("auth: refresh token already used; the session is revoked")
	// ErrNoLogin: no credential check is configured ([Config.Credentials]).
	ErrNoLogin = errors.New("auth: no credential check configured")
	// ErrUnavailable: the session store failed (it is down, or timed out);
	// the error wraps the store's.
	ErrUnavailable = errors.New("auth: session store unavailable")
	// ErrNoMWT: no MWT secret is configured ([Config.MWTSecret]).
	ErrNoMWT = errors.New("auth: no MWT secret configured")
)

// User is a user as the application's credential check identifies them.
type User struct {
	// ID identifies the user: the "sub" claim, and Identity.ID in package
	// mizan. Required.
	ID string
	// Staff and Superuser are the user's rights, copied into the session
	// and its tokens at sign-in.
	Staff, Superuser bool
}

// CredentialsFunc checks a username and password. It returns the user, or
// a nil user (or an error wrapping [ErrBadCredentials]) when they do not
// match. Any other error is a failure of the check itself.
type CredentialsFunc func(ctx context.Context, username, password string) (*User, error)

// Pair is the access and refresh token of one sign-in or refresh.
type Pair struct {
	Access  string `json:"access"`
	Refresh string `json:"refresh"`
}

// Principal is the caller a request's credentials name.
type Principal struct {
	User
	// SessionID is the session of the credential.
	SessionID string
	// Bearer reports whether the credential was an access token in the
	// Authorization header (true) or a session cookie (false).
	Bearer bool
}

// Config configures a [Service]. Zero values mean the documented defaults.
type Config struct {
	// Algorithm is HS256 (the default), RS256 or EdDSA (JWT_ALGORITHM).
	Algorithm string
	// PrivateKey signs the JWTs (JWT_PRIVATE_KEY): for HS256 a secret of at
	// least 32 bytes; for RS256 a PEM RSA private key (PKCS#1 or PKCS#8) of
	// at least 2048 bits; for EdDSA a PEM Ed25519 private key (PKCS#8).
	// Tokens are verified with it (HS256) or its public half.
	PrivateKey []byte
	// AccessTTL is the lifetime of access tokens. Zero means 5 minutes.
	AccessTTL time.Duration
	// RefreshTTL is the lifetime of refresh tokens and of sessions (a
	// refresh extends its session). Zero means 7 days.
	RefreshTTL time.Duration
	// Leeway is the clock skew tolerated on exp and iat. Zero means none.
	Leeway time.Duration
	// SkipSessionCheck turns off the session lookup on every use of an
	// access token (JWT_VALIDATE_SESSION=false): faster, but a logout then
	// revokes refresh tokens only, and access tokens stay valid until they
	// expire. Refresh always checks the session.
	SkipSessionCheck bool
	// Sessions stores the sessions. Nil means a new in-memory store
	// ([session.NewMemory]), which several server processes do not share.
	Sessions session.Store
	// Credentials checks a username and password for auth/token/. Nil
	// means that endpoint is off ([ErrNoLogin]).
	Credentials CredentialsFunc
	// MWTSecret signs MWTs (MIZAN_MWT_SECRET), at least 32 bytes and
	// different from PrivateKey. Nil means no MWTs ([ErrNoMWT]).
	MWTSecret []byte
	// MWTTTL is the lifetime of MWTs (MIZAN_MWT_TTL). Zero means 5 minutes.
	MWTTTL time.Duration
	// CookieName is the cookie of cookie sessions. Default "mizan_session".
	CookieName string
	// SecureCookies marks session cookies Secure.
	SecureCookies bool
	// Limits bounds the failed sign-in attempts per username and per
	// client address (auth/token/, and the providers' and passkeys'
	// endpoints). Zero means [DefaultLimits].
	Limits Limits
	// Limiter counts the attempts. Nil means an in-process one
	// ([ratelimit.NewMemory]); several server processes share limits
	// through Redis with ratelimit.Fallback(ratelimit.NewRedis(...),
	// ratelimit.NewMemory(nil), logf), which ConfigFromEnv sets up with
	// the sessions' Redis.
	Limiter ratelimit.Limiter
	// Now returns the current time. Nil means time.Now. For tests.
	Now func() time.Time
}

// Service issues and checks tokens and sessions. It is safe for concurrent
// use.
type Service struct {
	cfg       Config
	method    jwt.SigningMethod
	signKey   any
	verifyKey any
	parser    *jwt.Parser
	store     session.Store
	mwt       *mwt.Issuer
	now       func() time.Time
	limits    Limits
	limiter   ratelimit.Limiter
}

// New returns a Service configured by cfg, or an error naming what is
// wrong with it.
func New(cfg Config) (*Service, error) {
	if cfg.AccessTTL == 0 {
		cfg.AccessTTL = DefaultAccessTTL
	}
	if cfg.RefreshTTL == 0 {
		cfg.RefreshTTL = DefaultRefreshTTL
	}
	if cfg.CookieName == "" {
		cfg.CookieName = DefaultCookieName
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.AccessTTL < 0 || cfg.RefreshTTL < 0 || cfg.Leeway < 0 || cfg.MWTTTL < 0 {
		return nil, errors.New("auth: AccessTTL, RefreshTTL, Leeway and MWTTTL must not be negative")
	}
	s := &Service{cfg: cfg, store: cfg.Sessions, now: cfg.Now}
	var err error
	if s.method, s.signKey, s.verifyKey, err = parseKey(cfg.Algorithm, cfg.PrivateKey); err != nil {
		return nil, err
	}
	if s.store == nil {
		s.store = session.NewMemory(cfg.Now)
	}
	if s.limits = cfg.Limits; s.limits == (Limits{}) {
		s.limits = DefaultLimits
	}
	if !s.limits.Off && (!s.limits.PerUser.Valid() || !s.limits.PerAddress.Valid()) {
		return nil, errors.New("auth: Limits.PerUser and Limits.PerAddress need a positive Rate, Period and Burst (or set Limits.Off)")
	}
	if s.limiter = cfg.Limiter; s.limiter == nil {
		s.limiter = ratelimit.NewMemory(cfg.Now)
	}
	if cfg.MWTSecret != nil {
		if subtle.ConstantTimeCompare(cfg.MWTSecret, cfg.PrivateKey) == 1 {
			return nil, errors.New("auth: the JWT key and the MWT secret are identical: each secret must be distinct")
		}
		if s.mwt, err = mwt.NewIssuer(mwt.Options{Secret: cfg.MWTSecret, TTL: cfg.MWTTTL, Now: cfg.Now}); err != nil {
			return nil, fmt.Errorf("auth: MWT secret: %w", err)
		}
	}
	s.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{s.method.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(cfg.Now),
		jwt.WithStrictDecoding(),
	)
	return s, nil
}

// parseKey returns the signing method and keys of an algorithm and key.
func parseKey(alg string, key []byte) (jwt.SigningMethod, any, any, error) {
	isPEM := bytes.Contains(key, []byte("-----BEGIN "))
	switch {
	case alg == "" || strings.EqualFold(alg, HS256):
		if isPEM {
			return nil, nil, nil, errors.New("auth: the JWT key is a PEM key but the algorithm is HS256: set the algorithm to RS256 or EdDSA, or use a random secret")
		}
		if len(key) < MinSecretLen {
			return nil, nil, nil, fmt.Errorf("auth: the HS256 JWT key must be at least %d bytes (got %d)", MinSecretLen, len(key))
		}
		k := append([]byte(nil), key...)
		return jwt.SigningMethodHS256, k, k, nil
	case strings.EqualFold(alg, RS256):
		priv, err := jwt.ParseRSAPrivateKeyFromPEM(key)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("auth: the RS256 JWT key must be a PEM RSA private key: %w", err)
		}
		if priv.N.BitLen() < 2048 {
			return nil, nil, nil, fmt.Errorf("auth: the RS256 JWT key has %d bits; at least 2048 are required", priv.N.BitLen())
		}
		return jwt.SigningMethodRS256, priv, &priv.PublicKey, nil
	case strings.EqualFold(alg, EdDSA):
		priv, err := jwt.ParseEdPrivateKeyFromPEM(key)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("auth: the EdDSA JWT key must be a PEM Ed25519 private key: %w", err)
		}
		signer, ok := priv.(crypto.Signer)
		if !ok {
			return nil, nil, nil, errors.New("auth: the EdDSA JWT key has no public half")
		}
		return jwt.SigningMethodEdDSA, priv, signer.Public(), nil
	default:
		return nil, nil, nil, fmt.Errorf("auth: unsupported JWT algorithm %q (use %s, %s or %s)", alg, HS256, RS256, EdDSA)
	}
}

// Algorithm returns the signing algorithm of the Service's tokens.
func (s *Service) Algorithm() string { return s.method.Alg() }

// Sessions returns the session store.
func (s *Service) Sessions() session.Store { return s.store }

// CanLogin reports whether a credential check is configured.
func (s *Service) CanLogin() bool { return s.cfg.Credentials != nil }

// CanIssueMWT reports whether an MWT secret is configured.
func (s *Service) CanIssueMWT() bool { return s.mwt != nil }

// CookieName returns the name of the session cookie.
func (s *Service) CookieName() string { return s.cfg.CookieName }

// Login checks username and password with the configured
// [CredentialsFunc] and, when they match, signs the user in ([Service.Issue]).
// It applies no limits: a sign-in endpoint uses [Service.CheckCredentials].
func (s *Service) Login(ctx context.Context, username, password string) (Pair, error) {
	if s.cfg.Credentials == nil {
		return Pair{}, ErrNoLogin
	}
	u, err := s.cfg.Credentials(ctx, username, password)
	switch {
	case errors.Is(err, ErrBadCredentials):
		return Pair{}, err
	case err != nil:
		return Pair{}, fmt.Errorf("auth: checking credentials: %w", err)
	case u == nil:
		return Pair{}, ErrBadCredentials
	}
	return s.Issue(ctx, *u)
}

// CheckCredentials checks username and password with the configured
// [CredentialsFunc] under the limits of [Config.Limits] for the client
// address addr ([ClientAddress]): it refuses with a [*RateLimitedError]
// before checking when the username's or the address's failures are
// spent, and counts a refusal ([ErrBadCredentials]) against both (the
// attempt is reserved before the check, [Service.Throttle], and given back
// when it succeeds). It is
// what auth/token/ does before [Service.Issue]; a sign-in form of the
// app's own (a cookie session) uses it too.
func (s *Service) CheckCredentials(ctx context.Context, addr, username, password string) (*User, error) {
	if s.cfg.Credentials == nil {
		return nil, ErrNoLogin
	}
	attempt := Attempt{Scope: "token", User: username, Addr: addr}
	if err := s.Throttle(ctx, attempt); err != nil {
		return nil, err
	}
	u, err := s.cfg.Credentials(ctx, username, password)
	switch {
	case errors.Is(err, ErrBadCredentials) || err == nil && u == nil:
		return nil, ErrBadCredentials // the reserved attempt stays a failure
	case err != nil:
		s.Succeeded(ctx, attempt) // the check failed, not the caller
		return nil, fmt.Errorf("auth: checking credentials: %w", err)
	}
	s.Succeeded(ctx, attempt)
	return u, nil
}

// Issue signs u in: it creates a session and returns its first pair of
// tokens.
func (s *Service) Issue(ctx context.Context, u User) (Pair, error) {
	if u.ID == "" {
		return Pair{}, errors.New("auth: signing in a user without an id")
	}
	now := s.now()
	sid, jti := session.NewID(), session.NewID()
	sess := session.Session{ID: sid, UserID: u.ID, Staff: u.Staff, Superuser: u.Superuser,
		Refresh: jti, Expires: now.Add(s.cfg.RefreshTTL)}
	if err := s.store.Create(ctx, sess); err != nil {
		return Pair{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return s.sign(u, sid, jti, now)
}

// Refresh spends a refresh token and returns a new pair for the same
// session, whose lifetime starts again. A spent refresh token deletes the
// session and gives [ErrReused].
func (s *Service) Refresh(ctx context.Context, refresh string) (Pair, error) {
	c, err := s.parse(refresh, typeRefresh)
	if err != nil {
		return Pair{}, err
	}
	if c.ID == "" {
		return Pair{}, fmt.Errorf("%w: refresh token without jti", ErrInvalidToken)
	}
	// The session holds the user's rights: read them before the rotation.
	sess, err := s.store.Get(ctx, c.Sid)
	switch {
	case errors.Is(err, session.ErrNotFound):
		return Pair{}, ErrRevoked
	case err != nil:
		return Pair{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	case sess.UserID != c.Subject:
		return Pair{}, ErrRevoked
	}
	now := s.now()
	next := session.NewID()
	switch err := s.store.Rotate(ctx, c.Sid, c.ID, next, now.Add(s.cfg.RefreshTTL)); {
	case errors.Is(err, session.ErrNotFound):
		return Pair{}, ErrRevoked
	case errors.Is(err, session.ErrReused):
		return Pair{}, ErrReused
	case err != nil:
		return Pair{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return s.sign(User{ID: sess.UserID, Staff: sess.Staff, Superuser: sess.Superuser}, c.Sid, next, now)
}

// Verify checks an access token and, unless [Config.SkipSessionCheck],
// that its session still exists; the caller's rights are then the
// session's (else the token's claims). Refresh tokens and MWTs are refused.
func (s *Service) Verify(ctx context.Context, access string) (*Principal, error) {
	c, err := s.parse(access, typeAccess)
	if err != nil {
		return nil, err
	}
	p := &Principal{User: User{ID: c.Subject, Staff: c.Staff, Superuser: c.Super}, SessionID: c.Sid, Bearer: true}
	if !s.cfg.SkipSessionCheck {
		sess, err := s.store.Get(ctx, c.Sid)
		switch {
		case errors.Is(err, session.ErrNotFound):
			return nil, ErrRevoked
		case err != nil:
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		case sess.UserID != c.Subject || sess.Refresh == "":
			return nil, ErrRevoked // not the session this token was issued with
		}
		// The session, not the token, is the authority on rights: a token
		// forged with a leaked key cannot raise its holder to staff.
		p.Staff, p.Superuser = sess.Staff, sess.Superuser
	}
	return p, nil
}

// Revoke deletes a session: every token of it is refused from then on (at
// once for refresh tokens, and for access tokens unless
// [Config.SkipSessionCheck]).
func (s *Service) Revoke(ctx context.Context, sessionID string) error {
	if err := s.store.Delete(ctx, sessionID); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// RevokeUser deletes every session of the user userID, on every server
// process sharing the store (sign out everywhere): every token and cookie
// of them is refused from then on, as after [Service.Revoke].
func (s *Service) RevokeUser(ctx context.Context, userID string) error {
	if userID == "" {
		return errors.New("auth: revoking the sessions of a user without an id")
	}
	if err := s.store.DeleteUser(ctx, userID); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// Authenticate returns the caller named by r's credentials: an access
// token in "Authorization: Bearer <token>", else the session cookie. It
// returns nil and no error when r carries neither (another scheme in
// Authorization is not this Service's business), or only a cookie whose
// session is gone (a stale browser stays able to sign in again). A bearer
// token that does not verify is an error.
func (s *Service) Authenticate(r *http.Request) (*Principal, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, _ := strings.Cut(h, " ")
		if strings.EqualFold(scheme, "Bearer") {
			tok = strings.TrimSpace(tok)
			if tok == "" {
				return nil, fmt.Errorf("%w: empty bearer token", ErrInvalidToken)
			}
			return s.Verify(r.Context(), tok)
		}
	}
	c, err := r.Cookie(s.cfg.CookieName)
	if err != nil || c.Value == "" {
		return nil, nil
	}
	sess, err := s.store.Get(r.Context(), c.Value)
	switch {
	case errors.Is(err, session.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	case sess.Refresh != "":
		// The session of a token pair: its id travels inside the tokens,
		// readable by whoever holds one, so it is never a cookie.
		return nil, nil
	}
	return &Principal{User: User{ID: sess.UserID, Staff: sess.Staff, Superuser: sess.Superuser}, SessionID: sess.ID}, nil
}

// StartCookieSession signs u in with a cookie: it creates a session (of
// [Config.RefreshTTL]) and returns the cookie to set on the response
// (HttpOnly, SameSite=Lax, Path=/; Secure with [Config.SecureCookies]).
// Callers it authenticates are not Bearer, so package mizan checks their
// CSRF token.
func (s *Service) StartCookieSession(ctx context.Context, u User) (*http.Cookie, error) {
	if u.ID == "" {
		return nil, errors.New("auth: signing in a user without an id")
	}
	sess := session.Session{ID: session.NewID(), UserID: u.ID, Staff: u.Staff, Superuser: u.Superuser,
		Expires: s.now().Add(s.cfg.RefreshTTL)}
	if err := s.store.Create(ctx, sess); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return &http.Cookie{
		Name: s.cfg.CookieName, Value: sess.ID, Path: "/", MaxAge: int(s.cfg.RefreshTTL / time.Second),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.cfg.SecureCookies,
	}, nil
}

// ClearCookie returns a cookie that removes the session cookie from a
// browser.
func (s *Service) ClearCookie() *http.Cookie {
	return &http.Cookie{Name: s.cfg.CookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.cfg.SecureCookies}
}

// IssueMWT returns an MWT for the user and its expiry, or [ErrNoMWT].
func (s *Service) IssueMWT(u User) (string, time.Time, error) {
	if s.mwt == nil {
		return "", time.Time{}, ErrNoMWT
	}
	tok, c, err := s.mwt.Issue(u.ID, u.Staff, u.Superuser)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("auth: %w", err)
	}
	return tok, c.ExpiresAt, nil
}
