package sandbox

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The linux sandbox's init stays pid 1 of the environment's pid namespace
// and runs the runtime beneath it, as Lambda's own init does. The kernel
// treats a namespace's pid 1 specially: signals it sends itself, or that
// come from inside the namespace, are dropped unless it handles them, and
// every orphan becomes its child. A runtime at pid 1 could not abort()
// (glibc's abort ends in SIGSEGV), could not kill itself, and left its
// orphans' zombies until the environment ended. So the init, once the
// private root is built and it has become the function user (Init), forks
// the runtime, reaps every child that exits, forwards SIGTERM to the
// runtime, ignores every other signal, and when the runtime exits writes
// its wait status to the server and exits: the kernel then kills what is
// left of the namespace. The server reports that status, so an exit reads
// as in the process sandbox ("exit status 1", "signal: aborted").

// initReport is one line of JSON the init writes on its status pipe: Err
// when the set-up failed (then the init exits), else Started once the
// runtime was executed, and later Wait, the runtime's wait status, when it
// exited (then the init exits).
type initReport struct {
	Err     *initError `json:"err,omitempty"`
	Ready   bool       `json:"ready,omitempty"` // a shell: in its root, waiting for initLaunch
	Started bool       `json:"started,omitempty"`
	Wait    *uint32    `json:"wait,omitempty"`
}

// initSignals are the signals the init handles: SIGCHLD, SIGTERM, and
// every other signal that ends a Go program by default. The function runs
// as the same user and may send the init any signal; those it is not meant
// to act on are dropped (SIGKILL and SIGSTOP from inside the namespace the
// kernel drops itself).
var initSignals = []os.Signal{
	syscall.SIGCHLD, syscall.SIGTERM,
	syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGILL, syscall.SIGTRAP, syscall.SIGABRT,
	syscall.SIGBUS, syscall.SIGFPE, syscall.SIGSEGV, syscall.SIGSTKFLT, syscall.SIGSYS,
}

// watchSignals starts handling initSignals and hands over the channel
// they arrive on. Each signal costs a round trip to Go's signal thread
// (about 100 µs each, all told), so it runs in the background while the
// init waits for its configuration.
func watchSignals() <-chan chan os.Signal {
	ready := make(chan chan os.Signal, 1)
	go func() {
		sigs := make(chan os.Signal, 16)
		signal.Notify(sigs, initSignals...)
		ready <- sigs
	}()
	return ready
}

// superviseRuntime runs in the init once it is the unprivileged function
// user and the runtime (pid) runs with the environment's limits, cgroup
// and working directory. It reports the start, lets go of the binary's
// code pages (code, from codeLayout.place), passes SIGTERM on and reports the
// runtime's exit. It never returns.
func superviseRuntime(pid int, status *os.File, sigs <-chan os.Signal, code []addrRange) {
	if err := json.NewEncoder(status).Encode(initReport{Started: true}); err != nil {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		os.Exit(127) // the server gave up on the environment
	}
	// After the report, so it costs the cold start nothing.
	releaseCode(code)
	for {
		if ws, exited := reap(pid); exited {
			w := uint32(ws)
			_ = json.NewEncoder(status).Encode(initReport{Wait: &w})
			os.Exit(initExitCode(ws))
		}
		if sig := <-sigs; sig == syscall.SIGTERM {
			_ = syscall.Kill(pid, syscall.SIGTERM)
		}
	}
}

// spareThreads makes the Go runtime start n more OS threads and keep them
// idle: n goroutines hold a thread each at the same time, then release
// it; the runtime parks released threads for reuse and never ends them.
func spareThreads(n int) {
	var held, done sync.WaitGroup
	release := make(chan struct{})
	for range n {
		held.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			runtime.LockOSThread()
			held.Done()
			<-release
			runtime.UnlockOSThread()
		}()
	}
	held.Wait()
	close(release)
	done.Wait()
}

// reap collects every child that has exited, without blocking, and
// reports whether the runtime (pid) was one of them, with its status.
func reap(pid int) (rt syscall.WaitStatus, exited bool) {
	for {
		var ws syscall.WaitStatus
		got, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil || got <= 0 { // ECHILD, or none exited yet
			return rt, exited
		}
		if got == pid {
			rt, exited = ws, true
		}
	}
}

// initExitCode is the init's own exit code for the runtime's status, as a
// shell would give it; the server reads the status itself from the pipe.
func initExitCode(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// errNoReport is readReport's error when the init exited first.
var errNoReport = errors.New("init exited without a report")

// readReport reads the init's next report.
func readReport(r *bufio.Reader) (initReport, error) {
	var rep initReport
	line, err := r.ReadBytes('\n')
	if len(line) == 0 {
		if errors.Is(err, io.EOF) {
			return rep, errNoReport
		}
		return rep, err
	}
	if err := json.Unmarshal(line, &rep); err != nil {
		return rep, errors.New("init: " + strings.TrimSpace(string(line)))
	}
	return rep, nil
}

// exitReader returns Process.runtimeExit for an init whose status pipe is
// f, read through r: once the init has exited, the runtime's own exit.
func exitReader(f *os.File, r *bufio.Reader) func() (known bool, err error) {
	return func() (bool, error) {
		defer f.Close()
		// The init has exited, so everything it wrote is there; the
		// deadline only guards against a writer that should not exist.
		_ = f.SetReadDeadline(time.Now().Add(time.Second))
		rep, err := readReport(r)
		if err != nil || rep.Wait == nil {
			return false, nil
		}
		ws := syscall.WaitStatus(*rep.Wait)
		if ws.Exited() && ws.ExitStatus() == 0 {
			return true, nil
		}
		return true, &runtimeExitError{ws}
	}
}

// runtimeExitError is the runtime's exit in the linux sandbox, where the
// process the server waits for is the init. It reads as the process
// sandbox's *exec.ExitError does.
type runtimeExitError struct{ ws syscall.WaitStatus }

// Error renders the status as os.ProcessState.String does.
func (e *runtimeExitError) Error() string {
	ws := e.ws
	var s string
	switch {
	case ws.Exited():
		s = "exit status " + strconv.Itoa(ws.ExitStatus())
	case ws.Signaled():
		s = "signal: " + ws.Signal().String()
	default:
		s = "wait status " + strconv.Itoa(int(ws))
	}
	if ws.CoreDump() {
		s += " (core dumped)"
	}
	return s
}

// ExitCode is the runtime's exit code, -1 if a signal ended it (as
// exec.ExitError's).
func (e *runtimeExitError) ExitCode() int { return e.ws.ExitStatus() }
