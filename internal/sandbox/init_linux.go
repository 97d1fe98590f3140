package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// initMarker is argv[0] of the sandbox's init: the server re-executes its
// own binary under that name, in new namespaces, and Init takes over.
const initMarker = "gust-sandbox-init"

// Descriptors the init receives besides stdio.
const (
	initConfigFD = 3 // a SOCK_SEQPACKET socket: initShell, then initLaunch (late_linux.go)
	initStatusFD = 4 // write end, close-on-exec: initReport lines (reaper_linux.go)
)

// The unprivileged identity functions run as (Lambda's sbx_user1051).
const (
	sandboxUID = 993
	sandboxGID = 990
)

// initHooked records that Init ran in this process, so its binary can
// serve as the sandbox's init.
var initHooked atomic.Bool

// joinCgroup moves this process into the cgroups whose cgroup.procs
// files are procs; the runtime, forked later, starts there.
func joinCgroup(procs []string) (op, path string, err error) {
	for _, f := range procs {
		// "0" is the writing process itself.
		if err := os.WriteFile(f, []byte("0"), 0); err != nil {
			return "join cgroup", f, err
		}
	}
	return "", "", nil
}

// initConfig is what the server knows of an environment before it
// starts one; the init gets it as initShell and initLaunch.
type initConfig struct {
	Root  string   // host directory to mount the private root on
	Binds []bind   // read-only bind mounts into the root, in order
	TmpMB int      // size of /tmp
	Argv  []string // as the runtime sees them
	Env   []string
	Dir   string
}

// envHostname is every environment's hostname, as on Lambda's.
const envHostname = "localhost"

// bind is one read-only bind mount: host Src appears at Dst in the root.
type bind struct{ Src, Dst string }

// initError is what the init reports when it cannot start the runtime.
type initError struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Errno int    `json:"errno"`
}

func (e initError) err() error {
	if e.Errno != 0 {
		return &os.PathError{Op: e.Op, Path: e.Path, Err: syscall.Errno(e.Errno)}
	}
	return fmt.Errorf("%s %s", e.Op, e.Path)
}

// Init runs the linux sandbox's init when this process is one, and never
// returns then; otherwise it returns at once. Call it first thing in main,
// and in TestMain of test binaries that start linux sandboxes: the sandbox
// re-executes the running binary (/proc/self/exe) to set up the
// environment's namespaces, and that process stays as the namespace's pid
// 1 while the runtime runs beneath it (reaper_linux.go).
func Init() {
	if len(os.Args) == 0 || os.Args[0] != initMarker {
		initHooked.Store(true)
		return
	}
	stopNATSSampling()
	// Mounts, credentials, prctl and the fork all happen on this one
	// thread, so per-thread state (no_new_privs, the parent-death signal)
	// is the forking thread's, which the runtime inherits.
	runtime.LockOSThread()
	sigs := watchSignals()
	status := os.NewFile(initStatusFD, "status")
	syscall.CloseOnExec(initStatusFD)
	fail := func(op, path string, err error) {
		e := initError{Op: op, Path: path}
		var errno syscall.Errno
		if errors.As(err, &errno) {
			e.Errno = int(errno)
		} else {
			e.Op, e.Path = op+" "+path+":", err.Error()
		}
		_ = json.NewEncoder(status).Encode(initReport{Err: &e})
		os.Exit(127)
	}
	// Joining the cgroup moves every thread of this process, which costs
	// the kernel an RCU grace period per controller in cgroup v1, and
	// building the root takes some fifty system calls: a shell has done
	// both before any function needs it (late_linux.go).
	var sh initShell
	if _, err := recvInit(initConfigFD, &sh); err != nil {
		fail("read", "sandbox shell", err)
	}
	if op, path, err := joinCgroup(sh.Procs); err != nil {
		fail(op, path, err)
	}
	if op, path, err := setupRoot(&sh); err != nil {
		fail(op, path, err)
	}
	if op, path, err := limitInit(); err != nil {
		fail(op, path, err)
	}
	code := sh.Code.place()
	var stem *stemRuntime
	if sh.Stem != nil {
		var err error
		if stem, err = startStem(sh.Stem); err != nil {
			fail("fork/exec", sh.Stem.Argv[0], err)
		}
	}
	if err := json.NewEncoder(status).Encode(initReport{Ready: true}); err != nil {
		os.Exit(127) // the server gave up on the environment
	}
	var cfg initLaunch
	fds, err := recvInit(initConfigFD, &cfg)
	if err != nil {
		fail("read", "sandbox config", err)
	}
	unix.Close(initConfigFD)
	if op, path, err := finishRoot(sh.TmpMB, &cfg, fds); err != nil {
		fail(op, path, err)
	}
	if stem != nil && stem.exited() {
		// Exit without a report: the server starts the function afresh.
		os.Exit(127)
	}
	if op, path, err := dropPrivileges(&cfg); err != nil {
		fail(op, path, err)
	}
	var pid int
	if stem != nil {
		if err := stem.specialize(&cfg); err != nil {
			os.Exit(127) // the stem runtime died meanwhile: as above
		}
		pid = stem.pid
	} else {
		// Handled signals are reset to the default in the runtime by
		// execve (ignored ones would be inherited).
		if pid, err = syscall.ForkExec(cfg.Argv[0], cfg.Argv, &syscall.ProcAttr{Env: cfg.Env, Files: []uintptr{0, 1, 2}}); err != nil {
			fail("fork/exec", cfg.Argv[0], err)
		}
	}
	superviseRuntime(pid, status, <-sigs, code)
}

