package jsbroker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"gust/internal/brokers"
)

// openTestQueue opens a Queue on ts, closed after the test.
func openTestQueue(t *testing.T, cfg QueueConfig) *Queue {
	t.Helper()
	if cfg.URL == "" {
		cfg.URL = natsURL
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	q, err := OpenQueue(ctx, cfg)
	if err != nil {
		t.Fatalf("OpenQueue: %v", err)
	}
	t.Cleanup(func() { _ = q.Close() })
	return q
}

// receiveN receives until it has n messages.
func receiveN(t *testing.T, q *Queue, n, max int) []*brokers.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var got []*brokers.Message
	for len(got) < n {
		msgs, err := q.Receive(ctx, max)
		if err != nil {
			t.Fatalf("Receive after %d of %d messages: %v", len(got), n, err)
		}
		if len(msgs) == 0 || len(msgs) > max {
			t.Fatalf("Receive(max %d) returned %d messages", max, len(msgs))
		}
		got = append(got, msgs...)
	}
	if len(got) != n {
		t.Fatalf("received %d messages, want %d", len(got), n)
	}
	return got
}

func TestQueueReceiveAndAck(t *testing.T) {
	t.Parallel()
	ts := newTestStream(t, jetstream.WorkQueuePolicy)
	before := time.Now().Add(-time.Minute)
	seqPlain := ts.publish(t, ts.prefix+".in.a", "plain", nil)
	ts.publish(t, ts.prefix+".in.b", "with id", nats.Header{
		jetstream.MsgIDHeader: {"order-42"},
		"Color":               {"blue", "green"},
	})
	ts.publish(t, ts.prefix+".other", "filtered out", nil)
	q := openTestQueue(t, QueueConfig{Stream: ts.name, Subject: ts.prefix + ".in.>", Durable: "d"})

	msgs := receiveN(t, q, 2, 10)
	byBody := map[string]*brokers.Message{}
	for _, m := range msgs {
		byBody[string(m.Body)] = m
		if m.ReceiveCount != 1 {
			t.Errorf("%q: ReceiveCount = %d, want 1", m.Body, m.ReceiveCount)
		}
		if m.SentAt.Before(before) {
			t.Errorf("%q: SentAt = %v, want the publish time", m.Body, m.SentAt)
		}
	}
	plain, withID := byBody["plain"], byBody["with id"]
	if plain == nil || withID == nil {
		t.Fatalf("received bodies %v, want plain and with id", keys(byBody))
	}
	if want := fmt.Sprintf("%s:%d", ts.name, seqPlain); plain.ID != want {
		t.Errorf("plain ID = %q, want %q", plain.ID, want)
	}
	if plain.Attributes != nil {
		t.Errorf("plain Attributes = %v, want nil", plain.Attributes)
	}
	if withID.ID != "order-42" {
		t.Errorf("ID = %q, want the Nats-Msg-Id order-42", withID.ID)
	}
	if got := withID.Attributes["Color"]; got != "blue" {
		t.Errorf("Attributes[Color] = %q, want the first value blue", got)
	}
	for _, m := range msgs {
		if err := m.Ack(); err != nil {
			t.Fatalf("Ack: %v", err)
		}
	}
	// Work-queue retention drops a message once acked; the filtered-out
	// one stays.
	waitFor(t, 5*time.Second, "acked messages to leave the stream", func() bool { return ts.messages(t) == 1 })
}

func keys(m map[string]*brokers.Message) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestQueueReceiveWaitsForMessageOrContext(t *testing.T) {
	t.Parallel()
	ts := newTestStream(t, jetstream.WorkQueuePolicy)
	q := openTestQueue(t, QueueConfig{Stream: ts.name, Durable: "d"})

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if msgs, err := q.Receive(ctx, 5); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Receive on an empty queue = %d messages, %v; want context.DeadlineExceeded", len(msgs), err)
	}

	type result struct {
		msgs []*brokers.Message
		err  error
	}
	done := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		msgs, err := q.Receive(ctx, 5)
		done <- result{msgs, err}
	}()
	ts.publish(t, ts.prefix+".x", "late", nil)
	r := <-done
	if r.err != nil || len(r.msgs) != 1 || string(r.msgs[0].Body) != "late" {
		t.Fatalf("Receive = %d messages, %v; want the one published while waiting", len(r.msgs), r.err)
	}
}

