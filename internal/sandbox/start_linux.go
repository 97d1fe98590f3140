package sandbox

import (
	"bufio"
	"encoding/json"
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
	if os.Geteuid() != 0 {
		return nil, errors.New("start sandbox: the linux sandbox needs root")
	}
	if !initHooked.Load() {
		return nil, errors.New("start sandbox: the linux sandbox needs sandbox.Init() first thing in main (and TestMain)")
	}
	cfg, err := linuxConfig(spec)
	if err != nil {
		return nil, fmt.Errorf("start sandbox: %w", err)
	}
	p, err := startInit(cfg, spec)
	if err != nil {
		return nil, fmt.Errorf("start sandbox: %w", err)
	}
	return p, nil
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
	root := spec.StateDir
	if root == "" {
		root = defaultStateDir
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("linux sandbox: state dir: %w", err)
	}
	if fi, err := os.Lstat(root); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("linux sandbox: state dir %s is not a directory", root)
	}
	m := newPathMap(spec.CodeDir, spec.RuntimeDir)
	cfg := &initConfig{
		Root:     root,
		TmpMB:    spec.TmpMB,
		Argv:     m.rewriteAll(spec.Argv),
		Env:      m.rewriteAll(spec.Env),
		Dir:      m.rewrite(spec.Dir),
		Hostname: "localhost",
	}
	if spec.RuntimeAPI != nil {
		addr := runtimeAPIAddr
		if spec.hostNetwork {
			addr = "" // known once startInit listens
		}
		cfg.Env = withRuntimeAPI(cfg.Env, addr)
	}
	if cfg.TmpMB <= 0 {
		cfg.TmpMB = 512
	}
	if !strings.HasPrefix(cfg.Dir, TaskRoot) && !strings.HasPrefix(cfg.Dir, RuntimeRoot) {
		cfg.Dir = TaskRoot
	}
	visible := []string{spec.CodeDir}
	for _, d := range systemDirs {
		if _, err := os.Lstat(d); err == nil {
			cfg.Binds = append(cfg.Binds, bind{Src: d, Dst: d})
			visible = append(visible, d)
		}
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

// startInit re-executes this binary as the sandbox's init, creates the
// cgroup and the network while the init starts up, hands out the Runtime
// API listener, sends the configuration, and waits until the init has
// started the runtime or failed (its first report on the status pipe).
func startInit(cfg *initConfig, spec Spec) (*Process, error) {
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
	cfgR, cfgW, err := pipe()
	if err != nil {
		closeAll()
		return nil, err
	}
	statusR, statusW, err := pipe()
	if err != nil {
		closeAll()
		return nil, err
	}
	cmd := &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       []string{initMarker},
		Env:        []string{}, // the server's environment stays out
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
	if !spec.hostNetwork {
		cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWNET
	}
	var ln net.Listener
	if spec.hostNetwork && spec.RuntimeAPI != nil {
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			closeAll()
			return nil, fmt.Errorf("runtime api listener: %w", err)
		}
		cfg.Env = withRuntimeAPI(cfg.Env, ln.Addr().String())
	}
	err = cmd.Start()
	outW.Close()
	cfgR.Close()
	statusW.Close()
	if err != nil {
		closeAll()
		if ln != nil {
			ln.Close()
		}
		return nil, err
	}
	pid := cmd.Process.Pid
	preferForOOM(pid)
	var (
		cg     *envCgroup
		en     *envNet
		handed bool // ln went to spec.RuntimeAPI, which owns it since
	)
	fail := func(err error) (*Process, error) {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		_ = cmd.Wait()
		out.Close()
		cfgW.Close()
		statusR.Close()
		if ln != nil && !handed {
			ln.Close()
		}
		if cg != nil {
			_, _, cerr := cg.finish()
			err = errors.Join(err, cerr)
		}
		if en != nil {
			err = errors.Join(err, en.release())
		}
		return nil, err
	}
	if !spec.hostNetwork {
		// The network is plumbed while the cgroup is created.
		type result struct {
			en  *envNet
			ln  net.Listener
			err error
		}
		netDone := make(chan result, 1)
		go func() {
			en, ln, err := setupEnvNet(pid, spec.RuntimeAPI != nil)
			netDone <- result{en, ln, err}
		}()
		cg, err = newEnvCgroup(spec.MemoryMB)
		r := <-netDone
		if r.err == nil {
			en, ln = r.en, r.ln
		}
		if err == nil {
			err = r.err
		}
		if err != nil {
			return fail(err)
		}
	} else if cg, err = newEnvCgroup(spec.MemoryMB); err != nil {
		return fail(err)
	}
	if spec.RuntimeAPI != nil {
		spec.RuntimeAPI(ln)
		handed = true
	}
	cfg.Procs = cg.procs
	payload, err := json.Marshal(cfg)
	if err != nil {
		return fail(err)
	}
	_, err = cfgW.Write(payload)
	cfgW.Close()
	if err != nil {
		return fail(fmt.Errorf("send config to init: %w", err))
	}
	_ = statusR.SetReadDeadline(time.Now().Add(setupTimeout))
	status := bufio.NewReader(statusR)
	rep, err := readReport(status)
	switch {
	case err != nil:
		return fail(fmt.Errorf("wait for init: %w", err))
	case rep.Err != nil:
		return fail(rep.Err.err())
	case !rep.Started:
		return fail(errors.New("wait for init: unexpected report"))
	}
	_ = statusR.SetReadDeadline(time.Time{})
	// The runtime, forked already, keeps the score preferForOOM gave; the
	// init goes back to the default, so the OOM killer takes the function's
	// processes first. (Lower than that would need CAP_SYS_RESOURCE, which
	// a root in a container may lack.)
	_ = os.WriteFile("/proc/"+strconv.Itoa(pid)+"/oom_score_adj", []byte("0\n"), 0)
	p := &Process{Output: out, cmd: cmd, pgid: pid, done: make(chan struct{}), limits: cg,
		runtimeExit: exitReader(statusR, status)}
	if en != nil {
		p.network = en
	}
	go p.wait()
	return p, nil
}
