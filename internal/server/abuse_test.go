//go:build linux

package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"gust/internal/config"
	"gust/internal/gusttest"
)

// This file holds one test per abuse case of issue 5, each run against
// both sandboxes (skipped, with the reason, where a case cannot apply): a
// function that eats memory, forks, fills /tmp, opens files, floods its
// output, never asks for work, crashes in init, spins the CPU or ignores
// SIGTERM. Each asserts the Lambda-shaped error the invoker gets, complete
// cleanup (no process carrying the function's token in its environment;
// under linux no environment cgroup and no mount left), the timeout held
// to within 100 ms, and that a well-behaved probe function keeps answering
// meanwhile. The functions are in testdata/abuse.
//
// The tests are not parallel: they measure timing and latency, check
// cgroups and mounts of the whole test process, and some saturate the
// machine on purpose.

// abuseTokenVar carries a random token in the abusive function's
// environment, so the test finds its processes from the host through
// /proc/<pid>/environ, whatever they became.
const abuseTokenVar = "GUST_ABUSE_TOKEN"

// probeMaxLatency bounds the probe's latency during an abuse: generous,
// since the point is "keeps answering", not a tight timing.
const probeMaxLatency = 2 * time.Second

// forEachSandbox runs f under each sandbox as a subtest; skip maps a
// sandbox to the reason the case does not apply there. GUST_TEST_SANDBOX,
// when set, leaves only that sandbox's half to run.
func forEachSandbox(t *testing.T, skip map[string]string, f func(t *testing.T, kind string)) {
	only := os.Getenv("GUST_TEST_SANDBOX")
	for _, kind := range []string{"process", "linux"} {
		t.Run(kind, func(t *testing.T) {
			if only != "" && only != kind {
				t.Skipf("GUST_TEST_SANDBOX=%s", only)
			}
			if why := skip[kind]; why != "" {
				t.Skip(why)
			}
			f(t, kind)
		})
	}
}

// abuseRig is a server with a warm probe function and a token for the
// abusive function's environment.
type abuseRig struct {
	srv   *gusttest.Server
	c     *lambda.Client
	kind  string
	token string
	zip   []byte
}

// newAbuseRig starts a server with the given sandbox (skipping the linux
// half when it cannot run) and a warm probe. When the test ends it stops
// the server and checks that nothing of the environments is left.
func newAbuseRig(t *testing.T, kind string, opts ...func(*config.Server)) *abuseRig {
	t.Helper()
	if kind == "linux" {
		if os.Geteuid() != 0 {
			t.Skip("the linux sandbox needs root on Linux (CI runs as root)")
		}
		if _, err := os.Stat("/sys/fs/cgroup"); err != nil {
			t.Skip("the linux sandbox needs a cgroup file system")
		}
	}
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	var cgBefore, mountsBefore []string
	if kind == "linux" {
		cgBefore, _ = sandboxLeftovers(t)
		mountsBefore = hostMountPoints(t)
	}
	tok := make([]byte, 12)
	_, _ = rand.Read(tok)
	opts = append([]func(*config.Server){func(c *config.Server) { c.Sandbox = kind }}, opts...)
	r := &abuseRig{srv: gusttest.StartServer(t, opts...), kind: kind, token: hex.EncodeToString(tok), zip: abuseZip(t)}
	r.c = r.srv.Lambda()
	t.Cleanup(func() { // runs before the harness's own Stop
		r.srv.Stop()
		if pids := tokenPids(r.token); len(pids) > 0 {
			t.Errorf("processes of the abusive function left after shutdown: %v", pids)
		}
		if kind != "linux" {
			return
		}
		cg, _ := sandboxLeftovers(t)
		if left := slices.DeleteFunc(cg, func(d string) bool { return slices.Contains(cgBefore, d) }); len(left) > 0 {
			t.Errorf("environment cgroups left after shutdown: %v", left)
		}
		// Environments mount only inside their own mount namespace.
		if left := slices.DeleteFunc(hostMountPoints(t), func(m string) bool { return slices.Contains(mountsBefore, m) }); len(left) > 0 {
			t.Errorf("host mounts left after shutdown: %v", left)
		}
	})
	createFunction(t, r.c, "probe", types.RuntimeNodejs20x, "probe.handler", r.zip)
	mustSucceed(t, invokeTail(t, r.c, "probe", `{}`))
	return r
}

