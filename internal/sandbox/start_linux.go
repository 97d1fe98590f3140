package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// defaultStateDir is where environments' private roots are mounted, each
// in its own mount namespace (so they all share the one empty directory).
const defaultStateDir = "/run/gust-sandbox"

// setupTimeout bounds the init's work before it runs the runtime.
const setupTimeout = 10 * time.Second

// systemDirs are the host directories every runtime sees, read-only.
var systemDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}

// startLinux starts spec in the linux sandbox: a cgroup with the
// function's limits, then this binary re-executed as the init of new
// mount, pid, ipc and uts namespaces (see Init), which builds the private
// root, becomes the function user and starts the runtime as its child
// (reaper_linux.go). Start returns once the runtime was executed, or with
// the reason it could not be.
func startLinux(spec Spec) (*Process, error) {
	cfg, err := linuxStartConfig(spec)
	if err != nil {
		return nil, fmt.Errorf("start sandbox: %w", err)
	}
	p, err := startInit(cfg, spec)
	if err != nil {
		return nil, fmt.Errorf("start sandbox: %w", err)
	}
	return p, nil
}

// linuxStartConfig checks that this process can start linux sandboxes
// and derives the init's configuration from spec.
func linuxStartConfig(spec Spec) (*initConfig, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("the linux sandbox needs root")
	}
	if !initHooked.Load() {
		return nil, errors.New("the linux sandbox needs sandbox.Init() first thing in main (and TestMain)")
	}
	return linuxConfig(spec)
}

// shellsSupported reports whether this process can make shells.
func shellsSupported() bool { return os.Geteuid() == 0 && initHooked.Load() }

// newShell starts a shell of template t for Shells, listening in its own
// network, and waits until it is ready (a stem cell: until its runtime
// waits for its function).
func newShell(t *shellTemplate) (*shell, error) {
	shape := shellShape{root: t.root, binds: t.binds, tmpMB: t.tmpMB, memoryMB: shellMemoryMB, listen: true}
	if t.isStem() {
		shape.stem = t
	}
	sh, err := startShell(shape)
	if err != nil {
		return nil, err
	}
	if err := sh.awaitReady(); err != nil {
		return nil, sh.discard(err)
	}
	return sh, nil
}

// defaultTmpMB is the size of /tmp unless a function asks for more.
const defaultTmpMB = 512

// stateDir makes sure the state dir (default: defaultStateDir) is a
// directory, and returns it.
func stateDir(dir string) (string, error) {
	if dir == "" {
		dir = defaultStateDir
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("linux sandbox: state dir: %w", err)
	}
	if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("linux sandbox: state dir %s is not a directory", dir)
	}
	return dir, nil
}

// systemBinds are the binds of the system directories this host has.
func systemBinds() []bind {
	var binds []bind
	for _, d := range systemDirs {
		if _, err := os.Lstat(d); err == nil {
			binds = append(binds, bind{Src: d, Dst: d})
		}
	}
	return binds
}

// linuxConfig derives the init's configuration from spec.
func linuxConfig(spec Spec) (*initConfig, error) {
	if spec.CodeDir == "" {
		return nil, errors.New("linux sandbox: no code dir")
	}
	for _, d := range []string{spec.CodeDir, spec.RuntimeDir} {
		if d != "" && !filepath.IsAbs(d) {
			return nil, fmt.Errorf("linux sandbox: %q is not absolute", d)
		}
	}
	root, err := stateDir(spec.StateDir)
	if err != nil {
		return nil, err
	}
	m := newPathMap(spec.CodeDir, spec.RuntimeDir)
	cfg := &initConfig{
		Root:  root,
		TmpMB: spec.TmpMB,
		Argv:  m.rewriteAll(spec.Argv),
		Env:   m.rewriteAll(spec.Env),
		Dir:   m.rewrite(spec.Dir),
	}
	if spec.RuntimeAPI != nil {
		addr := runtimeAPIAddr
		if spec.hostNetwork {
			addr = "" // known once startInit listens
		}
		cfg.Env = withRuntimeAPI(cfg.Env, addr)
	}
	if cfg.TmpMB <= 0 {
		cfg.TmpMB = defaultTmpMB
	}
	if !strings.HasPrefix(cfg.Dir, TaskRoot) && !strings.HasPrefix(cfg.Dir, RuntimeRoot) {
		cfg.Dir = TaskRoot
	}
	visible := []string{spec.CodeDir}
	cfg.Binds = systemBinds()
	for _, b := range cfg.Binds {
		visible = append(visible, b.Src)
	}
	cfg.Binds = append(cfg.Binds, bind{Src: spec.CodeDir, Dst: TaskRoot})
	if spec.RuntimeDir != "" {
		cfg.Binds = append(cfg.Binds, bind{Src: spec.RuntimeDir, Dst: RuntimeRoot})
		visible = append(visible, spec.RuntimeDir)
	}
	// An interpreter installed outside the system directories (pyenv,
	// nvm, /opt/...) is visible at its own path: its install prefix,
	// read-only, as long as that holds none of the server's data.
	if exe := spec.Argv[0]; !under(exe, visible...) {
		prefix := filepath.Dir(filepath.Dir(exe))
		if prefix == "/" || under(spec.CodeDir, prefix) || spec.RuntimeDir != "" && under(spec.RuntimeDir, prefix) {
			prefix = filepath.Dir(exe)
		}
		if prefix == "/" || under(spec.CodeDir, prefix) || spec.RuntimeDir != "" && under(spec.RuntimeDir, prefix) {
			return nil, fmt.Errorf("linux sandbox: cannot expose %s without exposing the data dir", exe)
		}
		cfg.Binds = append(cfg.Binds, bind{Src: prefix, Dst: prefix})
	}
	return cfg, nil
}

