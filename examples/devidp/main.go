// Command devidp is an OpenID Provider for development and the taskboard's
// browser test: zitadel/oidc's op package with its example storage and
// login form, on loopback, with fixed users. It is NOT for production: the
// passwords are in this file, in clear, and every key is made up at start
// (or fixed).
//
//	go -C examples run ./devidp -addr 127.0.0.1:9998 \
//	    -client-id taskboard -client-secret dev-secret \
//	    -redirect 'http://127.0.0.1:*/api/mizan/auth/oidc/devidp/callback/'
//
// It prints "listening on http://127.0.0.1:PORT" once it serves; that URL
// is the issuer. -redirect may be repeated; a value with '*' is a glob
// (path.Match: '*' matches anything but '/', such as a port).
//
// Users (username / password, email):
//
//	ada / ada           ada@example.com, verified       (a taskboard demo user)
//	grace / grace       grace@example.com, verified     (a taskboard demo user)
//	eve / eve           eve@example.com, NOT verified
//	stranger / stranger stranger@example.org, verified  (no taskboard account)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// users are the provider's users, by id.
type users map[string]*storage.User

// GetUserByID returns the user id.
func (u users) GetUserByID(id string) *storage.User { return u[id] }

// GetUserByUsername returns the user whose username is name.
func (u users) GetUserByUsername(name string) *storage.User {
	for _, x := range u {
		if x.Username == name {
			return x
		}
	}
	return nil
}

// ExampleClientID is the example storage's service user (unused here).
func (u users) ExampleClientID() string { return storage.ServiceUserID }

// devUsers returns the users of the package documentation.
func devUsers() users {
	u := users{}
	for _, x := range []struct {
		name, first, last, email string
		verified                 bool
	}{
		{"ada", "Ada", "Lovelace", "ada@example.com", true},
		{"grace", "Grace", "Hopper", "grace@example.com", true},
		{"eve", "Eve", "Unverified", "eve@example.com", false},
		{"stranger", "Sam", "Stranger", "stranger@example.org", true},
	} {
		u["id-"+x.name] = &storage.User{ID: "id-" + x.name, Username: x.name, Password: x.name, FirstName: x.first, LastName: x.last,
			Email: x.email, EmailVerified: x.verified, PreferredLanguage: language.English}
	}
	return u
}

// globStorage is the example storage whose client also accepts the
// redirect URIs matching globs.
type globStorage struct {
	*storage.Storage
	clientID string
	globs    []string
}

// globClient is a client with redirect URI globs.
type globClient struct {
	op.Client
	globs []string
}

// RedirectURIGlobs returns the globs.
func (c globClient) RedirectURIGlobs() []string { return c.globs }

// PostLogoutRedirectURIGlobs returns none.
func (c globClient) PostLogoutRedirectURIGlobs() []string { return nil }

// GetClientByClientID returns the client, with the globs for the dev
// client.
func (s globStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil || id != s.clientID || len(s.globs) == 0 {
		return c, err
	}
	return globClient{Client: c, globs: s.globs}, nil
}

// multiFlag is a flag that may be repeated.
type multiFlag []string

func (m *multiFlag) String() string { return strings.Join(*m, ",") }

// Set adds a value.
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "devidp:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:9998", "address to listen on (port 0: a free port)")
	clientID := flag.String("client-id", "taskboard", "the client id of the app")
	secret := flag.String("client-secret", "dev-secret", "the client secret of the app")
	var redirects multiFlag
	flag.Var(&redirects, "redirect", "a redirect URI of the app (repeatable; '*' globs, e.g. http://127.0.0.1:*/api/mizan/auth/oidc/devidp/callback/)")
	verbose := flag.Bool("v", false, "log every request")
	flag.Parse()
	if len(redirects) == 0 {
		return errors.New("at least one -redirect is required")
	}
	var exact, globs []string
	for _, r := range redirects {
		if strings.Contains(r, "*") {
			globs = append(globs, r)
		} else {
			exact = append(exact, r)
		}
	}
	if len(exact) == 0 {
		// WebClient's default would be a made-up URI; a glob-only client
		// needs an exact URI that never matches.
		exact = []string{"http://127.0.0.1:1/unused"}
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", *addr, err)
	}
	issuer := "http://" + ln.Addr().String()

	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	clients := map[string]*storage.Client{*clientID: storage.WebClient(*clientID, *secret, exact...)}
	st := globStorage{Storage: storage.NewStorageWithClients(devUsers(), clients), clientID: *clientID, globs: globs}
	router := exampleop.SetupServer(issuer, st, logger, false)

	srv := &http.Server{Handler: router, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Printf("listening on %s\n", issuer)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	return nil
}
