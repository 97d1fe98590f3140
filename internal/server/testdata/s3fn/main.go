// Command s3fn is the Go function of the object-store event tests:
// built with aws-lambda-go and run as a provided.* bootstrap, it decodes
// its event strictly into aws-lambda-go's events.S3Event (an unknown field
// is reported, not retried) and POSTs to the collector at COLLECT_URL the
// event as received and what aws-lambda-go made of it.
package main

import (
	"bytes"
	"context"
	"encoding/json"
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
	RequestID string          `json:"requestId"`
	Event     json.RawMessage `json:"event"`           // as received
	Error     string          `json:"error,omitempty"` // strict decoding failed
	Records   []Record        `json:"records"`
}

// Record is one record as aws-lambda-go decoded it.
type Record struct {
	EventName       string `json:"eventName"`
	EventVersion    string `json:"eventVersion"`
	Key             string `json:"key"`
	URLDecodedKey   string `json:"urlDecodedKey"`
	Bucket          string `json:"bucket"`
	BucketARN       string `json:"bucketArn"`
	ConfigurationID string `json:"configurationId"`
	Size            int64  `json:"size"`
	ETag            string `json:"eTag"`
	Sequencer       string `json:"sequencer"`
}

var client = &http.Client{Timeout: 10 * time.Second}

func handle(ctx context.Context, raw json.RawMessage) error {
	lc, _ := lambdacontext.FromContext(ctx)
	rep := Report{RequestID: lc.AwsRequestID, Event: raw}
	var ev events.S3Event
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		rep.Error = "not an aws-lambda-go S3Event: " + err.Error()
	}
	for _, r := range ev.Records {
		o := r.S3.Object
		rep.Records = append(rep.Records, Record{EventName: r.EventName, EventVersion: r.EventVersion, Key: o.Key,
			URLDecodedKey: o.URLDecodedKey, Bucket: r.S3.Bucket.Name, BucketARN: r.S3.Bucket.Arn,
			ConfigurationID: r.S3.ConfigurationID, Size: o.Size, ETag: o.ETag, Sequencer: o.Sequencer})
	}
	return report(ctx, rep)
}

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