func TestQueueRetryRedeliversAfterDelay(t *testing.T) {
	t.Parallel()
	ts := newTestStream(t, jetstream.WorkQueuePolicy)
	ts.publish(t, ts.prefix+".x", "again", nil)
	q := openTestQueue(t, QueueConfig{Stream: ts.name, Durable: "d"})

	first := receiveN(t, q, 1, 1)[0]
	const delay = 1500 * time.Millisecond
	retried := time.Now()
	if err := first.Retry(delay); err != nil {
		t.Fatalf("Retry: %v", err)
	}
	second := receiveN(t, q, 1, 1)[0]
	if waited := time.Since(retried); waited < delay {
		t.Errorf("redelivered after %v, want not before the %v delay", waited, delay)
	}
	if second.ID != first.ID {
		t.Errorf("redelivered ID = %q, want the same %q", second.ID, first.ID)
	}
	if second.ReceiveCount != first.ReceiveCount+1 {
		t.Errorf("ReceiveCount = %d, want %d", second.ReceiveCount, first.ReceiveCount+1)
	}
	if err := second.Ack(); err != nil {
		t.Fatalf("Ack: %v", err)
	}
}

func TestQueueDeadLettersAtMaxReceive(t *testing.T) {
	t.Parallel()
	ts := newTestStream(t, jetstream.WorkQueuePolicy)
	dlq := newTestStream(t, jetstream.LimitsPolicy)
	dlqSubject := dlq.prefix + ".dead"
	seq := ts.publish(t, ts.prefix+".jobs", "poison", nats.Header{
		"Color":               {"red"},
		jetstream.MsgIDHeader: {"poison-1"},
	})
	q := openTestQueue(t, QueueConfig{
		Stream: ts.name, Durable: "d", MaxReceive: 2, DeadLetterSubject: dlqSubject,
	})

	for want := 1; want <= 2; want++ {
		m := receiveN(t, q, 1, 1)[0]
		if m.ReceiveCount != want {
			t.Fatalf("ReceiveCount = %d, want %d", m.ReceiveCount, want)
		}
		if err := m.Retry(0); err != nil {
			t.Fatalf("Retry %d: %v", want, err)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := dlq.js.Stream(ctx, dlq.name)
	if err != nil {
		t.Fatal(err)
	}
	dead, err := st.GetLastMsgForSubject(ctx, dlqSubject)
	if err != nil {
		t.Fatalf("dead-letter message not stored: %v", err)
	}
	if string(dead.Data) != "poison" {
		t.Errorf("dead-letter body = %q, want poison", dead.Data)
	}
	wantHeaders := map[string]string{
		"Color":                  "red",
		HeaderDeadLetterStream:   ts.name,
		HeaderDeadLetterSequence: fmt.Sprint(seq),
		HeaderDeadLetterSubject:  ts.prefix + ".jobs",
		HeaderDeadLetterID:       "poison-1",
	}
	for k, want := range wantHeaders {
		if got := dead.Header.Get(k); got != want {
			t.Errorf("dead-letter header %s = %q, want %q", k, got, want)
		}
	}
	if got := dead.Header.Get(jetstream.MsgIDHeader); got != "" {
		t.Errorf("dead-letter message kept %s %q, which would deduplicate it away", jetstream.MsgIDHeader, got)
	}
	// Terminated, so the work queue no longer holds it.
	waitFor(t, 5*time.Second, "the dead-lettered message to leave its stream", func() bool { return ts.messages(t) == 0 })
}

func TestQueueHeldMessageStaysHiddenUntilClose(t *testing.T) {
	t.Parallel()
	ts := newTestStream(t, jetstream.WorkQueuePolicy)
	ts.publish(t, ts.prefix+".x", "slow", nil)
	const ackWait = time.Second
	cfg := QueueConfig{Stream: ts.name, Durable: "shared", AckWait: ackWait}
	holder := openTestQueue(t, cfg)
	other := openTestQueue(t, cfg)

	held := receiveN(t, holder, 1, 1)[0]
	// Three AckWaits pass while the holder keeps the message unsettled:
	// only its heartbeats keep the server from delivering it again.
	ctx, cancel := context.WithTimeout(context.Background(), 3*ackWait)
	defer cancel()
	if msgs, err := other.Receive(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second consumer Receive = %d messages, %v; want nothing while the message is held", len(msgs), err)
	}

	if err := holder.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	again := receiveN(t, other, 1, 1)[0]
	if again.ID != held.ID || again.ReceiveCount != 2 {
		t.Fatalf("after Close got %q with ReceiveCount %d, want %q with 2", again.ID, again.ReceiveCount, held.ID)
	}
	if err := held.Ack(); err == nil {
		t.Errorf("Ack through a closed Queue succeeded, want an error")
	}
	if err := again.Ack(); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	if _, err := holder.Receive(context.Background(), 1); !errors.Is(err, ErrClosed) {
		t.Errorf("Receive after Close = %v, want ErrClosed", err)
	}
}

func TestQueueLostConnectionEndsReceive(t *testing.T) {
	t.Parallel()
	ts := newTestStream(t, jetstream.WorkQueuePolicy)
	proxy := newTCPProxy(t)
	q := openTestQueue(t, QueueConfig{URL: proxy.url(), Stream: ts.name, Durable: "d"})

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := q.Receive(ctx, 1)
		done <- err
	}()
	proxy.cut()
	err := <-done
	if !errors.Is(err, ErrDisconnected) {
		t.Fatalf("Receive after the connection was cut = %v, want ErrDisconnected", err)
	}
}

func TestOpenQueueMissingStream(t *testing.T) {
	t.Parallel()
	newTestJetStream(t)
	name := "NOPE_" + randomSuffix(t)
	_, err := OpenQueue(context.Background(), QueueConfig{URL: natsURL, Stream: name, Durable: "d"})
	if !errors.Is(err, jetstream.ErrStreamNotFound) || !strings.Contains(err.Error(), name) {
		t.Fatalf("OpenQueue on a missing stream = %v, want ErrStreamNotFound naming %s", err, name)
	}
}

func TestOpenQueueRejectsBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  QueueConfig
	}{
		{"no durable", QueueConfig{URL: natsURL, Stream: "S"}},
		{"negative AckWait", QueueConfig{URL: natsURL, Stream: "S", Durable: "d", AckWait: -time.Second}},
		{"tiny AckWait", QueueConfig{URL: natsURL, Stream: "S", Durable: "d", AckWait: time.Nanosecond}},
		{"negative MaxReceive", QueueConfig{URL: natsURL, Stream: "S", Durable: "d", MaxReceive: -1}},
		{"no URL", QueueConfig{Stream: "S", Durable: "d"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if q, err := OpenQueue(context.Background(), tt.cfg); err == nil {
				q.Close()
				t.Fatalf("OpenQueue(%+v) succeeded, want an error", tt.cfg)
			}
		})
	}
}

func TestConnectErrorHidesCredentials(t *testing.T) {
	t.Parallel()
	// Nothing listens on port 1; the second URL does not even parse.
	for _, url := range []string{
		"nats://alice:s3cret@127.0.0.1:1",
		"nats://alice:s3cret@127.0.0.1:notaport",
		"nats://s3cret@127.0.0.1:1",
	} {
		_, err := OpenQueue(context.Background(), QueueConfig{URL: url, Stream: "S", Durable: "d"})
		if err == nil {
			t.Fatalf("OpenQueue through %s succeeded, want an error", url)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error %q shows the credentials", err)
		}
	}
}
