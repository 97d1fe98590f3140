//go:build linux

package sandbox

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// needLinuxSandbox skips when the linux sandbox cannot run here.
func needLinuxSandbox(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the linux sandbox needs root (CI runs as root)")
	}
	if _, err := os.Stat("/sys/fs/cgroup"); err != nil {
		t.Skip("no cgroup file system")
	}
}

// codeDir makes a code dir the function user can read, with files.
func codeDir(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, ".sh") || name == "bootstrap" {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// ownCgroups lists this process's environment cgroups left in the memory
// hierarchy (every environment has one there).
func ownCgroups(t testing.TB) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	var memPath string
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && (parts[1] == "memory" || parts[0] == "0" && memPath == "") {
			memPath = parts[2]
			if parts[1] == "memory" {
				break
			}
		}
	}
	dirs := []string{filepath.Join(cgroupRoot, "memory", memPath, cgroupParent), filepath.Join(cgroupRoot, memPath, cgroupParent)}
	prefix := strconv.Itoa(os.Getpid()) + "-"
	var left []string
	for _, d := range dirs {
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			if e.IsDir() && strings.HasPrefix(e.Name(), prefix) {
				left = append(left, filepath.Join(d, e.Name()))
			}
		}
	}
	return left
}

// children lists this process's live child processes.
func children(t testing.TB) []int {
	t.Helper()
	tasks, _ := os.ReadDir("/proc/self/task")
	var kids []int
	for _, task := range tasks {
		b, _ := os.ReadFile("/proc/self/task/" + task.Name() + "/children")
		kids = parsePids(b, kids)
	}
	return kids
}

func mountCount(t testing.TB) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

// assertClean checks that nothing of the sandboxes outlived them.
func assertClean(t testing.TB, mounts int) {
	t.Helper()
	if left := ownCgroups(t); len(left) > 0 {
		t.Errorf("cgroups left behind: %v", left)
	}
	if kids := children(t); len(kids) > 0 {
		t.Errorf("processes left behind: %v", kids)
	}
	if got := mountCount(t); got != mounts {
		t.Errorf("host mounts: %d, want %d (a sandbox mount leaked)", got, mounts)
	}
}

// runShell runs script with /bin/sh in the linux sandbox and returns its
// output and process, after it exited.
func runShell(t *testing.T, spec Spec, script string) (string, *Process) {
	t.Helper()
	return runShellWith(t, Start, spec, script)
}

// runShellWith is runShell with start in place of Start.
func runShellWith(t *testing.T, start func(Spec) (*Process, error), spec Spec, script string) (string, *Process) {
	t.Helper()
	spec.Kind = KindLinux
	spec.Argv = []string{"/bin/sh", "-c", script}
	if spec.CodeDir == "" {
		spec.CodeDir = codeDir(t, nil)
	}
	if spec.Dir == "" {
		spec.Dir = spec.CodeDir
	}
	if spec.Env == nil {
		spec.Env = []string{"PATH=/usr/bin:/bin"}
	}
	p, err := start(spec)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(p.Output)
	p.Output.Close()
	select {
	case <-p.Done():
	case <-time.After(30 * time.Second):
		p.Kill()
		t.Fatalf("sandbox did not exit; output:\n%s", out)
	}
	return string(out), p
}

