package asyncq

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"gust/internal/invoke"
	"gust/internal/lambda"
)

// fetchWait is how long one pull request stays open. Events arriving
// meanwhile are delivered at once; the wait only bounds idle polling.
const fetchWait = 30 * time.Second

// worker runs one function's events on this node.
type worker struct {
	q        *Queue
	function string
	cons     jetstream.Consumer
	ctx      context.Context
	stop     context.CancelFunc
	inflight sync.WaitGroup
	running  atomic.Int64  // events being handled
	finished chan struct{} // signalled (without blocking) as each ends
}

func newWorker(q *Queue, function string, cons jetstream.Consumer) *worker {
	ctx, stop := context.WithCancel(q.ctx)
	return &worker{q: q, function: function, cons: cons, ctx: ctx, stop: stop,
		finished: make(chan struct{}, 1)}
}

// run pulls as many events as there are free slots and handles each in
// its own goroutine, until the worker is stopped.
func (w *worker) run() {
	defer w.q.wg.Done()
	for w.ctx.Err() == nil {
		free := w.limit() - int(w.running.Load())
		if free <= 0 {
			select {
			case <-w.ctx.Done():
				return
			case <-w.finished:
			}
			continue
		}
		ctx, cancel := context.WithTimeout(w.ctx, fetchWait)
		batch, err := w.cons.Fetch(free, jetstream.FetchContext(ctx))
		if err != nil {
			cancel()
			if w.ctx.Err() == nil {
				w.q.log.Warn("fetch async events", "function", w.function, "err", err)
				w.pause(time.Second)
			}
			continue
		}
		for m := range batch.Messages() {
			w.running.Add(1)
			w.inflight.Add(1)
			go func() {
				defer func() {
					w.running.Add(-1)
					w.inflight.Done()
					select {
					case w.finished <- struct{}{}:
					default:
					}
				}()
				w.handle(m)
			}()
		}
		cancel()
		if err := batch.Error(); err != nil && !errors.Is(err, context.DeadlineExceeded) &&
			!errors.Is(err, context.Canceled) && !errors.Is(err, jetstream.ErrNoMessages) && w.ctx.Err() == nil {
			w.q.log.Warn("fetch async events", "function", w.function, "err", err)
			w.pause(time.Second)
		}
	}
}

// limit is how many of the function's events may run at once here: the
// node's per-function cap, lowered to the function's reservation.
func (w *worker) limit() int {
	n := w.q.opts.Concurrency
	if r, ok := w.q.opts.Settings.ReservedConcurrency(w.function); ok && r < n {
		// Reserved 0 still needs one slot, to send events to the failure
		// path.
		n = max(r, 1)
	}
	return n
}

func (w *worker) pause(d time.Duration) {
	select {
	case <-w.ctx.Done():
	case <-time.After(d):
	}
}

