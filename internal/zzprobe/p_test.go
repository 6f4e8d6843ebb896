package zzprobe

import (
	_ "github.com/coreos/go-oidc/v3/oidc"
	_ "github.com/go-redis/redis_rate/v10"
	_ "github.com/go-webauthn/webauthn/webauthn"
	_ "github.com/go-webauthn/webauthn/protocol"
	_ "github.com/zitadel/oidc/v3/example/server/exampleop"
	_ "github.com/zitadel/oidc/v3/example/server/storage"
	_ "github.com/zitadel/oidc/v3/pkg/op"
	_ "github.com/zitadel/oidc/v3/pkg/oidc"
	_ "golang.org/x/crypto/argon2"
	_ "golang.org/x/oauth2"
	_ "golang.org/x/oauth2/github"
	_ "github.com/go-jose/go-jose/v4"
)
