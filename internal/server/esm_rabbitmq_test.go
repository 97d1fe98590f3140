package server_test

import (
	"fmt"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"gust/internal/esm"
	"gust/internal/gusttest"
)

const rabbitURL = "amqp://guest:guest@127.0.0.1:5672/"

// rabbitQueue declares a quorum queue that dead-letters to name+"-dlq"
// after limit failed deliveries, and removes both when the test ends.
func rabbitQueue(t *testing.T, name string, limit int) *amqp.Channel {
	t.Helper()
	needService(t, "RabbitMQ", "127.0.0.1:5672")
	conn, err := amqp.Dial(rabbitURL)
	if err != nil {
		t.Fatalf("dial RabbitMQ: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare(name+"-dlq", true, false, false, false, amqp.Table{"x-queue-type": "quorum"}); err != nil {
		t.Fatalf("declare dead-letter queue: %v", err)
	}
	if _, err := ch.QueueDeclare(name, true, false, false, false, amqp.Table{
		"x-queue-type":              "quorum",
		"x-delivery-limit":          limit,
		"x-dead-letter-exchange":    "",
		"x-dead-letter-routing-key": name + "-dlq",
	}); err != nil {
		t.Fatalf("declare queue: %v", err)
	}
	t.Cleanup(func() {
		if c, err := conn.Channel(); err == nil {
			_, _ = c.QueueDelete(name, false, false, false)
			_, _ = c.QueueDelete(name+"-dlq", false, false, false)
		}
	})
	return ch
}

func publishRabbit(t *testing.T, ch *amqp.Channel, queue, id, body string) {
	t.Helper()
	if err := ch.PublishWithContext(t.Context(), "", queue, false, false, amqp.Publishing{
		MessageId: id, Body: []byte(body), DeliveryMode: amqp.Persistent, Timestamp: time.Now(),
	}); err != nil {
		t.Fatalf("publish: %v", err)
	}
}

func queueDepth(t *testing.T, ch *amqp.Channel, queue string) int {
	t.Helper()
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, amqp.Table{"x-queue-type": "quorum"})
	if err != nil {
		t.Fatalf("inspect %s: %v", queue, err)
	}
	return q.Messages
}

// TestESMRabbitMQPartialBatch is the RabbitMQ case: 25 messages,
// batches of 10, an aws-lambda-go function that reports 2 of them as
// batch item failures. The other 23 are delivered once and acknowledged;
// the 2 come back with rising receive counts and are dead-lettered by the
// queue's delivery limit.
func TestESMRabbitMQPartialBatch(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("event source mappings are sandbox-independent; covered by the full run")
	}
	name := fmt.Sprintf("esm-rmq-%d", time.Now().UnixNano())
	ch := rabbitQueue(t, name, 2)
	srv, col, src := startESM(t, "rmq-consumer", esm.Source{Name: name, Broker: esm.BrokerRabbitMQ, URL: rabbitURL,
		Queue: name, VisibilityTimeoutMillis: 200})
	c := srv.Lambda()
	for i := range 25 {
		body := fmt.Sprintf("ok-%02d", i)
		if i == 7 || i == 18 {
			body = fmt.Sprintf("fail-%02d", i)
		}
		publishRabbit(t, ch, name, fmt.Sprintf("m-%02d", i), body)
	}
	out, err := c.CreateEventSourceMapping(t.Context(), &lambda.CreateEventSourceMappingInput{
		FunctionName:                   aws.String("rmq-consumer"),
		EventSourceArn:                 aws.String(src.ARN(srv.ESM().Identity())),
		BatchSize:                      aws.Int32(10),
		MaximumBatchingWindowInSeconds: aws.Int32(1),
		FunctionResponseTypes:          []types.FunctionResponseType{types.FunctionResponseTypeReportBatchItemFailures},
	})
	if err != nil {
		t.Fatalf("CreateEventSourceMapping: %v", err)
	}
	waitMappingState(t, c, aws.ToString(out.UUID), "Enabled")
	gusttest.WaitFor(t, 60*time.Second, "both failing messages to be dead-lettered", func() bool {
		return queueDepth(t, ch, name+"-dlq") == 2
	})

	got := col.deliveries()
	for i := range 25 {
		body := fmt.Sprintf("ok-%02d", i)
		if i == 7 || i == 18 {
			body = fmt.Sprintf("fail-%02d", i)
			ds := got[body]
			if len(ds) != 3 {
				t.Errorf("%s delivered %d times, want 3 (the delivery limit 2 allows two redeliveries)", body, len(ds))
			}
			for n, d := range ds {
				if d.ReceiveCount != n+1 {
					t.Errorf("%s delivery %d has ApproximateReceiveCount %d, want %d", body, n+1, d.ReceiveCount, n+1)
				}
			}
			continue
		}
		if ds := got[body]; len(ds) != 1 || ds[0].ReceiveCount != 1 || ds[0].ID != fmt.Sprintf("m-%02d", i) {
			t.Errorf("%s deliveries %+v, want exactly one with messageId m-%02d and receive count 1", body, ds, i)
		}
	}
	for _, rep := range col.snapshot() {
		if len(rep.Records) > 10 {
			t.Errorf("a batch of %d records, want at most 10", len(rep.Records))
		}
		if rep.Source != "aws:sqs" {
			t.Errorf("event source %q, want aws:sqs", rep.Source)
		}
	}
	if n := queueDepth(t, ch, name); n != 0 {
		t.Errorf("%d messages left in the queue, want 0", n)
	}
}

