package sandbox

import (
	"runtime"
	"sync/atomic"
	"time"
)

// setupSlots bounds how many environments set up from scratch at once
// (startInit). A set-up is mostly CPU: this binary's start as the init,
// the mounts, the runtime's own start. Under a burst of cold starts the
// kernel shares the CPUs among every set-up under way, so without a
// bound they all finish together, late; with one they finish in order
// and the first runtimes can take events while the rest set up. A
// 300-environment burst on two cores: the median handler started after
// 5.2–6.2 s unbounded and 2.9–3.8 s with 8 slots; the last after
// 6.3–7.6 s either way (docs/perf.md). Four per CPU leave room for a
// set-up's waits (an RCU grace period when it joins its cgroup, the
// runtime's start).
var setupSlots = make(chan struct{}, 4*runtime.NumCPU())

// setupWaiting counts starts waiting for a slot; tests watch it.
var setupWaiting atomic.Int64

// acquireSetup waits for a set-up slot and returns how long it waited.
func acquireSetup() time.Duration {
	select {
	case setupSlots <- struct{}{}:
		return 0
	default:
	}
	began := time.Now()
	setupWaiting.Add(1)
	setupSlots <- struct{}{}
	setupWaiting.Add(-1)
	return time.Since(began)
}

// releaseSetup frees a slot acquireSetup took.
func releaseSetup() { <-setupSlots }
