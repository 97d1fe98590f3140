// Package tracing owns Gust's two views of an invocation's trace: the
// X-Ray trace header (X-Amzn-Trace-Id, which reaches the runtime as
// Lambda-Runtime-Trace-Id and _X_AMZN_TRACE_ID) and the optional
// OpenTelemetry export of one trace per invocation over OTLP/HTTP.
//
// The two share their ids: an invocation's OpenTelemetry trace id is the
// 32 hex digits of its X-Ray Root, and its root span id is the Parent the
// runtime is given (and the SegmentId of Lambda's XRAY log line), so a
// trace found in one system is found in the other.
//
// A nil *Tracer, the one Gust uses when no OTLP endpoint is configured,
// installs no SDK and records nothing; every method of it and of the
// *Invocation it returns is a no-op. An enabled Tracer owns the SDK's
// batch span processor goroutine until Shutdown. Nothing here touches
// OpenTelemetry's global providers.
package tracing
