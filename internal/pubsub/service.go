package pubsub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"gust/internal/iam/policy"
	"gust/internal/invoke"
	"gust/internal/lambda"
	"gust/internal/natsd"
)

// Invoker queues Event invocations; invoke.Service implements it.
type Invoker interface {
	Invoke(ctx context.Context, req invoke.Request) (*invoke.Response, error)
}

// Policies reads a function's resource-based policy; store.Store
// implements it. A function or qualifier without a policy is an error
// wrapping store.ErrNotFound.
type Policies interface {
	GetPolicy(ctx context.Context, name, qualifier string) (*policy.Document, string, error)
}

// Defaults of Options.
const (
	DefaultWorkers       = 8
	DefaultRetryBase     = 100 * time.Millisecond
	DefaultReconnectBase = 200 * time.Millisecond
)

// Backoff ceilings: a delivery that fails for a platform fault is tried
// again at most this far apart, and so is a lost broker connection.
const (
	maxRetryDelay     = 5 * time.Second
	maxReconnectDelay = 30 * time.Second
)

// Options configure Open.
type Options struct {
	JS       jetstream.JetStream // required: Gust's own JetStream, for the bucket
	Identity lambda.Identity
	Invoker  Invoker // required
	// Policies reads resource policies for the delivery-time permission
	// check. Required.
	Policies Policies
	// Prefix names the bucket "<Prefix>_topics". Default "gust".
	Prefix string
	// NodeID names this node in its MQTT client ids, which must be stable
	// across restarts for its persistent sessions. Default "node".
	NodeID string
	Logger *slog.Logger
	// Workers is how many messages of one topic a node fans out at once.
	// Default DefaultWorkers.
	Workers int
	// RetryBase is the first delay before queueing an event again after a
	// platform fault; it doubles up to 5 s. Default DefaultRetryBase.
	RetryBase time.Duration
	// ReconnectBase is the first delay before reconnecting to a broker;
	// it doubles up to 30 s. Default DefaultReconnectBase.
	ReconnectBase time.Duration
}

// Service is the pub/sub fan-out service of one node. Open starts
// nothing; Start consumes every topic until Close.
type Service struct {
	opts     Options
	kv       jetstream.KeyValue
	log      *slog.Logger
	policies Policies

	mu      sync.Mutex
	started bool
	closed  bool
	ctx     context.Context // cancelled by Close: parent of every runner
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	runners map[string]*runner
	revs    map[string]uint64 // last applied revision of each key
	stats   map[string]*counters
}

// Open binds to the bucket, creating it if need be. Topics start being
// consumed with Start.
func Open(ctx context.Context, opts Options) (*Service, error) {
	if opts.JS == nil || opts.Invoker == nil || opts.Policies == nil {
		return nil, errors.New("open pubsub: JS, Invoker and Policies are required")
	}
	opts.setDefaults()
	kv, err := natsd.BindKeyValue(ctx, opts.JS, jetstream.KeyValueConfig{
		Bucket:      opts.Prefix + "_topics",
		Description: "Gust pub/sub topics and their subscriptions",
		History:     1,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("open pubsub: %w", err)
	}
	s := &Service{opts: opts, kv: kv, log: opts.Logger.With("component", "pubsub"), policies: opts.Policies,
		runners: map[string]*runner{}, revs: map[string]uint64{}, stats: map[string]*counters{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

func (o *Options) setDefaults() {
	if o.Prefix == "" {
		o.Prefix = "gust"
	}
	if o.NodeID == "" {
		o.NodeID = "node"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	if o.RetryBase <= 0 {
		o.RetryBase = DefaultRetryBase
	}
	if o.ReconnectBase <= 0 {
		o.ReconnectBase = DefaultReconnectBase
	}
}

// Identity is the region and account of the service's ARNs.
func (s *Service) Identity() lambda.Identity { return s.opts.Identity }

// Start consumes every topic, now and as topics change on any node, until
// Close: it watches the bucket in one goroutine, which starts and stops
// one runner per topic. Start returns once the watch is set up; brokers
// are connected in the background, with backoff.
func (s *Service) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("start pubsub: closed")
	}
	if s.started {
		return nil
	}
	w, err := s.kv.WatchAll(s.ctx)
	if err != nil {
		return fmt.Errorf("start pubsub: watch topics: %w", err)
	}
	s.started = true
	s.wg.Add(1)
	go s.watch(w)
	return nil
}

// Close stops consuming: deliveries under way finish queueing (each
// bounded by invokeTimeout), no new one starts, and broker connections
// close. Messages not yet handed to the async queue are redelivered by
// their broker. Close waits for its goroutines until ctx ends.
func (s *Service) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("close pubsub: %w", ctx.Err())
	}
	return err
}

// watch applies the bucket's changes until the service closes.
func (s *Service) watch(w jetstream.KeyWatcher) {
	defer s.wg.Done()
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-s.ctx.Done():
			return
		case e, ok := <-w.Updates():
			if !ok {
				if s.ctx.Err() == nil {
					s.log.Error("topic watch ended; topic changes on other nodes are no longer seen")
				}
				return
			}
			if e != nil { // nil marks the end of the initial values
				s.apply(e.Key(), e.Revision(), e.Operation() == jetstream.KeyValuePut, e.Value())
			}
		}
	}
}

