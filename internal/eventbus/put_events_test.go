package eventbus_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

func putRule(t *testing.T, c *eventbridge.Client, in *eventbridge.PutRuleInput) string {
	t.Helper()
	out, err := c.PutRule(context.Background(), in)
	if err != nil {
		t.Fatalf("PutRule %s: %v", aws.ToString(in.Name), err)
	}
	return aws.ToString(out.RuleArn)
}

func putTargets(t *testing.T, c *eventbridge.Client, rule, bus string, targets ...types.Target) {
	t.Helper()
	in := &eventbridge.PutTargetsInput{Rule: aws.String(rule), Targets: targets}
	if bus != "" {
		in.EventBusName = aws.String(bus)
	}
	out, err := c.PutTargets(context.Background(), in)
	if err != nil || out.FailedEntryCount != 0 {
		t.Fatalf("PutTargets %s: %v %+v", rule, err, out)
	}
}

func lambdaTarget(id, function string) types.Target {
	return types.Target{Id: aws.String(id), Arn: aws.String(functionARN(function))}
}

func TestPatternRulesRoutePutEvents(t *testing.T) {
	clock := newFakeClock(t0)
	n := openNode(t, startNATS(t), clock)
	c, ctx := n.client, context.Background()
	if _, err := c.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String("orders")}); err != nil {
		t.Fatal(err)
	}
	arn := putRule(t, c, &eventbridge.PutRuleInput{Name: aws.String("placed"), EventBusName: aws.String("orders"),
		EventPattern: aws.String(`{"source":["shop"],"detail-type":["OrderPlaced"],"detail":{"total":[{"numeric":[">",100]}]}}`)})
	if want := "arn:aws:events:us-east-1:123456789012:rule/orders/placed"; arn != want {
		t.Errorf("custom-bus RuleArn = %q, want %q", arn, want)
	}
	putTargets(t, c, "placed", "orders", lambdaTarget("big", "big-orders"))
	putRule(t, c, &eventbridge.PutRuleInput{Name: aws.String("all-shop"), EventPattern: aws.String(`{"source":["shop"]}`)})
	putTargets(t, c, "all-shop", "", lambdaTarget("all", "shop-all"), lambdaTarget("gone", "missing"))
	putRule(t, c, &eventbridge.PutRuleInput{Name: aws.String("off"), EventPattern: aws.String(`{"source":["shop"]}`), State: types.RuleStateDisabled})
	putTargets(t, c, "off", "", lambdaTarget("off", "disabled-fn"))

	when := time.Date(2024, 7, 4, 10, 11, 12, 345_000_000, time.UTC)
	out, err := c.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{
		{Source: aws.String("shop"), DetailType: aws.String("OrderPlaced"), Detail: aws.String(`{"total": 150, "note": "a<b&c"}`),
			EventBusName: aws.String("orders"), Resources: []string{"arn:aws:s3:::bucket"}, Time: &when},
		{Source: aws.String("shop"), DetailType: aws.String("OrderPlaced"), Detail: aws.String(`{"total": 50}`),
			EventBusName: aws.String("arn:aws:events:us-east-1:123456789012:event-bus/orders")},
		{Source: aws.String("shop"), DetailType: aws.String("Browse"), Detail: aws.String(`{"page":"home"}`)},
		{Source: aws.String("elsewhere"), DetailType: aws.String("X"), Detail: aws.String(`{}`)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if out.FailedEntryCount != 0 || len(out.Entries) != 4 {
		t.Fatalf("PutEvents = %d failed, %d entries; want 0 and 4: %+v", out.FailedEntryCount, len(out.Entries), out.Entries)
	}

	// PutEvents answered after queueing: no waiting needed.
	big := n.calls.to(functionARN("big-orders"))
	if len(big) != 1 {
		t.Fatalf("big-orders got %d events, want 1 (only total > 100 on bus orders)", len(big))
	}
	e := decodeEvent(t, big[0])
	want := event{Version: "0", ID: aws.ToString(out.Entries[0].EventId), DetailType: "OrderPlaced", Source: "shop",
		Account: testID.Account, Time: "2024-07-04T10:11:12Z", Region: testID.Region, Resources: []string{"arn:aws:s3:::bucket"}}
	if e.Version != want.Version || e.ID != want.ID || e.DetailType != want.DetailType || e.Source != want.Source ||
		e.Account != want.Account || e.Time != want.Time || e.Region != want.Region ||
		len(e.Resources) != 1 || e.Resources[0] != want.Resources[0] {
		t.Errorf("event = %s\nwant %+v", big[0], want)
	}
	if string(e.Detail) != `{"total":150,"note":"a<b&c"}` {
		t.Errorf("detail = %s", e.Detail)
	}

	all := n.calls.to(functionARN("shop-all"))
	if len(all) != 1 {
		t.Fatalf("shop-all got %d events, want 1 (the default bus's shop event)", len(all))
	}
	e = decodeEvent(t, all[0])
	if e.ID != aws.ToString(out.Entries[2].EventId) || e.DetailType != "Browse" || e.Time != "2025-03-01T12:00:30Z" ||
		e.Resources == nil || len(e.Resources) != 0 {
		t.Errorf("default-bus event = %s", all[0])
	}
	if got := n.calls.to(functionARN("disabled-fn")); len(got) != 0 {
		t.Errorf("a disabled rule delivered %d events", len(got))
	}
	if got := len(n.calls.all()); got != 2 {
		t.Errorf("%d deliveries in all, want 2", got)
	}
}

func TestTargetInputAndInputPath(t *testing.T) {
	n := openNode(t, startNATS(t), newFakeClock(t0))
	c := n.client
	putRule(t, c, &eventbridge.PutRuleInput{Name: aws.String("shaped"), EventPattern: aws.String(`{"source":["app"]}`)})
	putTargets(t, c, "shaped", "",
		types.Target{Id: aws.String("fixed"), Arn: aws.String(functionARN("fixed")), Input: aws.String(`{"constant": [1, 2]}`)},
		types.Target{Id: aws.String("whole"), Arn: aws.String(functionARN("whole")), InputPath: aws.String("$")},
		types.Target{Id: aws.String("detail"), Arn: aws.String(functionARN("detail")), InputPath: aws.String("$.detail")},
		types.Target{Id: aws.String("deep"), Arn: aws.String(functionARN("deep")), InputPath: aws.String("$.detail.a.b")},
		types.Target{Id: aws.String("source"), Arn: aws.String(functionARN("source")), InputPath: aws.String("$.source")},
	)
	out, err := c.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{
		{Source: aws.String("app"), DetailType: aws.String("t"), Detail: aws.String(`{"a":{"b":{"c":[true,null]}},"x":1}`)},
	}})
	if err != nil || out.FailedEntryCount != 0 {
		t.Fatalf("PutEvents: %v %+v", err, out)
	}
	for fn, want := range map[string]string{
		"fixed":  `{"constant": [1, 2]}`,
		"detail": `{"a":{"b":{"c":[true,null]}},"x":1}`,
		"deep":   `{"c":[true,null]}`,
		"source": `"app"`,
	} {
		got := n.calls.to(functionARN(fn))
		if len(got) != 1 || got[0] != want {
			t.Errorf("%s received %q, want [%s]", fn, got, want)
		}
	}
	whole := n.calls.to(functionARN("whole"))
	if len(whole) != 1 || decodeEvent(t, whole[0]).ID != aws.ToString(out.Entries[0].EventId) {
		t.Errorf("whole received %q, want the envelope", whole)
	}
	var check map[string]any
	if err := json.Unmarshal([]byte(whole[0]), &check); err != nil || check["detail-type"] != "t" {
		t.Errorf("envelope %s: %v", whole[0], err)
	}
}

