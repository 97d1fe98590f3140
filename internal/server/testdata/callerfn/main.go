// Command callerfn is a test function that calls Gust from inside an
// environment the way a real function calls AWS: the SDK's default
// configuration, which reads the role's session credentials and
// AWS_ENDPOINT_URL_LAMBDA from the environment. The event names the
// function to invoke; the reply says what happened.
package main

import (
	"context"
	"errors"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	lambdasvc "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/smithy-go"
)

type request struct {
	Function string `json:"function"`
}

// Reply is the outcome of the call: the callee's payload, or the API
// error's code and message.
type Reply struct {
	Payload string `json:"payload,omitempty"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

func handle(ctx context.Context, req request) (*Reply, error) {
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRetryMaxAttempts(1))
	if err != nil {
		return nil, err
	}
	out, err := lambdasvc.NewFromConfig(cfg).Invoke(ctx, &lambdasvc.InvokeInput{
		FunctionName: aws.String(req.Function),
		Payload:      []byte(`{"from":"go"}`),
	})
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return &Reply{Code: ae.ErrorCode(), Message: ae.ErrorMessage()}, nil
	}
	if err != nil {
		return nil, err
	}
	return &Reply{Payload: string(out.Payload)}, nil
}

func main() { lambda.Start(handle) }
