package cli

import (
	"os"
	"testing"

	"gust/internal/sandbox"
)

// TestMain lets this test binary serve as the linux sandbox's init: the
// servers gusttest starts here use it by default when tests run as root.
func TestMain(m *testing.M) {
	sandbox.Init()
	os.Exit(m.Run())
}
