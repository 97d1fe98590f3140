// Package s3events delivers object-store notifications to functions as
// S3 does: S3-compatible stores (MinIO, versitygw, Ceph RGW) post their
// bucket events to Gust's webhook, which normalizes each vendor's
// almost-S3 payload to AWS's exact S3 event, matches it against the
// bucket's LambdaFunctionConfigurations (event types, prefix and suffix
// filters) kept in the "<prefix>_s3events" KV bucket, checks the
// function's resource policy allows s3.amazonaws.com, and invokes the
// function asynchronously (the async queue's retries and destinations).
package s3events
