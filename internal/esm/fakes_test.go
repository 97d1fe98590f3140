package esm

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"gust/internal/brokers"
	"gust/internal/invoke"
	"gust/internal/lambda"
)

// This file holds the in-memory doubles of the queue engine's tests: a
// brokers.Queue, an Invoker made of a function, and a KV bucket for the
// mapping status the engine writes. They use only channels, mutexes and
// timers, so the tests run them inside testing/synctest bubbles.

var queueTestID = lambda.Identity{Region: "eu-west-1", Account: "123456789012"}

// memQueue is an in-memory brokers.Queue. Retry puts a message back after
// its delay (on the bubble's clock), counting one more receive.
type memQueue struct {
	mu       sync.Mutex
	ready    []*brokers.Message
	wake     chan struct{} // signalled when ready grows
	failWith error
	acks     []string
	retries  []queueRetry
	twice    []string // messages settled more than once
}

// queueRetry is one Retry call.
type queueRetry struct {
	ID    string
	Delay time.Duration
}

func newMemQueue() *memQueue { return &memQueue{wake: make(chan struct{}, 1)} }

// send adds messages with the given IDs and bodies (id, body, id, body…).
func (q *memQueue) send(idsAndBodies ...string) {
	for i := 0; i+1 < len(idsAndBodies); i += 2 {
		q.push(&brokers.Message{ID: idsAndBodies[i], Body: []byte(idsAndBodies[i+1]), ReceiveCount: 1})
	}
}

func (q *memQueue) push(msgs ...*brokers.Message) {
	q.mu.Lock()
	for _, m := range msgs {
		m.Settle = &memSettler{q: q, msg: m}
		q.ready = append(q.ready, m)
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// fail makes every later Receive return err.
func (q *memQueue) fail(err error) {
	q.mu.Lock()
	q.failWith = err
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *memQueue) Receive(ctx context.Context, limit int) ([]*brokers.Message, error) {
	for {
		q.mu.Lock()
		if q.failWith != nil {
			err := q.failWith
			q.mu.Unlock()
			return nil, err
		}
		if len(q.ready) > 0 {
			n := min(limit, len(q.ready))
			out := slices.Clone(q.ready[:n])
			q.ready = q.ready[n:]
			q.mu.Unlock()
			return out, nil
		}
		q.mu.Unlock()
		select {
		case <-q.wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (q *memQueue) Close() error { return nil }

// waiting is how many messages are in the queue, not received.
func (q *memQueue) waiting() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.ready)
}

// acked returns the acknowledged message IDs, sorted.
func (q *memQueue) acked() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Sorted(slices.Values(q.acks))
}

// retried returns the Retry calls in order.
func (q *memQueue) retried() []queueRetry {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.retries)
}

func (q *memQueue) settledTwice() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.twice)
}

// memSettler settles one delivery of a message.
type memSettler struct {
	q       *memQueue
	msg     *brokers.Message
	settled bool
}

func (s *memSettler) settle() bool {
	s.q.mu.Lock()
	defer s.q.mu.Unlock()
	if s.settled {
		s.q.twice = append(s.q.twice, s.msg.ID)
		return false
	}
	s.settled = true
	return true
}

func (s *memSettler) Ack() error {
	if s.settle() {
		s.q.mu.Lock()
		s.q.acks = append(s.q.acks, s.msg.ID)
		s.q.mu.Unlock()
	}
	return nil
}

func (s *memSettler) Retry(delay time.Duration) error {
	if !s.settle() {
		return nil
	}
	s.q.mu.Lock()
	s.q.retries = append(s.q.retries, queueRetry{ID: s.msg.ID, Delay: delay})
	s.q.mu.Unlock()
	again := *s.msg
	again.ReceiveCount++
	time.AfterFunc(delay, func() { s.q.push(&again) })
	return nil
}

// queueInvoker is an Invoker made of a function.
type queueInvoker func(ctx context.Context, req invoke.Request) (*invoke.Response, error)

func (f queueInvoker) Invoke(ctx context.Context, req invoke.Request) (*invoke.Response, error) {
	return f(ctx, req)
}

// queueKV is an in-memory jetstream.KeyValue with what natsd.GetJSON and
// natsd.UpdateJSON use; any other method panics (nil embedded interface).
type queueKV struct {
	jetstream.KeyValue
	mu   sync.Mutex
	rev  uint64
	data map[string]queueKVEntry
}

type queueKVEntry struct {
	key   string
	value []byte
	rev   uint64
}

func (e queueKVEntry) Bucket() string                  { return "test_esm" }
func (e queueKVEntry) Key() string                     { return e.key }
func (e queueKVEntry) Value() []byte                   { return e.value }
func (e queueKVEntry) Revision() uint64                { return e.rev }
func (e queueKVEntry) Created() time.Time              { return time.Time{} }
func (e queueKVEntry) Delta() uint64                   { return 0 }
func (e queueKVEntry) Operation() jetstream.KeyValueOp { return jetstream.KeyValuePut }

func (kv *queueKV) Get(_ context.Context, key string) (jetstream.KeyValueEntry, error) {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	e, ok := kv.data[key]
	if !ok {
		return nil, jetstream.ErrKeyNotFound
	}
	return e, nil
}

