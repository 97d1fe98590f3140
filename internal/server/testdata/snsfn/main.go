// Command snsfn is the Go function of the pub/sub tests: built with
// aws-lambda-go and run as a provided.* bootstrap, it decodes its event
// strictly into aws-lambda-go's events.SNSEvent (an unknown field fails
// the invocation), POSTs what it received — the decoded records and the
// raw event — to the collector at COLLECT_URL, and then fails when FAIL
// is set (after reporting, so every attempt is seen).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// Report is what the collector receives for one invocation.
type Report struct {
	Function  string          `json:"function"`
	RequestID string          `json:"requestId"`
	Records   []Record        `json:"records"`
	Raw       json.RawMessage `json:"raw"`
	Failed    bool            `json:"failed"`
}

// Record is one SNS record as the function saw it.
type Record struct {
	SubscriptionArn string            `json:"subscriptionArn"`
	MessageID       string            `json:"messageId"`
	TopicArn        string            `json:"topicArn"`
	Subject         string            `json:"subject"`
	Message         string            `json:"message"`
	Timestamp       time.Time         `json:"timestamp"`
	Attributes      map[string]string `json:"attributes"` // name → "Type:Value"
}

var client = &http.Client{Timeout: 10 * time.Second}

func handle(ctx context.Context, raw json.RawMessage) error {
	lc, _ := lambdacontext.FromContext(ctx)
	var ev events.SNSEvent
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		return fmt.Errorf("not an aws-lambda-go SNSEvent: %w", err)
	}
	rep := Report{Function: lambdacontext.FunctionName, RequestID: lc.AwsRequestID, Raw: raw, Failed: os.Getenv("FAIL") != ""}
	for _, r := range ev.Records {
		rec := Record{SubscriptionArn: r.EventSubscriptionArn, MessageID: r.SNS.MessageID, TopicArn: r.SNS.TopicArn,
			Subject: r.SNS.Subject, Message: r.SNS.Message, Timestamp: r.SNS.Timestamp, Attributes: map[string]string{}}
		for name, v := range r.SNS.MessageAttributes {
			attr, _ := v.(map[string]any)
			rec.Attributes[name] = fmt.Sprintf("%v:%v", attr["Type"], attr["Value"])
		}
		rep.Records = append(rep.Records, rec)
	}
	if err := report(ctx, rep); err != nil {
		return err
	}
	if rep.Failed {
		return errors.New("asked to fail")
	}
	return nil
}

// report POSTs rep to the collector.
func report(ctx context.Context, rep Report) error {
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
	return nil
}

func main() { lambda.Start(handle) }
