package rabbitmq

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	amqp "github.com/rabbitmq/amqp091-go"

	"gust/internal/brokers"
)

const testURL = "amqp://guest:guest@127.0.0.1:5672/"

// deliveryLimit is the x-delivery-limit of the test queues: RabbitMQ
// dead-letters a message returned when it has been delivered more often
// than this, so it is delivered deliveryLimit+1 times.
const deliveryLimit = 2

// patience bounds every wait in these tests.
const patience = 15 * time.Second

// broker connects to the test RabbitMQ for declaring, publishing and
// inspecting, or skips (fails under CI) when there is none.
func broker(t *testing.T) *amqp.Connection {
	t.Helper()
	conn, err := amqp.Dial(testURL)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("RabbitMQ at 127.0.0.1:5672 is not reachable: %v", err)
		}
		t.Skipf("RabbitMQ at 127.0.0.1:5672 is not reachable: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// channel opens a channel on conn that the test closes at the end.
func channel(t *testing.T, conn *amqp.Connection) *amqp.Channel {
	t.Helper()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatalf("open channel: %v", err)
	}
	t.Cleanup(func() { _ = ch.Close() })
	return ch
}

// uniqueName is a queue name for this test run alone.
func uniqueName(t *testing.T) string {
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	return "gust-test-" + strings.ReplaceAll(t.Name(), "/", "-") + "-" + hex.EncodeToString(suffix)
}

// testQueues declares a quorum queue with a delivery limit that
// dead-letters into its own quorum DLQ; both are deleted at the end.
func testQueues(t *testing.T, conn *amqp.Connection) (queue, dlq string) {
	t.Helper()
	queue = uniqueName(t)
	dlq = queue + "-dlq"
	ch := channel(t, conn)
	declare := func(name string, args amqp.Table) {
		t.Helper()
		if _, err := ch.QueueDeclare(name, true, false, false, false, args); err != nil {
			t.Fatalf("declare %s: %v", name, err)
		}
	}
	declare(dlq, amqp.Table{"x-queue-type": "quorum"})
	declare(queue, amqp.Table{
		"x-queue-type":              "quorum",
		"x-delivery-limit":          deliveryLimit,
		"x-dead-letter-exchange":    "",
		"x-dead-letter-routing-key": dlq,
	})
	t.Cleanup(func() {
		// A fresh connection: the test may have broken its own.
		c, err := amqp.Dial(testURL)
		if err != nil {
			return
		}
		defer c.Close()
		if ch, err := c.Channel(); err == nil {
			_, _ = ch.QueueDelete(queue, false, false, false)
			_, _ = ch.QueueDelete(dlq, false, false, false)
		}
	})
	return queue, dlq
}

// publish sends msgs to queue and waits for the broker's confirms, so
// they are in the queue when it returns.
func publish(t *testing.T, conn *amqp.Connection, queue string, msgs ...amqp.Publishing) {
	t.Helper()
	ch := channel(t, conn)
	if err := ch.Confirm(false); err != nil {
		t.Fatalf("confirm mode: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	for _, m := range msgs {
		c, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", queue, true, false, m)
		if err != nil {
			t.Fatalf("publish: %v", err)
		}
		if ok, err := c.WaitContext(ctx); err != nil || !ok {
			t.Fatalf("publish not confirmed: ok=%v err=%v", ok, err)
		}
	}
}

func bodies(texts ...string) []amqp.Publishing {
	msgs := make([]amqp.Publishing, len(texts))
	for i, s := range texts {
		msgs[i] = amqp.Publishing{Body: []byte(s)}
	}
	return msgs
}

// ready is how many messages wait in name, not counting unacked ones.
func ready(t *testing.T, conn *amqp.Connection, name string) int {
	t.Helper()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatalf("open channel: %v", err)
	}
	defer ch.Close()
	q, err := ch.QueueDeclarePassive(name, false, false, false, false, nil)
	if err != nil {
		t.Fatalf("inspect %s: %v", name, err)
	}
	return q.Messages
}

