// Package live is the WebSocket transport of a Mizan app and the fan-out
// of its invalidations to every connected client, across server instances
// (docs/spec.md §9, docs/live.md).
//
// [New] mounts the endpoint ws/ under the app's prefix and makes the hub
// one more consumer of the app's invalidations:
//
//	cfg, err := mizan.ConfigFromEnv(nil) // MIZAN_PUBSUB_REDIS_URL, or MIZAN_CACHE_REDIS_URL
//	app := mizan.New(cfg)
//	// ... register functions ...
//	hub, err := live.New(app, live.Options{})
//	if err != nil { ... }
//	defer hub.Close()
//	if err := app.Build(); err != nil { ... }
//
// # Messages
//
// JSON text messages. A client subscribes to context instances and calls
// functions registered with [mizan.WebSocket]:
//
//	→ {"id": 1, "type": "subscribe", "context": "user", "params": {"user_id": "1"}}
//	← {"id": 1, "type": "ok"}
//	→ {"id": 2, "type": "call", "fn": "update_profile", "args": {"user_id": 1, "name": "Ada"}}
//	← {"id": 2, "type": "result", "result": {"ok": true}, "invalidate": [{"context": "user", "params": {"user_id": 1}}]}
//
// and is pushed, for every mutation anywhere whose targets match one of
// its subscriptions (over HTTP or WebSocket, on this instance or another),
// the targets that match:
//
//	← {"type": "invalidate", "targets": [{"context": "user", "params": {"user_id": 1}}]}
//
// Whether a target matches a subscription is the one matching rule of
// docs/spec.md §3 ([protocol.Match]), applied to the target as the app's
// emission step normalized it and to the instance as [App.CheckContext]
// normalized it ({"user_id": "01"} is user 1's instance). A target that a
// mutation narrows to its caller ([mizan.CallerScoped], run by a signed-in
// caller) is pushed only to the connections signed in as that caller.
//
// A failure is {"id": N, "type": "error", "error": {"code", "message",
// "fields"?}}, with the codes and messages of the HTTP endpoints, plus
// rate_limited and too_many_subscriptions.
//
// # Authentication and origins
//
// The upgrade request is authenticated as the HTTP endpoints authenticate
// a request (a session cookie, the app's Authenticator). A browser, which
// cannot set headers on a WebSocket, may instead send a token as the first
// message: {"id": 0, "type": "auth", "token": "<access token>"}, checked
// as "Authorization: Bearer <token>" would be. The upgrade is refused (403)
// for a page whose origin is neither the request's host nor one of
// [Options.OriginPatterns] (by default the app's Config.TrustedOrigins):
// together with cookies, that is what keeps another site from using a
// visitor's session. A signed-in connection's credentials are checked again
// on every subscription and call; once they no longer hold (a logout, an
// expired token) the reply is unauthorized and the connection is closed
// with [CloseCredentials].
//
// # Across instances
//
// With a Redis URL ([Options.RedisURL], by default the app's
// Config.PubSubRedisURL) every instance publishes its invalidations on one
// channel and pushes the others' to its own clients; without one, the
// fan-out stays in the process. Invalidations published while Redis is
// unreachable are lost: when the hub subscribes again, it tells every
// connected client to refetch everything it watches, with one invalidate
// message naming each subscribed context broadly.
//
// # Limits
//
// Each connection has a bound on message size, on subscriptions and on its
// message rate, which every message counts against before it is parsed
// ([Options]); a client that does not read its messages fast enough is
// disconnected (status 1008) without delaying anyone else. The hub bounds
// its connections, in total and per client address, and refuses an upgrade
// over either before it happens. Every refusal of an upgrade, a malformed
// handshake's included, is the protocol's error envelope.
package live
