package envpool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gust/internal/lambda"
	"gust/internal/runtimeapi"
)

// observedRuntime answers "error" with a function error, sleeps past any
// short timeout on "sleep", exits on "crash" and echoes anything else.
// With MODE=exit it exits during init.
const observedRuntime = `#!/bin/sh
[ "$MODE" = exit ] && exit 3
api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation"
hdr="$(mktemp)"
while :; do
  body="$(curl -sS -D "$hdr" "$api/next")" || exit 1
  id="$(grep -i '^lambda-runtime-aws-request-id:' "$hdr" | tr -d '\r' | cut -d' ' -f2)"
  case "$body" in
  '"crash"') exit 2 ;;
  '"sleep"') sleep 30 ;;
  '"error"') curl -sS -o /dev/null -X POST -H 'Lambda-Runtime-Function-Error-Type: Function.Failed' -d '{"errorType":"Failed","errorMessage":"asked to"}' "$api/$id/error" || exit 1; continue ;;
  esac
  curl -sS -o /dev/null -X POST -d "$body" "$api/$id/response" || exit 1
done
`

// observerLog is an Observer that keeps what it is told.
type observerLog struct {
	mu        sync.Mutex
	invoked   []Invocation
	throttled []string // "function reason"
}

func (r *observerLog) Invoked(inv Invocation) {
	r.mu.Lock()
	r.invoked = append(r.invoked, inv)
	r.mu.Unlock()
}

func (r *observerLog) Throttled(function, reason string) {
	r.mu.Lock()
	r.throttled = append(r.throttled, function+" "+reason)
	r.mu.Unlock()
}

// reportFields is what a REPORT line says, as text, so that a record and
// a line compare exactly as printed.
type reportFields struct {
	RequestID, Duration, Billed, MemorySize, MaxMemory, Init, Status string
}

var reportLineRE = regexp.MustCompile(`^REPORT RequestId: (\S+)\tDuration: (\d+\.\d\d) ms\tBilled Duration: (\d+) ms\tMemory Size: (\d+) MB\tMax Memory Used: (\d+) MB\t(?:Init Duration: (\d+\.\d\d) ms\t)?(.*)$`)

func parseReport(t *testing.T, line string) reportFields {
	t.Helper()
	m := reportLineRE.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("REPORT line %q does not match %s", line, reportLineRE)
	}
	return reportFields{m[1], m[2], m[3], m[4], m[5], m[6], m[7]}
}

// fieldsOf renders an observed Invocation as its REPORT line would say it.
func fieldsOf(inv Invocation, initFailed bool) reportFields {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d.Microseconds())/1000) }
	f := reportFields{RequestID: inv.RequestID, Duration: ms(inv.Duration), Billed: strconv.FormatInt(inv.BilledMs, 10),
		MemorySize: strconv.Itoa(inv.MemoryMB), MaxMemory: strconv.FormatInt(inv.MaxMemoryMB, 10)}
	if inv.InitDuration > 0 && !initFailed {
		f.Init = ms(inv.InitDuration)
	}
	switch inv.ErrorType {
	case "", "Function.Failed":
	case "Sandbox.Timedout":
		f.Status = "Status: timeout"
	default:
		f.Status = "Status: error\tError Type: " + inv.ErrorType
	}
	return f
}