func TestPutEventsEntryErrors(t *testing.T) {
	n := openNode(t, startNATS(t), newFakeClock(t0))
	out, err := n.client.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{
		{DetailType: aws.String("t"), Detail: aws.String(`{}`)},
		{Source: aws.String("s"), Detail: aws.String(`{}`)},
		{Source: aws.String("s"), DetailType: aws.String("t")},
		{Source: aws.String("s"), DetailType: aws.String("t"), Detail: aws.String(`{not json`)},
		{Source: aws.String("s"), DetailType: aws.String("t"), Detail: aws.String(`[1]`)},
		{Source: aws.String("aws.ec2"), DetailType: aws.String("t"), Detail: aws.String(`{}`)},
		{Source: aws.String("s"), DetailType: aws.String("t"), Detail: aws.String(`{}`), EventBusName: aws.String("no-such-bus")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ code, msg string }{
		{"InvalidArgument", "Parameter Source is not valid. Reason: Source is a required argument."},
		{"InvalidArgument", "Parameter DetailType is not valid. Reason: DetailType is a required argument."},
		{"InvalidArgument", "Parameter Detail is not valid. Reason: Detail is a required argument."},
		{"MalformedDetail", "Detail is malformed."},
		{"MalformedDetail", "Detail is malformed."},
		{"NotAuthorizedForSourceException", "Not authorized for the source."},
		{"", ""}, // a bus that does not exist: accepted, as EventBridge does
	}
	if out.FailedEntryCount != 6 || len(out.Entries) != len(want) {
		t.Fatalf("FailedEntryCount %d, %d entries; want 6 and %d", out.FailedEntryCount, len(out.Entries), len(want))
	}
	for i, w := range want {
		e := out.Entries[i]
		if aws.ToString(e.ErrorCode) != w.code || aws.ToString(e.ErrorMessage) != w.msg || (w.code == "") != (e.EventId != nil) {
			t.Errorf("entry %d = {%s %s %s}, want {%s %s}", i, aws.ToString(e.ErrorCode), aws.ToString(e.ErrorMessage),
				aws.ToString(e.EventId), w.code, w.msg)
		}
	}

	_, err = n.client.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: make([]types.PutEventsRequestEntry, 11)})
	if code, _ := apiError(t, err); code != "ValidationException" {
		t.Errorf("11 entries: %s, want ValidationException", code)
	}
}
