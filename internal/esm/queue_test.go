package esm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"gust/internal/brokers"
	"gust/internal/invoke"
	"gust/internal/lambda"
)

func queueInt(n int) *int { return &n }

func TestQueueInvalidFilterIsAnError(t *testing.T) {
	src := queueSource()
	m := queueMapping(src)
	m.FilterCriteria = &lambda.FilterCriteria{Filters: []lambda.Filter{{Pattern: `{"body": []}`}}}
	s := newQueueService(queueInvoker(nil))
	err := s.runQueue(t.Context(), m, src, newMemQueue(), &status{s: s, uuid: m.UUID})
	if !errors.Is(err, lambda.ErrInvalidParameter) {
		t.Errorf("runQueue with an invalid filter = %v, want an InvalidParameterValueException", err)
	}
}

func TestQueueBatchSize(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &queueRecorder{t: t}
		s := newQueueService(rec)
		src := queueSource()
		m := queueMapping(src)
		m.BatchSize = queueInt(3)
		m.ScalingConfig = &lambda.ScalingConfig{MaximumConcurrency: queueInt(2)}
		q := newMemQueue()
		q.send("m1", "a", "m2", "b", "m3", "c", "m4", "d", "m5", "e", "m6", "f", "m7", "g")
		r := startQueue(t, s, m, src, q)
		synctest.Wait()

		var sizes []int
		for _, b := range rec.got() {
			sizes = append(sizes, len(b))
		}
		slices.Sort(sizes)
		if want := []int{1, 3, 3}; !slices.Equal(sizes, want) {
			t.Errorf("batch sizes = %v, want %v", sizes, want)
		}
		if got, want := q.acked(), []string{"m1", "m2", "m3", "m4", "m5", "m6", "m7"}; !slices.Equal(got, want) {
			t.Errorf("acked = %v, want %v", got, want)
		}
		if got := r.stored(t).LastProcessingResult; got != resultOK {
			t.Errorf("LastProcessingResult = %q, want %q", got, resultOK)
		}
		r.stopOK(t)
	})
}

func TestQueueBatchingWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &queueRecorder{t: t}
		s := newQueueService(rec)
		src := queueSource()
		m := queueMapping(src)
		m.BatchSize = queueInt(4)
		m.MaximumBatchingWindowInSeconds = queueInt(2)
		q := newMemQueue()
		r := startQueue(t, s, m, src, q)

		q.send("m1", "a")
		synctest.Wait()
		q.send("m2", "b", "m3", "c")
		synctest.Wait()
		if got := rec.got(); len(got) != 0 {
			t.Fatalf("invoked with %v before the window ended", got)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if got := rec.got(); len(got) != 0 {
			t.Fatalf("invoked with %v one second into a two-second window", got)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if got, want := rec.got(), [][]string{{"m1", "m2", "m3"}}; !cmp.Equal(got, want) {
			t.Fatalf("after the window: batches %v, want %v", got, want)
		}

		// A full batch does not wait for the window.
		q.send("m4", "d", "m5", "e", "m6", "f", "m7", "g", "m8", "h")
		synctest.Wait()
		if got, want := rec.got(), [][]string{{"m1", "m2", "m3"}, {"m4", "m5", "m6", "m7"}}; !cmp.Equal(got, want) {
			t.Errorf("after a full batch: batches %v, want %v", got, want)
		}
		r.stopOK(t)
		// m8 was received into a batch still in its window: not invoked,
		// not settled, left for the queue's Close.
		if got := rec.got(); len(got) != 2 {
			t.Errorf("batches after cancel = %v, want the two above", got)
		}
	})
}

func TestQueuePayloadLimitSplitsBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var sizes []int
		rec := &queueRecorder{t: t}
		s := newQueueService(queueInvoker(func(ctx context.Context, req invoke.Request) (*invoke.Response, error) {
			mu.Lock()
			sizes = append(sizes, len(req.Payload))
			mu.Unlock()
			return rec.Invoke(ctx, req)
		}))
		src := queueSource()
		m := queueMapping(src)
		q := newMemQueue()
		big := strings.Repeat("x", 2_000_000) // three fit in 6 MB, four do not
		for i := 1; i <= 5; i++ {
			q.send(fmt.Sprintf("m%d", i), big)
		}
		r := startQueue(t, s, m, src, q)
		synctest.Wait()

		got := rec.got() // the two batches run concurrently
		slices.SortFunc(got, func(a, b []string) int { return strings.Compare(a[0], b[0]) })
		if want := [][]string{{"m1", "m2", "m3"}, {"m4", "m5"}}; !cmp.Equal(got, want) {
			t.Errorf("batches = %v, want %v", got, want)
		}
		for _, n := range sizes {
			if n > lambda.MaxSyncPayloadBytes {
				t.Errorf("event of %d bytes, over the %d byte limit", n, lambda.MaxSyncPayloadBytes)
			}
		}
		if got := q.acked(); len(got) != 5 {
			t.Errorf("acked = %v, want all five", got)
		}
		r.stopOK(t)
	})
}

func TestQueueConcurrencyCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		var mu sync.Mutex
		inFlight, peak := 0, 0
		s := newQueueService(queueInvoker(func(ctx context.Context, req invoke.Request) (*invoke.Response, error) {
			mu.Lock()
			inFlight++
			peak = max(peak, inFlight)
			mu.Unlock()
			<-gate
			mu.Lock()
			inFlight--
			mu.Unlock()
			return &invoke.Response{StatusCode: 200}, nil
		}))
		src := queueSource()
		m := queueMapping(src)
		m.BatchSize = queueInt(1)
		m.ScalingConfig = &lambda.ScalingConfig{MaximumConcurrency: queueInt(3)}
		q := newMemQueue()
		r := startQueue(t, s, m, src, q)

		q.send("m1", "a")
		synctest.Wait()
		mu.Lock()
		one := inFlight
		mu.Unlock()
		if one != 1 {
			t.Errorf("in flight with one message = %d, want 1", one)
		}

		for i := 2; i <= 10; i++ {
			q.send(fmt.Sprintf("m%d", i), "x")
		}
		synctest.Wait()
		mu.Lock()
		busy := inFlight
		mu.Unlock()
		if busy != 3 {
			t.Errorf("in flight under backlog = %d, want the cap, 3", busy)
		}
		if got := q.waiting(); got != 7 {
			t.Errorf("messages left in the queue while all slots are busy = %d, want 7 (none hoarded)", got)
		}

		close(gate)
		synctest.Wait()
		mu.Lock()
		idle, highest := inFlight, peak
		mu.Unlock()
		if idle != 0 || highest != 3 {
			t.Errorf("after the backlog: in flight %d, peak %d; want 0 and 3", idle, highest)
		}
		if got := q.acked(); len(got) != 10 {
			t.Errorf("acked %d messages, want 10", len(got))
		}
		r.stopOK(t)
	})
}

func TestQueueFiltersAckDroppedMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &queueRecorder{t: t}
		s := newQueueService(rec)
		src := queueSource()
		m := queueMapping(src)
		m.FilterCriteria = &lambda.FilterCriteria{Filters: []lambda.Filter{
			{Pattern: `{"body": {"kind": ["keep"], "n": [{"numeric": [">", 1]}]}}`},
			{Pattern: `{"body": ["plain keep"]}`},
			{Pattern: `{"messageAttributes": {"tier": {"stringValue": ["gold"]}}}`},
		}}
		q := newMemQueue()
		q.send("json-keep", `{"kind":"keep","n":2}`, "json-drop", `{"kind":"drop","n":2}`,
			"json-small", `{"kind":"keep","n":1}`, "plain-keep", "plain keep", "plain-drop", "plain drop")
		q.push(&brokers.Message{ID: "attr-keep", Body: []byte("anything"), ReceiveCount: 1,
			Attributes: map[string]string{"tier": "gold"}})
		r := startQueue(t, s, m, src, q)
		synctest.Wait()

		var invoked []string
		for _, b := range rec.got() {
			invoked = append(invoked, b...)
		}
		slices.Sort(invoked)
		if want := []string{"attr-keep", "json-keep", "plain-keep"}; !slices.Equal(invoked, want) {
			t.Errorf("invoked with %v, want %v", invoked, want)
		}
		if got := q.acked(); len(got) != 6 {
			t.Errorf("acked = %v, want all six (the dropped ones deleted)", got)
		}
		r.stopOK(t)
	})
}

func TestQueuePartialBatchResponse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &queueRecorder{t: t, respond: func(int, []string) (*invoke.Response, error) {
			return &invoke.Response{StatusCode: 200, Payload: []byte(`{"batchItemFailures":[{"itemIdentifier":"m2"}]}`)}, nil
		}}
		s := newQueueService(rec)
		src := queueSource()
		m := queueMapping(src)
		m.FunctionResponseTypes = []string{lambda.ESMReportBatchItemFailures}
		q := newMemQueue()
		q.send("m1", "a", "m2", "b", "m3", "c")
		r := startQueue(t, s, m, src, q)
		synctest.Wait()

		if got, want := q.acked(), []string{"m1", "m3"}; !slices.Equal(got, want) {
			t.Errorf("acked = %v, want %v", got, want)
		}
		if got, want := q.retried(), []queueRetry{{"m2", 5 * time.Second}}; !slices.Equal(got, want) {
			t.Errorf("retried = %v, want %v", got, want)
		}
		if got := r.stored(t).LastProcessingResult; got != resultOK {
			t.Errorf("LastProcessingResult = %q, want %q", got, resultOK)
		}
		r.stopOK(t)
	})
}

