// Package api serves Gust's AWS-compatible HTTP APIs: the Lambda REST
// routes (one file per operation, one route table in routes.go), SigV4
// verification of every request, and AWS error rendering. CloudWatch Logs
// requests (JSON 1.1, X-Amz-Target) are verified here and handed to the
// logs handler.
//
// Handlers return errors; one adapter renders them as X-Amzn-ErrorType
// plus {"Type","Message"}. The package starts no goroutines; net/http runs
// the handlers.
package api
