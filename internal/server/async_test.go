package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	"gust/internal/gusttest"
)

func TestAsyncInvokeDeliversOnceWithItsRequestID(t *testing.T) {
	srv := asyncServer(t)
	c := srv.Lambda()
	col := newCollector(t)
	createAsyncFunction(t, c, col, "once")

	id := invokeEvent(t, c, "once", `{"n":1}`)
	got := col.waitFor(t, "once", 1, 20*time.Second)
	if got[0].RequestID != id {
		t.Errorf("function saw request id %s, the 202 said %s", got[0].RequestID, id)
	}
	if !sameJSON(got[0].Event, `{"n":1}`) {
		t.Errorf("function saw event %s, want {\"n\":1}", got[0].Event)
	}
	gusttest.WaitFor(t, 10*time.Second, "the event to be settled", func() bool {
		st, err := srv.Async().Stats(context.Background(), "once")
		return err == nil && st.Succeeded == 1 && st.Queued == 0 && st.InFlight == 0
	})
	if n := len(col.of("once")); n != 1 {
		t.Errorf("delivered %d times, want once", n)
	}

	// The legacy InvokeAsync operation queues too, and says {"Status":202}.
	out, err := c.InvokeAsync(context.Background(), &lambda.InvokeAsyncInput{
		FunctionName: aws.String("once"), InvokeArgs: strings.NewReader(`{"legacy":true}`)})
	if err != nil {
		t.Fatalf("InvokeAsync: %v", err)
	}
	if out.Status != http.StatusAccepted {
		t.Errorf("InvokeAsync Status = %d, want 202", out.Status)
	}
	got = col.waitFor(t, "once", 2, 20*time.Second)
	if !sameJSON(got[1].Event, `{"legacy":true}`) {
		t.Errorf("InvokeAsync delivered %s", got[1].Event)
	}
}

func TestAsyncInvokeRejectsBadRequests(t *testing.T) {
	srv := asyncServer(t)
	c := srv.Lambda()
	col := newCollector(t)
	createAsyncFunction(t, c, col, "bad")

	_, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("missing"),
		InvocationType: types.InvocationTypeEvent, Payload: []byte(`{}`)})
	var notFound *types.ResourceNotFoundException
	if !errors.As(err, &notFound) {
		t.Errorf("async invoke of a missing function: %v, want ResourceNotFoundException", err)
	}

	big := `{"pad":"` + strings.Repeat("x", 1<<20) + `"}`
	_, err = c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("bad"),
		InvocationType: types.InvocationTypeEvent, Payload: []byte(big)})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "RequestEntityTooLargeException" ||
		apiErr.ErrorMessage() != fmt.Sprintf("%d byte payload is too large for the Event invocation type (limit 1048576 bytes)", len(big)) {
		t.Errorf("async invoke over 1 MB: %v, want RequestEntityTooLargeException with AWS's message", err)
	}

	_, err = c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("bad"),
		InvocationType: types.InvocationTypeEvent, Payload: []byte(`{not json`)})
	var badJSON *types.InvalidRequestContentException
	if !errors.As(err, &badJSON) {
		t.Errorf("async invoke with broken JSON: %v, want InvalidRequestContentException", err)
	}
	if st, err := srv.Async().Stats(context.Background(), "bad"); err != nil || st.AsyncEventsReceived != 0 {
		t.Errorf("refused requests were queued: %+v, %v", st, err)
	}
}

