package live

import "time"

// SetPubSubIdle sets how long a subscription may stay silent before it is
// pinged, for the tests of a stalled Redis; it returns the restore function.
func SetPubSubIdle(d time.Duration) (restore func()) {
	old := pubSubIdle
	pubSubIdle = d
	return func() { pubSubIdle = old }
}