func TestQueueMalformedPartialBatchResponseFailsBatch(t *testing.T) {
	for name, payload := range map[string]string{
		"no itemIdentifier":          `{"batchItemFailures":[{"id":"m1"}]}`,
		"unknown itemIdentifier":     `{"batchItemFailures":[{"itemIdentifier":"m9"}]}`,
		"empty itemIdentifier":       `{"batchItemFailures":[{"itemIdentifier":""}]}`,
		"batchItemFailures not list": `{"batchItemFailures":"m1"}`,
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rec := &queueRecorder{t: t, respond: func(int, []string) (*invoke.Response, error) {
					return &invoke.Response{StatusCode: 200, Payload: []byte(payload)}, nil
				}}
				s := newQueueService(rec)
				src := queueSource()
				m := queueMapping(src)
				m.FunctionResponseTypes = []string{lambda.ESMReportBatchItemFailures}
				q := newMemQueue()
				q.send("m1", "a", "m2", "b")
				r := startQueue(t, s, m, src, q)
				synctest.Wait()

				if got := q.acked(); len(got) != 0 {
					t.Errorf("acked = %v, want none", got)
				}
				if got, want := q.retried(), []queueRetry{{"m1", 5 * time.Second}, {"m2", 5 * time.Second}}; !slices.Equal(got, want) {
					t.Errorf("retried = %v, want %v", got, want)
				}
				if got := r.stored(t).LastProcessingResult; got != resultFunctionError {
					t.Errorf("LastProcessingResult = %q, want %q", got, resultFunctionError)
				}
				r.stopOK(t)
			})
		})
	}
}

func TestQueueFailuresIgnoredWithoutReportBatchItemFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &queueRecorder{t: t, respond: func(int, []string) (*invoke.Response, error) {
			return &invoke.Response{StatusCode: 200, Payload: []byte(`{"batchItemFailures":[{"itemIdentifier":"m2"}]}`)}, nil
		}}
		s := newQueueService(rec)
		src := queueSource()
		q := newMemQueue()
		q.send("m1", "a", "m2", "b")
		r := startQueue(t, s, queueMapping(src), src, q)
		synctest.Wait()
		if got, want := q.acked(), []string{"m1", "m2"}; !slices.Equal(got, want) {
			t.Errorf("acked = %v, want %v (the response is not read)", got, want)
		}
		r.stopOK(t)
	})
}

func TestQueueFunctionErrorRetriesBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &queueRecorder{t: t, respond: func(int, []string) (*invoke.Response, error) {
			return &invoke.Response{StatusCode: 200, RequestID: "r1", FunctionError: "Unhandled",
				Payload: []byte(`{"errorMessage":"boom"}`)}, nil
		}}
		s := newQueueService(rec)
		src := queueSource()
		m := queueMapping(src)
		m.FunctionResponseTypes = []string{lambda.ESMReportBatchItemFailures}
		q := newMemQueue()
		q.send("m1", "a", "m2", "b")
		r := startQueue(t, s, m, src, q)
		synctest.Wait()

		if got, want := q.retried(), []queueRetry{{"m1", 5 * time.Second}, {"m2", 5 * time.Second}}; !slices.Equal(got, want) {
			t.Errorf("retried = %v, want %v", got, want)
		}
		if got := q.acked(); len(got) != 0 {
			t.Errorf("acked = %v, want none", got)
		}
		if got := r.stored(t).LastProcessingResult; got != resultFunctionError {
			t.Errorf("LastProcessingResult = %q, want %q", got, resultFunctionError)
		}
		// The batch comes back after the visibility timeout, with its
		// receive count raised.
		time.Sleep(5 * time.Second)
		synctest.Wait()
		var again []string
		for _, b := range rec.got()[1:] {
			again = append(again, b...)
		}
		slices.Sort(again)
		if want := []string{"m1", "m2"}; !slices.Equal(again, want) {
			t.Errorf("invoked again after the visibility timeout with %v, want %v", again, want)
		}
		r.stopOK(t)
	})
}

func TestQueueFunctionNotFound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &queueRecorder{t: t, respond: func(int, []string) (*invoke.Response, error) {
			return nil, lambda.FunctionNotFound(queueTestID.FunctionARN("worker"))
		}}
		s := newQueueService(rec)
		src := queueSource()
		q := newMemQueue()
		q.send("m1", "a")
		r := startQueue(t, s, queueMapping(src), src, q)
		synctest.Wait()
		if got, want := q.retried(), []queueRetry{{"m1", 5 * time.Second}}; !slices.Equal(got, want) {
			t.Errorf("retried = %v, want %v", got, want)
		}
		if got := r.stored(t).LastProcessingResult; got != queueResultNotFound {
			t.Errorf("LastProcessingResult = %q, want %q", got, queueResultNotFound)
		}
		r.stopOK(t)
	})
}

func TestQueueThrottleBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		failures := []error{
			lambda.Throttled(lambda.ReasonConcurrentInvocationLimitExceeded),
			lambda.KindServiceUnavailable.Errorf("busy"),
			errors.New("connection reset"),
			lambda.Throttled(lambda.ReasonReservedFunctionConcurrentLimitExceeded),
			nil, // m1 goes through
			lambda.Throttled(lambda.ReasonConcurrentInvocationLimitExceeded),
		}
		rec := &queueRecorder{t: t, respond: func(call int, _ []string) (*invoke.Response, error) {
			if call <= len(failures) && failures[call-1] != nil {
				return nil, failures[call-1]
			}
			return &invoke.Response{StatusCode: 200}, nil
		}}
		s := newQueueService(rec)
		src := queueSource() // visibility timeout 5 s: the backoff's ceiling
		q := newMemQueue()
		q.send("m1", "a")
		r := startQueue(t, s, queueMapping(src), src, q)
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := q.acked(); !slices.Equal(got, []string{"m1"}) {
			t.Fatalf("acked = %v, want m1 after the throttles", got)
		}

		// A successful invocation resets the backoff.
		q.send("m2", "b")
		time.Sleep(time.Minute)
		synctest.Wait()
		want := []queueRetry{
			{"m1", time.Second}, {"m1", 2 * time.Second}, {"m1", 4 * time.Second}, {"m1", 5 * time.Second},
			{"m2", time.Second},
		}
		if got := q.retried(); !slices.Equal(got, want) {
			t.Errorf("retries = %v, want %v", got, want)
		}
		if got := q.acked(); !slices.Equal(got, []string{"m1", "m2"}) {
			t.Errorf("acked = %v, want m1 and m2", got)
		}
		r.stopOK(t)
	})
}

func TestQueueCancelWaitsForInFlightBatches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		var mu sync.Mutex
		var ctxErrs []error
		s := newQueueService(queueInvoker(func(ctx context.Context, req invoke.Request) (*invoke.Response, error) {
			<-gate
			mu.Lock()
			ctxErrs = append(ctxErrs, ctx.Err())
			mu.Unlock()
			return &invoke.Response{StatusCode: 200}, nil
		}))
		src := queueSource()
		m := queueMapping(src)
		m.BatchSize = queueInt(1)
		q := newMemQueue()
		q.send("m1", "a", "m2", "b")
		r := startQueue(t, s, m, src, q)
		synctest.Wait()

		r.cancel()
		synctest.Wait()
		select {
		case err := <-r.done:
			t.Fatalf("runQueue returned %v with batches in flight", err)
		default:
		}
		close(gate)
		if err := <-r.done; err != nil {
			t.Errorf("runQueue after cancel = %v, want nil", err)
		}
		if got, want := q.acked(), []string{"m1", "m2"}; !slices.Equal(got, want) {
			t.Errorf("acked = %v, want %v: in-flight batches settle before runQueue returns", got, want)
		}
		mu.Lock()
		defer mu.Unlock()
		if want := []error{nil, nil}; !slices.Equal(ctxErrs, want) {
			t.Errorf("invoke context errors = %v, want %v (not cancelled with the poller)", ctxErrs, want)
		}
	})
}

func TestQueueReceiveErrorIsReturned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &queueRecorder{t: t}
		s := newQueueService(rec)
		src := queueSource()
		m := queueMapping(src)
		q := newMemQueue()
		q.send("m1", "a")
		r := startQueue(t, s, m, src, q)
		synctest.Wait()
		q.fail(errQueueBroker)
		if err := <-r.done; !errors.Is(err, errQueueBroker) {
			t.Errorf("runQueue = %v, want the broker's error", err)
		}
		if got := q.acked(); !slices.Equal(got, []string{"m1"}) {
			t.Errorf("acked = %v, want m1", got)
		}
		r.cancel()
	})
}

func TestQueueReportsHealthyAfterReceive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newQueueService(&queueRecorder{t: t})
		src := queueSource()
		m := queueMapping(src)
		q := newMemQueue()
		r := startQueue(t, s, m, src, q)
		r.st.problem(errQueueBroker)
		if got := r.stored(t).StateTransitionReason; !strings.HasPrefix(got, "PROBLEM: ") {
			t.Fatalf("StateTransitionReason after a problem = %q", got)
		}
		q.send("m1", "a")
		synctest.Wait()
		if got := r.stored(t).StateTransitionReason; got != reasonUser {
			t.Errorf("StateTransitionReason after a receive = %q, want %q", got, reasonUser)
		}
		r.stopOK(t)
	})
}
