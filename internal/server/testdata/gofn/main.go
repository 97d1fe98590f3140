// Command gofn is the Go test function of the server's invoke suite, built
// with aws-lambda-go and run as a provided.* bootstrap. The event's
// "action" picks what it does: "" echoes the event with what the function
// sees of its context and environment; "error" returns an error; "panic"
// panics; "sleep" sleeps "ms" milliseconds first; "print" writes "text" to
// stdout first.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type request struct {
	Action string `json:"action"`
	Ms     int    `json:"ms"`
	Text   string `json:"text"`
}

// Reply is what a successful invocation returns.
type Reply struct {
	Event              json.RawMessage   `json:"event"`
	RequestID          string            `json:"requestId"`
	InvokedFunctionArn string            `json:"invokedFunctionArn"`
	FunctionName       string            `json:"functionName"`
	FunctionVersion    string            `json:"functionVersion"`
	MemoryLimitInMB    int               `json:"memoryLimitInMB"`
	LogGroupName       string            `json:"logGroupName"`
	LogStreamName      string            `json:"logStreamName"`
	DeadlineMs         int64             `json:"deadlineMs"`
	NowMs              int64             `json:"nowMs"`
	Pid                int               `json:"pid"`
	Cwd                string            `json:"cwd"`
	Env                map[string]string `json:"env"`
}

var envKeys = []string{
	"AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
	"AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_LAMBDA_RUNTIME_API",
	"AWS_REGION", "AWS_DEFAULT_REGION", "LAMBDA_TASK_ROOT", "_HANDLER", "TZ", "MY_SETTING",
}

func handle(ctx context.Context, event json.RawMessage) (*Reply, error) {
	var req request
	_ = json.Unmarshal(event, &req)
	switch req.Action {
	case "error":
		return nil, errors.New("requested failure")
	case "panic":
		panic("requested panic")
	case "sleep":
		time.Sleep(time.Duration(req.Ms) * time.Millisecond)
	case "print":
		fmt.Println(req.Text)
	}
	lc, _ := lambdacontext.FromContext(ctx)
	r := &Reply{
		Event:           event,
		FunctionName:    lambdacontext.FunctionName,
		FunctionVersion: lambdacontext.FunctionVersion,
		MemoryLimitInMB: lambdacontext.MemoryLimitInMB,
		LogGroupName:    lambdacontext.LogGroupName,
		LogStreamName:   lambdacontext.LogStreamName,
		NowMs:           time.Now().UnixMilli(),
		Pid:             os.Getpid(),
		Env:             map[string]string{},
	}
	if lc != nil {
		r.RequestID, r.InvokedFunctionArn = lc.AwsRequestID, lc.InvokedFunctionArn
	}
	if d, ok := ctx.Deadline(); ok {
		r.DeadlineMs = d.UnixMilli()
	}
	r.Cwd, _ = os.Getwd()
	for _, k := range envKeys {
		if v, ok := os.LookupEnv(k); ok {
			r.Env[k] = v
		}
	}
	if v, ok := os.LookupEnv("AWS_EXECUTION_ENV"); ok {
		r.Env["AWS_EXECUTION_ENV"] = v
	}
	return r, nil
}

func main() {
	lambda.Start(handle)
}
