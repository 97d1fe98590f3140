//go:build linux

package sandbox

import (
	"bufio"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// waitShells waits until s holds n ready shells.
func waitShells(t testing.TB, s *Shells, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for s.Ready("shell") < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d shells ready after 20s, want %d", s.Ready("shell"), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// describeEnv is a script that prints what a runtime can see of its
// environment: identity, layout, mounts, limits, network, and the
// Runtime API it was given.
const describeEnv = `
echo "id $(id -u):$(id -g) host $(hostname) cwd $(pwd)"
env | sort
ulimit -n; ulimit -u
df -m /tmp | tail -1 | awk '{print "tmp " $2}'
awk '{print $5, $6}' /proc/self/mountinfo | sed 's/,relatime//'
set -- /proc/[0-9]*; echo "processes $#"
cat /proc/net/dev | awk 'NR>2 {print $1}'
cat /proc/self/status | grep -E '^(Cap|NoNewPrivs|Seccomp)'
echo "ppid $PPID"
`

// runIn starts the describeEnv script through start and returns its
// output, the environment cgroup's limits (read on the host while it
// runs) and the address its Runtime API listener had.
func runIn(t *testing.T, start func(Spec) (*Process, error), spec Spec) (out string, limits []string) {
	t.Helper()
	accepted := make(chan string, 1)
	spec.RuntimeAPI = func(ln net.Listener) {
		accepted <- ln.Addr().String()
		go func() {
			c, err := ln.Accept()
			if err == nil {
				c.Close()
			}
			ln.Close()
		}()
	}
	// The script waits for the hold file, so the test can read the
	// cgroup meanwhile.
	hold := filepath.Join(spec.CodeDir, "go")
	spec.Argv = []string{"/bin/sh", "-c", describeEnv + `echo ready; while [ ! -e /var/task/go ]; do sleep 0.01; done`}
	p, err := start(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Output.Close()
	r := bufio.NewReader(p.Output)
	var b strings.Builder
	for {
		line, err := r.ReadString('\n')
		if line == "ready\n" {
			break
		}
		b.WriteString(line)
		if err != nil {
			p.Kill()
			t.Fatalf("the runtime ended before it was ready: %v\n%s", err, b.String())
		}
	}
	cg := p.limits.(*envCgroup)
	files := []string{"memory.max", "memory.swap.max", "cpu.max", "pids.max"}
	dirs := []string{cg.memDir, cg.memDir, cg.memDir, cg.memDir}
	if cg.v1 != nil {
		files = []string{"memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "cpu.cfs_quota_us", "pids.max"}
		dirs = []string{cg.memDir, cg.memDir, cg.cpuDir, strings.Replace(cg.memDir, "/memory/", "/pids/", 1)}
	}
	for i, f := range files {
		if v, err := os.ReadFile(filepath.Join(dirs[i], f)); err == nil {
			limits = append(limits, f+"="+strings.TrimSpace(string(v)))
		}
	}
	if err := os.WriteFile(hold, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(r)
	b.Write(rest)
	<-p.Done()
	if p.Err() != nil {
		t.Fatalf("exit: %v\n%s", p.Err(), b.String())
	}
	<-accepted
	return b.String(), limits
}

// TestShellEnvIsLikeAFreshOne runs the same spec in a fresh environment
// and in a shell started ahead (made at 128 MB, resized to the spec's
// 1024 MB), and compares everything the runtime can see, and the limits
// of the two cgroups as the host sees them.
func TestShellEnvIsLikeAFreshOne(t *testing.T) {
	needLinuxSandbox(t)
	mounts := mountCount(t)
	spec := func() Spec {
		code := codeDir(t, map[string]string{"handler.txt": "hello\n"})
		return Spec{Kind: KindLinux, CodeDir: code, Dir: code, MemoryMB: 1024, TmpMB: 64,
			Env: []string{"PATH=/usr/bin:/bin", "FUNCTION_VAR=" + code + "/x"}}
	}
	freshOut, freshLimits := runIn(t, Start, spec())

	shells := NewShells(ShellsOptions{Size: 1})
	defer shells.Close()
	waitShells(t, shells, 1)
	shellOut, shellLimits := runIn(t, shells.Start, spec())
	if taken, missed := shells.Stats(); taken != 1 || missed != 0 {
		t.Fatalf("shells taken %d, missed %d; want the start to take the ready shell", taken, missed)
	}

	if len(freshLimits) < 3 {
		t.Fatalf("read only %v of the fresh cgroup", freshLimits)
	}
	if strings.Join(shellLimits, " ") != strings.Join(freshLimits, " ") {
		t.Errorf("cgroup limits differ:\nshell %v\nfresh %v", shellLimits, freshLimits)
	}
	// Mount ids and the veth's name differ between any two environments.
	norm := regexp.MustCompile(`gv[0-9a-f]+`)
	if a, b := norm.ReplaceAllString(shellOut, "gv*"), norm.ReplaceAllString(freshOut, "gv*"); a != b {
		t.Errorf("a shell's environment differs from a fresh one:\n--- shell\n%s\n--- fresh\n%s", a, b)
	}
	for _, want := range []string{"id 993:990 host localhost cwd /var/task", "FUNCTION_VAR=/var/task/x", "tmp 64\n", "ppid 1\n"} {
		if !strings.Contains(shellOut, want) {
			t.Errorf("the shell's environment lacks %q:\n%s", want, shellOut)
		}
	}
	shells.Close()
	assertClean(t, mounts)
}

// TestShellsReplaceDeadShells kills a waiting shell's init: the next
// start must not use it, and the pool refills.
func TestShellsReplaceDeadShells(t *testing.T) {
	needLinuxSandbox(t)
	mounts := mountCount(t)
	shells := NewShells(ShellsOptions{Size: 1})
	defer shells.Close()
	waitShells(t, shells, 1)
	shells.mu.Lock()
	victim := shells.pools[0].ready[0]
	shells.mu.Unlock()
	if err := syscall.Kill(victim.pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	gone := time.Now().Add(10 * time.Second)
	for victim.alive() {
		if time.Now().After(gone) {
			t.Fatal("the killed shell's init still runs after 10s")
		}
		time.Sleep(time.Millisecond)
	}
	out, p := runShellWith(t, shells.Start, Spec{}, "echo alive")
	if p.Err() != nil || out != "alive\n" {
		t.Fatalf("start after a dead shell: %v %q", p.Err(), out)
	}
	if taken, missed := shells.Stats(); taken != 0 || missed != 1 {
		t.Errorf("taken %d, missed %d; want the dead shell skipped", taken, missed)
	}
	waitShells(t, shells, 1)
	shells.Close()
	if shells.Ready("shell") != 0 {
		t.Errorf("%d shells left after Close", shells.Ready("shell"))
	}
	assertClean(t, mounts)
}

// TestShellsPassOtherSpecsThrough: a process-sandbox spec never takes a
// shell.
func TestShellsPassOtherSpecsThrough(t *testing.T) {
	needLinuxSandbox(t)
	shells := NewShells(ShellsOptions{Size: 1})
	defer shells.Close()
	waitShells(t, shells, 1)
	p, err := shells.Start(Spec{Kind: KindProcess, Argv: []string{"/bin/true"}, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, p.Output)
	p.Output.Close()
	<-p.Done()
	if taken, missed := shells.Stats(); taken != 0 || missed != 0 || shells.Ready("shell") != 1 {
		t.Errorf("taken %d, missed %d, ready %d; want the shell left alone", taken, missed, shells.Ready("shell"))
	}
}
