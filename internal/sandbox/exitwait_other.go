//go:build !linux

package sandbox

// awaitExit returns at once: outside Linux, Wait blocks a thread.
func awaitExit(int) {}
