package tracing

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Options configure an exporting Tracer.
type Options struct {
	// Endpoint is the OTLP/HTTP collector's base URL, e.g.
	// http://127.0.0.1:4318; /v1/traces is appended unless the path
	// already ends with it. Required.
	Endpoint string
	// Region is the cloud.region resource attribute.
	Region string
	// BatchTimeout is the longest a finished span waits before it is
	// sent. Default 1 s.
	BatchTimeout time.Duration
}

// Tracer exports invocation traces. A nil *Tracer is valid and records
// nothing.
type Tracer struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
	region   string
}

// New builds an exporting Tracer. It connects lazily: an unreachable
// collector costs dropped spans, never a failed start.
func New(ctx context.Context, opts Options) (*Tracer, error) {
	endpoint, err := tracesURL(opts.Endpoint)
	if err != nil {
		return nil, err
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		return nil, fmt.Errorf("otlp exporter: %w", err)
	}
	batch := opts.BatchTimeout
	if batch <= 0 {
		batch = time.Second
	}
	res := resource.NewSchemaless(
		attribute.String("service.name", "gust"),
		attribute.String("cloud.provider", "aws"),
		attribute.String("cloud.platform", "aws_lambda"),
		attribute.String("cloud.region", opts.Region),
	)
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(batch)),
		sdktrace.WithResource(res),
		sdktrace.WithIDGenerator(xrayIDs{}),
		// Every invocation is exported: the collector samples if it wants.
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
	)
	return &Tracer{provider: tp, tracer: tp.Tracer("gust/internal/tracing"), region: opts.Region}, nil
}

// Shutdown sends the spans still buffered and stops the exporter.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	if err := t.provider.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing shutdown: %w", err)
	}
	return nil
}

// tracesURL turns a collector base URL into its traces endpoint.
func tracesURL(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("otlp endpoint %q: want an http:// or https:// URL", endpoint)
	}
	if !strings.HasSuffix(u.Path, "/v1/traces") {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/traces"
	}
	return u.String(), nil
}

// rootIDs carries the ids an invocation's root span must have: the X-Ray
// Root and the segment id the runtime was given.
type rootIDs struct {
	trace trace.TraceID
	span  trace.SpanID
}

type rootIDsKey struct{}

// xrayIDs gives root spans the ids placed in their context, so
// OpenTelemetry and X-Ray name the same trace; other spans get random ids.
type xrayIDs struct{}

func (xrayIDs) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	if ids, ok := ctx.Value(rootIDsKey{}).(rootIDs); ok && ids.trace.IsValid() && ids.span.IsValid() {
		return ids.trace, ids.span
	}
	var tid trace.TraceID
	for !tid.IsValid() {
		_, _ = rand.Read(tid[:])
	}
	return tid, xrayIDs{}.NewSpanID(ctx, tid)
}

func (xrayIDs) NewSpanID(context.Context, trace.TraceID) trace.SpanID {
	var sid trace.SpanID
	for !sid.IsValid() {
		_, _ = rand.Read(sid[:])
	}
	return sid
}
