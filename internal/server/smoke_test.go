package server_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"gust/internal/gusttest"
)

const helloMJS = `export const handler = async (event, context) => {
  console.log("Request ID:", context.awsRequestId);
  const name = event.queryStringParameters?.name ?? "world";
  return {
    statusCode: 200,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ message: ` + "`Hello, ${name}!`" + ` }),
  };
};
`

func TestHelloNode(t *testing.T) {
	s := gusttest.StartServer(t)
	c := s.Lambda()
	ctx := context.Background()
	out, err := c.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("hello"),
		Runtime:      types.RuntimeNodejs20x,
		Handler:      aws.String("index.handler"),
		Role:         aws.String("arn:aws:iam::000000000000:role/lambda-role"),
		Code:         &types.FunctionCode{ZipFile: gusttest.Zip(t, map[string]string{"index.mjs": helloMJS})},
	})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if out.State != types.StateActive {
		t.Fatalf("state = %q", out.State)
	}
	inv, err := c.Invoke(ctx, &lambda.InvokeInput{
		FunctionName: aws.String("hello"),
		Payload:      []byte(`{"queryStringParameters":{"name":"DevCraftly"}}`),
		LogType:      types.LogTypeTail,
	})
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	if inv.FunctionError != nil {
		t.Fatalf("function error %s: %s", *inv.FunctionError, inv.Payload)
	}
	var got struct {
		StatusCode int
		Body       string
	}
	if err := json.Unmarshal(inv.Payload, &got); err != nil {
		t.Fatal(err)
	}
	if got.Body != `{"message":"Hello, DevCraftly!"}` {
		t.Fatalf("body = %q", got.Body)
	}
	t.Logf("log: %s", aws.ToString(inv.LogResult))
}
