package redisbroker

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"gust/internal/brokers"
)

// queueFixture is a stream with a consumer group, and a way to open
// consumers of it.
type queueFixture struct {
	t      *testing.T
	client *redis.Client
	cfg    QueueConfig
}

func newQueueFixture(t *testing.T, claimIdle time.Duration) *queueFixture {
	t.Helper()
	c := testClient(t)
	key := uniqueKey(t, c, "queue")
	return &queueFixture{t: t, client: c, cfg: QueueConfig{
		URL: testURL(), Stream: key, Group: "workers", ClaimIdle: claimIdle,
	}}
}

// open opens consumer name, closed when the test ends.
func (f *queueFixture) open(name string) *Queue {
	f.t.Helper()
	cfg := f.cfg
	cfg.Consumer = name
	q, err := OpenQueue(testCtx(f.t, 5*time.Second), cfg)
	if err != nil {
		f.t.Fatalf("OpenQueue(%s): %v", name, err)
	}
	f.t.Cleanup(func() { _ = q.Close() })
	return q
}

// receiveOne waits (up to timeout) for exactly one message.
func receiveOne(t *testing.T, q *Queue, timeout time.Duration) *brokers.Message {
	t.Helper()
	msgs, err := q.Receive(testCtx(t, timeout), 10)
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	if len(msgs) != 1 {
		t.Fatalf("Receive returned %d messages, want 1", len(msgs))
	}
	return msgs[0]
}

// pending is the group's pending entry of id, if any.
func (f *queueFixture) pending(id string) (redis.XPendingExt, bool) {
	f.t.Helper()
	p, err := f.client.XPendingExt(context.Background(), &redis.XPendingExtArgs{
		Stream: f.cfg.Stream, Group: f.cfg.Group, Start: id, End: id, Count: 1,
	}).Result()
	if err != nil {
		f.t.Fatalf("XPENDING: %v", err)
	}
	if len(p) == 0 {
		return redis.XPendingExt{}, false
	}
	return p[0], true
}

func TestQueueReceiveAck(t *testing.T) {
	f := newQueueFixture(t, 0)
	q := f.open("a")
	id := xadd(t, f.client, f.cfg.Stream, "", "body", "hello", "color", "red")

	m := receiveOne(t, q, 10*time.Second)
	want := &brokers.Message{
		ID: id, Body: []byte("hello"), ReceiveCount: 1, SentAt: idTime(id),
		Attributes: map[string]string{"color": "red"},
	}
	if diff := cmp.Diff(want, m, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Settle" }, cmp.Ignore())); diff != "" {
		t.Errorf("message (-want +got):\n%s", diff)
	}
	if p, ok := f.pending(id); !ok || p.Consumer != "a" {
		t.Errorf("before ack: pending %+v, %v; want held by a", p, ok)
	}
	if err := m.Ack(); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	if p, ok := f.pending(id); ok {
		t.Errorf("after ack: still pending: %+v", p)
	}
	if n := f.client.XLen(context.Background(), f.cfg.Stream).Val(); n != 1 {
		t.Errorf("after ack: stream length %d, want 1 (entry kept for other groups)", n)
	}
	if err := m.Ack(); err == nil {
		t.Error("second Ack: want an error")
	}
}

func TestQueueReceiveUpToMaxInOrder(t *testing.T) {
	f := newQueueFixture(t, 0)
	q := f.open("a")
	var ids []string
	for _, body := range []string{"1", "2", "3", "4", "5"} {
		ids = append(ids, xadd(t, f.client, f.cfg.Stream, "", "body", body))
	}
	first, err := q.Receive(testCtx(t, 10*time.Second), 2)
	if err != nil {
		t.Fatalf("Receive(2): %v", err)
	}
	rest, err := q.Receive(testCtx(t, 10*time.Second), 10)
	if err != nil {
		t.Fatalf("Receive(10): %v", err)
	}
	if len(first) != 2 {
		t.Errorf("Receive(2) returned %d messages", len(first))
	}
	var got []string
	for _, m := range append(first, rest...) {
		got = append(got, m.ID)
		if err := m.Ack(); err != nil {
			t.Errorf("Ack %s: %v", m.ID, err)
		}
	}
	if diff := cmp.Diff(ids, got); diff != "" {
		t.Errorf("received ids (-want +got):\n%s", diff)
	}
}

