package esm

import (
	"context"
	"time"

	"gust/internal/lambda"
)

// Brokers a source can name.
const (
	BrokerRabbitMQ = "rabbitmq"
	BrokerNATS     = "nats"
	BrokerRedis    = "redis"
)

// Semantics of a source: how a mapping consumes it and the event shape.
const (
	SemanticsQueue  = "queue"  // SQS: competing consumers, per-message ack; ARN arn:aws:sqs:…:<name>
	SemanticsStream = "stream" // Kinesis: ordered shards, checkpoints; ARN arn:aws:kinesis:…:stream/<name>
)

// Source binds a broker queue or stream to an AWS-style ARN, so that
// CreateEventSourceMapping can name it. URL carries the broker's
// credentials: it is a secret, never returned by the API nor logged (see
// Source.Redacted).
type Source struct {
	Name      string `json:"name"`
	Broker    string `json:"broker"`    // BrokerRabbitMQ, BrokerNATS or BrokerRedis
	URL       string `json:"url"`       // amqp://, nats://, redis:// with credentials
	Semantics string `json:"semantics"` // SemanticsQueue or SemanticsStream
	// Queue is the RabbitMQ queue (default: Name).
	Queue string `json:"queue,omitempty"`
	// Stream is the JetStream stream name or the Redis stream key
	// (default: Name).
	Stream string `json:"stream,omitempty"`
	// Subject filters a JetStream source's subjects (default: all of the
	// stream's).
	Subject string `json:"subject,omitempty"`
	// Shards is the number of shards a stream source's records are
	// spread over by partition key (default 1).
	Shards int `json:"shards,omitempty"`
	// VisibilityTimeoutMillis is how long a failed message of a queue
	// source stays hidden before it is received again (default 30 s, as
	// SQS).
	VisibilityTimeoutMillis int64 `json:"visibilityTimeoutMillis,omitempty"`
	// MaxReceiveCount and DeadLetter are a NATS or Redis queue source's
	// redrive policy: a message received that many times and failed again
	// moves to DeadLetter (a subject or stream key). RabbitMQ queues use
	// their own delivery limit and dead-letter exchange.
	MaxReceiveCount int    `json:"maxReceiveCount,omitempty"`
	DeadLetter      string `json:"deadLetter,omitempty"`
	// BrokerID is a random id in the Amazon MQ broker ARN of a RabbitMQ
	// source.
	BrokerID string    `json:"brokerId,omitempty"`
	Created  time.Time `json:"created"`
}

// VisibilityTimeout is the source's visibility timeout in force.
func (src *Source) VisibilityTimeout() time.Duration {
	if src.VisibilityTimeoutMillis <= 0 {
		return 30 * time.Second
	}
	return time.Duration(src.VisibilityTimeoutMillis) * time.Millisecond
}

// ARN is the source's SQS or Kinesis ARN.
func (src *Source) ARN(id lambda.Identity) string {
	if src.Semantics == SemanticsStream {
		return "arn:aws:kinesis:" + id.Region + ":" + id.Account + ":stream/" + src.Name
	}
	return "arn:aws:sqs:" + id.Region + ":" + id.Account + ":" + src.Name
}

// MQARN is a RabbitMQ source's Amazon MQ broker ARN ("" for others): a
// mapping naming it gets the aws:rmq event shape, its Queues naming the
// queue.
func (src *Source) MQARN(id lambda.Identity) string {
	if src.Broker != BrokerRabbitMQ {
		return ""
	}
	return "arn:aws:mq:" + id.Region + ":" + id.Account + ":broker:" + src.Name + ":b-" + src.BrokerID
}

// sourceByARN returns the source an event source ARN names (SQS, Kinesis
// or Amazon MQ form), or a ResourceNotFound / InvalidParameterValue
// *lambda.Error.
func (s *Service) sourceByARN(ctx context.Context, arn string) (*Source, error) {
	panic("TODO")
}
