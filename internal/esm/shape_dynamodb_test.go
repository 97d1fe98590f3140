package esm

import (
	"bytes"
	"context"
	"encoding/json"
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
	"gust/internal/brokers/pgstream"
	"gust/internal/invoke"
	"gust/internal/lambda"
)

// pgTestSource is a PostgreSQL source as PutSource stores it.
func pgTestSource(t *testing.T) *Source {
	t.Helper()
	src := &Source{Name: "orders", Broker: BrokerPostgres, URL: "postgres://app:pw@127.0.0.1:5432/shop", Tables: []string{"public.orders"}}
	if err := src.validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	src.Created = time.Date(2024, 5, 1, 10, 0, 0, 123e6, time.UTC)
	return src
}

// addChange appends a change record as pgstream renders one.
func addChange(t *testing.T, ms *memStream, event string, id string, newImage pgstream.Image) string {
	t.Helper()
	seq := brokers.SeqUint(uint64(len(ms.records) + 1))
	keys := pgstream.Image{"id": {Type: "N", Str: id}}
	data, err := json.Marshal(pgstream.Change{EventName: event, DynamoDB: pgstream.StreamRecord{
		ApproximateCreationDateTime: 1714557600, Keys: keys, NewImage: newImage,
		SequenceNumber: seq, SizeBytes: 10, StreamViewType: pgstream.NewImage}})
	if err != nil {
		t.Fatal(err)
	}
	return ms.add("public.orders"+`{"id":{"N":"`+id+`"}}`, string(data))
}

func decodeDynamoDBEvent(payload []byte) (events.DynamoDBEvent, error) {
	var ev events.DynamoDBEvent
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	err := dec.Decode(&ev)
	return ev, err
}

// TestDynamoDBRecordShape renders a change as Lambda does and checks it
// against aws-lambda-go's type (strictly) and the key set of its sample
// DynamoDB event.
func TestDynamoDBRecordShape(t *testing.T) {
	src := pgTestSource(t)
	ms := newMemStream()
	addChange(t, ms, pgstream.EventInsert, "1", pgstream.Image{"id": {Type: "N", Str: "1"}, "name": {Type: "S", Str: "ann"}})
	lane := kinesisSource{ShardID: shardID(0), StreamARN: src.ARN(streamTestID), Region: streamTestID.Region}
	rec, err := dynamodbShape{}.record(ms.records[0], lane)
	if err != nil {
		t.Fatal(err)
	}
	event := kinesisEvent([]json.RawMessage{rec})
	ev, err := decodeDynamoDBEvent(event)
	if err != nil {
		t.Fatalf("not an aws-lambda-go DynamoDBEvent: %v\n%s", err, event)
	}
	r := ev.Records[0]
	if r.EventName != "INSERT" || r.EventSource != "aws:dynamodb" || r.EventVersion != "1.1" || r.AWSRegion != streamTestID.Region ||
		r.EventSourceArn != src.ARN(streamTestID) || r.Change.NewImage["name"].String() != "ann" || r.Change.Keys["id"].Number() != "1" ||
		r.Change.SequenceNumber != ms.records[0].Seq || r.Change.ApproximateCreationDateTime.Unix() != 1714557600 {
		t.Errorf("record %+v", r)
	}
	again, _ := dynamodbShape{}.record(ms.records[0], lane)
	if len(r.EventID) != 32 || !bytes.Equal(again, rec) {
		t.Errorf("eventID %q: want 32 hex digits, the same every time", r.EventID)
	}

	sample, err := os.ReadFile(filepath.Join(streamAWSLambdaGoDir(t), "events", "testdata", "dynamodb-event.json"))
	if err != nil {
		t.Fatal(err)
	}
	recordKeys := func(doc []byte) []string {
		var out []string
		for _, k := range streamJSONKeys(t, doc) {
			rest, ok := strings.CutPrefix(k, ".Records[].")
			// The record's own keys and its "dynamodb" object's; not the
			// attribute values, nor userIdentity (TTL deletions only).
			if ok && strings.Count(rest, ".") <= 1 && (!strings.Contains(rest, ".") || strings.HasPrefix(rest, "dynamodb.")) &&
				!strings.HasPrefix(rest, "userIdentity") {
				out = append(out, rest)
			}
		}
		return out
	}
	if diff := cmp.Diff(recordKeys(sample), recordKeys(event)); diff != "" {
		t.Errorf("record keys differ from aws-lambda-go's sample (-sample +gust):\n%s", diff)
	}
}

