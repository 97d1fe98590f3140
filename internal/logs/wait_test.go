package logs

import "time"

// waitTick is the pause between checks of a bounded poll.
func waitTick() { time.Sleep(50 * time.Millisecond) }
