package esm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"gust/internal/brokers"
	"gust/internal/invoke"
	"gust/internal/lambda"
)

// Queue mapping defaults and limits that the lambda package does not
// name.
const (
	// queueMQWindow is Lambda's default batching window for Amazon MQ.
	queueMQWindow = 500 * time.Millisecond
	// queueBackoffMin is the first delay before a throttled batch is
	// offered again; it doubles while throttles continue, up to the
	// source's visibility timeout.
	queueBackoffMin = time.Second
	// queueResultNotFound is LastProcessingResult while the function is
	// missing.
	queueResultNotFound = "PROBLEM: Function not found"
)

// queueShape renders broker messages as the records of one event shape.
type queueShape interface {
	// record renders msg, received now, as one record of the event.
	record(msg *brokers.Message, now time.Time) ([]byte, error)
	// event joins records into the event the function gets.
	event(records [][]byte) []byte
	// envelopeSize is the size of the event without records.
	envelopeSize() int
	// payloadKey is the record field that filters see decoded.
	payloadKey() string
	// partialBatch reports whether the shape takes a partial batch
	// response (its itemIdentifier being the message ID).
	partialBatch() bool
}

// queueEngine polls one queue mapping: SQS semantics on a brokers.Queue.
//
// One goroutine (run) receives and batches; each batch is invoked and
// settled in a goroutine of its own, at most concurrency at a time. A
// slot is taken before receiving, so that messages are received only
// when they can be processed: under backlog the number of batches in
// flight rises to the cap, and it falls back as the queue empties.
type queueEngine struct {
	s          *Service
	m          *lambda.EventSourceMapping
	q          brokers.Queue
	st         *status
	log        *slog.Logger
	shape      queueShape
	filters    *filters
	batchSize  int
	window     time.Duration
	slots      int
	partial    bool // the function reports batch item failures
	visibility time.Duration
	backoff    queueBackoff

	// pending holds messages received but not yet batched: the ones that
	// would have pushed the last event past the payload limit. Only run
	// touches it.
	pending []*brokers.Message
}

// queueBatch is the messages of one invocation and their records.
type queueBatch struct {
	msgs    []*brokers.Message
	records [][]byte
	size    int // of the event, in bytes
}

// runQueue polls q for mapping m (SQS semantics) until ctx ends, or until
// q fails, returning its error. Either way it returns once the batches in
// flight are settled; messages received but not yet invoked are left to
// q.Close, which returns them to the broker.
func (s *Service) runQueue(ctx context.Context, m *lambda.EventSourceMapping, src *Source, q brokers.Queue, st *status) error {
	e, err := s.newQueueEngine(m, src, q, st)
	if err != nil {
		return err
	}
	return e.run(ctx)
}

// newQueueEngine applies the mapping's settings, or Lambda's defaults for
// the event shape: Amazon MQ when the mapping names the source's broker
// ARN, SQS otherwise.
func (s *Service) newQueueEngine(m *lambda.EventSourceMapping, src *Source, q brokers.Queue, st *status) (*queueEngine, error) {
	flt, err := compileFilters(m.FilterCriteria)
	if err != nil {
		return nil, fmt.Errorf("filter criteria: %w", err)
	}
	e := &queueEngine{s: s, m: m, q: q, st: st, filters: flt,
		log:        s.log.With("uuid", m.UUID, "function", m.FunctionArn),
		batchSize:  lambda.DefaultESMBatchSizeQueue,
		slots:      lambda.MaxESMMaximumConcurrency,
		visibility: src.VisibilityTimeout(),
	}
	if mq := src.MQARN(s.id); mq != "" && m.EventSourceArn == mq {
		queue := src.Queue
		if len(m.Queues) > 0 {
			queue = m.Queues[0]
		}
		e.shape = newMQShape(m.EventSourceArn, queue, src.URL)
		e.batchSize = lambda.DefaultESMBatchSizeMQ
		e.window = queueMQWindow
	} else {
		e.shape = &sqsShape{arn: src.ARN(s.id), region: s.id.Region, sender: s.id.Account}
	}
	if m.BatchSize != nil && *m.BatchSize > 0 {
		e.batchSize = *m.BatchSize
	}
	if m.MaximumBatchingWindowInSeconds != nil && *m.MaximumBatchingWindowInSeconds >= 0 {
		e.window = time.Duration(*m.MaximumBatchingWindowInSeconds) * time.Second
	}
	if sc := m.ScalingConfig; sc != nil && sc.MaximumConcurrency != nil && *sc.MaximumConcurrency > 0 {
		e.slots = *sc.MaximumConcurrency
	}
	e.partial = e.shape.partialBatch() && slices.Contains(m.FunctionResponseTypes, lambda.ESMReportBatchItemFailures)
	e.backoff = queueBackoff{next: queueBackoffMin, max: max(e.visibility, queueBackoffMin)}
	return e, nil
}

