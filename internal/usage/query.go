package usage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Groupings of Query.
const (
	ByFunction = "function"
	ByDay      = "day" // UTC days
)

// Reading: messages per fetch, and how long a fetch waits for messages
// the consumer said were there (they may have aged out meanwhile).
const (
	fetchBatch = 1000
	fetchWait  = 2 * time.Second
)

// Row is the total of one function, or of one UTC day.
type Row struct {
	Function  string  `json:"Function,omitempty"` // grouping by function
	Day       string  `json:"Day,omitempty"`      // grouping by day: YYYY-MM-DD (UTC)
	Requests  int64   `json:"Requests"`
	Errors    int64   `json:"Errors"` // requests that ended with an error type
	BilledMs  int64   `json:"BilledMs"`
	GBSeconds float64 `json:"GBSeconds"` // Σ BilledMs/1000 × MemoryMB/1024
	// GBSecondsArm64 is the part of GBSeconds run on arm64, which Lambda
	// prices lower than x86_64.
	GBSecondsArm64 float64 `json:"GBSecondsArm64"`
}

// tally sums one row in MB-milliseconds, which add up exactly; GB-seconds
// are derived once at the end, so totals equal the sum of REPORT lines.
type tally struct {
	row       Row
	mbMs      int64
	arm64MBMs int64
}

func (t *tally) add(r Record) {
	t.row.Requests++
	if r.Error != "" {
		t.row.Errors++
	}
	t.row.BilledMs += r.BilledMs
	mbMs := r.BilledMs * int64(r.MemoryMB)
	t.mbMs += mbMs
	if r.Architecture == "arm64" {
		t.arm64MBMs += mbMs
	}
}

// ValidGrouping reports whether by is a grouping Query knows.
func ValidGrouping(by string) bool { return by == ByFunction || by == ByDay }

// Query totals the invocations that started at or after since (zero: all
// that are kept), by function (sorted by name) or by UTC day (oldest
// first). It first flushes this Meter, so every invocation it observed
// before the call is counted.
func (m *Meter) Query(ctx context.Context, since time.Time, by string) ([]Row, error) {
	if !ValidGrouping(by) {
		return nil, fmt.Errorf("query usage: unknown grouping %q (want %s or %s)", by, ByFunction, ByDay)
	}
	if err := m.Flush(ctx); err != nil {
		return nil, err
	}
	tallies := make(map[string]*tally)
	err := m.each(ctx, since, func(r Record) {
		if r.Time.Before(since) {
			return // published after since, but the invocation began before it
		}
		key := r.Function
		if by == ByDay {
			key = r.Time.UTC().Format(time.DateOnly)
		}
		t := tallies[key]
		if t == nil {
			t = &tally{}
			if by == ByDay {
				t.row.Day = key
			} else {
				t.row.Function = key
			}
			tallies[key] = t
		}
		t.add(r)
	})
	if err != nil {
		return nil, err
	}
	rows := make([]Row, 0, len(tallies))
	keys := make([]string, 0, len(tallies))
	for k := range tallies {
		keys = append(keys, k)
	}
	sort.Strings(keys) // names, or ISO dates, which sort by time
	for _, k := range keys {
		t := tallies[k]
		t.row.GBSeconds, t.row.GBSecondsArm64 = gbSeconds(t.mbMs), gbSeconds(t.arm64MBMs)
		rows = append(rows, t.row)
	}
	return rows, nil
}

// each calls f with every record stored at or after since, as the stream
// holds them when each starts, through an ephemeral consumer it deletes
// afterwards. A message that does not decode is skipped from there on
// and logged.
func (m *Meter) each(ctx context.Context, since time.Time, f func(Record)) error {
	cfg := jetstream.ConsumerConfig{
		AckPolicy:         jetstream.AckNonePolicy,
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		InactiveThreshold: time.Minute, // removed by the server should Delete fail
		MemoryStorage:     true,
	}
	if !since.IsZero() {
		start := since
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &start
	}
	cons, err := m.stream.CreateConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("read usage: %w", err)
	}
	info := cons.CachedInfo()
	defer func() {
		if err := m.stream.DeleteConsumer(context.WithoutCancel(ctx), info.Name); err != nil {
			m.log.Debug("delete usage reader", "consumer", info.Name, "err", err)
		}
	}()
	skipped := 0
	for pending := info.NumPending; pending > 0 && ctx.Err() == nil; {
		batch, err := cons.Fetch(int(min(pending, fetchBatch)), jetstream.FetchMaxWait(fetchWait))
		if err != nil {
			return fmt.Errorf("read usage: %w", err)
		}
		n := uint64(0)
		for msg := range batch.Messages() {
			n++
			dec := json.NewDecoder(bytes.NewReader(msg.Data()))
			for dec.More() {
				var r Record
				if err := dec.Decode(&r); err != nil {
					skipped++
					break
				}
				f(r)
			}
		}
		if err := batch.Error(); err != nil {
			return fmt.Errorf("read usage: %w", err)
		}
		if n == 0 {
			break // the rest aged out while reading
		}
		pending -= min(n, pending)
	}
	if skipped > 0 {
		m.log.Warn("usage messages skipped: not JSON records", "skipped", skipped)
	}
	return ctx.Err()
}
