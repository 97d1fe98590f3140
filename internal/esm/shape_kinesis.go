package esm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"

	"gust/internal/brokers"
	"gust/internal/invoke"
	"gust/internal/lambda"
)

// kinesisSource is what every record of one lane's events shares.
type kinesisSource struct {
	ShardID     string
	StreamARN   string
	Region      string
	IdentityARN string // the function's execution role
}

// kinesisRecord is one entry of a Kinesis event's Records, with Lambda's
// field names and order.
type kinesisRecord struct {
	Kinesis           kinesisData `json:"kinesis"`
	EventSource       string      `json:"eventSource"`
	EventVersion      string      `json:"eventVersion"`
	EventID           string      `json:"eventID"`
	EventName         string      `json:"eventName"`
	InvokeIdentityArn string      `json:"invokeIdentityArn"`
	AwsRegion         string      `json:"awsRegion"`
	EventSourceARN    string      `json:"eventSourceARN"`
}

// kinesisData is the "kinesis" object of a record. Data is base64 in the
// event (encoding/json renders []byte so).
type kinesisData struct {
	KinesisSchemaVersion        string              `json:"kinesisSchemaVersion"`
	PartitionKey                string              `json:"partitionKey"`
	SequenceNumber              string              `json:"sequenceNumber"`
	Data                        []byte              `json:"data"`
	ApproximateArrivalTimestamp lambda.EpochSeconds `json:"approximateArrivalTimestamp"`
}

// shapeKinesisRecord renders one record as it appears in a Kinesis event.
func shapeKinesisRecord(r brokers.Record, src kinesisSource) (json.RawMessage, error) {
	if r.Data == nil {
		r.Data = []byte{} // "data":"", never null
	}
	b, err := json.Marshal(kinesisRecord{
		Kinesis: kinesisData{
			KinesisSchemaVersion:        "1.0",
			PartitionKey:                r.PartitionKey,
			SequenceNumber:              r.Seq,
			Data:                        r.Data,
			ApproximateArrivalTimestamp: lambda.EpochSeconds{Time: r.Arrival},
		},
		EventSource:       "aws:kinesis",
		EventVersion:      "1.0",
		EventID:           src.ShardID + ":" + r.Seq,
		EventName:         "aws:kinesis:record",
		InvokeIdentityArn: src.IdentityARN,
		AwsRegion:         src.Region,
		EventSourceARN:    src.StreamARN,
	})
	if err != nil {
		return nil, fmt.Errorf("shape kinesis record %s: %w", r.Seq, err)
	}
	return b, nil
}

// kinesisEventOverhead is the size of an event around its records.
const kinesisEventOverhead = len(`{"Records":[]}`)

