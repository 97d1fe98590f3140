package jsbroker

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"gust/internal/brokers"
)

// Headers a dead-lettered message carries besides its own, naming where it
// came from.
const (
	HeaderDeadLetterStream   = "Gust-Dead-Letter-Stream"
	HeaderDeadLetterSequence = "Gust-Dead-Letter-Sequence"
	HeaderDeadLetterSubject  = "Gust-Dead-Letter-Subject"
	HeaderDeadLetterID       = "Gust-Dead-Letter-Id"
)

// deadLetterTimeout bounds the wait for the dead-letter stream's ack.
const deadLetterTimeout = 10 * time.Second

var _ brokers.Settler = (*settler)(nil)

// settler settles one received message.
type settler struct {
	q    *Queue
	msg  jetstream.Msg
	meta *jetstream.MsgMetadata
	id   string
}

// Ack removes the message from the consumer for good.
func (s *settler) Ack() error {
	s.q.held.remove(s)
	if err := s.msg.Ack(); err != nil {
		return fmt.Errorf("ack message %s: %w", s.id, err)
	}
	return nil
}

// Retry makes the message available again after delay. A message that
// reached MaxReceive goes to the dead-letter subject when there is one;
// without one, the server stops delivering it (MaxDeliver).
func (s *settler) Retry(delay time.Duration) error {
	if s.dueForDeadLetter() {
		return s.deadLetter()
	}
	s.q.held.remove(s)
	if err := s.msg.NakWithDelay(max(delay, 0)); err != nil {
		return fmt.Errorf("retry message %s: %w", s.id, err)
	}
	return nil
}

func (s *settler) dueForDeadLetter() bool {
	cfg := s.q.cfg
	return cfg.MaxReceive > 0 && cfg.DeadLetterSubject != "" &&
		s.meta.NumDelivered >= uint64(cfg.MaxReceive)
}

// deadLetter publishes the message to the dead-letter subject, waiting
// for the stream's ack, and only then terminates it, so that a failure
// loses nothing the server still holds. The message stays hidden while
// the publish is under way.
func (s *settler) deadLetter() error {
	defer s.q.held.remove(s)
	ctx, cancel := context.WithTimeout(context.Background(), deadLetterTimeout)
	defer cancel()
	out := &nats.Msg{
		Subject: s.q.cfg.DeadLetterSubject,
		Data:    s.msg.Data(),
		Header:  deadLetterHeaders(s.msg.Headers()),
	}
	out.Header.Set(HeaderDeadLetterStream, s.meta.Stream)
	out.Header.Set(HeaderDeadLetterSequence, strconv.FormatUint(s.meta.Sequence.Stream, 10))
	out.Header.Set(HeaderDeadLetterSubject, s.msg.Subject())
	out.Header.Set(HeaderDeadLetterID, s.id)
	if _, err := s.q.js.PublishMsg(ctx, out); err != nil {
		return fmt.Errorf("dead-letter message %s: %w", s.id, err)
	}
	if err := s.msg.Term(); err != nil {
		return fmt.Errorf("terminate dead-lettered message %s: %w", s.id, err)
	}
	return nil
}

// deadLetterHeaders copies the message's headers except those in the
// server's own Nats- namespace: those steer how a stream stores a publish
// (deduplication by Nats-Msg-Id, expected sequences, TTLs, rollups) and
// could make the dead-letter stream drop or refuse the message.
func deadLetterHeaders(h nats.Header) nats.Header {
	out := nats.Header{}
	for k, v := range h {
		if strings.HasPrefix(strings.ToLower(k), "nats-") {
			continue
		}
		out[k] = append([]string(nil), v...)
	}
	return out
}

// heldSet is the set of received, unsettled messages.
type heldSet struct {
	mu   sync.Mutex
	msgs map[*settler]struct{}
}

func newHeldSet() *heldSet { return &heldSet{msgs: make(map[*settler]struct{})} }

func (h *heldSet) add(s *settler) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs[s] = struct{}{}
}

func (h *heldSet) remove(s *settler) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.msgs, s)
}

func (h *heldSet) snapshot() []*settler {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*settler, 0, len(h.msgs))
	for s := range h.msgs {
		out = append(out, s)
	}
	return out
}

// keepHidden tells the server every interval that each unsettled message
// is still being worked on, which restarts its AckWait, so that an
// invocation longer than AckWait does not see its message delivered to
// another consumer. It runs until Close.
func (q *Queue) keepHidden(interval time.Duration) {
	defer q.wg.Done()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-q.closing.Done():
			return
		case <-tick.C:
			for _, s := range q.held.snapshot() {
				// A failure means the message was settled meanwhile
				// or the connection is gone; Receive reports the latter.
				_ = s.msg.InProgress()
			}
		}
	}
}
