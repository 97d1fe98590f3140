package redisbroker

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// settleTimeout bounds one settle's Redis round trips; Settler methods
// take no ctx.
const settleTimeout = 10 * time.Second

// settler settles one message of a Queue. The first settle wins; the
// message stops being refreshed whatever Redis answers, so one whose
// settle failed is delivered again after ClaimIdle.
type settler struct {
	q            *Queue
	id           string
	fields       map[string]string
	receiveCount int
	settled      atomic.Bool
}

// Ack acknowledges the message (XACK). The entry stays in the stream for
// other groups.
func (s *settler) Ack() error {
	if err := s.begin(); err != nil {
		return err
	}
	defer s.q.held.settleMu.RUnlock()
	ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
	defer cancel()
	if err := s.q.client.XAck(ctx, s.q.cfg.Stream, s.q.cfg.Group, s.id).Err(); err != nil {
		return fmt.Errorf("ack %s in %s: %w", s.id, s.q.cfg.Stream, err)
	}
	return nil
}

// Retry makes the message claimable by any consumer of the group after
// delay, or dead-letters it when this was its MaxReceive-th receive and
// there is a DeadLetterStream.
func (s *settler) Retry(delay time.Duration) error {
	cfg := s.q.cfg
	if cfg.MaxReceive > 0 && cfg.DeadLetterStream != "" && s.receiveCount >= cfg.MaxReceive {
		return s.deadLetter()
	}
	delay = max(delay, 0)
	if delay > cfg.ClaimIdle {
		// Redis cannot make an entry idle for less than zero, so the
		// heartbeat keeps it until ClaimIdle before the delay ends.
		if !s.settled.CompareAndSwap(false, true) {
			return s.alreadySettled()
		}
		s.q.held.holdUntil(s.id, time.Now().Add(delay))
		return nil
	}
	if err := s.begin(); err != nil {
		return err
	}
	defer s.q.held.settleMu.RUnlock()
	ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
	defer cancel()
	lost, err := s.q.setIdle(ctx, cfg.ClaimIdle-delay, []string{s.id})
	if err != nil {
		return fmt.Errorf("retry %s in %s: %w", s.id, cfg.Stream, err)
	}
	if len(lost) > 0 {
		logger().Warn("retried message already taken by another consumer", "stream", cfg.Stream, "id", s.id)
	}
	return nil
}

// deadLetter copies the message to the dead-letter stream and
// acknowledges it, in one transaction.
func (s *settler) deadLetter() error {
	if err := s.begin(); err != nil {
		return err
	}
	defer s.q.held.settleMu.RUnlock()
	cfg := s.q.cfg
	ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
	defer cancel()
	_, err := s.q.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.XAdd(ctx, &redis.XAddArgs{
			Stream: cfg.DeadLetterStream,
			Values: deadLetterValues(s.fields, cfg.Stream, s.id),
		})
		p.XAck(ctx, cfg.Stream, cfg.Group, s.id)
		return nil
	})
	if err != nil {
		return fmt.Errorf("dead-letter %s from %s to %s: %w", s.id, cfg.Stream, cfg.DeadLetterStream, err)
	}
	return nil
}

// begin marks the message settled and stops its heartbeat; on success
// the caller holds settleMu for reading until its Redis call returned.
func (s *settler) begin() error {
	if !s.settled.CompareAndSwap(false, true) {
		return s.alreadySettled()
	}
	s.q.held.settleMu.RLock()
	s.q.held.drop(s.id)
	return nil
}

func (s *settler) alreadySettled() error {
	return fmt.Errorf("settle %s in %s: already settled", s.id, s.q.cfg.Stream)
}
