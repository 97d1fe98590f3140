package pubsub

import (
	"errors"
	"strings"
	"testing"

	"gust/internal/lambda"
)

func TestTopicValidate(t *testing.T) {
	tests := []struct {
		name    string
		topic   Topic
		wantErr string // "" = valid
		check   func(t *testing.T, got Topic)
	}{
		{name: "nats default stream", topic: Topic{Name: "orders", Broker: BrokerNATS, URL: "nats://127.0.0.1:4222", Subject: "orders.>"},
			check: func(t *testing.T, got Topic) {
				if got.Stream != "GUST_TOPIC_orders" {
					t.Errorf("Stream = %q, want GUST_TOPIC_orders", got.Stream)
				}
			}},
		{name: "nats own stream", topic: Topic{Name: "o", Broker: BrokerNATS, URL: "tls://u:p@h:4222", Subject: "a.*.b", Stream: "MINE"},
			check: func(t *testing.T, got Topic) {
				if got.Stream != "MINE" {
					t.Errorf("Stream = %q, want MINE", got.Stream)
				}
			}},
		{name: "mqtt", topic: Topic{Name: "sensors", Broker: BrokerMQTT, URL: "tcp://127.0.0.1:1883", MQTTTopic: "sensors/+/temp"}},
		{name: "mqtt multi-level", topic: Topic{Name: "s", Broker: BrokerMQTT, URL: "mqtt://h:1883", MQTTTopic: "a/#"}},
		{name: "bad name", topic: Topic{Name: "a.b", Broker: BrokerNATS, URL: "nats://h", Subject: "x"}, wantErr: "Invalid topic name"},
		{name: "long name", topic: Topic{Name: strings.Repeat("a", 257), Broker: BrokerNATS, URL: "nats://h", Subject: "x"}, wantErr: "Invalid topic name"},
		{name: "unknown broker", topic: Topic{Name: "a", Broker: "kafka", URL: "nats://h", Subject: "x"}, wantErr: "Unsupported broker"},
		{name: "wrong scheme", topic: Topic{Name: "a", Broker: BrokerNATS, URL: "tcp://h:1883", Subject: "x"}, wantErr: "scheme nats, tls"},
		{name: "no host", topic: Topic{Name: "a", Broker: BrokerNATS, URL: "nats://", Subject: "x"}, wantErr: "Invalid broker URL"},
		{name: "nats without subject", topic: Topic{Name: "a", Broker: BrokerNATS, URL: "nats://h"}, wantErr: "Invalid NATS subject"},
		{name: "nats bad wildcard", topic: Topic{Name: "a", Broker: BrokerNATS, URL: "nats://h", Subject: "a.>.b"}, wantErr: "Invalid NATS subject"},
		{name: "nats partial wildcard", topic: Topic{Name: "a", Broker: BrokerNATS, URL: "nats://h", Subject: "a.b*"}, wantErr: "Invalid NATS subject"},
		{name: "nats with mqtt topic", topic: Topic{Name: "a", Broker: BrokerNATS, URL: "nats://h", Subject: "x", MQTTTopic: "y"}, wantErr: "not an MQTT topic"},
		{name: "nats bad stream", topic: Topic{Name: "a", Broker: BrokerNATS, URL: "nats://h", Subject: "x", Stream: "A.B"}, wantErr: "stream name"},
		{name: "mqtt with subject", topic: Topic{Name: "a", Broker: BrokerMQTT, URL: "tcp://h:1883", MQTTTopic: "t", Subject: "x"}, wantErr: "not a NATS subject"},
		{name: "mqtt bad hash", topic: Topic{Name: "a", Broker: BrokerMQTT, URL: "tcp://h:1883", MQTTTopic: "a/#/b"}, wantErr: "Invalid MQTT topic filter"},
		{name: "mqtt dollar", topic: Topic{Name: "a", Broker: BrokerMQTT, URL: "tcp://h:1883", MQTTTopic: "$SYS/x"}, wantErr: "Invalid MQTT topic filter"},
		{name: "mqtt empty", topic: Topic{Name: "a", Broker: BrokerMQTT, URL: "tcp://h:1883"}, wantErr: "Invalid MQTT topic filter"},
		{name: "with subscriptions", topic: Topic{Name: "a", Broker: BrokerMQTT, URL: "tcp://h:1883", MQTTTopic: "t",
			Subscriptions: []Subscription{{ID: "x"}}}, wantErr: "without subscriptions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.topic
			err := got.validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("validate: %v", err)
				}
				if tt.check != nil {
					tt.check(t, got)
				}
				return
			}
			var le *lambda.Error
			if !errors.As(err, &le) || le.Code != "InvalidParameterValueException" || !strings.Contains(le.Message, tt.wantErr) {
				t.Fatalf("validate = %v, want InvalidParameterValueException containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestValidateNeverQuotesTheURL(t *testing.T) {
	for _, raw := range []string{"nats://user:s3cret@h:4222", "tcp://user:s3cret@h:1883", "nats://user:s3cret@[bad", "amqp://user:s3cret@h"} {
		tp := Topic{Name: "a", Broker: BrokerNATS, URL: raw, Subject: "x y"}
		if err := tp.validate(); err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("validate(%q) = %v: want an error without the password", raw, err)
		}
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"nats://app:s3cret@127.0.0.1:4222", "nats://app:****@127.0.0.1:4222"},
		{"nats://TOKEN@127.0.0.1:4222", "nats://****@127.0.0.1:4222"},
		{"tcp://user:p%40ss@host:1883", "tcp://user:****@host:1883"},
		{"tcp://user:@host:1883", "tcp://user:****@host:1883"},
		{"nats://a:b@[bad", "(unparsable URL)"},
	}
	for _, tt := range tests {
		if got := RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	tp := Topic{URL: "nats://app:s3cret@h:4222", Subscriptions: []Subscription{{ID: "1"}}}
	red := tp.Redacted()
	if strings.Contains(red.URL, "s3cret") || tp.URL != "nats://app:s3cret@h:4222" {
		t.Errorf("Redacted: %q (original now %q)", red.URL, tp.URL)
	}
	red.Subscriptions[0].ID = "changed"
	if tp.Subscriptions[0].ID != "1" {
		t.Error("Redacted shares its subscriptions with the original")
	}
}

func TestScrub(t *testing.T) {
	raw := "nats://app:s3cret@10.1.2.3:4222, nats://TOKEN123@10.1.2.4:4222"
	err := scrub(errors.New("dial nats://app:s3cret@10.1.2.3:4222 failed; user app pass s3cret token TOKEN123"), raw)
	for _, secret := range []string{"s3cret", "TOKEN123", "app:"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("scrubbed error %q still holds %q", err, secret)
		}
	}
	cause := errors.New("cause")
	if !errors.Is(scrub(cause, raw), cause) {
		t.Error("scrub hides the cause from errors.Is")
	}
	if scrub(nil, raw) != nil {
		t.Error("scrub(nil) is not nil")
	}
}

