package esm

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"gust/internal/brokers"
	"gust/internal/invoke"
	"gust/internal/lambda"
)

func streamIntPtr(n int) *int { return &n }

func TestStreamPerKeyOrderAcrossLanes(t *testing.T) {
	src := streamTestSource(4)
	m := streamTestMapping(src, func(m *lambda.EventSourceMapping) {
		m.ParallelizationFactor = streamIntPtr(2)
		m.BatchSize = streamIntPtr(7)
	})
	var mu sync.Mutex
	inFlight := map[laneID]bool{}
	fn := &streamFunction{t: t}
	fn.answer = func(call int, ev events.KinesisEvent) (*invoke.Response, error) {
		id := laneID{-1, -1}
		for _, r := range ev.Records {
			key := r.Kinesis.PartitionKey
			rid := laneID{shardOf(key, 4), laneOf(key, 2)}
			if id.shard >= 0 && rid != id {
				t.Errorf("one event holds records of lanes %v and %v", id, rid)
			}
			id = rid
			if want := shardID(rid.shard) + ":" + r.Kinesis.SequenceNumber; r.EventID != want {
				t.Errorf("eventID = %q, want %q", r.EventID, want)
			}
			if r.InvokeIdentityArn != streamTestRole || r.EventSourceArn != src.ARN(streamTestID) {
				t.Errorf("record names role %q and source %q", r.InvokeIdentityArn, r.EventSourceArn)
			}
		}
		mu.Lock()
		if inFlight[id] {
			t.Errorf("two batches in flight on lane %v", id)
		}
		inFlight[id] = true
		mu.Unlock()
		defer func() { mu.Lock(); inFlight[id] = false; mu.Unlock() }()
		if call%5 == 3 {
			return streamFunctionError(call), nil // retried: order must still hold
		}
		return &invoke.Response{StatusCode: 200, RequestID: fmt.Sprint(call)}, nil
	}
	s := newStreamService(t, fn, nil)
	ms := newMemStream()
	keys := streamKeys(20)
	want := streamKeyRecords(ms, keys, 0, 8)
	startStream(t, s, m, src, ms)
	for k, more := range streamKeyRecords(ms, keys, 8, 7) {
		want[k] = append(want[k], more...)
	}

	streamEventually(t, "every record delivered", func() bool {
		got := fn.delivered()
		for _, k := range keys {
			if len(got[k]) < len(want[k]) {
				return false
			}
		}
		return true
	})
	if diff := cmp.Diff(want, fn.delivered()); diff != "" {
		t.Errorf("records delivered by key (-want +got):\n%s", diff)
	}
	lanes := map[laneID]bool{}
	for _, k := range keys {
		lanes[laneID{shardOf(k, 4), laneOf(k, 2)}] = true
	}
	if len(lanes) != 8 {
		t.Errorf("20 keys fell in %d of the 8 lanes", len(lanes))
	}
	if got := len(ms.starts()); got != 8 {
		t.Errorf("stream opened %d times, want once per lane (8)", got)
	}
}

func TestStreamCheckpointResume(t *testing.T) {
	src := streamTestSource(2)
	m := streamTestMapping(src, func(m *lambda.EventSourceMapping) { m.BatchSize = streamIntPtr(4) })
	fn := &streamFunction{t: t}
	s := newStreamService(t, fn, nil)
	ms := newMemStream()
	keys := streamKeys(10)
	want := streamKeyRecords(ms, keys, 0, 3)
	first := startStream(t, s, m, src, ms)

	lanes := []laneID{{0, 0}, {1, 0}}
	caughtUp := func() bool {
		for _, id := range lanes {
			if streamCheckpoint(t, s, m.UUID, id) != ms.last() {
				return false
			}
		}
		return true
	}
	streamEventually(t, "both lanes checkpointed the end of the stream", caughtUp)
	if err := first.stop(t); err != nil {
		t.Fatalf("runStream after cancel = %v, want nil", err)
	}
	resumeAt := ms.last()
	for k, more := range streamKeyRecords(ms, keys, 3, 2) {
		want[k] = append(want[k], more...)
	}
	startStream(t, s, m, src, ms)
	streamEventually(t, "the new records checkpointed", caughtUp)

	if diff := cmp.Diff(want, fn.delivered()); diff != "" {
		t.Errorf("records delivered by key, over both runs (-want +got):\n%s", diff)
	}
	starts := ms.starts()
	if len(starts) != 4 {
		t.Fatalf("stream opened %d times, want 4", len(starts))
	}
	for _, st := range starts[2:] {
		if st.After != resumeAt {
			t.Errorf("second run opened at %+v, want After %s", st, resumeAt)
		}
	}
}

