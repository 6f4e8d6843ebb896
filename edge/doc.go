// Package edge delivers a Mizan app's invalidations to its edge cache (the
// Cloudflare Worker of frontends/edge, docs/spec.md §11) when they do not
// pass through the edge on their own.
//
// A mutation called over HTTP through the edge purges the edge as its
// response passes by, from the X-Mizan-Invalidate header. Invalidations
// emitted anywhere else never reach it that way: WebSocket calls,
// [mizan.App.Invalidate] from a background job or a queue consumer, a
// webhook posted straight to the origin, or traffic through another edge.
// A [Purger] is one more consumer of the app's invalidations
// ([mizan.App.OnInvalidate]) that posts every one of them to the edge's
// purge endpoint:
//
//	cfg, ok, err := edge.ConfigFromEnv() // MIZAN_EDGE_PURGE_URL, MIZAN_EDGE_PURGE_SECRET
//	if err != nil { ... }
//	if ok {
//		purger, err := edge.Attach(app, cfg)
//		if err != nil { ... }
//		defer purger.Close(shutdownCtx)
//	}
//
// # The wire
//
// Each post is
//
//	POST <edge>/__mizan/purge
//	Content-Type: application/json
//	X-Mizan-Timestamp: 1767225600
//	X-Mizan-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//
//	{"id":"<32 hex digits>","targets":[<targets>],"mutation":"update_profile","caller":"7"}
//
// with the targets in their body form (docs/spec.md §3, exactly as
// [mizan.Target] marshals them), the wire name of the mutation that
// emitted them ("" for [mizan.App.Invalidate]) and the id of the caller
// who ran it (null for none), from which the edge narrows the mutation's
// caller-scoped targets (tier 2) using its manifest. The id, random, is
// the same for every attempt of one post and makes its body unique. Every
// attempt is signed afresh, with the time it is made: the edge refuses a
// timestamp more than five minutes off, and remembers the signatures it has
// applied, so that a captured post cannot be replayed. See [Sign].
//
// The edge acknowledges a post with 200, or with 409 and the error code
// "replayed" when it has already applied that very signed post (an attempt
// repeated within the same second). Any other outcome (a network error, a
// timeout, a 5xx, 401, 429, anything) is retried.
//
// # Delivery
//
// Delivery is at least once: every invalidation is posted, in the order
// the app emitted it, and retried with exponential backoff and jitter
// until the edge acknowledges it, for as long as the Purger runs. A post
// may reach the edge more than once (an acknowledgement lost on the way
// back), which is harmless: purging twice purges the same entries.
//
// [Purger.Invalidate] never waits for the network: it queues the
// invalidation and returns, so a mutation's response is not held up by the
// edge. The window between the moment a mutation is acknowledged to its
// caller and the moment the edge acknowledges the purge is the only time
// the edge may serve what the mutation changed; it is typically a few
// milliseconds, longer only while the edge cannot be reached. A program
// that must know the edge is up to date (a test, a migration script) calls
// [Purger.Flush].
//
// The queue is bounded ([Config.QueueSize]). When the edge cannot keep up
// and the queue is full, no invalidation is dropped and no caller waits:
// the invalidations that overflow are replaced by the broad targets of
// their contexts (every instance of each context, with no mutation or
// caller, so nothing is narrowed), which purge a superset of what they
// would have. That broad set holds each context at most once, so the
// memory a Purger uses is bounded whatever the rate of invalidations.
// [Stats.Coalesced] counts the invalidations so replaced. So, too, is an
// invalidation with more targets than one post can carry (over 512 KiB of
// JSON; the edge refuses bodies over 1 MiB).
package edge
