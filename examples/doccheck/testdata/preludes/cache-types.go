// For docs/cache.md's copy of cache.Instance and cache.Purge: the copy
// must have the fields of the real types, in their order (a conversion
// between struct types checks that, tags aside).
package doccheck

import "github.com/mizan-afi/mizan/cache"

var (
	_ = cache.Instance(Instance{})
	_ = cache.Purge(Purge{})
)
