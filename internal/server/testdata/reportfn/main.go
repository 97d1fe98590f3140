// Command reportfn is the Go function of the async benchmarks: built with
// aws-lambda-go and run as a provided.* bootstrap, it POSTs its request id
// and function name to the collector at COLLECT_URL and returns, so a
// benchmark learns when each event ran.
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

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// report is what the collector receives.
type report struct {
	RequestID string `json:"requestId"`
	Function  string `json:"function"`
}

// client keeps its connection to the collector between invocations.
var client = &http.Client{Timeout: 10 * time.Second}

func handle(ctx context.Context) error {
	lc, ok := lambdacontext.FromContext(ctx)
	if !ok {
		return fmt.Errorf("no lambda context")
	}
	body, err := json.Marshal(report{RequestID: lc.AwsRequestID, Function: lambdacontext.FunctionName})
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, os.Getenv("COLLECT_URL"), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	defer resp.Body.Close()
	// Drain the body so the connection is reused.
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("report: collector answered %s", resp.Status)
	}
	return nil
}

func main() {
	lambda.Start(handle)
}
