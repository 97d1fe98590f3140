// Package sandbox starts, confines and kills the process tree of one
// execution environment.
//
// The process sandbox (this file) is portable: the runtime runs as a child
// in its own process group with its own working directory and a clean
// environment. It confines nothing beyond that. The linux sandbox
// (linux_*.go, Spec.Kind KindLinux) runs it in its own mount, pid, ipc,
// uts and network namespaces under a private root with Lambda's layout, as
// an unprivileged user, in a cgroup that bounds memory, CPU and pids,
// beneath a minimal init that stays pid 1 of the namespace
// (reaper_linux.go); binaries that start it must call Init first thing in
// main (and TestMain). Its network (netns_linux.go, hostnet_linux.go) is
// a veth pair per environment with NAT to the host's loopback and beyond,
// and the Runtime API listener bound inside the environment's namespace.
// docs/security.md says what each sandbox promises. Each Process owns one
// goroutine that waits for the child, reaps it and, in the linux sandbox,
// removes its cgroup; Kill always takes the whole tree down.
package sandbox

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Spec describes one environment's process.
type Spec struct {
	Argv []string // Argv[0] is an absolute path
	Dir  string   // working directory
	Env  []string // the whole environment; nothing is inherited

	// RuntimeAPI, if set, is given the listener of the environment's
	// Runtime API, and the runtime's environment gets
	// AWS_LAMBDA_RUNTIME_API naming it. The process sandbox listens on a
	// free loopback port and hands it over before the runtime starts; the
	// linux sandbox listens on 127.0.0.1:9001 inside the environment's
	// own network namespace, where nothing else can reach it, and hands
	// it over once the runtime started (until then a runtime's connection
	// waits in the listen backlog), so a failed start never hands one.
	// The callee owns a listener it was given, also when Start fails, and
	// must close it when the environment ends: in the linux sandbox the
	// namespace (and its veth pair) lives until it is closed.
	RuntimeAPI func(net.Listener)

	// Kind selects the sandbox: KindProcess (also "") or KindLinux.
	Kind Kind

	// The fields below are used by the linux sandbox only. Paths under
	// CodeDir and RuntimeDir in Argv, Dir and Env are rewritten to
	// /var/task and /var/runtime, where the runtime sees them.

	CodeDir    string // the function's code, mounted read-only at /var/task
	RuntimeDir string // Gust's runtime bootstraps, read-only at /var/runtime
	MemoryMB   int    // memory hard limit; CPU is MemoryMB/1769 of a core. Default 128
	TmpMB      int    // size of the private /tmp. Default 512
	// StateDir is the host directory the environment's private root is
	// mounted on, inside its own mount namespace only (so every
	// environment can share it). Default /run/gust-sandbox.
	StateDir string

	// hostNetwork keeps a linux-sandbox environment in the host's network
	// namespace (benchmarks compare the two).
	hostNetwork bool
}

// Kind names a sandbox implementation.
type Kind string

const (
	// KindProcess is the portable process sandbox: no confinement.
	KindProcess Kind = "process"
	// KindLinux confines with namespaces and cgroups (Linux, as root).
	KindLinux Kind = "linux"
)

// Process is a running environment process tree.
type Process struct {
	// Output is the read end of one pipe that receives both stdout and
	// stderr of the whole tree. The caller must drain it until EOF, which
	// comes once every process holding the write end has exited.
	Output *os.File

	cmd  *exec.Cmd
	pgid int
	done chan struct{}
	err  error // set before done is closed

	// limits is the environment's cgroup in the linux sandbox, nil in the
	// process sandbox.
	limits limiter
	// network is the environment's network namespace plumbing in the
	// linux sandbox, nil otherwise; released after the leader was reaped.
	network interface{ release() error }
	// runtimeExit, in the linux sandbox, where the leader is the init
	// and the runtime its child, reads the runtime's own exit once the
	// leader was reaped; known is false if the init did not report it.
	runtimeExit func() (known bool, err error)
	// setupWait is how long the start waited for a set-up slot.
	setupWait time.Duration
	// oomKilled and cleanupErr are set before done is closed.
	oomKilled  bool
	cleanupErr error

	mu         sync.Mutex
	killed     bool
	peak       int64     // peak RSS bytes of the tree seen by SampleMemory
	samples    int       // reads of /proc by SampleMemory
	lastSample time.Time // when SampleMemory last read /proc
}

// limiter is the resource side of the linux sandbox: one cgroup.
type limiter interface {
	// peak is the memory high-water mark in bytes (0 if unknown).
	peak() int64
	// finish kills anything left in the cgroup, reads its final figures
	// and removes it. It is called once, after the leader was reaped.
	finish() (oomKilled bool, peak int64, err error)
}

