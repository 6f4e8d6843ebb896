package oidc

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// DefaultSigningAlgs are the ID token algorithms a zero
// [OIDCConfig.SigningAlgs] allows: asymmetric signatures only.
var DefaultSigningAlgs = []string{
	gooidc.RS256, gooidc.RS384, gooidc.RS512,
	gooidc.ES256, gooidc.ES384, gooidc.ES512,
	gooidc.PS256, gooidc.PS384, gooidc.PS512,
	gooidc.EdDSA,
}

// discoveryRetry is how long a failed discovery is remembered before the
// next request tries again.
const discoveryRetry = 5 * time.Second

// OIDCConfig configures an OpenID Connect provider ([NewOIDC]).
type OIDCConfig struct {
	// Name is the provider's name in the URLs ("google"). Required.
	Name string
	// DisplayName is shown to users ("Google"). Default: Name.
	DisplayName string
	// Issuer is the provider's issuer URL ("https://accounts.google.com"):
	// its discovery document is at Issuer + "/.well-known/openid-configuration",
	// and the ID tokens' iss must be it. Required.
	Issuer string
	// ClientID and ClientSecret are the app's client at the provider. The
	// ID tokens' aud must contain ClientID. ClientID is required.
	ClientID, ClientSecret string
	// Scopes are the scopes asked for. Nil means openid, email, profile
	// ("openid" is added if missing).
	Scopes []string
	// SigningAlgs are the ID token algorithms allowed. Nil means
	// [DefaultSigningAlgs]; "none" and the HMAC algorithms (HS256...,
	// whose key is the client secret, known to the app) are refused.
	SigningAlgs []string
	// HTTPClient makes the requests to the provider. Nil means a client
	// with a 10 s timeout.
	HTTPClient *http.Client
	// Now returns the current time for the ID token's expiry check. Nil
	// means time.Now. For tests.
	Now func() time.Time
}

// OIDCProvider is an OpenID Connect provider found by discovery, with the
// authorization-code flow, PKCE and a verified ID token. Discovery happens
// at the first sign-in (and again after a failure), so an app starts while
// its provider is down.
type OIDCProvider struct {
	cfg    OIDCConfig
	client *http.Client

	mu       sync.Mutex
	provider *gooidc.Provider
	verifier *gooidc.IDTokenVerifier
	failedAt time.Time
	failure  error
}

// NewOIDC returns the OIDC provider of cfg.
func NewOIDC(cfg OIDCConfig) (*OIDCProvider, error) {
	switch {
	case cfg.Name == "" || !validProviderName.MatchString(cfg.Name):
		return nil, fmt.Errorf("oidc: NewOIDC: name %q must be 1 to 64 ASCII letters, digits, '_' and '-'", cfg.Name)
	case cfg.Issuer == "":
		return nil, fmt.Errorf("oidc: NewOIDC %s: no issuer", cfg.Name)
	case cfg.ClientID == "":
		return nil, fmt.Errorf("oidc: NewOIDC %s: no client id", cfg.Name)
	}
	if cfg.DisplayName == "" {
		cfg.DisplayName = cfg.Name
	}
	if cfg.Scopes == nil {
		cfg.Scopes = []string{gooidc.ScopeOpenID, "email", "profile"}
	} else if !slices.Contains(cfg.Scopes, gooidc.ScopeOpenID) {
		cfg.Scopes = append([]string{gooidc.ScopeOpenID}, cfg.Scopes...)
	}
	if cfg.SigningAlgs == nil {
		cfg.SigningAlgs = DefaultSigningAlgs
	}
	for _, alg := range cfg.SigningAlgs {
		if strings.EqualFold(alg, "none") || strings.HasPrefix(strings.ToUpper(alg), "HS") || alg == "" {
			return nil, fmt.Errorf("oidc: NewOIDC %s: signing algorithm %q is not allowed (none and HMAC are refused)", cfg.Name, alg)
		}
	}
	cfg.SigningAlgs = slices.Clone(cfg.SigningAlgs)
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	return &OIDCProvider{cfg: cfg, client: client}, nil
}

// Name returns the provider's name.
func (p *OIDCProvider) Name() string { return p.cfg.Name }

// DisplayName returns the name shown to users.
func (p *OIDCProvider) DisplayName() string { return p.cfg.DisplayName }

// discover returns the discovered provider and its ID token verifier.
func (p *OIDCProvider) discover(ctx context.Context) (*gooidc.Provider, *gooidc.IDTokenVerifier, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.provider != nil {
		return p.provider, p.verifier, nil
	}
	if p.failure != nil && time.Since(p.failedAt) < discoveryRetry {
		return nil, nil, p.failure
	}
	// The provider keeps the context's client for its key set: give it one
	// that outlives the request.
	dctx := gooidc.ClientContext(context.WithoutCancel(ctx), p.client)
	dctx, cancel := context.WithTimeout(dctx, 10*time.Second)
	defer cancel()
	prov, err := gooidc.NewProvider(dctx, p.cfg.Issuer)
	if err != nil {
		p.failure, p.failedAt = fmt.Errorf("%w: discovery of %s: %w", ErrUnavailable, p.cfg.Issuer, err), time.Now()
		return nil, nil, p.failure
	}
	p.provider = prov
	p.verifier = prov.Verifier(&gooidc.Config{ClientID: p.cfg.ClientID, SupportedSigningAlgs: p.cfg.SigningAlgs, Now: p.cfg.Now})
	p.failure = nil
	return p.provider, p.verifier, nil
}

