// Package jsbroker adapts NATS JetStream to the brokers types, for event
// source mappings on a NATS server the user runs.
//
// A Queue is a durable pull consumer (explicit acks, AckWait, MaxDeliver)
// shared by competing Queues: Receive pulls one message, waiting, then
// whatever more is available at once; Retry is a Nak with delay, or, at
// the receive limit with a dead-letter subject, a JetStream publish there
// followed by Term. While a message is unsettled the Queue's one
// goroutine sends the server "in progress" every AckWait/3, so a long
// invocation does not see its message delivered twice; Close stops it,
// and the server redelivers what was left unsettled after AckWait.
//
// A Stream is an ordered consumer read in stream order; the subject is
// the partition key and the stream sequence, as brokers.SeqUint, the Seq.
// It acks nothing: the caller keeps its checkpoints and reopens with
// StartAt.After. The client library runs the consumer's goroutines.
//
// Both own their NATS connection. Its URL may hold credentials, so no
// error repeats it. A lost connection ends Receive or Read with
// ErrDisconnected within a few seconds; the caller opens anew.
package jsbroker
