// Command benchfn is the Go function of the server benchmarks: built with
// aws-lambda-go and run as a provided.* bootstrap, it returns its event
// unchanged, so a benchmark measures the platform and not the handler.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(_ context.Context, ev json.RawMessage) (json.RawMessage, error) {
		return ev, nil
	})
}
