package ssr

import (
	"context"
	"encoding/hex"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// appendTraceparent appends `,"traceparent":"00-<trace>-<span>-<flags>"`
// (the W3C Trace Context header of the span ctx carries) to a request line
// for the worker, so that the render joins the request's trace; it appends
// nothing when ctx carries no valid span (telemetry off).
func appendTraceparent(ctx context.Context, line []byte) []byte {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return line
	}
	line = append(line, `,"traceparent":"00-`...)
	tid, sid := sc.TraceID(), sc.SpanID()
	line = hex.AppendEncode(line, tid[:])
	line = append(line, '-')
	line = hex.AppendEncode(line, sid[:])
	line = append(line, '-')
	line = hex.AppendEncode(line, []byte{byte(sc.TraceFlags())})
	return append(line, '"')
}

// tracerName is the instrumentation scope of the worker requests' spans.
const tracerName = "github.com/mizan-afi/mizan/ssr"

// traced begins the span of one worker request ("mizan.ssr.render"), a
// child of the span ctx carries, made with that span's TracerProvider;
// end, called with the request's error, ends it. When ctx carries no
// valid span (telemetry off) it does nothing and end is nil.
func traced(ctx context.Context, method string) (_ context.Context, end func(error)) {
	parent := trace.SpanFromContext(ctx)
	if !parent.SpanContext().IsValid() {
		return ctx, nil
	}
	ctx, span := parent.TracerProvider().Tracer(tracerName).Start(ctx, "mizan.ssr."+method, trace.WithSpanKind(trace.SpanKindClient))
	return ctx, func(err error) {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
}
