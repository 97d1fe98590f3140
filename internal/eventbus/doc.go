// Package eventbus is Gust's EventBridge: event buses, rules and Lambda
// targets served through the EventBridge JSON 1.1 API (X-Amz-Target
// AWSEvents.*), delivery of matching PutEvents entries to Lambda functions,
// and a scheduler that fires schedule rules.
//
// # Storage
//
// Buses, rules and targets live in the JetStream KV bucket
// "<prefix>_events" (see records.go for the keys): a rule and its targets
// are one record, so every change to a rule is one compare-and-set and
// several Gust nodes may share the bucket. The default bus always exists
// and is never stored. Each node keeps the bucket in memory (cache.go),
// kept current by a bucket watch, so PutEvents matches rules without a
// round trip; the node's own writes are applied at once. Describe and
// ListTargetsByRule read the bucket itself.
//
// # Delivery
//
// A PutEvents entry becomes EventBridge's envelope (version "0", id,
// detail-type, source, account, time without milliseconds, region,
// resources, detail); every ENABLED rule of the entry's bus whose pattern
// matches it sends it (or the target's Input, or what its InputPath
// selects) to each target as an Event invocation through Invoker, which is
// Gust's async path: the function's retries, destinations and dead-letter
// queue apply from there. An entry answers only after its deliveries are
// queued. A target the invoke service refuses (a deleted function) is
// logged and skipped, as EventBridge does not fail the event for it.
// Only Lambda function targets are supported; the function's
// resource-based policy is not consulted.
//
// # Schedules
//
// Every node runs a scheduler (Start) that fires each ENABLED rule with a
// ScheduleExpression at its ticks (UTC; rate ticks count from when the
// rule was created, its expression changed or it was enabled), sending
// the Scheduled Event (detail-type "Scheduled Event", source "aws.events",
// resources [rule ARN], detail {}, time = the tick). A tick is fired by
// the node that first claims it with a KV Create of
// tick.<bus>.<rule>.<unix seconds> in the "<prefix>_events_ticks" bucket,
// whose entries expire after an hour: a tick fires once across nodes and
// is not fired again by a node restarted at that instant. Ticks that fall
// while no node runs are missed, not fired late; so are ticks a running
// node gets to more than a minute late. The scheduler sleeps on
// Options.Clock until the next tick and wakes whenever a rule changes on
// any node, so a new rule's first tick is planned at once.
//
// # Goroutines
//
// Open starts one goroutine applying the bucket watch; Start starts the
// scheduler's. Close stops both and waits for them.
package eventbus
