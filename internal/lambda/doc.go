// Package lambda is Gust's domain vocabulary: functions and their
// configuration, ARNs and qualifiers, the limits AWS Lambda enforces, the
// runtimes Gust knows, and the catalog of wire errors.
//
// It imports nothing internal and starts no goroutines. Every error that
// reaches an AWS-compatible wire is an *Error built from this package's
// catalog, so call sites never invent exception names or status codes.
package lambda
