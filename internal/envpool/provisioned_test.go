package envpool

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gust/internal/lambda"
	"gust/internal/runtimeapi"
)

// shellRuntime is a provided runtime in sh and curl: it answers each event
// with its initialization type and version, and exits without answering
// an event of "crash". With MODE=exit it exits at once (a failing init);
// with MODE=hang it never asks for an event (an init that does not end).
const shellRuntime = `#!/bin/sh
case "$MODE" in
exit) exit 3 ;;
hang) exec sleep 600 ;;
esac
api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation"
hdr="$(mktemp)"
while :; do
  body="$(curl -sS -D "$hdr" "$api/next")" || exit 1
  id="$(grep -i '^lambda-runtime-aws-request-id:' "$hdr" | tr -d '\r' | cut -d' ' -f2)"
  [ "$body" = '"crash"' ] && exit 2
  curl -sS -o /dev/null -X POST -d "{\"init\":\"$AWS_LAMBDA_INITIALIZATION_TYPE\",\"version\":\"$AWS_LAMBDA_FUNCTION_VERSION\"}" "$api/$id/response" || exit 1
done
`

// shellLauncher launches shellRuntime with MODE set to mode.
type shellLauncher struct {
	dir  string
	mode string
}

func (l shellLauncher) Prepare(context.Context, *lambda.Function) (LaunchSpec, error) {
	return LaunchSpec{Argv: []string{"/bin/sh", filepath.Join(l.dir, "bootstrap")}, Dir: l.dir, RuntimeDir: l.dir, Env: []string{"MODE=" + l.mode}}, nil
}

// memLogs keeps every log line written, for assertions.
type memLogs struct {
	mu    sync.Mutex
	lines []string
}

func (l *memLogs) WriteLog(_, _ string, _ time.Time, line string) {
	l.mu.Lock()
	l.lines = append(l.lines, line)
	l.mu.Unlock()
}

func (l *memLogs) count(prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.lines {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

// newShellManager starts a Manager on the process sandbox whose runtimes
// are shellRuntime in mode, reaping idle environments after idle.
func newShellManager(t *testing.T, mode string, idle time.Duration) (*Manager, *memLogs) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bootstrap"), []byte(shellRuntime), 0o755); err != nil {
		t.Fatal(err)
	}
	logs := &memLogs{}
	m := New(Options{
		Identity:    lambda.Identity{Region: "us-east-1", Account: "000000000000"},
		Launcher:    shellLauncher{dir: dir, mode: mode},
		Logs:        logs,
		Logger:      slog.New(slog.DiscardHandler),
		IdleTimeout: idle,
		InitTimeout: 5 * time.Second,
		Sandbox:     "process",
	})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return m, logs
}

func testFunction(version, revision string) *lambda.Function {
	fn := &lambda.Function{Name: "f", Runtime: "provided.al2023", Handler: "h", Version: version, RevisionID: revision}
	fn.ApplyDefaults()
	return fn
}

// waitFor polls cond every 10 ms for at most 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitStatus(t *testing.T, m *Manager, qualifier string, allocated, available int) {
	t.Helper()
	waitFor(t, "provisioned status", func() bool {
		a, v := m.ProvisionedStatus("f", qualifier)
		return a == allocated && v == available
	})
}

// reply is what shellRuntime answers.
type reply struct {
	Init    string `json:"init"`
	Version string `json:"version"`
}

// invokeOnce acquires an environment of fn, runs payload on it and
// releases it.
func invokeOnce(t *testing.T, m *Manager, fn *lambda.Function, payload string) (Outcome, reply) {
	t.Helper()
	e, err := m.Acquire(t.Context(), fn, "req")
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	o := e.Invoke(t.Context(), runtimeapi.Invocation{RequestID: "req", Payload: []byte(payload)}, fn.Version)
	m.Release(e)
	var r reply
	if o.ErrorType == "" {
		if err := json.Unmarshal(o.Payload, &r); err != nil {
			t.Fatalf("payload %s: %v", o.Payload, err)
		}
	}
	return o, r
}

