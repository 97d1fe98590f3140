package asyncq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"gust/internal/invoke"
	"gust/internal/lambda"
)

// Stream and consumer names.
const (
	asyncStream    = "GUST_ASYNC"
	dlqStream      = "GUST_DLQ"
	consumerPrefix = "fn_"
)

// MaxHops is where recursive-loop detection stops an event chain, as
// Lambda does after 16 loops.
const MaxHops = 16

// Invoker runs invocations: synchronous ones to deliver an event, Event
// ones to reach a destination function.
type Invoker interface {
	Invoke(ctx context.Context, req invoke.Request) (*invoke.Response, error)
}

// Settings reads the per-function configuration the queue obeys.
type Settings interface {
	// EventInvokeConfig returns the config of one qualifier ("$LATEST",
	// a version or an alias), or nil when none is set.
	EventInvokeConfig(ctx context.Context, function, qualifier string) (*lambda.EventInvokeConfig, error)
	// ReservedConcurrency returns the function's reservation, if any. It
	// is asked for every fetch and every event, so it must be an
	// in-memory read (the environment pool's copy).
	ReservedConcurrency(function string) (n int, ok bool)
	// DeadLetterTarget returns the DeadLetterConfig target ARN of one
	// version ("" if none).
	DeadLetterTarget(ctx context.Context, function, version string) (string, error)
}

// Options configure a Queue. Zero durations take the defaults.
type Options struct {
	JS       jetstream.JetStream
	Identity lambda.Identity
	Invoker  Invoker
	Settings Settings
	Logger   *slog.Logger
	// RetryBase is the delay unit between function-error retries: retry n
	// waits n×RetryBase. Default 1m (Lambda's schedule).
	RetryBase time.Duration
	// ThrottleBase and ThrottleMax bound the exponential backoff after a
	// throttle or platform fault. Defaults 1s and 5m.
	ThrottleBase time.Duration
	ThrottleMax  time.Duration
	// AckWait is how long a node may hold an event without a sign of life
	// before another delivery is attempted. Default 30s.
	AckWait time.Duration
	// Concurrency caps the events of one function run at once on this
	// node (further capped by the function's reserved concurrency).
	// Default 16.
	Concurrency int
	// DeadLetterMaxAge is how long dead-letter messages are kept. Default
	// 14 days (SQS's longest retention).
	DeadLetterMaxAge time.Duration
}

func (o *Options) applyDefaults() {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.RetryBase <= 0 {
		o.RetryBase = time.Minute
	}
	if o.ThrottleBase <= 0 {
		o.ThrottleBase = time.Second
	}
	if o.ThrottleMax <= 0 {
		o.ThrottleMax = 5 * time.Minute
	}
	if o.AckWait <= 0 {
		o.AckWait = 30 * time.Second
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
	if o.DeadLetterMaxAge <= 0 {
		o.DeadLetterMaxAge = 14 * 24 * time.Hour
	}
}

// Queue is the async invocation service of one node.
type Queue struct {
	opts   Options
	js     jetstream.JetStream
	events jetstream.Stream
	dlq    jetstream.Stream
	log    *slog.Logger

	ctx    context.Context // cancelled by Close: stop fetching
	cancel context.CancelFunc
	wg     sync.WaitGroup // worker loops and the consumer scan

	mu       sync.Mutex
	closed   bool
	workers  map[string]*worker
	counters map[string]*Counters
}

var _ invoke.Queue = (*Queue)(nil)

// Open creates or binds the streams and starts a worker for every
// function that has a consumer (events accepted before a restart, or by
// another node).
func Open(ctx context.Context, opts Options) (*Queue, error) {
	opts.applyDefaults()
	events, err := opts.JS.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        asyncStream,
		Description: "Gust asynchronous invocations, one subject per function",
		Subjects:    []string{subject(">")},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.WorkQueuePolicy,
		Discard:     jetstream.DiscardNew,
	})
	if err != nil {
		return nil, fmt.Errorf("open async queue: %w", err)
	}
	dlq, err := opts.JS.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        dlqStream,
		Description: "Gust dead-letter queues",
		Subjects:    []string{dlqSubject(">")},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      opts.DeadLetterMaxAge,
	})
	if err != nil {
		return nil, fmt.Errorf("open dead-letter queues: %w", err)
	}
	q := &Queue{opts: opts, js: opts.JS, events: events, dlq: dlq,
		log:     opts.Logger.With("component", "asyncq"),
		workers: make(map[string]*worker), counters: make(map[string]*Counters)}
	q.ctx, q.cancel = context.WithCancel(context.Background())
	if err := q.startExisting(ctx); err != nil {
		q.cancel()
		return nil, err
	}
	q.wg.Add(1)
	go q.scanConsumers()
	return q, nil
}

