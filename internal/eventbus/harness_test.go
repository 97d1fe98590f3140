package eventbus_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/smithy-go"

	"gust/internal/eventbus"
	"gust/internal/invoke"
	"gust/internal/lambda"
	"gust/internal/natsd"
)

var testID = lambda.Identity{Region: "us-east-1", Account: "123456789012"}

// startNATS starts an embedded NATS in a temp dir.
func startNATS(t *testing.T) *natsd.Conn {
	t.Helper()
	conn, err := natsd.Open(t.Context(), natsd.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("natsd.Open: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// node is one Bus with its recording invoker and an SDK client.
type node struct {
	bus    *eventbus.Bus
	calls  *recorder
	client *eventbridge.Client
}

// openNode opens a Bus on conn, starts its scheduler and serves its API.
func openNode(t *testing.T, conn *natsd.Conn, clock eventbus.Clock) *node {
	t.Helper()
	rec := &recorder{}
	bus, err := eventbus.Open(t.Context(), eventbus.Options{JS: conn.JS, Identity: testID, Invoker: rec, Clock: clock})
	if err != nil {
		t.Fatalf("eventbus.Open: %v", err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	if err := bus.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	srv := httptest.NewServer(bus.Handler())
	t.Cleanup(srv.Close)
	client := eventbridge.NewFromConfig(aws.Config{
		Region:      testID.Region,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
	}, func(o *eventbridge.Options) {
		o.BaseEndpoint = aws.String(srv.URL)
		o.RetryMaxAttempts = 1
	})
	return &node{bus: bus, calls: rec, client: client}
}

// recorder is an Invoker that records each Event invocation; functions
// named "missing" do not exist.
type recorder struct {
	mu    sync.Mutex
	calls []invoke.Request
}

func (r *recorder) Invoke(_ context.Context, req invoke.Request) (*invoke.Response, error) {
	if strings.HasSuffix(req.FunctionName, ":function:missing") {
		return nil, lambda.KindResourceNotFound.Errorf("Function not found: %s", req.FunctionName)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, req)
	return &invoke.Response{StatusCode: 202}, nil
}

// to returns the payloads sent to one function ARN, in order.
func (r *recorder) to(arn string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, c := range r.calls {
		if c.FunctionName == arn {
			out = append(out, string(c.Payload))
		}
	}
	return out
}

func (r *recorder) all() []invoke.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]invoke.Request(nil), r.calls...)
}

// fakeClock is a Clock that moves only when the test sets it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers map[*fakeTimer]bool
}

type fakeTimer struct {
	deadline time.Time
	c        chan time.Time
}

func newFakeClock(now time.Time) *fakeClock {
	return &fakeClock{now: now, timers: make(map[*fakeTimer]bool)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Timer(deadline time.Time) (<-chan time.Time, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ft := &fakeTimer{deadline: deadline, c: make(chan time.Time, 1)}
	if !deadline.After(c.now) {
		ft.c <- c.now
		return ft.c, func() {}
	}
	c.timers[ft] = true
	return ft.c, func() {
		c.mu.Lock()
		delete(c.timers, ft)
		c.mu.Unlock()
	}
}

// set moves the clock to now and fires the timers that are due.
func (c *fakeClock) set(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = now
	for ft := range c.timers {
		if !ft.deadline.After(now) {
			ft.c <- now
			delete(c.timers, ft)
		}
	}
}

// armed counts the pending timers with this deadline.
func (c *fakeClock) armed(deadline time.Time) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for ft := range c.timers {
		if ft.deadline.Equal(deadline) {
			n++
		}
	}
	return n
}

// waitArmed waits until n schedulers sleep until deadline: they have
// planned it and handled everything before it.
func (c *fakeClock) waitArmed(t *testing.T, deadline time.Time, n int) {
	t.Helper()
	waitFor(t, "scheduler timers at "+deadline.Format(time.RFC3339), func() bool { return c.armed(deadline) >= n })
}

// waitFor polls cond for up to 10 s.
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

// apiError returns err's code and message, failing the test if err is not
// an API error.
func apiError(t *testing.T, err error) (code, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("got error %v, want an API error", err)
	}
	return ae.ErrorCode(), ae.ErrorMessage()
}

// event is the envelope as targets receive it, decoded for checks.
type event struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

func decodeEvent(t *testing.T, payload string) event {
	t.Helper()
	var e event
	dec := json.NewDecoder(strings.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("decode event %s: %v", payload, err)
	}
	return e
}

func functionARN(name string) string {
	return "arn:aws:lambda:" + testID.Region + ":" + testID.Account + ":function:" + name
}

func ruleARN(name string) string {
	return "arn:aws:events:" + testID.Region + ":" + testID.Account + ":rule/" + name
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }
