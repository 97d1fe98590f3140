package logs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxBytesPerGroup is the per-group bound used when
// Options.MaxBytesPerGroup is zero.
const DefaultMaxBytesPerGroup = 16 << 20

// DefaultMaxBytesTotal is the bound on all groups together used when
// Options.MaxBytesTotal is zero.
const DefaultMaxBytesTotal = 1 << 30

const (
	flushInterval = 200 * time.Millisecond
	// sweepInterval is how often segments past their group's retention
	// are deleted; reads hide expired events at once regardless.
	sweepInterval = time.Minute
	// eventOverhead is what CloudWatch adds to len(message) when it sizes an
	// event; Gust uses the same figure to size pending events.
	eventOverhead = 26
	// minMaxBytes keeps the derived segment and pending sizes sensible.
	minMaxBytes = 8 << 10
)

// Event is one log event.
type Event struct {
	Timestamp int64  // when it happened, ms since the epoch; 0 means Ingestion
	Message   string // one line of output (may itself contain newlines)
	Ingestion int64  // when Gust received it, ms since the epoch; 0 means now
}

// Options configure a Store.
type Options struct {
	// Dir is where the logs live, normally <data>/logs. Required.
	Dir string
	// MaxBytesPerGroup bounds each log group, disk and memory together;
	// the oldest events are dropped first. Default 16 MiB, minimum 8 KiB.
	MaxBytesPerGroup int64
	// Region and Account go into the ARNs the API returns. Defaults
	// us-east-1 and 000000000000.
	Region, Account string
	// Logger receives the store's own diagnostics (never function output).
	// Default: slog.Default().
	Logger *slog.Logger
	// MaxBytesTotal bounds all groups together on disk. Past it the oldest
	// segments of the largest groups go first, so one group's flood never
	// evicts another group's recent events. Default 1 GiB, minimum 8 KiB.
	MaxBytesTotal int64
	// Now is the clock retention is measured against. Default time.Now;
	// tests set it to move time forward.
	Now func() time.Time
}

// record is an event placed in a group: its stream and sequence number.
type record struct {
	stream string
	seq    uint64
	Event
}

func (r *record) size() int64 { return int64(len(r.Message)) + eventOverhead }

// group is one log group. Fields under mu are shared with Append, queries
// and the flusher; dir and onDisk belong to the flusher (under Store.ioMu).
type group struct {
	name    string
	dir     string
	created int64

	onDisk bool // dir and group.json written (ioMu)

	mu           sync.Mutex
	deleted      bool
	retention    int // days; 0 means events never expire
	nextSeq      uint64
	streams      map[string]int64 // stream name → creation time
	segs         []*segment       // oldest first; each *segment is immutable once published
	sealed       bool             // the last segment must not be appended to
	nextSegID    uint64
	flushing     []record // being written by the flusher; immutable
	pending      []record // not yet taken by the flusher; only ever appended to or resliced
	pendingBytes int64
	prune        bool // events were dropped; forget empty streams at next flush
}

