package jsbroker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"gust/internal/brokers"
)

var _ brokers.Queue = (*Queue)(nil)

// DefaultAckWait is QueueConfig.AckWait when it is zero.
const DefaultAckWait = 30 * time.Second

// minAckWait keeps the heartbeats (every AckWait/3) from flooding the
// server.
const minAckWait = 100 * time.Millisecond

// fetchHeartbeat is how often the server proves it is alive during a
// waiting pull; two missed ones end Receive with an error.
const fetchHeartbeat = time.Second

// minPull is the shortest wait worth a pull request to the server.
const minPull = 20 * time.Millisecond

// QueueConfig says which durable pull consumer a Queue receives from.
type QueueConfig struct {
	// URL is the NATS server URL (or a comma-separated list); it may hold
	// user:pass or a token and is never logged or put in an error.
	URL string
	// Stream must exist; OpenQueue fails with an error naming it if not.
	Stream string
	// Subject, when not empty, filters the stream's subjects.
	Subject string
	// Durable is the name of the pull consumer that competing Queues
	// share. It is created, or updated to this configuration.
	Durable string
	// AckWait is how long a received message stays hidden before the
	// server delivers it again. Default 30s. The Queue extends it while
	// a message is unsettled, so it only matters when the process dies.
	AckWait time.Duration
	// MaxReceive is the consumer's MaxDeliver: how often a message is
	// delivered at most. 0 means no limit.
	MaxReceive int
	// DeadLetterSubject, when set with MaxReceive, is where Retry
	// publishes a message that reached MaxReceive; a stream must capture
	// the subject.
	DeadLetterSubject string
}

// Queue receives messages from a durable JetStream pull consumer with SQS
// semantics. Open starts one goroutine that keeps unsettled messages
// hidden; Close stops it and closes the connection.
type Queue struct {
	cfg      QueueConfig
	nc       *nats.Conn
	js       jetstream.JetStream
	consumer jetstream.Consumer
	held     *heldSet

	closing context.Context // done once Close has begun
	stop    context.CancelFunc
	wg      sync.WaitGroup
	once    sync.Once
}

// OpenQueue connects to NATS and creates or updates cfg.Durable on
// cfg.Stream.
func OpenQueue(ctx context.Context, cfg QueueConfig) (*Queue, error) {
	if err := cfg.normalize(); err != nil {
		return nil, fmt.Errorf("open queue: %w", err)
	}
	nc, js, err := connect(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("open queue: %w", err)
	}
	consumer, err := durableConsumer(ctx, js, cfg)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("open queue: %w", err)
	}
	closing, stop := context.WithCancel(context.Background())
	q := &Queue{
		cfg: cfg, nc: nc, js: js, consumer: consumer,
		held:    newHeldSet(),
		closing: closing, stop: stop,
	}
	q.wg.Add(1)
	go q.keepHidden(cfg.AckWait / 3)
	return q, nil
}

// normalize checks cfg and fills in defaults.
func (cfg *QueueConfig) normalize() error {
	switch {
	case cfg.Durable == "":
		return errors.New("no durable consumer name")
	case cfg.AckWait < 0 || (cfg.AckWait > 0 && cfg.AckWait < minAckWait):
		return fmt.Errorf("AckWait %v is below %v", cfg.AckWait, minAckWait)
	case cfg.MaxReceive < 0:
		return fmt.Errorf("negative MaxReceive %d", cfg.MaxReceive)
	}
	if cfg.AckWait == 0 {
		cfg.AckWait = DefaultAckWait
	}
	return nil
}

// durableConsumer creates or updates the Queue's pull consumer.
func durableConsumer(ctx context.Context, js jetstream.JetStream, cfg QueueConfig) (jetstream.Consumer, error) {
	st, err := lookupStream(ctx, js, cfg.Stream)
	if err != nil {
		return nil, err
	}
	maxDeliver := cfg.MaxReceive
	if maxDeliver == 0 {
		maxDeliver = -1 // explicit, so that updating from a limit removes it
	}
	consumer, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       cfg.Durable,
		FilterSubject: cfg.Subject,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cfg.AckWait,
		MaxDeliver:    maxDeliver,
	})
	if err != nil {
		return nil, fmt.Errorf("create consumer %q on stream %q: %w", cfg.Durable, cfg.Stream, err)
	}
	return consumer, nil
}

// Receive waits until at least one message is available or ctx ends, then
// returns up to max messages without waiting further. Each is hidden from
// other consumers until it is settled or the Queue is closed.
func (q *Queue) Receive(ctx context.Context, max int) ([]*brokers.Message, error) {
	if max < 1 {
		return nil, fmt.Errorf("receive: max %d is not positive", max)
	}
	for {
		first, err := q.waitForOne(ctx)
		if err != nil {
			return nil, err
		}
		if out := q.toMessages(q.takeAvailable(first, max)); len(out) > 0 {
			return out, nil
		}
	}
}

