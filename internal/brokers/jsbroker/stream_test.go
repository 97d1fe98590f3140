package jsbroker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"gust/internal/brokers"
)

func openTestStream(t *testing.T, cfg StreamConfig) *Stream {
	t.Helper()
	if cfg.URL == "" {
		cfg.URL = natsURL
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := OpenStream(ctx, cfg)
	if err != nil {
		t.Fatalf("OpenStream: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// readN reads until it has n records, max at a time.
func readN(t *testing.T, s *Stream, n, max int) []brokers.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var got []brokers.Record
	for len(got) < n {
		recs, err := s.Read(ctx, max)
		if err != nil {
			t.Fatalf("Read after %d of %d records: %v", len(got), n, err)
		}
		if len(recs) == 0 || len(recs) > max {
			t.Fatalf("Read(max %d) returned %d records", max, len(recs))
		}
		got = append(got, recs...)
	}
	if len(got) != n {
		t.Fatalf("read %d records, want %d", len(got), n)
	}
	return got
}

// expectNothing checks that no record arrives for a short while.
func expectNothing(t *testing.T, s *Stream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if recs, err := s.Read(ctx, 10); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Read = %v, %v; want no record and context.DeadlineExceeded", recs, err)
	}
}

func seqs(recs []brokers.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Seq
	}
	return out
}

func TestStreamTrimHorizonWithFilter(t *testing.T) {
	t.Parallel()
	ts := newTestStream(t, jetstream.LimitsPolicy)
	before := time.Now().Add(-time.Minute)
	s1 := ts.publish(t, ts.prefix+".a.1", "one", nil)
	ts.publish(t, ts.prefix+".b", "skipped", nil)
	s3 := ts.publish(t, ts.prefix+".a.2", "two", nil)
	s := openTestStream(t, StreamConfig{
		Stream: ts.name, Subject: ts.prefix + ".a.>",
		Start: brokers.StartAt{Position: PositionTrimHorizon},
	})

	got := readN(t, s, 2, 10)
	want := []brokers.Record{
		{Seq: brokers.SeqUint(s1), PartitionKey: ts.prefix + ".a.1", Data: []byte("one")},
		{Seq: brokers.SeqUint(s3), PartitionKey: ts.prefix + ".a.2", Data: []byte("two")},
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Seq != w.Seq || g.PartitionKey != w.PartitionKey || string(g.Data) != string(w.Data) {
			t.Errorf("record %d = {%s %s %q}, want {%s %s %q}", i, g.Seq, g.PartitionKey, g.Data, w.Seq, w.PartitionKey, w.Data)
		}
		if g.Arrival.Before(before) {
			t.Errorf("record %d Arrival = %v, want the publish time", i, g.Arrival)
		}
	}
	expectNothing(t, s)
}

func TestStreamLatestReadsOnlyNewRecords(t *testing.T) {
	t.Parallel()
	ts := newTestStream(t, jetstream.LimitsPolicy)
	ts.publish(t, ts.prefix+".k", "old 1", nil)
	ts.publish(t, ts.prefix+".k", "old 2", nil)
	s := openTestStream(t, StreamConfig{Stream: ts.name, Start: brokers.StartAt{Position: PositionLatest}})

	expectNothing(t, s)
	seq := ts.publish(t, ts.prefix+".k", "new", nil)
	got := readN(t, s, 1, 10)
	if got[0].Seq != brokers.SeqUint(seq) || string(got[0].Data) != "new" {
		t.Fatalf("LATEST read %s %q, want %s new", got[0].Seq, got[0].Data, brokers.SeqUint(seq))
	}
}

func TestStreamAtTimestamp(t *testing.T) {
	t.Parallel()
	ts := newTestStream(t, jetstream.LimitsPolicy)
	ts.publish(t, ts.prefix+".k", "before 1", nil)
	ts.publish(t, ts.prefix+".k", "before 2", nil)
	from := ts.publish(t, ts.prefix+".k", "from", nil)
	last := ts.publish(t, ts.prefix+".k", "after", nil)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := ts.js.Stream(ctx, ts.name)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := st.GetMsg(ctx, from)
	if err != nil {
		t.Fatal(err)
	}
	s := openTestStream(t, StreamConfig{Stream: ts.name, Start: brokers.StartAt{
		Position: PositionAtTimestamp, Timestamp: stored.Time,
	}})

	got := readN(t, s, 2, 10)
	if want := []string{brokers.SeqUint(from), brokers.SeqUint(last)}; fmt.Sprint(seqs(got)) != fmt.Sprint(want) {
		t.Fatalf("AT_TIMESTAMP read %v, want %v", seqs(got), want)
	}
}

func TestStreamAfterCheckpoint(t *testing.T) {
	t.Parallel()
	ts := newTestStream(t, jetstream.LimitsPolicy)
	var all []uint64
	for i := range 4 {
		all = append(all, ts.publish(t, ts.prefix+".k", fmt.Sprint(i), nil))
	}
	// After wins over Position.
	s := openTestStream(t, StreamConfig{Stream: ts.name, Start: brokers.StartAt{
		After: brokers.SeqUint(all[1]), Position: PositionTrimHorizon,
	}})

	got := readN(t, s, 2, 10)
	if want := []string{brokers.SeqUint(all[2]), brokers.SeqUint(all[3])}; fmt.Sprint(seqs(got)) != fmt.Sprint(want) {
		t.Fatalf("read after %d: %v, want %v", all[1], seqs(got), want)
	}
	expectNothing(t, s)
}

func TestStreamOrderAcrossReads(t *testing.T) {
	t.Parallel()
	ts := newTestStream(t, jetstream.LimitsPolicy)
	const n = 25
	for i := range n {
		// Spread over subjects: the order is the stream's, not a subject's.
		ts.publish(t, fmt.Sprintf("%s.k%d", ts.prefix, i%3), fmt.Sprint(i), nil)
	}
	s := openTestStream(t, StreamConfig{Stream: ts.name, Start: brokers.StartAt{Position: PositionTrimHorizon}})

	got := readN(t, s, n, 4)
	for i, r := range got {
		if string(r.Data) != fmt.Sprint(i) {
			t.Fatalf("record %d has data %q, want %d (order lost)", i, r.Data, i)
		}
		if i > 0 && r.Seq <= got[i-1].Seq {
			t.Fatalf("Seq %s after %s: not increasing as strings", r.Seq, got[i-1].Seq)
		}
	}
}

func TestStreamLostConnectionEndsRead(t *testing.T) {
	t.Parallel()
	ts := newTestStream(t, jetstream.LimitsPolicy)
	proxy := newTCPProxy(t)
	s := openTestStream(t, StreamConfig{
		URL: proxy.url(), Stream: ts.name, Start: brokers.StartAt{Position: PositionLatest},
	})

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := s.Read(ctx, 1)
		done <- err
	}()
	proxy.cut()
	err := <-done
	if !errors.Is(err, ErrDisconnected) {
		t.Fatalf("Read after the connection was cut = %v, want ErrDisconnected", err)
	}
}

