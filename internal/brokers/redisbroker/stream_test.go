package redisbroker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gust/internal/brokers"
)

func openTestStream(t *testing.T, key string, start brokers.StartAt) *Stream {
	t.Helper()
	s, err := OpenStream(testCtx(t, 5*time.Second), StreamConfig{URL: testURL(), Stream: key, Start: start})
	if err != nil {
		t.Fatalf("OpenStream(%+v): %v", start, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// readIDs reads until n records came, and returns their entry IDs.
func readIDs(t *testing.T, s *Stream, n int) []string {
	t.Helper()
	ctx := testCtx(t, 10*time.Second)
	var ids []string
	for len(ids) < n {
		recs, err := s.Read(ctx, n-len(ids))
		if err != nil {
			t.Fatalf("Read after %d of %d records: %v", len(ids), n, err)
		}
		for _, r := range recs {
			id, err := IDFromSeq(r.Seq)
			if err != nil {
				t.Fatalf("record seq %q: %v", r.Seq, err)
			}
			ids = append(ids, id)
		}
	}
	return ids
}

func seqOf(t *testing.T, id string) string {
	t.Helper()
	seq, err := SeqFromID(id)
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

func TestStreamStartPositions(t *testing.T) {
	c := testClient(t)
	key := uniqueKey(t, c, "stream")
	for _, id := range []string{"1000-0", "2000-0", "2000-1", "3000-0"} {
		xadd(t, c, key, id, "data", id)
	}
	tests := []struct {
		name  string
		start brokers.StartAt
		want  []string
	}{
		{"trim horizon", brokers.StartAt{Position: "TRIM_HORIZON"}, []string{"1000-0", "2000-0", "2000-1", "3000-0"}},
		{"at timestamp on an entry", brokers.StartAt{Position: "AT_TIMESTAMP", Timestamp: time.UnixMilli(2000)}, []string{"2000-0", "2000-1", "3000-0"}},
		{"at timestamp between entries", brokers.StartAt{Position: "AT_TIMESTAMP", Timestamp: time.UnixMilli(2500)}, []string{"3000-0"}},
		{"at zero timestamp", brokers.StartAt{Position: "AT_TIMESTAMP"}, []string{"1000-0", "2000-0", "2000-1", "3000-0"}},
		{"after a seq", brokers.StartAt{After: seqOf(t, "2000-0")}, []string{"2000-1", "3000-0"}},
		// A checkpoint pinned just before 2000-0 (its Seq decremented).
		{"after a seq just before a millisecond", brokers.StartAt{After: "00000000000000001999" + "99999999999999999999"}, []string{"2000-0", "2000-1", "3000-0"}},
		{"after wins over position", brokers.StartAt{After: seqOf(t, "2000-1"), Position: "TRIM_HORIZON"}, []string{"3000-0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTestStream(t, key, tt.start)
			if diff := cmp.Diff(tt.want, readIDs(t, s, len(tt.want))); diff != "" {
				t.Errorf("ids read (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStreamLatestSkipsExisting(t *testing.T) {
	c := testClient(t)
	for _, existing := range []int{0, 2} {
		key := uniqueKey(t, c, "stream")
		for range existing {
			xadd(t, c, key, "", "data", "old")
		}
		s := openTestStream(t, key, brokers.StartAt{Position: "LATEST"})
		id := xadd(t, c, key, "", "data", "new")
		if got := readIDs(t, s, 1); got[0] != id {
			t.Errorf("LATEST with %d existing entries read %s first, want %s (added after open)", existing, got[0], id)
		}
	}
}

func TestStreamReadUpToMaxInOrder(t *testing.T) {
	c := testClient(t)
	key := uniqueKey(t, c, "stream")
	var want []string
	for range 5 {
		want = append(want, xadd(t, c, key, "", "data", "x"))
	}
	s := openTestStream(t, key, brokers.StartAt{Position: "TRIM_HORIZON"})
	first, err := s.Read(testCtx(t, 10*time.Second), 2)
	if err != nil {
		t.Fatalf("Read(2): %v", err)
	}
	if len(first) != 2 {
		t.Errorf("Read(2) returned %d records", len(first))
	}
	rest, err := s.Read(testCtx(t, 10*time.Second), 10)
	if err != nil {
		t.Fatalf("Read(10): %v", err)
	}
	var got []string
	for i, r := range append(first, rest...) {
		id, _ := IDFromSeq(r.Seq)
		got = append(got, id)
		if i > 0 && r.Seq <= first[0].Seq {
			t.Errorf("record %d seq %s not after the first %s as a string", i, r.Seq, first[0].Seq)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
	if _, err := s.Read(testCtx(t, 200*time.Millisecond), 10); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Read at the end = %v, want context.DeadlineExceeded", err)
	}
}

func TestStreamReadWaitsForNewRecord(t *testing.T) {
	c := testClient(t)
	key := uniqueKey(t, c, "stream")
	s := openTestStream(t, key, brokers.StartAt{Position: "LATEST"})
	type result struct {
		recs []brokers.Record
		err  error
	}
	done := make(chan result, 1)
	go func() {
		recs, err := s.Read(testCtx(t, 10*time.Second), 10)
		done <- result{recs, err}
	}()
	id := xadd(t, c, key, "", "data", "payload", "partitionKey", "pk")
	r := <-done
	if r.err != nil {
		t.Fatalf("Read: %v", r.err)
	}
	want := []brokers.Record{{Seq: seqOf(t, id), PartitionKey: "pk", Data: []byte("payload"), Arrival: idTime(id)}}
	if diff := cmp.Diff(want, r.recs); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

func TestStreamRecordFields(t *testing.T) {
	c := testClient(t)
	key := uniqueKey(t, c, "stream")
	withKey := xadd(t, c, key, "", "data", "d", "key", "k")
	plain := xadd(t, c, key, "", "a", "1", "b", "2")
	s := openTestStream(t, key, brokers.StartAt{Position: "TRIM_HORIZON"})
	recs, err := s.Read(testCtx(t, 10*time.Second), 2)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	want := []brokers.Record{
		{Seq: seqOf(t, withKey), PartitionKey: "k", Data: []byte("d"), Arrival: idTime(withKey)},
		{Seq: seqOf(t, plain), PartitionKey: plain, Data: []byte(`{"a":"1","b":"2"}`), Arrival: idTime(plain)},
	}
	if diff := cmp.Diff(want, recs); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

func TestOpenStreamRejectsBadStart(t *testing.T) {
	testClient(t)
	for _, start := range []brokers.StartAt{{}, {Position: "AT_SEQUENCE_NUMBER"}, {After: "12-3"}} {
		if s, err := OpenStream(testCtx(t, 5*time.Second), StreamConfig{URL: testURL(), Stream: "unused", Start: start}); err == nil {
			_ = s.Close()
			t.Errorf("OpenStream(%+v): want an error", start)
		}
	}
}

func TestStreamReadAfterClose(t *testing.T) {
	c := testClient(t)
	s := openTestStream(t, uniqueKey(t, c, "stream"), brokers.StartAt{Position: "TRIM_HORIZON"})
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := s.Read(context.Background(), 1); err == nil {
		t.Error("Read after Close: want an error")
	}
}