func (kv *queueKV) Create(_ context.Context, key string, value []byte, _ ...jetstream.KVCreateOpt) (uint64, error) {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	if _, ok := kv.data[key]; ok {
		return 0, jetstream.ErrKeyExists
	}
	kv.rev++
	kv.data[key] = queueKVEntry{key: key, value: slices.Clone(value), rev: kv.rev}
	return kv.rev, nil
}

func (kv *queueKV) Update(_ context.Context, key string, value []byte, rev uint64) (uint64, error) {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	if kv.data[key].rev != rev {
		return 0, jetstream.ErrKeyExists
	}
	kv.rev++
	kv.data[key] = queueKVEntry{key: key, value: slices.Clone(value), rev: kv.rev}
	return kv.rev, nil
}

func (kv *queueKV) Delete(_ context.Context, key string, _ ...jetstream.KVDeleteOpt) error {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	delete(kv.data, key)
	return nil
}

// newQueueService is a Service with just what runQueue uses.
func newQueueService(inv Invoker) *Service {
	return &Service{
		opts:    Options{Invoker: inv},
		id:      queueTestID,
		kv:      &queueKV{data: map[string]queueKVEntry{}},
		log:     slog.New(slog.DiscardHandler),
		runners: map[string]*runner{},
	}
}

// queueSource is a NATS queue source with a 5 s visibility timeout.
func queueSource() *Source {
	return &Source{Name: "orders", Broker: BrokerNATS, URL: "nats://127.0.0.1:4222",
		Semantics: SemanticsQueue, Stream: "orders", VisibilityTimeoutMillis: 5000}
}

// queueMapping is an enabled mapping of src to function "worker".
func queueMapping(src *Source) *lambda.EventSourceMapping {
	return &lambda.EventSourceMapping{
		UUID:           "3f1c2b1e-0000-4000-8000-000000000001",
		EventSourceArn: src.ARN(queueTestID),
		FunctionArn:    queueTestID.FunctionARN("worker"),
		State:          lambda.ESMEnabled,
	}
}

// queueRun is one runQueue call in the background.
type queueRun struct {
	s      *Service
	m      *lambda.EventSourceMapping
	st     *status
	cancel context.CancelFunc
	done   chan error
}

// startQueue stores m (so that status writes land) and runs the engine.
func startQueue(t *testing.T, s *Service, m *lambda.EventSourceMapping, src *Source, q brokers.Queue) *queueRun {
	t.Helper()
	_, err := s.updateMapping(context.Background(), m.UUID, func(*mappingRecord) (*mappingRecord, error) {
		return &mappingRecord{Mapping: *m, Enabled: true}, nil
	})
	if err != nil {
		t.Fatalf("store mapping: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &queueRun{s: s, m: m, st: &status{s: s, uuid: m.UUID}, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.runQueue(ctx, m, src, q, r.st) }()
	return r
}

// stop cancels the run and returns runQueue's result; call it inside
// the bubble, after which no goroutine of the run is left.
func (r *queueRun) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	return <-r.done
}

// stopOK is stop, failing the test unless runQueue returned nil.
func (r *queueRun) stopOK(t *testing.T) {
	t.Helper()
	if err := r.stop(t); err != nil {
		t.Errorf("runQueue after cancel = %v, want nil", err)
	}
}

// stored returns the mapping as stored, with the status the engine wrote.
func (r *queueRun) stored(t *testing.T) lambda.EventSourceMapping {
	t.Helper()
	rec, err := r.s.getMapping(context.Background(), r.m.UUID)
	if err != nil || rec == nil {
		t.Fatalf("read mapping: %v, %v", rec, err)
	}
	return rec.Mapping
}

// queueMessageIDs returns the messageIds of an SQS event.
func queueMessageIDs(t *testing.T, payload []byte) []string {
	t.Helper()
	var ev struct {
		Records []struct {
			MessageID string `json:"messageId"`
		} `json:"Records"`
	}
	if err := json.Unmarshal(payload, &ev); err != nil {
		t.Errorf("decode SQS event: %v", err)
		return nil
	}
	ids := make([]string, len(ev.Records))
	for i, r := range ev.Records {
		ids[i] = r.MessageID
	}
	return ids
}

// queueRecorder is an invoker that records the batches it gets (as
// message ID lists) and answers with respond.
type queueRecorder struct {
	t       *testing.T
	mu      sync.Mutex
	batches [][]string
	respond func(call int, ids []string) (*invoke.Response, error)
}

func (r *queueRecorder) Invoke(_ context.Context, req invoke.Request) (*invoke.Response, error) {
	ids := queueMessageIDs(r.t, req.Payload)
	r.mu.Lock()
	r.batches = append(r.batches, ids)
	call := len(r.batches)
	r.mu.Unlock()
	if r.respond == nil {
		return &invoke.Response{StatusCode: 200, RequestID: "req", Payload: []byte("null")}, nil
	}
	return r.respond(call, ids)
}

func (r *queueRecorder) got() [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.batches)
}

var errQueueBroker = errors.New("broker connection lost")