// Store holds every log group. It is safe for concurrent use.
type Store struct {
	opts         Options
	log          *slog.Logger
	maxBytes     int64 // per group, disk + memory
	maxTotal     int64 // all groups, disk + memory
	now          func() time.Time
	pendingLimit int64 // per group, memory
	diskBudget   int64 // per group, disk
	segmentSize  int64
	kickBytes    int64

	mu     sync.RWMutex
	groups map[string]*group

	ioMu sync.Mutex // serialises every write and delete on disk

	dropped atomic.Int64
	closed  atomic.Bool
	kick    chan struct{}
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// Open loads the logs under opts.Dir and starts the flusher.
func Open(opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, errors.New("open logs: no directory")
	}
	if opts.MaxBytesPerGroup == 0 {
		opts.MaxBytesPerGroup = DefaultMaxBytesPerGroup
	}
	if opts.MaxBytesPerGroup < minMaxBytes {
		return nil, fmt.Errorf("open logs: MaxBytesPerGroup %d below minimum %d", opts.MaxBytesPerGroup, minMaxBytes)
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.Account == "" {
		opts.Account = "000000000000"
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxBytesTotal == 0 {
		opts.MaxBytesTotal = DefaultMaxBytesTotal
	}
	if opts.MaxBytesTotal < minMaxBytes {
		return nil, fmt.Errorf("open logs: MaxBytesTotal %d below minimum %d", opts.MaxBytesTotal, minMaxBytes)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Store{
		opts:         opts,
		log:          opts.Logger.With("component", "logs"),
		maxBytes:     opts.MaxBytesPerGroup,
		maxTotal:     opts.MaxBytesTotal,
		now:          opts.Now,
		pendingLimit: opts.MaxBytesPerGroup / 4,
		segmentSize:  opts.MaxBytesPerGroup / 8,
		groups:       make(map[string]*group),
		kick:         make(chan struct{}, 1),
	}
	s.diskBudget = s.maxBytes - s.pendingLimit
	s.kickBytes = min(s.pendingLimit/2, 256<<10)
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("open logs: %w", err)
	}
	if err := s.load(); err != nil {
		return nil, fmt.Errorf("open logs: %w", err)
	}
	// Bounds and retention that shrank since last time apply at once.
	if err := errors.Join(s.sweepExpired(), s.enforceTotal()); err != nil {
		s.log.Warn("trimming logs at open failed", "err", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Add(1)
	go s.runFlusher(ctx)
	return s, nil
}

// Close stops the flusher and writes out everything still pending. Appends
// after Close are dropped and counted. Close is idempotent.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.cancel()
	s.wg.Wait()
	if err := s.flushAll(); err != nil {
		return fmt.Errorf("close logs: %w", err)
	}
	return nil
}

// Append adds events to stream in group, creating both as needed. It never
// does I/O and never blocks on the flusher: when the group's pending buffer
// is over its bound the oldest pending events are dropped and counted.
func (s *Store) Append(group, stream string, events ...Event) {
	if len(events) == 0 {
		return
	}
	if s.closed.Load() {
		s.dropped.Add(int64(len(events)))
		return
	}
	g := s.groupFor(group)
	now := time.Now().UnixMilli()
	var dropped int64
	g.mu.Lock()
	if _, ok := g.streams[stream]; !ok {
		g.streams[stream] = now
	}
	for _, e := range events {
		if e.Ingestion == 0 {
			e.Ingestion = now
		}
		if e.Timestamp == 0 {
			e.Timestamp = e.Ingestion
		}
		r := record{stream: stream, seq: g.nextSeq, Event: e}
		g.nextSeq++
		g.pendingBytes += r.size()
		g.pending = append(g.pending, r)
	}
	// Drop from the front by reslicing only: a query may be reading the
	// elements, so they are never written in place.
	for g.pendingBytes > s.pendingLimit && len(g.pending) > 0 {
		g.pendingBytes -= g.pending[0].size()
		g.pending = g.pending[1:]
		dropped++
	}
	if dropped > 0 {
		g.prune = true
	}
	kick := g.pendingBytes >= s.kickBytes
	g.mu.Unlock()
	if dropped > 0 {
		s.dropped.Add(dropped)
	}
	if kick {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

// Dropped is the number of events dropped so far because a group's pending
// buffer was full, its write to disk failed, or the store was closed.
func (s *Store) Dropped() int64 { return s.dropped.Load() }

// DeleteGroup removes a group and its files. It returns ErrGroupNotFound if
// there is no such group.
func (s *Store) DeleteGroup(name string) error {
	s.ioMu.Lock()
	defer s.ioMu.Unlock()
	s.mu.Lock()
	g := s.groups[name]
	delete(s.groups, name)
	s.mu.Unlock()
	if g == nil {
		return ErrGroupNotFound
	}
	g.mu.Lock()
	g.deleted = true
	g.pending, g.flushing, g.segs, g.pendingBytes = nil, nil, nil, 0
	g.mu.Unlock()
	if err := os.RemoveAll(g.dir); err != nil {
		return fmt.Errorf("delete log group: %w", err)
	}
	return nil
}

// groupFor returns the named group, creating it in memory if needed.
func (s *Store) groupFor(name string) *group {
	s.mu.RLock()
	g := s.groups[name]
	s.mu.RUnlock()
	if g != nil {
		return g
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if g = s.groups[name]; g == nil {
		g = s.newGroup(name, time.Now().UnixMilli())
		s.groups[name] = g
	}
	return g
}

func (s *Store) newGroup(name string, created int64) *group {
	return &group{
		name:    name,
		dir:     groupDir(s.opts.Dir, name),
		created: created,
		streams: make(map[string]int64),
	}
}

// lookup returns the named group or ErrGroupNotFound.
func (s *Store) lookup(name string) (*group, error) {
	s.mu.RLock()
	g := s.groups[name]
	s.mu.RUnlock()
	if g == nil {
		return nil, ErrGroupNotFound
	}
	return g, nil
}