// abuseZip packs testdata/abuse, modes kept (bootstrap is executable).
func abuseZip(t *testing.T) []byte {
	t.Helper()
	dir := filepath.Join(gusttest.RepoRoot(t), "internal", "server", "testdata", "abuse")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]gusttest.File{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = gusttest.File{Body: string(b), Mode: info.Mode().Perm()}
	}
	return gusttest.ZipFiles(t, files)
}

// create creates the abusive function, with the rig's token in its
// environment.
func (r *abuseRig) create(t *testing.T, name string, rt types.Runtime, handler string, edit ...func(*lambda.CreateFunctionInput)) {
	t.Helper()
	edit = append([]func(*lambda.CreateFunctionInput){withEnv(map[string]string{abuseTokenVar: r.token})}, edit...)
	createFunction(t, r.c, name, rt, handler, r.zip, edit...)
}

func withMemory(mb int32) func(*lambda.CreateFunctionInput) {
	return func(in *lambda.CreateFunctionInput) { in.MemorySize = aws.Int32(mb) }
}

// abuseRun is what the rig saw while an abuse ran.
type abuseRun struct {
	wall           time.Duration   // the abuse, as the caller saw it
	maxProcs       int             // most processes carrying the token at once
	cgroups        map[string]bool // environment cgroup directories they were in
	sigtermIgnored bool            // one of them ignored SIGTERM
	cpuTicks       int64           // most CPU time (clock ticks) used by them at once
	heapGrowth     int64           // peak HeapInuse of this process minus before
}

// run runs abuse while the probe function is invoked over and over and
// the host's /proc is watched for the abusive function's processes. It
// fails the test if the probe fails or its latency during the abuse
// passes probeMaxLatency.
func (r *abuseRig) run(t *testing.T, abuse func()) abuseRun {
	t.Helper()
	var base []time.Duration
	for range 10 {
		start := time.Now()
		if _, err := r.c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("probe")}); err != nil {
			t.Fatalf("probe before the abuse: %v", err)
		}
		base = append(base, time.Since(start))
	}
	slices.Sort(base)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heapBefore := int64(ms.HeapInuse)

	type sample struct{ start, end time.Time }
	var (
		mu      sync.Mutex
		samples []sample
		wg      sync.WaitGroup
		seen    = abuseRun{cgroups: map[string]bool{}}
		peak    = heapBefore
		stop    = make(chan struct{})
	)
	wg.Go(func() { // the probe
		for {
			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			out, err := r.c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("probe")})
			cancel()
			switch {
			case err != nil:
				t.Errorf("probe invoke during the abuse: %v", err)
			case out.FunctionError != nil:
				t.Errorf("probe failed during the abuse: %s", out.Payload)
			}
			mu.Lock()
			samples = append(samples, sample{start, time.Now()})
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	wg.Go(func() { // the watcher
		for {
			pids := tokenPids(r.token)
			var ticks int64
			// A few of a fork bomb's processes tell as much as all of them.
			for i, pid := range pids[:min(len(pids), 16)] {
				if i < 3 {
					for _, d := range envCgroupDirs(pid) {
						seen.cgroups[d] = true
					}
				}
				st := procStatus(pid)
				ticks += st.cpuTicks
				seen.sigtermIgnored = seen.sigtermIgnored || st.sigtermIgnored
			}
			seen.maxProcs = max(seen.maxProcs, len(pids))
			seen.cpuTicks = max(seen.cpuTicks, ticks)
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peak = max(peak, int64(ms.HeapInuse))
			select {
			case <-stop:
				return
			case <-time.After(25 * time.Millisecond):
			}
		}
	})
	begin := time.Now()
	abuse()
	end := time.Now()
	close(stop)
	wg.Wait()
	seen.wall = end.Sub(begin)
	seen.heapGrowth = peak - heapBefore

	var lat []time.Duration
	for _, s := range samples {
		if s.end.After(begin) && s.start.Before(end) {
			lat = append(lat, s.end.Sub(s.start))
		}
	}
	slices.Sort(lat)
	if len(lat) == 0 { // possible only for an abuse shorter than the probe's period
		if seen.wall > 100*time.Millisecond {
			t.Fatalf("no probe invocation overlapped the %s abuse", seen.wall)
		}
		t.Logf("abuse took %s, too short to probe", seen.wall)
		return seen
	}
	p50, worst := lat[(len(lat)-1)/2], lat[len(lat)-1]
	t.Logf("abuse took %s; probe during it: %d invokes, p50 %s, max %s (before: p50 %s, max %s); abusive processes at most %d; heap +%d MB",
		seen.wall.Round(time.Millisecond), len(lat), p50.Round(time.Microsecond), worst.Round(time.Microsecond),
		base[4].Round(time.Microsecond), base[9].Round(time.Microsecond), seen.maxProcs, seen.heapGrowth>>20)
	if worst > probeMaxLatency {
		t.Errorf("probe latency during the abuse: max %s (p50 %s), want under %s", worst, p50, probeMaxLatency)
	}
	if seen.wall > 500*time.Millisecond && len(lat) < 3 {
		t.Errorf("only %d probe invocations during a %s abuse: the probe was stalled", len(lat), seen.wall)
	}
	return seen
}