// ErrKilled is the exit error of a process stopped by Kill.
var ErrKilled = errors.New("sandbox: killed")

// Start starts the process in a new process group, confined as spec.Kind
// says.
func Start(spec Spec) (*Process, error) {
	if len(spec.Argv) == 0 {
		return nil, errors.New("start sandbox: empty argv")
	}
	switch spec.Kind {
	case KindProcess, "":
	case KindLinux:
		return startLinux(spec)
	default:
		return nil, fmt.Errorf("start sandbox: unknown sandbox %q", spec.Kind)
	}
	env := spec.Env
	if spec.RuntimeAPI != nil {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("start sandbox: runtime api listener: %w", err)
		}
		spec.RuntimeAPI(ln)
		env = withRuntimeAPI(env, ln.Addr().String())
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start sandbox: %w", err)
	}
	cmd := exec.Command(spec.Argv[0], spec.Argv[1:]...)
	cmd.Dir = spec.Dir
	cmd.Env = env
	// An *os.File goes to the child as is: no copying goroutine, and the
	// child's writes never wait on the server beyond the pipe buffer.
	cmd.Stdout = w
	cmd.Stderr = w
	cmd.SysProcAttr = sysProcAttr()
	err = cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("start sandbox: %w", err)
	}
	p := &Process{Output: r, cmd: cmd, pgid: cmd.Process.Pid, done: make(chan struct{})}
	preferForOOM(p.pgid)
	go p.wait()
	return p, nil
}

// runtimeAPIEnv names the variable that tells a runtime where its Runtime
// API is.
const runtimeAPIEnv = "AWS_LAMBDA_RUNTIME_API"

// withRuntimeAPI returns env with AWS_LAMBDA_RUNTIME_API set to addr,
// replacing any value it had.
func withRuntimeAPI(env []string, addr string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, runtimeAPIEnv+"=") {
			out = append(out, kv)
		}
	}
	return append(out, runtimeAPIEnv+"="+addr)
}

func (p *Process) wait() {
	awaitExit(p.cmd.Process.Pid)
	err := p.cmd.Wait()
	if p.runtimeExit != nil {
		if known, rerr := p.runtimeExit(); known {
			err = rerr
		}
	}
	if p.limits != nil {
		// The leader was the pid namespace's init: the kernel killed the
		// rest of the namespace with it. finish makes sure of it through
		// the cgroup, then removes the cgroup.
		oom, peak, cerr := p.limits.finish()
		if p.network != nil {
			cerr = errors.Join(cerr, p.network.release())
		}
		p.mu.Lock()
		p.oomKilled, p.cleanupErr = oom, cerr
		p.peak = max(p.peak, peak)
		p.mu.Unlock()
	} else {
		// The leader is gone; make sure nothing it spawned outlives it.
		_ = syscall.Kill(-p.pgid, syscall.SIGKILL)
	}
	p.mu.Lock()
	killed := p.killed
	p.mu.Unlock()
	if killed {
		err = ErrKilled
	}
	p.err = err
	close(p.done)
}

// Pid is the process id of the group leader: the runtime in the process
// sandbox, the environment's init in the linux sandbox.
func (p *Process) Pid() int { return p.pgid }

// SetupWait is how long the start waited before the environment's set-up
// began: the linux sandbox sets up a bounded number of environments at a
// time. It is not part of the environment's init.
func (p *Process) SetupWait() time.Duration { return p.setupWait }

// Done is closed once the process has exited and been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is the exit error; valid after Done is closed. nil means exit 0.
func (p *Process) Err() error { return p.err }

// OOMKilled reports whether the kernel killed a process of the tree for
// exceeding the memory limit; valid after Done is closed. Always false in
// the process sandbox, which sets no limit.
func (p *Process) OOMKilled() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.oomKilled
}

// Kill kills the whole process group and waits for the leader to be
// reaped (and, in the linux sandbox, its cgroup removed). It is safe to
// call more than once and after exit.
func (p *Process) Kill() {
	p.StartKill()
	<-p.done
}

// StartKill sends the kill and returns at once; Done is closed when the
// tree is gone. A timed-out invocation answers without waiting for the
// teardown of, say, a thousand forked processes.
func (p *Process) StartKill() {
	p.mu.Lock()
	select {
	case <-p.done:
		p.mu.Unlock()
		return
	default:
	}
	p.killed = true
	p.mu.Unlock()
	_ = syscall.Kill(-p.pgid, syscall.SIGKILL)
}

// ExitDescription renders an exit error the way Lambda reports it:
// "exit status 1", "signal: killed". Both sandboxes report the runtime's
// own exit (in the linux sandbox the init passes it on).
func ExitDescription(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.String()
	}
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}
