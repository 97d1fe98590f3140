package esm

import (
	"context"

	"gust/internal/brokers"
	"gust/internal/brokers/jsbroker"
	"gust/internal/brokers/pgstream"
	"gust/internal/brokers/rabbitmq"
	"gust/internal/brokers/redisbroker"
	"gust/internal/lambda"
)

// maxPrefetch caps the messages a RabbitMQ consumer holds unacknowledged.
const maxPrefetch = 2000

// openQueue connects to a queue source for mapping m. Every mapping of a
// source consumes as one group (one durable consumer, one consumer
// group), so mappings of the same source compete for its messages as
// Lambda's do for an SQS queue.
func (s *Service) openQueue(ctx context.Context, m *lambda.EventSourceMapping, src *Source) (brokers.Queue, error) {
	group := "gust-" + src.Name
	switch src.Broker {
	case BrokerRabbitMQ:
		queue := src.Queue
		if m.EventSourceArn == src.MQARN(s.id) && len(m.Queues) > 0 {
			queue = m.Queues[0]
		}
		return rabbitmq.Open(ctx, rabbitmq.Config{URL: src.URL, Queue: queue,
			Prefetch: prefetch(m), ConsumerTag: "gust-" + s.nodeID() + "-" + m.UUID})
	case BrokerNATS:
		return jsbroker.OpenQueue(ctx, jsbroker.QueueConfig{URL: src.URL, Stream: src.Stream, Subject: src.Subject,
			Durable: group, AckWait: src.VisibilityTimeout(), MaxReceive: src.MaxReceiveCount, DeadLetterSubject: src.DeadLetter})
	case BrokerRedis:
		return redisbroker.OpenQueue(ctx, redisbroker.QueueConfig{URL: src.URL, Stream: src.Stream, Group: group,
			Consumer: s.nodeID() + "-" + m.UUID, ClaimIdle: src.VisibilityTimeout(),
			MaxReceive: src.MaxReceiveCount, DeadLetterStream: src.DeadLetter})
	}
	return nil, lambda.KindInvalidParameterValue.Errorf("Source %s names an unsupported broker %q.", src.Name, src.Broker)
}

// prefetch is how many messages a consumer may hold: enough for every
// batch the mapping may run at once.
func prefetch(m *lambda.EventSourceMapping) int {
	batch, conc := 10, 1000
	if m.BatchSize != nil {
		batch = *m.BatchSize
	}
	if m.ScalingConfig != nil && m.ScalingConfig.MaximumConcurrency != nil {
		conc = *m.ScalingConfig.MaximumConcurrency
	}
	return min(batch*conc, maxPrefetch)
}

// openStream opens a reader of a stream source from start. A PostgreSQL
// source's reader is its replication slot's only one (see pgstream).
func (s *Service) openStream(ctx context.Context, src *Source, start brokers.StartAt) (brokers.Stream, error) {
	switch src.Broker {
	case BrokerNATS:
		return jsbroker.OpenStream(ctx, jsbroker.StreamConfig{URL: src.URL, Stream: src.Stream, Subject: src.Subject, Start: start})
	case BrokerRedis:
		return redisbroker.OpenStream(ctx, redisbroker.StreamConfig{URL: src.URL, Stream: src.Stream, Start: start})
	case BrokerPostgres:
		if start.After == "" && start.Position == lambda.StartAtTimestamp {
			return nil, lambda.KindInvalidParameterValue.Errorf("Source %s is a DynamoDB stream: start at TRIM_HORIZON or LATEST, not AT_TIMESTAMP.", src.Name)
		}
		return pgstream.Open(ctx, pgstream.Config{URL: src.URL, Tables: src.Tables, ViewType: src.StreamViewType,
			Slot: src.Slot, Publication: src.Publication, Start: start,
			Logger: s.log.With("source", src.Name, "slot", src.Slot)})
	}
	return nil, lambda.KindInvalidParameterValue.Errorf("Source %s names a broker without streams %q.", src.Name, src.Broker)
}
