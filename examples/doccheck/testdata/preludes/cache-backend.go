// For docs/cache-backends.md's copy of the cache.Backend interface: the
// copy must have exactly the methods of the real one.
package doccheck

import "github.com/mizan-afi/mizan/cache"

var (
	_ cache.Backend = Backend(nil)
	_ Backend       = cache.Backend(nil)
)
