package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"gust/internal/bench/echo"
)

const (
	// asyncSenders is how many goroutines send the Event invocations.
	asyncSenders = 8
	// asyncWarmUpWait bounds the wait for the warm-up event.
	asyncWarmUpWait = time.Minute
	// asyncWait bounds the wait for the burst's deliveries, plus
	// asyncWaitPerEvent for each event, so a lost event fails the run
	// instead of hanging it.
	asyncWait         = 2 * time.Minute
	asyncWaitPerEvent = 10 * time.Millisecond
	// sandboxRuntimePort is where a linux sandbox's Runtime API listens
	// inside the environment's network namespace; 127.0.0.1 on any other
	// port reaches the host's loopback, so the collector avoids it.
	sandboxRuntimePort = 9001
)

// measureAsync sends n Event invocations of the go function from
// asyncSenders goroutines, each asking the function to POST its request id
// to a collector in this process, and waits until every one has arrived.
func measureAsync(ctx context.Context, t *target, n int) (*Async, error) {
	fn := functionName(RuntimeGo)
	fail := func(err error) (*Async, error) { return nil, fmt.Errorf("bench: async: %w", err) }
	col, err := startCollector()
	if err != nil {
		return fail(err)
	}
	defer col.close()
	payload, err := json.Marshal(echo.Request{Collect: col.url})
	if err != nil {
		return fail(err)
	}

	// Warm-up: the first event creates the function's queue consumer.
	id, err := invokeEvent(ctx, t.lambda, fn, payload)
	if err != nil {
		return fail(fmt.Errorf("warm-up: %w", err))
	}
	if _, err := col.wait(ctx, []string{id}, asyncWarmUpWait); err != nil {
		return fail(fmt.Errorf("warm-up event %s never reached the collector at %s (can functions reach the host's loopback?): %w", id, col.url, err))
	}

	type sent struct {
		id             string
		sent, accepted time.Time
	}
	events := make([]sent, n)
	var next atomic.Int64
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for range asyncSenders {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n && ctx.Err() == nil; i = int(next.Add(1)) - 1 {
				t0 := time.Now()
				id, err := invokeEvent(ctx, t.lambda, fn, payload)
				if err != nil {
					cancel(err)
					return
				}
				events[i] = sent{id: id, sent: t0, accepted: time.Now()}
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return fail(err)
	}
	ids := make([]string, n)
	firstSend, lastAccept := events[0].sent, events[0].accepted
	for i, e := range events {
		ids[i] = e.id
		if e.sent.Before(firstSend) {
			firstSend = e.sent
		}
		if e.accepted.After(lastAccept) {
			lastAccept = e.accepted
		}
	}
	arrived, err := col.wait(ctx, ids, asyncWait+time.Duration(n)*asyncWaitPerEvent)
	if err != nil {
		return fail(err)
	}
	lats := make([]time.Duration, n)
	lastArrival := arrived[0]
	for i, at := range arrived {
		lats[i] = at.Sub(events[i].sent)
		if at.After(lastArrival) {
			lastArrival = at
		}
	}
	slices.Sort(lats)
	return &Async{
		Events:          n,
		Delivered:       len(arrived),
		Senders:         asyncSenders,
		AcceptedPerSec:  float64(n) / lastAccept.Sub(firstSend).Seconds(),
		DeliveredPerSec: float64(n) / lastArrival.Sub(firstSend).Seconds(),
		P50Ms:           millis(percentile(lats, 50)),
		P99Ms:           millis(percentile(lats, 99)),
	}, nil
}

// invokeEvent queues one Event invocation and returns the request id of
// its 202.
func invokeEvent(ctx context.Context, c *lambda.Client, fn string, payload []byte) (string, error) {
	out, err := c.Invoke(ctx, &lambda.InvokeInput{
		FunctionName:   aws.String(fn),
		InvocationType: types.InvocationTypeEvent,
		Payload:        payload,
	})
	if err != nil {
		return "", err
	}
	if out.StatusCode != http.StatusAccepted {
		return "", fmt.Errorf("event invoke: status %d, want 202", out.StatusCode)
	}
	id, ok := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	if !ok || id == "" {
		return "", errors.New("event invoke: 202 without a request id")
	}
	return id, nil
}

// collector is the HTTP server the function reports to: it records when
// each request id first arrived.
type collector struct {
	srv  *http.Server
	done chan struct{}
	url  string

	mu      sync.Mutex
	at      map[string]time.Time
	changed chan struct{} // closed and replaced on every new arrival
}

func startCollector() (*collector, error) {
	ln, err := listenLoopback()
	if err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	c := &collector{
		done:    make(chan struct{}),
		url:     "http://" + ln.Addr().String() + "/",
		at:      make(map[string]time.Time),
		changed: make(chan struct{}),
	}
	c.srv = &http.Server{Handler: http.HandlerFunc(c.serve), ReadHeaderTimeout: time.Minute}
	go func() {
		defer close(c.done)
		_ = c.srv.Serve(ln) // ErrServerClosed after close
	}()
	return c, nil
}

// listenLoopback listens on a random 127.0.0.1 port other than
// sandboxRuntimePort.
func listenLoopback() (net.Listener, error) {
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		if ln.Addr().(*net.TCPAddr).Port != sandboxRuntimePort {
			return ln, nil
		}
		// Keep it open while listening again, so the next port differs.
		defer ln.Close()
	}
}

func (c *collector) serve(w http.ResponseWriter, r *http.Request) {
	var got echo.Collected
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&got); err != nil || got.RequestID == "" {
		http.Error(w, "want a JSON body with a request_id", http.StatusBadRequest)
		return
	}
	now := time.Now()
	c.mu.Lock()
	if _, dup := c.at[got.RequestID]; !dup {
		c.at[got.RequestID] = now
		close(c.changed)
		c.changed = make(chan struct{})
	}
	c.mu.Unlock()
}

func (c *collector) close() {
	_ = c.srv.Close()
	<-c.done
}

// wait blocks until every id has arrived and returns the arrival times in
// the order of ids.
func (c *collector) wait(ctx context.Context, ids []string, timeout time.Duration) ([]time.Time, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	times := make([]time.Time, len(ids))
	next := 0
	for {
		c.mu.Lock()
		for next < len(ids) {
			at, ok := c.at[ids[next]]
			if !ok {
				break
			}
			times[next] = at
			next++
		}
		changed := c.changed
		c.mu.Unlock()
		if next == len(ids) {
			return times, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timer.C:
			return nil, fmt.Errorf("%d of %d events not delivered after %s (first missing: %s)", c.missing(ids), len(ids), timeout, ids[next])
		}
	}
}

// missing counts the ids that have not arrived.
func (c *collector) missing(ids []string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, id := range ids {
		if _, ok := c.at[id]; !ok {
			n++
		}
	}
	return n
}
