package logs

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	testGroup = "/aws/lambda/fn"
	streamA   = "2024/01/15/[$LATEST]0123456789abcdef0123456789abcdef"
	streamB   = "2024/01/15/[$LATEST]fedcba9876543210fedcba9876543210"
)

func openTestStore(t testing.TB, dir string, maxBytes int64) *Store {
	t.Helper()
	s, err := Open(Options{Dir: dir, MaxBytesPerGroup: maxBytes, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func flush(t testing.TB, s *Store) {
	t.Helper()
	if err := s.flushAll(); err != nil {
		t.Fatalf("flush: %v", err)
	}
}

// filterAll pages through Filter and returns every event.
func filterAll(t testing.TB, s *Store, q FilterQuery) []FilteredEvent {
	t.Helper()
	var all []FilteredEvent
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatal("Filter pagination does not terminate")
		}
		evs, next, err := s.Filter(q)
		if err != nil {
			t.Fatalf("Filter(%+v): %v", q, err)
		}
		all = append(all, evs...)
		if next == "" {
			return all
		}
		q.Token = next
	}
}

func messages(evs []FilteredEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Message
	}
	return out
}

// appendInterleaved appends n events to each of streamA and streamB with
// timestamps 1000+2i (A) and 1001+2i (B), B first so that arrival order
// differs from timestamp order.
func appendInterleaved(s *Store, n int) {
	for i := range n {
		s.Append(testGroup, streamB, Event{Timestamp: int64(1001 + 2*i), Message: fmt.Sprintf("b%03d", i)})
		s.Append(testGroup, streamA, Event{Timestamp: int64(1000 + 2*i), Message: fmt.Sprintf("a%03d", i)})
	}
}

func interleavedWant(n int) []string {
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("a%03d", i), fmt.Sprintf("b%03d", i))
	}
	return want
}

func TestAppendFilterOrderAcrossStreams(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, s *Store)
	}{
		{"pending only", func(t *testing.T, s *Store) { appendInterleaved(s, 20) }},
		{"flushed", func(t *testing.T, s *Store) { appendInterleaved(s, 20); flush(t, s) }},
		{"mixed", func(t *testing.T, s *Store) {
			appendInterleaved(s, 10)
			flush(t, s)
			for i := 10; i < 20; i++ {
				s.Append(testGroup, streamB, Event{Timestamp: int64(1001 + 2*i), Message: fmt.Sprintf("b%03d", i)})
				s.Append(testGroup, streamA, Event{Timestamp: int64(1000 + 2*i), Message: fmt.Sprintf("a%03d", i)})
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTestStore(t, t.TempDir(), 0)
			tt.setup(t, s)
			evs := filterAll(t, s, FilterQuery{Group: testGroup})
			if diff := cmp.Diff(interleavedWant(20), messages(evs)); diff != "" {
				t.Errorf("messages (-want +got):\n%s", diff)
			}
			ids := map[string]bool{}
			for _, e := range evs {
				wantStream := streamA
				if strings.HasPrefix(e.Message, "b") {
					wantStream = streamB
				}
				if e.Stream != wantStream {
					t.Errorf("%s: stream = %q, want %q", e.Message, e.Stream, wantStream)
				}
				if e.Ingestion == 0 {
					t.Errorf("%s: ingestion time not set", e.Message)
				}
				if ids[e.EventID] {
					t.Errorf("duplicate event id %s", e.EventID)
				}
				ids[e.EventID] = true
			}
		})
	}
}

