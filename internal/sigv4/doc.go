// Package sigv4 verifies AWS Signature Version 4 (AWS4-HMAC-SHA256) on
// incoming HTTP requests, in both the Authorization-header form that the AWS
// CLI and SDKs send and the presigned query form (X-Amz-Algorithm,
// X-Amz-Credential, X-Amz-Signature, …) used for shareable URLs.
//
// It owns the canonical-request rules of docs/lambda-compat.md §8: the
// escaped path encoded a second time (non-S3 services), the canonical query
// string, the canonical form of exactly the headers the client listed in
// SignedHeaders, and the payload hash. It does not decide which service or
// region a request may use: Verify returns the credential scope as a
// Principal and the caller checks it. Temporary credentials are the
// caller's business too: the session token (the X-Amz-Security-Token
// header, or the query parameter of that name in the presigned form) goes
// to Secret along with the access key id, which decides whether the pair
// is valid, and comes back in the Principal.
//
// The package starts no goroutines and keeps no state between calls; a
// Verifier is safe for concurrent use as long as its Secret and Now funcs
// are. Invariants: Verify never reads or replaces r.Body, never panics on
// hostile input, and every error it returns is a *lambda.Error of kind
// InvalidSignature or UnrecognizedClient.
package sigv4
