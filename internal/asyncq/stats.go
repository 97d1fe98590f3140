package asyncq

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Counters count what happened to one function's events on this node
// since it started. Names follow CloudWatch's Lambda metrics where one
// exists.
type Counters struct {
	AsyncEventsReceived         int64 `json:"AsyncEventsReceived"`
	Succeeded                   int64 `json:"Succeeded"`
	FunctionErrors              int64 `json:"FunctionErrors"`
	Retried                     int64 `json:"Retried"`
	Throttled                   int64 `json:"Throttled"`
	DeadLettered                int64 `json:"DeadLettered"`
	AsyncEventsDropped          int64 `json:"AsyncEventsDropped"`
	DeadLetterErrors            int64 `json:"DeadLetterErrors"`
	DestinationDeliveryFailures int64 `json:"DestinationDeliveryFailures"`
	RecursiveInvocationsDropped int64 `json:"RecursiveInvocationsDropped"`
}

// Stats is one function's queue state.
type Stats struct {
	Function string `json:"Function"`
	// Queued events have not been handed to a worker yet.
	Queued uint64 `json:"Queued"`
	// InFlight events are running or waiting for their next retry.
	InFlight int `json:"InFlight"`
	// AsyncEventAge is the age in milliseconds of the oldest event still
	// queued or in flight (0 when there is none).
	AsyncEventAge int64 `json:"AsyncEventAge"`
	Counters
}

// count applies f to the function's counters under the queue's lock.
func (q *Queue) count(function string, f func(*Counters)) {
	q.mu.Lock()
	c := q.counters[function]
	if c == nil {
		c = new(Counters)
		q.counters[function] = c
	}
	f(c)
	q.mu.Unlock()
}

// Stats reports one function's queue state.
func (q *Queue) Stats(ctx context.Context, function string) (Stats, error) {
	s := Stats{Function: function}
	q.mu.Lock()
	if c := q.counters[function]; c != nil {
		s.Counters = *c
	}
	q.mu.Unlock()
	cons, err := q.events.Consumer(ctx, consumerPrefix+function)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("async stats of %s: %w", function, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return s, fmt.Errorf("async stats of %s: %w", function, err)
	}
	s.Queued = info.NumPending
	s.InFlight = info.NumAckPending
	// Under work-queue retention the first message left on the subject is
	// the oldest not yet finished; a retried event keeps its first accept
	// time, so its age is read from the header.
	first, err := q.events.GetMsg(ctx, 1, jetstream.WithGetMsgSubject(subject(function)))
	if err == nil {
		if ms := parseMillis(first.Header.Get(hdrEnqueued)); ms > 0 {
			s.AsyncEventAge = time.Since(time.UnixMilli(ms)).Milliseconds()
		}
	} else if !errors.Is(err, jetstream.ErrMsgNotFound) {
		return s, fmt.Errorf("async stats of %s: %w", function, err)
	}
	return s, nil
}
