package cache

// InProcess reports whether the cache's backend lives in this process (the
// memory backend), so that no other process can read or write its entries.
func (c *Cache) InProcess() bool { return c.local }
