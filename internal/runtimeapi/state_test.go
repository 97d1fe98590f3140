package runtimeapi

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestStateTable(t *testing.T) {
	// Terminal states deny everything but Close; Closed denies everything.
	for st := state(0); st < numStates; st++ {
		for ev := event(0); ev < numEvents; ev++ {
			to, ok := st.on(ev)
			if st.terminal() && ok && ev != eventClose {
				t.Errorf("%s allows %s", st, ev)
			}
			if ok && to >= numStates {
				t.Errorf("%s on %s leads to invalid %d", st, ev, to)
			}
		}
	}
	if _, ok := stateClosed.on(eventClose); ok {
		t.Error("Closed allows Close")
	}
	if _, ok := state(200).on(eventNext); ok {
		t.Error("an out-of-range state allows Next")
	}
	got := map[[2]string]string{}
	for st := state(0); st < numStates; st++ {
		for ev := event(0); ev < numEvents; ev++ {
			if to, ok := st.on(ev); ok && ev != eventClose {
				got[[2]string{st.String(), ev.String()}] = to.String()
			}
		}
	}
	want := map[[2]string]string{
		{"Init", "Next"}: "Polling", {"Init", "InitError"}: "InitFailed",
		{"Idle", "Next"}: "Polling", {"Idle", "Invoke"}: "Queued",
		{"Polling", "NextGone"}: "Idle", {"Polling", "Invoke"}: "Invoking",
		{"Queued", "Next"}: "Invoking", {"Queued", "Fail"}: "Failed",
		{"Invoking", "Answer"}: "Responded", {"Invoking", "Undeliverable"}: "Queued", {"Invoking", "Fail"}: "Failed",
		{"Responded", "Next"}: "Polling", {"Responded", "Invoke"}: "Queued",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("transitions (-want +got):\n%s", diff)
	}
}