func TestStreamReadAfterClose(t *testing.T) {
	t.Parallel()
	ts := newTestStream(t, jetstream.LimitsPolicy)
	s := openTestStream(t, StreamConfig{Stream: ts.name, Start: brokers.StartAt{Position: PositionTrimHorizon}})
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := s.Read(context.Background(), 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read after Close = %v, want ErrClosed", err)
	}
}

func TestOpenStreamMissingStream(t *testing.T) {
	t.Parallel()
	newTestJetStream(t)
	name := "NOPE_" + randomSuffix(t)
	_, err := OpenStream(context.Background(), StreamConfig{
		URL: natsURL, Stream: name, Start: brokers.StartAt{Position: PositionTrimHorizon},
	})
	if !errors.Is(err, jetstream.ErrStreamNotFound) || !strings.Contains(err.Error(), name) {
		t.Fatalf("OpenStream on a missing stream = %v, want ErrStreamNotFound naming %s", err, name)
	}
}

func TestOrderedConfigStart(t *testing.T) {
	t.Parallel()
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		start   brokers.StartAt
		policy  jetstream.DeliverPolicy
		seq     uint64
		wantErr bool
	}{
		{"trim horizon", brokers.StartAt{Position: PositionTrimHorizon}, jetstream.DeliverAllPolicy, 0, false},
		{"latest is past the last record", brokers.StartAt{Position: PositionLatest}, jetstream.DeliverByStartSequencePolicy, 8, false},
		{"at timestamp", brokers.StartAt{Position: PositionAtTimestamp, Timestamp: at}, jetstream.DeliverByStartTimePolicy, 0, false},
		{"after", brokers.StartAt{After: brokers.SeqUint(41), Position: PositionLatest}, jetstream.DeliverByStartSequencePolicy, 42, false},
		{"at timestamp without one", brokers.StartAt{Position: PositionAtTimestamp}, 0, 0, true},
		{"unknown position", brokers.StartAt{Position: "AT_SEQUENCE_NUMBER"}, 0, 0, true},
		{"no position", brokers.StartAt{}, 0, 0, true},
		{"bad after", brokers.StartAt{After: "x12"}, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			occ, err := orderedConfig(StreamConfig{Start: tt.start}, 7)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("orderedConfig(%+v) succeeded, want an error", tt.start)
				}
				return
			}
			if err != nil {
				t.Fatalf("orderedConfig: %v", err)
			}
			if occ.DeliverPolicy != tt.policy || occ.OptStartSeq != tt.seq {
				t.Errorf("got policy %v seq %d, want %v %d", occ.DeliverPolicy, occ.OptStartSeq, tt.policy, tt.seq)
			}
			if tt.policy == jetstream.DeliverByStartTimePolicy && (occ.OptStartTime == nil || !occ.OptStartTime.Equal(at)) {
				t.Errorf("OptStartTime = %v, want %v", occ.OptStartTime, at)
			}
		})
	}
}

func TestSeqOf(t *testing.T) {
	t.Parallel()
	for _, n := range []uint64{0, 1, 42, 1<<64 - 1} {
		got, err := SeqOf(brokers.SeqUint(n))
		if err != nil || got != n {
			t.Errorf("SeqOf(SeqUint(%d)) = %d, %v", n, got, err)
		}
	}
	for _, bad := range []string{"", "-1", "12a", "99999999999999999999"} {
		if _, err := SeqOf(bad); err == nil {
			t.Errorf("SeqOf(%q) succeeded, want an error", bad)
		}
	}
}
