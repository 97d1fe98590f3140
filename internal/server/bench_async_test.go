package server_test

// BenchmarkAsync measures Event invocations beside the synchronous path,
// in one run on one server: what it costs to get a 202 (the event is
// fsynced into JetStream first), how long an accepted event takes to run,
// and how fast a burst drains. docs/perf.md explains the figures and
// records a run.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"gust/internal/gusttest"
)

// reportFn is the benchmark function that reports each run to arrivals.
const reportFn = "report"

// asyncBenchWait only bounds a wait for deliveries, so that a lost event
// fails the benchmark instead of hanging it.
const asyncBenchWait = 2 * time.Minute

func BenchmarkAsync(b *testing.B) {
	if testing.Short() {
		b.Skip("starts a server and runtimes")
	}
	s := gusttest.StartServer(b)
	c := benchClient(s.AWSConfig(), s.Endpoint)
	deployBenchFunctions(b, c) // "go" is the no-op echo
	arr := newArrivals(b)
	deployReportFunction(b, c, arr.url())

	for _, conc := range []int{1, 8} {
		b.Run(fmt.Sprintf("path=sync/conc=%d", conc), func(b *testing.B) {
			warmInvoke(b, c, "go", conc)
		})
	}
	for _, conc := range []int{1, 8} {
		b.Run(fmt.Sprintf("path=accept/conc=%d", conc), func(b *testing.B) {
			acceptEvents(b, s, c, conc)
		})
	}
	// Stop the echo's environments so they do not share the machine
	// with the report function's.
	s.Pool().Invalidate("go", nil)
	b.Run("path=delivery/conc=1", func(b *testing.B) {
		deliverEvents(b, c, arr)
	})
	b.Run("path=drain/conc=8", func(b *testing.B) {
		drainEvents(b, c, arr, 8)
	})
}

// deployReportFunction builds testdata/reportfn and creates it as
// reportFn, reporting to collectURL.
func deployReportFunction(b *testing.B, c *lambda.Client, collectURL string) {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "bootstrap")
	build := exec.Command("go", "build", "-o", bin, "./internal/server/testdata/reportfn")
	build.Dir = gusttest.RepoRoot(b)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build reportfn: %v\n%s", err, out)
	}
	_, err := c.CreateFunction(context.Background(), &lambda.CreateFunctionInput{
		FunctionName: aws.String(reportFn),
		Runtime:      types.RuntimeProvidedal2023,
		Handler:      aws.String("bootstrap"),
		Role:         aws.String("arn:aws:iam::000000000000:role/lambda-role"),
		MemorySize:   aws.Int32(512),
		Code:         &types.FunctionCode{ZipFile: gusttest.ZipBinary(b, bin)},
		Environment:  &types.Environment{Variables: map[string]string{"COLLECT_URL": collectURL}},
	})
	if err != nil {
		b.Fatalf("create %s: %v", reportFn, err)
	}
}

// invokeAsync queues one Event invocation of fn and returns the request
// id of its 202.
func invokeAsync(ctx context.Context, c *lambda.Client, fn string) (string, error) {
	out, err := c.Invoke(ctx, &lambda.InvokeInput{
		FunctionName:   aws.String(fn),
		InvocationType: types.InvocationTypeEvent,
		Payload:        []byte(benchPayload),
	})
	if err != nil {
		return "", err
	}
	if out.StatusCode != http.StatusAccepted {
		return "", fmt.Errorf("status %d, want 202", out.StatusCode)
	}
	id, ok := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	if !ok || id == "" {
		return "", fmt.Errorf("202 without a request id")
	}
	return id, nil
}

// arrivals is the collector of the async benchmarks: an HTTP server in
// the benchmark process that reportfn POSTs to, recording when each
// request id first arrived.
type arrivals struct {
	srv     *httptest.Server
	mu      sync.Mutex
	at      map[string]time.Time
	changed chan struct{} // closed and replaced on every new arrival
}

func newArrivals(b *testing.B) *arrivals {
	a := &arrivals{at: make(map[string]time.Time), changed: make(chan struct{})}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var d delivery
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &d); err != nil || d.RequestID == "" {
			http.Error(w, "want a JSON body with a requestId", http.StatusBadRequest)
			return
		}
		now := time.Now()
		a.mu.Lock()
		if _, dup := a.at[d.RequestID]; !dup {
			a.at[d.RequestID] = now
			close(a.changed)
			a.changed = make(chan struct{})
		}
		a.mu.Unlock()
	}))
	b.Cleanup(a.srv.Close)
	return a
}

func (a *arrivals) url() string { return a.srv.URL }

// reset forgets every arrival.
func (a *arrivals) reset() {
	a.mu.Lock()
	clear(a.at)
	a.mu.Unlock()
}

// wait blocks until every id has arrived and returns the arrival times,
// in the order of ids.
func (a *arrivals) wait(b *testing.B, ids []string) []time.Time {
	b.Helper()
	timeout := time.NewTimer(asyncBenchWait)
	defer timeout.Stop()
	times := make([]time.Time, len(ids))
	next := 0
	for {
		a.mu.Lock()
		for next < len(ids) {
			at, ok := a.at[ids[next]]
			if !ok {
				break
			}
			times[next] = at
			next++
		}
		changed := a.changed
		a.mu.Unlock()
		if next == len(ids) {
			return times
		}
		select {
		case <-changed:
		case <-timeout.C:
			b.Fatalf("%d of %d async events not delivered after %s (first missing: %s)",
				len(ids)-next, len(ids), asyncBenchWait, ids[next])
		}
	}
}

