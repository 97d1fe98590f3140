package eventbus_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 30, 0, time.UTC)

// scheduleRule creates a schedule rule targeting the function named like
// the rule.
func scheduleRule(t *testing.T, c *eventbridge.Client, name, expr string) {
	t.Helper()
	ctx := context.Background()
	out, err := c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(name), ScheduleExpression: aws.String(expr)})
	if err != nil {
		t.Fatalf("PutRule %s: %v", name, err)
	}
	if got := aws.ToString(out.RuleArn); got != ruleARN(name) {
		t.Errorf("RuleArn = %q, want %q", got, ruleARN(name))
	}
	tout, err := c.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(name),
		Targets: []types.Target{{Id: aws.String("fn"), Arn: aws.String(functionARN(name))}}})
	if err != nil || tout.FailedEntryCount != 0 {
		t.Fatalf("PutTargets %s: %v %+v", name, err, tout)
	}
}

// checkScheduled checks a Scheduled Event exactly as EventBridge sends it.
func checkScheduled(t *testing.T, payload, rule string, tick time.Time) {
	t.Helper()
	e := decodeEvent(t, payload)
	if e.Version != "0" || e.ID == "" || e.DetailType != "Scheduled Event" || e.Source != "aws.events" ||
		e.Account != testID.Account || e.Region != testID.Region || string(e.Detail) != "{}" {
		t.Errorf("scheduled event = %s", payload)
	}
	if want := tick.Format("2006-01-02T15:04:05Z"); e.Time != want {
		t.Errorf("time = %q, want %q", e.Time, want)
	}
	if len(e.Resources) != 1 || e.Resources[0] != ruleARN(rule) {
		t.Errorf("resources = %q, want [%s]", e.Resources, ruleARN(rule))
	}
}

func TestScheduleTicksExact(t *testing.T) {
	clock := newFakeClock(t0)
	n := openNode(t, startNATS(t), clock)
	scheduleRule(t, n.client, "every5", "rate(5 minutes)")
	scheduleRule(t, n.client, "tens", "cron(0/10 * * * ? *)")

	// rate counts from the creation minute (12:00): 12:05, 12:10, …
	tick1 := time.Date(2025, 3, 1, 12, 5, 0, 0, time.UTC)
	clock.waitArmed(t, tick1, 1)
	clock.set(tick1)
	tick2 := tick1.Add(5 * time.Minute)
	clock.waitArmed(t, tick2, 1) // 12:05 handled
	if got := n.calls.to(functionARN("every5")); len(got) != 1 {
		t.Fatalf("every5 got %d events at 12:05, want 1", len(got))
	} else {
		checkScheduled(t, got[0], "every5", tick1)
	}
	if got := n.calls.to(functionARN("tens")); len(got) != 0 {
		t.Fatalf("tens fired at 12:05: %q", got)
	}

	clock.set(tick2)
	clock.waitArmed(t, tick2.Add(5*time.Minute), 1)
	every5, tens := n.calls.to(functionARN("every5")), n.calls.to(functionARN("tens"))
	if len(every5) != 2 || len(tens) != 1 {
		t.Fatalf("at 12:10: every5 %d events, tens %d; want 2 and 1", len(every5), len(tens))
	}
	checkScheduled(t, every5[1], "every5", tick2)
	checkScheduled(t, tens[0], "tens", tick2)
	for _, c := range n.calls.all() {
		if c.Type != "Event" {
			t.Errorf("invocation type %q, want Event", c.Type)
		}
	}
}

// Two nodes share one bucket: each tick fires on exactly one of them.
func TestScheduleFiresOnceAcrossNodes(t *testing.T) {
	conn := startNATS(t)
	clock := newFakeClock(t0)
	a, b := openNode(t, conn, clock), openNode(t, conn, clock)
	scheduleRule(t, a.client, "shared", "cron(* * * * ? *)")

	tick := time.Date(2025, 3, 1, 12, 1, 0, 0, time.UTC)
	for range 3 {
		clock.waitArmed(t, tick, 2) // both nodes planned it
		clock.set(tick)
		tick = tick.Add(time.Minute)
		clock.waitArmed(t, tick, 2) // and both handled the last one
	}
	got := len(a.calls.to(functionARN("shared"))) + len(b.calls.to(functionARN("shared")))
	if got != 3 {
		t.Fatalf("3 ticks fired %d times across two nodes, want 3: a %q, b %q",
			got, a.calls.to(functionARN("shared")), b.calls.to(functionARN("shared")))
	}
}

