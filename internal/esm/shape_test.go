package esm

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"gust/internal/brokers"
	"gust/internal/invoke"
	"gust/internal/lambda"
)

// queueSample reads one of aws-lambda-go's sample events, decoded with
// numbers as json.Number.
func queueSample(t *testing.T, name string) map[string]any {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/aws/aws-lambda-go").Output()
	if err != nil {
		t.Fatalf("locate aws-lambda-go: %v", err)
	}
	raw, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "events", "testdata", name))
	if err != nil {
		t.Fatalf("read sample: %v", err)
	}
	return queueDecodeJSON(t, raw)
}

func queueDecodeJSON(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	v, err := filterDecode(raw)
	if err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s is not a JSON object", raw)
	}
	return m
}

// queueStrictDecode decodes payload into v, failing on any field v's type
// does not have.
func queueStrictDecode(t *testing.T, payload []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode into %T: %v", v, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		t.Fatalf("data after the event: %v", err)
	}
}

// queueSameKeys checks that got has the same keys as want at every level
// and, where both are not null, the same JSON kinds. dataKeyed names the
// objects whose keys are data (attribute names): each of their entries is
// compared with the named entry of want's object.
func queueSameKeys(t *testing.T, path string, got, want any, dataKeyed map[string]string) {
	t.Helper()
	if got == nil || want == nil {
		return // null stands for an absent property; its kind is unknown
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			t.Errorf("%s: got %T, want an object", path, got)
			return
		}
		if sample, ok := dataKeyed[path]; ok {
			for k, v := range g {
				queueSameKeys(t, path+"."+k, v, w[sample], dataKeyed)
			}
			return
		}
		gk, wk := slices.Sorted(queueKeys(g)), slices.Sorted(queueKeys(w))
		if !slices.Equal(gk, wk) {
			t.Errorf("%s: keys %v, want %v", path, gk, wk)
		}
		for k, wv := range w {
			queueSameKeys(t, path+"."+k, g[k], wv, dataKeyed)
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			t.Errorf("%s: got %T, want an array", path, got)
			return
		}
		if len(w) > 0 {
			for _, gv := range g {
				queueSameKeys(t, path+"[]", gv, w[0], dataKeyed)
			}
		}
	default:
		if gt, wt := queueJSONKind(got), queueJSONKind(want); gt != wt {
			t.Errorf("%s: %s %v, want a %s", path, gt, got, wt)
		}
	}
}

func queueKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func queueJSONKind(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	}
	return "other"
}

func queueSQSShape() *sqsShape {
	return &sqsShape{arn: "arn:aws:sqs:eu-west-1:123456789012:orders", region: "eu-west-1", sender: "123456789012"}
}

