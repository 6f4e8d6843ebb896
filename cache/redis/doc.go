// Package redis is the Redis backend of the origin cache: a [cache.Backend]
// over go-redis's UniversalClient, so that one Redis node, a Sentinel-managed
// primary, or a Redis Cluster all serve.
//
// Every key is stored under a prefix ("mizan:" unless configured), so that
// the cache can share a Redis with other data and a broad purge touches only
// the cache's keys.
//
// # Failing fast
//
// The cache treats any backend error as "backend down" and serves without
// the cache until the backend answers again, so this backend is tuned to
// fail fast rather than to wait or retry: by default a connection is given
// 200ms to open, a command 100ms to be written and read, a caller 100ms to
// get a connection from an exhausted pool, and a failed command is not
// retried. A stalled Redis thus costs a request about a tenth of a second,
// never seconds, and context deadlines shorter than these are honoured too.
//
// # Deployments
//
// [New] takes a redis:// or rediss:// URL for a single node, or
// [Options.Addrs] with [Options.MasterName] for Sentinel, or several
// [Options.Addrs] (or [Options.ClusterMode]) for a Cluster. [NewFromClient]
// wraps a client the caller built and owns.
//
// On a Cluster, keys spread over hash slots and nodes, so multi-key reads
// and deletes are pipelines of single-key commands (go-redis routes each to
// its node), and [Backend.DeletePrefix] scans every master.
package redis
