package server_test

// The Go test functions under testdata are built with this module's
// go.mod, but `go mod tidy` does not look inside testdata; these imports
// keep their dependencies required.
import (
	_ "github.com/aws/aws-sdk-go-v2/config"
)
