// Package esm runs event source mappings: Lambda's poll-based invocation.
// It keeps mappings and the broker sources they name in the
// "<prefix>_esm" JetStream KV bucket, answers the mapping operations of the
// Lambda API, and on every node runs one poller per enabled mapping that
// reads batches from RabbitMQ, NATS JetStream, Redis or PostgreSQL logical
// replication (internal/brokers), shapes them as SQS, Amazon MQ, Kinesis
// or DynamoDB Streams events, and invokes the
// function synchronously with Lambda's batching, filtering, partial-batch
// and retry rules.
//
// Files: esm.go (the service and its dependencies), mappings*.go (the API
// operations and their storage), sources.go (broker sources bound to
// ARNs), manager.go (which mapping runs where, state and reconnects),
// lease.go (one node at a time per stream mapping), open.go (broker
// adapters per source), queue.go (SQS semantics), stream.go and
// checkpoint.go (Kinesis semantics), filter.go (FilterCriteria),
// shape_*.go (event shapes), batch_response.go (partial batch responses).
package esm