func TestObserversSeeEveryReportLine(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bootstrap"), []byte(observedRuntime), 0o755); err != nil {
		t.Fatal(err)
	}
	logs, rec := &memLogs{}, &observerLog{}
	launchers := map[string]shellLauncher{"f": {dir: dir}, "broken": {dir: dir, mode: "exit"}}
	m := New(Options{
		Identity:    lambda.Identity{Region: "us-east-1", Account: "000000000000"},
		Launcher:    launcherByName(launchers),
		Logs:        logs,
		Logger:      slog.New(slog.DiscardHandler),
		IdleTimeout: time.Minute,
		InitTimeout: 5 * time.Second,
		Sandbox:     "process",
		Observers:   []Observer{rec},
	})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	fn := testFunction("$LATEST", "r1")
	fn.Timeout = 1
	fn.MemorySize = 256
	fn.Architectures = []string{"arm64"}

	invoke := func(fn *lambda.Function, requestID, payload string) (Outcome, error) {
		e, err := m.Acquire(t.Context(), fn, requestID)
		if err != nil {
			return Outcome{}, err
		}
		defer m.Release(e)
		return e.Invoke(t.Context(), runtimeapi.Invocation{RequestID: requestID, Payload: []byte(payload)}, fn.Version), nil
	}
	wantErr := map[string]string{"cold": "", "warm": "", "error": "Function.Failed", "crash": "Runtime.ExitError",
		"after-crash": "", "timeout": "Sandbox.Timedout", "init-fails": "Runtime.ExitError"}
	for _, step := range []struct{ id, payload string }{
		{"cold", `{}`}, {"warm", `{}`}, {"error", `"error"`}, {"crash", `"crash"`},
		{"after-crash", `{}`}, {"timeout", `"sleep"`},
	} {
		o, err := invoke(fn, step.id, step.payload)
		if err != nil || o.ErrorType != wantErr[step.id] {
			t.Fatalf("invoke %s: error type %q, err %v; want %q", step.id, o.ErrorType, err, wantErr[step.id])
		}
	}
	broken := testFunction("$LATEST", "r1")
	broken.Name = "broken"
	var fail *InitFailure
	if _, err := invoke(broken, "init-fails", `{}`); !errors.As(err, &fail) {
		t.Fatalf("invoke of a failing init: err %v, want an *InitFailure", err)
	}
	m.SetReserved("f", 0)
	if _, err := invoke(fn, "throttled", `{}`); !errors.Is(err, lambda.ErrTooManyRequests) {
		t.Fatalf("invoke with reserved concurrency 0: err %v, want a throttle", err)
	}

	rec.mu.Lock()
	defer rec.mu.Unlock()
	var lines []string
	logs.mu.Lock()
	for _, l := range logs.lines {
		if strings.HasPrefix(l, "REPORT ") {
			lines = append(lines, l)
		}
	}
	logs.mu.Unlock()
	if len(rec.invoked) != len(lines) || len(lines) != len(wantErr) {
		t.Fatalf("%d observed invocations for %d REPORT lines, want %d of each", len(rec.invoked), len(lines), len(wantErr))
	}
	for i, line := range lines {
		inv := rec.invoked[i]
		got, want := fieldsOf(inv, inv.RequestID == "init-fails"), parseReport(t, line)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("observed %s differs from its REPORT line (-line +observed):\n%s", inv.RequestID, diff)
		}
		if inv.ErrorType != wantErr[inv.RequestID] || inv.FunctionError != (inv.ErrorType != "") {
			t.Errorf("%s: ErrorType %q FunctionError %v, want %q", inv.RequestID, inv.ErrorType, inv.FunctionError, wantErr[inv.RequestID])
		}
		if inv.Start.IsZero() || inv.InitType != initOnDemand || inv.Version != "$LATEST" {
			t.Errorf("%s: Start %v, InitType %q, Version %q", inv.RequestID, inv.Start, inv.InitType, inv.Version)
		}
		wantArch := "arm64"
		if inv.Function == "broken" {
			wantArch = lambda.DefaultArchitecture
		}
		if inv.Architecture != wantArch {
			t.Errorf("%s: Architecture %q, want %q", inv.RequestID, inv.Architecture, wantArch)
		}
	}
	cold := map[string]bool{"cold": true, "after-crash": true, "init-fails": true}
	for _, inv := range rec.invoked {
		if (inv.InitDuration > 0) != cold[inv.RequestID] {
			t.Errorf("%s: InitDuration %v, want it set only on cold starts", inv.RequestID, inv.InitDuration)
		}
	}
	if want := []string{"f " + lambda.ReasonReservedFunctionConcurrentLimitExceeded}; !cmp.Equal(rec.throttled, want) {
		t.Errorf("throttles observed = %q, want %q", rec.throttled, want)
	}
}

// launcherByName picks a launcher by function name.
type launcherByName map[string]shellLauncher

func (l launcherByName) Prepare(ctx context.Context, fn *lambda.Function) (LaunchSpec, error) {
	return l[fn.Name].Prepare(ctx, fn)
}
