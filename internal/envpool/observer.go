package envpool

import (
	"errors"
	"time"

	"gust/internal/lambda"
)

// Invocation is what one REPORT line says, for observers.
type Invocation struct {
	Function, Version, RequestID string
	Start                        time.Time     // when the runtime took the event (or the failed init began)
	Duration                     time.Duration // the invoke phase (REPORT Duration)
	InitDuration                 time.Duration // non-zero on a cold start (REPORT Init Duration), or the failed init's duration
	BilledMs                     int64         // REPORT Billed Duration: ceil(duration+init) ms
	MemoryMB                     int
	MaxMemoryMB                  int64
	ErrorType                    string // "" on success; the function's error type or Sandbox.Timedout, Runtime.ExitError, …
	FunctionError                bool   // the function returned an error (handled or unhandled)
	Architecture                 string // x86_64 | arm64
	InitType                     string // on-demand | provisioned-concurrency
}

// Observer learns of every REPORT written and every throttle. Calls must not block.
type Observer interface {
	Invoked(Invocation)
	Throttled(function, reason string)
}

// observeInvoked tells every observer of one REPORT line. It runs on the
// invocation's own goroutine, with no lock held.
func observeInvoked(observers []Observer, inv Invocation) {
	for _, o := range observers {
		o.Invoked(inv)
	}
}

// observeThrottled tells every observer of a throttle Acquire answered.
func (m *Manager) observeThrottled(function string, err error) {
	if len(m.opts.Observers) == 0 {
		return
	}
	reason := ""
	var le *lambda.Error
	if errors.As(err, &le) {
		reason = le.Reason
	}
	for _, o := range m.opts.Observers {
		o.Throttled(function, reason)
	}
}

// architecture is the instruction set a function runs on, as REPORT
// consumers name it.
func architecture(fn *lambda.Function) string {
	if len(fn.Architectures) > 0 && fn.Architectures[0] != "" {
		return fn.Architectures[0]
	}
	return lambda.DefaultArchitecture
}

// billedMs is REPORT's Billed Duration: the invoke phase plus, on a cold
// start, the init phase (billed since August 2025), rounded up to the
// millisecond and at least 1 ms. The microsecond figures are the ones the
// line prints.
func billedMs(duration, initDuration time.Duration) int64 {
	return int64(ceilMs(float64(duration.Microseconds())/1000 + float64(initDuration.Microseconds())/1000))
}
