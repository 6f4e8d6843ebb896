// Command mount serves a Mizan app mounted in a chi router
// (github.com/go-chi/chi), next to the router's own routes and middleware:
// a built app is a plain http.Handler, so any router can mount it. From the
// root of the repository,
//
//	go -C examples run ./mount
//
// then, in another terminal,
//
//	curl -si http://127.0.0.1:8080/healthz
//	curl -si 'http://127.0.0.1:8080/api/mizan/ctx/user/?user_id=1'
//	curl -si http://127.0.0.1:8080/profile/1/
//	curl -si http://127.0.0.1:8080/api/mizan/call/ -H 'Content-Type: application/json' \
//	  -d '{"fn":"update_profile","args":{"user_id":1,"name":"Ada L."}}'
//
// The first answer comes from chi's own route, the others from Mizan; chi's
// middleware (here RequestID) runs for both.
package main

import (
	"context"
	"flag"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/mizan-afi/mizan"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "`host:port` to listen on")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	// serve stops on SIGINT or SIGTERM by itself (mizan.Serve).
	if err := serve(context.Background(), *addr, os.Stdout, logger); err != nil {
		fmt.Fprintln(os.Stderr, "mount:", err)
		os.Exit(1)
	}
}

// User is the context of one user's reads, parameterised by user_id.
const User mizan.Context = "user"

// ProfileArgs name one user.
type ProfileArgs struct {
	UserID int `json:"user_id"`
}

// Profile is one user's profile.
type Profile struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

// UpdateArgs are the arguments of update_profile.
type UpdateArgs struct {
	UserID int    `json:"user_id"`
	Name   string `json:"name" validate:"required,max=40"`
}

// OK is the result of a mutation with nothing else to say.
type OK struct {
	OK bool `json:"ok"`
}

// store holds the profiles in memory.
type store struct {
	mu    sync.Mutex
	names map[int]string
}

func (s *store) userProfile(_ context.Context, in ProfileArgs) (Profile, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name, ok := s.names[in.UserID]
	if !ok {
		return Profile{}, mizan.Errorf(mizan.CodeNotFound, "no user %d", in.UserID)
	}
	return Profile{ID: in.UserID, Name: name}, nil
}

func (s *store) updateProfile(_ context.Context, in UpdateArgs) (OK, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.names[in.UserID]; !ok {
		return OK{}, mizan.Errorf(mizan.CodeNotFound, "no user %d", in.UserID)
	}
	s.names[in.UserID] = in.Name
	return OK{true}, nil
}

func (s *store) profilePage(ctx context.Context, in ProfileArgs) (http.Handler, error) {
	p, err := s.userProfile(ctx, in)
	if err != nil {
		return nil, err
	}
	return mizan.HTML(http.StatusOK, "<h1>"+html.EscapeString(p.Name)+"</h1>"), nil
}

// newApp builds the Mizan app: a query and a page in the user context and
// a mutation that invalidates it.
func newApp(logger *slog.Logger) (*mizan.App, error) {
	s := &store{names: map[int]string{1: "Ada", 2: "Grace"}}
	app := mizan.New(mizan.Config{Logger: logger})
	mizan.Query(app, s.userProfile, mizan.In(User))
	mizan.Mutation(app, s.updateProfile, mizan.Affects(User))
	mizan.View(app, s.profilePage, mizan.Name("profile_page"), mizan.In(User), mizan.Route("/profile/{user_id}/"))
	if err := app.Build(); err != nil {
		return nil, err
	}
	return app, nil
}

// newRouter returns a chi router with a route and a middleware of its own,
// and app mounted at the root for everything else (/api/mizan/... and the
// app's view routes).
func newRouter(app http.Handler) http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.RequestID)
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	})
	r.Mount("/", app)
	return r
}

// serve listens on addr until ctx is done or the process gets SIGINT or
// SIGTERM, then shuts down gracefully. It prints the address it listens on
// to stdout.
func serve(ctx context.Context, addr string, stdout io.Writer, logger *slog.Logger) error {
	app, err := newApp(logger)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	fmt.Fprintln(stdout, "listening on http://"+ln.Addr().String()+" (chi: /healthz; Mizan: /api/mizan/..., /profile/{user_id}/)")
	// mizan.Serve serves any handler, here the router, with read, write
	// and idle timeouts and a header limit, and drains the requests in
	// flight on shutdown.
	return mizan.Serve(ctx, ln, newRouter(app), mizan.ServerOptions{Logger: logger})
}
