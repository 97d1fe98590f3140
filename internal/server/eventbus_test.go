package server_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"gust/internal/config"
	"gust/internal/gusttest"
)

// eventsClock is a clock for the server's EventBridge scheduler that moves
// only when the test sets it (config.Server.EventsClock).
type eventsClock struct {
	mu     sync.Mutex
	now    time.Time
	timers map[chan time.Time]time.Time // pending timer → deadline
}

func newEventsClock(now time.Time) *eventsClock {
	return &eventsClock{now: now, timers: make(map[chan time.Time]time.Time)}
}

func (c *eventsClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *eventsClock) Timer(deadline time.Time) (<-chan time.Time, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if !deadline.After(c.now) {
		ch <- c.now
		return ch, func() {}
	}
	c.timers[ch] = deadline
	return ch, func() {
		c.mu.Lock()
		delete(c.timers, ch)
		c.mu.Unlock()
	}
}

// set moves the clock and fires the timers that are due.
func (c *eventsClock) set(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = now
	for ch, deadline := range c.timers {
		if !deadline.After(now) {
			ch <- now
			delete(c.timers, ch)
		}
	}
}

// waitArmed waits until the scheduler sleeps until deadline.
func (c *eventsClock) waitArmed(t *testing.T, deadline time.Time) {
	t.Helper()
	gusttest.WaitFor(t, 10*time.Second, "the scheduler to plan "+deadline.Format(time.RFC3339), func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, d := range c.timers {
			if d.Equal(deadline) {
				return true
			}
		}
		return false
	})
}

func eventBridge(srv *gusttest.Server) *eventbridge.Client {
	return eventbridge.NewFromConfig(srv.AWSConfig(), func(o *eventbridge.Options) {
		o.BaseEndpoint = aws.String(srv.Endpoint)
		o.RetryMaxAttempts = 1
	})
}

// eventEnvelope is an EventBridge event as the function received it.
type eventEnvelope struct {
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

// EventBridge through the real SDK: a pattern rule routes a PutEvents
// entry to a function, and a schedule rule driven by the test clock sends
// it the Scheduled Event; both arrive through the async path.
func TestEventBridgeDeliversToFunctions(t *testing.T) {
	clock := newEventsClock(time.Date(2025, 3, 1, 12, 0, 30, 0, time.UTC))
	srv := asyncServer(t, func(c *config.Server) { c.EventsClock = clock })
	col := newCollector(t)
	createAsyncFunction(t, srv.Lambda(), col, "ebfn")
	eb, ctx := eventBridge(srv), context.Background()

	rule, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("orders"),
		EventPattern: aws.String(`{"source":["shop"],"detail":{"kind":["placed"]}}`)})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := aws.ToString(rule.RuleArn), "arn:aws:events:us-east-1:000000000000:rule/orders"; got != want {
		t.Errorf("RuleArn = %q, want %q", got, want)
	}
	pt, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("orders"),
		Targets: []ebtypes.Target{{Id: aws.String("fn"), Arn: aws.String(functionARN("ebfn"))}}})
	if err != nil || pt.FailedEntryCount != 0 {
		t.Fatalf("PutTargets: %v %+v", err, pt)
	}
	put, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
		{Source: aws.String("shop"), DetailType: aws.String("Order"), Detail: aws.String(`{"kind":"placed","id":7}`),
			Resources: []string{"arn:aws:s3:::orders"}},
		{Source: aws.String("shop"), DetailType: aws.String("Order"), Detail: aws.String(`{"kind":"browsed"}`)},
	}})
	if err != nil || put.FailedEntryCount != 0 || len(put.Entries) != 2 {
		t.Fatalf("PutEvents: %v %+v", err, put)
	}

	got := col.waitFor(t, "ebfn", 1, 60*time.Second)
	var ev eventEnvelope
	if err := json.Unmarshal(got[0].Event, &ev); err != nil {
		t.Fatalf("event %s: %v", got[0].Event, err)
	}
	want := eventEnvelope{Version: "0", ID: aws.ToString(put.Entries[0].EventId), DetailType: "Order", Source: "shop",
		Account: "000000000000", Time: "2025-03-01T12:00:30Z", Region: "us-east-1", Resources: []string{"arn:aws:s3:::orders"}}
	if ev.Version != want.Version || ev.ID != want.ID || ev.DetailType != want.DetailType || ev.Source != want.Source ||
		ev.Account != want.Account || ev.Time != want.Time || ev.Region != want.Region ||
		len(ev.Resources) != 1 || ev.Resources[0] != want.Resources[0] {
		t.Errorf("function received %s\nwant %+v", got[0].Event, want)
	}
	var detail map[string]any
	if err := json.Unmarshal(ev.Detail, &detail); err != nil || detail["kind"] != "placed" || detail["id"] != float64(7) {
		t.Errorf("detail = %s", ev.Detail)
	}

	// A schedule rule: every minute, first tick at 12:01:00.
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("minutely"),
		ScheduleExpression: aws.String("cron(* * * * ? *)")}); err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("minutely"),
		Targets: []ebtypes.Target{{Id: aws.String("fn"), Arn: aws.String(functionARN("ebfn"))}}}); err != nil {
		t.Fatal(err)
	}
	tick := time.Date(2025, 3, 1, 12, 1, 0, 0, time.UTC)
	clock.waitArmed(t, tick)
	clock.set(tick)
	got = col.waitFor(t, "ebfn", 2, 60*time.Second)
	var sched eventEnvelope
	if err := json.Unmarshal(got[1].Event, &sched); err != nil {
		t.Fatalf("scheduled event %s: %v", got[1].Event, err)
	}
	if sched.Version != "0" || sched.ID == "" || sched.DetailType != "Scheduled Event" || sched.Source != "aws.events" ||
		sched.Account != "000000000000" || sched.Time != "2025-03-01T12:01:00Z" || sched.Region != "us-east-1" ||
		len(sched.Resources) != 1 || sched.Resources[0] != "arn:aws:events:us-east-1:000000000000:rule/minutely" ||
		string(sched.Detail) != "{}" {
		t.Errorf("scheduled event = %s", got[1].Event)
	}

	// The browsed entry matched nothing, and the tick fired once.
	clock.waitArmed(t, tick.Add(time.Minute))
	if n := len(col.of("ebfn")); n != 2 {
		t.Errorf("function ran %d times, want 2", n)
	}
}
