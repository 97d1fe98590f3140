package pubsub

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// TestNATSFanOut: one publish reaches each subscribed function once, as a
// strict SNS event with the headers as Subject and attributes; a filter
// policy holds back what it does not match.
func TestNATSFanOut(t *testing.T) {
	user := machineJS(t)
	inv := newFakeInvoker()
	name := unique("fan")
	deleteStreamAfter(t, user, "GUST_TOPIC_"+name) // after the service stops: cleanups run last first
	h := openHarness(t, nil, "n1", inv, &fakePolicies{})
	if _, err := h.svc.CreateTopic(t.Context(), Topic{Name: name, Broker: BrokerNATS, URL: machineNATS, Subject: name + ".*"}); err != nil {
		t.Fatal(err)
	}
	h.subscribe(t, name, "one", "", "")
	h.subscribe(t, name, "two", "", "")
	h.subscribe(t, name, "eu", `{"region":["eu"]}`, "")

	publishNATS(t, user, name+".orders", `{"order":1}`, map[string]string{"Subject": "New order", "region": "us",
		"price": "12.5", "Gust-Attribute-Types": "price=Number"})
	publishNATS(t, user, name+".orders", `{"order":2}`, map[string]string{"region": "eu"})
	waitFor(t, 20*time.Second, "both messages at both subscribers", func() bool {
		return len(inv.of("one")) == 2 && len(inv.of("two")) == 2 && len(inv.of("eu")) == 1
	})
	for _, fn := range []string{"one", "two"} {
		got := bodies(t, inv.of(fn))
		slices.Sort(got)
		if !slices.Equal(got, []string{`{"order":1}`, `{"order":2}`}) {
			t.Errorf("%s got %q", fn, got)
		}
	}
	if got := bodies(t, inv.of("eu")); got[0] != `{"order":2}` {
		t.Errorf("the filtered subscription got %q", got)
	}
	// One message, two subscribers: one MessageId, two subscription ARNs.
	byBody := map[string][]string{}
	for _, fn := range []string{"one", "two"} {
		for _, req := range inv.of(fn) {
			ev := checkSNSEvent(t, req.Payload)
			rec := ev.Records[0]
			byBody[rec.SNS.Message] = append(byBody[rec.SNS.Message], rec.SNS.MessageID)
			if rec.SNS.Message == `{"order":1}` {
				if rec.SNS.Subject != "New order" || rec.SNS.TopicArn != "arn:aws:sns:us-east-1:000000000000:"+name {
					t.Errorf("record = %+v", rec.SNS)
				}
				price, _ := rec.SNS.MessageAttributes["price"].(map[string]any)
				if price["Type"] != "Number" || price["Value"] != "12.5" || len(rec.SNS.MessageAttributes) != 2 {
					t.Errorf("attributes = %v", rec.SNS.MessageAttributes)
				}
			}
			if !strings.HasPrefix(rec.EventSubscriptionArn, rec.SNS.TopicArn+":") {
				t.Errorf("EventSubscriptionArn %s is not under the topic", rec.EventSubscriptionArn)
			}
		}
	}
	for body, ids := range byBody {
		if len(ids) != 2 || ids[0] != ids[1] {
			t.Errorf("message %s has ids %v, want one id for both subscribers", body, ids)
		}
	}
	waitFor(t, 5*time.Second, "the stats", func() bool {
		st := h.svc.Stats(name)
		return st.MessagesReceived == 2 && st.EventsQueued == 5 && st.EventsFiltered == 1
	})
}

// TestNATSMessagesWaitForGust: a message published while no node runs,
// and one whose delivery a stopping node could not finish, are delivered
// by the next node with the MessageId the first attempt had.
func TestNATSMessagesWaitForGust(t *testing.T) {
	user := machineJS(t)
	js := gustJS(t)
	name := unique("wait")
	deleteStreamAfter(t, user, "GUST_TOPIC_"+name)

	inv1 := newFakeInvoker()
	inv1.failures["f"] = 1 << 30 // the first node never manages to queue
	first := openHarness(t, js, "n1", inv1, &fakePolicies{})
	if _, err := first.svc.CreateTopic(t.Context(), Topic{Name: name, Broker: BrokerNATS, URL: machineNATS, Subject: name}); err != nil {
		t.Fatal(err)
	}
	first.subscribe(t, name, "f", "", "")
	publishNATS(t, user, name, "stuck", nil)
	waitFor(t, 20*time.Second, "a failed attempt", func() bool { return len(inv1.attemptsOf("f")) > 0 })
	firstID := checkSNSEvent(t, inv1.attemptsOf("f")[0].Payload).Records[0].SNS.MessageID
	first.close(t)

	publishNATS(t, user, name, "while down", nil)

	inv2 := newFakeInvoker()
	second := openHarness(t, js, "n1", inv2, first.policies)
	waitFor(t, 30*time.Second, "both messages on the next node", func() bool { return len(inv2.of("f")) == 2 })
	for _, req := range inv2.of("f") {
		rec := checkSNSEvent(t, req.Payload).Records[0]
		if rec.SNS.Message == "stuck" && rec.SNS.MessageID != firstID {
			t.Errorf("redelivered with MessageId %s, first attempt had %s", rec.SNS.MessageID, firstID)
		}
	}
	if got := bodies(t, inv2.of("f")); !hasAll(got, "stuck", "while down") {
		t.Errorf("delivered %q", got)
	}
	_ = second
}