// waitFor polls cond until it holds, failing the test after patience.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// open opens the adapter on queue and closes it at the end of the test.
func open(t *testing.T, queue string) *Queue {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	q, err := Open(ctx, Config{URL: testURL, Queue: queue})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = q.Close() })
	return q
}

// receive calls Receive once, bounded by patience.
func receive(t *testing.T, q *Queue, max int) []*brokers.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	msgs, err := q.Receive(ctx, max)
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	return msgs
}

// receiveAll receives until it has n messages.
func receiveAll(t *testing.T, q *Queue, n int) []*brokers.Message {
	t.Helper()
	var all []*brokers.Message
	for len(all) < n {
		all = append(all, receive(t, q, n-len(all))...)
	}
	return all
}

func TestReceiveBatchesUpToMax(t *testing.T) {
	t.Parallel()
	conn := broker(t)
	queue, _ := testQueues(t, conn)
	publish(t, conn, queue, bodies("a", "b", "c", "d", "e")...)
	q := open(t, queue)
	waitFor(t, "5 buffered deliveries", func() bool { return len(q.buffered) == 5 })

	var got []string
	for i, want := range []int{3, 2} {
		batch := receive(t, q, 3)
		if len(batch) != want {
			t.Fatalf("batch %d: got %d messages, want %d", i, len(batch), want)
		}
		for _, m := range batch {
			got = append(got, string(m.Body))
			if m.ReceiveCount != 1 {
				t.Errorf("%s: ReceiveCount = %d, want 1", m.Body, m.ReceiveCount)
			}
		}
	}
	if want := "a b c d e"; strings.Join(got, " ") != want {
		t.Errorf("bodies = %q, want %q", strings.Join(got, " "), want)
	}
}

func TestAckRemovesMessage(t *testing.T) {
	t.Parallel()
	conn := broker(t)
	queue, dlq := testQueues(t, conn)
	publish(t, conn, queue, bodies("keep", "drop")...)
	q := open(t, queue)
	for _, m := range receiveAll(t, q, 2) {
		if string(m.Body) == "drop" {
			if err := m.Ack(); err != nil {
				t.Fatalf("Ack: %v", err)
			}
		}
	}
	if err := q.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// The unsettled one went back; the acked one is gone for good.
	waitFor(t, "one message back in the queue", func() bool { return ready(t, conn, queue) == 1 })
	q2 := open(t, queue)
	if m := receive(t, q2, 10); len(m) != 1 || string(m[0].Body) != "keep" {
		t.Fatalf("after reopening got %d messages (%v), want only %q", len(m), m, "keep")
	}
	if n := ready(t, conn, dlq); n != 0 {
		t.Errorf("DLQ holds %d messages, want 0", n)
	}
}

func TestMessageProperties(t *testing.T) {
	t.Parallel()
	conn := broker(t)
	queue, _ := testQueues(t, conn)
	sent := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	publish(t, conn, queue, amqp.Publishing{
		Headers:         amqp.Table{"tenant": "blue", "attempt": int32(3)},
		ContentType:     "application/json",
		ContentEncoding: "utf-8",
		DeliveryMode:    amqp.Persistent,
		Priority:        4,
		CorrelationId:   "corr-1",
		ReplyTo:         "replies",
		Expiration:      "600000",
		MessageId:       "msg-1",
		Timestamp:       sent,
		Type:            "order.created",
		UserId:          "guest",
		AppId:           "shop",
		Body:            []byte(`{"n":1}`),
	})
	q := open(t, queue)
	m := receive(t, q, 1)[0]

	if m.ID != "msg-1" || string(m.Body) != `{"n":1}` || m.ReceiveCount != 1 || !m.SentAt.Equal(sent) {
		t.Errorf("got ID %q body %s count %d sent %v, want msg-1 {\"n\":1} 1 %v",
			m.ID, m.Body, m.ReceiveCount, m.SentAt, sent)
	}
	if got := fmt.Sprint(m.Attributes); got != "map[attempt:3 tenant:blue]" {
		t.Errorf("Attributes = %s", got)
	}
	p := m.AMQP
	want := brokers.AMQPProperties{
		ContentType: "application/json", ContentEncoding: "utf-8", DeliveryMode: 2, Priority: 4,
		CorrelationID: "corr-1", ReplyTo: "replies", Expiration: "600000", MessageID: "msg-1",
		Timestamp: sent, Type: "order.created", UserID: "guest", AppID: "shop", Queue: queue,
	}
	got := *p
	got.Headers = nil
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("AMQP properties (-want +got):\n%s", diff)
	}
	if p.Headers["tenant"] != "blue" || p.Headers["attempt"] != int32(3) {
		t.Errorf("AMQP.Headers = %v", p.Headers)
	}
}