// under reports whether path is one of dirs or inside one.
func under(path string, dirs ...string) bool {
	for _, d := range dirs {
		d = filepath.Clean(d)
		if path == d || strings.HasPrefix(path, d+"/") {
			return true
		}
	}
	return false
}

// startInit starts a shell for spec and launches spec in it at once. The
// shell has every bind but the code's, as Shells' have, and gets the code
// late: an environment is built the same way whether its shell was made
// ahead or not, down to the order of its mounts. It waits for a set-up
// slot first (setupSlots).
func startInit(cfg *initConfig, spec Spec) (*Process, error) {
	waited := acquireSetup()
	defer releaseSetup()
	sh, err := startShell(shellShape{root: cfg.Root, binds: earlyBinds(cfg.Binds), tmpMB: cfg.TmpMB, memoryMB: spec.MemoryMB,
		hostNetwork: spec.hostNetwork, listen: spec.RuntimeAPI != nil})
	if err != nil {
		return nil, err
	}
	// As in a shell made ahead, the late binds are cloned once the root
	// is built: mountinfo lists mounts in the order they were made.
	if err := sh.awaitReady(); err != nil {
		return nil, sh.discard(err)
	}
	p, err := sh.launch(cfg, spec)
	if err != nil {
		return nil, err
	}
	p.setupWait = waited
	return p, nil
}

// shell is a linux-sandbox init started ahead of its configuration: this
// binary re-executed in new namespaces, in its cgroup, inside its private
// root, with its network plumbed and its Runtime API listener open. It
// waits on its configuration socket; launch sends the function's
// configuration. Everything a shell holds is the same for every function
// except the cgroup's limits, which launch sets.
type shell struct {
	shellShape
	cmd     *exec.Cmd
	pid     int
	out     *os.File      // read end of the tree's output
	ctl     *os.File      // the server's end of the init's configuration socket
	statusR *os.File      // read end of the init's status pipe
	status  *bufio.Reader // reads statusR, from awaitReady on
	cg      *envCgroup
	en      *envNet      // nil with the host network
	ln      net.Listener // nil when not listening; owned until launch hands it out
}

// shellShape is what a shell is made with.
type shellShape struct {
	root        string
	binds       []bind // made before the root is entered
	tmpMB       int
	memoryMB    int // the memory limit the cgroup is made with
	hostNetwork bool
	listen      bool           // open a Runtime API listener
	stem        *shellTemplate // a stem cell's, whose runtime the shell starts; or nil
}

// initEnv is the whole environment of a sandbox's init: the server's own
// stays out. GOGC=off spares the init the collections its package
// initializers would set off (the gust binary's allocate about 5 MB); the
// init frees that memory once, when it has set up (limitInit).
// GOMAXPROCS=1: the init runs one goroutine at a time, and each further
// processor would get its own allocation caches, touching fresh pages
// every environment pays to zero (docs/perf.md, "A static binary, and
// the init on one processor"). Its spare threads for blocking system
// calls do not depend on it (limitInit).
var initEnv = []string{"GOGC=off", "GOMAXPROCS=1"}