func TestStreamPartialBatchResponse(t *testing.T) {
	tests := []struct {
		name      string
		failures  func(seqs []string) []string // itemIdentifiers of the first answer
		retryFrom int                          // index of the first record retried
	}{
		{"lowest failure", func(seqs []string) []string { return []string{seqs[7], seqs[4]} }, 4},
		{"first record", func(seqs []string) []string { return []string{seqs[0]} }, 0},
		{"unknown identifier fails the batch", func([]string) []string { return []string{"nope"} }, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := streamTestSource(1)
			m := streamTestMapping(src, func(m *lambda.EventSourceMapping) {
				m.BatchSize = streamIntPtr(10)
				m.FunctionResponseTypes = []string{lambda.ESMReportBatchItemFailures}
				m.MaximumRetryAttempts = streamIntPtr(3)
			})
			ms := newMemStream()
			var seqs []string
			for i := range 10 {
				seqs = append(seqs, ms.add("k", fmt.Sprint(i)))
			}
			var s *Service
			fn := &streamFunction{t: t}
			fn.answer = func(call int, ev events.KinesisEvent) (*invoke.Response, error) {
				if call > 0 {
					want := ""
					if tt.retryFrom > 0 {
						want = seqs[tt.retryFrom-1]
					}
					if got := streamCheckpoint(t, s, m.UUID, laneID{0, 0}); got != want && !(want == "" && got < seqs[0]) {
						t.Errorf("checkpoint before the retry = %q, want %q", got, want)
					}
					return &invoke.Response{StatusCode: 200}, nil
				}
				var items []map[string]string
				for _, id := range tt.failures(seqs) {
					items = append(items, map[string]string{"itemIdentifier": id})
				}
				body, _ := json.Marshal(map[string]any{"batchItemFailures": items})
				return &invoke.Response{StatusCode: 200, Payload: body}, nil
			}
			s = newStreamService(t, fn, nil)
			startStream(t, s, m, src, ms)
			streamEventually(t, "the end checkpointed", func() bool {
				return streamCheckpoint(t, s, m.UUID, laneID{0, 0}) == ms.last()
			})
			calls := fn.got()
			if len(calls) != 2 {
				t.Fatalf("%d invocations, want 2", len(calls))
			}
			var retried []string
			for _, r := range calls[1].Records {
				retried = append(retried, r.Kinesis.SequenceNumber)
			}
			if diff := cmp.Diff(seqs[tt.retryFrom:], retried); diff != "" {
				t.Errorf("records retried (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStreamBisectIsolatesPoisonRecord(t *testing.T) {
	const dest = "arn:aws:sqs:eu-west-1:123456789012:stream-failures"
	src := streamTestSource(1)
	m := streamTestMapping(src, func(m *lambda.EventSourceMapping) {
		m.BatchSize = streamIntPtr(10)
		m.BisectBatchOnFunctionError = new(true)
		m.MaximumRetryAttempts = streamIntPtr(1)
		m.DestinationConfig = &lambda.ESMDestination{OnFailure: &lambda.OnFailure{Destination: dest}}
	})
	ms := newMemStream()
	var want []string
	poison := ""
	for i := range 10 {
		if i == 6 {
			poison = ms.add("k", "poison")
			continue
		}
		want = append(want, fmt.Sprint(i))
		ms.add("k", fmt.Sprint(i))
	}
	fn := &streamFunction{t: t}
	fn.answer = func(call int, ev events.KinesisEvent) (*invoke.Response, error) {
		for _, r := range ev.Records {
			if string(r.Kinesis.Data) == "poison" {
				return streamFunctionError(call), nil
			}
		}
		return &invoke.Response{StatusCode: 200}, nil
	}
	failures := &streamFailures{}
	s := newStreamService(t, fn, failures)
	startStream(t, s, m, src, ms)
	streamEventually(t, "the poison record given up", func() bool { return len(failures.got()) == 1 })
	for _, d := range []string{"10", "11"} { // the shard goes on
		want = append(want, d)
		ms.add("k", d)
	}
	streamEventually(t, "the end checkpointed", func() bool {
		return streamCheckpoint(t, s, m.UUID, laneID{0, 0}) == ms.last()
	})

	if diff := cmp.Diff(map[string][]string{"k": want}, fn.delivered()); diff != "" {
		t.Errorf("records delivered (-want +got):\n%s", diff)
	}
	alone := 0
	for _, c := range fn.got() {
		if len(c.Records) == 1 && c.Records[0].Kinesis.SequenceNumber == poison {
			alone++
		}
	}
	if alone != 2 {
		t.Errorf("poison record invoked alone %d times, want 2 (MaximumRetryAttempts 1)", alone)
	}
	sent := failures.got()
	if len(sent) != 1 {
		t.Fatalf("%d on-failure records, want 1", len(sent))
	}
	f := sent[0]
	if f.Queue != dest || f.Function != "reader" || f.RequestID == "" {
		t.Errorf("sent to %q for %q with request id %q", f.Queue, f.Function, f.RequestID)
	}
	body := streamFailureBody(t, f.Body)
	wantBody := map[string]any{
		"requestId": f.RequestID, "functionArn": m.FunctionArn, "condition": "RetryAttemptsExhausted",
		"approximateInvokeCount": 2.0, "statusCode": 200.0, "executedVersion": lambda.LatestVersion,
		"functionError": "Unhandled", "shardId": "shardId-000000000000", "startSequenceNumber": poison,
		"endSequenceNumber": poison, "batchSize": 1.0, "streamArn": src.ARN(streamTestID),
	}
	gotBody := map[string]any{}
	for _, part := range []string{"requestContext", "responseContext", "KinesisBatchInfo"} {
		for k, v := range body[part].(map[string]any) {
			if _, ok := wantBody[k]; ok {
				gotBody[k] = v
			}
		}
	}
	if diff := cmp.Diff(wantBody, gotBody); diff != "" {
		t.Errorf("on-failure record (-want +got):\n%s", diff)
	}
}

func TestKinesisEventShape(t *testing.T) {
	arrival := time.UnixMilli(1480641523477)
	src := kinesisSource{ShardID: shardID(3), StreamARN: "arn:aws:kinesis:eu-west-1:123456789012:stream/clicks",
		Region: "eu-west-1", IdentityARN: streamTestRole}
	var recs []json.RawMessage
	for _, r := range []brokers.Record{
		{Seq: brokers.SeqUint(7), PartitionKey: "s1", Data: []byte("Hello World"), Arrival: arrival},
		{Seq: brokers.SeqUint(9), PartitionKey: "s1", Data: []byte{0, 1, 2, 255}, Arrival: arrival},
		{Seq: brokers.SeqUint(10), PartitionKey: "s2", Arrival: arrival},
	} {
		b, err := shapeKinesisRecord(r, src)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, b)
	}
	payload := kinesisEvent(recs)
	ev, err := decodeKinesisEvent(payload)
	if err != nil {
		t.Fatalf("decode as events.KinesisEvent: %v", err)
	}
	r := ev.Records[1]
	if r.EventID != "shardId-000000000003:"+brokers.SeqUint(9) || !slices.Equal(r.Kinesis.Data, []byte{0, 1, 2, 255}) ||
		r.EventSourceArn != src.StreamARN || r.AwsRegion != "eu-west-1" || r.InvokeIdentityArn != streamTestRole ||
		r.Kinesis.ApproximateArrivalTimestamp.Sub(arrival).Abs() > time.Millisecond || r.Kinesis.SequenceNumber != brokers.SeqUint(9) {
		t.Errorf("record = %+v", r)
	}

	sample, err := os.ReadFile(filepath.Join(streamAWSLambdaGoDir(t), "events", "testdata", "kinesis-event.json"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(streamJSONKeys(t, sample), streamJSONKeys(t, payload)); diff != "" {
		t.Errorf("keys of the event (-aws-lambda-go's sample +ours):\n%s", diff)
	}
	var raw map[string][]map[string]json.RawMessage
	if err := json.Unmarshal(payload, &raw); err != nil {
		t.Fatal(err)
	}
	if got := string(raw["Records"][2]["kinesis"]); !strings.Contains(got, `"data":""`) {
		t.Errorf("kinesis object of a record without data = %s", got)
	}
	if got := string(raw["Records"][0]["kinesis"]); !strings.Contains(got, `"data":"`+base64.StdEncoding.EncodeToString([]byte("Hello World"))+`"`) ||
		!strings.Contains(got, `"approximateArrivalTimestamp":1480641523.477`) {
		t.Errorf("kinesis object = %s", got)
	}
}

func TestCheckpointLayoutChangeAndDelete(t *testing.T) {
	s := newStreamService(t, &streamFunction{t: t}, nil)
	ctx := t.Context()
	const a, b = "aaaaaaaa-0000-4000-8000-000000000001", "bbbbbbbb-0000-4000-8000-000000000002"
	save := func(uuid string, id laneID, seq string, lanes int) {
		if err := s.saveCheckpoint(ctx, checkpointKey(uuid, id), checkpoint{Seq: seq, Shards: 1, Lanes: lanes}); err != nil {
			t.Fatal(err)
		}
	}
	save(a, laneID{0, 0}, brokers.SeqUint(50), 2)
	save(a, laneID{0, 1}, brokers.SeqUint(40), 2)
	save(b, laneID{0, 0}, brokers.SeqUint(9), 1)

	same, err := s.laneStarts(ctx, a, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[laneID]string{{0, 0}: brokers.SeqUint(50), {0, 1}: brokers.SeqUint(40)}, same, cmp.AllowUnexported(laneID{})); diff != "" {
		t.Errorf("starts, same layout (-want +got):\n%s", diff)
	}
	more, err := s.laneStarts(ctx, a, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	oldest := brokers.SeqUint(40)
	if diff := cmp.Diff(map[laneID]string{{0, 0}: oldest, {0, 1}: oldest, {0, 2}: oldest}, more, cmp.AllowUnexported(laneID{})); diff != "" {
		t.Errorf("starts after ParallelizationFactor 2 → 3 (-want +got):\n%s", diff)
	}
	fewer, err := s.laneStarts(ctx, a, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[laneID]string{{0, 0}: oldest}, fewer, cmp.AllowUnexported(laneID{})); diff != "" {
		t.Errorf("starts after ParallelizationFactor 3 → 1 (-want +got):\n%s", diff)
	}
	keys, err := s.checkpointKeys(ctx, a)
	if err != nil || len(keys) != 1 {
		t.Errorf("checkpoints of a after the change: %v, %v; want one", keys, err)
	}

	s.deleteCheckpoints(ctx, a)
	if keys, err := s.checkpointKeys(ctx, a); err != nil || len(keys) != 0 {
		t.Errorf("checkpoints of a after delete: %v, %v", keys, err)
	}
	if got := streamCheckpoint(t, s, b, laneID{0, 0}); got != brokers.SeqUint(9) {
		t.Errorf("checkpoint of another mapping = %q, want it kept", got)
	}
}

func TestCheckpointSeqBefore(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"00000000000000000010", "00000000000000000009", true},
		{"00000000000000000001", "00000000000000000000", true},
		{"1700000000000000", "1699999999999999", true},
		{"00000000000000000000", "", false},
		{"", "", false},
		{"12a4", "", false},
	}
	for _, tt := range tests {
		got, ok := seqBefore(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("seqBefore(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