// kinesisEvent joins shaped records into one event.
func kinesisEvent(records []json.RawMessage) []byte {
	size := kinesisEventOverhead + len(records)
	for _, r := range records {
		size += len(r)
	}
	var b bytes.Buffer
	b.Grow(size)
	b.WriteString(`{"Records":[`)
	for i, r := range records {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(r)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// kinesisFilterDoc is the document a mapping's filters see for one
// record: the record's "kinesis" object, whose "data" the filters match
// decoded (filters.matchPayload), as Lambda's Kinesis filters do.
func kinesisFilterDoc(r brokers.Record) ([]byte, error) {
	b, err := json.Marshal(kinesisData{
		KinesisSchemaVersion:        "1.0",
		PartitionKey:                r.PartitionKey,
		SequenceNumber:              r.Seq,
		ApproximateArrivalTimestamp: lambda.EpochSeconds{Time: r.Arrival},
	})
	if err != nil {
		return nil, fmt.Errorf("filter document of %s: %w", r.Seq, err)
	}
	return b, nil
}

// Conditions of an on-failure record.
const (
	kinesisRetriesExhausted  = "RetryAttemptsExhausted"
	kinesisRecordAgeExceeded = "RecordAgeExceeded"
)

// kinesisFailure describes records a lane gives up on.
type kinesisFailure struct {
	RequestID   string
	FunctionARN string
	Condition   string
	Invokes     int
	Response    *kinesisResponse // the last invocation's answer; nil if none
	Records     []brokers.Record
	Source      kinesisSource
}

// kinesisResponse is what an on-failure record says about the last
// invocation.
type kinesisResponse struct {
	StatusCode      int
	ExecutedVersion string
	FunctionError   string
}

// kinesisTimeLayout is the timestamp layout of on-failure records.
const kinesisTimeLayout = "2006-01-02T15:04:05.000Z"

// kinesisFailureRecord renders Lambda's on-failure record of a Kinesis
// mapping: which invocation failed, how, and the range of records skipped.
func kinesisFailureRecord(f kinesisFailure, now time.Time) ([]byte, error) {
	type requestContext struct {
		RequestID              string `json:"requestId"`
		FunctionArn            string `json:"functionArn"`
		Condition              string `json:"condition"`
		ApproximateInvokeCount int    `json:"approximateInvokeCount"`
	}
	type responseContext struct {
		StatusCode      int    `json:"statusCode"`
		ExecutedVersion string `json:"executedVersion"`
		FunctionError   string `json:"functionError"`
	}
	type batchInfo struct {
		ShardID                         string `json:"shardId"`
		StartSequenceNumber             string `json:"startSequenceNumber"`
		EndSequenceNumber               string `json:"endSequenceNumber"`
		ApproximateArrivalOfFirstRecord string `json:"approximateArrivalOfFirstRecord"`
		ApproximateArrivalOfLastRecord  string `json:"approximateArrivalOfLastRecord"`
		BatchSize                       int    `json:"batchSize"`
		StreamArn                       string `json:"streamArn"`
	}
	if len(f.Records) == 0 {
		return nil, fmt.Errorf("on-failure record: no records")
	}
	var resp responseContext
	if f.Response != nil {
		resp = responseContext(*f.Response)
	}
	first, last := f.Records[0], f.Records[len(f.Records)-1]
	b, err := json.Marshal(struct {
		RequestContext   requestContext  `json:"requestContext"`
		ResponseContext  responseContext `json:"responseContext"`
		Version          string          `json:"version"`
		Timestamp        string          `json:"timestamp"`
		KinesisBatchInfo batchInfo       `json:"KinesisBatchInfo"`
	}{
		RequestContext:  requestContext{f.RequestID, f.FunctionARN, f.Condition, f.Invokes},
		ResponseContext: resp,
		Version:         "1.0",
		Timestamp:       now.UTC().Format(kinesisTimeLayout),
		KinesisBatchInfo: batchInfo{
			ShardID:                         f.Source.ShardID,
			StartSequenceNumber:             first.Seq,
			EndSequenceNumber:               last.Seq,
			ApproximateArrivalOfFirstRecord: first.Arrival.UTC().Format(kinesisTimeLayout),
			ApproximateArrivalOfLastRecord:  last.Arrival.UTC().Format(kinesisTimeLayout),
			BatchSize:                       len(f.Records),
			StreamArn:                       f.Source.StreamARN,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("on-failure record: %w", err)
	}
	return b, nil
}

// The on-failure path of a lane: Lambda's on-failure record, shaped above,
// goes to the mapping's destination.

// kinesisResponseOf is what an on-failure record reports of an invocation.
func kinesisResponseOf(resp *invoke.Response) (*kinesisResponse, string) {
	if resp == nil {
		return nil, uuid.NewString()
	}
	return &kinesisResponse{StatusCode: resp.StatusCode, ExecutedVersion: resp.ExecutedVersion,
		FunctionError: resp.FunctionError}, resp.RequestID
}

// fail gives up on recs: Lambda's on-failure record goes to the mapping's
// destination, if it has one, and the lane moves past them.
func (l *lane) fail(ctx context.Context, recs []streamPending, condition string, invokes int, resp *kinesisResponse, requestID string) error {
	first, last := recs[0].rec.Seq, recs[len(recs)-1].rec.Seq
	attrs := []any{"condition", condition, "first", first, "last", last, "records", len(recs)}
	switch {
	case l.cfg.destination == "":
		l.log.Warn("skipping stream records: no on-failure destination", attrs...)
	case l.s.opts.Failures == nil:
		l.log.Warn("skipping stream records: this node has no failure queue", attrs...)
	default:
		records := make([]brokers.Record, len(recs))
		for i, r := range recs {
			records[i] = r.rec
		}
		body, err := kinesisFailureRecord(kinesisFailure{RequestID: requestID, FunctionARN: l.cfg.m.FunctionArn,
			Condition: condition, Invokes: invokes, Response: resp, Records: records, Source: l.source}, time.Now())
		if err != nil {
			return err
		}
		if err := l.sendFailure(ctx, body, requestID, attrs); err != nil {
			return err
		}
	}
	return l.checkpoint(ctx, last)
}

// sendFailure stores an on-failure record, retrying until it is stored,
// the destination refuses it for good, or ctx ends.
func (l *lane) sendFailure(ctx context.Context, body []byte, requestID string, attrs []any) error {
	for n := 1; ; n++ {
		err := l.s.opts.Failures.SendRecord(ctx, l.cfg.destination, body, requestID, l.cfg.functionName)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if refusedForGood(err) {
			l.log.Warn("on-failure destination refused the record; skipping the records", append(attrs, "err", err)...)
			return nil
		}
		l.log.Warn("store on-failure record; retrying", append(attrs, "err", err)...)
		if err := streamSleep(ctx, streamBackoff(n)); err != nil {
			return err
		}
	}
}

// refusedForGood reports a destination's error that retrying cannot fix: a
// client fault other than a throttle (such as a destination that is not a
// Gust queue).
func refusedForGood(err error) bool {
	var lerr *lambda.Error
	return errors.As(err, &lerr) && lerr.Status < http.StatusInternalServerError && lerr.Kind != lambda.KindTooManyRequests
}