// startShell re-executes this binary as a sandbox init in new mount, pid,
// ipc, uts and (unless hostNetwork) network namespaces, creates the
// cgroup and the network while the init starts up, and sends the init
// its cgroup and root (initShell), which it joins and builds.
func startShell(shape shellShape) (*shell, error) {
	hostNetwork, listen, memoryMB := shape.hostNetwork, shape.listen, shape.memoryMB
	var files []*os.File
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	pipe := func() (r, w *os.File, err error) {
		r, w, err = os.Pipe()
		if err == nil {
			files = append(files, r, w)
		}
		return r, w, err
	}
	out, outW, err := pipe()
	if err != nil {
		return nil, err
	}
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("configuration socket: %w", err)
	}
	ctl, cfgR := os.NewFile(uintptr(pair[0]), "sandbox-config"), os.NewFile(uintptr(pair[1]), "sandbox-config")
	files = append(files, ctl, cfgR)
	statusR, statusW, err := pipe()
	if err != nil {
		closeAll()
		return nil, err
	}
	cmd := &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       []string{initMarker},
		Env:        initEnv, // the server's environment stays out
		Dir:        "/",
		Stdout:     outW,
		Stderr:     outW,
		ExtraFiles: []*os.File{cfgR, statusW}, // fds 3 and 4
		SysProcAttr: &syscall.SysProcAttr{
			Setpgid:    true,
			Pdeathsig:  syscall.SIGKILL,
			Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS,
		},
	}
	if !hostNetwork {
		cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWNET
	}
	sh := &shell{shellShape: shape, cmd: cmd, out: out, ctl: ctl, statusR: statusR}
	if hostNetwork && listen {
		if sh.ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			closeAll()
			return nil, fmt.Errorf("runtime api listener: %w", err)
		}
	}
	err = cmd.Start()
	outW.Close()
	cfgR.Close()
	statusW.Close()
	if err != nil {
		closeAll()
		if sh.ln != nil {
			sh.ln.Close()
		}
		return nil, err
	}
	sh.pid = cmd.Process.Pid
	preferForOOM(sh.pid)
	if !hostNetwork {
		// The network is plumbed while the cgroup is created.
		type result struct {
			en  *envNet
			ln  net.Listener
			err error
		}
		netDone := make(chan result, 1)
		go func() {
			en, ln, err := setupEnvNet(sh.pid, listen)
			netDone <- result{en, ln, err}
		}()
		sh.cg, err = newEnvCgroup(memoryMB)
		r := <-netDone
		if r.err == nil {
			sh.en, sh.ln = r.en, r.ln
		}
		if err == nil {
			err = r.err
		}
		if err != nil {
			return nil, sh.discard(err)
		}
	} else if sh.cg, err = newEnvCgroup(memoryMB); err != nil {
		return nil, sh.discard(err)
	}
	msg := initShell{Procs: sh.cg.procs, Root: shape.root, Binds: shape.binds, TmpMB: shape.tmpMB, Hostname: envHostname, Code: binaryCode()}
	if shape.stem != nil {
		msg.Stem = &initStem{Argv: shape.stem.argv, Env: shape.stem.env}
	}
	err = sendInit(sh.ctl, msg, nil)
	if err != nil {
		return nil, sh.discard(fmt.Errorf("configure init: %w", err))
	}
	return sh, nil
}

// discard kills the shell's init and releases everything it holds; it
// returns err joined with any cleanup error.
func (sh *shell) discard(err error) error {
	_ = syscall.Kill(-sh.pid, syscall.SIGKILL)
	_ = sh.cmd.Wait()
	sh.out.Close()
	sh.ctl.Close()
	sh.statusR.Close()
	if sh.ln != nil {
		sh.ln.Close()
	}
	if sh.cg != nil {
		_, _, cerr := sh.cg.finish()
		err = errors.Join(err, cerr)
	}
	if sh.en != nil {
		err = errors.Join(err, sh.en.release())
	}
	return err
}

// awaitReady waits until the init reports that it is in its root,
// waiting for initLaunch.
func (sh *shell) awaitReady() error {
	_ = sh.statusR.SetReadDeadline(time.Now().Add(setupTimeout))
	defer sh.statusR.SetReadDeadline(time.Time{})
	sh.status = bufio.NewReader(sh.statusR)
	rep, err := readReport(sh.status)
	switch {
	case err != nil:
		return fmt.Errorf("wait for init: %w", err)
	case rep.Err != nil:
		return rep.Err.err()
	case !rep.Ready:
		return errors.New("wait for init: unexpected report")
	}
	return nil
}

