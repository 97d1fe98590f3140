package esm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"gust/internal/brokers"
	"gust/internal/invoke"
	"gust/internal/lambda"
)

// A stream mapping (Kinesis semantics) spreads a source's records over
// src.Shards shards by partition key (FNV-1a modulo the shard count), and
// each shard over ParallelizationFactor lanes by a second hash of the key,
// so that one key always lands in one lane. Every lane reads the whole
// stream through its own reader and skips the records of other lanes:
// simple, and a slow or failing lane never holds the others back, at the
// price of Shards×ParallelizationFactor reads of the stream. A lane has at
// most one batch in flight and never moves past a record that is not done
// (processed, filtered out, or given up on and sent to the failure path),
// so records of one key reach the function in stream order. Each lane
// checkpoints the last record it is done with (checkpoint.go).

// Backoff between attempts of one batch, and after throttles and platform
// faults: streamRetryBase, doubling, at most streamRetryMax. Variables so
// that tests can shorten them.
var (
	streamRetryBase = 100 * time.Millisecond
	streamRetryMax  = 5 * time.Second
)

// idleCheckpointEvery bounds how often a lane that reads only records of
// other lanes, or filtered-out ones, writes its checkpoint while the
// stream is busy; once it catches up with the stream it writes at once.
const idleCheckpointEvery = time.Second

// openStreamFunc opens a reader of the mapping's stream from start.
type openStreamFunc func(ctx context.Context, start brokers.StartAt) (brokers.Stream, error)

// streamConfig is a stream mapping's settings with defaults applied.
type streamConfig struct {
	m              *lambda.EventSourceMapping
	shards, lanes  int
	batchSize      int
	window         time.Duration
	maxRetries     int           // -1: until the records expire
	maxAge         time.Duration // 0: records never expire
	bisect         bool
	reportFailures bool
	destination    string
	filters        *filters
	functionName   string
	source         kinesisSource // ShardID left empty
	shape          streamShape   // Kinesis, or DynamoDB for PostgreSQL sources
	open           openStreamFunc
}

// newStreamConfig resolves m's settings, its filters and the role its
// events name.
func (s *Service) newStreamConfig(ctx context.Context, m *lambda.EventSourceMapping, src *Source, open openStreamFunc) (*streamConfig, error) {
	ref, err := lambda.ParseFunctionRef(m.FunctionArn)
	if err != nil {
		return nil, fmt.Errorf("stream mapping %s: %w", m.UUID, err)
	}
	flt, err := compileFilters(m.FilterCriteria)
	if err != nil {
		return nil, fmt.Errorf("stream mapping %s: %w", m.UUID, err)
	}
	c := &streamConfig{
		m: m, shards: max(src.Shards, 1), lanes: streamIntOr(m.ParallelizationFactor, 1),
		batchSize:      streamIntOr(m.BatchSize, lambda.DefaultESMBatchSizeStream),
		window:         time.Duration(streamIntOr(m.MaximumBatchingWindowInSeconds, 0)) * time.Second,
		maxRetries:     streamIntOr(m.MaximumRetryAttempts, -1),
		maxAge:         time.Duration(max(streamIntOr(m.MaximumRecordAgeInSeconds, -1), 0)) * time.Second,
		bisect:         m.BisectBatchOnFunctionError != nil && *m.BisectBatchOnFunctionError,
		reportFailures: slices.Contains(m.FunctionResponseTypes, lambda.ESMReportBatchItemFailures),
		filters:        flt,
		functionName:   ref.Name,
		source: kinesisSource{StreamARN: src.ARN(s.id), Region: s.id.Region,
			IdentityARN: s.invokeIdentity(ctx, ref)},
		shape: shapeFor(src),
		open:  open,
	}
	if src.Broker == BrokerPostgres && c.shards*c.lanes != 1 {
		return nil, fmt.Errorf("stream mapping %s: a PostgreSQL source is read by one lane (its replication slot has one reader), not %d shards of %d lanes",
			m.UUID, c.shards, c.lanes)
	}
	c.lanes = max(c.lanes, 1)
	c.batchSize = max(c.batchSize, 1)
	if d := m.DestinationConfig; d != nil && d.OnFailure != nil {
		c.destination = d.OnFailure.Destination
	}
	return c, nil
}

func streamIntOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

