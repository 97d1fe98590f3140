package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/google/go-cmp/cmp"

	"gust/internal/bench"
	"gust/internal/gusttest"
	"gust/internal/sandbox"
)

// TestMain lets this test binary serve as the linux sandbox's init: the
// servers these tests start use it by default when they run as root. The
// go function's bootstrap is echofn, built by the tests, not this binary.
func TestMain(m *testing.M) {
	sandbox.Init()
	os.Exit(m.Run())
}

// buildEchoFn builds internal/bench/echofn into a temp dir.
func buildEchoFn(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./internal/bench/echofn")
	cmd.Dir = gusttest.RepoRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build echofn: %v\n%s", err, out)
	}
	return bin
}

// tinyOptions measure every figure with as little load as will do.
func tinyOptions(t *testing.T) bench.Options {
	return bench.Options{
		Concurrency: []int{1, 2},
		Duration:    200 * time.Millisecond,
		ColdStarts:  2,
		ScaleOut:    4,
		AsyncEvents: 20,
		Runtimes:    []string{"go", "python"},
		GoBootstrap: buildEchoFn(t),
		Version:     "test",
		Command:     []string{"bench.test"},
	}
}

func TestRunInProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and runs every measurement")
	}
	opts := tinyOptions(t)
	// The report names the interpreter named, not the one on PATH.
	python := "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		python = "python3" // the runtime is measured either way
	}
	opts.Python = python
	out, err := exec.Command(python, "-c", "import platform; print(platform.python_version())").Output()
	if err != nil {
		t.Fatal(err)
	}
	wantPython := strings.TrimSpace(string(out))
	var progress bytes.Buffer
	rep, err := bench.Run(context.Background(), opts, &progress)
	if err != nil {
		t.Fatalf("Run: %v\nprogress:\n%s", err, progress.String())
	}
	if !rep.Target.InProcess || rep.Target.Sandbox == "" {
		t.Errorf("target = %+v, want an in-process server with its sandbox", rep.Target)
	}
	// The dynamic linker is mapped into this process only if it was
	// linked dynamically.
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	want := "static"
	if bytes.Contains(maps, []byte("/ld-linux")) {
		want = "dynamic"
	}
	if rep.Target.Linking != want {
		t.Errorf("target linking = %q, want %q", rep.Target.Linking, want)
	}
	if got := rep.Machine.Interpreters["python"]; got != wantPython {
		t.Errorf("python interpreter = %q, want %s's %q", got, python, wantPython)
	}
	checkReport(t, opts, rep)
	if !strings.Contains(progress.String(), "started a server in-process") {
		t.Errorf("progress does not mention the server:\n%s", progress.String())
	}
	// The server is stopped once Run returns.
	c := &http.Client{Timeout: 5 * time.Second}
	if resp, err := c.Get(rep.Target.Endpoint + "/healthz"); err == nil {
		resp.Body.Close()
		t.Errorf("in-process server at %s still answers after Run (status %d)", rep.Target.Endpoint, resp.StatusCode)
	}
}

func TestRunEndpoint(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and runs every measurement")
	}
	srv := gusttest.StartServer(t)
	opts := tinyOptions(t)
	opts.Endpoint = srv.Endpoint
	opts.Region = srv.Region()
	opts.Credentials = credentials.NewStaticCredentialsProvider(srv.KeyID, srv.Secret, "")
	rep, err := bench.Run(context.Background(), opts, nil)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if rep.Target.InProcess || rep.Target.Endpoint != srv.Endpoint {
		t.Errorf("target = %+v, want endpoint %s", rep.Target, srv.Endpoint)
	}
	checkReport(t, opts, rep)
	// The bench functions are gone.
	out, err := srv.Lambda().ListFunctions(context.Background(), &lambda.ListFunctionsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range out.Functions {
		t.Errorf("function %s left behind", *fn.FunctionName)
	}
}

