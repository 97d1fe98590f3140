// Package brokers defines what the event source mapping pollers need from
// a message broker, and nothing else: a queue to receive and settle
// messages from (SQS semantics) and a stream to read records from in order
// (Kinesis semantics). The subpackages adapt RabbitMQ, NATS JetStream and
// Redis Streams to these types; each imports only its client library.
package brokers

import (
	"context"
	"fmt"
	"time"
)

// Queue receives messages from one queue for one consumer. It is used by
// one goroutine at a time for Receive; Ack and Retry of the messages it
// returned may be called from any goroutine.
type Queue interface {
	// Receive waits until at least one message is available or ctx ends
	// (then it returns ctx's error), and returns up to max messages that
	// are available without waiting further. A message is hidden from
	// other consumers until it is settled; one never settled (the
	// process died) is delivered again by the broker, so nothing is lost.
	Receive(ctx context.Context, max int) ([]*Message, error)
	// Close stops receiving; unsettled messages go back to the broker.
	Close() error
}

// Message is one message taken from a Queue.
type Message struct {
	// ID is stable across redeliveries of the same message: the SQS
	// messageId and the itemIdentifier of a partial batch response.
	ID   string
	Body []byte
	// ReceiveCount is how often the message has been delivered,
	// including this time (1 on the first delivery).
	ReceiveCount int
	// SentAt is when the broker first accepted the message; zero when the
	// broker does not say.
	SentAt time.Time
	// Attributes are the message's headers as strings (SQS
	// messageAttributes), nil if none.
	Attributes map[string]string
	// AMQP holds RabbitMQ's properties, for the Amazon MQ event shape;
	// nil from other brokers.
	AMQP *AMQPProperties

	// Settle is how the adapter that made the message acknowledges it.
	Settle Settler
}

// Settler settles one message.
type Settler interface {
	// Ack removes the message from the queue for good.
	Ack() error
	// Retry makes the message available again after delay (the source's
	// visibility timeout), counting one more receive. Where the adapter
	// enforces the source's receive limit itself, a message at its limit
	// is dead-lettered instead.
	Retry(delay time.Duration) error
}

// Ack acknowledges m; see Settler.
func (m *Message) Ack() error { return m.Settle.Ack() }

// Retry returns m to the queue; see Settler.
func (m *Message) Retry(delay time.Duration) error { return m.Settle.Retry(delay) }

// AMQPProperties are the basic properties of an AMQP 0-9-1 message, as the
// Amazon MQ for RabbitMQ event carries them.
type AMQPProperties struct {
	ContentType     string
	ContentEncoding string
	Headers         map[string]any
	DeliveryMode    uint8
	Priority        uint8
	CorrelationID   string
	ReplyTo         string
	Expiration      string
	MessageID       string
	Timestamp       time.Time
	Type            string
	UserID          string
	AppID           string
	Redelivered     bool
	Queue           string
}

// Stream reads the records of one stream in order, from a position given
// when it was opened.
type Stream interface {
	// Read waits until at least one record past the last one returned is
	// available or ctx ends (then it returns ctx's error), and returns up
	// to max records in stream order without waiting further.
	Read(ctx context.Context, max int) ([]Record, error)
	// Close releases the reader.
	Close() error
}

// Record is one record of a Stream.
type Record struct {
	// Seq is the record's position: a string of decimal digits of fixed
	// width for a given stream, so that comparing two as strings orders
	// them as the stream does (see SeqUint).
	Seq          string
	PartitionKey string
	Data         []byte
	Arrival      time.Time
}

// StartAt says where a Stream starts reading.
type StartAt struct {
	// After, when not empty, is a Seq: reading starts just past it. It
	// wins over the fields below (a checkpoint).
	After string
	// Position is "TRIM_HORIZON" (the oldest record kept), "LATEST"
	// (only records added after opening) or "AT_TIMESTAMP".
	Position  string
	Timestamp time.Time // for AT_TIMESTAMP
}

// SeqUint renders a 64-bit sequence number as a Seq (20 digits).
func SeqUint(n uint64) string { return fmt.Sprintf("%020d", n) }

// Confirmer is a Stream whose broker keeps the reader's position itself
// and needs to be told what is done (a PostgreSQL replication slot). A
// stream engine calls Confirm after it has saved a checkpoint at seq, so
// the broker may discard everything up to seq; what was read but not
// confirmed is read again after a reopen.
type Confirmer interface {
	// Confirm reports every record up to seq as processed. It is
	// idempotent, and a seq below one already confirmed changes nothing.
	Confirm(ctx context.Context, seq string) error
}