func TestGroupBoundIsolation(t *testing.T) {
	const bound = 64 << 10
	dir := t.TempDir()
	s := openTestStore(t, dir, bound)
	const groupA, groupB = "/aws/lambda/flood", "/aws/lambda/quiet"
	for i := range 50 {
		s.Append(groupB, streamB, Event{Timestamp: int64(1000 + i), Message: fmt.Sprintf("quiet %d", i)})
	}
	flush(t, s)
	line := strings.Repeat("x", 200)
	const total = 5000 // ~1.1 MB, 17× the bound
	for i := range total {
		s.Append(groupA, streamA, Event{Timestamp: int64(1000 + i), Message: fmt.Sprintf("flood %05d %s", i, line)})
		if i%100 == 99 {
			flush(t, s)
		}
	}
	// A burst with no flush in between overflows the pending buffer.
	for i := range 1000 {
		s.Append(groupA, streamA, Event{Timestamp: int64(1000 + total + i), Message: fmt.Sprintf("burst %05d %s", i, line)})
	}
	if s.Dropped() == 0 {
		t.Error("Dropped() = 0 after a burst past the pending bound")
	}
	flush(t, s)

	if got := filterAll(t, s, FilterQuery{Group: groupB}); len(got) != 50 {
		t.Errorf("quiet group has %d events, want all 50", len(got))
	}
	got := filterAll(t, s, FilterQuery{Group: groupA})
	if len(got) == 0 || !strings.HasPrefix(got[len(got)-1].Message, "burst 00999 ") {
		t.Fatalf("flood group lost its newest event; last of %d", len(got))
	}
	if strings.HasPrefix(got[0].Message, "flood 00000 ") {
		t.Error("flood group still has its oldest event")
	}
	// Kept events are a contiguous newest run: nothing in the middle lost
	// except what the burst dropped.
	for i := 1; i < len(got); i++ {
		if got[i].Timestamp <= got[i-1].Timestamp {
			t.Fatalf("events out of order at %d", i)
		}
	}
	if du := dirSize(t, groupDir(dir, groupA)); du > bound {
		t.Errorf("flood group uses %d bytes on disk, bound %d", du, bound)
	}
	for _, g := range s.Groups("") {
		if g.StoredBytes > bound {
			t.Errorf("%s: StoredBytes %d > bound %d", g.Name, g.StoredBytes, bound)
		}
	}
}

