package rabbitmq

import (
	"errors"
	"regexp"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

func TestReceiveCount(t *testing.T) {
	tests := []struct {
		name        string
		headers     amqp.Table
		redelivered bool
		want        int
	}{
		{"quorum, first delivery (no header)", nil, false, 1},
		{"quorum, basic.get first delivery", amqp.Table{"x-delivery-count": int64(0)}, false, 1},
		{"quorum, after one requeue", amqp.Table{"x-delivery-count": int64(1)}, true, 2},
		{"quorum, after four requeues", amqp.Table{"x-delivery-count": int64(4)}, true, 5},
		{"other integer type", amqp.Table{"x-delivery-count": int32(2)}, true, 3},
		{"classic, first delivery", nil, false, 1},
		{"classic, redelivered", nil, true, 2},
		{"header lags the redelivered flag", amqp.Table{"x-delivery-count": int64(0)}, true, 2},
		{"negative header ignored", amqp.Table{"x-delivery-count": int64(-3)}, false, 1},
		{"string header ignored", amqp.Table{"x-delivery-count": "7"}, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := amqp.Delivery{Headers: tt.headers, Redelivered: tt.redelivered}
			if got := receiveCount(d); got != tt.want {
				t.Errorf("receiveCount = %d, want %d", got, tt.want)
			}
		})
	}
}

var uuidShape = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestMessageID(t *testing.T) {
	base := amqp.Delivery{
		Body:          []byte("hello"),
		Headers:       amqp.Table{"tenant": "blue", "nested": amqp.Table{"b": int32(2), "a": []any{"x", int64(1)}}},
		Timestamp:     time.Unix(1700000000, 0),
		CorrelationId: "c-1",
		RoutingKey:    "orders",
	}
	id := messageID(base)
	if !uuidShape.MatchString(id) {
		t.Fatalf("derived id %q is not a version 8 UUID", id)
	}

	redelivered := base
	redelivered.Headers = amqp.Table{"tenant": "blue", "nested": amqp.Table{"a": []any{"x", int64(1)}, "b": int32(2)},
		"x-delivery-count": int64(3), "x-acquired-count": int64(4)}
	redelivered.Redelivered = true
	redelivered.DeliveryTag = 99
	if got := messageID(redelivered); got != id {
		t.Errorf("id changed on redelivery: %q, want %q", got, id)
	}

	changes := map[string]func(d *amqp.Delivery){
		"body":           func(d *amqp.Delivery) { d.Body = []byte("hello!") },
		"header value":   func(d *amqp.Delivery) { d.Headers = amqp.Table{"tenant": "red"} },
		"header type":    func(d *amqp.Delivery) { d.Headers = amqp.Table{"tenant": []byte("blue")} },
		"timestamp":      func(d *amqp.Delivery) { d.Timestamp = d.Timestamp.Add(time.Second) },
		"correlation id": func(d *amqp.Delivery) { d.CorrelationId = "c-2" },
		"routing key":    func(d *amqp.Delivery) { d.RoutingKey = "orders2" },
		// Length prefixes keep field boundaries apart.
		"shifted bytes": func(d *amqp.Delivery) { d.Body = []byte("hell"); d.Headers = amqp.Table{"otenant": "blue"} },
	}
	for name, change := range changes {
		d := base
		change(&d)
		if got := messageID(d); got == id {
			t.Errorf("changing the %s kept id %q", name, id)
		}
	}

	withID := base
	withID.MessageId = "publisher-id"
	if got := messageID(withID); got != "publisher-id" {
		t.Errorf("messageID = %q, want the message-id property", got)
	}
}

func TestHeaderString(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{"text", "text"},
		{[]byte("utf8 bytes"), "utf8 bytes"},
		{[]byte{0xff, 0x00}, "/wA="},
		{int32(-7), "-7"},
		{uint8(200), "200"},
		{true, "true"},
		{1.5, "1.5"},
		{nil, ""},
		{time.Date(2024, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600)), "2024-01-02T02:04:05Z"},
		{amqp.Decimal{Scale: 2, Value: 12345}, "123.45"},
		{amqp.Decimal{Scale: 3, Value: -5}, "-0.005"},
		{amqp.Decimal{Scale: 0, Value: 42}, "42"},
		{amqp.Table{"b": int64(1), "a": []byte("z"), "t": time.Unix(0, 0)}, `{"a":"z","b":1,"t":"1970-01-01T00:00:00Z"}`},
		{[]any{"a", int32(1), amqp.Table{"k": "v"}}, `["a",1,{"k":"v"}]`},
	}
	for _, tt := range tests {
		if got := headerString(tt.in); got != tt.want {
			t.Errorf("headerString(%#v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestAttributes(t *testing.T) {
	if got := attributes(nil); got != nil {
		t.Errorf("attributes(nil) = %v, want nil", got)
	}
	if got := attributes(amqp.Table{"x-delivery-count": int64(2)}); got != nil {
		t.Errorf("only the delivery count: attributes = %v, want nil", got)
	}
	got := attributes(amqp.Table{"x-delivery-count": int64(2), "a": "b"})
	if len(got) != 1 || got["a"] != "b" {
		t.Errorf("attributes = %v, want map[a:b]", got)
	}
}

func TestRedact(t *testing.T) {
	inner := errors.New(`dial "amqp://u:hunter2@h:1": refused`)
	err := redact(inner, "hunter2")
	if got, want := err.Error(), `dial "amqp://u:xxxxx@h:1": refused`; got != want {
		t.Errorf("redacted = %q, want %q", got, want)
	}
	if !errors.Is(err, inner) {
		t.Error("redacted error no longer wraps the original")
	}
	if plain := errors.New("refused"); redact(plain, "hunter2") != plain {
		t.Error("an error without the secret was rewrapped")
	}
}
