//go:build linux

package server_test

import (
	"context"
	"encoding/json"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/google/go-cmp/cmp"

	"gust/internal/config"
	"gust/internal/gusttest"
	"gust/internal/sandbox"
)

// What a function can see of its environment, from inside: everything a
// stem cell could conceivably get wrong. Variables that differ between
// any two environments (the log stream, the role's session keys) are
// left out; so are the invocation's own (the trace id).
const (
	introspectPython = `import os, sys, resource, socket

VARYING = {"AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
           "AWS_SESSION_TOKEN", "_X_AMZN_TRACE_ID"}

def read(path):
    with open(path) as f:
        return f.read()

def handler(event, context):
    hold = event.get("hold_ms", 0)
    if hold:
        import time
        time.sleep(hold / 1000)
    status = [l for l in read("/proc/self/status").splitlines()
              if l.split(":")[0] in ("Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd",
                                     "CapAmb", "NoNewPrivs", "Seccomp")]
    st = os.statvfs("/tmp")
    return {
        "env": sorted(k + "=" + v for k, v in os.environ.items() if k not in VARYING),
        "cwd": os.getcwd(),
        "pid": os.getpid(), "ppid": os.getppid(),
        "ids": [os.getuid(), os.geteuid(), os.getgid(), os.getegid(), os.getgroups()],
        "status": status,
        "mounts": [" ".join(l.split()[4:6]) for l in read("/proc/self/mountinfo").splitlines()],
        "limits": [resource.getrlimit(r) for r in (resource.RLIMIT_NOFILE, resource.RLIMIT_NPROC,
                                                    resource.RLIMIT_CORE, resource.RLIMIT_AS)],
        "tmp": [st.f_blocks * st.f_frsize, st.f_bfree * st.f_frsize],
        "hostname": socket.gethostname(),
        "sys_path": sys.path,
        "modules": sorted(sys.modules),
        "argv": sys.argv,
        "cmdline": read("/proc/self/cmdline"),
        "umask": os.umask(0o022),
        "task": sorted(os.listdir("/var/task")),
        "cgroup": read("/proc/self/cgroup"),
        "environ": [kv for kv in read("/proc/self/environ").rstrip("\0").split("\0")
                    if kv.split("=")[0] not in VARYING],
    }
`
	introspectNode = `import { readFileSync, readdirSync, statfsSync } from 'node:fs';
import { Server } from 'node:net';
import { hostname } from 'node:os';

const VARYING = new Set(['AWS_LAMBDA_LOG_STREAM_NAME', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN', '_X_AMZN_TRACE_ID']);

export const handler = async (event) => {
  if (event.hold_ms) await new Promise((r) => setTimeout(r, event.hold_ms));
  const status = readFileSync('/proc/self/status', 'utf8').split('\n')
    .filter((l) => ['Uid', 'Gid', 'Groups', 'CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb',
      'NoNewPrivs', 'Seccomp'].includes(l.split(':')[0]));
  const tmp = statfsSync('/tmp');
  return {
    env: Object.entries(process.env).filter(([k]) => !VARYING.has(k)).map(([k, v]) => k + '=' + v).sort(),
    cwd: process.cwd(),
    pid: process.pid, ppid: process.ppid,
    ids: [process.getuid(), process.geteuid(), process.getgid(), process.getegid(), process.getgroups()],
    status,
    mounts: readFileSync('/proc/self/mountinfo', 'utf8').trim().split('\n').map((l) => l.split(' ').slice(4, 6).join(' ')),
    tmp: [tmp.blocks * tmp.bsize, tmp.bfree * tmp.bsize],
    hostname: hostname(),
    argv: process.argv, execArgv: process.execArgv,
    cmdline: readFileSync('/proc/self/cmdline', 'utf8'),
    timezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
    task: readdirSync('/var/task').sort(),
    cgroup: readFileSync('/proc/self/cgroup', 'utf8'),
    environ: readFileSync('/proc/self/environ', 'utf8').replace(/\0+$/, '').split('\0')
      .filter((kv) => !VARYING.has(kv.split('=')[0])),
    // What a stem cell's warm-up could leave behind: globals, a server,
    // a timer or a socket still open. (Any pipe counts as a resource
    // while it is written to, and the log pipes come and go.)
    globals: Object.getOwnPropertyNames(globalThis).sort(),
    servers: process._getActiveHandles().filter((h) => h instanceof Server).length,
    resources: process.getActiveResourcesInfo().filter((r) => r !== 'PipeWrap').sort(),
  };
};
`
)

