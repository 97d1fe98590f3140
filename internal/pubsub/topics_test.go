package pubsub

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"gust/internal/lambda"
)

// wantCode fails unless err is a *lambda.Error with code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var le *lambda.Error
	if !errors.As(err, &le) || le.Code != code {
		t.Fatalf("error = %v, want %s", err, code)
	}
}

// TestTopicsAndSubscriptions drives the control plane over a NATS topic:
// the stream and shared consumer it sets up, conflicts, subscriptions
// (normalized, idempotent, refused for a missing function, a bad policy
// or other attributes), the permission warning, and deletion.
func TestTopicsAndSubscriptions(t *testing.T) {
	user := machineJS(t)
	ctx := t.Context()
	name := unique("tp")
	deleteStreamAfter(t, user, "GUST_TOPIC_"+name) // after the service stops: cleanups run last first
	h := openHarness(t, nil, "n1", newFakeInvoker(), &fakePolicies{})

	created, err := h.svc.CreateTopic(ctx, Topic{Name: name, Broker: BrokerNATS, URL: "nats://gust:s3cret@127.0.0.1:4222", Subject: name + ".>"})
	if err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	if created.Stream != "GUST_TOPIC_"+name || created.Created.IsZero() {
		t.Errorf("created = %+v", created)
	}
	st, err := user.Stream(ctx, "GUST_TOPIC_"+name)
	if err != nil {
		t.Fatalf("the topic's stream was not created: %v", err)
	}
	if subj := st.CachedInfo().Config.Subjects; len(subj) != 1 || subj[0] != name+".>" {
		t.Errorf("stream subjects = %v", subj)
	}
	cons, err := st.Consumer(ctx, "gust-topic-"+name)
	if err != nil {
		t.Fatalf("the shared consumer was not created: %v", err)
	}
	if cfg := cons.CachedInfo().Config; cfg.DeliverPolicy != jetstream.DeliverNewPolicy || cfg.AckPolicy != jetstream.AckExplicitPolicy || cfg.Durable == "" {
		t.Errorf("consumer config = %+v", cfg)
	}

	_, err = h.svc.CreateTopic(ctx, Topic{Name: name, Broker: BrokerMQTT, URL: machineMQTT, MQTTTopic: "x"})
	wantCode(t, err, "ResourceConflictException")
	list, err := h.svc.ListTopics(ctx)
	if err != nil || len(list) != 1 || list[0].Name != name {
		t.Fatalf("ListTopics = %v, %v", list, err)
	}

	// Subscriptions: stored as full ARNs, idempotent, validated.
	h.invoker.missing["ghost"] = true
	_, err = h.svc.Subscribe(ctx, name, Subscription{Endpoint: "ghost"})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = h.svc.Subscribe(ctx, name, Subscription{Endpoint: "arn:aws:lambda:eu-west-1:000000000000:function:f"})
	wantCode(t, err, "InvalidParameterValueException")
	_, err = h.svc.Subscribe(ctx, name, Subscription{Endpoint: "f", FilterPolicy: `{"a":"b"}`})
	wantCode(t, err, "InvalidParameterValueException")
	_, err = h.svc.Subscribe(ctx, "nosuchtopic", Subscription{Endpoint: "f"})
	wantCode(t, err, "ResourceNotFoundException")

	sub, err := h.svc.Subscribe(ctx, name, Subscription{Endpoint: "f:live", FilterPolicy: `{"a":["b"]}`})
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	if sub.Endpoint != testID.FunctionARN("f")+":live" || sub.FilterPolicyScope != ScopeMessageAttributes || len(sub.ID) != 36 {
		t.Errorf("subscription = %+v", sub)
	}
	again, err := h.svc.Subscribe(ctx, name, Subscription{Endpoint: testID.FunctionARN("f") + ":live", FilterPolicy: `{"a":["b"]}`})
	if err != nil || again.ID != sub.ID {
		t.Errorf("subscribing again = %+v, %v; want the same subscription %s", again, err, sub.ID)
	}
	_, err = h.svc.Subscribe(ctx, name, Subscription{Endpoint: "f:live"})
	wantCode(t, err, "InvalidParameterValueException")

	tp, err := h.svc.GetTopic(ctx, name)
	if err != nil || len(tp.Subscriptions) != 1 {
		t.Fatalf("GetTopic = %+v, %v", tp, err)
	}
	warning := h.svc.PermissionWarning(ctx, tp, sub)
	if !strings.Contains(warning, "aws lambda add-permission --function-name f:live") || !strings.Contains(warning, "--source-arn "+tp.ARN(testID)) {
		t.Errorf("warning without a policy = %q", warning)
	}
	h.policies.allowSNS(t, "f", tp.ARN(testID))
	if w := h.svc.PermissionWarning(ctx, tp, &Subscription{Endpoint: testID.FunctionARN("f")}); w != "" {
		t.Errorf("warning with the permission = %q", w)
	}

	wantCode(t, h.svc.Unsubscribe(ctx, name, "no-such-id"), "ResourceNotFoundException")
	if err := h.svc.Unsubscribe(ctx, name, sub.ID); err != nil {
		t.Fatalf("Unsubscribe: %v", err)
	}
	if tp, _ := h.svc.GetTopic(ctx, name); len(tp.Subscriptions) != 0 {
		t.Errorf("subscriptions after Unsubscribe: %+v", tp.Subscriptions)
	}

	if err := h.svc.DeleteTopic(ctx, name); err != nil {
		t.Fatalf("DeleteTopic: %v", err)
	}
	_, err = h.svc.GetTopic(ctx, name)
	wantCode(t, err, "ResourceNotFoundException")
	wantCode(t, h.svc.DeleteTopic(ctx, name), "ResourceNotFoundException")
	if _, err := st.Consumer(ctx, "gust-topic-"+name); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Errorf("consumer after DeleteTopic: %v, want it deleted", err)
	}
	if _, err := user.Stream(ctx, "GUST_TOPIC_"+name); err != nil {
		t.Errorf("the stream should stay: %v", err)
	}
	if strings.Contains(h.logs.String(), "s3cret") {
		t.Errorf("the logs show the broker password:\n%s", h.logs.String())
	}
}

