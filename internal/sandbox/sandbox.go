// Package sandbox starts, confines and kills the process tree of one
// execution environment.
//
// The process sandbox (this file) is portable: the runtime runs as a child
// in its own process group with its own working directory and a clean
// environment. It confines nothing beyond that; docs/ARCHITECTURE.md says
// what each sandbox promises. Each Process owns one goroutine that waits for
// the child and reaps it; Kill always takes the whole group down.
package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Spec describes one environment's process.
type Spec struct {
	Argv []string // Argv[0] is an absolute path
	Dir  string   // working directory
	Env  []string // the whole environment; nothing is inherited
}

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

	mu         sync.Mutex
	killed     bool
	peak       int64     // peak RSS bytes of the tree seen by SampleMemory
	samples    int       // reads of /proc by SampleMemory
	lastSample time.Time // when SampleMemory last read /proc
}

// ErrKilled is the exit error of a process stopped by Kill.
var ErrKilled = errors.New("sandbox: killed")

// Start starts the process in a new process group.
func Start(spec Spec) (*Process, error) {
	if len(spec.Argv) == 0 {
		return nil, errors.New("start sandbox: empty argv")
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start sandbox: %w", err)
	}
	cmd := exec.Command(spec.Argv[0], spec.Argv[1:]...)
	cmd.Dir = spec.Dir
	cmd.Env = spec.Env
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

func (p *Process) wait() {
	err := p.cmd.Wait()
	p.mu.Lock()
	killed := p.killed
	p.mu.Unlock()
	// The leader is gone; make sure nothing it spawned outlives it.
	_ = syscall.Kill(-p.pgid, syscall.SIGKILL)
	if killed {
		err = ErrKilled
	}
	p.err = err
	close(p.done)
}

// Pid is the process id of the group leader.
func (p *Process) Pid() int { return p.pgid }

// Done is closed once the process has exited and been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is the exit error; valid after Done is closed. nil means exit 0.
func (p *Process) Err() error { return p.err }

// Kill kills the whole process group and waits for the leader to be
// reaped. It is safe to call more than once and after exit.
func (p *Process) Kill() {
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
	<-p.done
}

// ExitDescription renders an exit error the way Lambda reports it:
// "exit status 1", "signal: killed".
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
