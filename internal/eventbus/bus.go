package eventbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"gust/internal/natsd"

	"gust/internal/invoke"
	"gust/internal/lambda"
)

// Invoker queues Event invocations; invoke.Service implements it.
type Invoker interface {
	// Invoke runs req. With Type invoke.TypeEvent it returns once the
	// event is queued durably; the async queue then applies the
	// function's retries and destinations. A function that does not
	// exist is a *lambda.Error of kind ResourceNotFoundException.
	Invoke(ctx context.Context, req invoke.Request) (*invoke.Response, error)
}

// Options configure Open.
type Options struct {
	// JS is the JetStream the buckets live in. Required.
	JS jetstream.JetStream
	// Identity is the region and account in every ARN and event. Required.
	Identity lambda.Identity
	// Invoker delivers events to Lambda targets. Required.
	Invoker Invoker
	// Prefix names the buckets "<Prefix>_events" (buses, rules, targets)
	// and "<Prefix>_events_ticks" (claimed schedule ticks). Default "gust".
	Prefix string
	// Replicas is the JetStream replication factor of the buckets when
	// Open creates them. Default 1.
	Replicas int
	// Clock is the time source. Default: the wall clock.
	Clock Clock
	// Logger receives delivery failures and scheduler problems. Default:
	// nil discards them.
	Logger *slog.Logger
}

// Limits, as EventBridge's default quotas.
const (
	maxRulesPerBus     = 300
	maxCustomBuses     = 100
	maxTargetsPerRule  = 5
	maxPutEventEntries = 10
	maxPutEventsBytes  = 256 << 10
)

// tickTTL is how long a claimed tick stays in the ticks bucket: far longer
// than any node may be late for a tick (lateTolerance) or off in its clock.
const tickTTL = time.Hour

// casAttempts bounds the compare-and-set retries of one write.
const casAttempts = 8

// Bus is the EventBridge service of one Gust node. It is safe for
// concurrent use; several Buses (on several nodes) may share one bucket.
type Bus struct {
	id      lambda.Identity
	kv      jetstream.KeyValue
	ticks   jetstream.KeyValue
	invoker Invoker
	clock   Clock
	log     *slog.Logger
	cache   *cache

	mu      sync.Mutex
	closed  bool
	started bool
	ctx     context.Context // cancelled by Close
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// Open binds to the buckets (creating them if need be) and loads every
// bus and rule into memory; a watch keeps that copy current with changes
// made by any node. The scheduler starts with Start.
func Open(ctx context.Context, opts Options) (*Bus, error) {
	if opts.JS == nil || opts.Invoker == nil {
		return nil, errors.New("open eventbus: JS and Invoker are required")
	}
	if opts.Prefix == "" {
		opts.Prefix = "gust"
	}
	if opts.Replicas == 0 {
		opts.Replicas = 1
	}
	if opts.Clock == nil {
		opts.Clock = wallClock{}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	kv, err := natsd.BindKeyValue(ctx, opts.JS, jetstream.KeyValueConfig{
		Bucket:      opts.Prefix + "_events",
		Description: "Gust EventBridge buses, rules and targets",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    opts.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("open eventbus: %w", err)
	}
	ticks, err := natsd.BindKeyValue(ctx, opts.JS, jetstream.KeyValueConfig{
		Bucket:      opts.Prefix + "_events_ticks",
		Description: "Gust EventBridge schedule ticks claimed by a node",
		History:     1,
		TTL:         tickTTL,
		Storage:     jetstream.FileStorage,
		Replicas:    opts.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("open eventbus: %w", err)
	}
	bctx, cancel := context.WithCancel(context.Background())
	b := &Bus{
		id:      opts.Identity,
		kv:      kv,
		ticks:   ticks,
		invoker: opts.Invoker,
		clock:   opts.Clock,
		log:     log.With("component", "eventbus"),
		ctx:     bctx,
		cancel:  cancel,
	}
	b.cache = newCache(b.log)
	if err := b.watch(ctx); err != nil {
		cancel()
		return nil, fmt.Errorf("open eventbus: %w", err)
	}
	return b, nil
}

// Start starts the scheduler, which fires schedule rules at their ticks.
// It returns an error after Close; a second call does nothing.
func (b *Bus) Start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errors.New("start eventbus scheduler: bus closed")
	}
	if b.started {
		return nil
	}
	b.started = true
	s := newScheduler(b)
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		s.run(b.ctx)
	}()
	return nil
}

// Close stops the watch and the scheduler and waits for them. It does not
// close the NATS connection. Safe to call more than once.
func (b *Bus) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.cancel()
	b.wg.Wait()
	return nil
}

// busARN is the ARN of an event bus.
func (b *Bus) busARN(name string) string {
	return "arn:aws:events:" + b.id.Region + ":" + b.id.Account + ":event-bus/" + name
}

// ruleARN is a rule's ARN: rule/<name> on the default bus,
// rule/<bus>/<name> on a custom one.
func (b *Bus) ruleARN(k ruleKey) string {
	prefix := "arn:aws:events:" + b.id.Region + ":" + b.id.Account + ":rule/"
	if k.bus == DefaultBus {
		return prefix + k.name
	}
	return prefix + k.bus + "/" + k.name
}
