package esm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"gust/internal/brokers"
	"gust/internal/invoke"
	"gust/internal/lambda"
)

func TestStreamMaximumRetryAttempts(t *testing.T) {
	const dest = "arn:aws:sqs:eu-west-1:123456789012:stream-failures"
	tests := []struct {
		name        string
		retries     *int
		destination string
		failCalls   int // the function fails this many first calls (-1: always on "bad" records)
		wantCalls   int // invocations of the first batch
		wantFailure bool
	}{
		{"exhausted, to the destination", streamIntPtr(2), dest, -1, 3, true},
		{"exhausted, no destination", streamIntPtr(0), "", -1, 1, false},
		{"infinite by default", nil, dest, 4, 5, false},
		{"infinite with -1", streamIntPtr(-1), dest, 4, 5, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := streamTestSource(1)
			m := streamTestMapping(src, func(m *lambda.EventSourceMapping) {
				m.BatchSize = streamIntPtr(3)
				m.MaximumRetryAttempts = tt.retries
				if tt.destination != "" {
					m.DestinationConfig = &lambda.ESMDestination{OnFailure: &lambda.OnFailure{Destination: tt.destination}}
				}
			})
			ms := newMemStream()
			for _, d := range []string{"bad-1", "bad-2", "bad-3", "ok-4", "ok-5", "ok-6"} {
				ms.add("k", d)
			}
			fn := &streamFunction{t: t}
			fn.answer = func(call int, ev events.KinesisEvent) (*invoke.Response, error) {
				bad := strings.HasPrefix(string(ev.Records[0].Kinesis.Data), "bad")
				if (tt.failCalls < 0 && bad) || call < tt.failCalls {
					return streamFunctionError(call), nil
				}
				return &invoke.Response{StatusCode: 200}, nil
			}
			failures := &streamFailures{}
			s := newStreamService(t, fn, failures)
			startStream(t, s, m, src, ms)
			streamEventually(t, "the end checkpointed", func() bool {
				return streamCheckpoint(t, s, m.UUID, laneID{0, 0}) == ms.last()
			})
			first := 0
			for _, c := range fn.got() {
				if string(c.Records[0].Kinesis.Data) == "bad-1" {
					first++
				}
			}
			if first != tt.wantCalls {
				t.Errorf("first batch invoked %d times, want %d", first, tt.wantCalls)
			}
			if got := fn.delivered()["k"]; !slices.Contains(got, "ok-6") {
				t.Errorf("delivered %v, want the second batch too", got)
			}
			sent := failures.got()
			if got := len(sent) == 1; got != tt.wantFailure || len(sent) > 1 {
				t.Fatalf("%d on-failure records, want failure %v", len(sent), tt.wantFailure)
			}
			if tt.wantFailure {
				body := streamFailureBody(t, sent[0].Body)
				rc, bi := body["requestContext"].(map[string]any), body["KinesisBatchInfo"].(map[string]any)
				if rc["approximateInvokeCount"] != float64(tt.wantCalls) || bi["batchSize"] != 3.0 {
					t.Errorf("on-failure record %s", sent[0].Body)
				}
			}
		})
	}
}