func TestLinuxLayout(t *testing.T) {
	needLinuxSandbox(t)
	mounts := mountCount(t)
	code := codeDir(t, map[string]string{"handler.txt": "hello\n"})
	rt := codeDir(t, map[string]string{"boot.txt": "runtime\n"})
	secretDir := t.TempDir()
	os.WriteFile(filepath.Join(secretDir, "secret"), []byte("s3cret"), 0o644)
	script := `
pwd
cat handler.txt
cat /var/runtime/boot.txt
echo "ARG=$1 ENV=$CODE"
id -u; id -g
hostname
cat ` + secretDir + `/secret 2>/dev/null || echo "no secret"
{ echo x > /var/task/new; } 2>/dev/null || echo "task ro"
{ echo x > /etc/new; } 2>/dev/null || echo "etc ro"
{ echo x > /usr/new; } 2>/dev/null || echo "usr ro"
echo x > /tmp/new && echo "tmp rw"
test -e /etc/shadow || echo "no shadow"
ls /proc | grep -c '^[0-9]'
echo "ppid $PPID"
df -m /tmp | tail -1 | awk '{print "tmp " $2}'
ulimit -n
`
	spec := Spec{CodeDir: code, RuntimeDir: rt, TmpMB: 16, Env: []string{"PATH=/usr/bin:/bin", "CODE=" + code + "/lib:" + rt}}
	spec.Kind = KindLinux
	spec.Argv = []string{"/bin/sh", "-c", script, "sh", code + "/handler.txt"}
	spec.Dir = code
	p, err := Start(spec)
	if err != nil {
		t.Fatal(err)
	}
	outB, _ := io.ReadAll(p.Output)
	<-p.Done()
	out := string(outB)
	if p.Err() != nil {
		t.Fatalf("exit: %v\n%s", p.Err(), out)
	}
	for _, want := range []string{
		"/var/task\nhello\nruntime\n",
		"ARG=/var/task/handler.txt ENV=/var/task/lib:/var/runtime\n",
		"993\n990\nlocalhost\n",
		"no secret\ntask ro\netc ro\nusr ro\ntmp rw\nno shadow\n",
		"ppid 1\n", // the init, pid 1, is its parent
		"tmp 16\n",
		"1024\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	assertClean(t, mounts)
}

func TestLinuxStartError(t *testing.T) {
	needLinuxSandbox(t)
	mounts := mountCount(t)
	code := codeDir(t, nil)
	_, err := Start(Spec{Kind: KindLinux, Argv: []string{code + "/bootstrap"}, Dir: code, CodeDir: code})
	var pe *os.PathError
	if !errors.As(err, &pe) || pe.Path != "/var/task/bootstrap" || !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("err = %v, want fork/exec /var/task/bootstrap: no such file", err)
	}
	assertClean(t, mounts)
}

func TestLinuxTmpIsBounded(t *testing.T) {
	needLinuxSandbox(t)
	out, p := runShell(t, Spec{TmpMB: 8, MemoryMB: 256}, `dd if=/dev/zero of=/tmp/fill bs=1M count=20 2>&1; echo "rc=$?"`)
	if !strings.Contains(out, "No space left on device") || !strings.Contains(out, "rc=1") {
		t.Fatalf("filling /tmp: %s (err %v)", out, p.Err())
	}
}

