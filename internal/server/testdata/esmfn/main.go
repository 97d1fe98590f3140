// Command esmfn is the Go function of the event source mapping tests:
// built with aws-lambda-go and run as a provided.* bootstrap, it decodes
// its batch strictly into aws-lambda-go's SQS, Kinesis, DynamoDB or Amazon
// MQ event type (an unknown field fails the invocation), POSTs what it
// received to the collector at COLLECT_URL, and answers as the records ask:
//   - an SQS message whose body starts with "fail" is reported as a batch
//     item failure;
//   - a batch holding a Kinesis record whose data is "poison" fails as a
//     whole (a function error), so bisection has to isolate it;
//   - a message or record whose body or data starts with "sleep" holds the
//     batch for SLEEP_MS milliseconds first;
//   - a DynamoDB record whose NewImage has "note": "poison" fails the batch
//     as a whole, unless POISON is "off" (a test turns it off with
//     UpdateFunctionConfiguration); one with "note": "sleep" holds the
//     batch for SLEEP_MS milliseconds after the report.
//
// A DynamoDB record is reported with its eventID as id, its
// SequenceNumber as key, its eventName as shard and the record itself, as
// JSON, as body.
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// Report is what the collector receives for one invocation.
type Report struct {
	RequestID string   `json:"requestId"`
	Source    string   `json:"source"` // aws:sqs, aws:kinesis, aws:dynamodb or aws:rmq
	Records   []Record `json:"records"`
	Failed    bool     `json:"failed"` // the invocation returned an error
}

// Record is one received message or record.
type Record struct {
	ID           string `json:"id"` // messageId or sequence number
	Key          string `json:"key,omitempty"`
	Shard        string `json:"shard,omitempty"`
	Body         string `json:"body"`
	ReceiveCount int    `json:"receiveCount,omitempty"`
}

var client = &http.Client{Timeout: 10 * time.Second}

func decodeStrict(raw json.RawMessage, v any) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	return d.Decode(v)
}

func handle(ctx context.Context, raw json.RawMessage) (any, error) {
	lc, _ := lambdacontext.FromContext(ctx)
	var probe struct {
		EventSource string `json:"eventSource"`
		Records     []struct {
			EventSource string `json:"eventSource"`
		} `json:"Records"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("event is not JSON: %w", err)
	}
	rep := Report{RequestID: lc.AwsRequestID}
	if probe.EventSource == "aws:rmq" {
		rep.Source = probe.EventSource
		var ev events.RabbitMQEvent
		if err := decodeStrict(raw, &ev); err != nil {
			return nil, fmt.Errorf("not an aws-lambda-go RabbitMQEvent: %w", err)
		}
		for _, msgs := range ev.MessagesByQueue {
			for _, m := range msgs {
				body, _ := base64Decode(m.Data)
				id := ""
				if m.BasicProperties.MessageID != nil {
					id = *m.BasicProperties.MessageID
				}
				rep.Records = append(rep.Records, Record{ID: id, Body: body})
			}
		}
		return nil, finish(ctx, rep, nil)
	}
	if len(probe.Records) == 0 {
		return nil, errors.New("event has no records")
	}
	rep.Source = probe.Records[0].EventSource
	switch rep.Source {
	case "aws:sqs":
		return handleSQS(ctx, raw, rep)
	case "aws:kinesis":
		return handleKinesis(ctx, raw, rep)
	case "aws:dynamodb":
		return handleDynamoDB(ctx, raw, rep)
	}
	return nil, fmt.Errorf("unknown event source %q", rep.Source)
}

func handleSQS(ctx context.Context, raw json.RawMessage, rep Report) (any, error) {
	var ev events.SQSEvent
	if err := decodeStrict(raw, &ev); err != nil {
		return nil, fmt.Errorf("not an aws-lambda-go SQSEvent: %w", err)
	}
	var resp events.SQSEventResponse
	for _, m := range ev.Records {
		n, _ := strconv.Atoi(m.Attributes["ApproximateReceiveCount"])
		rep.Records = append(rep.Records, Record{ID: m.MessageId, Body: m.Body, ReceiveCount: n})
		if strings.HasPrefix(m.Body, "fail") {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	return resp, finish(ctx, rep, nil)
}

func handleKinesis(ctx context.Context, raw json.RawMessage, rep Report) (any, error) {
	var ev events.KinesisEvent
	if err := decodeStrict(raw, &ev); err != nil {
		return nil, fmt.Errorf("not an aws-lambda-go KinesisEvent: %w", err)
	}
	var failure error
	for _, r := range ev.Records {
		shard, _, _ := strings.Cut(r.EventID, ":")
		data := string(r.Kinesis.Data)
		rep.Records = append(rep.Records, Record{ID: r.Kinesis.SequenceNumber, Key: r.Kinesis.PartitionKey, Shard: shard, Body: data})
		if data == "poison" {
			failure = errors.New("poison record " + r.Kinesis.SequenceNumber)
		}
	}
	return nil, finish(ctx, rep, failure)
}

func handleDynamoDB(ctx context.Context, raw json.RawMessage, rep Report) (any, error) {
	var ev events.DynamoDBEvent
	if err := decodeStrict(raw, &ev); err != nil {
		return nil, fmt.Errorf("not an aws-lambda-go DynamoDBEvent: %w", err)
	}
	var failure error
	hold := false
	for _, r := range ev.Records {
		body, err := json.Marshal(r)
		if err != nil {
			return nil, fmt.Errorf("encode record %s: %w", r.EventID, err)
		}
		rep.Records = append(rep.Records, Record{ID: r.EventID, Key: r.Change.SequenceNumber, Shard: r.EventName, Body: string(body)})
		note, ok := r.Change.NewImage["note"]
		switch {
		case !ok || note.DataType() != events.DataTypeString:
		case note.String() == "poison" && os.Getenv("POISON") != "off":
			failure = errors.New("poison record " + r.Change.SequenceNumber)
		case note.String() == "sleep":
			hold = true
		}
	}
	err := finish(ctx, rep, failure)
	if hold {
		ms, _ := strconv.Atoi(os.Getenv("SLEEP_MS"))
		time.Sleep(time.Duration(ms) * time.Millisecond)
	}
	return nil, err
}

// finish sleeps when a record asks for it, reports, and returns failure.
func finish(ctx context.Context, rep Report, failure error) error {
	for _, r := range rep.Records {
		if strings.HasPrefix(r.Body, "sleep") {
			ms, _ := strconv.Atoi(os.Getenv("SLEEP_MS"))
			time.Sleep(time.Duration(ms) * time.Millisecond)
			break
		}
	}
	rep.Failed = failure != nil
	body, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, os.Getenv("COLLECT_URL"), bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("collector answered %s", resp.Status)
	}
	return failure
}

func main() { lambda.Start(handle) }

func base64Decode(s string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	return string(b), err
}
