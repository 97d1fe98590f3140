package sandbox

import (
	"testing"
	"time"
)

// TestSetUpsAreBounded checks that a start finding every set-up slot
// taken waits for one, and reports the wait apart from its set-up.
func TestSetUpsAreBounded(t *testing.T) {
	needLinuxSandbox(t)
	for range cap(setupSlots) {
		setupSlots <- struct{}{}
	}
	held := cap(setupSlots)
	t.Cleanup(func() {
		for ; held > 0; held-- {
			releaseSetup()
		}
	})
	type result struct {
		p   *Process
		err error
	}
	done := make(chan result, 1)
	code := codeDir(t, nil)
	go func() {
		p, err := Start(Spec{Kind: KindLinux, Argv: []string{"/bin/sh", "-c", "echo up; exec sleep 300"}, Dir: code, CodeDir: code, Env: []string{"PATH=/usr/bin:/bin"}})
		done <- result{p, err}
	}()
	for deadline := time.Now().Add(10 * time.Second); setupWaiting.Load() == 0; {
		select {
		case r := <-done:
			t.Fatalf("the start went ahead with every slot taken: %v", r.err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the start never waited for a slot")
		}
		time.Sleep(time.Millisecond)
	}
	releaseSetup()
	held--
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() {
		r.p.Kill()
		r.p.Output.Close()
	})
	if w := r.p.SetupWait(); w <= 0 {
		t.Errorf("SetupWait = %v after the start was seen waiting, want more than 0", w)
	}
	if len(setupSlots) != held {
		t.Errorf("%d slots taken after the start, want %d: the start did not give its slot back", len(setupSlots), held)
	}
}
