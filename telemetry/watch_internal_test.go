package telemetry

import "testing"

func TestRestarts(t *testing.T) {
	for _, c := range []struct {
		starts  uint64
		workers int
		want    uint64
	}{{0, 2, 0}, {2, 2, 0}, {5, 2, 3}, {1, 4, 0}} {
		if got := restarts(c.starts, c.workers); got != c.want {
			t.Errorf("restarts(%d, %d) = %d, want %d", c.starts, c.workers, got, c.want)
		}
	}
}