// assertCleanedUp fails unless no process carries the token and every
// environment cgroup seen is gone. Kill is synchronous in Gust, so this
// allows only the moment the kernel needs to finish SIGKILLed processes.
func (r *abuseRig) assertCleanedUp(t *testing.T, run abuseRun, when string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		pids := tokenPids(r.token)
		var dirs []string
		for d := range run.cgroups {
			if _, err := os.Stat(d); err == nil {
				dirs = append(dirs, d)
			}
		}
		if len(pids) == 0 && len(dirs) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: processes %v and cgroups %v still there 2 s later", when, pids, dirs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// assertSeen fails unless the watcher saw the abusive environment (so the
// cleanup check proved something): its processes and, under linux, its
// cgroup.
func (r *abuseRig) assertSeen(t *testing.T, run abuseRun) {
	t.Helper()
	if run.maxProcs == 0 {
		t.Fatal("the watcher never saw a process of the abusive function")
	}
	if r.kind == "linux" && len(run.cgroups) == 0 {
		t.Fatal("the watcher never saw the environment's cgroup")
	}
}

// deleteAndCheck deletes the function, which stops its warm environment,
// and checks nothing of it is left.
func (r *abuseRig) deleteAndCheck(t *testing.T, name string, run abuseRun) {
	t.Helper()
	if _, err := r.c.DeleteFunction(context.Background(), &lambda.DeleteFunctionInput{FunctionName: aws.String(name)}); err != nil {
		t.Fatalf("delete %s: %v", name, err)
	}
	r.assertCleanedUp(t, run, "after DeleteFunction")
}

// checkDeadline asserts that an invocation that timed out took its
// timeout, and at most 100 ms plus extra more.
func checkDeadline(t *testing.T, wall, timeout, extra time.Duration) {
	t.Helper()
	if wall < timeout {
		t.Errorf("the invocation ended after %s, before its %s timeout", wall, timeout)
	}
	if limit := timeout + 100*time.Millisecond + extra; wall > limit {
		t.Errorf("the invocation ended after %s: %s past its %s timeout, want at most %s", wall, wall-timeout, timeout, limit-timeout)
	}
}

// tokenPids lists the host's processes whose environment holds token.
func tokenPids(token string) []int {
	ents, _ := os.ReadDir("/proc")
	needle := []byte(abuseTokenVar + "=" + token + "\x00")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if b, err := os.ReadFile("/proc/" + e.Name() + "/environ"); err == nil && bytes.Contains(b, needle) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// hostMountPoints lists the mount points this process sees.
func hostMountPoints(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var points []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if f := strings.Fields(line); len(f) > 4 {
			points = append(points, f[4])
		}
	}
	return points
}

// envCgroupDirs lists the host directories of pid's environment cgroups
// (those under a gust/ parent), one per hierarchy.
func envCgroupDirs(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return nil
	}
	var dirs []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 || !strings.Contains(parts[2], "/gust/") {
			continue
		}
		if parts[1] == "" { // v2
			dirs = append(dirs, filepath.Join("/sys/fs/cgroup", parts[2]))
		} else {
			dirs = append(dirs, filepath.Join("/sys/fs/cgroup", strings.TrimPrefix(parts[1], "name="), parts[2]))
		}
	}
	return dirs
}