// TestPostgresSource checks a PostgreSQL source's defaults, refusals and
// DynamoDB stream ARN, which names the source back.
func TestPostgresSource(t *testing.T) {
	src := pgTestSource(t)
	want := Source{Name: "orders", Broker: BrokerPostgres, URL: src.URL, Semantics: SemanticsStream, Shards: 1,
		Tables: []string{"public.orders"}, StreamViewType: "NEW_AND_OLD_IMAGES", Slot: "gust_orders", Publication: "gust_orders", Created: src.Created}
	if diff := cmp.Diff(want, *src); diff != "" {
		t.Errorf("validated source (-want +got):\n%s", diff)
	}
	arn := src.ARN(streamTestID)
	if arn != "arn:aws:dynamodb:eu-west-1:123456789012:table/orders/stream/2024-05-01T10:00:00.123" {
		t.Errorf("ARN %s", arn)
	}
	if name, ok := sourceNameFromARN(streamTestID, arn); !ok || name != "orders" {
		t.Errorf("sourceNameFromARN(%s) = %q, %v", arn, name, ok)
	}
	for _, bad := range []string{"arn:aws:dynamodb:eu-west-1:123456789012:table/orders", "arn:aws:dynamodb:eu-west-1:123456789012:table/orders/stream/yesterday"} {
		if _, ok := sourceNameFromARN(streamTestID, bad); ok {
			t.Errorf("sourceNameFromARN(%s) accepted it", bad)
		}
	}
	other := Source{Name: "My-Orders", Broker: BrokerPostgres, URL: "postgresql://h/db?password=s3cret", Tables: []string{"orders", "audit.log", "orders"}, StreamViewType: "KEYS_ONLY"}
	if err := other.validate(); err != nil {
		t.Fatal(err)
	}
	if other.Slot != "gust_my_orders" || !slices.Equal(other.Tables, []string{"public.orders", "audit.log"}) {
		t.Errorf("defaults: slot %q, tables %q", other.Slot, other.Tables)
	}
	if r := other.Redacted().URL; strings.Contains(r, "s3cret") {
		t.Errorf("Redacted URL %s shows the password", r)
	}
	for _, tc := range []struct {
		change func(s *Source)
		want   string
	}{
		{func(s *Source) { s.Shards = 2 }, "exactly one shard"},
		{func(s *Source) { s.Semantics = SemanticsQueue }, "stream semantics"},
		{func(s *Source) { s.Tables = nil }, "at least one table"},
		{func(s *Source) { s.Tables = []string{`public."Odd"`} }, "Invalid table"},
		{func(s *Source) { s.StreamViewType = "ALL" }, "Invalid StreamViewType"},
		{func(s *Source) { s.Slot = "Bad-Slot" }, "Invalid slot"},
		{func(s *Source) { s.URL = "redis://h" }, "scheme postgres or postgresql"},
		{func(s *Source) { s.Stream = "x" }, "not a queue, stream"},
		{func(s *Source) { s.Broker, s.URL = BrokerRedis, "redis://h" }, "Only a PostgreSQL source has tables"},
	} {
		s := Source{Name: "orders", Broker: BrokerPostgres, URL: "postgres://h/db", Tables: []string{"orders"}}
		tc.change(&s)
		if err := s.validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("validate: %v, want %q", err, tc.want)
		}
	}
}

// confirmingStream is a reader that records what the engine confirms.
type confirmingStream struct {
	brokers.Stream
	mu        sync.Mutex
	confirmed []string
}

func (c *confirmingStream) Confirm(_ context.Context, seq string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.confirmed = append(c.confirmed, seq)
	return nil
}

func (c *confirmingStream) Warnings() []string {
	return []string{"table public.orders has REPLICA IDENTITY DEFAULT"}
}

func (c *confirmingStream) last() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.confirmed) == 0 {
		return ""
	}
	return c.confirmed[len(c.confirmed)-1]
}