func TestSQSShapeMatchesLambdaEvent(t *testing.T) {
	sh := queueSQSShape()
	sent, now := time.UnixMilli(1520621625029), time.UnixMilli(1520621634884)
	withAttrs := &brokers.Message{ID: "MessageID_1", Body: []byte(`Message <Body> & more`), ReceiveCount: 2, SentAt: sent,
		Attributes: map[string]string{"Attribute1": "AttributeValue1", "trace": "a=b"}}
	plain := &brokers.Message{ID: "MessageID_2", Body: []byte("bad \xff byte"), ReceiveCount: 1}
	var records [][]byte
	for _, msg := range []*brokers.Message{withAttrs, plain} {
		rec, err := sh.record(msg, now)
		if err != nil {
			t.Fatal(err)
		}
		records = append(records, rec)
	}
	payload := sh.event(records)

	var ev events.SQSEvent
	queueStrictDecode(t, payload, &ev)
	if len(ev.Records) != 2 {
		t.Fatalf("%d records, want 2", len(ev.Records))
	}
	r := ev.Records[0]
	want := events.SQSMessage{
		MessageId:     "MessageID_1",
		ReceiptHandle: r.ReceiptHandle,
		Body:          "Message <Body> & more",
		Md5OfBody:     sqsMD5Hex([]byte("Message <Body> & more")),
		Md5OfMessageAttributes: md5OfSQSAttributes([]sqsAttributeValue{
			{"trace", "String", "a=b"}, {"Attribute1", "String", "AttributeValue1"}}),
		Attributes: map[string]string{"ApproximateReceiveCount": "2", "SentTimestamp": "1520621625029",
			"SenderId": "123456789012", "ApproximateFirstReceiveTimestamp": "1520621634884"},
		MessageAttributes: map[string]events.SQSMessageAttribute{
			"Attribute1": {StringValue: queuePtr("AttributeValue1"), StringListValues: []string{}, BinaryListValues: [][]byte{}, DataType: "String"},
			"trace":      {StringValue: queuePtr("a=b"), StringListValues: []string{}, BinaryListValues: [][]byte{}, DataType: "String"},
		},
		EventSourceARN: "arn:aws:sqs:eu-west-1:123456789012:orders",
		EventSource:    "aws:sqs",
		AWSRegion:      "eu-west-1",
	}
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("record (-want +got):\n%s", diff)
	}
	if r.ReceiptHandle == "" || r.ReceiptHandle == ev.Records[1].ReceiptHandle {
		t.Errorf("receipt handles %q and %q: want distinct, non-empty", r.ReceiptHandle, ev.Records[1].ReceiptHandle)
	}
	if !bytes.Contains(payload, []byte(`"Message <Body> & more"`)) {
		t.Errorf("body escaped in %s, want it as Lambda writes it", payload)
	}
	p := ev.Records[1]
	if p.Body != "bad \uFFFD byte" || p.Md5OfBody != sqsMD5Hex([]byte(p.Body)) {
		t.Errorf("invalid UTF-8 body rendered as %q with MD5 %s", p.Body, p.Md5OfBody)
	}
	if p.Attributes["SentTimestamp"] != "1520621634884" || p.Attributes["ApproximateReceiveCount"] != "1" {
		t.Errorf("attributes of a message without SentAt = %v", p.Attributes)
	}

	got := queueDecodeJSON(t, payload)
	queueSameKeys(t, "", map[string]any{"Records": got["Records"].([]any)[:1]}, queueSample(t, "sqs-event.json"),
		map[string]string{".Records[].messageAttributes": "Attribute1"})

	// Without attributes, messageAttributes is empty and there is no MD5
	// of them, as SQS returns such a message.
	second := queueDecodeJSON(t, records[1])
	if attrs, ok := second["messageAttributes"].(map[string]any); !ok || len(attrs) != 0 {
		t.Errorf("messageAttributes without attributes = %v, want {}", second["messageAttributes"])
	}
	if _, ok := second["md5OfMessageAttributes"]; ok {
		t.Errorf("md5OfMessageAttributes present without attributes")
	}
}

func queuePtr[T any](v T) *T { return &v }

func TestSQSMessageAttributesMD5(t *testing.T) {
	// Values SQS returns for these attributes (published in SQS client
	// libraries' tests).
	tests := []struct {
		attrs []sqsAttributeValue
		want  string
	}{
		{[]sqsAttributeValue{{"SellerName", "String", "Example Store"}}, "cd28f3b68aeee4b2eac9c66f2f694b58"},
		{[]sqsAttributeValue{{"ordinal", "Number", "1"}, {"category", "String", "test"}}, "d21ae90c49061e927f57df5f5d72be1f"},
	}
	for _, tt := range tests {
		if got := md5OfSQSAttributes(tt.attrs); got != tt.want {
			t.Errorf("md5OfSQSAttributes(%v) = %s, want %s", tt.attrs, got, tt.want)
		}
	}
}

const queueMQARN = "arn:aws:mq:us-west-2:112556298976:broker:test:b-9bcfa592-423a-4942-879d-eb284b418fc8"

