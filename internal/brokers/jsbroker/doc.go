// Package jsbroker adapts NATS JetStream to the brokers types: a durable
// pull consumer as a brokers.Queue (AckWait, MaxDeliver, Nak with delay)
// and an ordered read of a stream as a brokers.Stream (the subject is the
// partition key).
package jsbroker
