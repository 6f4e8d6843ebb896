package ssr

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func TestAppendTraceparent(t *testing.T) {
	if got := string(appendTraceparent(context.Background(), []byte(`{"id":1`))); got != `{"id":1` {
		t.Fatalf("without a span: got %s, want the line unchanged", got)
	}
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled})
	ctx := trace.ContextWithSpanContext(context.Background(), sc)
	line := append(appendTraceparent(ctx, []byte(`{"id":1`)), '}')
	var req struct {
		ID          int    `json:"id"`
		Traceparent string `json:"traceparent"`
	}
	if err := json.Unmarshal(line, &req); err != nil {
		t.Fatalf("line %s is not JSON: %v", line, err)
	}
	if want := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"; req.Traceparent != want {
		t.Fatalf("traceparent = %q, want %q", req.Traceparent, want)
	}
}

// A worker request in a traced context gets a child span, made with the
// parent's provider, whose traceparent goes to the worker; without a span
// nothing is made.
func TestTraced(t *testing.T) {
	if ctx, end := traced(context.Background(), "render"); end != nil || ctx != context.Background() {
		t.Fatal("traced made a span without a parent")
	}
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	pctx, parent := tp.Tracer("test").Start(context.Background(), "view")
	ctx, end := traced(pctx, "render")
	if end == nil {
		t.Fatal("traced made no span under a parent")
	}
	line := string(appendTraceparent(ctx, nil))
	end(errors.New("boom"))
	parent.End()
	spans := sr.Ended()
	if len(spans) != 2 || spans[0].Name() != "mizan.ssr.render" {
		t.Fatalf("spans %v", spans)
	}
	s := spans[0]
	if s.Parent().SpanID() != parent.SpanContext().SpanID() || s.Status().Code != codes.Error {
		t.Errorf("render span: parent %s (want %s), status %v", s.Parent().SpanID(), parent.SpanContext().SpanID(), s.Status())
	}
	if want := `,"traceparent":"00-` + s.SpanContext().TraceID().String() + "-" + s.SpanContext().SpanID().String() + `-01"`; line != want {
		t.Errorf("the worker gets %s, want the render span's %s", line, want)
	}
}