func TestMQShapeMatchesLambdaEvent(t *testing.T) {
	sh := newMQShape(queueMQARN, "test", "amqp://guest:secret@localhost:5672")
	body := []byte(`{"timeout":0,"data":"CZrmf0Gw8Ov4bqLQxD4E"}`)
	msg := &brokers.Message{ID: "1", Body: body, ReceiveCount: 1, AMQP: &brokers.AMQPProperties{
		ContentType:  "text/plain",
		Headers:      map[string]any{"header1": "value1", "header2": []byte("value2"), "numberInHeader": int32(10)},
		DeliveryMode: 1,
		Priority:     34,
		Expiration:   "60000",
		Timestamp:    time.Unix(2021, 0),
		UserID:       "AIDACKCEVSQ6C2EXAMPLE",
	}}
	rec, err := sh.record(msg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	payload := sh.event([][]byte{rec})

	var ev events.RabbitMQEvent
	queueStrictDecode(t, payload, &ev)
	if got := ev.MessagesByQueue["test::/"]; len(got) != 1 || got[0].Data != base64.StdEncoding.EncodeToString(body) {
		t.Errorf("rmqMessagesByQueue = %+v, want one message with the body under test::/", ev.MessagesByQueue)
	}

	// The sample was made from the same message; only its bodySize does
	// not match its data.
	sample := queueSample(t, "rabbitmq-event.json")
	sampleMsg := sample["rmqMessagesByQueue"].(map[string]any)["test::/"].([]any)[0].(map[string]any)
	sampleMsg["basicProperties"].(map[string]any)["bodySize"] = json.Number("43")
	if diff := cmp.Diff(sample, queueDecodeJSON(t, payload)); diff != "" {
		t.Errorf("event (-aws-lambda-go sample +got):\n%s", diff)
	}
	queueSameKeys(t, "", queueDecodeJSON(t, payload), sample, nil)
}

func TestMQShapeWithoutProperties(t *testing.T) {
	sh := newMQShape(queueMQARN, "jobs", "amqp://localhost/prod%2Feu")
	rec, err := sh.record(&brokers.Message{ID: "1", Body: []byte("hi"), ReceiveCount: 3}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var ev events.RabbitMQEvent
	queueStrictDecode(t, sh.event([][]byte{rec}), &ev)
	msgs := ev.MessagesByQueue["jobs::prod/eu"]
	if len(msgs) != 1 || !msgs[0].Redelivered || msgs[0].BasicProperties.BodySize != 2 {
		t.Errorf("messages = %+v, want one redelivered message of 2 bytes under jobs::prod/eu", ev.MessagesByQueue)
	}
	props := queueDecodeJSON(t, rec)["basicProperties"].(map[string]any)
	for k, v := range props {
		if k != "bodySize" && v != nil {
			t.Errorf("basicProperties.%s = %v, want null for a message without AMQP properties", k, v)
		}
	}
}

func TestMQVirtualHost(t *testing.T) {
	for url, want := range map[string]string{
		"amqp://localhost":                    "/",
		"amqp://u:p@localhost:5672/":          "/",
		"amqp://localhost/prod":               "prod",
		"amqps://localhost/%2Fprod":           "/prod",
		"amqp://localhost/team%20a":           "team a",
		"amqp://[bad":                         "/",
		"amqp://u:p%40ss@localhost/orders%2F": "orders/",
	} {
		if got := mqVirtualHost(url); got != want {
			t.Errorf("mqVirtualHost(%q) = %q, want %q", url, got, want)
		}
	}
}

func TestMQHeaderValues(t *testing.T) {
	type table map[string]any // as AMQP clients name their field tables
	at := time.Date(2024, 3, 5, 14, 7, 9, 0, time.UTC)
	got, err := json.Marshal(mqHeaderValue(table{
		"s":      "ab",
		"bytes":  []byte{1, 2},
		"n":      int64(-3),
		"u":      uint16(4),
		"f":      1.5,
		"nan":    math.NaN(),
		"ok":     true,
		"none":   nil,
		"when":   at,
		"list":   []any{"x", int8(1), table{"deep": "y"}},
		"array":  [2]byte{7, 8},
		"nested": map[string]any{"k": "v"},
	}))
	if err != nil {
		t.Fatalf("marshal headers: %v", err)
	}
	want := `{"array":{"bytes":[7,8]},"bytes":{"bytes":[1,2]},"f":1.5,"list":[{"bytes":[120]},1,{"deep":{"bytes":[121]}}],` +
		`"n":-3,"nan":{"bytes":[78,97,78]},"nested":{"k":{"bytes":[118]}},"none":null,"ok":true,"s":{"bytes":[97,98]},` +
		`"u":4,"when":"Mar 5, 2024, 2:07:09 PM"}`
	if string(got) != want {
		t.Errorf("headers = %s\nwant      %s", got, want)
	}
}

func TestMQEngineEventAndFilter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var gotEvents []events.RabbitMQEvent
		s := newQueueService(queueInvoker(func(_ context.Context, req invoke.Request) (*invoke.Response, error) {
			var ev events.RabbitMQEvent
			queueStrictDecode(t, req.Payload, &ev)
			mu.Lock()
			gotEvents = append(gotEvents, ev)
			mu.Unlock()
			return &invoke.Response{StatusCode: 200}, nil
		}))
		src := &Source{Name: "test", Broker: BrokerRabbitMQ, URL: "amqp://guest:guest@localhost:5672/", Semantics: SemanticsQueue,
			Queue: "test", BrokerID: "9bcfa592-423a-4942-879d-eb284b418fc8"}
		m := queueMapping(src)
		m.EventSourceArn = src.MQARN(queueTestID)
		m.Queues = []string{"work"}
		m.FilterCriteria = &lambda.FilterCriteria{Filters: []lambda.Filter{{Pattern: `{"data": {"timeout": [0]}}`}}}
		q := newMemQueue()
		q.send("keep", `{"timeout":0}`, "drop", `{"timeout":5}`, "text", "timeout 0")
		r := startQueue(t, s, m, src, q)
		time.Sleep(time.Second) // past the 500 ms default window
		synctest.Wait()

		mu.Lock()
		defer mu.Unlock()
		if len(gotEvents) != 1 {
			t.Fatalf("%d events, want 1", len(gotEvents))
		}
		ev := gotEvents[0]
		msgs := ev.MessagesByQueue["work::/"]
		if ev.EventSource != "aws:rmq" || ev.EventSourceARN != m.EventSourceArn || len(msgs) != 1 {
			t.Fatalf("event = %+v, want one message of queue work on vhost /", ev)
		}
		if data, _ := base64.StdEncoding.DecodeString(msgs[0].Data); string(data) != `{"timeout":0}` {
			t.Errorf("data = %s, want the kept message", data)
		}
		if got := q.acked(); !slices.Equal(got, []string{"drop", "keep", "text"}) {
			t.Errorf("acked = %v, want all three", got)
		}
		if err := r.stop(t); err != nil {
			t.Errorf("runQueue after cancel = %v, want nil", err)
		}
	})
}