// takeAvailable returns first and up to max-1 more messages that the
// server has right now.
func (q *Queue) takeAvailable(first jetstream.Msg, max int) []jetstream.Msg {
	msgs := []jetstream.Msg{first}
	if max == 1 {
		return msgs
	}
	// The first message is ours already: a failure here only means fewer
	// messages this time.
	if batch, err := q.consumer.FetchNoWait(max - 1); err == nil {
		for m := range batch.Messages() {
			msgs = append(msgs, m)
		}
	}
	return msgs
}

// toMessages converts msgs, skipping any without JetStream metadata: it
// cannot be settled, and the server delivers it again after AckWait.
func (q *Queue) toMessages(msgs []jetstream.Msg) []*brokers.Message {
	out := make([]*brokers.Message, 0, len(msgs))
	for _, m := range msgs {
		if bm, err := q.toMessage(m); err == nil {
			out = append(out, bm)
		}
	}
	return out
}

// waitForOne pulls one message, in waits of at most pollWait so that a
// lost connection surfaces as ErrDisconnected rather than a hang.
func (q *Queue) waitForOne(ctx context.Context) (jetstream.Msg, error) {
	for {
		if err := q.checkUsable(ctx); err != nil {
			return nil, err
		}
		msg, err := q.fetchOne(ctx)
		if err != nil || msg != nil {
			return msg, err
		}
	}
}

// checkUsable says why no pull should start now, if so.
func (q *Queue) checkUsable(ctx context.Context) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case q.closing.Err() != nil:
		return ErrClosed
	case !q.nc.IsConnected():
		return ErrDisconnected
	}
	return nil
}

// fetchOne makes one pull of at most pollWait; it returns no message and
// no error when the pull expired empty.
func (q *Queue) fetchOne(ctx context.Context) (jetstream.Msg, error) {
	pullCtx, cancel := context.WithTimeout(ctx, pollWait)
	defer cancel()
	defer context.AfterFunc(q.closing, cancel)()
	deadline, _ := pullCtx.Deadline()
	remaining := time.Until(deadline)
	if remaining < minPull {
		// Too short for a pull request worth sending: just let it pass.
		<-pullCtx.Done()
		return nil, q.checkUsable(ctx)
	}
	opts := []jetstream.FetchOpt{jetstream.FetchContext(pullCtx)}
	if remaining >= 5*fetchHeartbeat/2 {
		// The client wants the pull's expiry (90% of remaining) to
		// cover at least two heartbeats.
		opts = append(opts, jetstream.FetchHeartbeat(fetchHeartbeat))
	}
	batch, err := q.consumer.Fetch(1, opts...)
	if err != nil {
		return nil, q.receiveError(ctx, err)
	}
	for m := range batch.Messages() {
		return m, nil
	}
	if err := batch.Error(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return nil, q.receiveError(ctx, err)
	}
	if err := q.checkUsable(ctx); err != nil {
		return nil, err
	}
	return nil, nil
}

// receiveError maps a failed pull to what Receive returns.
func (q *Queue) receiveError(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case q.closing.Err() != nil:
		return ErrClosed
	case errors.Is(err, jetstream.ErrNoHeartbeat), !q.nc.IsConnected():
		return fmt.Errorf("receive: %w: %w", ErrDisconnected, err)
	}
	return fmt.Errorf("receive from consumer %q: %w", q.cfg.Durable, err)
}

// toMessage converts m and starts keeping it hidden.
func (q *Queue) toMessage(m jetstream.Msg) (*brokers.Message, error) {
	meta, err := m.Metadata()
	if err != nil {
		return nil, err
	}
	id := m.Headers().Get(jetstream.MsgIDHeader)
	if id == "" {
		id = meta.Stream + ":" + strconv.FormatUint(meta.Sequence.Stream, 10)
	}
	s := &settler{q: q, msg: m, meta: meta, id: id}
	q.held.add(s)
	return &brokers.Message{
		ID:           id,
		Body:         m.Data(),
		ReceiveCount: int(meta.NumDelivered),
		SentAt:       meta.Timestamp,
		Attributes:   firstValues(m.Headers()),
		Settle:       s,
	}, nil
}

// firstValues flattens headers to their first values; nil if none.
func firstValues(h nats.Header) map[string]string {
	if len(h) == 0 {
		return nil
	}
	out := make(map[string]string, len(h))
	for k, v := range h {
		if len(v) > 0 {
			out[k] = v[0]
		}
	}
	return out
}

// Close stops keeping messages hidden and closes the connection. The
// server delivers unsettled messages again after AckWait. Close is
// idempotent.
func (q *Queue) Close() error {
	q.once.Do(func() {
		q.stop()
		q.wg.Wait()
		q.nc.Close()
	})
	return nil
}
