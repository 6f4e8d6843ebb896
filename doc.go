// Package mizan registers Go functions once and serves them over the Mizan
// wire protocol: typed reads grouped under named contexts, mutations that say
// what they affect, and automatic invalidation of every affected context on
// every mutation.
//
// # Registering functions
//
// A server function has the shape
//
//	func(ctx context.Context, in Args) (Out, error)
//
// where Args is a struct whose json tags name the parameters (struct{} for a
// function without arguments). Register it once:
//
//	const User mizan.Context = "user"
//
//	app := mizan.New(mizan.Config{})
//	mizan.Query(app, userProfile, mizan.In(User))            // GET ctx/user/?user_id=5
//	mizan.Query(app, userOrders, mizan.In(User))
//	mizan.Mutation(app, updateProfile, mizan.Affects(User))  // POST call/
//	if err := app.Build(); err != nil {
//		log.Fatal(err)
//	}
//	log.Fatal(mizan.ListenAndServe(context.Background(), ":8080", app, mizan.ServerOptions{}))
//
// The wire name defaults to the snake_case of the Go function's name
// (userProfile → user_profile); [Name] sets another.
//
// # Endpoints
//
// Under [Config.Prefix] (default /api/mizan/):
//
//   - GET session/ sets the CSRF cookie and returns {"csrf_token": ...}.
//   - POST call/ with {"fn": "update_profile", "args": {...}} runs a mutation
//     or a standalone read and returns {"result": ..., "invalidate": [...]}.
//   - GET ctx/<name>/?p=v runs every function of a context (concurrently
//     when that saves time, see [Config.ConcurrencyThreshold]) and returns
//     {"<function>": <result>, ...}.
//
// Views ([View]) answer on routes of their own with an http.Handler.
//
// # Invalidation
//
// A mutation's targets are computed in one place and sent in the response
// body, in the X-Mizan-Invalidate header, and to every [Invalidator]. A
// mutation argument whose name equals a parameter of the affected context
// scopes the target to its value; otherwise the target is broad.
//
// # Errors
//
// Every failure is the protocol's error envelope with a 4xx or 5xx status. A
// function returns an [*Error] to choose its code and status; any other error
// is sent as "internal" and logged.
//
// # Identity
//
// An [Authenticator] finds the caller; [Caller], [Request] and
// [ResponseHeader] reach the caller, the request and the response headers
// from inside a function. [RequireAuth], [RequireStaff], [RequireSuperuser]
// and [RequireFunc] guard functions. [Config.Auth] adds sign-in with JWTs
// and sessions (package auth): the endpoints auth/token/, auth/refresh/,
// auth/logout/ and auth/mwt/, and callers named by an access token or a
// session cookie.
//
// # Live updates
//
// Package live adds the WebSocket endpoint ws/ and pushes every
// invalidation to the pages that show what it hits, across server
// instances through Redis pub/sub. It plugs in through [App.Handle] (an
// endpoint under the prefix), [App.OnInvalidate], and the methods that let
// another transport authenticate, check and call as the HTTP endpoints do:
// [App.Authenticate], [App.CheckContext] and [App.Call].
//
// # Edge manifest
//
// [App.Manifest] describes the app for an edge proxy (package manifest):
// contexts with their endpoints, parameters and render strategy, and what
// every mutation invalidates.
package mizan
