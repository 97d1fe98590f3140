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

var _ brokers.Stream = (*Stream)(nil)

// Start positions of brokers.StartAt.
const (
	PositionTrimHorizon = "TRIM_HORIZON"
	PositionLatest      = "LATEST"
	PositionAtTimestamp = "AT_TIMESTAMP"
)

// availableWait is how long Read waits for each record after the first:
// only long enough to take what has already arrived at the client.
const availableWait = 2 * time.Millisecond

// deleteTimeout bounds Close's wait for the server to delete the consumer.
const deleteTimeout = 2 * time.Second

// maxResets bounds how often the ordered consumer recreates itself in a
// row before Read reports the failure, rather than retrying for ever.
const maxResets = 3

// StreamConfig says which stream a Stream reads, and from where.
type StreamConfig struct {
	// URL is the NATS server URL (or a comma-separated list); it may hold
	// user:pass or a token and is never logged or put in an error.
	URL string
	// Stream must exist; OpenStream fails with an error naming it if not.
	Stream string
	// Subject, when not empty, filters the stream's subjects.
	Subject string
	// Start is where reading begins; After wins over Position.
	Start brokers.StartAt
}

// Stream reads one JetStream stream in order through an ordered consumer
// (an ephemeral consumer that the client recreates from the last record
// seen whenever it detects a gap). It keeps no checkpoints and acks
// nothing. The client library runs the consumer's goroutines; Close stops
// them and closes the connection.
type Stream struct {
	name     string
	nc       *nats.Conn
	js       jetstream.JetStream
	consumer jetstream.Consumer
	iter     jetstream.MessagesContext

	closeOnce sync.Once
	closed    chan struct{}
}

// OpenStream connects to NATS and starts an ordered consumer on
// cfg.Stream at cfg.Start.
func OpenStream(ctx context.Context, cfg StreamConfig) (*Stream, error) {
	nc, js, err := connect(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("open stream: %w", err)
	}
	s, err := openOrdered(ctx, nc, js, cfg)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("open stream: %w", err)
	}
	return s, nil
}

func openOrdered(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, cfg StreamConfig) (*Stream, error) {
	st, err := lookupStream(ctx, js, cfg.Stream)
	if err != nil {
		return nil, err
	}
	occ, err := orderedConfig(cfg, st.CachedInfo().State.LastSeq)
	if err != nil {
		return nil, err
	}
	consumer, err := st.OrderedConsumer(ctx, occ)
	if err != nil {
		return nil, fmt.Errorf("create ordered consumer on stream %q: %w", cfg.Stream, err)
	}
	iter, err := consumer.Messages()
	if err != nil {
		return nil, fmt.Errorf("read stream %q: %w", cfg.Stream, err)
	}
	return &Stream{
		name: cfg.Stream, nc: nc, js: js, consumer: consumer, iter: iter,
		closed: make(chan struct{}),
	}, nil
}

// orderedConfig turns cfg's start into the ordered consumer's deliver
// policy. LATEST becomes a start sequence just past lastSeq, the stream's
// last record when opening: the ordered consumer re-applies its deliver
// policy each time it recreates itself before the first record, which
// for "new only" would skip records added in between.
func orderedConfig(cfg StreamConfig, lastSeq uint64) (jetstream.OrderedConsumerConfig, error) {
	occ := jetstream.OrderedConsumerConfig{MaxResetAttempts: maxResets}
	if cfg.Subject != "" {
		occ.FilterSubjects = []string{cfg.Subject}
	}
	start := cfg.Start
	switch {
	case start.After != "":
		seq, err := SeqOf(start.After)
		if err != nil {
			return occ, fmt.Errorf("start after: %w", err)
		}
		occ.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		occ.OptStartSeq = seq + 1
	case start.Position == PositionTrimHorizon:
		occ.DeliverPolicy = jetstream.DeliverAllPolicy
	case start.Position == PositionLatest:
		occ.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		occ.OptStartSeq = lastSeq + 1
	case start.Position == PositionAtTimestamp:
		if start.Timestamp.IsZero() {
			return occ, errors.New("AT_TIMESTAMP without a timestamp")
		}
		ts := start.Timestamp
		occ.DeliverPolicy = jetstream.DeliverByStartTimePolicy
		occ.OptStartTime = &ts
	default:
		return occ, fmt.Errorf("unknown start position %q", start.Position)
	}
	return occ, nil
}