// invokeIdentity is the function's execution role, which Kinesis events
// name as invokeIdentityArn; the account's "lambda-role" if the function
// cannot be read.
func (s *Service) invokeIdentity(ctx context.Context, ref lambda.FunctionRef) string {
	version := ref.Qualifier
	switch {
	case version == "":
		version = lambda.LatestVersion
	case !lambda.IsVersion(version):
		if a, err := s.opts.Functions.GetAlias(ctx, ref.Name, version); err == nil && a != nil {
			version = a.FunctionVersion
		}
	}
	if fn, err := s.opts.Functions.GetFunction(ctx, ref.Name, version); err == nil && fn != nil && fn.Role != "" {
		return fn.Role
	}
	return "arn:aws:iam::" + s.id.Account + ":role/lambda-role"
}

// runStream polls a stream source for mapping m (Kinesis semantics) until
// ctx ends, or until reading fails, returning the error.
func (s *Service) runStream(ctx context.Context, m *lambda.EventSourceMapping, src *Source, open openStreamFunc, st *status) error {
	cfg, err := s.newStreamConfig(ctx, m, src, open)
	if err != nil {
		return err
	}
	starts, err := s.laneStarts(ctx, m.UUID, cfg.shards, cfg.lanes)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	lctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for shard := range cfg.shards {
		for ln := range cfg.lanes {
			id := laneID{shard, ln}
			l := s.newLane(cfg, id, starts[id], st)
			wg.Go(func() {
				if err := l.run(lctx); err != nil && lctx.Err() == nil {
					cancel(err) // the first failure stops every lane
				}
			})
		}
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	if err := context.Cause(lctx); err != nil {
		return err
	}
	return errors.New("stream lanes stopped")
}

// streamPending is a record of a lane waiting to be processed, with its
// place in the event.
type streamPending struct {
	rec   brokers.Record
	event json.RawMessage
}

// lane processes the records of one lane of one shard, in order.
type lane struct {
	s      *Service
	cfg    *streamConfig
	id     laneID
	key    string // of the checkpoint
	source kinesisSource
	st     *status
	log    *slog.Logger

	reader       brokers.Stream
	notes        []string // the reader's warnings (streamNotes)
	pending      []streamPending
	pendingBytes int       // of pending's events, separators included
	windowEnd    time.Time // when the batching window of pending closes
	readThrough  string    // the last Seq read from the stream
	saved        string    // the checkpoint as written
	savedAt      time.Time
}

func (s *Service) newLane(cfg *streamConfig, id laneID, start string, st *status) *lane {
	src := cfg.source
	src.ShardID = shardID(id.shard)
	return &lane{s: s, cfg: cfg, id: id, key: checkpointKey(cfg.m.UUID, id), source: src, st: st,
		saved: start, readThrough: start,
		log: s.log.With("uuid", cfg.m.UUID, "shard", src.ShardID, "lane", id.lane)}
}

// run reads, batches and processes the lane's records until ctx ends or
// the stream or the bucket fails.
func (l *lane) run(ctx context.Context) error {
	start := brokers.StartAt{After: l.saved}
	if l.saved == "" {
		start.Position = l.cfg.m.StartingPosition
		if t := l.cfg.m.StartingPositionTimestamp; t != nil {
			start.Timestamp = t.Time
		}
	}
	reader, err := l.cfg.open(ctx, start)
	if err != nil {
		return fmt.Errorf("open %s lane %d: %w", l.source.ShardID, l.id.lane, err)
	}
	defer func() { _ = reader.Close() }()
	l.reader = reader
	if n, ok := reader.(streamNotes); ok {
		l.notes = n.Warnings()
		for _, w := range l.notes {
			l.log.Warn("stream source: " + w)
		}
	}
	for {
		if err := l.fill(ctx); err != nil {
			return err
		}
		batch := l.takeBatch()
		if err := l.handle(ctx, batch); err != nil {
			return err
		}
		through := batch[len(batch)-1].rec.Seq
		if len(l.pending) == 0 {
			through = l.readThrough // past filtered-out and other lanes' records too
		}
		if err := l.checkpoint(ctx, through); err != nil {
			return err
		}
	}
}

// fill reads until a batch is ready: BatchSize records, an event of the
// invocation payload limit, or the end of the batching window, which opens
// with the first record waiting.
func (l *lane) fill(ctx context.Context) error {
	for !l.batchReady() {
		rctx, cancel := ctx, context.CancelFunc(func() {})
		if len(l.pending) > 0 {
			rctx, cancel = context.WithDeadline(ctx, l.windowEnd)
		}
		recs, err := l.reader.Read(rctx, l.cfg.batchSize)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			if errors.Is(rctx.Err(), context.DeadlineExceeded) {
				return nil // the window closed
			}
			return fmt.Errorf("read %s lane %d: %w", l.source.ShardID, l.id.lane, err)
		}
		l.st.healthy()
		if err := l.take(ctx, recs, len(recs) < l.cfg.batchSize); err != nil {
			return err
		}
	}
	return nil
}