func TestProvisionedWarmFirstNeverReapedSpillOver(t *testing.T) {
	m, _ := newShellManager(t, "", 30*time.Millisecond)
	fn := testFunction("1", "r1")
	m.SetProvisioned(fn, "live", 2)
	m.SetProvisioned(fn, "live", 2) // re-applying changes nothing
	waitStatus(t, m, "live", 2, 2)
	if st := m.Stats(); st.Total != 2 || st.Idle != 2 || st.Busy != 0 {
		t.Fatalf("stats before any invoke = %+v, want 2 idle environments", st)
	}

	// Both provisioned environments busy, a third invocation cold-starts
	// an on-demand one.
	var held []*Env
	for range 2 {
		e, err := m.Acquire(t.Context(), fn, "req")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, e)
	}
	o, r := invokeOnce(t, m, fn, `{}`)
	if r.Init != initOnDemand || o.InitDuration == 0 {
		t.Errorf("spill-over invocation ran on %q with init %v, want a cold on-demand environment", r.Init, o.InitDuration)
	}
	for _, e := range held {
		o := e.Invoke(t.Context(), runtimeapi.Invocation{RequestID: "req", Payload: []byte(`{}`)}, fn.Version)
		if !strings.Contains(string(o.Payload), initProvisioned) || o.InitDuration != 0 || strings.Contains(string(o.Log), "Init Duration") {
			t.Errorf("provisioned invocation: payload %s, init %v, log %q; want provisioned-concurrency and no Init Duration", o.Payload, o.InitDuration, o.Log)
		}
		m.Release(e)
	}

	// The reaper stops the idle on-demand environment and keeps the
	// provisioned ones, idle just as long.
	waitFor(t, "the on-demand environment to be reaped", func() bool { return m.Stats().Total == 2 })
	if a, v := m.ProvisionedStatus("f", "live"); a != 2 || v != 2 {
		t.Errorf("status after reaping = %d/%d, want 2/2", a, v)
	}
	if _, r := invokeOnce(t, m, fn, `{}`); r.Init != initProvisioned {
		t.Errorf("after reaping, an invocation ran on %q, want a provisioned environment", r.Init)
	}
	if got := m.Provisioned("f"); len(got) != 1 || got[0] != "live" {
		t.Errorf("Provisioned(f) = %v, want [live]", got)
	}
}

func TestProvisionedReplacesCrashedEnvironment(t *testing.T) {
	m, _ := newShellManager(t, "", time.Minute)
	fn := testFunction("1", "r1")
	m.SetProvisioned(fn, "1", 1)
	waitStatus(t, m, "1", 1, 1)
	first, _ := m.Acquire(t.Context(), fn, "req")
	if first.provisioned == nil {
		t.Fatal("Acquire did not take the provisioned environment")
	}
	o := first.Invoke(t.Context(), runtimeapi.Invocation{RequestID: "req", Payload: []byte(`"crash"`)}, fn.Version)
	m.Release(first)
	if o.ErrorType != "Runtime.ExitError" {
		t.Fatalf("crash invocation = %q, want Runtime.ExitError", o.ErrorType)
	}
	waitStatus(t, m, "1", 1, 1)
	waitFor(t, "the crashed environment to go", func() bool { return m.Stats().Total == 1 })
	e, err := m.Acquire(t.Context(), fn, "req")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release(e)
	if e == first || e.provisioned == nil || e.exited.Err() != nil {
		t.Errorf("after the crash Acquire got %p (provisioned %v), want a new live provisioned environment", e, e.provisioned != nil)
	}
}

