package sandbox

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// waiterStates returns the scheduler state ("IO wait", "syscall", …) of
// every goroutine waiting in Process.wait.
func waiterStates() []string {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	var states []string
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if !strings.Contains(g, "sandbox.(*Process).wait(") {
			continue
		}
		header, _, _ := strings.Cut(g, "\n")
		_, state, _ := strings.Cut(header, "[")
		state, _, _ = strings.Cut(state, "]")
		state, _, _ = strings.Cut(state, ",") // "IO wait, 2 minutes"
		states = append(states, state)
	}
	return states
}

// TestWaitingHoldsNoThread: a running environment's exit is awaited on
// the network poller, not by a thread blocked in waitid for its life.
func TestWaitingHoldsNoThread(t *testing.T) {
	const n = 20
	dir := t.TempDir()
	var procs []*Process
	defer func() {
		for _, p := range procs {
			p.Kill()
			<-p.Done()
			p.Output.Close()
		}
	}()
	for range n {
		p, err := Start(Spec{Argv: []string{"/bin/sleep", "60"}, Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
	}
	// Each waiter first checks, in a short non-blocking waitid, whether
	// its process has exited; then it parks. Wait until all are parked on
	// the poller: a waiter blocked in waitid instead stays in "syscall".
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		states := waiterStates()
		parked := 0
		for _, s := range states {
			if s == "IO wait" {
				parked++
			}
		}
		if parked == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("want all %d waiters parked on the poller (IO wait), have %q", n, states)
		}
	}
	// Exits are still seen, and reaped.
	procs[0].Kill()
	select {
	case <-procs[0].Done():
	case <-time.After(10 * time.Second):
		t.Fatal("a killed environment's exit was not seen")
	}
	if err := procs[0].Err(); err != ErrKilled {
		t.Errorf("Err() = %v, want ErrKilled", err)
	}
}
