package usage

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"gust/internal/envpool"
	"gust/internal/natsd"
)

// startNATS starts an embedded NATS server on dir for one test; stop
// closes it (also at the end of the test).
func startNATS(t *testing.T, dir string) (js jetstream.JetStream, stop func()) {
	t.Helper()
	conn, err := natsd.Open(t.Context(), natsd.Options{DataDir: dir})
	if err != nil {
		t.Fatalf("natsd.Open: %v", err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			if err := conn.Close(); err != nil {
				t.Errorf("natsd Close: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return conn.JS, stop
}

// openMeter opens a Meter on js, closed when the test ends.
func openMeter(t *testing.T, js jetstream.JetStream, opts Options) *Meter {
	t.Helper()
	opts.JS = js
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := Open(t.Context(), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { closeMeter(t, m) })
	return m
}

func closeMeter(t *testing.T, m *Meter) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// invocation is a REPORT of fn: billed ms at mb MB, started at start.
func invocation(fn, id string, start time.Time, billed int64, mb int, arch, errType string) envpool.Invocation {
	return envpool.Invocation{Function: fn, Version: "$LATEST", RequestID: id, Start: start,
		Duration: time.Duration(billed) * time.Millisecond, BilledMs: billed, MemoryMB: mb, MaxMemoryMB: 30,
		ErrorType: errType, FunctionError: errType != "", Architecture: arch, InitType: "on-demand"}
}

func mustQuery(t *testing.T, m *Meter, since time.Time, by string) []Row {
	t.Helper()
	rows, err := m.Query(t.Context(), since, by)
	if err != nil {
		t.Fatalf("Query(%v, %s): %v", since, by, err)
	}
	return rows
}

func TestQueryTotalsByFunctionAndByDay(t *testing.T) {
	js, _ := startNATS(t, t.TempDir())
	m := openMeter(t, js, Options{})
	now := time.Now().UTC()
	today, yesterday, lastWeek := now.Add(-time.Minute), now.Add(-24*time.Hour), now.Add(-7*24*time.Hour)
	for _, inv := range []envpool.Invocation{
		invocation("a", "a1", today, 2344, 128, "x86_64", ""),                    // a cold start: init + duration
		invocation("a", "a2", today, 2, 128, "x86_64", "Sandbox.Timedout"),       // an error
		invocation("b", "b1", yesterday, 1000, 1024, "arm64", ""),                // arm64
		invocation("b", "b2", yesterday, 3, 2048, "x86_64", "Runtime.ExitError"), // same function, other arch
		invocation("c", "c1", lastWeek, 100, 512, "x86_64", ""),                  // before since below
	} {
		m.Invoked(inv)
	}

	since := now.Add(-2 * 24 * time.Hour)
	got := mustQuery(t, m, since, ByFunction)
	want := []Row{
		{Function: "a", Requests: 2, Errors: 1, BilledMs: 2346, GBSeconds: float64(2346*128) / 1024000},
		{Function: "b", Requests: 2, Errors: 1, BilledMs: 1003, GBSeconds: float64(1000*1024+3*2048) / 1024000, GBSecondsArm64: 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("by function since %s (-want +got):\n%s", since, diff)
	}

	got = mustQuery(t, m, time.Time{}, ByDay)
	want = []Row{
		{Day: lastWeek.Format(time.DateOnly), Requests: 1, BilledMs: 100, GBSeconds: 50.0 / 1000},
		{Day: yesterday.Format(time.DateOnly), Requests: 2, Errors: 1, BilledMs: 1003, GBSeconds: float64(1000*1024+3*2048) / 1024000, GBSecondsArm64: 1},
		{Day: today.Format(time.DateOnly), Requests: 2, Errors: 1, BilledMs: 2346, GBSeconds: float64(2346*128) / 1024000},
	}
	if today.Format(time.DateOnly) == yesterday.Format(time.DateOnly) {
		t.Fatal("yesterday is today") // cannot be: they are 24 h apart
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("by day, everything kept (-want +got):\n%s", diff)
	}

	if rows := mustQuery(t, m, now.Add(time.Hour), ByFunction); len(rows) != 0 {
		t.Errorf("since an hour ahead: %+v, want no rows", rows)
	}
	if _, err := m.Query(t.Context(), since, "week"); err == nil {
		t.Error(`Query by "week" succeeded, want an error`)
	}
	if st := m.Stats(); st != (Stats{Published: 5}) {
		t.Errorf("Stats = %+v, want 5 published", st)
	}
}

func TestRecordsOutliveRestartsAndAreKeptAsConfigured(t *testing.T) {
	dir := t.TempDir()
	js, stop := startNATS(t, dir)
	m := openMeter(t, js, Options{MaxAge: 30 * 24 * time.Hour})
	start := time.Now().Add(-time.Minute)
	for i := range 50 {
		m.Invoked(invocation("f", fmt.Sprint("r", i), start, int64(i+1), 128, "x86_64", ""))
	}
	closeMeter(t, m) // publishes what is buffered
	stop()

	js, _ = startNATS(t, dir)
	m = openMeter(t, js, Options{})
	rows := mustQuery(t, m, start.Add(-time.Second), ByFunction)
	want := []Row{{Function: "f", Requests: 50, BilledMs: 50 * 51 / 2, GBSeconds: float64(50*51/2*128) / 1024000}}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("after a restart (-want +got):\n%s", diff)
	}
	info, err := m.stream.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	c := info.Config
	if c.Storage != jetstream.FileStorage || c.Retention != jetstream.LimitsPolicy || c.MaxAge != DefaultMaxAge {
		t.Errorf("stream %s: storage %v, retention %v, max age %v; want file, limits, %v", c.Name, c.Storage, c.Retention, c.MaxAge, DefaultMaxAge)
	}
	if info.State.Msgs == 0 || info.State.Msgs > 50 {
		t.Errorf("stream holds %d messages, want 1 to 50 for 50 records", info.State.Msgs)
	}
}

func TestConcurrentInvocationsAreAllCounted(t *testing.T) {
	js, _ := startNATS(t, t.TempDir())
	m := openMeter(t, js, Options{})
	const workers, each = 8, 250
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				m.Invoked(invocation(fmt.Sprint("fn", w%2), fmt.Sprint(w, "-", i), time.Now(), 10, 256, "x86_64", ""))
			}
		})
	}
	wg.Wait()
	rows := mustQuery(t, m, time.Time{}, ByFunction)
	var requests, billed int64
	for _, r := range rows {
		requests += r.Requests
		billed += r.BilledMs
	}
	if requests != workers*each || billed != 10*workers*each || len(rows) != 2 {
		t.Errorf("%d rows, %d requests, %d ms; want 2 rows, %d requests, %d ms", len(rows), requests, billed, workers*each, 10*workers*each)
	}
	if st := m.Stats(); st != (Stats{Published: workers * each}) {
		t.Errorf("Stats = %+v, want all %d published", st, workers*each)
	}
}

