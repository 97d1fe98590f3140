// Package rabbitmq adapts a RabbitMQ queue (AMQP 0-9-1, quorum or classic)
// to brokers.Queue: messages are acknowledged only once settled, and a
// retried message goes back to the broker, which counts its deliveries and
// dead-letters it past the queue's delivery limit.
//
// A Queue owns one connection and one channel, consuming with manual
// acknowledgements and a QoS prefetch (default 10). It starts one
// goroutine, the pump, which moves deliveries into a buffer of prefetch
// size for Receive, and one timer per pending Retry; Close stops them all
// and waits for them. There is no automatic reconnection: once the
// connection, the channel or the consumer is gone, Receive returns an
// error wrapping ErrDisconnected and the caller opens a new Queue. A dead
// peer is noticed through AMQP heartbeats (10 s) even when no TCP reset
// arrives.
//
// Delivery counting, as observed on RabbitMQ 3.10: a quorum queue leaves
// x-delivery-count out of a message's first delivery and sets it to n on
// the (n+1)th, so ReceiveCount is the header plus one. Both a
// nack-requeue (Retry) and a channel closing with the message unsettled
// (Close, a crash) count. With x-delivery-limit L the broker dead-letters
// a message returned after its (L+1)th delivery, so SQS's maxReceiveCount
// N corresponds to x-delivery-limit N-1. A classic queue has no counter;
// its ReceiveCount is 1, or 2 once the message was redelivered.
//
// Message ids: the message-id property when the publisher set one;
// otherwise a version 8 UUID hashed from the body, the headers (less the
// delivery counters), the other properties and the exchange and routing
// key, so it is stable across redeliveries. Messages published with
// identical content and properties and no distinguishing timestamp share
// an id; publishers that need them apart set message-id.
//
// Attributes carry every header rendered as a string except
// x-delivery-count, which ReceiveCount already states from 1; AMQP.Headers
// keeps every header as the broker sent it.
//
// The broker URL holds credentials: it is never logged, and errors name
// the broker by host:port only. Logs go to slog.Default with
// component=rabbitmq.
package rabbitmq
