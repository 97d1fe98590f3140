// Package rabbitmq adapts a RabbitMQ queue (AMQP 0-9-1, quorum or classic)
// to brokers.Queue: messages are acknowledged only once settled, and a
// retried message goes back to the broker, which counts its deliveries and
// dead-letters it past the queue's delivery limit.
package rabbitmq
