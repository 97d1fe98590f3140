// Package echo is the handler of the Go function `gust bench` deploys: an
// aws-lambda-go handler that returns its event, and on request holds the
// environment busy or reports its request id to a collector. The gust
// binary (bench.ServeFunctionIfAsked) and the small standalone bootstrap
// in internal/bench/echofn both run it. It imports nothing of Gust's, so
// the standalone bootstrap stays small and starts fast.
//
// The package starts no goroutines. Invariants: an event that asks for
// nothing is returned unchanged without being decoded further than a
// byte scan.
package echo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// HandlerName is the _HANDLER of the bench's Go function; the gust binary
// serves the function when it finds it set.
const HandlerName = "gust.bench.echo"

// Request is what an event may ask for; an event without these fields is
// echoed.
type Request struct {
	// HoldMs makes the handler sleep that long and answer with a Held.
	HoldMs *int64 `json:"hold_ms,omitempty"`
	// Collect is a URL the handler POSTs a Collected to before it echoes
	// the event.
	Collect string `json:"collect,omitempty"`
}

// Held is the answer to an event with hold_ms.
type Held struct {
	// Started is when the handler started, in Unix nanoseconds.
	Started int64 `json:"started"`
	// Env is the environment's log stream name, unique per environment.
	Env string `json:"env"`
}

// Collected is the body POSTed to a collect URL.
type Collected struct {
	RequestID string `json:"request_id"`
}

// client keeps its connection to the collector between invocations.
var client = &http.Client{Timeout: 10 * time.Second}

// Handler is the function's handler. It answers an event holding
// "hold_ms" with a Held after sleeping that long, POSTs the request id of
// an event holding "collect" to that URL and echoes the event, and echoes
// any other event at once.
func Handler(ctx context.Context, ev json.RawMessage) (json.RawMessage, error) {
	started := time.Now()
	if !bytes.Contains(ev, []byte(`"hold_ms"`)) && !bytes.Contains(ev, []byte(`"collect"`)) {
		return ev, nil
	}
	var req Request
	if err := json.Unmarshal(ev, &req); err != nil {
		return ev, nil // not an object: nothing was asked for
	}
	if req.HoldMs != nil {
		select {
		case <-time.After(time.Duration(*req.HoldMs) * time.Millisecond):
		case <-ctx.Done():
			return nil, fmt.Errorf("hold: %w", ctx.Err())
		}
		return json.Marshal(Held{Started: started.UnixNano(), Env: lambdacontext.LogStreamName})
	}
	if err := collect(ctx, req.Collect); err != nil {
		return nil, err
	}
	return ev, nil
}

// collect POSTs the invocation's request id to url.
func collect(ctx context.Context, url string) error {
	lc, ok := lambdacontext.FromContext(ctx)
	if !ok {
		return fmt.Errorf("collect: no lambda context")
	}
	body, err := json.Marshal(Collected{RequestID: lc.AwsRequestID})
	if err != nil {
		return fmt.Errorf("collect: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("collect: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("collect: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body) // so the connection is reused
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("collect: collector answered %s", resp.Status)
	}
	return nil
}
