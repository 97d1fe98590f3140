// Package invoke is the invocation service: it resolves a FunctionName and
// qualifier to a function version, checks payload limits, takes an
// execution environment from the pool (throttling when concurrency is used
// up), runs the invocation and shapes the answer the way Lambda's Invoke
// API does, including the log tail.
//
// It starts no goroutines of its own. Function configurations are cached
// in memory so a warm invoke does no store round trip; Forget drops a
// function from the cache when it changes.
package invoke
