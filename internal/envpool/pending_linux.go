package envpool

import (
	"os"

	"golang.org/x/sys/unix"
)

// pendingBytes is how many bytes wait unread in a pipe (TIOCINQ, which is
// FIONREAD on Linux).
func pendingBytes(f *os.File) int {
	n := 0
	if rc, err := f.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			n, _ = unix.IoctlGetInt(int(fd), unix.TIOCINQ)
		})
	}
	return n
}