// succeeded is how many of fn's async events have run successfully.
func succeeded(b *testing.B, s *gusttest.Server, fn string) int64 {
	st, err := s.Async().Stats(context.Background(), fn)
	if err != nil {
		b.Fatalf("async stats of %s: %v", fn, err)
	}
	return st.Succeeded
}

// acceptEvents sends b.N Event invocations of the echo function from conc
// goroutines and reports the 202 round trip and the accepted rate. The
// queue's worker delivers the events meanwhile, on the same 2 cores; the
// benchmark waits for the backlog to drain with the timer stopped.
func acceptEvents(b *testing.B, s *gusttest.Server, c *lambda.Client, conc int) {
	ctx := context.Background()
	const fn = "go"
	want := succeeded(b, s, fn)
	// Warm up: the first event of a function creates its consumer.
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for range 3 {
				if _, err := invokeAsync(ctx, c, fn); err != nil {
					b.Errorf("warm-up: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	want += int64(3 * conc)
	gusttest.WaitFor(b, asyncBenchWait, "warm-up events to run", func() bool { return succeeded(b, s, fn) >= want })

	lats := make([][]time.Duration, conc)
	var next atomic.Int64
	n := int64(b.N)
	b.ResetTimer()
	start := time.Now()
	for g := range conc {
		lats[g] = make([]time.Duration, 0, b.N/conc+1)
		wg.Go(func() {
			for next.Add(1) <= n {
				t0 := time.Now()
				_, err := invokeAsync(ctx, c, fn)
				lats[g] = append(lats[g], time.Since(t0))
				if err != nil {
					b.Errorf("async invoke: %v", err)
					next.Store(n)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if b.Failed() {
		return
	}
	want += n
	gusttest.WaitFor(b, asyncBenchWait, "accepted events to run", func() bool { return succeeded(b, s, fn) >= want })
	all := slices.Concat(lats...)
	slices.Sort(all)
	b.ReportMetric(percentile(all, 50), "p50-µs")
	b.ReportMetric(percentile(all, 99), "p99-µs")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
}

// warmReport runs n concurrent pairs of synchronous invokes of reportFn,
// so the pool holds up to n warm environments for the queue's worker,
// then forgets their arrivals.
func warmReport(b *testing.B, c *lambda.Client, arr *arrivals, n int) {
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for range 2 {
				out, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String(reportFn)})
				if err == nil && out.FunctionError != nil {
					err = fmt.Errorf("function error %s: %s", *out.FunctionError, out.Payload)
				}
				if err != nil {
					b.Errorf("warm-up: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	// A synchronous invoke returns after the function's report arrived.
	arr.reset()
}

// deliverEvents sends b.N Event invocations one at a time, each after the
// previous one ran, and reports the end-to-end latency: from just before
// the client sends the invoke until the function's report arrives.
func deliverEvents(b *testing.B, c *lambda.Client, arr *arrivals) {
	ctx := context.Background()
	warmReport(b, c, arr, 2)
	// One untimed event, so the worker and its consumer exist.
	id, err := invokeAsync(ctx, c, reportFn)
	if err != nil {
		b.Fatalf("warm-up: %v", err)
	}
	arr.wait(b, []string{id})

	lats := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		id, err := invokeAsync(ctx, c, reportFn)
		if err != nil {
			b.Fatalf("async invoke: %v", err)
		}
		lats = append(lats, arr.wait(b, []string{id})[0].Sub(t0))
	}
	b.StopTimer()
	slices.Sort(lats)
	b.ReportMetric(percentile(lats, 50), "p50-µs")
	b.ReportMetric(percentile(lats, 99), "p99-µs")
}

// drainEvents sends a burst of b.N Event invocations from conc goroutines
// and reports how fast the queue drains it (first send to last arrival),
// how fast it was accepted, how long the last delivery came after the last
// 202 (0 when delivery kept up), and the end-to-end latency under the
// burst.
func drainEvents(b *testing.B, c *lambda.Client, arr *arrivals, conc int) {
	ctx := context.Background()
	// As many warm environments as the worker runs events at once
	// (config.Server.AsyncConcurrency's default).
	warmReport(b, c, arr, 16)

	type sent struct {
		id string
		t0 time.Time
	}
	sends := make([][]sent, conc)
	var next atomic.Int64
	n := int64(b.N)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for g := range conc {
		sends[g] = make([]sent, 0, b.N/conc+1)
		wg.Go(func() {
			for next.Add(1) <= n {
				t0 := time.Now()
				id, err := invokeAsync(ctx, c, reportFn)
				if err != nil {
					b.Errorf("async invoke: %v", err)
					next.Store(n)
					return
				}
				sends[g] = append(sends[g], sent{id, t0})
			}
		})
	}
	wg.Wait()
	accepted := time.Since(start)
	if b.Failed() {
		b.FailNow()
	}
	all := slices.Concat(sends...)
	ids := make([]string, len(all))
	for i, s := range all {
		ids[i] = s.id
	}
	times := arr.wait(b, ids)
	b.StopTimer()
	last := slices.MaxFunc(times, func(x, y time.Time) int { return x.Compare(y) })
	lats := make([]time.Duration, len(all))
	for i, s := range all {
		lats[i] = times[i].Sub(s.t0)
	}
	slices.Sort(lats)
	b.ReportMetric(float64(b.N)/last.Sub(start).Seconds(), "events/s")
	b.ReportMetric(float64(b.N)/accepted.Seconds(), "accepted-events/s")
	b.ReportMetric(max(0, float64((last.Sub(start)-accepted).Microseconds())/1e3), "lag-ms")
	b.ReportMetric(percentile(lats, 50)/1e3, "p50-ms")
	b.ReportMetric(percentile(lats, 99)/1e3, "p99-ms")
	arr.reset()
}
