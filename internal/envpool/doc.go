// Package envpool owns execution environments: per-version pools that
// cold-start an environment when no warm one is idle, reuse warm ones one
// invocation at a time, scale out by one environment per concurrent
// invocation, reap idle ones, back off crash-looping inits, and cap busy
// environments at each function's reserved concurrency and the account's
// unreserved concurrency.
//
// An environment (Env) is a runtime process tree started through the
// sandbox package, its private Runtime API server, and its log stream.
// Goroutines: the Manager's reaper (stopped by Close); per environment,
// one that drains its output pipe and one that waits for its process.
// Invariants: an environment is idle or busy, never both; one that failed
// (timeout, crash, exit) is never handed out again; Close stops every
// process the Manager started.
package envpool
