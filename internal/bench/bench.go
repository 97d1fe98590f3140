// Package bench is `gust bench`: a reproducible benchmark of a Gust server
// driven through the aws-sdk-go-v2 Lambda client, as a user's program would
// drive it. Run measures, in one process and one run:
//
//   - floor: a bare net/http server on loopback that answers the Invoke
//     route by echoing the body, called with the same client type, so warm
//     figures have a reference taken on the same machine at the same time;
//   - warm: invokes/s, p50 and p99 per runtime and concurrency, and the
//     p50 overhead over the floor;
//   - cold: the first invoke after a configuration change forced a new
//     environment, as the client sees it and as Init Duration reports it;
//   - scale-out: how long N simultaneous invokes of held environments take
//     to all start and all return;
//   - async: Event invocations accepted and delivered per second, and
//     their end-to-end latency, through a collector in the bench process.
//
// It either starts a real server in-process (a temporary data dir, a random
// loopback port, the config defaults of `gust server`) or measures a running
// one at Options.Endpoint. It deploys gust-bench-<runtime> echo functions
// and deletes them (and the in-process server and its data) at the end.
//
// Goroutines: Run starts the floor and collector HTTP servers and the
// invoking goroutines of each measurement; every one of them has ended when
// Run returns. Invariants: every figure comes from requests that succeeded;
// a failed invoke fails the run rather than being left out of a figure.
package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Runtimes the bench knows, by the name used in reports and function names.
const (
	RuntimeGo     = "go"
	RuntimePython = "python"
	RuntimeNode   = "node"
)

// Options say what Run measures and where. Zero values take the defaults
// stated on each field.
type Options struct {
	// Endpoint is the Gust API to measure, e.g. http://127.0.0.1:9001.
	// Default "": start a server in-process with a temporary data dir on a
	// random loopback port, and stop it at the end.
	Endpoint string
	// Region and Credentials sign requests to Endpoint; the gust command
	// fills them from its connection settings. Default us-east-1; without
	// credentials Run refuses an Endpoint. In-process, Region is the
	// server's region and Credentials are ignored.
	Region      string
	Credentials aws.CredentialsProvider
	// AccountID is Endpoint's account, for the execution role's ARN.
	// Default 000000000000 (in-process: the server's).
	AccountID string
	// Sandbox is the in-process server's sandbox ("linux" or "process").
	// Default: the server's default (linux as root on Linux).
	Sandbox string
	// Python and Node are the in-process server's interpreters, as gust
	// server's --python and --node. Default: python3 and node on PATH.
	Python string
	Node   string

	// Concurrency lists the in-flight invokes of each warm measurement.
	// Default 1, 8, 32.
	Concurrency []int
	// Duration is how long each warm measurement runs. Default 3s.
	Duration time.Duration
	// ColdStarts is how many cold starts are measured per runtime.
	// Default 20; negative skips cold starts.
	ColdStarts int
	// ScaleOut is how many environments the scale-out measurement starts
	// at once. Default 100; negative skips it.
	ScaleOut int
	// Hold is how long each scale-out invoke keeps its environment busy
	// (the event's hold_ms). Default 1s.
	Hold time.Duration
	// AsyncEvents is how many Event invocations the async measurement
	// sends. Default 1000; negative skips it.
	AsyncEvents int
	// Runtimes is a subset of go, python and node. Default: go, and each
	// of python and node whose interpreter (python3, node) is on PATH.
	Runtimes []string
	// GoBootstrap is the provided.al2023 bootstrap of the go function.
	// Default: the running executable, which must call
	// ServeFunctionIfAsked (the gust binary does).
	GoBootstrap string

	// Version is the gust version named in the report. Default "dev".
	Version string
	// Command is the command line named in the report. Default os.Args.
	Command []string
	// Logger receives the in-process server's log. Default: its warnings
	// and errors as text on Run's progress writer.
	Logger *slog.Logger
}

// DefaultConcurrency is Options.Concurrency's default.
var DefaultConcurrency = []int{1, 8, 32}

// Defaults of the other Options fields.
const (
	DefaultDuration    = 3 * time.Second
	DefaultColdStarts  = 20
	DefaultScaleOut    = 100
	DefaultHold        = time.Second
	DefaultAsyncEvents = 1000

	defaultRegion  = "us-east-1"
	defaultAccount = "000000000000"
)

