package esm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"gust/internal/brokers"
	"gust/internal/invoke"
	"gust/internal/lambda"
	"gust/internal/natsd"
)

// This file holds the doubles of the stream engine's tests (an in-memory
// brokers.Stream, a function that records the Kinesis events it gets, a
// failure queue, and a Service on an embedded NATS server) and their
// helpers.

func init() {
	// Retries in the tests back off for milliseconds, not seconds.
	streamRetryBase = time.Millisecond
	streamRetryMax = 20 * time.Millisecond
}

var streamTestID = lambda.Identity{Region: "eu-west-1", Account: "123456789012"}

const streamTestRole = "arn:aws:iam::123456789012:role/stream-test-role"

// memStream is an in-memory stream: an append-only log of records with
// sequence numbers 1, 2, … (brokers.SeqUint), read by memStreamReaders.
type memStream struct {
	mu      sync.Mutex
	records []brokers.Record
	wake    chan struct{} // closed, and replaced, when the log grows
	readErr error         // once set, every Read fails with it
	opened  []brokers.StartAt
}

func newMemStream() *memStream { return &memStream{wake: make(chan struct{})} }

// add appends a record that arrived now and returns its Seq.
func (s *memStream) add(key, data string) string {
	return s.addAt(key, data, time.Now())
}

// addAt appends a record with the given arrival time.
func (s *memStream) addAt(key, data string, arrival time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	seq := brokers.SeqUint(uint64(len(s.records) + 1))
	s.records = append(s.records, brokers.Record{Seq: seq, PartitionKey: key, Data: []byte(data), Arrival: arrival})
	close(s.wake)
	s.wake = make(chan struct{})
	return seq
}

// last is the Seq of the newest record.
func (s *memStream) last() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.records[len(s.records)-1].Seq
}

// fail makes every Read fail with err from now on.
func (s *memStream) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readErr = err
	close(s.wake)
	s.wake = make(chan struct{})
}

// starts returns the StartAt of every open so far.
func (s *memStream) starts() []brokers.StartAt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.opened)
}

// open is the openStreamFunc of the stream.
func (s *memStream) open(_ context.Context, start brokers.StartAt) (brokers.Stream, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opened = append(s.opened, start)
	pos := 0
	switch {
	case start.After != "":
		for pos < len(s.records) && s.records[pos].Seq <= start.After {
			pos++
		}
	case start.Position == lambda.StartTrimHorizon:
	case start.Position == lambda.StartLatest:
		pos = len(s.records)
	case start.Position == lambda.StartAtTimestamp:
		for pos < len(s.records) && s.records[pos].Arrival.Before(start.Timestamp) {
			pos++
		}
	default:
		return nil, fmt.Errorf("mem stream: unknown starting position %q", start.Position)
	}
	return &memStreamReader{s: s, pos: pos}, nil
}

// memStreamReader reads a memStream from a position.
type memStreamReader struct {
	s   *memStream
	pos int
}

func (r *memStreamReader) Read(ctx context.Context, limit int) ([]brokers.Record, error) {
	for {
		r.s.mu.Lock()
		if err := r.s.readErr; err != nil {
			r.s.mu.Unlock()
			return nil, err
		}
		if r.pos < len(r.s.records) {
			end := min(r.pos+limit, len(r.s.records))
			out := slices.Clone(r.s.records[r.pos:end])
			r.pos = end
			r.s.mu.Unlock()
			return out, nil
		}
		wake := r.s.wake
		r.s.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-wake:
		}
	}
}

func (r *memStreamReader) Close() error { return nil }

// streamInvoker is an Invoker made of a function.
type streamInvoker func(ctx context.Context, req invoke.Request) (*invoke.Response, error)

func (f streamInvoker) Invoke(ctx context.Context, req invoke.Request) (*invoke.Response, error) {
	return f(ctx, req)
}

// streamFunction is a function that decodes every Kinesis event it gets
// (strictly, as aws-lambda-go's type) and answers with answer; a nil
// answer succeeds.
type streamFunction struct {
	t      *testing.T
	answer func(call int, ev events.KinesisEvent) (*invoke.Response, error)

	mu    sync.Mutex
	calls []streamCall
}

// streamCall is one invocation the function got and its answer.
type streamCall struct {
	Records []events.KinesisEventRecord
	Failed  bool // a function error, partial failure or invoke error
}

func (f *streamFunction) Invoke(_ context.Context, req invoke.Request) (*invoke.Response, error) {
	ev, err := decodeKinesisEvent(req.Payload)
	if err != nil {
		f.t.Errorf("decode event: %v", err)
		return nil, err
	}
	if len(req.Payload) > lambda.MaxSyncPayloadBytes {
		f.t.Errorf("event of %d bytes, over the limit", len(req.Payload))
	}
	f.mu.Lock()
	n := len(f.calls)
	f.calls = append(f.calls, streamCall{Records: ev.Records})
	f.mu.Unlock()
	resp, err := &invoke.Response{StatusCode: 200, RequestID: fmt.Sprintf("req-%d", n), ExecutedVersion: lambda.LatestVersion}, error(nil)
	if f.answer != nil {
		resp, err = f.answer(n, ev)
	}
	failed := err != nil || resp.FunctionError != ""
	if !failed {
		ids, ok := batchItemFailures(resp.Payload, func(string) bool { return true })
		failed = !ok || len(ids) > 0
	}
	f.mu.Lock()
	f.calls[n].Failed = failed
	f.mu.Unlock()
	return resp, err
}

// got returns the invocations so far.
func (f *streamFunction) got() []streamCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// delivered returns, by partition key, the data of the records of the
// invocations that succeeded, in the order they were delivered.
func (f *streamFunction) delivered() map[string][]string {
	out := map[string][]string{}
	for _, c := range f.got() {
		if c.Failed {
			continue
		}
		for _, r := range c.Records {
			out[r.Kinesis.PartitionKey] = append(out[r.Kinesis.PartitionKey], string(r.Kinesis.Data))
		}
	}
	return out
}

// decodeKinesisEvent decodes an event as aws-lambda-go's type, refusing
// fields the type does not know.
func decodeKinesisEvent(payload []byte) (events.KinesisEvent, error) {
	var ev events.KinesisEvent
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	err := dec.Decode(&ev)
	return ev, err
}

// streamFunctionError is the answer of a function that failed.
func streamFunctionError(call int) *invoke.Response {
	return &invoke.Response{StatusCode: 200, RequestID: fmt.Sprintf("req-%d", call), ExecutedVersion: lambda.LatestVersion,
		FunctionError: "Unhandled", Payload: []byte(`{"errorMessage":"boom","errorType":"Error"}`)}
}

// streamFailures is a FailureQueue that keeps what it is sent.
type streamFailures struct {
	mu   sync.Mutex
	sent []streamFailure
}

// streamFailure is one on-failure record sent.
type streamFailure struct {
	Queue, RequestID, Function string
	Body                       []byte
}

func (q *streamFailures) SendRecord(_ context.Context, queueARN string, body []byte, requestID, function string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.sent = append(q.sent, streamFailure{queueARN, requestID, function, body})
	return nil
}

func (q *streamFailures) got() []streamFailure {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.sent)
}

// streamFunctions answers GetFunction with a function that has a role.
type streamFunctions struct{}

func (streamFunctions) GetAlias(_ context.Context, name, alias string) (*lambda.Alias, error) {
	return &lambda.Alias{Function: name, Name: alias, FunctionVersion: "1"}, nil
}

func (streamFunctions) GetFunction(_ context.Context, name, version string) (*lambda.Function, error) {
	return &lambda.Function{Name: name, Version: version, Role: streamTestRole}, nil
}

