// Command gust is AWS Lambda you run yourself; see internal/cli.
package main

import (
	"os"

	"gust/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
