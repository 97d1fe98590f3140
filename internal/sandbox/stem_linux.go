package sandbox

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// shellTemplate is what the shells of one pool are made with, and which
// environments they fit.
type shellTemplate struct {
	root  string
	binds []bind // every bind of the environments it fits but the code's
	tmpMB int
	// argv and env are a stem cell's runtime, as it sees them; nil argv
	// for a plain shell.
	argv, env []string
}

// isStem reports whether the template starts a runtime.
func (t *shellTemplate) isStem() bool { return t.argv != nil }

// earlyBinds are the binds a shell has before its launch: all but the
// code's, in order. Every environment, however started, binds the code
// last, so their mounts are listed in the same order.
func earlyBinds(binds []bind) []bind {
	early := make([]bind, 0, len(binds))
	for _, b := range binds {
		if b.Dst != TaskRoot {
			early = append(early, b)
		}
	}
	return early
}

// fits reports whether an environment configured as cfg can take a shell
// of this template.
func (t *shellTemplate) fits(cfg *initConfig) bool {
	if cfg.Root != t.root || !slices.Equal(earlyBinds(cfg.Binds), t.binds) {
		return false
	}
	if !t.isStem() {
		return true
	}
	return slices.Equal(cfg.Argv, t.argv) && slices.Equal(sensitiveEnv(cfg.Env), sensitiveEnv(t.env))
}

// plainTemplate is the template of plain shells for environments whose
// runtime directory is runtimeDir ("" for none).
func plainTemplate(runtimeDir string) (*shellTemplate, error) {
	root, err := stateDir("")
	if err != nil {
		return nil, err
	}
	t := &shellTemplate{root: root, binds: systemBinds(), tmpMB: defaultTmpMB}
	if runtimeDir != "" {
		t.binds = append(t.binds, bind{Src: runtimeDir, Dst: RuntimeRoot})
	}
	return t, nil
}

// stemTemplate derives a stem's template from its spec.
func stemTemplate(st Stem) (*shellTemplate, error) {
	spec := st.Spec
	spec.Kind = KindLinux
	if len(spec.Argv) == 0 {
		return nil, fmt.Errorf("stem %s: no command", st.Name)
	}
	if _, err := os.Stat(spec.Argv[0]); err != nil {
		return nil, fmt.Errorf("stem %s: %w", st.Name, err)
	}
	// A stem always listens, as the environments it becomes do.
	spec.RuntimeAPI = func(net.Listener) {}
	cfg, err := linuxConfig(spec)
	if err != nil {
		return nil, fmt.Errorf("stem %s: %w", st.Name, err)
	}
	return &shellTemplate{root: cfg.Root, binds: earlyBinds(cfg.Binds), tmpMB: cfg.TmpMB, argv: cfg.Argv, env: cfg.Env}, nil
}

// initStem is the runtime a stem cell's init starts before its launch.
type initStem struct {
	Argv []string
	Env  []string
}

// stemRuntime is a stem cell's runtime, in the init: started as the
// function user, waiting on a socket for its function's environment.
type stemRuntime struct {
	pid int
	fd  int // the init's end of the socket
}

// stemReady is what a stem runtime writes on its socket once it waits.
const stemReady = "ready"

// startStem starts st's runtime as the function user, with one end of a
// socket as descriptor 3 (named by stemVarEnv in its environment), and
// waits until the runtime says on it that it waits for its function. The
// init has set the limits and no_new_privs already, which the runtime
// inherits; its own credentials it drops only at launch.
func startStem(st *initStem) (*stemRuntime, error) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	// The padding reserves room in the runtime's environment block, which
	// it overwrites with its function's environment (the bootstraps'
	// stem wait), so /proc/<pid>/environ shows that as for any runtime.
	env := append(slices.Clip(st.Env), stemVarEnv+"=3", stemPadEnv+"="+strings.Repeat("x", stemPadBytes))
	pid, err := syscall.ForkExec(st.Argv[0], st.Argv, &syscall.ProcAttr{
		Dir:   "/",
		Env:   env,
		Files: []uintptr{0, 1, 2, uintptr(pair[1])},
		Sys: &syscall.SysProcAttr{
			Credential: &syscall.Credential{Uid: sandboxUID, Gid: sandboxGID, Groups: []uint32{}},
			Pdeathsig:  syscall.SIGKILL,
		},
	})
	unix.Close(pair[1])
	if err != nil {
		unix.Close(pair[0])
		return nil, err
	}
	sr := &stemRuntime{pid: pid, fd: pair[0]}
	var got []byte
	buf := make([]byte, len(stemReady))
	for len(got) < len(stemReady) {
		n, err := unix.Read(sr.fd, buf)
		if err == unix.EINTR {
			continue
		}
		if n <= 0 || err != nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			return nil, fmt.Errorf("the runtime exited before it was ready: %v", err)
		}
		got = append(got, buf[:n]...)
	}
	if string(got) != stemReady {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		return nil, fmt.Errorf("the runtime said %q, not %q", got, stemReady)
	}
	return sr, nil
}

// exited reports (and reaps) a stem runtime that ended before its launch.
func (sr *stemRuntime) exited() bool {
	var ws syscall.WaitStatus
	pid, err := syscall.Wait4(sr.pid, &ws, syscall.WNOHANG, nil)
	return pid == sr.pid || err != nil
}

// specialize sends the runtime its function's environment and working
// directory, which replace its own before it reads either, and closes the
// socket, which ends the message.
func (sr *stemRuntime) specialize(cfg *initLaunch) error {
	b, err := json.Marshal(struct {
		Env []string `json:"env"`
		Dir string   `json:"dir"`
	}{cfg.Env, cfg.Dir})
	for len(b) > 0 && err == nil {
		var n int
		if n, err = unix.Write(sr.fd, b); err == unix.EINTR {
			err = nil
		}
		b = b[max(n, 0):]
	}
	if cerr := unix.Close(sr.fd); err == nil {
		err = cerr
	}
	return err
}