func TestQueueBodyFromDataOrAllFields(t *testing.T) {
	f := newQueueFixture(t, 0)
	q := f.open("a")
	xadd(t, f.client, f.cfg.Stream, "", "data", "payload", "trace", "t1")
	xadd(t, f.client, f.cfg.Stream, "", "order", "42")
	var msgs []*brokers.Message
	for len(msgs) < 2 {
		got, err := q.Receive(testCtx(t, 10*time.Second), 2)
		if err != nil {
			t.Fatalf("Receive: %v", err)
		}
		msgs = append(msgs, got...)
	}
	if string(msgs[0].Body) != "payload" || !cmp.Equal(msgs[0].Attributes, map[string]string{"trace": "t1"}) {
		t.Errorf("data entry: body %q attributes %v", msgs[0].Body, msgs[0].Attributes)
	}
	if string(msgs[1].Body) != `{"order":"42"}` || msgs[1].Attributes != nil {
		t.Errorf("plain entry: body %q attributes %v", msgs[1].Body, msgs[1].Attributes)
	}
}

// The one-millisecond resolution of Redis idle times can make a message
// claimable up to a millisecond before the delay measured here ends.
const idleResolution = 2 * time.Millisecond

func TestQueueRetryComesBackAfterDelay(t *testing.T) {
	tests := []struct {
		name             string
		claimIdle, delay time.Duration
	}{
		{"delay shorter than claim idle", 3 * time.Second, 300 * time.Millisecond},
		{"delay longer than claim idle", 400 * time.Millisecond, 1200 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newQueueFixture(t, tt.claimIdle)
			a, b := f.open("a"), f.open("b")
			id := xadd(t, f.client, f.cfg.Stream, "", "body", "again")

			m := receiveOne(t, a, 10*time.Second)
			retried := time.Now()
			if err := m.Retry(tt.delay); err != nil {
				t.Fatalf("Retry: %v", err)
			}
			again := receiveOne(t, b, 20*time.Second)
			if waited := time.Since(retried); waited < tt.delay-idleResolution {
				t.Errorf("retried message came back after %s, before its delay %s", waited, tt.delay)
			}
			if again.ID != id || string(again.Body) != "again" || again.ReceiveCount != 2 {
				t.Errorf("redelivered: id %s body %q count %d; want %s %q 2", again.ID, again.Body, again.ReceiveCount, id, "again")
			}
			if p, ok := f.pending(id); !ok || p.Consumer != "b" || p.RetryCount != 2 {
				t.Errorf("pending after redelivery: %+v, %v; want b with count 2", p, ok)
			}
			if err := again.Ack(); err != nil {
				t.Fatalf("Ack: %v", err)
			}
		})
	}
}

func TestQueueDeadLettersAtMaxReceive(t *testing.T) {
	f := newQueueFixture(t, 2*time.Second)
	f.cfg.MaxReceive = 2
	f.cfg.DeadLetterStream = uniqueKey(t, f.client, "dlq")
	q := f.open("a")
	id := xadd(t, f.client, f.cfg.Stream, "", "body", "poison", "color", "red")

	for want := 1; want <= 2; want++ {
		m := receiveOne(t, q, 10*time.Second)
		if m.ReceiveCount != want {
			t.Fatalf("receive %d: ReceiveCount = %d", want, m.ReceiveCount)
		}
		if err := m.Retry(0); err != nil {
			t.Fatalf("Retry: %v", err)
		}
	}
	dead, err := f.client.XRange(context.Background(), f.cfg.DeadLetterStream, "-", "+").Result()
	if err != nil {
		t.Fatalf("XRANGE dead letters: %v", err)
	}
	if len(dead) != 1 {
		t.Fatalf("dead-letter stream holds %d entries, want 1", len(dead))
	}
	want := map[string]string{"body": "poison", "color": "red", "sourceStream": f.cfg.Stream, "sourceId": id}
	if diff := cmp.Diff(want, fieldStrings(dead[0].Values)); diff != "" {
		t.Errorf("dead-letter entry (-want +got):\n%s", diff)
	}
	if p, ok := f.pending(id); ok {
		t.Errorf("dead-lettered message still pending: %+v", p)
	}
}