// run receives batches and hands each to a goroutine of its own, until
// ctx ends (nil) or receiving fails (the error).
func (e *queueEngine) run(ctx context.Context) error {
	slots := make(chan struct{}, e.slots)
	var inFlight sync.WaitGroup
	defer inFlight.Wait()
	for ctx.Err() == nil {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		b, err := e.collect(ctx)
		if err != nil {
			<-slots
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		// The batch was received: it is invoked and settled even if ctx
		// ends meanwhile.
		settleCtx := context.WithoutCancel(ctx)
		inFlight.Go(func() {
			defer func() { <-slots }()
			e.process(settleCtx, b)
		})
	}
	return nil
}

// collect gathers the next batch: it waits for a first message that
// passes the filters, then keeps receiving until the batch is full, the
// batching window has passed, or the next message would push the event
// past the payload limit (that message starts the next batch).
func (e *queueEngine) collect(ctx context.Context) (*queueBatch, error) {
	b := &queueBatch{size: e.shape.envelopeSize()}
	var windowEnd time.Time
	for len(b.msgs) < e.batchSize {
		if len(e.pending) == 0 {
			received, err := e.receive(ctx, b, windowEnd)
			if err != nil {
				return nil, err
			}
			if !received {
				break // the window is over
			}
		}
		for len(e.pending) > 0 && len(b.msgs) < e.batchSize {
			first := len(b.msgs) == 0
			if !e.take(b, e.pending[0]) {
				return b, nil // the event is full
			}
			e.pending = e.pending[1:]
			if first && len(b.msgs) == 1 {
				windowEnd = time.Now().Add(e.window)
			}
		}
		if len(b.msgs) > 0 && e.window <= 0 {
			break
		}
	}
	return b, nil
}

// receive fills e.pending for batch b. For a batch that has messages it
// waits no later than windowEnd, and reports false when the window is
// over.
func (e *queueEngine) receive(ctx context.Context, b *queueBatch, windowEnd time.Time) (bool, error) {
	rctx := ctx
	if len(b.msgs) > 0 {
		if !time.Now().Before(windowEnd) {
			return false, nil
		}
		var cancel context.CancelFunc
		rctx, cancel = context.WithDeadline(ctx, windowEnd)
		defer cancel()
	}
	msgs, err := e.q.Receive(rctx, e.batchSize-len(b.msgs))
	switch {
	case ctx.Err() != nil:
		return false, ctx.Err()
	case err != nil && rctx.Err() != nil:
		return false, nil
	case err != nil:
		return false, fmt.Errorf("receive: %w", err)
	}
	e.st.healthy()
	e.pending = msgs
	return true, nil
}

// take adds msg to b, or reports false when it does not fit the payload
// limit. A message the filters drop is acknowledged (Lambda deletes it)
// and taken without joining the batch. A batch's first message always
// fits: an event too large for one message fails at Invoke.
func (e *queueEngine) take(b *queueBatch, msg *brokers.Message) bool {
	rec, err := e.shape.record(msg, time.Now())
	if err != nil {
		e.log.Warn("render queue message; it returns after the visibility timeout", "message", msg.ID, "err", err)
		e.retry(msg, e.visibility)
		return true
	}
	if !e.filters.matchPayload(rec, e.shape.payloadKey(), msg.Body) {
		e.log.Debug("message filtered out; deleting it", "message", msg.ID)
		e.ack(msg)
		return true
	}
	size := b.size + len(rec)
	if len(b.msgs) > 0 {
		size++ // the comma
		if size > lambda.MaxSyncPayloadBytes {
			return false
		}
	}
	b.msgs = append(b.msgs, msg)
	b.records = append(b.records, rec)
	b.size = size
	return true
}

// process invokes the function with one batch and settles its messages
// by the outcome.
func (e *queueEngine) process(ctx context.Context, b *queueBatch) {
	resp, err := e.s.opts.Invoker.Invoke(ctx, invoke.Request{
		FunctionName: e.m.FunctionArn,
		Type:         invoke.TypeRequestResponse,
		Payload:      e.shape.event(b.records),
	})
	if err != nil {
		e.invokeFailed(b, err)
		return
	}
	e.backoff.reset()
	switch {
	case resp.FunctionError != "":
		e.log.Warn("function failed; its batch returns to the queue after the visibility timeout",
			"request_id", resp.RequestID, "function_error", resp.FunctionError,
			"messages", len(b.msgs), "visibility_timeout", e.visibility)
		e.retryAll(b, e.visibility)
		e.st.result(resultFunctionError)
	case e.partial:
		e.settlePartial(b, resp)
	default:
		for _, msg := range b.msgs {
			e.ack(msg)
		}
		e.st.result(resultOK)
	}
}

// settlePartial settles a batch by the function's partial batch response:
// the listed messages return after the visibility timeout and the others
// are deleted. A malformed response fails the whole batch, as in Lambda.
// A well-formed response is an OK result even when it lists failures:
// the function ran and answered as agreed.
func (e *queueEngine) settlePartial(b *queueBatch, resp *invoke.Response) {
	inBatch := make(map[string]bool, len(b.msgs))
	for _, msg := range b.msgs {
		inBatch[msg.ID] = true
	}
	ids, ok := batchItemFailures(resp.Payload, func(id string) bool { return inBatch[id] })
	if !ok {
		e.log.Warn("malformed partial batch response; the whole batch returns after the visibility timeout",
			"request_id", resp.RequestID, "messages", len(b.msgs))
		e.retryAll(b, e.visibility)
		e.st.result(resultFunctionError)
		return
	}
	failed := make(map[string]bool, len(ids))
	for _, id := range ids {
		failed[id] = true
	}
	for _, msg := range b.msgs {
		if failed[msg.ID] {
			e.retry(msg, e.visibility)
		} else {
			e.ack(msg)
		}
	}
	e.st.result(resultOK)
}

// invokeFailed settles a batch the function never got. A missing function
// and other client errors (a request the function cannot take) return the
// batch after the visibility timeout, so that the source's redrive policy
// applies; throttles, service errors and anything else return it after a
// short backoff that grows while they continue.
func (e *queueEngine) invokeFailed(b *queueBatch, err error) {
	var le *lambda.Error
	isLambda := errors.As(err, &le)
	switch {
	case isLambda && le.Kind == lambda.KindResourceNotFound:
		e.log.Warn("function not found; the batch returns after the visibility timeout", "messages", len(b.msgs), "err", err)
		e.retryAll(b, e.visibility)
		e.st.result(queueResultNotFound)
	case isLambda && le.Kind != lambda.KindTooManyRequests && le.Status < 500:
		e.log.Warn("invoke rejected; the batch returns after the visibility timeout", "messages", len(b.msgs), "err", err)
		e.retryAll(b, e.visibility)
		e.st.result(resultFunctionError)
	default:
		delay := e.backoff.failed()
		level := slog.LevelWarn
		if isLambda && le.Kind == lambda.KindTooManyRequests {
			level = slog.LevelDebug // routine under load; the backoff handles it
		}
		e.log.Log(context.Background(), level, "invoke failed; the batch returns after a backoff",
			"messages", len(b.msgs), "retry_in", delay, "err", err)
		e.retryAll(b, delay)
	}
}

func (e *queueEngine) retryAll(b *queueBatch, delay time.Duration) {
	for _, msg := range b.msgs {
		e.retry(msg, delay)
	}
}

// retry and ack settle one message; a failure is only logged, since the
// broker redelivers a message that stays unsettled.
func (e *queueEngine) retry(msg *brokers.Message, delay time.Duration) {
	if err := msg.Retry(delay); err != nil {
		e.log.Warn("return message to the queue", "message", msg.ID, "err", err)
	}
}

func (e *queueEngine) ack(msg *brokers.Message) {
	if err := msg.Ack(); err != nil {
		e.log.Warn("delete message", "message", msg.ID, "err", err)
	}
}

// queueBackoff is the delay before throttled batches are offered again,
// shared by a mapping's batches: it doubles with each failure, up to max,
// and resets when an invocation goes through.
type queueBackoff struct {
	mu   sync.Mutex
	next time.Duration
	max  time.Duration
}

// failed returns the delay for a batch that failed now.
func (b *queueBackoff) failed() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	d := b.next
	b.next = min(2*b.next, b.max)
	return d
}

func (b *queueBackoff) reset() {
	b.mu.Lock()
	b.next = queueBackoffMin
	b.mu.Unlock()
}