func TestStreamMaximumRecordAge(t *testing.T) {
	const dest = "arn:aws:sqs:eu-west-1:123456789012:stream-failures"
	tests := []struct {
		name    string
		maxAge  *int
		want    []string
		expired bool
	}{
		{"old records go to the failure path", streamIntPtr(60), []string{"new-1", "new-2"}, true},
		{"infinite", streamIntPtr(-1), []string{"old-1", "old-2", "old-3", "new-1", "new-2"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := streamTestSource(1)
			m := streamTestMapping(src, func(m *lambda.EventSourceMapping) {
				m.MaximumRecordAgeInSeconds = tt.maxAge
				m.DestinationConfig = &lambda.ESMDestination{OnFailure: &lambda.OnFailure{Destination: dest}}
			})
			ms := newMemStream()
			old := time.Now().Add(-2 * time.Hour)
			for _, d := range []string{"old-1", "old-2", "old-3"} {
				ms.addAt("k", d, old)
			}
			ms.add("k", "new-1")
			ms.add("k", "new-2")
			fn := &streamFunction{t: t}
			failures := &streamFailures{}
			s := newStreamService(t, fn, failures)
			startStream(t, s, m, src, ms)
			streamEventually(t, "the end checkpointed", func() bool {
				return streamCheckpoint(t, s, m.UUID, laneID{0, 0}) == ms.last()
			})
			var got []string
			for _, c := range fn.got() {
				for _, r := range c.Records {
					got = append(got, string(r.Kinesis.Data))
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("records invoked with (-want +got):\n%s", diff)
			}
			sent := failures.got()
			if (len(sent) == 1) != tt.expired || len(sent) > 1 {
				t.Fatalf("%d on-failure records, want expired %v", len(sent), tt.expired)
			}
			if tt.expired {
				body := streamFailureBody(t, sent[0].Body)
				rc, bi := body["requestContext"].(map[string]any), body["KinesisBatchInfo"].(map[string]any)
				if rc["condition"] != "RecordAgeExceeded" || rc["approximateInvokeCount"] != 0.0 || bi["batchSize"] != 3.0 {
					t.Errorf("on-failure record %s", sent[0].Body)
				}
				if bi["approximateArrivalOfFirstRecord"] != old.UTC().Format(kinesisTimeLayout) {
					t.Errorf("approximateArrivalOfFirstRecord = %v, want %s", bi["approximateArrivalOfFirstRecord"], old.UTC().Format(kinesisTimeLayout))
				}
			}
		})
	}
}

func TestStreamRecordExpiresWhileRetried(t *testing.T) {
	const dest = "arn:aws:sqs:eu-west-1:123456789012:stream-failures"
	src := streamTestSource(1)
	m := streamTestMapping(src, func(m *lambda.EventSourceMapping) {
		m.MaximumRecordAgeInSeconds = streamIntPtr(60)
		m.DestinationConfig = &lambda.ESMDestination{OnFailure: &lambda.OnFailure{Destination: dest}}
	})
	fn := &streamFunction{t: t}
	fn.answer = func(call int, _ events.KinesisEvent) (*invoke.Response, error) {
		return streamFunctionError(call), nil // retried without end, but for the record's age
	}
	failures := &streamFailures{}
	s := newStreamService(t, fn, failures)
	ms := newMemStream()
	ms.addAt("k", "soon-too-old", time.Now().Add(-57*time.Second))
	startStream(t, s, m, src, ms)
	streamEventually(t, "the record given up", func() bool { return len(failures.got()) == 1 })
	body := streamFailureBody(t, failures.got()[0].Body)
	rc := body["requestContext"].(map[string]any)
	if n, _ := rc["approximateInvokeCount"].(float64); rc["condition"] != "RecordAgeExceeded" || n < 1 || int(n) != len(fn.got()) {
		t.Errorf("requestContext = %v after %d invocations", rc, len(fn.got()))
	}
	if resp := body["responseContext"].(map[string]any); resp["functionError"] != "Unhandled" {
		t.Errorf("responseContext = %v, want the last invocation's", resp)
	}
}

func TestStreamThrottlesDoNotSpendAttempts(t *testing.T) {
	src := streamTestSource(1)
	m := streamTestMapping(src, func(m *lambda.EventSourceMapping) { m.MaximumRetryAttempts = streamIntPtr(0) })
	ms := newMemStream()
	ms.add("k", "only")
	fn := &streamFunction{t: t}
	fn.answer = func(call int, _ events.KinesisEvent) (*invoke.Response, error) {
		switch call {
		case 0, 1:
			return nil, lambda.Throttled(lambda.ReasonReservedFunctionConcurrentLimitExceeded)
		case 2:
			return nil, lambda.KindService.Errorf("platform fault")
		}
		return &invoke.Response{StatusCode: 200}, nil
	}
	failures := &streamFailures{}
	s := newStreamService(t, fn, failures)
	startStream(t, s, m, src, ms)
	streamEventually(t, "the record checkpointed", func() bool {
		return streamCheckpoint(t, s, m.UUID, laneID{0, 0}) == ms.last()
	})
	if got := fn.delivered()["k"]; !slices.Equal(got, []string{"only"}) {
		t.Errorf("delivered %v, want [only] after the throttles", got)
	}
	if n := len(failures.got()); n != 0 {
		t.Errorf("%d on-failure records, want none", n)
	}
}

func TestStreamFiltersSkipButAdvance(t *testing.T) {
	src := streamTestSource(1)
	m := streamTestMapping(src, func(m *lambda.EventSourceMapping) {
		m.FilterCriteria = &lambda.FilterCriteria{Filters: []lambda.Filter{{Pattern: `{"data":{"kind":["keep"]}}`}}}
	})
	ms := newMemStream()
	for _, d := range []string{`{"kind":"keep","n":1}`, `{"kind":"drop"}`, `not json`, `{"kind":"keep","n":2}`, `{"kind":"drop","n":3}`} {
		ms.add("k", d)
	}
	fn := &streamFunction{t: t}
	s := newStreamService(t, fn, nil)
	startStream(t, s, m, src, ms)
	streamEventually(t, "the last, filtered-out record checkpointed", func() bool {
		return streamCheckpoint(t, s, m.UUID, laneID{0, 0}) == ms.last()
	})
	want := map[string][]string{"k": {`{"kind":"keep","n":1}`, `{"kind":"keep","n":2}`}}
	if diff := cmp.Diff(want, fn.delivered()); diff != "" {
		t.Errorf("records delivered (-want +got):\n%s", diff)
	}
}

func TestStreamStartingPosition(t *testing.T) {
	t0 := time.Now()
	tests := []struct {
		name  string
		pos   string
		stamp *lambda.EpochSeconds
		want  []string
	}{
		{"TRIM_HORIZON", lambda.StartTrimHorizon, nil, []string{"hour-ago", "now", "after-start"}},
		{"LATEST", lambda.StartLatest, nil, []string{"after-start"}},
		{"AT_TIMESTAMP", lambda.StartAtTimestamp, &lambda.EpochSeconds{Time: t0.Add(-30 * time.Minute)}, []string{"now", "after-start"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := streamTestSource(1)
			m := streamTestMapping(src, func(m *lambda.EventSourceMapping) {
				m.StartingPosition = tt.pos
				m.StartingPositionTimestamp = tt.stamp
			})
			ms := newMemStream()
			ms.addAt("k", "hour-ago", t0.Add(-time.Hour))
			ms.addAt("k", "now", t0)
			fn := &streamFunction{t: t}
			s := newStreamService(t, fn, nil)
			startStream(t, s, m, src, ms)
			streamEventually(t, "the stream opened", func() bool { return len(ms.starts()) == 1 })
			ms.add("k", "after-start")
			streamEventually(t, "the end checkpointed", func() bool {
				return streamCheckpoint(t, s, m.UUID, laneID{0, 0}) == ms.last()
			})
			wantStart := brokers.StartAt{Position: tt.pos}
			if tt.stamp != nil {
				wantStart.Timestamp = tt.stamp.Time
			}
			if diff := cmp.Diff(wantStart, ms.starts()[0]); diff != "" {
				t.Errorf("StartAt (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(map[string][]string{"k": tt.want}, fn.delivered()); diff != "" {
				t.Errorf("records delivered (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStreamReadErrorReturns(t *testing.T) {
	src := streamTestSource(2)
	m := streamTestMapping(src, func(m *lambda.EventSourceMapping) { m.ParallelizationFactor = streamIntPtr(2) })
	ms := newMemStream()
	s := newStreamService(t, &streamFunction{t: t}, nil)
	run := startStream(t, s, m, src, ms)
	streamEventually(t, "every lane opened", func() bool { return len(ms.starts()) == 4 })
	ms.fail(errStreamBroker)
	select {
	case err := <-run.done:
		run.done <- err
		if !errors.Is(err, errStreamBroker) {
			t.Errorf("runStream = %v, want the read error", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("runStream did not return after a read error")
	}
}

func TestStreamBatchLimits(t *testing.T) {
	t.Run("payload limit", func(t *testing.T) {
		src := streamTestSource(1)
		m := streamTestMapping(src, nil)
		ms := newMemStream()
		big := strings.Repeat("x", 2<<20) // 2 MiB: 2.7 MB in base64, so two fit an event
		for range 5 {
			ms.add("k", big)
		}
		var mu sync.Mutex
		var sizes []int
		count := streamInvoker(func(_ context.Context, req invoke.Request) (*invoke.Response, error) {
			if len(req.Payload) > lambda.MaxSyncPayloadBytes {
				t.Errorf("event of %d bytes, over the limit", len(req.Payload))
			}
			mu.Lock()
			defer mu.Unlock()
			sizes = append(sizes, bytes.Count(req.Payload, []byte(`"eventID"`)))
			return &invoke.Response{StatusCode: 200}, nil
		})
		s := newStreamService(t, count, nil)
		startStream(t, s, m, src, ms)
		streamEventually(t, "the end checkpointed", func() bool {
			return streamCheckpoint(t, s, m.UUID, laneID{0, 0}) == ms.last()
		})
		mu.Lock()
		defer mu.Unlock()
		if diff := cmp.Diff([]int{2, 2, 1}, sizes); diff != "" {
			t.Errorf("records per invocation (-want +got):\n%s", diff)
		}
	})
	t.Run("window waits for a full batch", func(t *testing.T) {
		src := streamTestSource(1)
		m := streamTestMapping(src, func(m *lambda.EventSourceMapping) {
			m.BatchSize = streamIntPtr(5)
			m.MaximumBatchingWindowInSeconds = streamIntPtr(lambda.MaxESMBatchingWindow)
		})
		ms := newMemStream()
		fn := &streamFunction{t: t}
		s := newStreamService(t, fn, nil)
		startStream(t, s, m, src, ms)
		streamEventually(t, "the stream opened", func() bool { return len(ms.starts()) == 1 })
		for i := range 5 {
			ms.add("k", fmt.Sprint(i))
		}
		streamEventually(t, "the batch checkpointed", func() bool {
			return streamCheckpoint(t, s, m.UUID, laneID{0, 0}) == ms.last()
		})
		calls := fn.got()
		if len(calls) != 1 || len(calls[0].Records) != 5 {
			t.Errorf("%d invocations, want one of 5 records", len(calls))
		}
	})
}
