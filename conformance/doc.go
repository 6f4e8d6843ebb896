// Package conformance holds the fixture application of the Mizan wire
// protocol (docs/spec.md §7) and, in its tests, the wire-level conformance
// suite that checks a running server against the protocol over real HTTP.
//
// # The fixture
//
// [NewFixture] builds the fixture app on in-memory data. The command in
// conformance/fixture serves it:
//
//	go run ./conformance/fixture -addr 127.0.0.1:8766
//
// and prints "mizan fixture listening on http://HOST:PORT" once it listens
// (with -addr 127.0.0.1:0 the port is chosen by the system). The command
// also serves the WebSocket endpoint ws/ of package live (docs/spec.md §9),
// sharing invalidations through the Redis of MIZAN_PUBSUB_REDIS_URL (or
// MIZAN_CACHE_REDIS_URL) when one is set.
//
// Users sign in at auth/token/ (docs/spec.md §8) with the credentials of §7
// ([CheckCredentials]) and send their access token as
// "Authorization: Bearer <access>"; the fixture's JWT key and MWT secret
// are drawn at random when it starts, unless JWT_PRIVATE_KEY and
// MIZAN_MWT_SECRET set them. A request without a bearer token is
// identified by [TestAuthenticator]: the request header
// X-Test-User carries the caller's id and X-Test-Staff: 1 makes the caller
// staff. Both are header credentials, which a browser never sends on its
// own, so such callers are exempt from the CSRF check. The authenticator is
// for tests only and must never be used by a real application.
//
// # Data
//
// Every call of NewFixture starts from the same data, held by that app
// alone:
//
//	id  username  name   email              staff
//	1   ada       Ada    ada@example.com    yes
//	2   grace     Grace  grace@example.com  no
//	3   lin       Lin    lin@example.com    no
//
// (Usernames and the staff column are those of §7, for the password login
// of §8: the password is the username followed by "-pw", and an access
// token of ada is staff. Through TestAuthenticator a caller is staff when
// it sends X-Test-Staff: 1, whoever it claims to be.)
//
// The fixture's edge manifest is checked in as testdata/manifest.json;
// "go run ./conformance/fixture -manifest FILE" writes it.
//
// User N has two orders: {"id": N*100+1, "total": 1200} with status "open"
// and {"id": N*100+2, "total": 4550} with status "shipped". user_orders
// lists them as {"id", "total"} in id order. order_page lists the user's
// orders of the given status as {"id", "total", "status"}, ten to a page,
// pages numbered from 1 (a page below 1 is invalid_args naming "page").
// archive_orders gives the user's orders of the given status the status
// "archived", and reset_all restores the initial data. Every function that
// takes user_id answers 404 not_found for an id that names no user.
// current_user returns the caller's id as a JSON number when X-Test-User is
// a decimal integer, as a string otherwise.
//
// # Additions to §7
//
// The fixture has one function that §7 does not list: the mutation
// panic_for_tests panics, so that the suite can check that a panic is sent
// as 500 internal without its detail. It exists for the conformance suite
// only; another implementation of the fixture should register it too (or
// the suite's internal-error test fails against it).
//
// The counter of §7 (bump increments it and returns {"count": n}, count
// reads it) starts at 0 and belongs to one app, like the rest of the data;
// reset_all does not reset it (§7 declares reset_all affects user and
// orders only). The idempotency tests (§12) count with it how many times
// bump ran.
//
// Every error code of docs/spec.md §5 is reachable over HTTP. unavailable
// (503) needs a service that is down: the fixture keeps idempotent
// outcomes where MIZAN_IDEMPOTENCY says (memory by default, or a Redis
// URL), and an idempotent call is refused with 503 when that Redis cannot
// be reached.
//
// # The suite
//
//	go test ./conformance/
//
// builds conformance/fixture, starts it on 127.0.0.1 with a free port, runs
// every test against it over HTTP and stops it with SIGTERM, checking that
// it shuts down cleanly (and, under -race, without a data race). To check
// another implementation of the fixture instead, point the suite at it:
//
//	MIZAN_CONFORMANCE_URL=http://127.0.0.1:8766 go test ./conformance/
//
// The suite mutates the server's data, but every assertion after a
// mutation reads only what that test has just written, and the profile and
// orders the other tests read (user 1's profile and order list, user 2's
// order statuses) are never changed, so the tests may run in any order and
// again against the same server.
package conformance
