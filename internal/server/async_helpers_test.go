package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"gust/internal/asyncq"
	"gust/internal/config"
	"gust/internal/gusttest"
)

// delivery is one call a function made to the collector.
type delivery struct {
	RequestID string          `json:"requestId"`
	Function  string          `json:"function"`
	Event     json.RawMessage `json:"event"`
	At        time.Time       `json:"-"`
}

// collector is an HTTP server on loopback that test functions report
// each delivery to, so a test sees what really ran.
type collector struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []delivery
}

func newCollector(t *testing.T) *collector {
	c := &collector{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var d delivery
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &d); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		d.At = time.Now()
		c.mu.Lock()
		c.got = append(c.got, d)
		c.mu.Unlock()
	}))
	t.Cleanup(c.srv.Close)
	return c
}

// of returns the deliveries of one function, in arrival order.
func (c *collector) of(function string) []delivery {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []delivery
	for _, d := range c.got {
		if d.Function == function {
			out = append(out, d)
		}
	}
	return out
}

// waitFor waits until function has n deliveries and returns them.
func (c *collector) waitFor(t *testing.T, function string, n int, timeout time.Duration) []delivery {
	t.Helper()
	gusttest.WaitFor(t, timeout, "deliveries to "+function, func() bool { return len(c.of(function)) >= n })
	return c.of(function)
}

// asyncServer starts a server whose async retries and backoff are
// shortened so tests run in seconds.
func asyncServer(t *testing.T, opts ...func(*config.Server)) *gusttest.Server {
	return gusttest.StartServer(t, append([]func(*config.Server){func(c *config.Server) {
		c.AsyncRetryBase = 300 * time.Millisecond
		c.AsyncThrottleBase = 100 * time.Millisecond
	}}, opts...)...)
}

// createAsyncFunction creates testdata/asyncfn as name, reporting to col.
func createAsyncFunction(t *testing.T, c *lambda.Client, col *collector, name string, edit ...func(*lambda.CreateFunctionInput)) *lambda.CreateFunctionOutput {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", "asyncfn", "app.py"))
	if err != nil {
		t.Fatal(err)
	}
	return createFunction(t, c, name, types.RuntimePython312, "app.handler",
		gusttest.Zip(t, map[string]string{"app.py": string(src)}),
		append([]func(*lambda.CreateFunctionInput){func(in *lambda.CreateFunctionInput) {
			in.Environment = &types.Environment{Variables: map[string]string{"COLLECT_URL": col.srv.URL}}
		}}, edit...)...)
}

// invokeEvent queues an Event invocation and returns its request id.
func invokeEvent(t *testing.T, c *lambda.Client, name, payload string) string {
	t.Helper()
	out, err := c.Invoke(context.Background(), &lambda.InvokeInput{
		FunctionName:   aws.String(name),
		InvocationType: types.InvocationTypeEvent,
		Payload:        []byte(payload),
	})
	if err != nil {
		t.Fatalf("async invoke %s: %v", name, err)
	}
	if out.StatusCode != http.StatusAccepted {
		t.Fatalf("async invoke %s: status %d, want 202", name, out.StatusCode)
	}
	id, ok := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	if !ok || id == "" {
		t.Fatalf("async invoke %s: no request id", name)
	}
	return id
}

// putEventInvokeConfig sets retries and destinations of name's $LATEST.
func putEventInvokeConfig(t *testing.T, c *lambda.Client, name string, retries int32, onSuccess, onFailure string) {
	t.Helper()
	in := &lambda.PutFunctionEventInvokeConfigInput{
		FunctionName:         aws.String(name),
		MaximumRetryAttempts: aws.Int32(retries),
	}
	if onSuccess != "" || onFailure != "" {
		in.DestinationConfig = &types.DestinationConfig{}
		if onSuccess != "" {
			in.DestinationConfig.OnSuccess = &types.OnSuccess{Destination: aws.String(onSuccess)}
		}
		if onFailure != "" {
			in.DestinationConfig.OnFailure = &types.OnFailure{Destination: aws.String(onFailure)}
		}
	}
	if _, err := c.PutFunctionEventInvokeConfig(context.Background(), in); err != nil {
		t.Fatalf("put event invoke config of %s: %v", name, err)
	}
}

// deadLetters waits until queue holds n messages and returns them.
func deadLetters(t *testing.T, srv *gusttest.Server, queue string, n int, timeout time.Duration) []asyncq.DeadLetter {
	t.Helper()
	var msgs []asyncq.DeadLetter
	gusttest.WaitFor(t, timeout, "dead letters in "+queue, func() bool {
		var err error
		msgs, err = srv.Async().DeadLetters(context.Background(), queue, 1000)
		if err != nil {
			t.Fatalf("read %s: %v", queue, err)
		}
		return len(msgs) >= n
	})
	return msgs
}

func queueARN(name string) string { return "arn:aws:sqs:us-east-1:000000000000:" + name }

func functionARN(name string) string {
	return "arn:aws:lambda:us-east-1:000000000000:function:" + name
}

// destinationRecord is Lambda's destination record, decoded for checks.
type destinationRecord struct {
	Version        string `json:"version"`
	Timestamp      string `json:"timestamp"`
	RequestContext struct {
		RequestID              string `json:"requestId"`
		FunctionArn            string `json:"functionArn"`
		Condition              string `json:"condition"`
		ApproximateInvokeCount int    `json:"approximateInvokeCount"`
	} `json:"requestContext"`
	RequestPayload  json.RawMessage `json:"requestPayload"`
	ResponseContext *struct {
		StatusCode      int    `json:"statusCode"`
		ExecutedVersion string `json:"executedVersion"`
		FunctionError   string `json:"functionError"`
	} `json:"responseContext"`
	ResponsePayload json.RawMessage `json:"responsePayload"`
}
