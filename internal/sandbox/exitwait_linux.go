package sandbox

import (
	"os"

	"golang.org/x/sys/unix"
)

// awaitExit returns once process pid has exited, without reaping it, so
// that the exec.Cmd's Wait that follows returns at once. It parks the
// goroutine on the network poller through a pidfd, which becomes readable
// when the process exits. A plain Wait blocks an OS thread in waitid for
// the life of the environment: one server thread per environment, a
// thousand threads for a thousand environments, each created while an
// environment starts. Where pidfds cannot be polled it returns at once and
// Wait blocks as before.
func awaitExit(pid int) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return
	}
	f := os.NewFile(uintptr(fd), "pidfd") // O_NONBLOCK: registered with the poller
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Read(func(fd uintptr) bool {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PIDFD, int(fd), &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
		// Linux zeroes info while the process runs; once it has exited,
		// Signo is SIGCHLD. When waitid cannot tell, Wait decides.
		return err != nil || info.Signo != 0
	})
}
