package usage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"gust/internal/envpool"
)

// streamName is the JetStream stream that holds the records.
const streamName = "GUST_USAGE"

// Defaults of Options.
const (
	DefaultMaxAge = 400 * 24 * time.Hour
	DefaultBuffer = 8192
	DefaultLinger = 20 * time.Millisecond
)

// Publishing: records go out in batches, at most maxBatch at a time (a
// message of maxBatch records stays far below NATS's 1 MB payload limit),
// each batch acknowledged within ackTimeout.
const (
	maxBatch   = 256
	ackTimeout = 10 * time.Second
)

// Why a record was dropped rather than stored.
var (
	ErrBufferFull = errors.New("usage: buffer full")
	ErrClosed     = errors.New("usage: meter closed")
)

// Options configure a Meter. Zero values take the defaults.
type Options struct {
	JS     jetstream.JetStream
	Logger *slog.Logger
	// MaxAge is how long records are kept. Default 400 days: a year of
	// history, with the month before it to compare against.
	MaxAge time.Duration
	// Buffer bounds the records waiting to be published; a record that
	// finds it full is dropped and counted. Default 8192.
	Buffer int
	// Linger is how long a batch is gathered after its first record
	// before it is published, unless it fills or Flush asks for it.
	// Without the wait, a lone caller's invocations would each cost a
	// JetStream publish, an acknowledgement and a stream write, on the
	// CPUs the functions run on. Default 20 ms.
	Linger time.Duration
}

func (o *Options) applyDefaults() {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.Buffer <= 0 {
		o.Buffer = DefaultBuffer
	}
	if o.Linger <= 0 {
		o.Linger = DefaultLinger
	}
}

// Stats counts what happened to the records of this Meter.
type Stats struct {
	Published uint64 `json:"Published"` // stored and acknowledged
	Dropped   uint64 `json:"Dropped"`   // buffer full, after Close, or not acknowledged
	Pending   uint64 `json:"Pending"`   // buffered or being published
}

// Meter records every invocation in GUST_USAGE. It is an envpool.Observer.
type Meter struct {
	opts   Options
	js     jetstream.JetStream
	stream jetstream.Stream
	log    *slog.Logger
	queue  chan Record

	ctx    context.Context // cancelled when Close stops waiting: publish nothing more
	cancel context.CancelFunc
	done   chan struct{} // closed when the publisher returns

	mu       sync.Mutex
	closed   bool
	accepted uint64        // records put in queue
	settled  uint64        // of those, published or dropped
	progress chan struct{} // closed and replaced whenever settled grows
	hurry    chan struct{} // Flush's request to end the linger (buffered, 1)

	published atomic.Uint64
	dropped   atomic.Uint64
}

var _ envpool.Observer = (*Meter)(nil)

// Open creates or updates the GUST_USAGE stream and starts the publisher.
func Open(ctx context.Context, opts Options) (*Meter, error) {
	opts.applyDefaults()
	stream, err := opts.JS.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        streamName,
		Description: "Gust usage: one record per invocation",
		Subjects:    []string{subject(">")},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      opts.MaxAge,
	})
	if err != nil {
		return nil, fmt.Errorf("open usage stream: %w", err)
	}
	m := newMeter(opts, stream)
	go m.run()
	return m, nil
}

// newMeter builds a Meter whose publisher is not started yet.
func newMeter(opts Options, stream jetstream.Stream) *Meter {
	m := &Meter{opts: opts, js: opts.JS, stream: stream, log: opts.Logger.With("component", "usage"),
		queue: make(chan Record, opts.Buffer), done: make(chan struct{}), progress: make(chan struct{}), hurry: make(chan struct{}, 1)}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	return m
}

// Invoked queues the record of one REPORT line. It never blocks: with the
// buffer full, or after Close, the record is dropped and counted.
func (m *Meter) Invoked(inv envpool.Invocation) {
	r := recordOf(inv)
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		m.drop(1, ErrClosed)
		return
	}
	select {
	case m.queue <- r:
		m.accepted++
		m.mu.Unlock()
	default:
		m.mu.Unlock()
		m.drop(1, ErrBufferFull)
	}
}

// Throttled does nothing: a throttled request runs nothing, and Lambda
// does not bill it.
func (m *Meter) Throttled(function, reason string) {}

// Stats returns the counts so far.
func (m *Meter) Stats() Stats {
	m.mu.Lock()
	pending := m.accepted - m.settled
	m.mu.Unlock()
	return Stats{Published: m.published.Load(), Dropped: m.dropped.Load(), Pending: pending}
}

// Flush waits until every record accepted before the call is published
// or dropped, or until ctx ends.
func (m *Meter) Flush(ctx context.Context) error {
	m.mu.Lock()
	target := m.accepted
	for m.settled < target {
		// End the publisher's linger, now and after each batch: more
		// than a batch may be waiting.
		select {
		case m.hurry <- struct{}{}:
		default:
		}
		ch := m.progress
		m.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("flush usage: %w", context.Cause(ctx))
		}
		m.mu.Lock()
	}
	m.mu.Unlock()
	return nil
}

