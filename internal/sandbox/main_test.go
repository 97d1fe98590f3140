package sandbox

import (
	"os"
	"testing"
)

// TestMain lets this test binary serve as the linux sandbox's init.
func TestMain(m *testing.M) {
	Init()
	os.Exit(m.Run())
}
