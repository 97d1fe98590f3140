// Command loopfn is a function that invokes itself asynchronously with the
// event it got, for the recursive-loop test. It reports each delivery to
// COLLECT_URL and calls Gust at GUST_TEST_ENDPOINT with the key pair in
// GUST_TEST_KEY / GUST_TEST_SECRET. aws-sdk-go-v2 forwards the trace
// header (_X_AMZN_TRACE_ID, set by aws-lambda-go for each invocation) on
// the call, which is how the loop is recognized.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

func handler(ctx context.Context, event json.RawMessage) (string, error) {
	lc, _ := lambdacontext.FromContext(ctx)
	report, _ := json.Marshal(map[string]any{"requestId": lc.AwsRequestID, "function": lambdacontext.FunctionName, "event": event})
	resp, err := http.Post(os.Getenv("COLLECT_URL"), "application/json", bytes.NewReader(report))
	if err != nil {
		return "", fmt.Errorf("report: %w", err)
	}
	resp.Body.Close()

	client := awslambda.NewFromConfig(aws.Config{
		Region:      os.Getenv("AWS_REGION"),
		Credentials: credentials.NewStaticCredentialsProvider(os.Getenv("GUST_TEST_KEY"), os.Getenv("GUST_TEST_SECRET"), ""),
	}, func(o *awslambda.Options) { o.BaseEndpoint = aws.String(os.Getenv("GUST_TEST_ENDPOINT")) })
	_, err = client.Invoke(ctx, &awslambda.InvokeInput{
		FunctionName:   aws.String(lambdacontext.FunctionName),
		InvocationType: types.InvocationTypeEvent,
		Payload:        event,
	})
	if err != nil {
		return "", fmt.Errorf("invoke myself: %w", err)
	}
	return "again", nil
}

func main() { lambda.Start(handler) }