func TestLinuxKillTakesTheNamespace(t *testing.T) {
	needLinuxSandbox(t)
	mounts := mountCount(t)
	code := codeDir(t, nil)
	p, err := Start(Spec{Kind: KindLinux, Argv: []string{"/bin/sh", "-c", "setsid sleep 300 & sleep 300 & echo up; wait"}, Dir: code, CodeDir: code, Env: []string{"PATH=/usr/bin:/bin"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(p.Output).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	p.Kill()
	if !errors.Is(p.Err(), ErrKilled) {
		t.Fatalf("Err = %v, want ErrKilled", p.Err())
	}
	p.Output.Close()
	if p.cleanupErr != nil {
		t.Fatalf("cleanup: %v", p.cleanupErr)
	}
	assertClean(t, mounts)
}

func TestLinuxOOMIsReported(t *testing.T) {
	needLinuxSandbox(t)
	mounts := mountCount(t)
	// 128 MB limit; the hog wants 512 MB.
	out, p := runShell(t, Spec{MemoryMB: 128}, `exec /usr/bin/python3 -c 'b = bytearray(512 << 20); print("survived")'`)
	if !p.OOMKilled() {
		t.Fatalf("OOMKilled = false; err %v, output %s", p.Err(), out)
	}
	if got := ExitDescription(p.Err()); got != "signal: killed" {
		t.Errorf("exit = %q, want signal: killed", got)
	}
	if peak := p.SampleMemory(); peak < 100<<20 || peak > 130<<20 {
		t.Errorf("peak = %d MiB, want about the 128 MiB limit", peak>>20)
	}
	assertClean(t, mounts)

	_, p = runShell(t, Spec{MemoryMB: 128}, `exec /usr/bin/python3 -c 'b = bytearray(16 << 20)'`)
	if p.OOMKilled() || p.Err() != nil {
		t.Fatalf("small allocation: OOMKilled %v, err %v", p.OOMKilled(), p.Err())
	}
}

func TestLinuxForkBombIsContained(t *testing.T) {
	needLinuxSandbox(t)
	mounts := mountCount(t)
	code := codeDir(t, nil)
	// Each shell forks two more, without end.
	p, err := Start(Spec{Kind: KindLinux, Argv: []string{"/bin/sh", "-c", "b() { b & b & wait; }; b 2>/dev/null"},
		Dir: code, CodeDir: code, MemoryMB: 1769, Env: []string{"PATH=/usr/bin:/bin"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	dirs := p.limits.(*envCgroup).dirs
	pidsDir := dirs[0] // v2: the one directory
	for _, d := range dirs {
		if strings.HasPrefix(d, filepath.Join(cgroupRoot, "pids")+"/") {
			pidsDir = d
		}
	}
	current := func() int {
		b, _ := os.ReadFile(filepath.Join(pidsDir, "pids.current"))
		n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return n
	}
	deadline := time.Now().Add(20 * time.Second)
	for current() < pidsLimit-16 {
		if time.Now().After(deadline) {
			t.Fatalf("the bomb reached only %d processes", current())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := current(); n > pidsLimit {
		t.Fatalf("%d processes, over the limit %d", n, pidsLimit)
	}
	p.Kill()
	p.Output.Close()
	if p.cleanupErr != nil {
		t.Fatalf("cleanup: %v", p.cleanupErr)
	}
	assertClean(t, mounts)
}

func TestCPUQuota(t *testing.T) {
	for _, tc := range []struct {
		mb   int
		want int64
	}{{128, 7235}, {1769, 100_000}, {10240, min(int64(10240*100_000/1769), int64(100_000*runtime.NumCPU()))}, {1, 1000}} {
		if got := cpuQuota(tc.mb); got != tc.want {
			t.Errorf("cpuQuota(%d) = %d, want %d", tc.mb, got, tc.want)
		}
	}
}

// BenchmarkStart measures a cold start's sandbox cost: start /bin/true
// with a Runtime API listener, wait for its exit and, in the linux
// sandbox, for its cgroup's and network's removal. linux-hostnet leaves
// the environment in the host's network namespace, to show the network
// namespace's share; linux-only-env is linux with no other environment
// alive, so the host rules are written and removed on every start.
// start-ms is the part a cold start waits for.
//
//	go test -run '^$' -bench Start -benchtime 200x ./internal/sandbox
func BenchmarkStart(b *testing.B) {
	needLinuxSandbox(b)
	code := codeDir(b, nil)
	cases := []struct {
		name    string
		spec    Spec
		keepNet bool // another environment keeps the host rules in place
	}{
		{"process", Spec{Kind: KindProcess}, false},
		{"linux-hostnet", Spec{Kind: KindLinux, hostNetwork: true}, false},
		{"linux", Spec{Kind: KindLinux}, true},
		{"linux-only-env", Spec{Kind: KindLinux}, false},
		{"linux-shell", Spec{Kind: KindLinux}, true},
	}
	for _, c := range cases {
		b.Run("sandbox="+c.name, func(b *testing.B) {
			start := Start
			var shells *Shells
			if c.name == "linux-shell" {
				// A shell started ahead, as Shells keeps them; the wait
				// for the next one is outside the timed start.
				shells = NewShells(ShellsOptions{Size: 1})
				defer shells.Close()
				start = shells.Start
			}
			if c.keepNet {
				keep, err := Start(Spec{Kind: KindLinux, Argv: []string{"/bin/sleep", "600"}, Dir: code, CodeDir: code})
				if err != nil {
					b.Fatal(err)
				}
				defer keep.Output.Close()
				defer keep.Kill()
			}
			b.ReportAllocs()
			var starting time.Duration
			for b.Loop() {
				spec := c.spec
				spec.Argv, spec.Dir, spec.CodeDir = []string{"/bin/true"}, code, code
				spec.RuntimeAPI = func(ln net.Listener) { ln.Close() }
				if c.name == "linux-shell" {
					b.StopTimer()
					waitShells(b, shells, 1)
					b.StartTimer()
				}
				t0 := time.Now()
				p, err := start(spec)
				starting += time.Since(t0)
				if err != nil {
					b.Fatal(err)
				}
				<-p.Done()
				p.Output.Close()
				if p.Err() != nil {
					b.Fatal(p.Err())
				}
			}
			// start-ms is what a cold start waits for: until the runtime
			// was executed. ns/op adds its exit and the cleanup.
			b.ReportMetric(float64(starting.Microseconds())/1000/float64(b.N), "start-ms")
		})
	}
}
