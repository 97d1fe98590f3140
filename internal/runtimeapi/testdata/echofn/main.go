// Command echofn is a Lambda function built with aws-lambda-go, used by the
// runtimeapi tests as a real runtime. Its event selects a behaviour:
//
//	{"fail":"msg"}    returns errors.New(msg)
//	{"stream":"msg"}  returns a reader that fails with msg after some bytes
//	anything else     returns {"requestId","functionArn","deadlineMs","event"}
package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type event struct {
	Fail   string `json:"fail"`
	Stream string `json:"stream"`
}

type reply struct {
	RequestID   string          `json:"requestId"`
	FunctionArn string          `json:"functionArn"`
	DeadlineMs  int64           `json:"deadlineMs"`
	Event       json.RawMessage `json:"event"`
}

type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var ev event
	_ = json.Unmarshal(raw, &ev)
	if ev.Fail != "" {
		return nil, errors.New(ev.Fail)
	}
	if ev.Stream != "" {
		return io.Reader(&failingReader{r: strings.NewReader("partial output"), err: errors.New(ev.Stream)}), nil
	}
	lc, _ := lambdacontext.FromContext(ctx)
	dl, _ := ctx.Deadline()
	return reply{RequestID: lc.AwsRequestID, FunctionArn: lc.InvokedFunctionArn, DeadlineMs: dl.UnixMilli(), Event: raw}, nil
}

func main() { lambda.Start(handle) }
