//go:build linux

package server_test

import (
	"context"
	"fmt"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"gust/internal/config"
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
		// Two cores under linux, and 8 s: alone the bomb reaches the pids
		// limit in well under a second, but with CI's other test packages
		// competing for both cores it has been seen to start only 891
		// processes in 3 s.
		timeout := int32(8)
		if kind == "process" {
			timeout = 3
		}
		r.create(t, "bomb", types.RuntimePython312, "abuse.forks", withTimeout(timeout), withMemory(2*1769))
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
		platformError(t, inv, "Sandbox.Timedout", fmt.Sprintf("Task timed out after %d.00 seconds", timeout))
		// Gust answers before the teardown of up to 1,024 processes and
		// the cgroup, which runs in the background.
		checkDeadline(t, run.wall, time.Duration(timeout)*time.Second, 0, inv.Log)
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
		checkDeadline(t, run.wall, initTimeout+time.Second, 300*time.Millisecond, inv.Log)
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
		checkDeadline(t, run.wall, time.Second, 0, inv.Log)
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
		checkDeadline(t, run.wall, time.Second, 0, inv.Log)
		r.assertSeen(t, run)
		if !run.sigtermIgnored {
			t.Error("the watcher never saw SIGTERM ignored: the test proves nothing")
		}
		r.assertCleanedUp(t, run, "after the timeout")
		r.warm(t, "stubborn")
	})
}