// handle runs one delivery of one event and settles the message.
func (w *worker) handle(m jetstream.Msg) {
	q := w.q
	// Settling outlives Close: an event already running finishes.
	ctx := context.WithoutCancel(w.ctx)
	ev, err := decodeEvent(m)
	if err != nil {
		q.log.Error("dropping undecodable async event", "function", w.function, "err", err)
		q.count(w.function, func(c *Counters) { c.AsyncEventsDropped++ })
		_ = m.Term()
		return
	}
	log := q.log.With("function", ev.Function, "requestId", ev.RequestID)
	now := time.Now()
	if wait := ev.NotBefore.Sub(now); wait > 0 {
		_ = m.NakWithDelay(wait)
		return
	}
	cfg, err := q.opts.Settings.EventInvokeConfig(ctx, ev.Function, qualifierOrLatest(ev.Qualifier))
	if err != nil {
		log.Warn("read event invoke config", "err", err)
		_ = m.NakWithDelay(q.opts.ThrottleBase)
		return
	}
	if cfg == nil {
		cfg = &lambda.EventInvokeConfig{}
	}
	if now.Sub(ev.Enqueued) > cfg.MaxEventAge() {
		q.fail(ctx, ev, cfg, conditionEventAgeExceeded, nil)
		_ = m.Ack()
		return
	}
	if ev.Hops >= MaxHops {
		log.Warn("RecursiveInvocationException: stopping a recursive invocation loop", "hops", ev.Hops)
		q.count(ev.Function, func(c *Counters) { c.RecursiveInvocationsDropped++ })
		q.fail(ctx, ev, cfg, conditionRetriesExhausted, nil)
		_ = m.Ack()
		return
	}
	if r, ok := q.opts.Settings.ReservedConcurrency(ev.Function); ok && r == 0 {
		// Lambda sends the events of a function reserved at 0 straight
		// to the failure path.
		q.fail(ctx, ev, cfg, conditionRetriesExhausted, nil)
		_ = m.Ack()
		return
	}

	stopBeat := heartbeat(m, q.opts.AckWait/3)
	resp, err := q.opts.Invoker.Invoke(ctx, invoke.Request{
		FunctionName: ev.Function,
		Qualifier:    ev.Qualifier,
		Type:         invoke.TypeRequestResponse,
		Payload:      ev.Payload,
		RequestID:    ev.RequestID,
		TraceID:      invoke.WithLineage(ev.TraceID, ev.Hops+1),
		Enqueued:     ev.Enqueued,
	})
	stopBeat()

	var lerr *lambda.Error
	switch {
	case err == nil && resp.FunctionError == "":
		ev.Invokes++
		q.count(ev.Function, func(c *Counters) { c.Succeeded++ })
		q.succeed(ctx, ranUnder(ev, resp), cfg, resp)
		_ = m.Ack()
	case err == nil:
		ev.Invokes++
		ev.Attempts++
		q.count(ev.Function, func(c *Counters) { c.FunctionErrors++ })
		if ev.Attempts > cfg.Retries() {
			q.fail(ctx, ranUnder(ev, resp), cfg, conditionRetriesExhausted, resp)
			_ = m.Ack()
			return
		}
		ev.NotBefore = time.Now().Add(time.Duration(ev.Attempts) * q.opts.RetryBase)
		if _, err := q.js.PublishMsg(ctx, ev.msg()); err != nil {
			// The old message stays; it is delivered again as it was.
			log.Warn("schedule async retry", "err", err)
			_ = m.NakWithDelay(q.opts.ThrottleBase)
			return
		}
		q.count(ev.Function, func(c *Counters) { c.Retried++ })
		_ = m.Ack()
	case errors.As(err, &lerr) && lerr.Kind == lambda.KindResourceNotFound:
		log.Warn("dropping async event: function not found", "err", err)
		q.count(ev.Function, func(c *Counters) { c.AsyncEventsDropped++ })
		_ = m.Ack()
	case errors.As(err, &lerr) && lerr.Kind.Status < http.StatusInternalServerError && lerr.Kind != lambda.KindTooManyRequests:
		// A request that can never succeed: no point retrying.
		log.Warn("async event refused", "err", err)
		q.fail(ctx, ev, cfg, conditionRetriesExhausted, nil)
		_ = m.Ack()
	default:
		// Throttles and platform faults: back off without spending a
		// function-error retry, until the event is too old.
		q.count(ev.Function, func(c *Counters) { c.Throttled++ })
		delay := q.backoff(m)
		if left := time.Until(ev.Enqueued.Add(cfg.MaxEventAge())); left < delay {
			delay = max(left, 0) + time.Millisecond
		}
		_ = m.NakWithDelay(delay)
	}
}

// ranUnder is ev as its destinations see it: with the trace header its
// last attempt ran under, so a destination's invocation links to that
// attempt. Retries keep the event's own header.
func ranUnder(ev *event, resp *invoke.Response) *event {
	if resp == nil || resp.TraceID == "" {
		return ev
	}
	c := *ev
	c.TraceID = resp.TraceID
	return &c
}

// backoff is the delay after the message's n-th delivery ended in a
// throttle or platform fault: ThrottleBase doubled each time, up to
// ThrottleMax.
func (q *Queue) backoff(m jetstream.Msg) time.Duration {
	n := uint64(1)
	if md, err := m.Metadata(); err == nil && md.NumDelivered > 0 {
		n = md.NumDelivered
	}
	d := q.opts.ThrottleBase
	for i := uint64(1); i < n && d < q.opts.ThrottleMax; i++ {
		d *= 2
	}
	return min(d, q.opts.ThrottleMax)
}

// heartbeat tells JetStream the event is still being worked on, so a long
// invocation is not delivered a second time.
func heartbeat(m jetstream.Msg, every time.Duration) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = m.InProgress()
			}
		}
	}()
	return func() { close(done) }
}

func qualifierOrLatest(q string) string {
	if q == "" {
		return lambda.LatestVersion
	}
	return q
}

func parseMillis(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}