var sigIgnRE = regexp.MustCompile(`(?m)^SigIgn:\s*([0-9a-f]+)$`)

type procInfo struct {
	cpuTicks       int64
	sigtermIgnored bool
}

// procStatus reads pid's CPU time and whether it ignores SIGTERM.
func procStatus(pid int) procInfo {
	var pi procInfo
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// Fields after the command, which ends at the last ')': state is
		// field 3, utime and stime fields 14 and 15.
		if i := bytes.LastIndexByte(b, ')'); i > 0 {
			f := strings.Fields(string(b[i+1:]))
			if len(f) > 12 {
				u, _ := strconv.ParseInt(f[11], 10, 64)
				s, _ := strconv.ParseInt(f[12], 10, 64)
				pi.cpuTicks = u + s
			}
		}
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		if m := sigIgnRE.FindSubmatch(b); m != nil {
			mask, _ := strconv.ParseUint(string(m[1]), 16, 64)
			pi.sigtermIgnored = mask&(1<<(15-1)) != 0 // SIGTERM is 15
		}
	}
	return pi
}

// knownGap ends a test that passed its other checks but showed gap, a
// known deviation from Lambda: it is skipped with the reason rather than
// passed, so the gap stays visible until it is fixed.
func knownGap(t *testing.T, gap string) {
	t.Helper()
	if gap != "" && !t.Failed() {
		t.Skip("known gap with Lambda: " + gap)
	}
}

// warm starts the abusive function's environment with a harmless event,
// so the abuse runs warm and its wall time is the invocation's alone.
func (r *abuseRig) warm(t *testing.T, name string) {
	t.Helper()
	inv := invokeTail(t, r.c, name, `{"warm":true}`)
	mustSucceed(t, inv)
	if string(inv.Payload) != `"warm"` {
		t.Fatalf("warm-up answered %s", inv.Payload)
	}
}

var (
	noMemoryLimit = map[string]string{"process": "the process sandbox sets no memory limit (docs/security.md): " +
		"a hog would take the host's memory, and Runtime.OutOfMemory is never reported"}
	hostTmp = map[string]string{"process": "the process sandbox gives functions the host's /tmp (docs/security.md): " +
		"filling it would fill the host's disk"}
)

func TestAbuseMemoryHog(t *testing.T) {
	forEachSandbox(t, noMemoryLimit, func(t *testing.T, kind string) {
		r := newAbuseRig(t, kind)
		r.create(t, "hog", types.RuntimePython312, "abuse.hog", withTimeout(10))
		r.warm(t, "hog")
		var inv invocation
		run := r.run(t, func() { inv = invokeTail(t, r.c, "hog", `{}`) })
		platformError(t, inv, "Runtime.OutOfMemory", "Runtime exited with error: signal: killed")
		if run.wall >= 10*time.Second {
			t.Errorf("the hog ran %s, into its timeout: the memory limit did not stop it", run.wall)
		}
		r.assertSeen(t, run)
		r.assertCleanedUp(t, run, "after the OOM kill")
		r.warm(t, "hog") // a fresh environment works
	})
}

