// Package asyncq runs Event (asynchronous) invocations with Lambda's
// semantics: an event is acknowledged (202) only once it is stored in a
// JetStream stream, it is delivered at least once with the same request id
// on every attempt, function errors are retried MaximumRetryAttempts times
// about RetryBase and then 2×RetryBase apart, throttles and platform faults
// are retried with exponential backoff until MaximumEventAgeInSeconds, and
// the outcome goes to the configured destinations or dead-letter queue.
//
// Layout in JetStream:
//
//	stream GUST_ASYNC  subjects gust.async.<function>  work-queue retention
//	  one durable pull consumer per function (fn_<function>), so a flood to
//	  one function never delays another's events
//	stream GUST_DLQ    subjects gust.dlq.<queue>       Gust's dead-letter
//	  queues, named as SQS ARNs (arn:aws:sqs:<region>:<account>:<queue>)
//
// A retry after a function error is a new message carrying the attempt
// count and a not-before time, published before the old one is acked (so a
// crash in between yields a duplicate, never a loss). A message whose time
// has not come is negatively acknowledged with the remaining delay. Every
// node runs a worker for every function's consumer, so several Gust nodes
// on one NATS cluster share the work.
package asyncq