// setupRoot builds the private root on cfg.Root, pivots into it and sets
// the hostname. It runs as root in fresh mount, pid and uts namespaces;
// nothing it mounts is visible outside them, and all of it goes away with
// the namespaces.
func setupRoot(cfg *initShell) (op, path string, err error) {
	// Nothing mounted here may propagate back to the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return "mount", "/", err
	}
	root := cfg.Root
	if err := unix.Mount("tmpfs", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=4m,mode=0755"); err != nil {
		return "mount", root, err
	}
	// The system directories: symlinks copied (/bin -> usr/bin), the rest
	// bound read-only.
	for _, b := range cfg.Binds {
		if op, p, err := bindRO(root, b); err != nil {
			return op, p, err
		}
	}
	if op, p, err := makeEtc(root); err != nil {
		return op, p, err
	}
	for _, d := range []string{"tmp", "proc", "dev", "opt"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return "mkdir", d, err
		}
	}
	if err := unix.Mount("tmpfs", filepath.Join(root, "tmp"), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, tmpOptions(cfg.TmpMB)); err != nil {
		return "mount", "/tmp", err
	}
	if err := unix.Mount("proc", filepath.Join(root, "proc"), "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return "mount", "/proc", err
	}
	if op, p, err := makeDev(filepath.Join(root, "dev")); err != nil {
		return op, p, err
	}
	// pivot_root(".", ".") stacks the old root on the new one; detaching
	// it leaves only the new root (runc's way, no put_old directory).
	if err := unix.Chdir(root); err != nil {
		return "chdir", root, err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return "pivot_root", root, err
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return "umount", "old root", err
	}
	if err := unix.Chdir("/"); err != nil {
		return "chdir", "/", err
	}
	if err := unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		return "remount", "/", err
	}
	if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
		return "sethostname", cfg.Hostname, err
	}
	return "", "", nil
}

// tmpOptions are the mount options of a /tmp of mb megabytes.
func tmpOptions(mb int) string {
	return "size=" + strconv.Itoa(mb) + "m,mode=1777"
}

// bindRO makes b.Dst inside root: a copy of a host symlink, or a
// read-only, nosuid, nodev bind of the host file or directory.
func bindRO(root string, b bind) (op, path string, err error) {
	dst := filepath.Join(root, b.Dst)
	fi, err := os.Lstat(b.Src)
	if err != nil {
		return "stat", b.Src, err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "mkdir", b.Dst, err
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		target, err := os.Readlink(b.Src)
		if err != nil {
			return "readlink", b.Src, err
		}
		if err := os.Symlink(target, dst); err != nil {
			return "symlink", b.Dst, err
		}
		return "", "", nil
	}
	if fi.IsDir() {
		err = os.Mkdir(dst, 0o755)
	} else {
		err = os.WriteFile(dst, nil, 0o644)
	}
	if err != nil && !errors.Is(err, os.ErrExist) {
		return "mkdir", b.Dst, err
	}
	if err := unix.Mount(b.Src, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return "mount", b.Dst, err
	}
	if err := unix.Mount("", dst, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		return "remount", b.Dst, err
	}
	return "", "", nil
}

// etcFiles are the host /etc entries a runtime needs: the dynamic
// linker's cache, name resolution, time zone, TLS roots. Everything else
// of the host's /etc (shadow, ssh keys, the server's own config) stays out.
var etcFiles = []string{
	"ld.so.cache", "ld.so.conf", "nsswitch.conf", "hosts", "resolv.conf", "host.conf", "gai.conf",
	"localtime", "timezone", "os-release", "protocols", "services", "mime.types",
}

// etcDirs are bound read-only when present.
var etcDirs = []string{"ld.so.conf.d", "ssl", "ca-certificates", "pki", "crypto-policies", "alternatives"}