func TestQueueShapeAndDefaults(t *testing.T) {
	sqs := queueSource()
	mqSrc := &Source{Name: "rabbit", Broker: BrokerRabbitMQ, URL: "amqp://guest:guest@localhost:5672/", Queue: "rabbit", BrokerID: "b1"}
	mq := queueMapping(mqSrc)
	mq.EventSourceArn = mqSrc.MQARN(queueTestID)
	tuned := queueMapping(sqs)
	tuned.BatchSize = queueInt(50)
	tuned.MaximumBatchingWindowInSeconds = queueInt(7)
	tuned.ScalingConfig = &lambda.ScalingConfig{MaximumConcurrency: queueInt(4)}
	tuned.FunctionResponseTypes = []string{lambda.ESMReportBatchItemFailures}
	mqPartial := *mq
	mqPartial.FunctionResponseTypes = []string{lambda.ESMReportBatchItemFailures}

	tests := []struct {
		name    string
		m       *lambda.EventSourceMapping
		src     *Source
		batch   int
		window  time.Duration
		slots   int
		partial bool
		mq      bool
	}{
		{"sqs defaults", queueMapping(sqs), sqs, 10, 0, 1000, false, false},
		{"sqs settings", tuned, sqs, 50, 7 * time.Second, 4, true, false},
		{"amazon mq defaults", mq, mqSrc, 100, 500 * time.Millisecond, 1000, false, true},
		{"amazon mq has no partial batch response", &mqPartial, mqSrc, 100, 500 * time.Millisecond, 1000, false, true},
		{"rabbitmq source by its sqs arn", queueMapping(mqSrc), mqSrc, 10, 0, 1000, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newQueueService(queueInvoker(nil))
			e, err := s.newQueueEngine(tt.m, tt.src, newMemQueue(), &status{s: s, uuid: tt.m.UUID})
			if err != nil {
				t.Fatal(err)
			}
			_, isMQ := e.shape.(*mqShape)
			got := []any{e.batchSize, e.window, e.slots, e.partial, isMQ}
			want := []any{tt.batch, tt.window, tt.slots, tt.partial, tt.mq}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("batch, window, slots, partial, mq (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFilterCriteria(t *testing.T) {
	for _, fc := range []*lambda.FilterCriteria{nil, {}} {
		f, err := compileFilters(fc)
		if f != nil || err != nil {
			t.Errorf("compileFilters(%v) = %v, %v; want nil, nil", fc, f, err)
		}
		if !f.match([]byte(`{}`)) || !f.matchPayload([]byte(`{}`), "body", []byte("x")) {
			t.Error("nil filters dropped a record")
		}
	}
	if _, err := compileFilters(&lambda.FilterCriteria{Filters: []lambda.Filter{{Pattern: `{"body": "x"}`}}}); !errors.Is(err, lambda.ErrInvalidParameter) {
		t.Errorf("invalid pattern: err = %v, want InvalidParameterValueException", err)
	}

	f, err := compileFilters(&lambda.FilterCriteria{Filters: []lambda.Filter{
		{Pattern: `{"body": {"id": [123456789012345678]}}`},
		{Pattern: `{"body": [{"prefix": "hello"}]}`},
		{Pattern: `{"eventSource": ["aws:kinesis"], "data": {"ok": [true]}}`},
	}})
	if err != nil {
		t.Fatal(err)
	}
	record := []byte(`{"messageId":"1","body":"placeholder","eventSource":"aws:sqs"}`)
	tests := []struct {
		name    string
		record  []byte
		key     string
		payload string
		want    bool
	}{
		{"json body, exact big number", record, "body", `{"id":123456789012345678}`, true},
		{"json body, neighbouring number", record, "body", `{"id":123456789012345679}`, false},
		{"string body", record, "body", "hello world", true},
		{"string body, no match", record, "body", "goodbye", false},
		{"json string body", record, "body", `"hello there"`, true},
		{"body that only looks like json", record, "body", `{"id":123456789012345678`, false},
		{"kinesis data", []byte(`{"eventSource":"aws:kinesis"}`), "data", `{"ok":true}`, true},
		{"record not an object", []byte(`[1]`), "body", "hello", false},
	}
	for _, tt := range tests {
		if got := f.matchPayload(tt.record, tt.key, []byte(tt.payload)); got != tt.want {
			t.Errorf("%s: matchPayload = %v, want %v", tt.name, got, tt.want)
		}
	}
	if !f.match([]byte(`{"body":{"id":123456789012345678}}`)) || f.match([]byte(`{"body":`)) || f.match([]byte(`"x"`)) {
		t.Error("match on record JSON: want a match for the decoded body only")
	}
}
