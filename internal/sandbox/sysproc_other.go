//go:build !linux

package sandbox

import "syscall"

// sysProcAttr puts the runtime in its own process group. Outside Linux
// there is no parent-death signal: a runtime can outlive a killed server.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
