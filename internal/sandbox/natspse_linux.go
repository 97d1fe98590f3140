//go:build !race

package sandbox

import (
	_ "unsafe" // for go:linkname

	_ "github.com/nats-io/nats-server/v2/server/pse" // the sampler stopNATSSampling stops
)

// natsProcStatFile is the file the embedded NATS server's CPU sampler
// reads. The package offers no way to stop the sampler, which its
// initializer starts in every process of this binary: it reads the file
// once a second and re-arms itself only when the read succeeds.
//
//go:linkname natsProcStatFile github.com/nats-io/nats-server/v2/server/pse.procStatFile
var natsProcStatFile string

// stopNATSSampling ends the sampler at its next tick. An init runs no
// NATS server, and lives as long as its environment: with the sampler,
// 300 idle environments kept a quarter of a CPU busy (docs/perf.md).
// Call it first thing in the init, a second before the sampler's first
// tick.
func stopNATSSampling() { natsProcStatFile = "" }