func dirSize(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if fi, err := d.Info(); err == nil && !d.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	s1, err := Open(Options{Dir: dir, MaxBytesPerGroup: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	appendInterleaved(s1, 10)
	flush(t, s1)
	s1.Append(testGroup, streamA, Event{Timestamp: 5000, Message: "pending at close"})
	s1.Append("/aws/lambda/other", streamB, Event{Timestamp: 1, Message: "other"})
	before := filterAll(t, s1, FilterQuery{Group: testGroup})
	groupsBefore := s1.Groups("")
	streamsBefore, err := s1.Streams(testGroup)
	if err != nil {
		t.Fatal(err)
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := openTestStore(t, dir, 64<<10)
	if diff := cmp.Diff(before, filterAll(t, s2, FilterQuery{Group: testGroup})); diff != "" {
		t.Errorf("events after reopen (-before +after):\n%s", diff)
	}
	gotGroups := s2.Groups("")
	if len(gotGroups) != 2 || gotGroups[0].Name != groupsBefore[0].Name || gotGroups[0].CreationTime != groupsBefore[0].CreationTime {
		t.Errorf("groups after reopen = %+v, before %+v", gotGroups, groupsBefore)
	}
	streamsAfter, err := s2.Streams(testGroup)
	if err != nil {
		t.Fatal(err)
	}
	// Stored bytes and creation time change meaning across a restart
	// (estimates become file bytes; creation becomes first ingestion).
	opt := cmp.FilterPath(func(p cmp.Path) bool {
		s := p.String()
		return strings.HasSuffix(s, "StoredBytes") || strings.HasSuffix(s, "CreationTime")
	}, cmp.Ignore())
	if diff := cmp.Diff(streamsBefore, streamsAfter, opt); diff != "" {
		t.Errorf("streams after reopen (-before +after):\n%s", diff)
	}
	// Sequence numbers continue: a new event gets a fresh id.
	s2.Append(testGroup, streamA, Event{Timestamp: 6000, Message: "after reopen"})
	flush(t, s2)
	all := filterAll(t, s2, FilterQuery{Group: testGroup})
	seen := map[string]bool{}
	for _, e := range all {
		if seen[e.EventID] {
			t.Errorf("event id %s reused after reopen", e.EventID)
		}
		seen[e.EventID] = true
	}
	if last := all[len(all)-1]; last.Message != "after reopen" {
		t.Errorf("last event = %q", last.Message)
	}
}

func TestTornSegmentTail(t *testing.T) {
	dir := t.TempDir()
	s1, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	appendInterleaved(s1, 3)
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(groupDir(dir, testGroup), "*"+segmentExt))
	if len(segs) != 1 {
		t.Fatalf("segments = %v, want 1", segs)
	}
	f, err := os.OpenFile(segs[0], os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"s":"x","q":99,"t":1,"m":"tor`); err != nil {
		t.Fatal(err)
	}
	f.Close()

	s2 := openTestStore(t, dir, 0)
	s2.Append(testGroup, streamA, Event{Timestamp: 9999, Message: "next"})
	flush(t, s2)
	want := append(interleavedWant(3), "next")
	if diff := cmp.Diff(want, messages(filterAll(t, s2, FilterQuery{Group: testGroup}))); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestStreams(t *testing.T) {
	s := openTestStore(t, t.TempDir(), 0)
	s.Append(testGroup, streamB, Event{Timestamp: 30, Message: "b", Ingestion: 40})
	s.Append(testGroup, streamA, Event{Timestamp: 10, Message: "a1", Ingestion: 11}, Event{Timestamp: 20, Message: "a2", Ingestion: 21})
	flush(t, s)
	s.Append(testGroup, streamA, Event{Timestamp: 25, Message: "a3", Ingestion: 26})
	got, err := s.Streams(testGroup)
	if err != nil {
		t.Fatal(err)
	}
	type brief struct {
		Name                       string
		First, Last, LastIngestion int64
	}
	var gotBrief []brief
	for _, si := range got {
		gotBrief = append(gotBrief, brief{si.Name, si.FirstEventTimestamp, si.LastEventTimestamp, si.LastIngestionTime})
		if si.StoredBytes <= 0 || si.CreationTime == 0 {
			t.Errorf("%s: StoredBytes %d CreationTime %d", si.Name, si.StoredBytes, si.CreationTime)
		}
	}
	want := []brief{{streamA, 10, 25, 26}, {streamB, 30, 30, 40}}
	if diff := cmp.Diff(want, gotBrief); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := s.Streams("/nope"); !errors.Is(err, ErrGroupNotFound) {
		t.Errorf("Streams(missing) err = %v", err)
	}
	if gs := s.Groups("/aws/lambda/"); len(gs) != 1 || gs[0].Name != testGroup {
		t.Errorf("Groups(prefix) = %+v", gs)
	}
	if gs := s.Groups("/other"); len(gs) != 0 {
		t.Errorf("Groups(/other) = %+v", gs)
	}
}

func TestDeleteGroup(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir, 0)
	appendInterleaved(s, 3)
	flush(t, s)
	gdir := groupDir(dir, testGroup)
	if _, err := os.Stat(gdir); err != nil {
		t.Fatalf("group dir not written: %v", err)
	}
	if err := s.DeleteGroup(testGroup); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(gdir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("group dir still there: %v", err)
	}
	if _, _, err := s.Filter(FilterQuery{Group: testGroup}); !errors.Is(err, ErrGroupNotFound) {
		t.Errorf("Filter after delete: %v", err)
	}
	if err := s.DeleteGroup(testGroup); !errors.Is(err, ErrGroupNotFound) {
		t.Errorf("second delete: %v", err)
	}
	s.Append(testGroup, streamA, Event{Timestamp: 1, Message: "reborn"})
	flush(t, s)
	if got := messages(filterAll(t, s, FilterQuery{Group: testGroup})); !cmp.Equal(got, []string{"reborn"}) {
		t.Errorf("after re-create: %v", got)
	}
}

func TestConcurrentAppend(t *testing.T) {
	s := openTestStore(t, t.TempDir(), 0)
	const writers, each = 8, 500
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var readerErr error
	var rwg sync.WaitGroup
	rwg.Add(1)
	go func() { // a concurrent reader, like a follower
		defer rwg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, _, err := s.Filter(FilterQuery{Group: testGroup, Start: 1}); err != nil && !errors.Is(err, ErrGroupNotFound) {
				readerErr = err
				return
			}
			_, _ = s.Streams(testGroup)
		}
	}()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream := fmt.Sprintf("2024/01/15/[$LATEST]%032d", w%4)
			for i := range each {
				s.Append(testGroup, stream, Event{Timestamp: int64(1 + i), Message: fmt.Sprintf("w%d %d", w, i)})
			}
		}()
	}
	wg.Wait()
	close(stop)
	rwg.Wait()
	if readerErr != nil {
		t.Fatal(readerErr)
	}
	got := filterAll(t, s, FilterQuery{Group: testGroup})
	if len(got) != writers*each {
		t.Fatalf("got %d events, want %d (dropped %d)", len(got), writers*each, s.Dropped())
	}
	next := make([]int, writers)
	for _, e := range got { // per writer, events keep their order
		var w, i int
		if _, err := fmt.Sscanf(e.Message, "w%d %d", &w, &i); err != nil {
			t.Fatal(err)
		}
		if i != next[w] {
			t.Fatalf("writer %d: got event %d, want %d", w, i, next[w])
		}
		next[w]++
	}
}