func TestProvisionedLowerRetargetClearInvalidate(t *testing.T) {
	m, _ := newShellManager(t, "", time.Minute)
	v1, v2 := testFunction("1", "r1"), testFunction("2", "r2")
	m.SetProvisioned(v1, "live", 3)
	waitStatus(t, m, "live", 3, 3)

	m.SetProvisioned(v1, "live", 1)
	waitStatus(t, m, "live", 1, 1)
	waitFor(t, "surplus environments to stop", func() bool { return m.Stats().Total == 1 })

	// The alias moves to version 2: its environments follow.
	m.SetProvisioned(v2, "live", 2)
	waitStatus(t, m, "live", 2, 2)
	waitFor(t, "version 1's environment to stop", func() bool { return m.Stats().Total == 2 })
	if _, r := invokeOnce(t, m, v2, `{}`); r.Version != "2" || r.Init != initProvisioned {
		t.Errorf("invocation of version 2 = %+v, want a provisioned environment of 2", r)
	}

	m.ClearProvisioned("f", "live")
	waitFor(t, "cleared environments to stop", func() bool { return m.Stats().Total == 0 })
	if a, v := m.ProvisionedStatus("f", "live"); a != 0 || v != 0 || len(m.Provisioned("f")) != 0 {
		t.Errorf("after Clear: status %d/%d, configs %v; want nothing", a, v, m.Provisioned("f"))
	}
	m.ClearProvisioned("f", "live") // clearing again is a no-op

	// A version that goes away takes its configuration's environments.
	m.SetProvisioned(v2, "2", 1)
	waitStatus(t, m, "2", 1, 1)
	m.Invalidate("f", map[string]string{lambda.LatestVersion: "x", "2": "r2"})
	if a, _ := m.ProvisionedStatus("f", "2"); a != 1 {
		t.Errorf("Invalidate with version 2 live dropped its config")
	}
	m.Invalidate("f", map[string]string{lambda.LatestVersion: "x"})
	waitFor(t, "the deleted version's environment to stop", func() bool { return m.Stats().Total == 0 })
	if got := m.Provisioned("f"); len(got) != 0 {
		t.Errorf("Provisioned(f) after Invalidate = %v, want none", got)
	}
}

func TestProvisionedFailingInitBacksOff(t *testing.T) {
	m, logs := newShellManager(t, "exit", time.Minute)
	fn := testFunction("1", "r1")
	m.SetProvisioned(fn, "1", 1)
	const report = "INIT_REPORT Init Duration: "
	waitFor(t, "two failed inits", func() bool { return logs.count(report) >= 2 })
	if a, v := m.ProvisionedStatus("f", "1"); v != 0 || a > 1 {
		t.Errorf("status of a failing config = %d/%d, want nothing available", a, v)
	}
	m.mu.Lock()
	failures := m.failures[poolKey{"f", "1", "r1"}].count
	m.mu.Unlock()
	if failures < 2 {
		t.Errorf("failures recorded = %d, want each failed init counted for the backoff", failures)
	}
	logs.mu.Lock()
	for _, l := range logs.lines {
		if strings.HasPrefix(l, report) && !strings.HasSuffix(l, "\tPhase: init\tStatus: error\tError Type: Runtime.ExitError") {
			t.Errorf("INIT_REPORT line %q, want Status: error, Runtime.ExitError", l)
		}
	}
	logs.mu.Unlock()
	m.ClearProvisioned("f", "1")
	waitFor(t, "starts to stop", func() bool { return m.Stats().Total == 0 })
}

func TestProvisionedCloseEndsInitsInFlight(t *testing.T) {
	m, _ := newShellManager(t, "hang", time.Minute)
	m.SetProvisioned(testFunction("1", "r1"), "1", 2)
	waitFor(t, "two runtimes in init", func() bool { return m.Stats().Total == 2 })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	if err := m.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v with inits in flight, want it to end them", d)
	}
	if st := m.Stats(); st.Total != 0 {
		t.Errorf("after Close: %+v, want no environment", st)
	}
	m.SetProvisioned(testFunction("1", "r1"), "1", 1) // after Close: ignored
	if a, _ := m.ProvisionedStatus("f", "1"); a != 0 {
		t.Errorf("SetProvisioned after Close started %d environments", a)
	}
}