// TestAsyncRetries checks retry counts and spacing for each
// MaximumRetryAttempts, and the on-failure record of the last attempt.
func TestAsyncRetries(t *testing.T) {
	srv := asyncServer(t)
	c := srv.Lambda()
	col := newCollector(t)
	const base = 300 * time.Millisecond // asyncServer's retry base
	for _, retries := range []int32{0, 1, 2} {
		name := "retry" + string(rune('0'+retries))
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			createAsyncFunction(t, c, col, name)
			putEventInvokeConfig(t, c, name, retries, "", queueARN(name+"-failed"))

			id := invokeEvent(t, c, name, `{"fail":true}`)
			msgs := deadLetters(t, srv, name+"-failed", 1, 30*time.Second)
			got := col.of(name)
			if len(got) != int(retries)+1 {
				t.Fatalf("function ran %d times, want %d", len(got), retries+1)
			}
			for i, d := range got {
				if d.RequestID != id {
					t.Errorf("attempt %d had request id %s, want %s on every attempt", i+1, d.RequestID, id)
				}
				if i > 0 {
					// Retry n waits about n×base after attempt n.
					if gap := d.At.Sub(got[i-1].At); gap < time.Duration(i)*base {
						t.Errorf("retry %d came %s after the previous attempt, want at least %s", i, gap, time.Duration(i)*base)
					}
				}
			}
			var rec destinationRecord
			if err := json.Unmarshal(msgs[0].Body, &rec); err != nil {
				t.Fatalf("on-failure record: %v\n%s", err, msgs[0].Body)
			}
			if rec.RequestContext.Condition != "RetriesExhausted" || rec.RequestContext.ApproximateInvokeCount != int(retries)+1 ||
				rec.RequestContext.RequestID != id {
				t.Errorf("record context = %+v, want RetriesExhausted after %d invokes of %s", rec.RequestContext, retries+1, id)
			}
			if rec.ResponseContext == nil || rec.ResponseContext.FunctionError != "Unhandled" {
				t.Errorf("record responseContext = %+v, want functionError Unhandled", rec.ResponseContext)
			}
			var fnErr struct{ ErrorType, ErrorMessage string }
			if err := json.Unmarshal(rec.ResponsePayload, &fnErr); err != nil || fnErr.ErrorType != "RuntimeError" || fnErr.ErrorMessage != "asked to fail" {
				t.Errorf("record responsePayload = %s, want the function's RuntimeError", rec.ResponsePayload)
			}
		})
	}
}

// TestAsyncDestinations checks both destination records field by field,
// delivered to a function as AWS does.
func TestAsyncDestinations(t *testing.T) {
	srv := asyncServer(t)
	c := srv.Lambda()
	col := newCollector(t)
	createAsyncFunction(t, c, col, "sink")
	createAsyncFunction(t, c, col, "source")
	putEventInvokeConfig(t, c, "source", 0, functionARN("sink"), functionARN("sink:$LATEST"))

	okID := invokeEvent(t, c, "source", `{"say":"hi"}`)
	failID := invokeEvent(t, c, "source", `{"fail":true}`)
	records := map[string]destinationRecord{}
	for _, d := range col.waitFor(t, "sink", 2, 30*time.Second) {
		var rec destinationRecord
		if err := json.Unmarshal(d.Event, &rec); err != nil {
			t.Fatalf("sink got %s: %v", d.Event, err)
		}
		records[rec.RequestContext.RequestID] = rec
	}

	ok, fail := records[okID], records[failID]
	for _, rec := range []destinationRecord{ok, fail} {
		if rec.Version != "1.0" {
			t.Errorf("version = %q, want 1.0", rec.Version)
		}
		if _, err := time.Parse("2006-01-02T15:04:05.000Z", rec.Timestamp); err != nil {
			t.Errorf("timestamp %q: %v", rec.Timestamp, err)
		}
		if rec.RequestContext.FunctionArn != functionARN("source:$LATEST") {
			t.Errorf("functionArn = %q", rec.RequestContext.FunctionArn)
		}
		if rec.RequestContext.ApproximateInvokeCount != 1 {
			t.Errorf("approximateInvokeCount = %d, want 1", rec.RequestContext.ApproximateInvokeCount)
		}
		if rec.ResponseContext == nil || rec.ResponseContext.StatusCode != 200 || rec.ResponseContext.ExecutedVersion != "$LATEST" {
			t.Errorf("responseContext = %+v", rec.ResponseContext)
		}
	}
	if ok.RequestContext.Condition != "Success" || !sameJSON(ok.RequestPayload, `{"say":"hi"}`) {
		t.Errorf("success record: condition %q, requestPayload %s", ok.RequestContext.Condition, ok.RequestPayload)
	}
	if !sameJSON(ok.ResponsePayload, `{"ok":true,"echo":{"say":"hi"}}`) {
		t.Errorf("success responsePayload = %s", ok.ResponsePayload)
	}
	if ok.ResponseContext != nil && ok.ResponseContext.FunctionError != "" {
		t.Errorf("success record has functionError %q", ok.ResponseContext.FunctionError)
	}
	if fail.RequestContext.Condition != "RetriesExhausted" || !sameJSON(fail.RequestPayload, `{"fail":true}`) {
		t.Errorf("failure record: condition %q, requestPayload %s", fail.RequestContext.Condition, fail.RequestPayload)
	}
	if fail.ResponseContext == nil || fail.ResponseContext.FunctionError != "Unhandled" || !strings.Contains(string(fail.ResponsePayload), "asked to fail") {
		t.Errorf("failure record: responseContext %+v, responsePayload %s", fail.ResponseContext, fail.ResponsePayload)
	}
}

