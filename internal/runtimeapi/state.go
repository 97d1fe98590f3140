package runtimeapi

// state is where the runtime is in its lifecycle, as the server sees it.
type state uint8

const (
	stateInit       state = iota // started; no /next yet
	stateIdle                    // initialized; no /next waiting, no event
	statePolling                 // a /next is blocked waiting for an event
	stateQueued                  // an event waits for the next /next
	stateInvoking                // the event was handed out; awaiting its answer
	stateResponded               // answered; the runtime should poll /next again
	stateInitFailed              // the runtime posted /runtime/init/error
	stateFailed                  // an Invoke's context ended before the answer
	stateClosed                  // Close was called
	numStates
	stateDenied // not a state: the result of a transition the table lacks
)

var stateNames = [numStates]string{
	stateInit:       "Init",
	stateIdle:       "Idle",
	statePolling:    "Polling",
	stateQueued:     "Queued",
	stateInvoking:   "Invoking",
	stateResponded:  "Responded",
	stateInitFailed: "InitFailed",
	stateFailed:     "Failed",
	stateClosed:     "Closed",
}

func (s state) String() string {
	if s < numStates {
		return stateNames[s]
	}
	return "Invalid"
}

// event is something that asks the state machine to move.
type event uint8

const (
	eventNext          event = iota // GET /next arrived
	eventNextGone                   // a waiting /next left without an event
	eventInvoke                     // Invoke handed in an event
	eventUndeliverable              // writing the event to /next failed
	eventAnswer                     // /response or /error for the in-flight event
	eventInitError                  // POST /runtime/init/error
	eventFail                       // Invoke's context ended first
	eventClose                      // Close
	numEvents
)

var eventNames = [numEvents]string{
	eventNext:          "Next",
	eventNextGone:      "NextGone",
	eventInvoke:        "Invoke",
	eventUndeliverable: "Undeliverable",
	eventAnswer:        "Answer",
	eventInitError:     "InitError",
	eventFail:          "Fail",
	eventClose:         "Close",
}

func (e event) String() string {
	if e < numEvents {
		return eventNames[e]
	}
	return "Invalid"
}

// allowed lists every transition the server makes. Anything not listed is
// denied.
var allowed = []struct {
	from state
	on   event
	to   state
}{
	{stateInit, eventNext, statePolling},
	{stateInit, eventInitError, stateInitFailed},

	{stateIdle, eventNext, statePolling},
	{stateIdle, eventInvoke, stateQueued},

	{statePolling, eventNextGone, stateIdle},
	{statePolling, eventInvoke, stateInvoking},

	{stateQueued, eventNext, stateInvoking},
	{stateQueued, eventFail, stateFailed},

	{stateInvoking, eventAnswer, stateResponded},
	{stateInvoking, eventUndeliverable, stateQueued},
	{stateInvoking, eventFail, stateFailed},

	{stateResponded, eventNext, statePolling},
	{stateResponded, eventInvoke, stateQueued},

	{stateInit, eventClose, stateClosed},
	{stateIdle, eventClose, stateClosed},
	{statePolling, eventClose, stateClosed},
	{stateQueued, eventClose, stateClosed},
	{stateInvoking, eventClose, stateClosed},
	{stateResponded, eventClose, stateClosed},
	{stateInitFailed, eventClose, stateClosed},
	{stateFailed, eventClose, stateClosed},
}

// transitions is allowed as a dense table; every other cell is stateDenied.
var transitions = func() (t [numStates][numEvents]state) {
	for i := range t {
		for j := range t[i] {
			t[i][j] = stateDenied
		}
	}
	for _, a := range allowed {
		t[a.from][a.on] = a.to
	}
	return t
}()

// on returns the state that e leads to from s, and false when the table
// does not allow it.
func (s state) on(e event) (state, bool) {
	if s >= numStates || e >= numEvents {
		return stateDenied, false
	}
	to := transitions[s][e]
	return to, to != stateDenied
}

// terminal reports whether no event leads out of s except Close.
func (s state) terminal() bool {
	return s == stateInitFailed || s == stateFailed || s == stateClosed
}

// fireLocked moves s by e when the table allows it and reports whether it
// did; a denied event leaves the state as it was. s.mu must be held.
func (s *Server) fireLocked(e event) bool {
	to, ok := s.st.on(e)
	if ok {
		s.st = to
	}
	return ok
}
