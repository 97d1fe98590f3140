// Command gust is AWS Lambda you run yourself; see internal/cli.
package main

import (
	"os"

	"gust/internal/cli"
	"gust/internal/sandbox"
)

func main() {
	// When this process is a linux sandbox's init, Init sets up the
	// environment and becomes the function's runtime; it never returns.
	sandbox.Init()
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
