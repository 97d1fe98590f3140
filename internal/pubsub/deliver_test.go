package pubsub

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"
)

// deliveryRunner is a runner of topic "t" with the given subscriptions,
// outside any broker, on a service with fakes.
func deliveryRunner(t *testing.T, inv *fakeInvoker, pol *fakePolicies, subs ...Subscription) *runner {
	t.Helper()
	logs := &logBuffer{}
	s := &Service{opts: Options{Identity: testID, Invoker: inv, RetryBase: time.Millisecond},
		log: slog.New(slog.NewTextHandler(logs, nil)), policies: pol}
	tp := &Topic{Name: "t", Broker: BrokerNATS, Subscriptions: subs}
	for i := range tp.Subscriptions {
		if tp.Subscriptions[i].ID == "" {
			tp.Subscriptions[i].ID = "sub-" + tp.Subscriptions[i].Endpoint
		}
		tp.Subscriptions[i].Endpoint = testID.FunctionARN(tp.Subscriptions[i].Endpoint)
	}
	r := newRunner(s, tp, &counters{})
	r.setSubscriptions(tp)
	return r
}

func TestDeliverFansOutFiltersAndChecksPermission(t *testing.T) {
	inv, pol := newFakeInvoker(), &fakePolicies{}
	topicARN := "arn:aws:sns:us-east-1:000000000000:t"
	for _, fn := range []string{"all", "big", "refused", "flaky"} {
		pol.allowSNS(t, fn, topicARN)
	}
	pol.allowSNS(t, "othertopic", topicARN+"-other") // allowed for another topic only
	inv.refuse["refused"] = true
	inv.failures["flaky"] = 3
	r := deliveryRunner(t, inv, pol,
		Subscription{Endpoint: "all"},
		Subscription{Endpoint: "big", FilterPolicy: `{"size":[{"numeric":[">",10]}]}`},
		Subscription{Endpoint: "nopolicy"},
		Subscription{Endpoint: "othertopic"},
		Subscription{Endpoint: "refused"},
		Subscription{Endpoint: "flaky"},
	)
	small := &message{id: "m1", body: []byte("small"), published: time.Now(), attributes: map[string]Attribute{"size": {Type: AttributeNumber, Value: "3"}}}
	large := &message{id: "m2", body: []byte("large"), published: time.Now(), attributes: map[string]Attribute{"size": {Type: AttributeNumber, Value: "30"}}}
	keptAlive := 0
	for _, m := range []*message{small, large} {
		if err := r.deliver(t.Context(), m, func() { keptAlive++ }); err != nil {
			t.Fatalf("deliver %s: %v", m.id, err)
		}
	}
	if got := bodies(t, inv.of("all")); len(got) != 2 || got[0] != "small" || got[1] != "large" {
		t.Errorf("all got %q, want both messages", got)
	}
	if got := bodies(t, inv.of("big")); len(got) != 1 || got[0] != "large" {
		t.Errorf("big got %q, want only the large message", got)
	}
	for _, fn := range []string{"nopolicy", "othertopic"} {
		if n := len(inv.attemptsOf(fn)); n != 0 {
			t.Errorf("%s was invoked %d times without SNS permission for this topic", fn, n)
		}
	}
	if n := len(inv.attemptsOf("refused")); n != 2 {
		t.Errorf("a refused event was tried %d times, want once per message", n)
	}
	if got := len(inv.of("flaky")); got != 2 || keptAlive != 3 {
		t.Errorf("flaky got %d events after %d renewals, want 2 after 3", got, keptAlive)
	}
	for _, req := range inv.of("big") {
		ev := checkSNSEvent(t, req.Payload)
		if ev.Records[0].EventSubscriptionArn != topicARN+":sub-big" || req.Type != "Event" {
			t.Errorf("event for big: subscription %s, type %s", ev.Records[0].EventSubscriptionArn, req.Type)
		}
	}
	want := Stats{MessagesReceived: 2, EventsQueued: 5, EventsFiltered: 1, EventsDenied: 4, EventsRefused: 2, DeliveryRetries: 3}
	got := Stats{MessagesReceived: r.stats.received.Load(), EventsQueued: r.stats.queued.Load(), EventsFiltered: r.stats.filtered.Load(),
		EventsDenied: r.stats.denied.Load(), EventsRefused: r.stats.refused.Load(), DeliveryRetries: r.stats.retries.Load()}
	if got != want {
		t.Errorf("stats = %+v, want %+v", got, want)
	}
}

func TestDeliverStopsRetryingWhenCancelled(t *testing.T) {
	inv, pol := newFakeInvoker(), &fakePolicies{}
	pol.allowSNS(t, "down", "arn:aws:sns:us-east-1:000000000000:t")
	inv.failures["down"] = 1 << 30
	r := deliveryRunner(t, inv, pol, Subscription{Endpoint: "down"})
	ctx, cancel := context.WithCancel(t.Context())
	err := r.deliver(ctx, &message{id: "m", body: []byte("x"), published: time.Now()}, cancel)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("deliver = %v, want context.Canceled so the broker redelivers", err)
	}
	if n := len(inv.of("down")); n != 0 {
		t.Errorf("%d events accepted", n)
	}
}