// TestDynamoDBStreamMapping runs the stream engine on a PostgreSQL
// source: the function gets DynamoDB events filtered on the whole record,
// a record it cannot process is bisected out and reported with
// DDBStreamBatchInfo, the reader is told each checkpoint, and the reader's
// warning shows in LastProcessingResult.
func TestDynamoDBStreamMapping(t *testing.T) {
	src := pgTestSource(t)
	ms := newMemStream()
	var mu sync.Mutex
	var got []events.DynamoDBEventRecord
	fn := streamInvoker(func(_ context.Context, req invoke.Request) (*invoke.Response, error) {
		ev, err := decodeDynamoDBEvent(req.Payload)
		if err != nil {
			t.Errorf("not an aws-lambda-go DynamoDBEvent: %v", err)
			return nil, err
		}
		for _, r := range ev.Records {
			if r.Change.NewImage["name"].String() == "poison" {
				return streamFunctionError(0), nil
			}
		}
		mu.Lock()
		got = append(got, ev.Records...)
		mu.Unlock()
		return &invoke.Response{StatusCode: 200, RequestID: "ok", ExecutedVersion: lambda.LatestVersion}, nil
	})
	failures := &streamFailures{}
	s := newStreamService(t, fn, failures)
	m := streamTestMapping(src, func(m *lambda.EventSourceMapping) {
		m.BatchSize = new(int)
		*m.BatchSize = 10
		m.BisectBatchOnFunctionError = new(bool)
		*m.BisectBatchOnFunctionError = true
		m.MaximumRetryAttempts = new(int) // 0: give up after the first failure
		m.DestinationConfig = &lambda.ESMDestination{OnFailure: &lambda.OnFailure{Destination: "arn:aws:sqs:eu-west-1:123456789012:failed"}}
		m.FilterCriteria = &lambda.FilterCriteria{Filters: []lambda.Filter{{Pattern: `{"eventName":["INSERT","MODIFY"]}`}}}
	})
	for i, name := range []string{"a", "b", "poison", "c"} {
		addChange(t, ms, pgstream.EventInsert, string(rune('1'+i)), pgstream.Image{"name": {Type: "S", Str: name}})
	}
	addChange(t, ms, pgstream.EventRemove, "1", nil) // filtered out
	last := ms.last()
	reader := &confirmingStream{}
	open := func(ctx context.Context, start brokers.StartAt) (brokers.Stream, error) {
		r, err := ms.open(ctx, start)
		reader.Stream = r
		return reader, err
	}
	if _, err := s.updateMapping(context.Background(), m.UUID, func(*mappingRecord) (*mappingRecord, error) {
		return &mappingRecord{Mapping: *m, Enabled: true}, nil // so that status writes land
	}); err != nil {
		t.Fatalf("store mapping: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.runStream(ctx, m, src, open, &status{s: s, uuid: m.UUID}) }()
	t.Cleanup(func() { cancel(); <-done })

	streamEventually(t, "the last record confirmed", func() bool { return reader.last() == last })
	mu.Lock()
	var names []string
	for _, r := range got {
		names = append(names, r.Change.NewImage["name"].String())
	}
	mu.Unlock()
	if !slices.Equal(names, []string{"a", "b", "c"}) {
		t.Errorf("delivered %q, want a, b, c (poison given up on, the REMOVE filtered out)", names)
	}
	f := failures.got()
	if len(f) != 1 {
		t.Fatalf("%d on-failure records, want 1", len(f))
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(f[0].Body, &body); err != nil {
		t.Fatal(err)
	}
	var info struct {
		BatchSize  int    `json:"batchSize"`
		StreamArn  string `json:"streamArn"`
		StartSeq   string `json:"startSequenceNumber"`
		ShardID    string `json:"shardId"`
		ArrivalEnd string `json:"approximateArrivalOfLastRecord"`
	}
	if _, kinesis := body["KinesisBatchInfo"]; kinesis || json.Unmarshal(body["DDBStreamBatchInfo"], &info) != nil {
		t.Fatalf("on-failure record %s: want DDBStreamBatchInfo", f[0].Body)
	}
	if info.BatchSize != 1 || info.StreamArn != src.ARN(streamTestID) || info.StartSeq != ms.records[2].Seq || info.ShardID != shardID(0) {
		t.Errorf("DDBStreamBatchInfo %+v, want the poison record of %s", info, src.ARN(streamTestID))
	}
	streamEventually(t, "the warning in LastProcessingResult", func() bool {
		rec, err := s.getMapping(context.Background(), m.UUID)
		return err == nil && rec != nil && rec.Mapping.LastProcessingResult == resultOK+" (WARNING: table public.orders has REPLICA IDENTITY DEFAULT)"
	})
}
