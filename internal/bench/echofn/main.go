// Command echofn is a small provided.al2023 bootstrap for `gust bench
// --go-bootstrap`: it runs the bench's echo handler (internal/bench/echo)
// and nothing else, so it starts faster than the gust binary, which can
// serve the same function itself.
//
//	CGO_ENABLED=0 go build -o /tmp/echo ./internal/bench/echofn
//	gust bench --go-bootstrap /tmp/echo
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"gust/internal/bench/echo"
)

func main() {
	lambda.Start(echo.Handler)
}