// TestAsyncDeadLetterQueueAndRedrive: DeadLetterConfig receives the event
// itself; redrive runs it again and empties the queue.
func TestAsyncDeadLetterQueueAndRedrive(t *testing.T) {
	srv := asyncServer(t)
	c := srv.Lambda()
	col := newCollector(t)
	createAsyncFunction(t, c, col, "dl", func(in *lambda.CreateFunctionInput) {
		in.DeadLetterConfig = &types.DeadLetterConfig{TargetArn: aws.String(queueARN("dl-queue"))}
	})
	putEventInvokeConfig(t, c, "dl", 0, "", "")

	id := invokeEvent(t, c, "dl", `{"fail":true,"n":7}`)
	msgs := deadLetters(t, srv, "dl-queue", 1, 30*time.Second)
	m := msgs[0]
	if m.Kind != "dead-letter" || m.RequestID != id || m.Function != "dl" || m.ErrorType != "RuntimeError" ||
		m.ErrorMessage != "asked to fail" || m.Condition != "RetriesExhausted" {
		t.Errorf("dead letter = %+v", m)
	}
	if !sameJSON(m.Body, `{"fail":true,"n":7}`) {
		t.Errorf("dead letter body = %s, want the event", m.Body)
	}
	queues, err := srv.Async().DeadLetterQueues(context.Background())
	if err != nil || len(queues) != 1 || queues[0].Name != "dl-queue" || queues[0].Messages != 1 || queues[0].QueueArn != queueARN("dl-queue") {
		t.Errorf("DeadLetterQueues = %+v, %v", queues, err)
	}

	n, err := srv.Async().Redrive(context.Background(), "dl-queue", "")
	if err != nil || n != 1 {
		t.Fatalf("Redrive = %d, %v; want 1", n, err)
	}
	col.waitFor(t, "dl", 2, 20*time.Second)
	// The redriven event fails again and lands in the queue again: one
	// message, not two.
	msgs = deadLetters(t, srv, "dl-queue", 1, 20*time.Second)
	gusttest.WaitFor(t, 20*time.Second, "the redriven event to settle", func() bool {
		st, err := srv.Async().Stats(context.Background(), "dl")
		return err == nil && st.DeadLettered == 2
	})
	msgs, _ = srv.Async().DeadLetters(context.Background(), "dl-queue", 1000)
	if len(msgs) != 1 {
		t.Errorf("after redrive and a second failure the queue holds %d messages, want 1", len(msgs))
	}
}

// sameJSON reports whether a and b hold the same JSON value.
func sameJSON(a []byte, b string) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

// A destination that cannot be reached is counted, and the event itself
// is still settled: it is not retried and nothing else breaks.
func TestAsyncUnreachableDestinationIsCounted(t *testing.T) {
	srv := asyncServer(t)
	c := srv.Lambda()
	col := newCollector(t)
	createAsyncFunction(t, c, col, "gone-sink")
	createAsyncFunction(t, c, col, "src")
	putEventInvokeConfig(t, c, "src", 0, functionARN("gone-sink"), "")
	if _, err := c.DeleteFunction(context.Background(), &lambda.DeleteFunctionInput{FunctionName: aws.String("gone-sink")}); err != nil {
		t.Fatal(err)
	}

	invokeEvent(t, c, "src", `{"n":1}`)
	gusttest.WaitFor(t, 20*time.Second, "the failed destination to be counted", func() bool {
		st, err := srv.Async().Stats(context.Background(), "src")
		return err == nil && st.DestinationDeliveryFailures == 1 && st.Succeeded == 1
	})
	if n := len(col.of("src")); n != 1 {
		t.Errorf("src ran %d times, want once", n)
	}
	// The server still serves.
	invokeEvent(t, c, "src", `{"n":2}`)
	col.waitFor(t, "src", 2, 20*time.Second)
}
