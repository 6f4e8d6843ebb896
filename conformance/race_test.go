//go:build race

package conformance_test

// raceEnabled reports whether the suite runs under the race detector, so
// that the fixture it starts is built with it too.
const raceEnabled = true
