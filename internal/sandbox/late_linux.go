package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// The init is configured in two messages on a SOCK_SEQPACKET socket
// (initConfigFD): initShell as soon as the server has made the cgroup,
// and initLaunch when the server launches a function in the environment.
// Between the two the init has joined its cgroup and built and entered
// its private root: that is a shell (Shells). The binds the root did not
// get before it was entered (a shell is made before anyone knows the
// function's code) arrive with initLaunch as mount file descriptors,
// which the server clones from its own mount namespace (open_tree) and
// the init attaches (move_mount): the host's paths are out of the init's
// reach once its root is pivoted. Linux 5.12 or later.

// initShell is the init's first message: what every environment has.
type initShell struct {
	Procs    []string // cgroup.procs files to join at once
	Root     string   // host directory to mount the private root on
	Binds    []bind   // read-only bind mounts made before the root is entered
	TmpMB    int      // size of /tmp
	Hostname string
	Stem     *initStem // the runtime to start before the launch, or nil
	// Code is where the binary's code lies, which the init lets go of
	// once the runtime runs (release_linux.go); nil keeps it.
	Code *codeLayout
}

// initLaunch is the second: the function's environment.
type initLaunch struct {
	// Late binds, one per file descriptor passed with the message, in
	// order.
	Late  []lateBind
	TmpMB int // size of /tmp, if it differs from the shell's
	Argv  []string
	Env   []string
	Dir   string
}

// lateBind is where a passed mount goes, and whether it is a directory
// (else a file) for its mount point.
type lateBind struct {
	Dst string
	Dir bool
}

// maxInitMessage bounds one message to the init (argv and environment
// are the bulk; Lambda caps the environment at 4 KB).
const maxInitMessage = 1 << 20

// sendInit sends v as JSON, with fds, as one message on the socket sock.
func sendInit(sock *os.File, v any, fds []int) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if len(b) > maxInitMessage {
		return fmt.Errorf("sandbox configuration of %d bytes is over %d", len(b), maxInitMessage)
	}
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	raw, err := sock.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = raw.Write(func(fd uintptr) bool {
		serr = unix.Sendmsg(int(fd), b, oob, nil, 0)
		return serr != unix.EAGAIN
	})
	return errors.Join(err, serr)
}

// recvInit reads one message from the socket fd into v and returns the
// file descriptors it carried.
func recvInit(fd int, v any) ([]int, error) {
	// The message's size first (MSG_TRUNC reports it whole): the init
	// never collects garbage once it runs a function, so it allocates
	// no more than it needs.
	var one [1]byte
	size, _, err := unix.Recvfrom(fd, one[:], unix.MSG_PEEK|unix.MSG_TRUNC)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, min(max(size, 1), maxInitMessage))
	oob := make([]byte, unix.CmsgSpace(16*4))
	n, oobn, flags, _, err := unix.Recvmsg(fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, err
	}
	var fds []int
	if oobn > 0 {
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			rights, err := unix.ParseUnixRights(&m)
			if err != nil {
				return nil, err
			}
			fds = append(fds, rights...)
		}
	}
	if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
		return fds, errors.New("message truncated")
	}
	if n == 0 {
		return fds, errors.New("the server closed the configuration socket")
	}
	return fds, json.Unmarshal(buf[:n], v)
}

// openLate clones each bind's source from this process's mount namespace
// as a detached, read-only, nosuid, nodev, private mount, for the init
// to attach. The caller closes the descriptors.
func openLate(binds []bind) ([]lateBind, []int, error) {
	late := make([]lateBind, 0, len(binds))
	fds := make([]int, 0, len(binds))
	closeAll := func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}
	for _, b := range binds {
		fi, err := os.Stat(b.Src)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		fd, err := unix.OpenTree(unix.AT_FDCWD, b.Src, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("open_tree %s: %w", b.Src, err)
		}
		fds = append(fds, fd)
		attr := unix.MountAttr{
			Attr_set:    unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV,
			Propagation: unix.MS_PRIVATE,
		}
		if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr); err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("mount_setattr %s: %w", b.Src, err)
		}
		late = append(late, lateBind{Dst: b.Dst, Dir: fi.IsDir()})
	}
	return late, fds, nil
}

// finishRoot, in the init inside its root, attaches the late binds and
// sizes /tmp for the function.
func finishRoot(shellTmpMB int, l *initLaunch, fds []int) (op, path string, err error) {
	if len(fds) != len(l.Late) {
		return "receive", "mounts", fmt.Errorf("%d mounts for %d binds", len(fds), len(l.Late))
	}
	if len(l.Late) > 0 {
		// The root is read-only; its mount points are made in a moment
		// when it is not.
		if err := unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
			return "remount", "/", err
		}
		for i, b := range l.Late {
			if err := mountPoint(b); err != nil {
				return "mkdir", b.Dst, err
			}
			if err := unix.MoveMount(fds[i], "", unix.AT_FDCWD, b.Dst, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
				return "move_mount", b.Dst, err
			}
			unix.Close(fds[i])
		}
		if err := unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
			return "remount", "/", err
		}
	}
	if l.TmpMB > 0 && l.TmpMB != shellTmpMB {
		// Nothing has written to /tmp yet.
		if err := unix.Mount("", "/tmp", "", unix.MS_REMOUNT|unix.MS_NOSUID|unix.MS_NODEV, tmpOptions(l.TmpMB)); err != nil {
			return "remount", "/tmp", err
		}
	}
	return "", "", nil
}

// mountPoint makes b's mount point: a directory, or an empty file.
func mountPoint(b lateBind) error {
	if b.Dir {
		return os.MkdirAll(b.Dst, 0o755)
	}
	if err := os.MkdirAll(filepath.Dir(b.Dst), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(b.Dst, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}
