package logs

import (
	"cmp"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io/fs"
	"math"
	"slices"
	"strconv"
	"strings"
)

const (
	// DefaultFilterLimit and MaxFilterLimit are CloudWatch's event limits.
	DefaultFilterLimit = 10000
	MaxFilterLimit     = 10000
	// maxPageBytes caps one page of events like CloudWatch's 1 MB response.
	maxPageBytes = 1 << 20
)

// GroupInfo describes a log group.
type GroupInfo struct {
	Name         string
	CreationTime int64
	StoredBytes  int64
	// RetentionInDays is how long events are kept; 0 means forever.
	RetentionInDays int
}

// StreamInfo describes a log stream. The event fields are zero for a
// stream with no events.
type StreamInfo struct {
	Name                string
	CreationTime        int64
	FirstEventTimestamp int64
	LastEventTimestamp  int64
	LastIngestionTime   int64
	StoredBytes         int64
}

// streamState is a StreamInfo plus what only the API needs.
type streamState struct {
	StreamInfo
	lastSeq uint64 // backs the deprecated uploadSequenceToken
}

// FilterQuery selects events of one group. Start and End are inclusive
// bounds in ms (0 = unbounded). Streams and StreamPrefix are mutually
// exclusive. Limit 0 means DefaultFilterLimit. Token continues a previous
// Filter with the same query.
type FilterQuery struct {
	Group        string
	Streams      []string
	StreamPrefix string
	Start, End   int64
	Pattern      string
	Limit        int
	Token        string
}

// FilteredEvent is an event found by Filter.
type FilteredEvent struct {
	Stream  string
	EventID string
	Event
}

// Groups lists the groups whose names start with prefix, sorted by name.
func (s *Store) Groups(prefix string) []GroupInfo {
	s.mu.RLock()
	gs := make([]*group, 0, len(s.groups))
	for name, g := range s.groups {
		if strings.HasPrefix(name, prefix) {
			gs = append(gs, g)
		}
	}
	s.mu.RUnlock()
	out := make([]GroupInfo, 0, len(gs))
	for _, g := range gs {
		g.mu.Lock()
		info := GroupInfo{Name: g.name, CreationTime: g.created, StoredBytes: g.pendingBytes, RetentionInDays: g.retention}
		for _, sg := range g.segs {
			info.StoredBytes += sg.bytes
		}
		for i := range g.flushing {
			info.StoredBytes += g.flushing[i].size()
		}
		g.mu.Unlock()
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b GroupInfo) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Streams lists the streams of a group, sorted by name, or returns
// ErrGroupNotFound.
func (s *Store) Streams(group string) ([]StreamInfo, error) {
	states, err := s.streamStates(group)
	if err != nil {
		return nil, err
	}
	out := make([]StreamInfo, len(states))
	for i := range states {
		out[i] = states[i].StreamInfo
	}
	return out, nil
}

func (s *Store) streamStates(group string) ([]streamState, error) {
	g, err := s.lookup(group)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]streamState, 0, len(g.streams))
	for name, created := range g.streams {
		out = append(out, streamState{StreamInfo: StreamInfo{Name: name, CreationTime: created}})
	}
	byName := make(map[string]*streamState, len(out))
	for i := range out {
		byName[out[i].Name] = &out[i]
	}
	merge := func(name string, sp span) {
		si := byName[name]
		if si == nil || sp.count == 0 {
			return
		}
		if si.StoredBytes == 0 || sp.firstTs < si.FirstEventTimestamp {
			si.FirstEventTimestamp = sp.firstTs
		}
		si.LastEventTimestamp = max(si.LastEventTimestamp, sp.lastTs)
		si.LastIngestionTime = max(si.LastIngestionTime, sp.lastIngestion)
		si.lastSeq = max(si.lastSeq, sp.lastSeq)
		si.StoredBytes += sp.bytes
	}
	for _, sg := range g.segs {
		for name, sp := range sg.streams {
			merge(name, sp)
		}
	}
	for _, recs := range [][]record{g.flushing, g.pending} {
		for i := range recs {
			r := &recs[i]
			merge(r.stream, span{count: 1, bytes: r.size(), firstTs: r.Timestamp, lastTs: r.Timestamp, lastIngestion: r.Ingestion, lastSeq: r.seq})
		}
	}
	slices.SortFunc(out, func(a, b streamState) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Filter returns the events of q.Group that match q, across streams in
// (timestamp, arrival) order, at most q.Limit of them and about 1 MiB of
// messages. next is empty when there is nothing more; otherwise passing it
// as q.Token returns the following page.
func (s *Store) Filter(q FilterQuery) (events []FilteredEvent, next string, err error) {
	g, err := s.lookup(q.Group)
	if err != nil {
		return nil, "", err
	}
	if len(q.Streams) > 0 && q.StreamPrefix != "" {
		return nil, "", kindInvalidParameter.errorf("logStreamNames and logStreamNamePrefix are mutually exclusive.")
	}
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultFilterLimit
	}
	m, err := compilePattern(q.Pattern)
	if err != nil {
		return nil, "", err
	}
	after := minKey
	if q.Token != "" {
		if after, err = decodeKey(q.Token); err != nil {
			return nil, "", err
		}
	}
	want := streamSelector(q.Streams, q.StreamPrefix)
	recs, err := s.scan(g, want, q.Start, q.End, func(r *record) bool {
		return after.less(keyOf(r)) && m.match(r.Message)
	})
	if err != nil {
		return nil, "", err
	}
	n := pageSize(recs, limit)
	events = make([]FilteredEvent, n)
	for i := range n {
		events[i] = FilteredEvent{Stream: recs[i].stream, EventID: eventID(recs[i].seq), Event: recs[i].Event}
	}
	if n < len(recs) {
		next = keyOf(&recs[n-1]).encode()
	}
	return events, next, nil
}