// refresh applies the stored state of one topic at once, so that this
// node acts on its own writes without waiting for the watch.
func (s *Service) refresh(ctx context.Context, name string) {
	e, err := s.kv.Get(ctx, topicKey(name))
	if err != nil {
		return // gone, or unreadable: the watch brings the truth
	}
	s.apply(e.Key(), e.Revision(), true, e.Value())
}

// apply makes this node's runners match one bucket entry, ignoring
// entries older than what it already applied.
func (s *Service) apply(key string, rev uint64, put bool, value []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started || s.closed || rev <= s.revs[key] {
		return
	}
	s.revs[key] = rev
	name, ok := topicName(key)
	if !ok {
		return
	}
	if !put {
		s.stopRunner(name, true)
		delete(s.stats, name)
		return
	}
	t, err := decodeTopic(value)
	if err != nil {
		s.log.Error("unreadable topic record", "topic", name, "err", err)
		return
	}
	r := s.runners[name]
	if r != nil && !r.sameBroker(t) {
		s.stopRunner(name, true) // deleted and created again meanwhile
		r = nil
	}
	if r == nil {
		s.startRunner(t)
		return
	}
	r.setSubscriptions(t)
}

// startRunner starts consuming t; s.mu is held. The runner knows t's
// subscriptions before it connects: a message the broker kept for this
// node can arrive at once, and with none known it would be taken as
// delivered to nobody and acknowledged.
func (s *Service) startRunner(t *Topic) {
	r := newRunner(s, t, s.countersLocked(t.Name))
	r.setSubscriptions(t)
	ctx, cancel := context.WithCancel(s.ctx)
	r.cancel = cancel
	s.runners[t.Name] = r
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		r.run(ctx)
	}()
}

// stopRunner stops the runner of name, if any, and returns a channel
// closed once it has stopped (nil when there was none); s.mu is held.
// gone says the topic no longer exists, so the runner also clears what it
// keeps on the broker for this node.
func (s *Service) stopRunner(name string, gone bool) <-chan struct{} {
	r := s.runners[name]
	if r == nil {
		return nil
	}
	delete(s.runners, name)
	r.gone.Store(gone)
	r.cancel()
	return r.done
}

// stopDeleted stops this node's runner of a topic it just deleted and
// waits (until ctx ends) for it to clear its broker state, so that the
// node has let go of the topic when DeleteTopic returns; the watch tells
// the other nodes.
func (s *Service) stopDeleted(ctx context.Context, name string) {
	s.mu.Lock()
	done := s.stopRunner(name, true)
	s.mu.Unlock()
	if done == nil {
		return
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// Stats are one topic's counters on this node since it started.
type Stats struct {
	// MessagesReceived counts broker messages taken (redeliveries too).
	MessagesReceived uint64
	// EventsQueued counts events handed to a subscriber's async queue.
	EventsQueued uint64
	// EventsFiltered counts events a filter policy held back.
	EventsFiltered uint64
	// EventsDenied counts events not delivered because the function's
	// resource policy does not allow sns.amazonaws.com to invoke it.
	EventsDenied uint64
	// EventsRefused counts events the invoke service refused for good
	// (a deleted function, an event over the 1 MB Event limit).
	EventsRefused uint64
	// DeliveryRetries counts attempts to queue an event again after a
	// platform fault.
	DeliveryRetries uint64
}

// counters are Stats being counted.
type counters struct {
	received, queued, filtered, denied, refused, retries atomic.Uint64
}

func (s *Service) countersLocked(name string) *counters {
	c := s.stats[name]
	if c == nil {
		c = &counters{}
		s.stats[name] = c
	}
	return c
}

// Stats returns the counters of topic name on this node (zero for a topic
// this node has not consumed).
func (s *Service) Stats(name string) Stats {
	s.mu.Lock()
	c := s.stats[name]
	s.mu.Unlock()
	if c == nil {
		return Stats{}
	}
	return Stats{
		MessagesReceived: c.received.Load(),
		EventsQueued:     c.queued.Load(),
		EventsFiltered:   c.filtered.Load(),
		EventsDenied:     c.denied.Load(),
		EventsRefused:    c.refused.Load(),
		DeliveryRetries:  c.retries.Load(),
	}
}