// Enqueue stores ev durably; it returns only after JetStream has
// acknowledged the write.
func (q *Queue) Enqueue(ctx context.Context, ev invoke.AsyncEvent) error {
	if !lambda.ValidFunctionName(ev.Function) {
		return fmt.Errorf("enqueue: invalid function name %q", ev.Function)
	}
	if ev.TraceID == "" {
		// One trace for every attempt of the event.
		ev.TraceID = invoke.NewTraceID()
	}
	e := &event{AsyncEvent: ev, Enqueued: time.Now()}
	if _, err := q.js.PublishMsg(ctx, e.msg()); err != nil {
		return fmt.Errorf("enqueue %s for %s: %w", ev.RequestID, ev.Function, err)
	}
	q.count(ev.Function, func(c *Counters) { c.AsyncEventsReceived++ })
	if err := q.ensureWorker(ctx, ev.Function); err != nil {
		// Stored all the same: the consumer scan starts the worker later.
		q.log.Warn("start async worker", "function", ev.Function, "err", err)
	}
	return nil
}

// Forget drops a deleted function's queued events and its consumer, as
// Lambda discards the pending events of a deleted function.
func (q *Queue) Forget(ctx context.Context, function string) error {
	q.mu.Lock()
	w := q.workers[function]
	delete(q.workers, function)
	q.mu.Unlock()
	if w != nil {
		w.stop()
	}
	err := q.events.DeleteConsumer(ctx, consumerPrefix+function)
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("forget async queue of %s: %w", function, err)
	}
	if err := q.events.Purge(ctx, jetstream.WithPurgeSubject(subject(function))); err != nil {
		return fmt.Errorf("forget async queue of %s: %w", function, err)
	}
	return nil
}

// Close stops fetching events and waits, until ctx ends, for the events
// being run to finish. Events not finished are delivered again later.
func (q *Queue) Close(ctx context.Context) error {
	q.mu.Lock()
	q.closed = true
	workers := make([]*worker, 0, len(q.workers))
	for _, w := range q.workers {
		workers = append(workers, w)
	}
	q.mu.Unlock()
	q.cancel()
	done := make(chan struct{})
	go func() {
		q.wg.Wait()
		for _, w := range workers {
			w.inflight.Wait()
		}
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("close async queue: %w", ctx.Err())
	}
}

// ensureWorker starts the function's consumer and worker once per node.
func (q *Queue) ensureWorker(ctx context.Context, function string) error {
	q.mu.Lock()
	_, running := q.workers[function]
	closed := q.closed
	q.mu.Unlock()
	if running || closed {
		return nil
	}
	cons, err := q.events.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       consumerPrefix + function,
		FilterSubject: subject(function),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       q.opts.AckWait,
		MaxDeliver:    -1,
		// Events waiting for a retry stay pending; leave room for a
		// large backlog of them.
		MaxAckPending: 100_000,
	})
	if err != nil {
		return fmt.Errorf("consumer for %s: %w", function, err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, running := q.workers[function]; running || q.closed {
		return nil
	}
	w := newWorker(q, function, cons)
	q.workers[function] = w
	q.wg.Add(1)
	go w.run()
	return nil
}

// startExisting starts workers for every function that has a consumer or
// queued events in the stream (an event stored whose consumer could not
// be created is found by its subject).
func (q *Queue) startExisting(ctx context.Context) error {
	functions := map[string]bool{}
	names := q.events.ConsumerNames(ctx)
	for name := range names.Name() {
		if fn, ok := strings.CutPrefix(name, consumerPrefix); ok {
			functions[fn] = true
		}
	}
	if err := names.Err(); err != nil {
		return fmt.Errorf("list async consumers: %w", err)
	}
	info, err := q.events.Info(ctx, jetstream.WithSubjectFilter(subject(">")))
	if err != nil {
		return fmt.Errorf("list async subjects: %w", err)
	}
	for subj := range info.State.Subjects {
		functions[strings.TrimPrefix(subj, subject(""))] = true
	}
	for fn := range functions {
		if err := q.ensureWorker(ctx, fn); err != nil {
			return err
		}
	}
	return nil
}

// scanInterval is how often a node looks for functions whose events were
// accepted by another node.
const scanInterval = 10 * time.Second

func (q *Queue) scanConsumers() {
	defer q.wg.Done()
	t := time.NewTicker(scanInterval)
	defer t.Stop()
	for {
		select {
		case <-q.ctx.Done():
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(q.ctx, scanInterval)
			if err := q.startExisting(ctx); err != nil && q.ctx.Err() == nil {
				q.log.Warn("scan async consumers", "err", err)
			}
			cancel()
		}
	}
}