func TestInvokedDropsAndCountsWhenFullOrClosed(t *testing.T) {
	// No publisher runs: the buffer fills and stays full.
	m := newMeter(Options{Buffer: 2, Logger: slog.New(slog.DiscardHandler)}, nil)
	for i := range 5 {
		m.Invoked(invocation("f", fmt.Sprint(i), time.Now(), 1, 128, "x86_64", ""))
	}
	if st := m.Stats(); st != (Stats{Dropped: 3, Pending: 2}) {
		t.Errorf("with a buffer of 2: Stats = %+v, want 2 pending and 3 dropped", st)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := m.Flush(ctx); err == nil {
		t.Error("Flush returned with records unpublished")
	}

	js, _ := startNATS(t, t.TempDir())
	open := openMeter(t, js, Options{})
	closeMeter(t, open)
	open.Invoked(invocation("f", "late", time.Now(), 1, 128, "x86_64", ""))
	if st := open.Stats(); st.Dropped != 1 {
		t.Errorf("after Close: Stats = %+v, want the record dropped", st)
	}
	if err := open.Close(t.Context()); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// BenchmarkInvoked is the cost an invocation pays for being metered.
func BenchmarkInvoked(b *testing.B) {
	conn, err := natsd.Open(b.Context(), natsd.Options{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	m, err := Open(b.Context(), Options{JS: conn.JS, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	inv := invocation("f", "00000000-0000-0000-0000-000000000000", time.Now(), 12, 128, "x86_64", "")
	b.ReportAllocs()
	for b.Loop() {
		m.Invoked(inv)
	}
	b.StopTimer()
	if err := m.Close(b.Context()); err != nil {
		b.Fatal(err)
	}
	if st := m.Stats(); st.Published+st.Dropped != uint64(b.N) {
		b.Fatalf("stats %+v after %d invocations", st, b.N)
	}
}

// TestRecordsLingerIntoOneMessage shows the batching a lone caller gets:
// records that arrive one by one within the linger go out as one
// message, and Flush publishes them without waiting the linger out.
func TestRecordsLingerIntoOneMessage(t *testing.T) {
	js, _ := startNATS(t, t.TempDir())
	m := openMeter(t, js, Options{Linger: time.Hour})
	start := time.Now().UTC()
	for i := range 3 {
		m.Invoked(invocation("fn", fmt.Sprint("r", i), start, 10, 128, "x86_64", ""))
		// Wait until the publisher took the record: the next one then
		// arrives while it lingers, as a lone caller's would.
		for deadline := time.Now().Add(10 * time.Second); len(m.queue) > 0; {
			if time.Now().After(deadline) {
				t.Fatal("the publisher never took the record")
			}
			time.Sleep(time.Millisecond)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := m.Flush(ctx); err != nil {
		t.Fatalf("Flush waited out the linger: %v", err)
	}
	info, err := m.stream.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Errorf("stream holds %d messages, want the 3 records in 1", info.State.Msgs)
	}
	if st := m.Stats(); st.Published != 3 || st.Pending != 0 {
		t.Errorf("Stats = %+v, want 3 published, none pending", st)
	}
}