func (l *lane) batchReady() bool {
	return len(l.pending) >= l.cfg.batchSize ||
		kinesisEventOverhead+l.pendingBytes >= lambda.MaxSyncPayloadBytes ||
		(len(l.pending) > 0 && !time.Now().Before(l.windowEnd))
}

// take keeps the lane's records of a read that pass the filters, and moves
// the checkpoint on when nothing of the lane is waiting. caughtUp says the
// read returned everything there was.
func (l *lane) take(ctx context.Context, recs []brokers.Record, caughtUp bool) error {
	ours, kept := 0, 0
	for _, r := range recs {
		l.readThrough = r.Seq
		if shardOf(r.PartitionKey, l.cfg.shards) != l.id.shard || laneOf(r.PartitionKey, l.cfg.lanes) != l.id.lane {
			continue
		}
		ours++
		if r.Arrival.IsZero() {
			r.Arrival = time.Now() // the broker does not say: now is the best guess
		}
		ev, err := l.cfg.shape.record(r, l.source)
		if err != nil {
			return err
		}
		if !l.passes(r, ev) {
			continue
		}
		if len(l.pending) == 0 {
			l.windowEnd = time.Now().Add(l.cfg.window)
		}
		l.pending = append(l.pending, streamPending{rec: r, event: ev})
		l.pendingBytes += len(ev) + 1
		kept++
	}
	if ours > 0 && kept == 0 {
		l.result(resultNoRecords)
	}
	switch {
	case len(l.pending) == 0 && l.readThrough > l.saved &&
		(caughtUp || l.saved == "" || time.Since(l.savedAt) >= idleCheckpointEvery):
		return l.checkpoint(ctx, l.readThrough)
	case len(l.pending) > 0 && l.saved == "":
		// A lane that started from LATEST or a timestamp pins where it
		// started, so that a restart resumes there and not at a later
		// LATEST.
		if before, ok := seqBefore(l.pending[0].rec.Seq); ok {
			return l.checkpoint(ctx, before)
		}
	}
	return nil
}

// passes applies the mapping's filters to a record, shaped as ev.
func (l *lane) passes(r brokers.Record, ev json.RawMessage) bool {
	ok, err := l.cfg.shape.keep(l.cfg.filters, r, ev)
	if err != nil {
		l.log.Warn("filter stream record; skipping it", "sequence", r.Seq, "err", err)
		return false
	}
	return ok
}

// takeBatch takes the next batch off pending: at most BatchSize records
// whose event fits the invocation payload limit, and at least one.
func (l *lane) takeBatch() []streamPending {
	n, size := 0, kinesisEventOverhead
	for n < len(l.pending) && n < l.cfg.batchSize {
		add := len(l.pending[n].event) + 1
		if n > 0 && size+add-1 > lambda.MaxSyncPayloadBytes {
			break
		}
		size += add
		n++
	}
	batch := slices.Clone(l.pending[:n])
	l.pending = slices.Delete(l.pending, 0, n)
	l.pendingBytes -= size - kinesisEventOverhead
	return batch
}

// streamBackoff is the delay before retry n (from 1).
func streamBackoff(n int) time.Duration {
	d := streamRetryBase
	for i := 1; i < n && d < streamRetryMax; i++ {
		d *= 2
	}
	return min(d, streamRetryMax)
}

// streamSleep waits d, or returns ctx's error when it ends first.
func streamSleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// streamTooLarge tells an event too large to invoke with from invoke
// errors that say nothing about the records (throttles, platform faults, a
// function not found for now, a broken connection), which are retried.
func streamTooLarge(err error) bool {
	var lerr *lambda.Error
	return errors.As(err, &lerr) && lerr.Kind == lambda.KindRequestEntityTooLarge
}