// TestStemCellIsIndistinguishable starts two environments of the same
// function at once on a server keeping one stem cell per runtime: one
// takes the stem cell, the other starts afresh (the pool refills only
// after). What each function sees of its environment must be the same,
// for Python and Node.js, with a function environment, a larger /tmp and
// more memory than the stem was made with.
func TestStemCellIsIndistinguishable(t *testing.T) {
	s := gusttest.StartServer(t, func(c *config.Server) { c.SandboxShells, c.StemCells = 0, 1 })
	if s.Config.Sandbox != string(sandbox.KindLinux) {
		t.Skip("stem cells live in linux-sandbox shells; the process sandbox has none")
	}
	c := s.Lambda()
	fns := []struct {
		name    string
		runtime types.Runtime
		handler string
		zip     []byte
	}{
		{"stem-python", types.RuntimePython312, "index.handler", gusttest.Zip(t, map[string]string{"index.py": introspectPython})},
		{"stem-node", types.RuntimeNodejs20x, "index.handler", gusttest.Zip(t, map[string]string{"index.mjs": introspectNode})},
	}
	for _, f := range fns {
		createFunction(t, c, f.name, f.runtime, f.handler, f.zip, withTimeout(10), withMemory(1024),
			func(in *lambda.CreateFunctionInput) {
				in.EphemeralStorage = &types.EphemeralStorage{Size: aws.Int32(700)}
				in.Environment = &types.Environment{Variables: map[string]string{"GREETING": "hello", "MODE": "stem"}}
			})
		t.Run(string(f.runtime), func(t *testing.T) {
			views := stemAndFresh(t, s, f.name)
			// Between any two environments the cgroup's name differs, and
			// so may the runtime's pid: the init's threads take pids of
			// the namespace too, as many as the Go runtime started.
			cgroupName := regexp.MustCompile(`/gust/[0-9]+-[0-9]+`)
			for _, v := range views {
				v["cgroup"] = cgroupName.ReplaceAllString(v["cgroup"].(string), "/gust/<env>")
				if pid, _ := v["pid"].(float64); pid <= 1 {
					t.Errorf("runtime pid %v in its namespace, want above the init's 1", v["pid"])
				}
				delete(v, "pid")
			}
			if diff := cmp.Diff(views[0], views[1]); diff != "" {
				t.Errorf("a stem cell's environment differs from a fresh one (-stem +fresh):\n%s", diff)
			}
			if env, _ := views[0]["env"].([]any); !contains(env, "GREETING=hello") || !contains(env, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=1024") {
				t.Errorf("the stem cell lacks the function's environment: %v", env)
			}
			if environ, _ := views[0]["environ"].([]any); !contains(environ, "GREETING=hello") {
				t.Errorf("the stem cell's /proc/self/environ lacks the function's environment: %v", environ)
			}
			if views[0]["cwd"] != "/var/task" {
				t.Errorf("cwd = %v, want /var/task", views[0]["cwd"])
			}
		})
	}
}

// stemAndFresh invokes name twice at once, both cold, until one start
// took a stem cell and the other started afresh, and returns what the
// two saw.
func stemAndFresh(t *testing.T, s *gusttest.Server, name string) [2]map[string]any {
	t.Helper()
	c := s.Lambda()
	for attempt := range 5 {
		s.Pool().Invalidate(name, nil)
		gusttest.WaitFor(t, 30*time.Second, "the stem cells", s.Shells().Full)
		taken0, missed0 := s.Shells().Stats()
		var (
			wg    sync.WaitGroup
			views [2]map[string]any
			inits [2]bool
		)
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Each holds its environment, so the other needs its own.
				out, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String(name),
					Payload: []byte(`{"hold_ms": 300}`), LogType: types.LogTypeTail})
				if err != nil || out.FunctionError != nil {
					t.Errorf("invoke %s: %v %s", name, err, payloadOf(out))
					return
				}
				if err := json.Unmarshal(out.Payload, &views[i]); err != nil {
					t.Errorf("decode %s: %v", out.Payload, err)
				}
				_, err = initDuration(aws.ToString(out.LogResult))
				inits[i] = err == nil
			}()
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		taken, missed := s.Shells().Stats()
		if taken-taken0 != 1 || missed-missed0 != 1 || !inits[0] || !inits[1] {
			t.Logf("attempt %d: %d stem cells taken, %d fresh starts; trying again", attempt, taken-taken0, missed-missed0)
			continue
		}
		// The two are compared for equality: which of them took the stem
		// cell does not matter.
		return views
	}
	t.Fatal("five attempts never had one start take the stem cell while the other started afresh")
	return [2]map[string]any{}
}

func contains(list []any, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func payloadOf(out *lambda.InvokeOutput) string {
	if out == nil {
		return ""
	}
	return string(out.Payload)
}

// TestStemCellNotForStartupSettings: a function whose environment sets
// what an interpreter reads as it starts (PYTHONHASHSEED here) never gets
// a stem cell, whose interpreter started without it; it starts afresh
// and sees its setting.
func TestStemCellNotForStartupSettings(t *testing.T) {
	s := gusttest.StartServer(t, func(c *config.Server) { c.SandboxShells, c.StemCells = 0, 1 })
	if s.Config.Sandbox != string(sandbox.KindLinux) {
		t.Skip("stem cells live in linux-sandbox shells; the process sandbox has none")
	}
	c := s.Lambda()
	code := "import sys\ndef handler(e, c):\n    return sys.flags.hash_randomization\n"
	createFunction(t, c, "seeded", types.RuntimePython312, "index.handler", gusttest.Zip(t, map[string]string{"index.py": code}),
		func(in *lambda.CreateFunctionInput) {
			in.Environment = &types.Environment{Variables: map[string]string{"PYTHONHASHSEED": "0"}}
		})
	gusttest.WaitFor(t, 30*time.Second, "the stem cells", s.Shells().Full)
	taken0, missed0 := s.Shells().Stats()
	inv := invokeTail(t, c, "seeded", `{}`)
	if string(inv.Payload) != "0" {
		t.Errorf("sys.flags.hash_randomization = %s, want 0 (PYTHONHASHSEED=0 read at start-up)", inv.Payload)
	}
	if taken, missed := s.Shells().Stats(); taken != taken0 || missed != missed0+1 {
		t.Errorf("stem cells taken %d, fresh starts %d; want the function started afresh", taken-taken0, missed-missed0)
	}
}