// checkReport checks that rep holds real figures for every measurement
// opts asked for. It asserts no speed: only counts, orderings and the
// relations between figures.
func checkReport(t *testing.T, opts bench.Options, rep *bench.Report) {
	t.Helper()
	if rep.Machine.Cores < 1 || rep.Machine.GoVersion == "" || rep.GustVersion != "test" {
		t.Errorf("machine = %+v, version %q", rep.Machine, rep.GustVersion)
	}
	wantSettings := bench.Settings{
		Concurrency: opts.Concurrency, DurationMs: 200, ColdStarts: 2, ScaleOut: 4, HoldMs: 1000,
		AsyncEvents: 20, Runtimes: opts.Runtimes, GoBootstrap: opts.GoBootstrap, MemoryMB: 512,
	}
	if diff := cmp.Diff(wantSettings, rep.Settings); diff != "" {
		t.Errorf("settings (-want +got):\n%s", diff)
	}

	floorP50 := map[int]float64{}
	if len(rep.Floor) != len(opts.Concurrency) {
		t.Fatalf("%d floor rows, want %d", len(rep.Floor), len(opts.Concurrency))
	}
	for i, w := range rep.Floor {
		checkWarm(t, w, "floor", opts.Concurrency[i])
		floorP50[w.Concurrency] = w.P50Us
	}
	if want := len(opts.Runtimes) * len(opts.Concurrency); len(rep.Warm) != want {
		t.Fatalf("%d warm rows, want %d", len(rep.Warm), want)
	}
	for i, w := range rep.Warm {
		rt, conc := opts.Runtimes[i/len(opts.Concurrency)], opts.Concurrency[i%len(opts.Concurrency)]
		checkWarm(t, w, rt, conc)
		if want := w.P50Us - floorP50[conc]; w.OverheadP50Us != want {
			t.Errorf("%s conc=%d: overhead %v, want p50 %v − floor p50 %v", rt, conc, w.OverheadP50Us, w.P50Us, floorP50[conc])
		}
	}

	if len(rep.Cold) != len(opts.Runtimes) {
		t.Fatalf("%d cold rows, want %d", len(rep.Cold), len(opts.Runtimes))
	}
	for i, c := range rep.Cold {
		if c.Function != opts.Runtimes[i] || c.Starts != opts.ColdStarts {
			t.Errorf("cold row %d = %+v, want %s with %d starts", i, c, opts.Runtimes[i], opts.ColdStarts)
		}
		if c.InitP50Ms <= 0 || c.InitP50Ms > c.InitP90Ms || c.FirstInvokeP50Ms > c.FirstInvokeP90Ms {
			t.Errorf("cold %s: %+v, want 0 < init p50 ≤ p90 and first invoke p50 ≤ p90", c.Function, c)
		}
		// The init runs inside the first invoke the client timed.
		if c.FirstInvokeP50Ms < c.InitP50Ms {
			t.Errorf("cold %s: first invoke p50 %v ms < init p50 %v ms", c.Function, c.FirstInvokeP50Ms, c.InitP50Ms)
		}
	}

	s := rep.ScaleOut
	if s == nil {
		t.Fatal("no scale-out figures")
	}
	if s.Invokes != opts.ScaleOut || s.Environments != opts.ScaleOut {
		t.Errorf("scale-out: %d invokes in %d environments, want %d in %d", s.Invokes, s.Environments, opts.ScaleOut, opts.ScaleOut)
	}
	if !(s.FirstStartMs <= s.MedianStartMs && s.MedianStartMs <= s.LastStartMs && s.LastStartMs <= s.AllReturnedMs) || s.AllReturnedMs < float64(s.HoldMs) {
		t.Errorf("scale-out: %+v, want first start ≤ median start ≤ last start ≤ all returned, and all returned ≥ hold", s)
	}

	a := rep.Async
	if a == nil {
		t.Fatal("no async figures")
	}
	if a.Events != opts.AsyncEvents || a.Delivered != a.Events {
		t.Errorf("async: %d sent, %d delivered, want %d of %d", a.Events, a.Delivered, opts.AsyncEvents, opts.AsyncEvents)
	}
	if a.AcceptedPerSec <= 0 || a.DeliveredPerSec <= 0 || a.P50Ms <= 0 || a.P50Ms > a.P99Ms {
		t.Errorf("async: %+v, want positive rates and 0 < p50 ≤ p99", a)
	}

	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Warm invoke", "| floor | 1 |", "| python | 2 |", "## Cold start", "## Scale-out", "## Async"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	js, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var back bench.Report
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(*rep, back); diff != "" {
		t.Errorf("JSON round trip (-want +got):\n%s", diff)
	}
}

func checkWarm(t *testing.T, w bench.Warm, fn string, conc int) {
	t.Helper()
	if w.Function != fn || w.Concurrency != conc {
		t.Errorf("row %s conc=%d, want %s conc=%d", w.Function, w.Concurrency, fn, conc)
	}
	if w.Invokes < 1 || w.Seconds <= 0 || w.InvokesPerSec <= 0 || w.P50Us <= 0 || w.P50Us > w.P99Us {
		t.Errorf("%s conc=%d: %+v, want invokes > 0 and 0 < p50 ≤ p99", fn, conc, w)
	}
}

func TestOptionsRefused(t *testing.T) {
	tests := []struct {
		name string
		opts bench.Options
		want string
	}{
		{"unknown runtime", bench.Options{Runtimes: []string{"ruby"}}, `unknown runtime "ruby"`},
		{"runtime twice", bench.Options{Runtimes: []string{"go", "go"}}, `runtime "go" named twice`},
		{"zero concurrency", bench.Options{Concurrency: []int{1, 0}}, "concurrency must be at least 1"},
		{"negative duration", bench.Options{Duration: -time.Second}, "duration must be positive"},
		{"endpoint without credentials", bench.Options{Endpoint: "http://127.0.0.1:1"}, "needs credentials"},
		{"interpreter for an endpoint", bench.Options{Endpoint: "http://127.0.0.1:1", Credentials: credentials.NewStaticCredentialsProvider("k", "s", ""), Python: "/usr/bin/python3"}, "chosen by the server"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := bench.Run(context.Background(), tt.opts, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
