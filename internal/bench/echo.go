package bench

import (
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"gust/internal/bench/echo"
)

// EchoHandler is the handler of the bench's Go function (see package echo).
var EchoHandler = echo.Handler

// ServeFunctionIfAsked makes the running binary the bench's Go function
// when it was started as one: with _HANDLER=gust.bench.echo and
// AWS_LAMBDA_RUNTIME_API set it runs EchoHandler under aws-lambda-go and
// never returns. Otherwise it returns at once. The gust command calls it
// first thing in main (after sandbox.Init), so the gust binary zipped as
// `bootstrap` is a provided.al2023 function.
func ServeFunctionIfAsked() {
	if os.Getenv("_HANDLER") != echo.HandlerName || os.Getenv("AWS_LAMBDA_RUNTIME_API") == "" {
		return
	}
	lambda.Start(EchoHandler)
	os.Exit(1) // lambda.Start does not return
}