// oauth2Config returns the OAuth2 client of the flow.
func (p *OIDCProvider) oauth2Config(prov *gooidc.Provider, redirect string) *oauth2.Config {
	return &oauth2.Config{ClientID: p.cfg.ClientID, ClientSecret: p.cfg.ClientSecret,
		Endpoint: prov.Endpoint(), RedirectURL: redirect, Scopes: p.cfg.Scopes}
}

// AuthCodeURL returns the provider's authorization URL with the state, the
// nonce and the PKCE S256 challenge of r.
func (p *OIDCProvider) AuthCodeURL(ctx context.Context, r AuthRequest) (string, error) {
	prov, _, err := p.discover(ctx)
	if err != nil {
		return "", err
	}
	return p.oauth2Config(prov, r.RedirectURL).AuthCodeURL(r.State, gooidc.Nonce(r.Nonce), oauth2.S256ChallengeOption(r.Verifier)), nil
}

// idClaims are the ID token's (and userinfo's) claims an Identity reads.
type idClaims struct {
	Subject           string    `json:"sub"`
	Email             string    `json:"email"`
	EmailVerified     *flexBool `json:"email_verified"`
	Name              string    `json:"name"`
	PreferredUsername string    `json:"preferred_username"`
}

// Exchange redeems the code with the PKCE verifier, verifies the ID token
// (signature and algorithm, issuer, audience, expiry, then the nonce) and
// returns its identity. The email and email_verified claims come from the
// ID token, or from the userinfo endpoint when the ID token has no email
// (providers may put them only there); the userinfo must be about the ID
// token's subject.
func (p *OIDCProvider) Exchange(ctx context.Context, e Exchange) (Identity, error) {
	prov, verifier, err := p.discover(ctx)
	if err != nil {
		return Identity{}, err
	}
	cctx := context.WithValue(ctx, oauth2.HTTPClient, p.client)
	conf := p.oauth2Config(prov, e.RedirectURL)
	tok, err := conf.Exchange(cctx, e.Code, oauth2.VerifierOption(e.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return Identity{}, rejected("the identity provider refused the code (spent, expired or not for this client)", err)
		}
		return Identity{}, fmt.Errorf("%w: token endpoint: %w", ErrUnavailable, err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return Identity{}, rejected("the identity provider sent no ID token", nil)
	}
	idt, err := verifier.Verify(gooidc.ClientContext(ctx, p.client), raw)
	if err != nil {
		var exp *gooidc.TokenExpiredError
		if errors.As(err, &exp) {
			return Identity{}, rejected("the ID token has expired", err)
		}
		// go-oidc's errors have no types but for expiry: their texts
		// (tested) tell the audience and issuer checks apart.
		switch msg := err.Error(); {
		case strings.Contains(msg, "expected audience"):
			return Identity{}, rejected("the ID token is for another client (audience)", err)
		case strings.Contains(msg, "different provider"):
			return Identity{}, rejected("the ID token is from another issuer", err)
		}
		return Identity{}, rejected("the ID token's signature or algorithm does not verify", err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(e.Nonce)) != 1 {
		return Identity{}, rejected("the ID token's nonce does not match this sign-in", nil)
	}
	var c idClaims
	var all map[string]any
	if err := idt.Claims(&c); err != nil {
		return Identity{}, rejected("the ID token's claims are malformed", err)
	}
	if err := idt.Claims(&all); err != nil {
		return Identity{}, rejected("the ID token's claims are malformed", err)
	}
	if c.Email == "" && prov.UserInfoEndpoint() != "" {
		info, err := prov.UserInfo(gooidc.ClientContext(ctx, p.client), oauth2.StaticTokenSource(tok))
		if err != nil {
			return Identity{}, fmt.Errorf("%w: userinfo: %w", ErrUnavailable, err)
		}
		var uc idClaims
		if err := info.Claims(&uc); err != nil {
			return Identity{}, rejected("the userinfo answer is malformed", err)
		}
		if uc.Subject != idt.Subject {
			return Identity{}, rejected("the userinfo answer is about another user", nil)
		}
		c.Email, c.EmailVerified = uc.Email, uc.EmailVerified
		if c.Name == "" {
			c.Name = uc.Name
		}
		if c.PreferredUsername == "" {
			c.PreferredUsername = uc.PreferredUsername
		}
	}
	return Identity{Provider: p.cfg.Name, Subject: idt.Subject, Email: c.Email,
		EmailVerified: c.EmailVerified != nil && bool(*c.EmailVerified),
		Name:          c.Name, Username: c.PreferredUsername, Claims: all}, nil
}

// flexBool is a boolean claim that some providers send as a string
// ("true").
type flexBool bool

// UnmarshalJSON reads true, false, "true" or "false".
func (b *flexBool) UnmarshalJSON(data []byte) error {
	switch string(data) {
	case "true", `"true"`:
		*b = true
	case "false", `"false"`, "null":
		*b = false
	default:
		return fmt.Errorf("oidc: a boolean claim is %.20s", data)
	}
	return nil
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