func TestAbuseForkBomb(t *testing.T) {
	forEachSandbox(t, nil, func(t *testing.T, kind string) {
		r := newAbuseRig(t, kind)
		// Two cores under linux, so the bomb reaches the pids limit well
		// within its timeout even on a busy machine.
		r.create(t, "bomb", types.RuntimePython312, "abuse.forks", withTimeout(3), withMemory(2*1769))
		r.warm(t, "bomb")
		// The process sandbox has no pids limit: an unbounded bomb would
		// take the host's pid space (pid_max is often 32768), so the test
		// stops it at 256 processes there; under linux it has no end.
		event := `{}`
		if kind == "process" {
			event = `{"limit":256}`
		}
		var inv invocation
		run := r.run(t, func() { inv = invokeTail(t, r.c, "bomb", event) })
		platformError(t, inv, "Sandbox.Timedout", "Task timed out after 3.00 seconds")
		// Gust answers once the environment is torn down: reaping up to
		// 1,024 processes and removing the cgroup took 50-190 ms on a
		// busy 2-core machine, allowed here on top of the 100 ms.
		checkDeadline(t, run.wall, 3*time.Second, 150*time.Millisecond)
		r.assertSeen(t, run)
		if kind == "linux" {
			m := regexp.MustCompile(`fork failed after (\d+): EAGAIN`).FindStringSubmatch(inv.Log)
			if m == nil {
				t.Fatalf("the bomb never hit the pids limit:\n%s", inv.Log)
			}
			if n, _ := strconv.Atoi(m[1]); n < 900 || n >= 1024 || run.maxProcs > 1024 {
				t.Errorf("forked %s, %d processes at most; want EAGAIN near the 1,024 pids limit", m[1], run.maxProcs)
			}
		} else if !strings.Contains(inv.Log, "forked 256: the test's bound") || run.maxProcs < 200 {
			t.Errorf("the bomb did not reach its 256 processes (saw %d):\n%s", run.maxProcs, inv.Log)
		}
		r.assertCleanedUp(t, run, "after the timeout")
		r.warm(t, "bomb")
	})
}

func TestAbuseFillTmp(t *testing.T) {
	forEachSandbox(t, hostTmp, func(t *testing.T, kind string) {
		r := newAbuseRig(t, kind)
		// /tmp is memory-backed under linux: the memory must hold it.
		r.create(t, "fill", types.RuntimePython312, "abuse.fill_tmp", withTimeout(30), withMemory(1024),
			func(in *lambda.CreateFunctionInput) {
				in.EphemeralStorage = &types.EphemeralStorage{Size: aws.Int32(512)}
			})
		r.warm(t, "fill")
		var inv invocation
		run := r.run(t, func() { inv = invokeTail(t, r.c, "fill", `{}`) })
		// The Python runtime reports the handler's exception as is.
		body := errorBody(t, inv, "errorMessage", "errorType", "requestId", "stackTrace")
		if body["errorType"] != "OSError" || body["errorMessage"] != "[Errno 28] No space left on device" {
			t.Errorf("error = %v, want OSError [Errno 28] No space left on device", body)
		}
		r.assertSeen(t, run)
		r.warm(t, "fill") // the environment survives a handled error
		r.deleteAndCheck(t, "fill", run)
	})
}

func TestAbuseOpenFiles(t *testing.T) {
	forEachSandbox(t, nil, func(t *testing.T, kind string) {
		r := newAbuseRig(t, kind)
		r.create(t, "files", types.RuntimePython312, "abuse.open_files", withTimeout(10))
		r.warm(t, "files")
		var inv invocation
		run := r.run(t, func() { inv = invokeTail(t, r.c, "files", `{}`) })
		// Lambda's Python runtime reports the handler's OSError. Gust's
		// bootstrap imports traceback only when it formats an error, which
		// fails with no file descriptor left: the runtime exits instead.
		var gap string
		if strings.Contains(inv.Log, "gust runtime: report result: [Errno 24] Too many open files") {
			platformError(t, inv, "Runtime.ExitError", "Runtime exited with error: exit status 1")
			gap = "with every file descriptor used, Gust's Python bootstrap cannot import traceback to report the " +
				"handler's OSError and exits (Runtime.ExitError); Lambda reports the OSError"
		} else {
			body := errorBody(t, inv, "errorMessage", "errorType", "requestId", "stackTrace")
			if body["errorType"] != "OSError" || body["errorMessage"] != "[Errno 24] Too many open files: '/dev/null'" {
				t.Errorf("error = %v, want OSError [Errno 24] Too many open files", body)
			}
		}
		// Under linux the limit is Lambda's 1,024; the process sandbox
		// passes on the server's own soft limit.
		m := regexp.MustCompile(`opened (\d+) files`).FindStringSubmatch(inv.Log)
		if m == nil {
			t.Fatalf("log lacks the count of files opened:\n%s", inv.Log)
		}
		if n, _ := strconv.Atoi(m[1]); kind == "linux" && (n < 1000 || n > 1024) {
			t.Errorf("opened %d files, want about the 1,024 limit", n)
		}
		t.Logf("opened %s files before EMFILE", m[1])
		r.warm(t, "files") // the files were closed with the handler's frame
		r.deleteAndCheck(t, "files", run)
		knownGap(t, gap)
	})
}

