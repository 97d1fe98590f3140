package sandbox

import "syscall"

// sysProcAttr puts the runtime in its own process group and has the kernel
// kill it when the server dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
