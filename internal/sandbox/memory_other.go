//go:build !linux

package sandbox

// SampleMemory is not measured outside Linux; REPORT shows the minimum.
func (p *Process) SampleMemory() int64 { return 0 }

func preferForOOM(int) {}