// pageSize is how many of recs fit in one page of at most limit events and
// maxPageBytes of messages (always at least one, if there is one).
func pageSize(recs []record, limit int) int {
	var bytes int64
	for i := range recs {
		if i == limit {
			return i
		}
		bytes += recs[i].size()
		if bytes > maxPageBytes && i > 0 {
			return i
		}
	}
	return len(recs)
}

// streamSelector returns a predicate on stream names; nil means all.
func streamSelector(names []string, prefix string) func(string) bool {
	switch {
	case len(names) > 0:
		return func(s string) bool { return slices.Contains(names, s) }
	case prefix != "":
		return func(s string) bool { return strings.HasPrefix(s, prefix) }
	}
	return nil
}

// scan returns the events of g from streams accepted by want (nil: all)
// with start <= timestamp <= end (0: unbounded) that keep accepts, sorted by
// key. Events past the group's retention are never returned, whether or
// not the sweep has deleted them yet. It reads only segments that can hold
// such events and holds no lock while reading files.
func (s *Store) scan(g *group, want func(string) bool, start, end int64, keep func(*record) bool) ([]record, error) {
	if end == 0 {
		end = math.MaxInt64
	}
	g.mu.Lock()
	segs := slices.Clone(g.segs)
	mem := [][]record{g.flushing, g.pending[:len(g.pending):len(g.pending)]}
	start = max(start, s.retentionCutoff(g))
	g.mu.Unlock()

	var out []record
	consider := func(r *record) {
		if r.Timestamp < start || r.Timestamp > end {
			return
		}
		if want != nil && !want(r.stream) {
			return
		}
		if keep(r) {
			out = append(out, *r)
		}
	}
	for _, sg := range segs {
		if sg.maxTs < start || sg.minTs > end || !segmentHas(sg, want) {
			continue
		}
		err := readSegment(sg.path, sg.bytes, func(d *diskRecord, _ int64) {
			r := d.record()
			consider(&r)
		})
		// A segment evicted since the snapshot has simply aged out.
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	for _, recs := range mem {
		for i := range recs {
			consider(&recs[i])
		}
	}
	slices.SortFunc(out, func(a, b record) int { return keyOf(&a).compare(keyOf(&b)) })
	return out, nil
}

func segmentHas(sg *segment, want func(string) bool) bool {
	if want == nil {
		return true
	}
	for name := range sg.streams {
		if want(name) {
			return true
		}
	}
	return false
}

// key orders events: by timestamp, then by arrival.
type key struct {
	ts  int64
	seq uint64
}

var (
	minKey = key{math.MinInt64, 0}
	maxKey = key{math.MaxInt64, math.MaxUint64}
)

func keyOf(r *record) key { return key{r.Timestamp, r.seq} }

func (k key) compare(o key) int {
	if c := cmp.Compare(k.ts, o.ts); c != 0 {
		return c
	}
	return cmp.Compare(k.seq, o.seq)
}

func (k key) less(o key) bool { return k.compare(o) < 0 }

// encode makes an opaque token of k.
func (k key) encode() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(k.ts))
	binary.BigEndian.PutUint64(b[8:], k.seq)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func decodeKey(tok string) (key, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) != 16 {
		return key{}, errBadToken
	}
	return key{int64(binary.BigEndian.Uint64(b[:8])), binary.BigEndian.Uint64(b[8:])}, nil
}

// eventID renders a sequence number as CloudWatch-style digits; it is
// unique within a group and stable across restarts.
func eventID(seq uint64) string {
	s := strconv.FormatUint(seq, 10)
	return strings.Repeat("0", 20-len(s)) + s
}
