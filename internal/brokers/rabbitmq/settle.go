package rabbitmq

import (
	"fmt"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// settler settles one delivery on the channel that received it. Delivery
// tags belong to a channel, and each Queue has its own, so a tag never
// reaches the wrong channel.
type settler struct {
	q   *Queue
	tag uint64
	// settled guards against settling twice: the broker answers an
	// unknown delivery tag by closing the whole channel.
	settled atomic.Bool
}

// Ack acknowledges the delivery: the broker drops the message for good.
// It returns ErrSettled if the message was already acked or retried,
// ErrClosed after Close, and an error once the channel is gone (the
// broker then delivers the message again).
func (s *settler) Ack() error {
	if !s.settled.CompareAndSwap(false, true) {
		return ErrSettled
	}
	if s.q.isClosing() {
		return ErrClosed
	}
	if err := s.q.ch.Ack(s.tag, false); err != nil {
		return fmt.Errorf("rabbitmq: ack message: %w", err)
	}
	return nil
}

// Retry rejects the delivery with requeue after delay, without blocking
// the caller: the broker counts the delivery (x-delivery-count on a
// quorum queue) and, past the queue's x-delivery-limit, dead-letters the
// message instead of requeueing it. A failure of the delayed reject is
// logged, not returned; the broker redelivers the message anyway when the
// channel closes. Close cancels pending retries.
func (s *settler) Retry(delay time.Duration) error {
	if !s.settled.CompareAndSwap(false, true) {
		return ErrSettled
	}
	q := s.q
	if q.isClosing() {
		return ErrClosed
	}
	if q.ch.IsClosed() {
		return fmt.Errorf("rabbitmq: retry message: %w: %w", ErrDisconnected, amqp.ErrClosed)
	}
	if delay <= 0 {
		return q.requeue(s.tag)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closing {
		return ErrClosed
	}
	q.wg.Add(1)
	tag := s.tag
	q.timers[tag] = time.AfterFunc(delay, func() { q.retryDue(tag) })
	return nil
}

// retryDue runs when a Retry delay has passed, unless Close stopped it
// first.
func (q *Queue) retryDue(tag uint64) {
	defer q.wg.Done()
	q.mu.Lock()
	_, pending := q.timers[tag]
	delete(q.timers, tag)
	q.mu.Unlock()
	if !pending {
		return // Close got there first; the channel close requeues it
	}
	if err := q.requeue(tag); err != nil {
		q.log.Warn("delayed retry failed; the broker redelivers the message when the channel closes",
			"delivery_tag", tag, "err", err)
	}
}

// requeue rejects one delivery with requeue.
func (q *Queue) requeue(tag uint64) error {
	if err := q.ch.Nack(tag, false, true); err != nil {
		return fmt.Errorf("rabbitmq: retry message: %w", err)
	}
	return nil
}
