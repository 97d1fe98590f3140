//go:build linux && race

package sandbox

// The race detector's shadow memory makes every process of a race build,
// the sandbox's init included, several times larger.
func init() { raceBuild = true }