// SeqOf parses a Seq made by this package (brokers.SeqUint of a stream
// sequence) back into the stream sequence.
func SeqOf(seq string) (uint64, error) {
	n, err := strconv.ParseUint(seq, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse sequence %q: %w", seq, err)
	}
	return n, nil
}

// Read waits until at least one record past the last one returned is
// available or ctx ends, then returns up to max records in stream order
// without waiting further. A lost connection ends it with
// ErrDisconnected within a few seconds.
func (s *Stream) Read(ctx context.Context, max int) ([]brokers.Record, error) {
	if max < 1 {
		return nil, fmt.Errorf("read: max %d is not positive", max)
	}
	records := make([]brokers.Record, 0, max)
	for len(records) == 0 {
		first, err := s.waitForOne(ctx)
		if err != nil {
			return nil, err
		}
		records = appendRecord(records, first)
	}
	for len(records) < max {
		// Any error here (mostly the short timeout) only ends this batch;
		// a lasting one shows up in the next Read.
		m, err := s.iter.Next(jetstream.NextMaxWait(availableWait))
		if err != nil {
			break
		}
		records = appendRecord(records, m)
	}
	return records, nil
}

// waitForOne waits for the next record in waits of at most pollWait,
// checking the connection between them.
func (s *Stream) waitForOne(ctx context.Context) (jetstream.Msg, error) {
	for {
		if err := s.checkUsable(ctx); err != nil {
			return nil, err
		}
		waitCtx, cancel := context.WithTimeout(ctx, pollWait)
		m, err := s.iter.Next(jetstream.NextContext(waitCtx))
		cancel()
		if err == nil {
			return m, nil
		}
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			continue // a quiet stream; checkUsable looks at the connection
		}
		if uerr := s.checkUsable(ctx); uerr != nil {
			return nil, uerr
		}
		return nil, fmt.Errorf("read stream %q: %w", s.name, err)
	}
}

// checkUsable says why no wait should start now, if so.
func (s *Stream) checkUsable(ctx context.Context) error {
	select {
	case <-s.closed:
		return ErrClosed
	default:
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if !s.nc.IsConnected() {
		return ErrDisconnected
	}
	return nil
}

// appendRecord appends m as a Record; a message without JetStream metadata
// (which an ordered consumer does not deliver) is skipped.
func appendRecord(records []brokers.Record, m jetstream.Msg) []brokers.Record {
	meta, err := m.Metadata()
	if err != nil {
		return records
	}
	return append(records, brokers.Record{
		Seq:          brokers.SeqUint(meta.Sequence.Stream),
		PartitionKey: m.Subject(),
		Data:         m.Data(),
		Arrival:      meta.Timestamp,
	})
}

// Close stops the ordered consumer, deletes it from the server while
// connected (else the server drops it once inactive) and closes the
// connection. Close is idempotent.
func (s *Stream) Close() error {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.iter.Stop()
		s.deleteConsumer()
		s.nc.Close()
	})
	return nil
}

// deleteConsumer removes the current ephemeral consumer, best effort:
// leaving it costs only server memory until its inactivity threshold.
func (s *Stream) deleteConsumer() {
	info := s.consumer.CachedInfo()
	if info == nil || !s.nc.IsConnected() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), deleteTimeout)
	defer cancel()
	_ = s.js.DeleteConsumer(ctx, s.name, info.Name)
}