func TestGroupDir(t *testing.T) {
	tests := []struct{ name, want string }{
		{"/aws/lambda/my-fn_1", "%2Faws%2Flambda%2Fmy-fn_1"},
		{".", "%2E"},
		{"..", "%2E%2E"},
		{"a#b.c", "a%23b%2Ec"},
	}
	for _, tt := range tests {
		if got := filepath.Base(groupDir("/x", tt.name)); got != tt.want {
			t.Errorf("groupDir(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
	long1 := filepath.Base(groupDir("/x", strings.Repeat("/a", 256)))
	long2 := filepath.Base(groupDir("/x", strings.Repeat("/a", 255)+"/b"))
	if len(long1) > 255 || long1 == long2 {
		t.Errorf("long names: %q (%d bytes) vs %q", long1, len(long1), long2)
	}
}

func TestOpenRejectsTinyBound(t *testing.T) {
	if _, err := Open(Options{Dir: t.TempDir(), MaxBytesPerGroup: 100}); err == nil {
		t.Error("Open accepted a 100-byte bound")
	}
}

func TestAppendAfterCloseIsDropped(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s.Append(testGroup, streamA, Event{Message: "late"}, Event{Message: "later"})
	if got := s.Dropped(); got != 2 {
		t.Errorf("Dropped() = %d, want 2", got)
	}
}

func TestFlusherWritesWithoutHelp(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir, 0)
	s.Append(testGroup, streamA, Event{Timestamp: 1, Message: "hello"})
	// Bounded poll: the background flusher runs every 200 ms.
	for i := 0; ; i++ {
		segs, _ := filepath.Glob(filepath.Join(groupDir(dir, testGroup), "*"+segmentExt))
		if len(segs) == 1 {
			break
		}
		if i == 100 {
			t.Fatal("flusher did not write a segment within 5 s")
		}
		waitTick()
	}
}

// BenchmarkAppend measures the invoke-path cost of Append while the real
// flusher runs (and, at these rates, the pending bound drops events).
func BenchmarkAppend(b *testing.B) {
	msg := "2024-01-15T10:00:00.000Z\t0123-4567\tINFO\tprocessing request for user 42"
	b.Run("writers=1", func(b *testing.B) {
		s := openTestStore(b, b.TempDir(), 0)
		ev := Event{Timestamp: 1, Message: msg}
		b.ReportAllocs()
		for b.Loop() {
			s.Append(testGroup, streamA, ev)
		}
	})
	b.Run("writers=parallel", func(b *testing.B) {
		s := openTestStore(b, b.TempDir(), 0)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			ev := Event{Timestamp: 1, Message: msg}
			for pb.Next() {
				s.Append(testGroup, streamA, ev)
			}
		})
	})
}
