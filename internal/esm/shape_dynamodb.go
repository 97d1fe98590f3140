package esm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"gust/internal/brokers"
	"gust/internal/brokers/pgstream"
)

// A stream mapping's records take the shape of their source: Kinesis
// records for broker streams, DynamoDB stream records for database change
// streams (PostgreSQL sources). The engine (stream.go) is the same; the
// shape decides the record, what filters see and the on-failure record.

// streamShape renders a stream mapping's records.
type streamShape interface {
	// record renders r as one entry of the event's Records.
	record(r brokers.Record, src kinesisSource) (json.RawMessage, error)
	// keep applies the mapping's filters to r, rendered as ev.
	keep(f *filters, r brokers.Record, ev json.RawMessage) (bool, error)
	// failureRecord renders the on-failure record of records given up on.
	failureRecord(f kinesisFailure, now time.Time) ([]byte, error)
}

// shapeFor is the shape of a source's records.
func shapeFor(src *Source) streamShape {
	if src.Broker == BrokerPostgres {
		return dynamodbShape{}
	}
	return kinesisShape{}
}

// kinesisShape is the aws:kinesis shape (shape_kinesis.go).
type kinesisShape struct{}

func (kinesisShape) record(r brokers.Record, src kinesisSource) (json.RawMessage, error) {
	return shapeKinesisRecord(r, src)
}

// keep matches the record's "kinesis" object, its data decoded.
func (kinesisShape) keep(f *filters, r brokers.Record, _ json.RawMessage) (bool, error) {
	if f == nil {
		return true, nil
	}
	doc, err := kinesisFilterDoc(r)
	if err != nil {
		return false, err
	}
	return f.matchPayload(doc, "data", r.Data), nil
}

func (kinesisShape) failureRecord(f kinesisFailure, now time.Time) ([]byte, error) {
	return kinesisFailureRecord(f, now)
}

// dynamodbShape is the aws:dynamodb shape of DynamoDB Streams.
type dynamodbShape struct{}

// dynamodbRecord is one entry of a DynamoDB stream event's Records, with
// Lambda's field names and order. Dynamodb is the record's "dynamodb"
// object as the adapter rendered it (pgstream.StreamRecord).
type dynamodbRecord struct {
	EventID        string          `json:"eventID"`
	EventName      string          `json:"eventName"`
	EventVersion   string          `json:"eventVersion"`
	EventSource    string          `json:"eventSource"`
	AwsRegion      string          `json:"awsRegion"`
	Dynamodb       json.RawMessage `json:"dynamodb"`
	EventSourceARN string          `json:"eventSourceARN"`
}

func (dynamodbShape) record(r brokers.Record, src kinesisSource) (json.RawMessage, error) {
	var change struct {
		EventName string          `json:"eventName"`
		Dynamodb  json.RawMessage `json:"dynamodb"`
	}
	if err := json.Unmarshal(r.Data, &change); err != nil || change.EventName == "" || len(change.Dynamodb) == 0 {
		return nil, fmt.Errorf("shape dynamodb record %s: not a change record (%v)", r.Seq, err)
	}
	b, err := json.Marshal(dynamodbRecord{
		EventID:        dynamodbEventID(src.StreamARN, r.Seq),
		EventName:      change.EventName,
		EventVersion:   "1.1",
		EventSource:    "aws:dynamodb",
		AwsRegion:      src.Region,
		Dynamodb:       change.Dynamodb,
		EventSourceARN: src.StreamARN,
	})
	if err != nil {
		return nil, fmt.Errorf("shape dynamodb record %s: %w", r.Seq, err)
	}
	return b, nil
}

// dynamodbEventID is a record's eventID: 32 hex digits, as DynamoDB's,
// derived from the stream and the sequence number, so that a record read
// again (after a restart) has the same one.
func dynamodbEventID(streamARN, seq string) string {
	sum := sha256.Sum256([]byte(streamARN + "\n" + seq))
	return hex.EncodeToString(sum[:16])
}

// keep matches the whole record, as Lambda's DynamoDB filters do
// ({"eventName":["INSERT"],"dynamodb":{"NewImage":{…}}}).
func (dynamodbShape) keep(f *filters, _ brokers.Record, ev json.RawMessage) (bool, error) {
	return f.match(ev), nil
}

// failureRecord is the Kinesis on-failure record with its batch info
// under "DDBStreamBatchInfo", as Lambda writes it for DynamoDB streams
// (the same fields).
func (dynamodbShape) failureRecord(f kinesisFailure, now time.Time) ([]byte, error) {
	b, err := kinesisFailureRecord(f, now)
	if err != nil {
		return nil, err
	}
	var k struct {
		RequestContext   json.RawMessage `json:"requestContext"`
		ResponseContext  json.RawMessage `json:"responseContext"`
		Version          string          `json:"version"`
		Timestamp        string          `json:"timestamp"`
		KinesisBatchInfo json.RawMessage `json:"KinesisBatchInfo"`
	}
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, fmt.Errorf("on-failure record: %w", err)
	}
	b, err = json.Marshal(struct {
		RequestContext     json.RawMessage `json:"requestContext"`
		ResponseContext    json.RawMessage `json:"responseContext"`
		Version            string          `json:"version"`
		Timestamp          string          `json:"timestamp"`
		DDBStreamBatchInfo json.RawMessage `json:"DDBStreamBatchInfo"`
	}{k.RequestContext, k.ResponseContext, k.Version, k.Timestamp, k.KinesisBatchInfo})
	if err != nil {
		return nil, fmt.Errorf("on-failure record: %w", err)
	}
	return b, nil
}

// giveUp sends records given up on to the failure path: the mapping's
// destination gets the on-failure record of the source's shape, and the
// lane moves past them.
func (l *lane) giveUp(ctx context.Context, recs []streamPending, condition string, invokes int, resp *kinesisResponse, requestID string) error {
	if _, ok := l.cfg.shape.(kinesisShape); ok {
		return l.fail(ctx, recs, condition, invokes, resp, requestID)
	}
	last := recs[len(recs)-1].rec.Seq
	attrs := []any{"condition", condition, "first", recs[0].rec.Seq, "last", last, "records", len(recs)}
	if l.cfg.destination == "" || l.s.opts.Failures == nil {
		l.log.Warn("skipping stream records: no on-failure destination on this node", attrs...)
		return l.checkpoint(ctx, last)
	}
	records := make([]brokers.Record, len(recs))
	for i, r := range recs {
		records[i] = r.rec
	}
	body, err := l.cfg.shape.failureRecord(kinesisFailure{RequestID: requestID, FunctionARN: l.cfg.m.FunctionArn,
		Condition: condition, Invokes: invokes, Response: resp, Records: records, Source: l.source}, time.Now())
	if err != nil {
		return err
	}
	if err := l.sendFailure(ctx, body, requestID, attrs); err != nil {
		return err
	}
	return l.checkpoint(ctx, last)
}

// streamNotes is a reader that says what it cannot give as asked
// (pgstream: tables without REPLICA IDENTITY FULL).
type streamNotes interface{ Warnings() []string }

var _ streamNotes = (*pgstream.Stream)(nil)

// result reports a batch's outcome as the mapping's LastProcessingResult,
// followed by the reader's warnings while it has any, so that a user
// sees them with get-event-source-mapping: "OK (WARNING: …)".
func (l *lane) result(r string) {
	if len(l.notes) > 0 {
		r += " (WARNING: " + strings.Join(l.notes, "; ") + ")"
	}
	l.st.result(r)
}
