// Package metrics owns Gust's Prometheus metrics: a private registry (never
// the global one) holding
//
//   - counters and histograms fed by the environment pool as an
//     envpool.Observer, one series per function and version: invocations,
//     errors by type, throttles by reason, duration, billed duration, cold
//     starts and init duration;
//   - in-flight invocations per function and version, counted by the pool
//     wrapper TrackPool returns;
//   - values read when a scrape arrives: environments by state, provisioned
//     concurrency utilization, async queue depth, in-flight events, oldest
//     event age and counters, and the bytes JetStream stores;
//   - the Go runtime and process collectors.
//
// Handler serves them in the Prometheus exposition formats; the API puts
// it behind SigV4 and the server may also serve it on a separate
// unauthenticated listener.
//
// Goroutines: none. Invoked and Throttled run on the invoking goroutine and
// only update counters (no I/O, no lock held across calls); every read of
// the store, the pool or JetStream happens inside a scrape, bounded by the
// scrape request's context and ScrapeTimeout.
//
// Invariants: series are bounded by the functions that exist. A scrape
// drops every series of a function the store no longer lists, unless the
// function was observed after the listing began (it may have just been
// created); an invocation of a deleted function that was still running
// when it was deleted is dropped by the scrape after it ends.
package metrics