// floodCase writes to stdout for 2 s through handler and checks the
// invocation succeeds while the server's heap stays bounded.
func floodCase(t *testing.T, kind, handler string) {
	r := newAbuseRig(t, kind)
	r.create(t, "flood", types.RuntimePython312, handler, withTimeout(10), withMemory(1769))
	r.warm(t, "flood")
	var inv invocation
	run := r.run(t, func() { inv = invokeTail(t, r.c, "flood", `{"seconds":2}`) })
	mustSucceed(t, inv)
	n := decode[struct{ Bytes int64 }](t, inv.Payload).Bytes
	t.Logf("wrote %d MB in 2 s (%.0f MB/s); server heap grew %d MB at most", n>>20, float64(n)/(1<<20)/2, run.heapGrowth>>20)
	if n < 16<<20 {
		t.Errorf("the function wrote only %d bytes: no flood", n)
	}
	if run.wall > 5*time.Second {
		t.Errorf("a 2 s flood took %s: the server did not keep up with the pipe", run.wall)
	}
	if len(inv.Log) > 4096 {
		t.Errorf("log tail is %d bytes, want at most 4 KB", len(inv.Log))
	}
	if run.heapGrowth > 256<<20 {
		t.Errorf("server heap grew %d MB during the flood, want under 256 MB", run.heapGrowth>>20)
	}
	r.assertSeen(t, run)
	r.deleteAndCheck(t, "flood", run)
}

func TestAbuseStdoutFlood(t *testing.T) {
	forEachSandbox(t, nil, func(t *testing.T, kind string) { floodCase(t, kind, "abuse.flood") })
}

func TestAbuseEndlessLine(t *testing.T) {
	forEachSandbox(t, nil, func(t *testing.T, kind string) { floodCase(t, kind, "abuse.endless_line") })
}

func TestAbuseNeverCallsNext(t *testing.T) {
	forEachSandbox(t, nil, func(t *testing.T, kind string) {
		// Lambda's 10 s init limit, scaled down to keep the test short.
		const initTimeout = time.Second
		r := newAbuseRig(t, kind, func(c *config.Server) { c.InitTimeout = initTimeout })
		r.create(t, "mute", types.RuntimeProvidedal2023, "bootstrap", withTimeout(1))
		var inv invocation
		run := r.run(t, func() { inv = invokeTail(t, r.c, "mute", `{}`) })
		// The init overran its limit, was retried within the invocation
		// under the function's timeout, and overran that too.
		platformError(t, inv, "Sandbox.Timedout", "Task timed out after 1.00 seconds")
		if !strings.Contains(inv.Log, "\tPhase: invoke\tStatus: timeout") {
			t.Errorf("log tail lacks the invoke-phase INIT_REPORT:\n%s", inv.Log)
		}
		out, err := r.srv.Logs().FilterLogEvents(context.Background(), &cloudwatchlogs.FilterLogEventsInput{
			LogGroupName: aws.String("/aws/lambda/mute"), FilterPattern: aws.String(`"Phase: init"`)})
		if err != nil {
			t.Fatalf("filter log events: %v", err)
		}
		if len(out.Events) != 1 || !strings.Contains(aws.ToString(out.Events[0].Message), "\tPhase: init\tStatus: timeout") {
			t.Errorf("log group has %d init-phase INIT_REPORT lines, want one with Status: timeout", len(out.Events))
		}
		// Two process starts are not part of either limit: allow 150 ms
		// each (a shell under the linux sandbox starts in ~10 ms, but the
		// machine is shared with the race detector and the probe).
		checkDeadline(t, run.wall, initTimeout+time.Second, 300*time.Millisecond)
		r.assertSeen(t, run)
		r.assertCleanedUp(t, run, "after the init timeout")
	})
}