func TestQueueDeadLettersWhenClaimedPastMaxReceive(t *testing.T) {
	const claimIdle = 300 * time.Millisecond
	f := newQueueFixture(t, claimIdle)
	f.cfg.MaxReceive = 1
	f.cfg.DeadLetterStream = uniqueKey(t, f.client, "dlq")
	a, b := f.open("a"), f.open("b")
	id := xadd(t, f.client, f.cfg.Stream, "", "body", "crashes its consumer")

	receiveOne(t, a, 10*time.Second)
	if err := a.Close(); err != nil { // as if a died while handling it
		t.Fatalf("Close: %v", err)
	}
	msgs, err := b.Receive(testCtx(t, 8*claimIdle), 10)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Receive of a message past MaxReceive = %d messages, %v; want none and the deadline", len(msgs), err)
	}
	if n := f.client.XLen(context.Background(), f.cfg.DeadLetterStream).Val(); n != 1 {
		t.Errorf("dead-letter stream holds %d entries, want 1", n)
	}
	if p, ok := f.pending(id); ok {
		t.Errorf("dead-lettered message still pending: %+v", p)
	}
}

func TestQueueHeartbeatKeepsMessageFromOthers(t *testing.T) {
	const claimIdle = 500 * time.Millisecond
	f := newQueueFixture(t, claimIdle)
	a, b := f.open("a"), f.open("b")
	id := xadd(t, f.client, f.cfg.Stream, "", "body", "slow job")

	m := receiveOne(t, a, 10*time.Second)
	// b waits four times the claim idle while a holds the message.
	msgs, err := b.Receive(testCtx(t, 4*claimIdle), 10)
	if !errors.Is(err, context.DeadlineExceeded) || len(msgs) != 0 {
		t.Fatalf("second consumer got %d messages, %v while the first held it; want none and the deadline", len(msgs), err)
	}
	if p, ok := f.pending(id); !ok || p.Consumer != "a" || p.RetryCount != 1 {
		t.Errorf("pending while held: %+v, %v; want a with count 1", p, ok)
	}
	if err := m.Ack(); err != nil {
		t.Fatalf("Ack: %v", err)
	}
}

func TestQueueCloseHandsUnsettledToOthers(t *testing.T) {
	const claimIdle = 500 * time.Millisecond
	f := newQueueFixture(t, claimIdle)
	a, b := f.open("a"), f.open("b")
	id := xadd(t, f.client, f.cfg.Stream, "", "body", "orphan")

	receiveOne(t, a, 10*time.Second)
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	m := receiveOne(t, b, 10*time.Second)
	if m.ID != id || m.ReceiveCount != 2 || string(m.Body) != "orphan" {
		t.Errorf("claimed message: id %s count %d body %q; want %s 2 %q", m.ID, m.ReceiveCount, m.Body, id, "orphan")
	}
	if _, err := a.Receive(testCtx(t, time.Second), 1); err == nil {
		t.Error("Receive after Close: want an error")
	}
}

