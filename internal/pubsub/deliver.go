package pubsub

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gust/internal/invoke"
	"gust/internal/lambda"
)

// invokeTimeout bounds one hand-over of an event to the async queue. It
// runs on a context detached from shutdown, so that a hand-over under way
// when Close begins completes, or fails, rather than being cut.
const invokeTimeout = 10 * time.Second

// errDenied marks an event the function's resource policy refuses.
var errDenied = errors.New("the function's resource policy does not allow " + snsPrincipal + " to invoke it for this topic")

// deliver fans m out: every subscription whose filter policy matches gets
// one SNS event queued as an Event invocation. It returns nil once every
// event is queued or refused for good (permission, a deleted function, an
// oversized event: logged and counted, never retried); a platform fault
// is retried with backoff, calling keepAlive before each new attempt so
// the broker keeps the message for this node. It returns an error only
// when ctx ends first: the broker must then redeliver m, and subscribers
// already served will get it again (delivery is at least once).
func (r *runner) deliver(ctx context.Context, m *message, keepAlive func()) error {
	r.stats.received.Add(1)
	for _, t := range r.targets() {
		if !t.filter.matches(m) {
			r.stats.filtered.Add(1)
			continue
		}
		if err := r.deliverTo(ctx, t, m, keepAlive); err != nil {
			return err
		}
	}
	return nil
}

// deliverTo queues m's event for one subscription, retrying platform
// faults until it is queued, refused for good, or ctx ends.
func (r *runner) deliverTo(ctx context.Context, t *target, m *message, keepAlive func()) error {
	log := r.log.With("subscription", t.sub.ID, "function", t.sub.Endpoint, "message_id", m.id)
	payload, err := buildEvent(r.svc.opts.Identity, r.arn, t.arn, m)
	if err != nil {
		r.stats.refused.Add(1)
		log.Error("event not delivered: it cannot be encoded", "err", err)
		return nil
	}
	delay := r.svc.opts.RetryBase
	for {
		err := r.queue(ctx, t, payload)
		var refused *lambda.Error
		switch {
		case err == nil:
			r.stats.queued.Add(1)
			return nil
		case errors.Is(err, errDenied):
			r.stats.denied.Add(1)
			log.Warn("event not delivered: "+errDenied.Error()+"; allow it with aws lambda add-permission --principal "+snsPrincipal,
				"topic_arn", r.arn)
			return nil
		case errors.As(err, &refused) && refused.Type == "User" && refused.Kind != lambda.KindTooManyRequests:
			r.stats.refused.Add(1)
			log.Warn("event not delivered: the function refused it", "err", err)
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("deliver message %s: %w", m.id, ctx.Err())
		}
		r.stats.retries.Add(1)
		log.Warn("event not queued; trying again", "err", err, "retry_in", delay)
		if keepAlive != nil {
			keepAlive()
		}
		if !sleep(ctx, delay) {
			return fmt.Errorf("deliver message %s: %w", m.id, ctx.Err())
		}
		delay = min(2*delay, maxRetryDelay)
	}
}

// queue checks the function's permission, as Lambda does for every SNS
// invocation, and hands the event to the async queue.
func (r *runner) queue(ctx context.Context, t *target, payload []byte) error {
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), invokeTimeout)
	defer cancel()
	ok, err := r.svc.permitted(callCtx, r.arn, t.ref)
	if err != nil {
		return err
	}
	if !ok {
		return errDenied
	}
	_, err = r.svc.opts.Invoker.Invoke(callCtx, invoke.Request{FunctionName: t.sub.Endpoint, Type: invoke.TypeEvent, Payload: payload})
	return err
}