// A node restarted at the instant of a tick it fired does not fire it
// again: the claim persists.
func TestScheduleRestartDoesNotRefire(t *testing.T) {
	conn := startNATS(t)
	clock := newFakeClock(t0)
	first := openNode(t, conn, clock)
	scheduleRule(t, first.client, "once", "cron(* * * * ? *)")
	tick := time.Date(2025, 3, 1, 12, 1, 0, 0, time.UTC)
	clock.waitArmed(t, tick, 1)
	clock.set(tick)
	clock.waitArmed(t, tick.Add(time.Minute), 1)
	if got := len(first.calls.to(functionARN("once"))); got != 1 {
		t.Fatalf("first run fired %d times, want 1", got)
	}
	if err := first.bus.Close(); err != nil {
		t.Fatal(err)
	}

	second := openNode(t, conn, clock) // starts at 12:01:00, the tick fired
	clock.waitArmed(t, tick.Add(time.Minute), 1)
	if got := second.calls.all(); len(got) != 0 {
		t.Fatalf("restarted node fired %d events for the tick already fired", len(got))
	}
	clock.set(tick.Add(time.Minute))
	waitFor(t, "the next tick after restart", func() bool { return len(second.calls.to(functionARN("once"))) == 1 })
}

func TestDisableStopsFiring(t *testing.T) {
	clock := newFakeClock(t0)
	n := openNode(t, startNATS(t), clock)
	ctx := context.Background()
	scheduleRule(t, n.client, "paused", "cron(* * * * ? *)")
	scheduleRule(t, n.client, "control", "cron(* * * * ? *)")

	tick := time.Date(2025, 3, 1, 12, 1, 0, 0, time.UTC)
	clock.waitArmed(t, tick, 1)
	clock.set(tick)
	clock.waitArmed(t, tick.Add(time.Minute), 1)
	if _, err := n.client.DisableRule(ctx, &eventbridge.DisableRuleInput{Name: aws.String("paused")}); err != nil {
		t.Fatal(err)
	}
	d, err := n.client.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("paused")})
	if err != nil || d.State != types.RuleStateDisabled {
		t.Fatalf("DescribeRule after disable: %v, state %q", err, d.State)
	}
	for range 2 {
		tick = tick.Add(time.Minute)
		clock.set(tick)
		clock.waitArmed(t, tick.Add(time.Minute), 1) // the control rule's next tick: this one is done
	}
	if paused, control := len(n.calls.to(functionARN("paused"))), len(n.calls.to(functionARN("control"))); paused != 1 || control != 3 {
		t.Fatalf("paused fired %d times, control %d; want 1 and 3", paused, control)
	}

	// With the control rule off too, a timer at the next minute is the
	// re-enabled rule's.
	tick = tick.Add(time.Minute)
	if _, err := n.client.DisableRule(ctx, &eventbridge.DisableRuleInput{Name: aws.String("control")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the scheduler to drop the control rule", func() bool { return clock.armed(tick) == 0 })
	if _, err := n.client.EnableRule(ctx, &eventbridge.EnableRuleInput{Name: aws.String("paused")}); err != nil {
		t.Fatal(err)
	}
	clock.waitArmed(t, tick, 1)
	clock.set(tick)
	waitFor(t, "the re-enabled rule to fire", func() bool { return len(n.calls.to(functionARN("paused"))) == 2 })
	checkScheduled(t, n.calls.to(functionARN("paused"))[1], "paused", tick)
}

// A schedule rule with no node running at its tick does not fire late.
func TestMissedTicksAreNotFiredLate(t *testing.T) {
	conn := startNATS(t)
	clock := newFakeClock(t0)
	first := openNode(t, conn, clock)
	scheduleRule(t, first.client, "late", "cron(* * * * ? *)")
	if err := first.bus.Close(); err != nil {
		t.Fatal(err)
	}
	clock.set(time.Date(2025, 3, 1, 12, 10, 30, 0, time.UTC)) // ten ticks while down
	second := openNode(t, conn, clock)
	next := time.Date(2025, 3, 1, 12, 11, 0, 0, time.UTC)
	clock.waitArmed(t, next, 1)
	if got := second.calls.all(); len(got) != 0 {
		t.Fatalf("missed ticks fired late: %d events", len(got))
	}
	clock.set(next)
	waitFor(t, "the first tick after restart", func() bool { return len(second.calls.to(functionARN("late"))) == 1 })
	checkScheduled(t, second.calls.to(functionARN("late"))[0], "late", next)
}
