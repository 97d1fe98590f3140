//go:build linux

package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"gust/internal/config"
	"gust/internal/gusttest"
	"gust/internal/server"
)

// This file runs whole-server tests against the linux sandbox: real
// Python and Node functions confined by namespaces and cgroups, escape
// attempts, /tmp, memory and pids limits, and complete cleanup.

const sandboxPy = `
import errno, json, os, time

def code(e):
    return errno.errorcode.get(e.errno, str(e.errno))

def probe(event, context):
    res = {"cwd": os.getcwd(), "uid": os.getuid(), "taskRoot": os.environ.get("LAMBDA_TASK_ROOT"),
           "runtimeDir": os.environ.get("LAMBDA_RUNTIME_DIR"), "serverEnv": os.environ.get("GUST_SANDBOX_SECRET")}
    res["read"] = {}
    for p in event.get("read", []):
        try:
            if os.path.isdir(p):
                os.listdir(p)
            else:
                open(p, "rb").read()
            res["read"][p] = "readable"
        except OSError as e:
            res["read"][p] = code(e)
    res["write"] = {}
    for p in event.get("write", []):
        try:
            with open(p, "w") as f:
                f.write("x")
            res["write"][p] = "written"
        except OSError as e:
            res["write"][p] = code(e)
    n = 0
    try:
        n = int(open("/tmp/count").read())
    except FileNotFoundError:
        pass
    n += 1
    open("/tmp/count", "w").write(str(n))
    res["count"] = n
    return res

def fill(event, context):
    chunk = b"\0" * (1 << 20)
    n = 0
    try:
        with open("/tmp/fill", "wb", buffering=0) as f:
            while n < 4096:
                f.write(chunk)
                n += 1
    except OSError as e:
        return {"mb": n, "error": code(e)}
    finally:
        if os.path.exists("/tmp/fill"):
            os.remove("/tmp/fill")
    return {"mb": n, "error": None}

def hog(event, context):
    b = bytearray(event["mb"] << 20)
    return {"mb": len(b) >> 20}

def bomb(event, context):
    n = 0
    while n < 5000:
        try:
            pid = os.fork()
        except OSError as e:
            return {"forked": n, "error": code(e)}
        if pid == 0:
            time.sleep(600)
            os._exit(0)
        n += 1
    return {"forked": n, "error": None}
`

const sandboxJS = `
const fs = require("fs");
exports.handler = async () => {
  let write;
  try { fs.writeFileSync("/var/task/x", "x"); write = "written"; } catch (e) { write = e.code; }
  return { cwd: process.cwd(), uid: process.getuid(), taskRoot: process.env.LAMBDA_TASK_ROOT, write };
};
`

// linuxSandboxServer starts a server with the linux sandbox, or skips.
func linuxSandboxServer(t *testing.T) *gusttest.Server {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the linux sandbox needs root (CI runs as root)")
	}
	if _, err := os.Stat("/sys/fs/cgroup"); err != nil {
		t.Skip("no cgroup file system")
	}
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	return gusttest.StartServer(t, func(c *config.Server) { c.Sandbox = "linux" })
}

// sandboxLeftovers lists what the linux sandbox could leave behind: this
// process's environment cgroups (a cgroup is removed only once empty, so
// none left means no process left) and the host's mount count.
func sandboxLeftovers(t *testing.T) (cgroups []string, mounts int) {
	t.Helper()
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	prefix := strconv.Itoa(os.Getpid()) + "-"
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		dir := filepath.Join("/sys/fs/cgroup", parts[2], "gust") // v2
		if parts[1] != "" {
			dir = filepath.Join("/sys/fs/cgroup", strings.TrimPrefix(parts[1], "name="), parts[2], "gust")
		}
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), prefix) {
				cgroups = append(cgroups, filepath.Join(dir, e.Name()))
			}
		}
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	return cgroups, strings.Count(string(mi), "\n")
}

