package tracing

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Span names of an invocation's trace.
const (
	SpanQueueWait = "queue wait"          // Event invocations: accepted → this attempt
	SpanAcquire   = "acquire environment" // warm pick or cold start
	SpanInit      = "init"                // the runtime's init, inside acquire, on cold starts
	SpanInvoke    = "invoke"              // the event handed over → the answer
)

// InvocationInfo describes an invocation when its trace starts.
type InvocationInfo struct {
	Function   string
	Version    string // the version that runs
	RequestID  string
	InvokedARN string
	// Trigger is faas.trigger: "http" for an Invoke call, "pubsub" for an
	// Event invocation run from the queue.
	Trigger string
	// Header is the header the runtime gets: its Root is the trace id and
	// its Parent the root span's id.
	Header Header
	// Caller is the Parent the invocation arrived with (the calling
	// invocation's segment, or an async event's), linked when set.
	Caller string
	// Enqueued is when an Event invocation was accepted; zero otherwise.
	Enqueued time.Time
}

// Invocation is one invocation's trace (or an Event invocation's
// acceptance). A nil *Invocation records nothing.
type Invocation struct {
	tracer  trace.Tracer
	ctx     context.Context // holds the root span
	root    trace.Span
	enqueue bool
}

// StartInvocation starts the root span "invoke <function>" now. It
// returns nil when t is nil.
func (t *Tracer) StartInvocation(ctx context.Context, info InvocationInfo) *Invocation {
	if t == nil {
		return nil
	}
	return t.start(ctx, "invoke "+info.Function, trace.SpanKindServer, info)
}

// StartEnqueue starts the root span "enqueue <function>" of an Event
// invocation being accepted; its id is info.Header's Parent, which the
// queued event keeps, so every attempt (and its retries) links to it.
func (t *Tracer) StartEnqueue(ctx context.Context, info InvocationInfo) *Invocation {
	if t == nil {
		return nil
	}
	info.Enqueued = time.Time{}
	inv := t.start(ctx, "enqueue "+info.Function, trace.SpanKindProducer, info)
	inv.enqueue = true
	return inv
}

func (t *Tracer) start(ctx context.Context, name string, kind trace.SpanKind, info InvocationInfo) *Invocation {
	ids := rootIDs{trace: info.Header.TraceID()}
	ids.span, _ = info.Header.ParentSpanID()
	ctx = context.WithValue(context.WithoutCancel(ctx), rootIDsKey{}, ids)
	opts := []trace.SpanStartOption{
		trace.WithNewRoot(),
		trace.WithSpanKind(kind),
		trace.WithAttributes(
			attribute.String("faas.name", info.Function),
			attribute.String("faas.version", info.Version),
			attribute.String("faas.invocation_id", info.RequestID),
			attribute.String("faas.trigger", info.Trigger),
			attribute.String("cloud.region", t.region),
			attribute.String("aws.lambda.invoked_arn", info.InvokedARN),
			attribute.String("aws.xray.trace_header", info.Header.String()),
		),
	}
	if sid, ok := (Header{Parent: info.Caller}).ParentSpanID(); ok && sid.IsValid() {
		opts = append(opts, trace.WithLinks(trace.Link{
			SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
				TraceID: ids.trace, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: true}),
			Attributes: []attribute.KeyValue{attribute.String("gust.link", "caller")},
		}))
	}
	ctx, root := t.tracer.Start(ctx, name, opts...)
	inv := &Invocation{tracer: t.tracer, ctx: ctx, root: root}
	if !info.Enqueued.IsZero() {
		inv.phase(ctx, SpanQueueWait, info.Enqueued, time.Now(), "")
	}
	return inv
}

// Acquired records the environment acquisition that ran from start to
// end, with the runtime's init (initDuration, ending at end) inside it on
// a cold start. errType names a failure, "" if none.
func (i *Invocation) Acquired(start, end time.Time, initDuration time.Duration, errType string) {
	if i == nil {
		return
	}
	ctx := i.phase(i.ctx, SpanAcquire, start, end, errType)
	if initDuration > 0 {
		i.phase(ctx, SpanInit, end.Add(-initDuration), end, errType)
	}
}

// Invoked records the invoke phase, from start to end; errType is the
// function error, "" on success.
func (i *Invocation) Invoked(start, end time.Time, errType string) {
	if i == nil {
		return
	}
	i.phase(i.ctx, SpanInvoke, start, end, errType)
}

// End ends the root span. coldStart is faas.coldstart; errType is the
// invocation's error (function or platform), "" on success.
func (i *Invocation) End(coldStart bool, errType string) {
	if i == nil {
		return
	}
	if !i.enqueue {
		i.root.SetAttributes(attribute.Bool("faas.coldstart", coldStart))
	}
	setError(i.root, errType)
	i.root.End()
}

// phase records a finished child span of ctx's span and returns a context
// holding it.
func (i *Invocation) phase(ctx context.Context, name string, start, end time.Time, errType string) context.Context {
	ctx, s := i.tracer.Start(ctx, name, trace.WithTimestamp(start))
	setError(s, errType)
	s.End(trace.WithTimestamp(end))
	return ctx
}

func setError(s trace.Span, errType string) {
	if errType != "" {
		s.SetAttributes(attribute.String("error.type", errType))
		s.SetStatus(codes.Error, errType)
	}
}
