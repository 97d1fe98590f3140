package esm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"gust/internal/brokers"
	"gust/internal/lambda"
)

// Reasons and results written to a mapping's state fields.
const (
	reasonUser          = "USER_INITIATED"
	resultNoRecords     = "No records processed"
	resultOK            = "OK"
	resultFunctionError = "PROBLEM: Function call failed"
)

// Reconnect backoff after a broker fails.
const (
	reconnectMin = 500 * time.Millisecond
	reconnectMax = 30 * time.Second
)

// runner is the poller of one enabled mapping on this node.
type runner struct {
	cancel context.CancelFunc
	done   chan struct{}
	// config identifies the configuration the runner runs: a change of
	// it restarts the runner.
	config string
}

// Start runs the pollers of enabled mappings, now and as mappings change,
// until Close.
func (s *Service) Start(ctx context.Context) error {
	return s.watchMappings(s.ctx, func(uuid string) { s.reconcile(s.ctx, uuid) })
}

// Close stops every poller; messages being processed are settled first or
// left to the broker's redelivery.
func (s *Service) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	runners := s.runners
	s.runners = map[string]*runner{}
	s.mu.Unlock()
	s.cancel()
	for _, r := range runners {
		r.cancel()
	}
	done := make(chan struct{})
	go func() {
		for _, r := range runners {
			<-r.done
		}
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("close esm: %w", ctx.Err())
	}
}

// configKey is what restarts a runner when it changes.
func configKey(rec *mappingRecord) string {
	return rec.Mapping.LastModified.Format(time.RFC3339Nano) + "|" + rec.Mapping.FunctionArn
}

// reconcile brings this node's poller of one mapping in line with the
// stored mapping, and moves the mapping's State on from a transition.
func (s *Service) reconcile(ctx context.Context, uuid string) {
	rec, err := s.getMapping(ctx, uuid)
	if err != nil {
		s.log.Warn("read event source mapping", "uuid", uuid, "err", err)
		return
	}
	want := rec != nil && rec.Enabled && rec.Mapping.State != lambda.ESMDeleting
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	cur := s.runners[uuid]
	if cur != nil && (!want || cur.config != configKey(rec)) {
		delete(s.runners, uuid)
		cur.cancel()
		s.mu.Unlock()
		<-cur.done
		s.mu.Lock()
		cur = s.runners[uuid]
	}
	if want && cur == nil && !s.closed {
		rctx, cancel := context.WithCancel(s.ctx)
		r := &runner{cancel: cancel, done: make(chan struct{}), config: configKey(rec)}
		s.runners[uuid] = r
		m := rec.Mapping
		go func() {
			defer close(r.done)
			s.run(rctx, &m)
		}()
	}
	s.mu.Unlock()
	if rec == nil {
		return
	}
	s.settleState(ctx, uuid)
}

// settleState finishes a state transition: Creating, Enabling and Updating
// become Enabled or Disabled, Disabling becomes Disabled, and a Deleting
// mapping is removed with its checkpoints.
func (s *Service) settleState(ctx context.Context, uuid string) {
	rec, err := s.updateMapping(ctx, uuid, func(cur *mappingRecord) (*mappingRecord, error) {
		if cur == nil {
			return nil, errUnchangedMapping
		}
		switch cur.Mapping.State {
		case lambda.ESMDeleting:
			return nil, nil
		case lambda.ESMCreating, lambda.ESMEnabling, lambda.ESMUpdating, lambda.ESMDisabling:
			next := lambda.ESMDisabled
			if cur.Enabled {
				next = lambda.ESMEnabled
			}
			cur.Mapping.State = next
			cur.Mapping.StateTransitionReason = reasonUser
			return cur, nil
		}
		return nil, errUnchangedMapping
	})
	if err != nil && !errors.Is(err, errUnchangedMapping) {
		s.log.Warn("settle event source mapping state", "uuid", uuid, "err", err)
		return
	}
	if rec == nil && err == nil {
		s.deleteCheckpoints(ctx, uuid)
	}
}

// run polls one mapping until ctx ends, reconnecting with backoff when the
// broker fails and reporting why in StateTransitionReason.
func (s *Service) run(ctx context.Context, m *lambda.EventSourceMapping) {
	st := &status{s: s, uuid: m.UUID}
	delay := reconnectMin
	for ctx.Err() == nil {
		err := s.poll(ctx, m, st)
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("event source mapping poller stopped; reconnecting", "uuid", m.UUID, "source", m.EventSourceArn, "in", delay, "err", err)
		st.problem(err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, reconnectMax)
	}
}

// poll connects to the mapping's source and runs its engine.
func (s *Service) poll(ctx context.Context, m *lambda.EventSourceMapping, st *status) error {
	src, err := s.sourceByARN(ctx, m.EventSourceArn)
	if err != nil {
		return err
	}
	if src.Semantics == SemanticsStream {
		lctx, release, err := s.holdLease(ctx, m.UUID)
		if err != nil {
			return err
		}
		defer release()
		return s.runStream(lctx, m, src, func(ctx context.Context, start brokers.StartAt) (brokers.Stream, error) {
			return s.openStream(ctx, src, start)
		}, st)
	}
	q, err := s.openQueue(ctx, m, src)
	if err != nil {
		return err
	}
	defer func() { _ = q.Close() }()
	return s.runQueue(ctx, m, src, q, st)
}

// errUnchangedMapping leaves a mapping as it is (natsd.ErrUnchanged would
// return the current record; this tells the caller nothing was written).
var errUnchangedMapping = errors.New("mapping unchanged")

// status writes a running mapping's LastProcessingResult and
// StateTransitionReason when they change.
type status struct {
	s    *Service
	uuid string

	mu         sync.Mutex
	lastResult string
	lastReason string
}

// result records the outcome of the latest batch: resultOK,
// resultNoRecords or resultFunctionError.
func (st *status) result(r string) {
	st.mu.Lock()
	same := st.lastResult == r
	st.lastResult = r
	st.mu.Unlock()
	if same {
		return
	}
	st.write(func(m *lambda.EventSourceMapping) { m.LastProcessingResult = r })
}

// problem reports that the broker cannot be reached or read.
func (st *status) problem(err error) {
	msg := "PROBLEM: " + strings.TrimSpace(err.Error())
	st.reason(msg)
}

// healthy reports that the broker answers again; engines call it after
// every successful receive or read.
func (st *status) healthy() { st.reason(reasonUser) }

func (st *status) reason(r string) {
	st.mu.Lock()
	same := st.lastReason == r || (st.lastReason == "" && r == reasonUser)
	st.lastReason = r
	st.mu.Unlock()
	if same {
		return
	}
	st.write(func(m *lambda.EventSourceMapping) { m.StateTransitionReason = r })
}

func (st *status) write(change func(m *lambda.EventSourceMapping)) {
	_, err := st.s.updateMapping(context.Background(), st.uuid, func(cur *mappingRecord) (*mappingRecord, error) {
		if cur == nil || cur.Mapping.State == lambda.ESMDeleting {
			return nil, errUnchangedMapping
		}
		change(&cur.Mapping)
		return cur, nil
	})
	if err != nil && !errors.Is(err, errUnchangedMapping) {
		st.s.log.Warn("write event source mapping status", "uuid", st.uuid, "err", err)
	}
}
