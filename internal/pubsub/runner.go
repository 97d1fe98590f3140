package pubsub

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"gust/internal/lambda"
)

// errTopicGone ends a runner whose topic was deleted (or deleted and
// created again) while it was reconnecting.
var errTopicGone = errors.New("topic no longer exists")

// stableRun is how long a consumer must have run for its next reconnect
// to start from the first backoff delay again.
const stableRun = time.Minute

// runner consumes one topic on this node: it keeps a broker connection
// (reconnecting with backoff) and fans each message out to the topic's
// subscriptions as they are now.
type runner struct {
	svc    *Service
	topic  Topic // broker settings; Subscriptions are in subs
	arn    string
	log    *slog.Logger
	stats  *counters
	subs   atomic.Pointer[[]*target]
	cancel context.CancelFunc
	done   chan struct{} // closed when run returns
	// gone is set when the runner stops because its topic was deleted:
	// it then also clears what the broker keeps for this node.
	gone atomic.Bool
}

// target is one subscription, ready for delivery.
type target struct {
	sub    Subscription
	arn    string // EventSubscriptionArn
	ref    lambda.FunctionRef
	filter *filterPolicy
}

func newRunner(s *Service, t *Topic, c *counters) *runner {
	r := &runner{svc: s, topic: *t, arn: t.ARN(s.opts.Identity), stats: c, done: make(chan struct{}),
		log: s.log.With("topic", t.Name, "broker", t.Broker)}
	r.topic.Subscriptions = nil
	return r
}

// sameBroker reports whether t is the topic this runner consumes, not one
// deleted and created again under the same name.
func (r *runner) sameBroker(t *Topic) bool {
	return r.topic.Created.Equal(t.Created) && r.topic.Broker == t.Broker && r.topic.URL == t.URL &&
		r.topic.Subject == t.Subject && r.topic.Stream == t.Stream && r.topic.MQTTTopic == t.MQTTTopic
}

// setSubscriptions compiles t's subscriptions for the deliveries to come.
// One that no longer compiles (it did when it was stored) is left out and
// logged.
func (r *runner) setSubscriptions(t *Topic) {
	targets := make([]*target, 0, len(t.Subscriptions))
	for _, sub := range t.Subscriptions {
		filter, err := compileFilterPolicy(&sub)
		if err == nil {
			var ref lambda.FunctionRef
			if ref, err = r.svc.endpointRef(sub.Endpoint); err == nil {
				targets = append(targets, &target{sub: sub, arn: t.SubscriptionARN(r.svc.opts.Identity, sub.ID), ref: ref, filter: filter})
				continue
			}
		}
		r.log.Error("subscription skipped: it no longer validates", "subscription", sub.ID, "err", err)
	}
	r.subs.Store(&targets)
}

// targets are the subscriptions as they are now.
func (r *runner) targets() []*target {
	if p := r.subs.Load(); p != nil {
		return *p
	}
	return nil
}

// run consumes until ctx ends or the topic is gone, reconnecting with
// backoff after every failure; it never panics the server over a broker.
func (r *runner) run(ctx context.Context) {
	defer close(r.done)
	delay := r.svc.opts.ReconnectBase
	for {
		started := time.Now()
		err := r.consume(ctx)
		if ctx.Err() != nil || errors.Is(err, errTopicGone) {
			if r.gone.Load() {
				r.forget()
			}
			return
		}
		if time.Since(started) > stableRun {
			delay = r.svc.opts.ReconnectBase
		}
		r.log.Warn("topic consumer stopped; reconnecting", "err", err, "retry_in", delay)
		if !sleep(ctx, delay) {
			continue // the check at the top of the loop ends the runner
		}
		delay = min(2*delay, maxReconnectDelay)
	}
}

// consume runs one connection to the topic's broker until ctx ends or it
// fails.
func (r *runner) consume(ctx context.Context) error {
	if r.topic.Broker == BrokerMQTT {
		return r.consumeMQTT(ctx)
	}
	return r.consumeNATS(ctx)
}

// forget clears what the broker keeps for this node's consumer of a
// deleted topic: an MQTT node's persistent session. (A NATS topic's
// shared durable consumer is deleted by DeleteTopic.)
func (r *runner) forget() {
	if r.topic.Broker != BrokerMQTT {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	clientID := mqttClientID(r.topic.Name, r.svc.opts.NodeID)
	if err := clearMQTTSession(ctx, &r.topic, r.svc.opts.NodeID); err != nil {
		r.log.Warn("MQTT session of a deleted topic not cleared", "client_id", clientID, "err", err)
		return
	}
	r.log.Debug("MQTT session of a deleted topic cleared", "client_id", clientID)
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
