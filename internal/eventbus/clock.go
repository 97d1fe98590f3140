package eventbus

import "time"

// Clock is the time source of the bus: event times, rule anchors and the
// scheduler's ticks. Tests replace it so a schedule can be driven without
// waiting minutes.
type Clock interface {
	// Now is the current time.
	Now() time.Time
	// Timer returns a channel that receives once the clock reaches
	// deadline (at once if it has), and a func that releases the timer;
	// calling it more than once, or after the timer fired, is harmless.
	Timer(deadline time.Time) (<-chan time.Time, func())
}

// wallClock is the real clock.
type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func (wallClock) Timer(deadline time.Time) (<-chan time.Time, func()) {
	t := time.NewTimer(time.Until(deadline))
	return t.C, func() { t.Stop() }
}
