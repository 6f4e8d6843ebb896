package doccheck

// Packages only the documentation's blocks import (docs/observability.md),
// kept in go.mod/go.sum by go mod tidy.
import (
	_ "github.com/mizan-afi/mizan/telemetry"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "go.opentelemetry.io/otel/sdk/trace"
)