// TestESMRabbitMQWindowAndDisable checks the batching window (five
// messages sent together arrive in one invocation of a batch-100 mapping),
// the Amazon MQ event shape through the source's broker ARN, and that a
// disabled mapping lets go of the queue at once and an enabled one takes
// it up again.
func TestESMRabbitMQWindowAndDisable(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("event source mappings are sandbox-independent; covered by the full run")
	}
	name := fmt.Sprintf("esm-rmqw-%d", time.Now().UnixNano())
	ch := rabbitQueue(t, name, 5)
	srv, col, src := startESM(t, "mq-consumer", esm.Source{Name: name, Broker: esm.BrokerRabbitMQ, URL: rabbitURL, Queue: name})
	c := srv.Lambda()
	out, err := c.CreateEventSourceMapping(t.Context(), &lambda.CreateEventSourceMappingInput{
		FunctionName:                   aws.String("mq-consumer"),
		EventSourceArn:                 aws.String(src.MQARN(srv.ESM().Identity())),
		Queues:                         []string{name},
		BatchSize:                      aws.Int32(100),
		MaximumBatchingWindowInSeconds: aws.Int32(3),
	})
	if err != nil {
		t.Fatalf("CreateEventSourceMapping: %v", err)
	}
	uuid := aws.ToString(out.UUID)
	waitMappingState(t, c, uuid, "Enabled")
	gusttest.WaitFor(t, 30*time.Second, "the mapping to consume the queue", func() bool { return queueConsumers(t, ch, name) == 1 })
	for i := range 5 {
		publishRabbit(t, ch, name, fmt.Sprintf("w-%d", i), fmt.Sprintf("window-%d", i))
	}
	gusttest.WaitFor(t, 30*time.Second, "the five messages", func() bool { return len(col.deliveries()) == 5 })
	reps := col.snapshot()
	if len(reps) != 1 || len(reps[0].Records) != 5 {
		t.Errorf("%d invocations for five messages sent together, want one batch of 5 within the 3 s window", len(reps))
	}
	if reps[0].Source != "aws:rmq" {
		t.Errorf("event source %q, want aws:rmq for the broker ARN", reps[0].Source)
	}

	if _, err := c.UpdateEventSourceMapping(t.Context(), &lambda.UpdateEventSourceMappingInput{UUID: out.UUID, Enabled: aws.Bool(false)}); err != nil {
		t.Fatalf("disable: %v", err)
	}
	waitMappingState(t, c, uuid, "Disabled")
	gusttest.WaitFor(t, 5*time.Second, "the disabled mapping to leave the queue", func() bool { return queueConsumers(t, ch, name) == 0 })
	publishRabbit(t, ch, name, "late", "late")
	// The broker counts the message once it is enqueued; nobody takes it.
	gusttest.WaitFor(t, 10*time.Second, "the message to wait in the queue", func() bool { return queueDepth(t, ch, name) == 1 })
	if n := len(col.deliveries()["late"]); n != 0 {
		t.Errorf("the disabled mapping delivered a message %d times", n)
	}
	if _, err := c.UpdateEventSourceMapping(t.Context(), &lambda.UpdateEventSourceMappingInput{UUID: out.UUID, Enabled: aws.Bool(true)}); err != nil {
		t.Fatalf("enable: %v", err)
	}
	waitMappingState(t, c, uuid, "Enabled")
	gusttest.WaitFor(t, 30*time.Second, "the message sent while disabled", func() bool { return len(col.deliveries()["late"]) == 1 })
}

func queueConsumers(t *testing.T, ch *amqp.Channel, queue string) int {
	t.Helper()
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, amqp.Table{"x-queue-type": "quorum"})
	if err != nil {
		t.Fatalf("inspect %s: %v", queue, err)
	}
	return q.Consumers
}
