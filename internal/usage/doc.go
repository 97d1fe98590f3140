// Package usage meters invocations durably and answers what they cost.
//
// A Meter is an envpool.Observer: for every REPORT line the pool writes it
// publishes one compact Record (time, function, version, request id,
// billed milliseconds, memory, GB-seconds, architecture, error) to the
// JetStream stream GUST_USAGE, subject gust.usage.<function>, kept with
// limits retention for Options.MaxAge (400 days by default). A message
// holds the records of one function as JSON lines: one record, unless
// invocations end faster than the stream stores messages, when the
// records waiting are stored together. Query reads
// the stream back and totals it by function or by UTC day; Costs prices
// the totals at AWS Lambda's list prices, before and after the monthly
// free tier.
//
// Goroutines: Open starts one publisher, which Close stops after it has
// published what was buffered. Invoked never blocks: records wait in a
// bounded buffer (Options.Buffer), and a record that finds it full, or
// that JetStream does not acknowledge, is dropped, counted (Stats) and
// logged.
//
// Invariants: a record is published at most once; Query first waits for
// every record this Meter accepted before the call, so an invocation that
// has answered its caller is in the totals of a later Query on its node.
package usage