func TestAbuseInitCrash(t *testing.T) {
	forEachSandbox(t, nil, func(t *testing.T, kind string) {
		r := newAbuseRig(t, kind)
		r.create(t, "crash", types.RuntimePython312, "crash.handler")
		var invs []invocation
		run := r.run(t, func() {
			for range 3 {
				invs = append(invs, invokeTail(t, r.c, "crash", `{}`))
			}
		})
		// Lambda reports "signal: aborted". Under the linux sandbox the
		// runtime is pid 1 of its pid namespace, where the kernel drops
		// the SIGABRT it sends itself; glibc's abort then faults.
		var gap string
		for _, inv := range invs {
			text := "Runtime exited with error: signal: aborted"
			if kind == "linux" && strings.Contains(string(inv.Payload), `signal: segmentation fault"`) {
				text = "Runtime exited with error: signal: segmentation fault"
				gap = "the runtime is pid 1 of its pid namespace: abort() ends in SIGSEGV, not SIGABRT, " +
					"so the crash is reported as \"signal: segmentation fault\"; Lambda says \"signal: aborted\""
			}
			platformError(t, inv, "Runtime.ExitError", text)
			if !strings.Contains(inv.Log, "\tPhase: init\tStatus: error\tError Type: Runtime.ExitError") {
				t.Errorf("log lacks the failed INIT_REPORT:\n%s", inv.Log)
			}
		}
		r.assertCleanedUp(t, run, "after the crashes")
		knownGap(t, gap)
	})
}

func TestAbuseCPUSpin(t *testing.T) {
	forEachSandbox(t, nil, func(t *testing.T, kind string) {
		r := newAbuseRig(t, kind)
		// Memory buying every core of this machine under linux.
		r.create(t, "spin", types.RuntimeNodejs20x, "spin.handler", withTimeout(1), withMemory(int32(runtime.NumCPU()*1769)))
		r.warm(t, "spin")
		var inv invocation
		run := r.run(t, func() { inv = invokeTail(t, r.c, "spin", `{}`) })
		platformError(t, inv, "Sandbox.Timedout", "Task timed out after 1.00 seconds")
		checkDeadline(t, run.wall, time.Second, 0)
		r.assertSeen(t, run)
		if run.cpuTicks < 25 { // USER_HZ is 100; a sleeping runtime uses none
			t.Errorf("the spinner used %d clock ticks of CPU in its second, want at least a quarter second's", run.cpuTicks)
		}
		r.assertCleanedUp(t, run, "after the timeout")
		r.warm(t, "spin")
	})
}

func TestAbuseIgnoresSIGTERM(t *testing.T) {
	forEachSandbox(t, nil, func(t *testing.T, kind string) {
		r := newAbuseRig(t, kind)
		r.create(t, "stubborn", types.RuntimePython312, "abuse.ignore_term", withTimeout(1))
		r.warm(t, "stubborn")
		var inv invocation
		run := r.run(t, func() { inv = invokeTail(t, r.c, "stubborn", `{}`) })
		// At the deadline Gust kills the environment with SIGKILL, which
		// no handler can ignore, as Lambda stops a timed-out one.
		platformError(t, inv, "Sandbox.Timedout", "Task timed out after 1.00 seconds")
		checkDeadline(t, run.wall, time.Second, 0)
		r.assertSeen(t, run)
		if !run.sigtermIgnored {
			t.Error("the watcher never saw SIGTERM ignored: the test proves nothing")
		}
		r.assertCleanedUp(t, run, "after the timeout")
		r.warm(t, "stubborn")
	})
}