func TestSubjectCovers(t *testing.T) {
	tests := []struct {
		pattern, subject string
		want             bool
	}{
		{"orders", "orders", true},
		{"orders.>", "orders.new", true},
		{"orders.>", "orders.new.eu", true},
		{"orders.>", "orders.>", true},
		{"orders.>", "orders", false},
		{">", "anything.at.all", true},
		{"orders.*", "orders.new", true},
		{"orders.*", "orders.*", true},
		{"orders.*", "orders.>", false},
		{"orders.*", "orders.new.eu", false},
		{"orders.new", "orders.*", false},
		{"orders", "payments", false},
	}
	for _, tt := range tests {
		if got := subjectCovers(tt.pattern, tt.subject); got != tt.want {
			t.Errorf("subjectCovers(%q, %q) = %v, want %v", tt.pattern, tt.subject, got, tt.want)
		}
	}
}

func TestARNs(t *testing.T) {
	id := lambda.Identity{Region: "eu-west-1", Account: "123456789012"}
	tp := Topic{Name: "orders"}
	if got := tp.ARN(id); got != "arn:aws:sns:eu-west-1:123456789012:orders" {
		t.Errorf("ARN = %s", got)
	}
	if got := tp.SubscriptionARN(id, "abc"); got != "arn:aws:sns:eu-west-1:123456789012:orders:abc" {
		t.Errorf("SubscriptionARN = %s", got)
	}
}