// Close stops taking records and publishes the ones buffered, until ctx
// ends; what is left then is dropped and counted. Calling it again waits
// for the first call's publisher and returns nil.
func (m *Meter) Close(ctx context.Context) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		<-m.done
		return nil
	}
	m.closed = true
	close(m.queue) // no sender is left: Invoked sends under m.mu, unless closed
	m.mu.Unlock()
	var err error
	select {
	case <-m.done:
	case <-ctx.Done():
		m.cancel()
		<-m.done
		err = fmt.Errorf("close usage meter: %d records dropped in all: %w", m.dropped.Load(), context.Cause(ctx))
	}
	m.cancel()
	return err
}

// run publishes queued records until the queue is closed and drained.
func (m *Meter) run() {
	defer close(m.done)
	batch := make([]Record, 0, maxBatch)
	wait := time.NewTimer(m.opts.Linger)
	wait.Stop()
	for r := range m.queue {
		batch = append(batch[:0], r)
		wait.Reset(m.opts.Linger)
	fill: // take what else comes within the linger
		for len(batch) < maxBatch {
			select {
			case r, ok := <-m.queue:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			case <-wait.C:
				break fill
			case <-m.hurry:
				m.drain(&batch)
				break fill
			}
		}
		wait.Stop()
		m.publish(batch)
	}
}

// drain appends to batch what is already queued, up to maxBatch.
func (m *Meter) drain(batch *[]Record) {
	for len(*batch) < maxBatch {
		select {
		case r, ok := <-m.queue:
			if !ok {
				return
			}
			*batch = append(*batch, r)
		default:
			return
		}
	}
}

// publish stores a batch: one message per function, holding its records
// as JSON lines, all sent before any acknowledgement is awaited. Under
// load a batch holds many records, so the stream's fsync per message does
// not limit how many invocations can be metered. A record whose message
// is not acknowledged in time is dropped.
func (m *Meter) publish(batch []Record) {
	defer m.settle(len(batch))
	if err := m.ctx.Err(); err != nil {
		m.drop(len(batch), ErrClosed)
		return
	}
	ctx, cancel := context.WithTimeout(m.ctx, ackTimeout)
	defer cancel()
	type sent struct {
		f       jetstream.PubAckFuture
		records int
	}
	var (
		futures []sent
		lastErr error
	)
	for _, g := range groupByFunction(batch) {
		var data bytes.Buffer
		enc := json.NewEncoder(&data) // each record on its own line
		for _, r := range g {
			_ = enc.Encode(r) // a Record always encodes
		}
		f, err := m.js.PublishMsgAsync(&nats.Msg{Subject: subject(g[0].Function), Data: data.Bytes()}, jetstream.WithExpectStream(streamName))
		if err != nil {
			lastErr = fmt.Errorf("publish usage of %s: %w", g[0].Function, err)
			continue
		}
		futures = append(futures, sent{f, len(g)})
	}
	ok := 0
	for _, s := range futures {
		if err := waitAck(ctx, s.f); err != nil {
			lastErr = err
			continue
		}
		ok += s.records
	}
	m.published.Add(uint64(ok))
	if lost := len(batch) - ok; lost > 0 {
		m.drop(lost, lastErr)
	}
}

// groupByFunction splits a batch by function, keeping the order of each
// function's records.
func groupByFunction(batch []Record) [][]Record {
	index := make(map[string]int)
	var groups [][]Record
	for _, r := range batch {
		i, ok := index[r.Function]
		if !ok {
			i = len(groups)
			index[r.Function] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], r)
	}
	return groups
}

// waitAck waits for one publish's acknowledgement until ctx ends.
func waitAck(ctx context.Context, f jetstream.PubAckFuture) error {
	select { // an answer already there wins over an ended ctx
	case <-f.Ok():
		return nil
	case err := <-f.Err():
		return fmt.Errorf("publish usage: %w", err)
	default:
	}
	select {
	case <-f.Ok():
		return nil
	case err := <-f.Err():
		return fmt.Errorf("publish usage: %w", err)
	case <-ctx.Done():
		return fmt.Errorf("publish usage: no acknowledgement: %w", context.Cause(ctx))
	}
}

// settle counts n records as published or dropped, for Flush.
func (m *Meter) settle(n int) {
	m.mu.Lock()
	m.settled += uint64(n)
	close(m.progress)
	m.progress = make(chan struct{})
	m.mu.Unlock()
}

// drop counts n lost records and logs the first loss and then each time
// the count doubles, so a flood of drops costs few log lines.
func (m *Meter) drop(n int, cause error) {
	total := m.dropped.Add(uint64(n))
	if prev := total - uint64(n); prev == 0 || bits.Len64(prev) != bits.Len64(total) {
		m.log.Warn("usage records dropped", "dropped", total, "err", cause)
	}
}