func TestQueueReceiveFailsWhenRedisGoesAway(t *testing.T) {
	c := testClient(t)
	key := uniqueKey(t, c, "queue")
	opt, _ := redis.ParseURL(testURL())
	proxy := startProxy(t, opt.Addr)
	url := strings.Replace(testURL(), opt.Addr, proxy.ln.Addr().String(), 1)
	q, err := OpenQueue(testCtx(t, 5*time.Second), QueueConfig{URL: url, Stream: key, Group: "g", Consumer: "a"})
	if err != nil {
		t.Fatalf("OpenQueue through proxy: %v", err)
	}
	t.Cleanup(func() { _ = q.Close() })

	proxy.close()
	ctx := testCtx(t, 30*time.Second)
	_, err = q.Receive(ctx, 1)
	if err == nil || ctx.Err() != nil {
		t.Errorf("Receive with Redis gone = %v (ctx %v); want a Redis error before the deadline", err, ctx.Err())
	}
}

func TestQueueReceiveFailsWhenGroupIsGone(t *testing.T) {
	f := newQueueFixture(t, 0)
	q := f.open("a")
	if err := f.client.XGroupDestroy(context.Background(), f.cfg.Stream, f.cfg.Group).Err(); err != nil {
		t.Fatalf("XGROUP DESTROY: %v", err)
	}
	ctx := testCtx(t, 10*time.Second)
	if _, err := q.Receive(ctx, 1); err == nil || ctx.Err() != nil {
		t.Errorf("Receive without its group = %v; want a NOGROUP error", err)
	}
}

func TestQueueReceiveReturnsCtxError(t *testing.T) {
	f := newQueueFixture(t, 0)
	q := f.open("a")
	if _, err := q.Receive(testCtx(t, 200*time.Millisecond), 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Receive on an empty queue = %v, want context.DeadlineExceeded", err)
	}
}

func TestOpenQueueExistingGroup(t *testing.T) {
	f := newQueueFixture(t, 0)
	f.open("a")
	f.open("b") // BUSYGROUP is not an error
}

func TestOpenQueueRejectsBadConfig(t *testing.T) {
	ok := QueueConfig{URL: "redis://127.0.0.1:6379", Stream: "s", Group: "g", Consumer: "c"}
	tests := []struct {
		name   string
		change func(*QueueConfig)
	}{
		{"no stream", func(c *QueueConfig) { c.Stream = "" }},
		{"no group", func(c *QueueConfig) { c.Group = "" }},
		{"no consumer", func(c *QueueConfig) { c.Consumer = "" }},
		{"negative claim idle", func(c *QueueConfig) { c.ClaimIdle = -time.Second }},
		{"negative max receive", func(c *QueueConfig) { c.MaxReceive = -1 }},
		{"bad scheme", func(c *QueueConfig) { c.URL = "http://127.0.0.1:6379" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.change(&cfg)
			if q, err := OpenQueue(context.Background(), cfg); err == nil {
				_ = q.Close()
				t.Error("OpenQueue: want an error")
			}
		})
	}
}

func TestOpenErrorsHidePassword(t *testing.T) {
	const secret = "s3cret-pw"
	urls := []string{
		"redis://:" + secret + "@127.0.0.1:1/0",       // nothing listens
		"redis://user:" + secret + "@127.0.0.1:x/0",   // bad port
		"redis://user:" + secret + "@127.0.0.1:1/x",   // bad database
		"redis://user:" + secret + "@[::1/0",          // bad host
		"redis://user:" + secret + "@127.0.0.1:1/0?x", // unknown option
	}
	for _, u := range urls {
		_, err := OpenQueue(testCtx(t, 5*time.Second), QueueConfig{URL: u, Stream: "s", Group: "g", Consumer: "c"})
		if err == nil {
			t.Errorf("OpenQueue(%d-char url): want an error", len(u))
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("OpenQueue error shows the password: %v", err)
		}
		_, err = OpenStream(testCtx(t, 5*time.Second), StreamConfig{URL: u, Stream: "s", Start: brokers.StartAt{Position: "LATEST"}})
		if err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("OpenStream error = %v; want one without the password", err)
		}
	}
}
