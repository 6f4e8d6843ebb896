package passkey_test

import (
	"context"
	"log"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/auth"
	"github.com/mizan-afi/mizan/auth/passkey"
)

// Passkeys as a second way into the accounts of the password sign-in:
// Lookup gives the same auth.User (and rights) the credential check does.
func ExampleMount() {
	users := map[string]auth.User{"1": {ID: "1", Staff: true}}
	app := mizan.New(mizan.Config{Auth: &auth.Config{PrivateKey: []byte("an HS256 key of at least 32 bytes.")}})
	err := passkey.Mount(app, passkey.Options{
		RPID:          "example.com",
		RPDisplayName: "Example",
		RPOrigins:     []string{"https://app.example.com"},
		Store:         passkey.NewMemoryStore(), // a shared table in production
		Lookup: func(_ context.Context, id string) (*auth.User, error) {
			if u, ok := users[id]; ok {
				return &u, nil
			}
			return nil, nil // no such account: the sign-in is refused
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := app.Build(); err != nil {
		log.Fatal(err)
	}
	// Output:
}