// makeEtc writes a minimal /etc: copies of etcFiles, binds of etcDirs,
// and passwd/group naming only root, the function's user and nobody.
func makeEtc(root string) (op, path string, err error) {
	etc := filepath.Join(root, "etc")
	if err := os.MkdirAll(etc, 0o755); err != nil {
		return "mkdir", "/etc", err
	}
	for _, name := range etcFiles {
		src := filepath.Join("/etc", name)
		fi, err := os.Lstat(src)
		if err != nil {
			continue
		}
		dst := filepath.Join(etc, name)
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			if target, err := os.Readlink(src); err == nil {
				_ = os.Symlink(target, dst)
			}
		case fi.Mode().IsRegular() && fi.Size() <= 4<<20:
			if data, err := os.ReadFile(src); err == nil {
				if err := os.WriteFile(dst, data, 0o644); err != nil {
					return "write", "/etc/" + name, err
				}
			}
		}
	}
	for _, name := range etcDirs {
		src := filepath.Join("/etc", name)
		if _, err := os.Lstat(src); err != nil {
			continue
		}
		if op, p, err := bindRO(root, bind{Src: src, Dst: "/etc/" + name}); err != nil {
			return op, p, err
		}
	}
	files := map[string]string{
		"passwd": "root:x:0:0:root:/root:/sbin/nologin\n" +
			"sbx_user1051:x:" + strconv.Itoa(sandboxUID) + ":" + strconv.Itoa(sandboxGID) + "::/home/sbx_user1051:/sbin/nologin\n" +
			"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n",
		"group":    "root:x:0:\nsbx_user1051:x:" + strconv.Itoa(sandboxGID) + ":\nnobody:x:65534:\n",
		"hostname": "localhost\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(etc, name), []byte(content), 0o644); err != nil {
			return "write", "/etc/" + name, err
		}
	}
	return "", "", nil
}

// makeDev mounts a small /dev holding only the harmless character
// devices, bound from the host's, and the usual /proc/self/fd links.
func makeDev(dev string) (op, path string, err error) {
	if err := unix.Mount("tmpfs", dev, "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "size=64k,mode=0755"); err != nil {
		return "mount", "/dev", err
	}
	for _, name := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		src := "/dev/" + name
		if _, err := os.Stat(src); err != nil {
			continue
		}
		dst := filepath.Join(dev, name)
		if err := os.WriteFile(dst, nil, 0o666); err != nil {
			return "create", src, err
		}
		// A bind of the device node itself; no nodev here, or it would
		// not open.
		if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
			return "mount", src, err
		}
	}
	links := map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dev, name)); err != nil {
			return "symlink", "/dev/" + name, err
		}
	}
	if err := unix.Mount("", dev, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NOEXEC, ""); err != nil {
		return "remount", "/dev", err
	}
	return "", "", nil
}

// limitInit sets the limits every runtime inherits, and no_new_privs, so
// setuid binaries stay powerless, before any runtime starts (a stem
// cell's in the shell, with the init still privileged).
func limitInit() (op, path string, err error) {
	nofile := &syscall.Rlimit{Cur: nofileLimit, Max: nofileLimit}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, nofile); err != nil {
		return "setrlimit", "RLIMIT_NOFILE", err
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{}); err != nil {
		return "setrlimit", "RLIMIT_CORE", err
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return "prctl", "PR_SET_NO_NEW_PRIVS", err
	}
	// The runtime shares the environment's pids limit with this init, so
	// a fork bomb can leave the init unable to create a thread; the Go
	// runtime makes one when a goroutine blocks and no idle thread is
	// left, and dies (exit status 2) if it cannot. So the init keeps spare
	// threads from the start and never collects garbage (it allocates
	// next to nothing), which is what would otherwise want more threads.
	// What the set-up allocated goes back to the system first.
	debug.FreeOSMemory()
	debug.SetGCPercent(-1)
	spareThreads(4)
	return "", "", nil
}

// dropPrivileges sets the limits, becomes
// the unprivileged function user with no way back (no capabilities,
// no_new_privs so setuid binaries stay powerless) and enters the working
// directory. It is the init that does so, before it forks the runtime,
// which inherits all of it: nothing privileged is left in the environment
// while the function runs.
func dropPrivileges(cfg *initLaunch) (op, path string, err error) {
	if err := syscall.Setgroups(nil); err != nil {
		return "setgroups", "", err
	}
	if err := syscall.Setgid(sandboxGID); err != nil {
		return "setgid", strconv.Itoa(sandboxGID), err
	}
	if err := syscall.Setuid(sandboxUID); err != nil {
		return "setuid", strconv.Itoa(sandboxUID), err
	}
	// Changing the uid cleared the parent-death signal; set it again.
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGKILL), 0, 0, 0); err != nil {
		return "prctl", "PR_SET_PDEATHSIG", err
	}
	// Not dumpable, whatever fs.suid_dumpable says: the function, the
	// same user, can neither ptrace the init nor read its /proc files.
	// The runtime is dumpable again once executed.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return "prctl", "PR_SET_DUMPABLE", err
	}
	if err := unix.Chdir(cfg.Dir); err != nil {
		return "chdir", cfg.Dir, err
	}
	return "", "", nil
}
