// Command gust is AWS Lambda you run yourself; see internal/cli.
package main

import (
	"os"

	"gust/internal/bench"
	"gust/internal/cli"
	"gust/internal/sandbox"
)

func main() {
	// When this process is a linux sandbox's init, Init sets up the
	// environment and becomes the function's runtime; it never returns.
	sandbox.Init()
	// When this binary was deployed as `gust bench`'s Go function, it
	// serves that function and never returns.
	bench.ServeFunctionIfAsked()
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
