package pubsub

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NATS topics: the topic's stream on the user's NATS captures its
// subject, so that a message published while no Gust node runs waits
// there; every node pulls from one durable consumer, so each message goes
// to one node, which acknowledges it only after every subscriber's event
// is queued in Gust.

// natsAckWait is how long a message a node took stays hidden from the
// other nodes; a node retrying a delivery renews it.
const natsAckWait = 30 * time.Second

// natsMaxAge is how long a stream Gust creates keeps messages. Gust's
// consumer does not remove them (other consumers may read the stream).
const natsMaxAge = 7 * 24 * time.Hour

// natsMaxAckPending bounds the messages taken and not yet acknowledged by
// all nodes together.
const natsMaxAckPending = 1000

// durableName is the consumer every node shares for topic name.
func durableName(name string) string { return "gust-topic-" + name }

// dialNATS connects to the user's NATS; the client reconnects by itself
// from then on. No error repeats the URL.
func dialNATS(rawURL string) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := nats.Connect(rawURL, nats.Name("gust pub/sub"), nats.Timeout(5*time.Second),
		nats.MaxReconnects(-1), nats.ReconnectWait(time.Second))
	if err != nil {
		return nil, nil, fmt.Errorf("connect to NATS: %w", scrub(err, rawURL))
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("open JetStream: %w", err)
	}
	return nc, js, nil
}

// prepareNATS makes sure t's stream exists and captures its subject, and
// returns the shared durable consumer, created when missing. A consumer
// Gust creates delivers what is published from then on (DeliverNew), so a
// stream that already holds messages is not replayed.
func prepareNATS(ctx context.Context, js jetstream.JetStream, t *Topic) (jetstream.Consumer, error) {
	st, err := ensureStream(ctx, js, t)
	if err != nil {
		return nil, err
	}
	name := durableName(t.Name)
	cons, err := st.Consumer(ctx, name)
	if err == nil && cons.CachedInfo().Config.FilterSubject == t.Subject {
		return cons, nil
	}
	if err == nil {
		// Left by an earlier topic of this name that read another subject.
		if err := st.DeleteConsumer(ctx, name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return nil, fmt.Errorf("replace consumer %s: %w", name, err)
		}
	} else if !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, fmt.Errorf("look up consumer %s: %w", name, err)
	}
	cons, err = st.CreateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       name,
		Description:   "Gust pub/sub topic " + t.Name,
		FilterSubject: t.Subject,
		DeliverPolicy: jetstream.DeliverNewPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       natsAckWait,
		MaxDeliver:    -1,
		MaxAckPending: natsMaxAckPending,
	})
	if errors.Is(err, jetstream.ErrConsumerExists) {
		cons, err = st.Consumer(ctx, name) // another node made it first
	}
	if err != nil {
		return nil, fmt.Errorf("create consumer %s on stream %s: %w", name, t.Stream, err)
	}
	return cons, nil
}

// ensureStream returns t's stream, creating it to capture t.Subject when
// it does not exist. An existing stream must already capture the subject:
// Gust does not change streams it did not make.
func ensureStream(ctx context.Context, js jetstream.JetStream, t *Topic) (jetstream.Stream, error) {
	st, err := js.Stream(ctx, t.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		st, err = js.CreateStream(ctx, jetstream.StreamConfig{
			Name:        t.Stream,
			Description: "Gust pub/sub topic " + t.Name,
			Subjects:    []string{t.Subject},
			Storage:     jetstream.FileStorage,
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      natsMaxAge,
		})
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			st, err = js.Stream(ctx, t.Stream)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", t.Stream, err)
	}
	for _, pattern := range st.CachedInfo().Config.Subjects {
		if subjectCovers(pattern, t.Subject) {
			return st, nil
		}
	}
	return nil, fmt.Errorf("stream %s exists and does not capture subject %s: name another stream, or add the subject to it", t.Stream, t.Subject)
}

// dropNATSConsumer deletes the durable consumer of a deleted topic.
func dropNATSConsumer(ctx context.Context, t *Topic) error {
	nc, js, err := dialNATS(t.URL)
	if err != nil {
		return err
	}
	defer nc.Close()
	err = js.DeleteConsumer(ctx, t.Stream, durableName(t.Name))
	if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	return err
}

// natsPullWait is how long one pull request waits for messages. A node
// that stops lets its last pull request end before it gives messages
// back, so that none is handed to a request nobody reads any more.
const natsPullWait = time.Second

// consumeNATS pulls the topic's messages and fans them out with the
// configured number of workers until ctx ends or the consumer fails.
func (r *runner) consumeNATS(ctx context.Context) error {
	nc, js, err := dialNATS(r.topic.URL)
	if err != nil {
		return err
	}
	defer nc.Close()
	if ok, err := r.svc.current(ctx, &r.topic); err != nil {
		return err
	} else if !ok {
		return errTopicGone
	}
	cons, err := prepareNATS(ctx, js, &r.topic)
	if err != nil {
		return err
	}
	r.log.Info("consuming topic", "stream", r.topic.Stream, "subject", r.topic.Subject)

	var (
		giveBack []jetstream.Msg // taken, not delivered: returned once no pull is pending
		mu       sync.Mutex
		wg       sync.WaitGroup
	)
	keep := func(msg jetstream.Msg) {
		mu.Lock()
		defer mu.Unlock()
		giveBack = append(giveBack, msg)
	}
	work := make(chan jetstream.Msg)
	for range r.svc.opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for msg := range work {
				if !r.handleNATS(ctx, msg) {
					keep(msg)
				}
			}
		}()
	}
	err = r.pullNATS(ctx, cons, work, keep)
	close(work)
	wg.Wait()
	// Given back at once rather than after AckWait, for another node or
	// for this one's next connection.
	for _, msg := range giveBack {
		_ = msg.Nak()
	}
	return err
}

// pullNATS pulls batches until ctx ends or a pull fails for another
// reason than an empty wait, handing each message to a worker. Messages
// that arrive after ctx ended go to keep.
func (r *runner) pullNATS(ctx context.Context, cons jetstream.Consumer, work chan<- jetstream.Msg, keep func(jetstream.Msg)) error {
	for ctx.Err() == nil {
		batch, err := cons.Fetch(r.svc.opts.Workers, jetstream.FetchMaxWait(natsPullWait))
		if err != nil {
			return fmt.Errorf("pull from %s: %w", durableName(r.topic.Name), err)
		}
		for msg := range batch.Messages() {
			select {
			case work <- msg:
			case <-ctx.Done():
				keep(msg)
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("pull from %s: %w", durableName(r.topic.Name), err)
		}
	}
	return ctx.Err()
}

// handleNATS delivers one message and acknowledges it once every event is
// queued. It reports false when shutdown cut the delivery short: the
// message must be given back.
func (r *runner) handleNATS(ctx context.Context, msg jetstream.Msg) bool {
	meta, err := msg.Metadata()
	if err != nil {
		r.log.Warn("message without JetStream metadata skipped; the server delivers it again", "err", err)
		return true
	}
	subject, attrs := fromHeaders(msg.Headers())
	m := &message{
		id:         messageID(r.arn, meta.Stream, strconv.FormatUint(meta.Sequence.Stream, 10)),
		subject:    subject,
		body:       msg.Data(),
		attributes: attrs,
		published:  meta.Timestamp,
	}
	if err := r.deliver(ctx, m, func() { _ = msg.InProgress() }); err != nil {
		return false
	}
	if err := msg.Ack(); err != nil {
		r.log.Warn("message not acknowledged; it will be delivered again", "message_id", m.id, "err", err)
	}
	return true
}