// TestCreateTopicOnExistingStream: a stream the user made is used as it
// is — not replayed, not changed — and one that does not capture the
// subject is refused.
func TestCreateTopicOnExistingStream(t *testing.T) {
	user := machineJS(t)
	inv := newFakeInvoker()
	ctx := t.Context()
	stream, name := unique("USER"), unique("tp")
	if _, err := user.CreateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{stream + ".>"}}); err != nil {
		t.Fatal(err)
	}
	deleteStreamAfter(t, user, stream)
	h := openHarness(t, nil, "n1", inv, &fakePolicies{})
	publishNATS(t, user, stream+".orders", "before the topic", nil)

	_, err := h.svc.CreateTopic(ctx, Topic{Name: name + "x", Broker: BrokerNATS, URL: machineNATS, Subject: "elsewhere.orders", Stream: stream})
	wantCode(t, err, "InvalidParameterValueException")
	if !strings.Contains(err.Error(), "does not capture subject elsewhere.orders") {
		t.Errorf("error = %v", err)
	}

	if _, err := h.svc.CreateTopic(ctx, Topic{Name: name, Broker: BrokerNATS, URL: machineNATS, Subject: stream + ".orders", Stream: stream}); err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	h.subscribe(t, name, "f", "", "")
	publishNATS(t, user, stream+".orders", "after the topic", nil)
	waitFor(t, 20*time.Second, "the new message", func() bool { return len(inv.of("f")) == 1 })
	if got := bodies(t, inv.of("f")); got[0] != "after the topic" {
		t.Errorf("delivered %q: the stream's earlier message was replayed", got)
	}
	if st, _ := user.Stream(ctx, stream); len(st.CachedInfo().Config.Subjects) != 1 {
		t.Errorf("the user's stream was changed: %+v", st.CachedInfo().Config.Subjects)
	}
}

// TestCreateTopicUnreachableBroker: the error names no credential.
func TestCreateTopicUnreachableBroker(t *testing.T) {
	h := openHarness(t, nil, "n1", newFakeInvoker(), &fakePolicies{})
	for _, tp := range []Topic{
		{Name: "n", Broker: BrokerNATS, URL: "nats://app:s3cret@127.0.0.1:1", Subject: "x"},
		{Name: "m", Broker: BrokerMQTT, URL: "tcp://app:s3cret@127.0.0.1:1", MQTTTopic: "x"},
	} {
		_, err := h.svc.CreateTopic(context.Background(), tp)
		wantCode(t, err, "InvalidParameterValueException")
		if strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "Could not set up topic "+tp.Name) {
			t.Errorf("%s: error = %v", tp.Broker, err)
		}
	}
	if list, _ := h.svc.ListTopics(context.Background()); len(list) != 0 {
		t.Errorf("failed creates were stored: %+v", list)
	}
}
