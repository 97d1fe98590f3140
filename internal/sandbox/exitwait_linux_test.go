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
	var states []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		states = waiterStates()
		blocked := 0
		for _, s := range states {
			if s == "IO wait" || s == "syscall" {
				blocked++
			}
		}
		if blocked >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiters never all blocked: %q", states)
		}
	}
	for _, s := range states {
		if s != "IO wait" {
			t.Fatalf("a waiter is in %q, want all on the poller (IO wait): %q", s, states)
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
