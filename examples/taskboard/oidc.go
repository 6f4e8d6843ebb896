package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/auth"
	"github.com/mizan-afi/mizan/auth/oidc"
)

// Sign-in with an identity provider (package auth/oidc, docs/auth.md,
// "Identity providers"), besides the passwords of auth.go. It is on when
// the environment names an OpenID Provider (else GET auth/oidc/ lists no
// provider):
//
//	TASKBOARD_OIDC_ISSUER         the issuer URL (discovery at the first sign-in)
//	TASKBOARD_OIDC_CLIENT_ID      the taskboard's client at the provider
//	TASKBOARD_OIDC_CLIENT_SECRET  its secret
//	TASKBOARD_OIDC_NAME           the provider's name in the URLs (default "oidc")
//	TASKBOARD_OIDC_DISPLAY_NAME   the sign-in button's text (default: the name)
//
// The provider's redirect URI to register is
// http://<host>/api/mizan/auth/oidc/<name>/callback/, <host> being the
// host the browser reaches the taskboard at. The sign-in page shows a
// button per provider (web/src/signin-oidc.tsx); the callback ends in
// token mode: the browser comes back to / with the refresh token in the
// URL fragment and spends it at once.
//
// The demo has no self-registration: a verified email address must be a
// demo user's (ada@example.com...), who is then signed in with their
// rights. examples/devidp is a provider for development with such users.

// Environment variables of the identity provider.
const (
	envOIDCIssuer      = "TASKBOARD_OIDC_ISSUER"
	envOIDCClientID    = "TASKBOARD_OIDC_CLIENT_ID"
	envOIDCSecret      = "TASKBOARD_OIDC_CLIENT_SECRET"
	envOIDCName        = "TASKBOARD_OIDC_NAME"
	envOIDCDisplayName = "TASKBOARD_OIDC_DISPLAY_NAME"
)

// mountOIDC adds sign-in with identity providers (package auth/oidc) to app.
func (s *store) mountOIDC(app *mizan.App, _ appConfig) error {
	issuer := os.Getenv(envOIDCIssuer)
	if issuer == "" {
		// No provider: auth/oidc/ lists none, and the sign-in page shows
		// no button (it asks, and a 404 would be an error in the console).
		if err := oidc.Mount(app, oidc.Options{}); err != nil {
			return fmt.Errorf("mounting the identity providers' list: %w", err)
		}
		return nil
	}
	name := os.Getenv(envOIDCName)
	if name == "" {
		name = "oidc"
	}
	clientID := os.Getenv(envOIDCClientID)
	if clientID == "" {
		return fmt.Errorf("%s is set but %s is not", envOIDCIssuer, envOIDCClientID)
	}
	p, err := oidc.NewOIDC(oidc.OIDCConfig{Name: name, DisplayName: os.Getenv(envOIDCDisplayName), Issuer: issuer,
		ClientID: clientID, ClientSecret: os.Getenv(envOIDCSecret)})
	if err != nil {
		return fmt.Errorf("the identity provider of %s: %w", envOIDCIssuer, err)
	}
	if err := oidc.Mount(app, oidc.Options{Providers: []oidc.Provider{p}, OnSignIn: s.oidcSignIn}); err != nil {
		return fmt.Errorf("mounting the identity provider: %w", err)
	}
	return nil
}

// oidcSignIn is the identity provider's hook: the demo user whose email
// address the provider has verified, or a refusal (an unverified address,
// or one of nobody here: no self-registration).
func (s *store) oidcSignIn(ctx context.Context, id oidc.Identity) (*auth.User, error) {
	if id.Email == "" || !id.EmailVerified {
		return nil, mizan.NewError(mizan.CodeUnauthorized, "the identity provider has not verified your email address: sign-in refused")
	}
	var uid int
	var staff bool
	err := s.db.QueryRowContext(ctx, "SELECT id, staff FROM users WHERE lower(email) = ?", strings.ToLower(id.Email)).Scan(&uid, &staff)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, mizan.NewError(mizan.CodeUnauthorized, "no taskboard account has this email address (the demo has no sign-up)")
	case err != nil:
		return nil, unavailable("finding the user of a provider's email", err)
	}
	return &auth.User{ID: strconv.Itoa(uid), Staff: staff}, nil
}