// handle processes records of the lane (a batch or part of one) until
// every one is done: processed, or sent to the failure path. It returns
// only when ctx ends or a checkpoint cannot be written.
func (l *lane) handle(ctx context.Context, recs []streamPending) error {
	attempts, faults := 0, 0
	var last *invoke.Response
	for {
		var err error
		if recs, err = l.dropExpired(ctx, recs, attempts, last); err != nil || len(recs) == 0 {
			return err
		}
		resp, err := l.invoke(ctx, recs)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil && streamTooLarge(err) {
			return l.tooLarge(ctx, recs, attempts, err)
		}
		if err != nil {
			faults++
			l.log.Warn("invoke for stream records failed; backing off", "err", err, "records", len(recs))
			if err := streamSleep(ctx, streamBackoff(faults)); err != nil {
				return err
			}
			continue
		}
		attempts++
		last = resp
		from := l.failedFrom(resp, recs)
		if from == len(recs) {
			l.result(resultOK)
			return l.checkpoint(ctx, recs[len(recs)-1].rec.Seq)
		}
		l.result(resultFunctionError)
		switch {
		case from > 0: // a partial batch response: retry from its lowest failure
			if err := l.checkpoint(ctx, recs[from-1].rec.Seq); err != nil {
				return err
			}
			recs = recs[from:]
		case resp.FunctionError != "" && l.cfg.bisect && len(recs) > 1:
			return l.bisect(ctx, recs)
		}
		if l.cfg.maxRetries >= 0 && attempts > l.cfg.maxRetries {
			r, id := kinesisResponseOf(resp)
			return l.giveUp(ctx, recs, kinesisRetriesExhausted, attempts, r, id)
		}
		if err := streamSleep(ctx, streamBackoff(attempts)); err != nil {
			return err
		}
	}
}

// bisect processes two halves of recs in order, each with attempts of its
// own, so that a record the function cannot process ends up alone.
func (l *lane) bisect(ctx context.Context, recs []streamPending) error {
	half := len(recs) / 2
	l.log.Debug("bisecting stream batch after a function error", "records", len(recs))
	if err := l.handle(ctx, recs[:half]); err != nil {
		return err
	}
	return l.handle(ctx, recs[half:])
}

// tooLarge splits an event the function cannot take in two; a record too
// large on its own can never be delivered and is given up on.
func (l *lane) tooLarge(ctx context.Context, recs []streamPending, attempts int, err error) error {
	if len(recs) > 1 {
		return l.bisect(ctx, recs)
	}
	l.log.Warn("stream record too large to invoke with", "err", err, "sequence", recs[0].rec.Seq)
	resp := &kinesisResponse{StatusCode: lambda.KindRequestEntityTooLarge.Status}
	return l.giveUp(ctx, recs, kinesisRetriesExhausted, attempts, resp, uuid.NewString())
}

// invoke sends recs to the function as one event ({"Records":[…]}, the
// same for Kinesis and DynamoDB streams).
func (l *lane) invoke(ctx context.Context, recs []streamPending) (*invoke.Response, error) {
	events := make([]json.RawMessage, len(recs))
	for i, r := range recs {
		events[i] = r.event
	}
	return l.s.opts.Invoker.Invoke(ctx, invoke.Request{
		FunctionName: l.cfg.m.FunctionArn,
		Type:         invoke.TypeRequestResponse,
		Payload:      kinesisEvent(events),
	})
}

// failedFrom is the index of the first record to process again after an
// invocation: len(recs) when it succeeded, 0 when the whole batch failed,
// and the lowest sequence number of a partial batch response otherwise.
func (l *lane) failedFrom(resp *invoke.Response, recs []streamPending) int {
	if resp.FunctionError != "" {
		return 0
	}
	if !l.cfg.reportFailures {
		return len(recs)
	}
	index := make(map[string]int, len(recs))
	for i, r := range recs {
		index[r.rec.Seq] = i
	}
	ids, ok := batchItemFailures(resp.Payload, func(id string) bool { _, in := index[id]; return in })
	if !ok {
		return 0
	}
	from := len(recs)
	for _, id := range ids {
		from = min(from, index[id])
	}
	return from
}

// dropExpired gives up on the records at the head of recs that are older
// than MaximumRecordAgeInSeconds, and returns the others.
func (l *lane) dropExpired(ctx context.Context, recs []streamPending, attempts int, last *invoke.Response) ([]streamPending, error) {
	if l.cfg.maxAge <= 0 {
		return recs, nil
	}
	cutoff := time.Now().Add(-l.cfg.maxAge)
	n := 0
	for n < len(recs) && recs[n].rec.Arrival.Before(cutoff) {
		n++
	}
	if n == 0 {
		return recs, nil
	}
	r, id := kinesisResponseOf(last)
	if err := l.giveUp(ctx, recs[:n], kinesisRecordAgeExceeded, attempts, r, id); err != nil {
		return nil, err
	}
	return recs[n:], nil
}