func TestRetryRedeliversAfterDelay(t *testing.T) {
	t.Parallel()
	conn := broker(t)
	queue, _ := testQueues(t, conn)
	// No message-id: the id is derived and must survive the redelivery,
	// although x-delivery-count appears in the headers.
	publish(t, conn, queue, amqp.Publishing{Body: []byte("later"), Timestamp: time.Now()})
	q := open(t, queue)
	first := receive(t, q, 1)[0]

	const delay = 300 * time.Millisecond
	retried := time.Now()
	if err := first.Retry(delay); err != nil {
		t.Fatalf("Retry: %v", err)
	}
	again := receive(t, q, 1)[0]
	if waited := time.Since(retried); waited < delay {
		t.Errorf("redelivered after %v, before the %v delay", waited, delay)
	}
	if again.ReceiveCount != 2 || !again.AMQP.Redelivered {
		t.Errorf("redelivery: ReceiveCount %d Redelivered %v, want 2 true", again.ReceiveCount, again.AMQP.Redelivered)
	}
	// What RabbitMQ 3.10 puts in the header, which ReceiveCount maps.
	if c, ok := first.AMQP.Headers[deliveryCountHeader]; ok {
		t.Errorf("first delivery carries x-delivery-count %v", c)
	}
	if c := again.AMQP.Headers[deliveryCountHeader]; c != int64(1) {
		t.Errorf("redelivery: x-delivery-count = %#v, want int64(1)", c)
	}
	if again.ID != first.ID || first.ID == "" {
		t.Errorf("ID changed on redelivery: %q then %q", first.ID, again.ID)
	}
	if err := again.Ack(); err != nil {
		t.Fatalf("Ack: %v", err)
	}
}

func TestRetryPastDeliveryLimitDeadLetters(t *testing.T) {
	t.Parallel()
	conn := broker(t)
	queue, dlq := testQueues(t, conn)
	publish(t, conn, queue, bodies("poison")...)
	q := open(t, queue)
	for want := 1; want <= deliveryLimit+1; want++ {
		m := receive(t, q, 1)[0]
		if m.ReceiveCount != want {
			t.Fatalf("delivery %d: ReceiveCount = %d", want, m.ReceiveCount)
		}
		if err := m.Retry(0); err != nil {
			t.Fatalf("Retry: %v", err)
		}
	}
	waitFor(t, "the message in the DLQ", func() bool { return ready(t, conn, dlq) == 1 })
	if n := ready(t, conn, queue); n != 0 {
		t.Errorf("queue still holds %d messages", n)
	}
	d, ok, err := channel(t, conn).Get(dlq, true)
	if err != nil || !ok || string(d.Body) != "poison" {
		t.Fatalf("DLQ get: ok=%v err=%v body=%q", ok, err, d.Body)
	}
	if reason := d.Headers["x-first-death-reason"]; reason != "delivery_limit" {
		t.Errorf("x-first-death-reason = %v, want delivery_limit", reason)
	}
}

