//go:build linux

package sandbox

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLinuxRuntimeExit checks that the linux sandbox reports the
// runtime's own exit as the process sandbox does: the runtime is not pid 1
// of its namespace, so it can abort and signal itself.
func TestLinuxRuntimeExit(t *testing.T) {
	needLinuxSandbox(t)
	mounts := mountCount(t)
	cases := []struct {
		name, script, want string
		python             bool
	}{
		{name: "exit 0", script: "exit 0", want: "exit status 0"},
		{name: "exit 3", script: "exit 3", want: "exit status 3"},
		{name: "abort", script: `exec /usr/bin/python3 -c 'import os; os.abort()'`, want: "signal: aborted", python: true},
		{name: "self SIGABRT", script: "kill -ABRT $$; echo survived", want: "signal: aborted"},
		{name: "self SIGTERM", script: "kill -TERM $$; echo survived", want: "signal: terminated"},
		{name: "self SIGKILL", script: "kill -KILL $$; echo survived", want: "signal: killed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.python {
				needPython(t)
			}
			out, p := runShell(t, Spec{}, tc.script)
			if got := ExitDescription(p.Err()); got != tc.want {
				t.Errorf("exit = %q, want %q; output:\n%s", got, tc.want, out)
			}
			if strings.Contains(out, "survived") {
				t.Errorf("the runtime outlived its own signal:\n%s", out)
			}
			if tc.want == "exit status 0" && p.Err() != nil {
				t.Errorf("Err = %v, want nil for exit 0", p.Err())
			}
			if p.OOMKilled() {
				t.Error("OOMKilled = true")
			}
		})
	}
	assertClean(t, mounts)
}

// TestRuntimeExitErrorReadsAsExitError checks the linux sandbox's exit
// error against the process sandbox's *exec.ExitError for the same exits.
func TestRuntimeExitErrorReadsAsExitError(t *testing.T) {
	for _, script := range []string{"exit 1", "exit 255", "kill -ABRT $$", "kill -KILL $$", "kill -SEGV $$", "kill -TERM $$"} {
		cmd := exec.Command("/bin/sh", "-c", script)
		cmd.Dir = t.TempDir() // where a core file would go
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("%s: err = %v, want an exit error", script, err)
		}
		ws := ee.Sys().(syscall.WaitStatus)
		re := &runtimeExitError{ws}
		if got, want := ExitDescription(re), ExitDescription(err); got != want {
			t.Errorf("%s: %q, want %q", script, got, want)
		}
		if re.ExitCode() != ee.ExitCode() {
			t.Errorf("%s: exit code %d, want %d", script, re.ExitCode(), ee.ExitCode())
		}
	}
}

// procState is the state letter of pid ("R", "S", "Z"...), "" if gone.
func procState(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && len(s) > i+2 {
		return s[i+2 : i+3]
	}
	return ""
}

// tree lists pid and its descendants, host pids, zombies included.
func tree(pid int) []int {
	all := []int{pid}
	for i := 0; i < len(all) && i < maxTreeWalk; i++ {
		all = append(all, readChildren(all[i])...)
	}
	return all
}

// startLinuxShell starts script in the linux sandbox and reads its first
// line of output.
func startLinuxShell(t *testing.T, script string) (*Process, *bufio.Reader, string) {
	t.Helper()
	code := codeDir(t, nil)
	p, err := Start(Spec{Kind: KindLinux, Argv: []string{"/bin/sh", "-c", script}, Dir: code, CodeDir: code, Env: []string{"PATH=/usr/bin:/bin"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Kill()
		p.Output.Close()
	})
	r := bufio.NewReader(p.Output)
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("first line: %v (exit %v)", err, p.Err())
	}
	return p, r, line
}