// newStreamService opens a Service on an embedded NATS server of its own.
func newStreamService(t *testing.T, inv Invoker, failures FailureQueue) *Service {
	t.Helper()
	conn, err := natsd.Open(t.Context(), natsd.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("natsd.Open: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	opts := Options{JS: conn.JS, Identity: streamTestID, Invoker: inv, Functions: streamFunctions{}}
	if failures != nil {
		opts.Failures = failures
	}
	s, err := Open(t.Context(), opts)
	if err != nil {
		t.Fatalf("esm.Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// streamTestSource is a stream source with the given shard count.
func streamTestSource(shards int) *Source {
	return &Source{Name: "clicks", Broker: BrokerNATS, URL: "nats://127.0.0.1:4222",
		Semantics: SemanticsStream, Stream: "clicks", Shards: shards}
}

// streamTestMapping is a TRIM_HORIZON mapping of src to function
// "reader"; change adjusts it.
func streamTestMapping(src *Source, change func(m *lambda.EventSourceMapping)) *lambda.EventSourceMapping {
	m := &lambda.EventSourceMapping{
		UUID:             "7d0e4c52-0000-4000-8000-00000000000a",
		EventSourceArn:   src.ARN(streamTestID),
		FunctionArn:      streamTestID.FunctionARN("reader"),
		State:            lambda.ESMEnabled,
		StartingPosition: lambda.StartTrimHorizon,
	}
	if change != nil {
		change(m)
	}
	return m
}

// streamRun is one runStream call in the background.
type streamRun struct {
	cancel context.CancelFunc
	done   chan error
}

// startStream runs runStream until the test ends or stop is called.
func startStream(t *testing.T, s *Service, m *lambda.EventSourceMapping, src *Source, ms *memStream) *streamRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &streamRun{cancel: cancel, done: make(chan error, 1)}
	st := &status{s: s, uuid: m.UUID}
	go func() { r.done <- s.runStream(ctx, m, src, ms.open, st) }()
	t.Cleanup(func() { _ = r.stop(t) })
	return r
}

// stop cancels the run and returns what runStream returned.
func (r *streamRun) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err // for a later stop
		return err
	case <-time.After(30 * time.Second):
		t.Fatalf("runStream did not return after cancel")
		return nil
	}
}

// streamEventually polls cond until it holds, failing the test after a
// deadline.
func streamEventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// streamCheckpoint reads one lane's checkpoint ("" if none).
func streamCheckpoint(t *testing.T, s *Service, uuid string, id laneID) string {
	t.Helper()
	cp, _, err := natsd.GetJSON[checkpoint](context.Background(), s.kv, checkpointKey(uuid, id))
	if err != nil {
		t.Fatalf("read checkpoint: %v", err)
	}
	if cp == nil {
		return ""
	}
	return cp.Seq
}

var errStreamBroker = errors.New("stream broker went away")

// streamKeyRecords adds n records for each key, interleaved across keys,
// and returns the data of each key's records in order.
func streamKeyRecords(ms *memStream, keys []string, from, n int) map[string][]string {
	want := map[string][]string{}
	for i := from; i < from+n; i++ {
		for _, k := range keys {
			data := fmt.Sprintf("%s/%03d", k, i)
			ms.add(k, data)
			want[k] = append(want[k], data)
		}
	}
	return want
}

func streamKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%02d", i)
	}
	return keys
}

// streamFailureBody decodes an on-failure record, checking its shape.
func streamFailureBody(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("on-failure record: %v", err)
	}
	keys := func(v any) []string {
		m, _ := v.(map[string]any)
		out := make([]string, 0, len(m))
		for k := range m {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	want := map[string][]string{
		"":                 {"KinesisBatchInfo", "requestContext", "responseContext", "timestamp", "version"},
		"requestContext":   {"approximateInvokeCount", "condition", "functionArn", "requestId"},
		"responseContext":  {"executedVersion", "functionError", "statusCode"},
		"KinesisBatchInfo": {"approximateArrivalOfFirstRecord", "approximateArrivalOfLastRecord", "batchSize", "endSequenceNumber", "shardId", "startSequenceNumber", "streamArn"},
	}
	for part, wantKeys := range want {
		v := any(got)
		if part != "" {
			v = got[part]
		}
		if diff := cmp.Diff(wantKeys, keys(v)); diff != "" {
			t.Errorf("keys of %q (-want +got):\n%s", part, diff)
		}
	}
	if _, err := time.Parse(kinesisTimeLayout, got["timestamp"].(string)); err != nil || got["version"] != "1.0" {
		t.Errorf("timestamp %v, version %v", got["timestamp"], got["version"])
	}
	return got
}

// streamAWSLambdaGoDir is where the aws-lambda-go module is.
func streamAWSLambdaGoDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/aws/aws-lambda-go").Output()
	if err != nil {
		t.Fatalf("go list aws-lambda-go: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// streamJSONKeys is the set of key paths of a JSON document, array elements
// merged ("Records[].kinesis.data").
func streamJSONKeys(t *testing.T, doc []byte) []string {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				set[path+"."+k] = true
				walk(path+"."+k, e)
			}
		case []any:
			for _, e := range v {
				walk(path+"[]", e)
			}
		}
	}
	walk("", v)
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