// withDefaults fills in defaults and checks what was given.
func (o Options) withDefaults() (Options, error) {
	if len(o.Concurrency) == 0 {
		o.Concurrency = slices.Clone(DefaultConcurrency)
	}
	for _, c := range o.Concurrency {
		if c < 1 {
			return o, fmt.Errorf("bench: concurrency must be at least 1, got %d", c)
		}
	}
	if o.Duration == 0 {
		o.Duration = DefaultDuration
	}
	if o.Duration < 0 {
		return o, fmt.Errorf("bench: duration must be positive, got %s", o.Duration)
	}
	if o.ColdStarts == 0 {
		o.ColdStarts = DefaultColdStarts
	}
	if o.ScaleOut == 0 {
		o.ScaleOut = DefaultScaleOut
	}
	if o.Hold == 0 {
		o.Hold = DefaultHold
	}
	if o.Hold < 0 {
		return o, fmt.Errorf("bench: hold must be positive, got %s", o.Hold)
	}
	if o.AsyncEvents == 0 {
		o.AsyncEvents = DefaultAsyncEvents
	}
	if o.Endpoint != "" && (o.Python != "" || o.Node != "") {
		return o, fmt.Errorf("bench: the interpreters are chosen by the server at %s, not by the bench", o.Endpoint)
	}
	if len(o.Runtimes) == 0 {
		o.Runtimes = foundRuntimes(o)
	}
	seen := map[string]bool{}
	for _, r := range o.Runtimes {
		if !slices.Contains([]string{RuntimeGo, RuntimePython, RuntimeNode}, r) {
			return o, fmt.Errorf("bench: unknown runtime %q: want go, python or node", r)
		}
		if seen[r] {
			return o, fmt.Errorf("bench: runtime %q named twice", r)
		}
		seen[r] = true
	}
	if o.GoBootstrap == "" {
		exe, err := os.Executable()
		if err != nil {
			return o, fmt.Errorf("bench: go bootstrap: %w", err)
		}
		o.GoBootstrap = exe
	}
	if o.Region == "" {
		o.Region = defaultRegion
	}
	if o.AccountID == "" {
		o.AccountID = defaultAccount
	}
	if o.Endpoint != "" && o.Credentials == nil {
		return o, fmt.Errorf("bench: endpoint %s needs credentials", o.Endpoint)
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	if o.Command == nil {
		o.Command = os.Args
	}
	return o, nil
}

// foundRuntimes is go plus each interpreted runtime whose interpreter is
// found.
func foundRuntimes(o Options) []string {
	rts := []string{RuntimeGo}
	if _, err := exec.LookPath(o.python()); err == nil {
		rts = append(rts, RuntimePython)
	}
	if _, err := exec.LookPath(o.node()); err == nil {
		rts = append(rts, RuntimeNode)
	}
	return rts
}

// python and node are the interpreters the runtimes use: those named, or
// else python3 and node on PATH, as the server's defaults.
func (o Options) python() string { return cmp.Or(o.Python, "python3") }
func (o Options) node() string   { return cmp.Or(o.Node, "node") }

// needsGo reports whether the go function is deployed: for its warm and
// cold figures, or for the scale-out and async measurements, which use it.
func (o Options) needsGo() bool {
	return slices.Contains(o.Runtimes, RuntimeGo) || o.ScaleOut > 0 || o.AsyncEvents > 0
}

// Run measures the server that opts name and returns the report. Progress
// lines (one per finished measurement) go to progress, which may be nil.
// Everything Run deployed or started is removed before it returns, also
// when a measurement fails.
func Run(ctx context.Context, opts Options, progress io.Writer) (rep *Report, err error) {
	opts, err = opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if progress == nil {
		progress = io.Discard
	}
	// The server's logger and the progress lines write concurrently.
	progress = &lockedWriter{w: progress}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(progress, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	p := func(format string, args ...any) { fmt.Fprintf(progress, format+"\n", args...) }
	rep = newReport(opts)
	begin := time.Now()

	t, err := openTarget(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := t.close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	rep.Target = t.info
	if t.info.InProcess {
		p("started a server in-process at %s (sandbox %s)", t.info.Endpoint, t.info.Sandbox)
	}

	deployed, err := deploy(ctx, t, opts, p)
	defer func() {
		if derr := removeFunctions(t, deployed); derr != nil {
			err = errors.Join(err, derr)
		}
	}()
	if err != nil {
		return nil, err
	}

	floor, err := startFloor(opts)
	if err != nil {
		return nil, err
	}
	defer floor.close()

	if err := measureWarm(ctx, t, floor, opts, rep, p); err != nil {
		return nil, err
	}
	if opts.ColdStarts > 0 {
		for _, rt := range opts.Runtimes {
			c, err := measureCold(ctx, t, rt, opts.ColdStarts)
			if err != nil {
				return nil, err
			}
			rep.Cold = append(rep.Cold, c)
			p("cold %s: %d starts, first invoke p50 %.1f ms, init p50 %.1f ms", rt, c.Starts, c.FirstInvokeP50Ms, c.InitP50Ms)
		}
	}
	for _, rt := range opts.Runtimes {
		m, err := measureMemory(ctx, t, rt)
		if err != nil {
			p("idle memory %s: not measured: %v", rt, err)
			continue
		}
		rep.Memory = append(rep.Memory, m)
		p("idle memory %s: %d processes, RSS %.1f MB, PSS %.1f MB, private %.1f MB", rt, m.Processes, m.RSSMB, m.PSSMB, m.PrivateMB)
	}
	if opts.ScaleOut > 0 {
		s, err := measureScaleOut(ctx, t, opts.ScaleOut, opts.Hold)
		if err != nil {
			return nil, err
		}
		rep.ScaleOut = s
		p("scale-out: %d environments, handlers started after %.0f ms (median) and %.0f ms (last), all returned after %.0f ms",
			s.Environments, s.MedianStartMs, s.LastStartMs, s.AllReturnedMs)
	}
	if opts.AsyncEvents > 0 {
		a, err := measureAsync(ctx, t, opts.AsyncEvents)
		if err != nil {
			return nil, err
		}
		rep.Async = a
		p("async: %d events, %.0f accepted/s, %.0f delivered/s, p50 end to end %.1f ms",
			a.Events, a.AcceptedPerSec, a.DeliveredPerSec, a.P50Ms)
	}
	rep.ElapsedSeconds = time.Since(begin).Seconds()
	return rep, nil
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