// TestMQTTFanOut: one QoS 1 publish reaches each subscribed function
// once, without Subject or attributes (MQTT 3.1.1 has no headers), and a
// MessageBody filter policy holds back what it does not match.
func TestMQTTFanOut(t *testing.T) {
	needService(t, "Mosquitto", "127.0.0.1:1883")
	inv := newFakeInvoker()
	h := openHarness(t, nil, unique("node"), inv, &fakePolicies{})
	name, mqttTopic := unique("mq"), unique("gust-test/")+"/events"
	if _, err := h.svc.CreateTopic(t.Context(), Topic{Name: name, Broker: BrokerMQTT, URL: "tcp://user:s3cret@127.0.0.1:1883", MQTTTopic: mqttTopic}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.svc.DeleteTopic(context.Background(), name) }) // clears the node's session
	h.subscribe(t, name, "one", "", "")
	h.subscribe(t, name, "two", "", "")
	h.subscribe(t, name, "paid", `{"kind":["paid"]}`, ScopeMessageBody)
	waitFor(t, 20*time.Second, "the MQTT session", func() bool { return strings.Contains(h.logs.String(), "consuming topic") })

	publishMQTT(t, mqttTopic, `{"kind":"paid"}`)
	publishMQTT(t, mqttTopic, `{"kind":"free"}`)
	waitFor(t, 20*time.Second, "both messages at both subscribers", func() bool {
		return len(inv.of("one")) == 2 && len(inv.of("two")) == 2 && len(inv.of("paid")) == 1
	})
	if got := bodies(t, inv.of("paid")); got[0] != `{"kind":"paid"}` {
		t.Errorf("the filtered subscription got %q", got)
	}
	for _, req := range inv.of("one") {
		rec := checkSNSEvent(t, req.Payload).Records[0]
		if rec.SNS.Subject != "" || len(rec.SNS.MessageAttributes) != 0 || !strings.Contains(string(req.Payload), `"Subject":null`) {
			t.Errorf("MQTT record has Subject %q, attributes %v", rec.SNS.Subject, rec.SNS.MessageAttributes)
		}
	}
	if strings.Contains(h.logs.String(), "s3cret") {
		t.Errorf("the logs show the broker password")
	}
}

// TestMQTTUnacknowledgedIsRedelivered: a message the node could not hand
// over before stopping stays unacknowledged in its persistent session and
// comes back when the node returns, with the same MessageId; deleting the
// topic clears the session.
func TestMQTTUnacknowledgedIsRedelivered(t *testing.T) {
	needService(t, "Mosquitto", "127.0.0.1:1883")
	js := gustJS(t)
	node := unique("node")
	name, mqttTopic := unique("mq"), unique("gust-test/")+"/redeliver"
	inv1 := newFakeInvoker()
	inv1.failures["f"] = 1 << 30
	first := openHarness(t, js, node, inv1, &fakePolicies{})
	if _, err := first.svc.CreateTopic(t.Context(), Topic{Name: name, Broker: BrokerMQTT, URL: machineMQTT, MQTTTopic: mqttTopic}); err != nil {
		t.Fatal(err)
	}
	first.subscribe(t, name, "f", "", "")
	waitFor(t, 20*time.Second, "the MQTT session", func() bool { return strings.Contains(first.logs.String(), "consuming topic") })
	publishMQTT(t, mqttTopic, "retry me")
	waitFor(t, 20*time.Second, "a failed attempt", func() bool { return len(inv1.attemptsOf("f")) > 0 })
	firstID := checkSNSEvent(t, inv1.attemptsOf("f")[0].Payload).Records[0].SNS.MessageID
	first.close(t)

	publishMQTT(t, mqttTopic, "while down")
	inv2 := newFakeInvoker()
	second := openHarness(t, js, node, inv2, first.policies)
	waitFor(t, 30*time.Second, "both messages after the restart", func() bool { return len(inv2.of("f")) == 2 })
	for _, req := range inv2.of("f") {
		rec := checkSNSEvent(t, req.Payload).Records[0]
		if rec.SNS.Message == "retry me" && rec.SNS.MessageID != firstID {
			t.Errorf("redelivered with MessageId %s, first attempt had %s", rec.SNS.MessageID, firstID)
		}
	}
	if got := bodies(t, inv2.of("f")); !hasAll(got, "retry me", "while down") {
		t.Errorf("delivered %q", got)
	}
	if err := second.svc.DeleteTopic(t.Context(), name); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the session to be cleared", func() bool {
		return strings.Contains(second.logs.String(), "MQTT session of a deleted topic cleared")
	})
	opts := mqtt.NewClientOptions().AddBroker(machineMQTT).SetClientID(mqttClientID(name, node)).SetCleanSession(false)
	c := mqtt.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	if tok.(*mqtt.ConnectToken).SessionPresent() {
		t.Error("the node's session outlived its topic")
	}
	c.Disconnect(100)
	_ = clearMQTTSession(context.Background(), &Topic{URL: machineMQTT, Name: name}, node)
}
