package main

import "github.com/mizan-afi/mizan"

// mountPasskeys adds passkeys (package auth/passkey) to app.
func (s *store) mountPasskeys(app *mizan.App, cfg appConfig) error { return nil }