// lateBinds are the binds of want the shell was not made with. Every
// bind the shell has must be one of want.
func lateBinds(have, want []bind) ([]bind, error) {
	made := make(map[bind]bool, len(have))
	for _, b := range have {
		made[b] = true
	}
	var late []bind
	for _, b := range want {
		if made[b] {
			delete(made, b)
		} else {
			late = append(late, b)
		}
	}
	if len(made) > 0 {
		return nil, fmt.Errorf("the shell has binds the environment does not want: %v", made)
	}
	return late, nil
}

// errShellLost marks a start that failed because the init died before it
// read its configuration or reported back.
var errShellLost = errors.New("sandbox init gone")

// alive reports whether the shell's init still waits for its
// configuration, without reaping it.
func (sh *shell) alive() bool {
	// Linux zeroes info when the child has not exited; otherwise Signo
	// is SIGCHLD.
	var info unix.Siginfo
	err := unix.Waitid(unix.P_PID, sh.pid, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
	return err == nil && info.Signo == 0
}

// launch sets the cgroup's limits for spec, sends the configuration,
// waits until the init has started the runtime or failed (its first
// report on the status pipe), and then hands out the Runtime API listener
// (a runtime that connects before that waits in the listen backlog). The
// shell is used up either way. An error wrapping errShellLost means the
// init was gone before it read its configuration, for no fault of spec.
func (sh *shell) launch(cfg *initConfig, spec Spec) (*Process, error) {
	fail := func(err error) (*Process, error) {
		return nil, sh.discard(err)
	}
	if cfg.Root != sh.root {
		return fail(fmt.Errorf("a shell on %s cannot take an environment on %s", sh.root, cfg.Root))
	}
	late, err := lateBinds(sh.binds, cfg.Binds)
	if err != nil {
		return fail(err)
	}
	if err := sh.cg.resize(spec.MemoryMB); err != nil {
		return fail(err)
	}
	if spec.RuntimeAPI != nil {
		if sh.ln == nil {
			return fail(errors.New("runtime api listener: the shell has none"))
		}
		if sh.hostNetwork {
			cfg.Env = withRuntimeAPI(cfg.Env, sh.ln.Addr().String())
		}
	}
	msg := initLaunch{TmpMB: cfg.TmpMB, Argv: cfg.Argv, Env: cfg.Env, Dir: cfg.Dir}
	var fds []int
	if msg.Late, fds, err = openLate(late); err != nil {
		return fail(fmt.Errorf("bind into the sandbox: %w", err))
	}
	err = sendInit(sh.ctl, msg, fds)
	for _, fd := range fds {
		unix.Close(fd)
	}
	sh.ctl.Close()
	if err != nil {
		return fail(fmt.Errorf("%w: send config to init: %w", errShellLost, err))
	}
	_ = sh.statusR.SetReadDeadline(time.Now().Add(setupTimeout))
	status := sh.status
	rep, err := readReport(status)
	switch {
	case errors.Is(err, errNoReport):
		return fail(fmt.Errorf("%w: wait for init: %w", errShellLost, err))
	case err != nil:
		return fail(fmt.Errorf("wait for init: %w", err))
	case rep.Err != nil:
		return fail(rep.Err.err())
	case !rep.Started:
		return fail(errors.New("wait for init: unexpected report"))
	}
	_ = sh.statusR.SetReadDeadline(time.Time{})
	if spec.RuntimeAPI != nil {
		spec.RuntimeAPI(sh.ln)
	} else if sh.ln != nil {
		sh.ln.Close()
	}
	sh.ln = nil
	// The runtime, forked already, keeps the score preferForOOM gave; the
	// init goes back to the default, so the OOM killer takes the function's
	// processes first. (Lower than that would need CAP_SYS_RESOURCE, which
	// a root in a container may lack.)
	_ = os.WriteFile("/proc/"+strconv.Itoa(sh.pid)+"/oom_score_adj", []byte("0\n"), 0)
	p := &Process{Output: sh.out, cmd: sh.cmd, pgid: sh.pid, done: make(chan struct{}), limits: sh.cg,
		runtimeExit: exitReader(sh.statusR, status)}
	if sh.en != nil {
		p.network = sh.en
	}
	go p.wait()
	return p, nil
}
