package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"gust/internal/config"
	"gust/internal/gusttest"
)

// holdSlot runs a synchronous invocation of name that sleeps for seconds
// and returns once the function is running; the returned func waits for it
// to end.
func holdSlot(t *testing.T, c *lambda.Client, col *collector, name string, seconds float64) (wait func()) {
	t.Helper()
	have := len(col.of(name))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String(name),
			Payload: fmt.Appendf(nil, `{"sleep":%g}`, seconds)})
	}()
	col.waitFor(t, name, have+1, 20*time.Second)
	return func() { <-done }
}

func putReserved(t *testing.T, c *lambda.Client, name string, n int32) {
	t.Helper()
	if _, err := c.PutFunctionConcurrency(context.Background(), &lambda.PutFunctionConcurrencyInput{
		FunctionName: aws.String(name), ReservedConcurrentExecutions: aws.Int32(n)}); err != nil {
		t.Fatalf("reserve %d for %s: %v", n, name, err)
	}
}

// Reserved concurrency 0 sends events straight to the failure path.
func TestAsyncReservedZeroGoesToFailurePath(t *testing.T) {
	srv := asyncServer(t)
	c := srv.Lambda()
	col := newCollector(t)
	createAsyncFunction(t, c, col, "zero")
	putReserved(t, c, "zero", 0)
	putEventInvokeConfig(t, c, "zero", 2, "", queueARN("zero-failed"))

	id := invokeEvent(t, c, "zero", `{}`)
	msgs := deadLetters(t, srv, "zero-failed", 1, 20*time.Second)
	var rec destinationRecord
	if err := json.Unmarshal(msgs[0].Body, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.RequestContext.RequestID != id || rec.RequestContext.ApproximateInvokeCount != 0 || rec.ResponseContext != nil {
		t.Errorf("record = %+v, want request %s never invoked", rec, id)
	}
	if got := col.of("zero"); len(got) != 0 {
		t.Errorf("a function reserved at 0 ran %d times", len(got))
	}
}

// Throttled events are retried with backoff without using up the
// function-error retries (MaximumRetryAttempts 0 here).
func TestAsyncThrottleRetriesUnderReservedConcurrency(t *testing.T) {
	srv := asyncServer(t)
	c := srv.Lambda()
	col := newCollector(t)
	createAsyncFunction(t, c, col, "one", withTimeout(30))
	putReserved(t, c, "one", 1)
	putEventInvokeConfig(t, c, "one", 0, "", queueARN("one-failed"))

	// A synchronous invocation holds the only slot for a while.
	release := holdSlot(t, c, col, "one", 1.5)
	ids := map[string]bool{}
	for range 3 {
		ids[invokeEvent(t, c, "one", `{"async":true}`)] = true
	}
	got := col.waitFor(t, "one", 4, 60*time.Second)
	release()
	for _, d := range got[1:] {
		if !ids[d.RequestID] {
			t.Errorf("unexpected delivery %s", d.RequestID)
		}
		delete(ids, d.RequestID)
	}
	if len(ids) != 0 {
		t.Errorf("events never delivered: %v", ids)
	}
	st, err := srv.Async().Stats(context.Background(), "one")
	if err != nil {
		t.Fatal(err)
	}
	if st.Throttled == 0 {
		t.Errorf("no event was throttled while the only slot was busy: %+v", st)
	}
	if st.DeadLettered != 0 || st.Retried != 0 {
		t.Errorf("throttles used function-error retries: %+v", st)
	}
}

// An event throttled for longer than MaximumEventAgeInSeconds goes to the
// failure path as EventAgeExceeded. 60 s is the smallest age Lambda
// allows, so this test takes a minute; it runs in parallel.
func TestAsyncMaxEventAge(t *testing.T) {
	if testing.Short() {
		t.Skip("takes a minute: the smallest MaximumEventAgeInSeconds is 60")
	}
	t.Parallel()
	srv := asyncServer(t)
	c := srv.Lambda()
	col := newCollector(t)
	createAsyncFunction(t, c, col, "aged", withTimeout(90))
	putReserved(t, c, "aged", 1)
	if _, err := c.PutFunctionEventInvokeConfig(context.Background(), &lambda.PutFunctionEventInvokeConfigInput{
		FunctionName: aws.String("aged"), MaximumEventAgeInSeconds: aws.Int32(60),
		DestinationConfig: &types.DestinationConfig{OnFailure: &types.OnFailure{Destination: aws.String(queueARN("aged-failed"))}},
	}); err != nil {
		t.Fatal(err)
	}
	release := holdSlot(t, c, col, "aged", 66)
	// An event's age is wall-clock time from its accept, which the queue
	// keeps in milliseconds (it must survive a restart). This process's
	// monotonic clock can drift from it where a virtual machine's wall
	// clock is corrected: measured by it, an event once looked expired
	// 0.24 s early.
	start := time.Now().Truncate(time.Millisecond)
	id := invokeEvent(t, c, "aged", `{"late":true}`)
	msgs := deadLetters(t, srv, "aged-failed", 1, 90*time.Second)
	if waited := time.Since(start); waited < 60*time.Second {
		t.Errorf("event expired after %s, before its 60 s maximum age", waited)
	}
	var rec destinationRecord
	if err := json.Unmarshal(msgs[0].Body, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.RequestContext.Condition != "EventAgeExceeded" || rec.RequestContext.RequestID != id || rec.RequestContext.ApproximateInvokeCount != 0 {
		t.Errorf("record context = %+v, want EventAgeExceeded for %s", rec.RequestContext, id)
	}
	release()
	if got := col.of("aged"); len(got) != 1 {
		t.Errorf("the expired event ran: %d deliveries", len(got))
	}
}

// A function that re-invokes itself asynchronously is stopped after 16
// hops, and the stopped event goes to the failure path.
func TestAsyncRecursiveLoopStops(t *testing.T) {
	t.Parallel()
	srv := asyncServer(t)
	c := srv.Lambda()
	col := newCollector(t)
	bin := filepath.Join(t.TempDir(), "bootstrap")
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./internal/server/testdata/loopfn")
	build.Dir = gusttest.RepoRoot(t)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build loopfn: %v\n%s", err, out)
	}
	createFunction(t, c, "loop", types.RuntimeProvidedal2023, "bootstrap", gusttest.ZipBinary(t, bin), withTimeout(10),
		func(in *lambda.CreateFunctionInput) {
			in.Environment = &types.Environment{Variables: map[string]string{
				"COLLECT_URL": col.srv.URL, "GUST_TEST_ENDPOINT": srv.Endpoint,
				"GUST_TEST_KEY": srv.KeyID, "GUST_TEST_SECRET": srv.Secret,
			}}
		})
	putEventInvokeConfig(t, c, "loop", 0, "", queueARN("loop-stopped"))

	invokeEvent(t, c, "loop", `{"loop":true}`)
	msgs := deadLetters(t, srv, "loop-stopped", 1, 60*time.Second)
	if got := col.of("loop"); len(got) != 16 {
		t.Errorf("the loop ran %d times, want 16", len(got))
	}
	var rec destinationRecord
	if err := json.Unmarshal(msgs[0].Body, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.RequestContext.ApproximateInvokeCount != 0 || !sameJSON(rec.RequestPayload, `{"loop":true}`) {
		t.Errorf("stopped event record = %+v", rec)
	}
	st, err := srv.Async().Stats(context.Background(), "loop")
	if err != nil || st.RecursiveInvocationsDropped != 1 {
		t.Errorf("RecursiveInvocationsDropped = %d (%v), want 1", st.RecursiveInvocationsDropped, err)
	}
}

// A flood to one function leaves another's events running: each function
// has its own consumer.
func TestAsyncFloodDoesNotStarveAnotherFunction(t *testing.T) {
	srv := asyncServer(t, func(c *config.Server) { c.AsyncConcurrency = 4 })
	c := srv.Lambda()
	col := newCollector(t)
	createAsyncFunction(t, c, col, "flood", withTimeout(10))
	createAsyncFunction(t, c, col, "quiet")

	// Before the flood: how long the quiet function's events take, warm.
	quietLatency(t, c, col, 1)
	baseline := quietLatency(t, c, col, 5)

	// 1,000 events of 0.2 s each, 4 at a time: about 50 s to drain.
	// GUST_FLOOD_EVENTS raises it for a soak (e.g. 100000).
	flood := 1000
	if v, err := strconv.Atoi(os.Getenv("GUST_FLOOD_EVENTS")); err == nil && v > 0 {
		flood = v
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < flood; i += 8 {
				_, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("flood"),
					InvocationType: types.InvocationTypeEvent, Payload: fmt.Appendf(nil, `{"sleep":0.2,"i":%d}`, i)})
				if err != nil {
					t.Errorf("flood event %d: %v", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	during := quietLatency(t, c, col, 5)
	t.Logf("quiet function's slowest delivery: %s alone, %s behind a flood of %d events", baseline, during, flood)
	st, err := srv.Async().Stats(context.Background(), "flood")
	if err != nil {
		t.Fatal(err)
	}
	if backlog := st.Queued + uint64(st.InFlight); backlog < uint64(flood/2) {
		t.Errorf("the flood had drained to %d events before the quiet function ran; the test shows nothing", backlog)
	}
	// Deleting the function discards its queued events.
	if _, err := c.DeleteFunction(context.Background(), &lambda.DeleteFunctionInput{FunctionName: aws.String("flood")}); err != nil {
		t.Fatal(err)
	}
	gusttest.WaitFor(t, 20*time.Second, "the flood's queue to be dropped", func() bool {
		st, err := srv.Async().Stats(context.Background(), "flood")
		return err == nil && st.Queued == 0
	})
}

// quietLatency sends n events to "quiet" and returns the longest time
// from a 202 to the function running.
func quietLatency(t *testing.T, c *lambda.Client, col *collector, n int) time.Duration {
	t.Helper()
	sent := map[string]time.Time{}
	have := len(col.of("quiet"))
	for range n {
		sent[invokeEvent(t, c, "quiet", `{}`)] = time.Now()
	}
	var slowest time.Duration
	for _, d := range col.waitFor(t, "quiet", have+n, 20*time.Second)[have:] {
		slowest = max(slowest, d.At.Sub(sent[d.RequestID]))
	}
	return slowest
}