func TestCloseReturnsUnsettledMessages(t *testing.T) {
	t.Parallel()
	conn := broker(t)
	queue, _ := testQueues(t, conn)
	publish(t, conn, queue, bodies("x", "y")...)
	q := open(t, queue)
	msgs := receiveAll(t, q, 2)
	// A retry still waiting must not outlive Close.
	if err := msgs[0].Retry(time.Hour); err != nil {
		t.Fatalf("Retry: %v", err)
	}
	if err := q.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := msgs[1].Ack(); !errors.Is(err, ErrClosed) {
		t.Errorf("Ack after Close = %v, want ErrClosed", err)
	}
	if _, err := q.Receive(context.Background(), 1); !errors.Is(err, ErrClosed) {
		t.Errorf("Receive after Close = %v, want ErrClosed", err)
	}

	q2 := open(t, queue)
	for _, m := range receiveAll(t, q2, 2) {
		// RabbitMQ counts a return on channel close as a delivery.
		if m.ReceiveCount != 2 {
			t.Errorf("%s: ReceiveCount = %d after Close, want 2", m.Body, m.ReceiveCount)
		}
	}
}

// On RabbitMQ 3.10 a message left unsettled when the channel closes
// counts as a delivery, so a consumer that keeps crashing on it ends
// up dead-lettering it, as SQS does after maxReceiveCount receives.
func TestCloseCountsTowardDeliveryLimit(t *testing.T) {
	t.Parallel()
	conn := broker(t)
	queue, dlq := testQueues(t, conn)
	publish(t, conn, queue, bodies("crash")...)
	for want := 1; want <= deliveryLimit+1; want++ {
		q := open(t, queue)
		if m := receive(t, q, 1)[0]; m.ReceiveCount != want {
			t.Fatalf("delivery %d: ReceiveCount = %d", want, m.ReceiveCount)
		}
		if err := q.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	waitFor(t, "the message in the DLQ", func() bool { return ready(t, conn, dlq) == 1 })
	if n := ready(t, conn, queue); n != 0 {
		t.Errorf("queue still holds %d messages", n)
	}
}

func TestSettleTwiceIsRefused(t *testing.T) {
	t.Parallel()
	conn := broker(t)
	queue, _ := testQueues(t, conn)
	publish(t, conn, queue, bodies("one", "two")...)
	q := open(t, queue)
	m := receive(t, q, 1)[0]
	if err := m.Ack(); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	if err := m.Ack(); !errors.Is(err, ErrSettled) {
		t.Errorf("second Ack = %v, want ErrSettled", err)
	}
	if err := m.Retry(0); !errors.Is(err, ErrSettled) {
		t.Errorf("Retry after Ack = %v, want ErrSettled", err)
	}
	// The channel survived: a second ack of a tag would have killed it.
	if err := receive(t, q, 1)[0].Ack(); err != nil {
		t.Errorf("next message: Ack: %v", err)
	}
}

func TestSettleFromManyGoroutines(t *testing.T) {
	t.Parallel()
	conn := broker(t)
	queue, _ := testQueues(t, conn)
	texts := make([]string, DefaultPrefetch) // all unsettled at once
	for i := range texts {
		texts[i] = fmt.Sprint(i)
	}
	publish(t, conn, queue, bodies(texts...)...)
	q := open(t, queue)
	var wg sync.WaitGroup
	errs := make(chan error, len(texts))
	for i, m := range receiveAll(t, q, len(texts)) {
		wg.Go(func() {
			if i%2 == 0 {
				errs <- m.Ack()
			} else {
				errs <- m.Retry(time.Hour) // cancelled by Close
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("settle: %v", err)
		}
	}
	if err := q.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	waitFor(t, "the retried messages back in the queue", func() bool { return ready(t, conn, queue) == len(texts)/2 })
}