// TestLinuxInitReapsOrphans checks that an orphan that exits is reaped at
// once while the runtime, which never waits for anything, keeps running.
func TestLinuxInitReapsOrphans(t *testing.T) {
	needLinuxSandbox(t)
	mounts := mountCount(t)
	// The subshell exits at once: its sleep becomes the namespace init's
	// child. The runtime then becomes a sleep, which reaps nothing.
	p, _, line := startLinuxShell(t, "(sleep 0.5 &); echo forked; exec sleep 300")
	if line != "forked\n" {
		t.Fatalf("first line %q", line)
	}
	deadline := time.Now().Add(10 * time.Second)
	sawOrphan := false
	for {
		procs := tree(p.Pid())
		var zombies, live []int
		for _, pid := range procs {
			switch procState(pid) {
			case "Z":
				zombies = append(zombies, pid)
			case "":
			default:
				live = append(live, pid)
			}
		}
		sawOrphan = sawOrphan || len(live) == 3
		if len(zombies) == 0 && len(live) == 2 { // the init and the runtime
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the namespace still holds zombies %v (live %v) 10 s on", zombies, live)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !sawOrphan {
		t.Error("never saw the orphan alive: the test proved nothing")
	}
	select {
	case <-p.Done():
		t.Fatalf("the runtime exited: %v", p.Err())
	default:
	}
	p.Kill()
	if !errors.Is(p.Err(), ErrKilled) {
		t.Errorf("Err = %v, want ErrKilled", p.Err())
	}
	p.Output.Close()
	assertClean(t, mounts)
}

// TestLinuxInitForwardsSIGTERM checks that SIGTERM sent to the
// environment (its init) reaches the runtime.
func TestLinuxInitForwardsSIGTERM(t *testing.T) {
	needLinuxSandbox(t)
	p, r, line := startLinuxShell(t, `trap 'echo got TERM; exit 7' TERM; echo up; sleep 300 & wait`)
	if line != "up\n" {
		t.Fatalf("first line %q", line)
	}
	if err := syscall.Kill(p.Pid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	line, _ = r.ReadString('\n')
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the runtime did not stop on SIGTERM")
	}
	if line != "got TERM\n" {
		t.Errorf("after SIGTERM: %q, want the runtime's trap", line)
	}
	if got := ExitDescription(p.Err()); got != "exit status 7" {
		t.Errorf("exit = %q, want exit status 7", got)
	}
}

// TestLinuxFunctionCannotStopTheInit checks that signals the function
// sends to pid 1 end neither the init nor the environment.
func TestLinuxFunctionCannotStopTheInit(t *testing.T) {
	needLinuxSandbox(t)
	out, p := runShell(t, Spec{}, `for s in KILL STOP HUP INT QUIT ILL TRAP ABRT BUS FPE USR1 SEGV USR2 PIPE ALRM STKFLT SYS; do kill -$s 1; done
cat /proc/1/maps >/dev/null 2>&1 && echo "init is readable"
cat /proc/self/maps >/dev/null && echo "self is readable"
sleep 0.1; echo alive; exit 4`)
	if got := ExitDescription(p.Err()); got != "exit status 4" || !strings.Contains(out, "alive") {
		t.Fatalf("exit = %q, output:\n%s", got, out)
	}
	// The init is the function user too, but not dumpable: no ptrace, no
	// /proc files of it to read.
	if strings.Contains(out, "init is readable") || !strings.Contains(out, "self is readable") {
		t.Errorf("the function read its init's memory map, or not its own:\n%s", out)
	}
}

// raceBuild is set in race builds (race_test.go).
var raceBuild bool

// TestLinuxInitFootprint reports what the init costs an environment
// while the runtime runs, and bounds it.
func TestLinuxInitFootprint(t *testing.T) {
	needLinuxSandbox(t)
	p, _, _ := startLinuxShell(t, "echo up; exec sleep 300")
	status := func() map[string]int {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(p.Pid()) + "/status")
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]int{}
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if f := strings.Fields(v); ok && len(f) > 0 {
				m[k], _ = strconv.Atoi(f[0])
			}
		}
		return m
	}
	// The gust binary's init measured 4.4 MB anonymous with 8 threads.
	maxAnonKB := 8 << 10
	if raceBuild {
		maxAnonKB = 32 << 10
	}
	// Once it has reported the start, the init lets go of the code it ran
	// to set up (releaseCode): what stays mapped is the little its
	// supervision touches. This test binary's init mapped 9.4 MB of its
	// files before, the gust binary's 26 MB; now 2.6 and 3.0 MB.
	const maxFileKB = 4 << 10
	s := status()
	for deadline := time.Now().Add(10 * time.Second); s["RssFile"] > maxFileKB && time.Now().Before(deadline); s = status() {
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("init: VmRSS %d kB (anon %d kB, file %d kB), %d threads", s["VmRSS"], s["RssAnon"], s["RssFile"], s["Threads"])
	if s["RssFile"] > maxFileKB {
		t.Errorf("init maps %d kB of files 10 s after the start, want at most %d kB", s["RssFile"], maxFileKB)
	}
	if s["RssAnon"] > maxAnonKB {
		t.Errorf("init's anonymous memory is %d kB, want at most %d kB", s["RssAnon"], maxAnonKB)
	}
	// The OOM killer picks the function's processes before the init.
	kids := readChildren(p.Pid())
	if len(kids) != 1 {
		t.Fatalf("init's children: %v, want the runtime alone", kids)
	}
	for pid, want := range map[int]string{p.Pid(): "0", kids[0]: "1000"} {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/oom_score_adj")
		if got := strings.TrimSpace(string(b)); got != want {
			t.Errorf("oom_score_adj of %d = %q, want %s", pid, got, want)
		}
	}
	if s["Threads"] > 16 {
		t.Errorf("init has %d threads, want at most 16 (they count against the pids limit)", s["Threads"])
	}
}