func TestLinuxSandbox(t *testing.T) {
	t.Setenv("GUST_SANDBOX_SECRET", "server-only")
	_, mountsBefore := sandboxLeftovers(t)
	srv := linuxSandboxServer(t)
	c := srv.Lambda()
	py := gusttest.Zip(t, map[string]string{"app.py": sandboxPy})
	createFunction(t, c, "probe", types.RuntimePython312, "app.probe", py)
	createFunction(t, c, "other", types.RuntimeNodejs20x, "index.handler", gusttest.Zip(t, map[string]string{"index.js": sandboxJS}))

	t.Run("node", func(t *testing.T) {
		inv := invokeTail(t, c, "other", `{}`)
		mustSucceed(t, inv)
		got := decode[map[string]any](t, inv.Payload)
		want := map[string]any{"cwd": "/var/task", "uid": float64(993), "taskRoot": "/var/task", "write": "EROFS"}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %v, want %v", k, got[k], v)
			}
		}
	})

	t.Run("confinement", func(t *testing.T) {
		codes, _ := os.ReadDir(filepath.Join(srv.Config.DataDir, "code"))
		read := []string{srv.Config.DataDir, filepath.Join(srv.Config.DataDir, "credentials"), "/proc/" + strconv.Itoa(os.Getpid()) + "/environ", "/etc/shadow"}
		for _, e := range codes { // every function's code, as the host sees it
			read = append(read, filepath.Join(srv.Config.DataDir, "code", e.Name()))
		}
		write := []string{"/var/task/x", "/var/runtime/x", "/etc/x", "/usr/x", "/x", "/tmp/x"}
		event, _ := json.Marshal(map[string]any{"read": read, "write": write})
		var first map[string]any
		for i := 1; i <= 2; i++ {
			inv := invokeTail(t, c, "probe", string(event))
			mustSucceed(t, inv)
			got := decode[map[string]any](t, inv.Payload)
			if i == 1 {
				first = got
			}
			// /tmp persists across invocations of one environment.
			if got["count"] != float64(i) {
				t.Errorf("invocation %d: /tmp counter = %v, want %d", i, got["count"], i)
			}
		}
		got := first
		for k, v := range map[string]any{"cwd": "/var/task", "uid": float64(993), "taskRoot": "/var/task", "runtimeDir": "/var/runtime", "serverEnv": nil} {
			if got[k] != v {
				t.Errorf("%s = %v, want %v", k, got[k], v)
			}
		}
		reads := got["read"].(map[string]any)
		for _, p := range read {
			if reads[p] == "readable" || reads[p] == nil {
				t.Errorf("read %s: %v, want it to fail", p, reads[p])
			}
		}
		writes := got["write"].(map[string]any)
		for _, p := range write {
			want := "EROFS"
			if p == "/tmp/x" {
				want = "written"
			}
			if writes[p] != want {
				t.Errorf("write %s: %v, want %s", p, writes[p], want)
			}
		}
	})

	t.Run("tmp is bounded by EphemeralStorage", func(t *testing.T) {
		createFunction(t, c, "fill", types.RuntimePython312, "app.fill", py, withTimeout(60), func(in *lambda.CreateFunctionInput) {
			in.MemorySize = aws.Int32(1024)
			in.EphemeralStorage = &types.EphemeralStorage{Size: aws.Int32(512)}
		})
		inv := invokeTail(t, c, "fill", `{}`)
		mustSucceed(t, inv)
		got := decode[map[string]any](t, inv.Payload)
		if mb, _ := got["mb"].(float64); got["error"] != "ENOSPC" || mb < 500 || mb > 512 {
			t.Fatalf("filling /tmp: %v, want ENOSPC after about 512 MB", got)
		}
	})

	t.Run("memory hog is Runtime.OutOfMemory", func(t *testing.T) {
		createFunction(t, c, "hog", types.RuntimePython312, "app.hog", py, withTimeout(30))
		inv := invokeTail(t, c, "hog", `{"mb": 512}`)
		platformError(t, inv, "Runtime.OutOfMemory", "Runtime exited with error: signal: killed")
		report := regexp.MustCompile(`Max Memory Used: (\d+) MB\t.*Status: error\tError Type: Runtime.OutOfMemory`).FindStringSubmatch(inv.Log)
		if report == nil {
			t.Fatalf("REPORT lacks the OOM status:\n%s", inv.Log)
		}
		if used, _ := strconv.Atoi(report[1]); used < 100 || used > 128 {
			t.Errorf("Max Memory Used = %d MB, want about the 128 MB limit", used)
		}
		// The next invocation gets a fresh environment and works.
		inv = invokeTail(t, c, "hog", `{"mb": 16}`)
		mustSucceed(t, inv)
	})

	t.Run("fork bomb is contained", func(t *testing.T) {
		createFunction(t, c, "bomb", types.RuntimePython312, "app.bomb", py, withTimeout(60), func(in *lambda.CreateFunctionInput) {
			in.MemorySize = aws.Int32(1769)
		})
		inv := invokeTail(t, c, "bomb", `{}`)
		mustSucceed(t, inv)
		got := decode[map[string]any](t, inv.Payload)
		if n, _ := got["forked"].(float64); got["error"] != "EAGAIN" || n < 100 || n >= 1024 {
			t.Fatalf("fork bomb: %v, want EAGAIN before 1024 processes", got)
		}
		// Other functions still run.
		mustSucceed(t, invokeTail(t, c, "other", `{}`))
	})

	t.Run("cleanup", func(t *testing.T) {
		if cg, _ := sandboxLeftovers(t); len(cg) == 0 {
			t.Fatal("no environment cgroups while environments are warm: the check below would prove nothing")
		}
		srv.Stop()
		cg, mounts := sandboxLeftovers(t)
		if len(cg) > 0 {
			t.Errorf("cgroups (and so processes) left after shutdown: %v", cg)
		}
		if mounts != mountsBefore {
			t.Errorf("host mounts: %d, want %d", mounts, mountsBefore)
		}
		// The shared mountpoint of private roots never gets files.
		if ents, err := os.ReadDir("/run/gust-sandbox"); err != nil || len(ents) > 0 {
			t.Errorf("/run/gust-sandbox: %v entries, err %v", len(ents), err)
		}
	})
}

// A server whose linux sandbox cannot start refuses to start, and says how
// to opt out. The test binary runs itself without sandbox.Init, so the
// sandbox's start-up probe fails as it would on a host without cgroups.
func TestStartFailsWhenLinuxSandboxCannotRun(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the linux sandbox needs root (CI runs as root)")
	}
	const marker = "server start error: "
	if os.Getenv(noSandboxInit) != "" {
		cfg := config.Defaults()
		cfg.DataDir, cfg.Listen, cfg.Sandbox = t.TempDir(), "127.0.0.1:0", "linux"
		srv, err := server.New(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = srv.Start(context.Background())
		fmt.Printf("%s%v\n", marker, err)
		_ = srv.Shutdown(context.Background())
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestStartFailsWhenLinuxSandboxCannotRun$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), noSandboxInit+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child test: %v\n%s", err, out)
	}
	want := regexp.MustCompile(marker + `start server: the linux sandbox .*cannot start on this host: .*sandbox.Init.*; run with --sandbox process`)
	if !want.Match(out) {
		t.Fatalf("child's output does not match %s:\n%s", want, out)
	}
}
