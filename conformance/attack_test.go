package conformance_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

// The outside attack run (the hardening issue), replayed against the
// fixture over real HTTP: every case is an attack that once broke
// something, or a cheap one that held, and each must keep holding.

// TestAttackOrderPageOverflow: page=9223372036854775807 once panicked in
// order_page's slice arithmetic (a 500).
func TestAttackOrderPageOverflow(t *testing.T) {
	for _, page := range []string{"9223372036854775807", "4611686018427387904", "2"} {
		r := do(t, http.MethodGet, prefix+"ctx/orders/?user_id=1&status=open&page="+page, "")
		if r.status != http.StatusOK {
			t.Fatalf("page=%s: %d %s", page, r.status, r.body)
		}
		var b struct {
			OrderPage struct {
				Items []json.RawMessage `json:"items"`
			} `json:"order_page"`
		}
		if err := json.Unmarshal(r.body, &b); err != nil || len(b.OrderPage.Items) != 0 {
			t.Errorf("page=%s: %s (%v), want no items", page, r.body, err)
		}
	}
}
