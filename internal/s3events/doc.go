// Package s3events delivers object-store notifications to functions as
// S3 does: S3-compatible stores (MinIO, versitygw, Ceph RGW) post their
// bucket events to Gust's webhook, which normalizes each vendor's
// almost-S3 payload to AWS's exact S3 event, matches it against the
// bucket's LambdaFunctionConfigurations (event types, prefix and suffix
// filters) kept in the "<prefix>_s3events" KV bucket, checks the
// function's resource policy allows s3.amazonaws.com, and invokes the
// function asynchronously (the async queue's retries and destinations).
//
// What it owns: the configurations (key bucket.<name>, S3's
// NotificationConfiguration as JSON) and the webhook key (key
// webhook-key, 32 random bytes created once by whichever node opens the
// bucket first). The webhook's path token is an HMAC derived from that
// key, so every node and every restart serves the same URL.
//
// Invariants:
//   - every event a function receives decodes into aws-lambda-go's
//     events.S3Event with unknown fields disallowed: eventVersion 2.1,
//     eventSource aws:s3, eventName without "s3:", keys form-encoded as
//     S3 encodes them ('+' for a space, '/' kept), the bucket ARN
//     arn:aws:s3:::<bucket>, an unquoted eTag and a sequencer;
//   - saving a configuration checks, as S3 does, that each function lets
//     s3.amazonaws.com invoke it for the bucket; each delivery checks
//     again, and a refusal is counted and logged, not invoked;
//   - Deliver returns only after every invocation it reports is queued
//     durably, so the webhook answers 2xx only then and 5xx on a platform
//     fault, which makes the store retry.
//
// It starts no goroutines: configurations are read from the bucket when
// an event arrives, so a change on any node applies to the next event.
package s3events
