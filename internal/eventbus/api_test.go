package eventbus_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

func TestRuleLifecycle(t *testing.T) {
	n := openNode(t, startNATS(t), newFakeClock(t0))
	c, ctx := n.client, context.Background()
	putRule(t, c, &eventbridge.PutRuleInput{Name: aws.String("r1"), EventPattern: aws.String(`{"source":["a"]}`),
		Description: aws.String("first"), RoleArn: aws.String("arn:aws:iam::123456789012:role/events")})

	d, err := c.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("r1")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(d.Name) != "r1" || aws.ToString(d.Arn) != ruleARN("r1") || aws.ToString(d.EventPattern) != `{"source":["a"]}` ||
		d.State != types.RuleStateEnabled || aws.ToString(d.Description) != "first" || aws.ToString(d.EventBusName) != "default" ||
		aws.ToString(d.RoleArn) != "arn:aws:iam::123456789012:role/events" || aws.ToString(d.CreatedBy) != testID.Account {
		t.Errorf("DescribeRule = %+v", d)
	}

	// PutRule again replaces the rule but keeps its targets.
	putTargets(t, c, "r1", "", lambdaTarget("t1", "f1"))
	putRule(t, c, &eventbridge.PutRuleInput{Name: aws.String("r1"), ScheduleExpression: aws.String("rate(1 hour)"), State: types.RuleStateDisabled})
	d, err = c.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("r1")})
	if err != nil || d.EventPattern != nil || d.Description != nil || aws.ToString(d.ScheduleExpression) != "rate(1 hour)" || d.State != types.RuleStateDisabled {
		t.Errorf("DescribeRule after update = %+v, %v", d, err)
	}
	lt, err := c.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String("r1")})
	if err != nil || len(lt.Targets) != 1 || aws.ToString(lt.Targets[0].Id) != "t1" || aws.ToString(lt.Targets[0].Arn) != functionARN("f1") {
		t.Fatalf("ListTargetsByRule = %+v, %v", lt, err)
	}

	_, err = c.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String("r1")})
	if code, msg := apiError(t, err); code != "ValidationException" || msg != "Rule can't be deleted since it has targets." {
		t.Errorf("DeleteRule with targets: %s %q", code, msg)
	}
	rt, err := c.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: aws.String("r1"), Ids: []string{"t1"}})
	if err != nil || rt.FailedEntryCount != 0 {
		t.Fatalf("RemoveTargets: %v %+v", err, rt)
	}
	if _, err := c.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String("r1")}); err != nil {
		t.Fatalf("DeleteRule: %v", err)
	}
	_, err = c.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("r1")})
	if code, msg := apiError(t, err); code != "ResourceNotFoundException" || msg != "Rule r1 does not exist on EventBus default." {
		t.Errorf("DescribeRule after delete: %s %q", code, msg)
	}
	if _, err := c.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String("r1")}); err != nil {
		t.Errorf("DeleteRule of a deleted rule: %v, want success", err)
	}
	_, err = c.EnableRule(ctx, &eventbridge.EnableRuleInput{Name: aws.String("r1")})
	if code, _ := apiError(t, err); code != "ResourceNotFoundException" {
		t.Errorf("EnableRule of a deleted rule: %s", code)
	}
	_, err = c.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("nope"), Targets: []types.Target{lambdaTarget("x", "f")}})
	if code, msg := apiError(t, err); code != "ResourceNotFoundException" || msg != "Rule nope does not exist on EventBus default." {
		t.Errorf("PutTargets on a missing rule: %s %q", code, msg)
	}
}

func TestPutRuleValidation(t *testing.T) {
	n := openNode(t, startNATS(t), newFakeClock(t0))
	c, ctx := n.client, context.Background()
	if _, err := c.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String("custom")}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		in       eventbridge.PutRuleInput
		code     string
		msgStart string
	}{
		{"bad pattern", eventbridge.PutRuleInput{Name: aws.String("p"), EventPattern: aws.String(`{"source":"a"}`)},
			"InvalidEventPatternException", "Event pattern is not valid. Reason: "},
		{"bad schedule", eventbridge.PutRuleInput{Name: aws.String("s"), ScheduleExpression: aws.String("rate(5 minute)")},
			"ValidationException", "Parameter ScheduleExpression is not valid."},
		{"neither", eventbridge.PutRuleInput{Name: aws.String("n")},
			"ValidationException", "Parameter(s) EventPattern or ScheduleExpression must be specified."},
		{"schedule on custom bus", eventbridge.PutRuleInput{Name: aws.String("c"), EventBusName: aws.String("custom"), ScheduleExpression: aws.String("rate(1 hour)")},
			"ValidationException", "ScheduleExpression is supported only on the default event bus."},
		{"missing bus", eventbridge.PutRuleInput{Name: aws.String("m"), EventBusName: aws.String("ghost"), EventPattern: aws.String(`{"source":["a"]}`)},
			"ResourceNotFoundException", "Event bus ghost does not exist."},
		{"bad name", eventbridge.PutRuleInput{Name: aws.String("a b"), EventPattern: aws.String(`{"source":["a"]}`)},
			"ValidationException", "1 validation error detected: Value 'a b' at 'name'"},
		{"bad state", eventbridge.PutRuleInput{Name: aws.String("st"), EventPattern: aws.String(`{"source":["a"]}`), State: "PAUSED"},
			"ValidationException", "1 validation error detected: Value 'PAUSED' at 'state'"},
	} {
		_, err := c.PutRule(ctx, &tc.in)
		if err == nil {
			t.Errorf("%s: PutRule succeeded", tc.name)
			continue
		}
		if code, msg := apiError(t, err); code != tc.code || !strings.HasPrefix(msg, tc.msgStart) {
			t.Errorf("%s: %s %q, want %s %q…", tc.name, code, msg, tc.code, tc.msgStart)
		}
	}
}

func TestPutTargetsFailsNonLambdaPerEntry(t *testing.T) {
	n := openNode(t, startNATS(t), newFakeClock(t0))
	c, ctx := n.client, context.Background()
	putRule(t, c, &eventbridge.PutRuleInput{Name: aws.String("r"), EventPattern: aws.String(`{"source":["a"]}`)})
	out, err := c.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("r"), Targets: []types.Target{
		lambdaTarget("ok", "f"),
		{Id: aws.String("queue"), Arn: aws.String("arn:aws:sqs:us-east-1:123456789012:q")},
		{Id: aws.String("other-account"), Arn: aws.String("arn:aws:lambda:us-east-1:999999999999:function:f")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if out.FailedEntryCount != 2 || len(out.FailedEntries) != 2 || aws.ToString(out.FailedEntries[0].TargetId) != "queue" ||
		aws.ToString(out.FailedEntries[1].TargetId) != "other-account" || aws.ToString(out.FailedEntries[0].ErrorCode) == "" {
		t.Errorf("PutTargets = %+v", out)
	}
	lt, err := c.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String("r")})
	if err != nil || len(lt.Targets) != 1 || aws.ToString(lt.Targets[0].Id) != "ok" {
		t.Errorf("targets stored = %+v, %v", lt, err)
	}

	_, err = c.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("r"), Targets: []types.Target{
		{Id: aws.String("both"), Arn: aws.String(functionARN("f")), Input: aws.String("{}"), InputPath: aws.String("$.detail")}}})
	if code, _ := apiError(t, err); code != "ValidationException" {
		t.Errorf("Input and InputPath together: %s", code)
	}
	_, err = c.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("r"), Targets: []types.Target{
		{Id: aws.String("bad"), Arn: aws.String(functionARN("f")), Input: aws.String("{not json")}}})
	if code, _ := apiError(t, err); code != "ValidationException" {
		t.Errorf("Input that is not JSON: %s", code)
	}
	var more []types.Target
	for i := range 5 {
		more = append(more, lambdaTarget(fmt.Sprintf("t%d", i), "f"))
	}
	_, err = c.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("r"), Targets: more})
	if code, _ := apiError(t, err); code != "LimitExceededException" {
		t.Errorf("a sixth target: %s, want LimitExceededException", code)
	}
}

func TestListRulesPages(t *testing.T) {
	n := openNode(t, startNATS(t), newFakeClock(t0))
	c, ctx := n.client, context.Background()
	for _, name := range []string{"b.2", "a-1", "b.1", "c_3", "b.3"} {
		putRule(t, c, &eventbridge.PutRuleInput{Name: aws.String(name), EventPattern: aws.String(`{"source":["a"]}`)})
	}
	var got []string
	in := &eventbridge.ListRulesInput{NamePrefix: aws.String("b."), Limit: aws.Int32(2)}
	for pages := 0; ; {
		out, err := c.ListRules(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, r := range out.Rules {
			got = append(got, aws.ToString(r.Name))
			if aws.ToString(r.Arn) != ruleARN(aws.ToString(r.Name)) || aws.ToString(r.EventBusName) != "default" {
				t.Errorf("rule %+v", r)
			}
		}
		if out.NextToken == nil {
			if strings.Join(got, ",") != "b.1,b.2,b.3" || pages != 2 {
				t.Errorf("ListRules b. = %v in %d pages, want b.1,b.2,b.3 in 2", got, pages)
			}
			break
		}
		in.NextToken = out.NextToken
	}
	_, err := c.ListRules(ctx, &eventbridge.ListRulesInput{EventBusName: aws.String("ghost")})
	if code, _ := apiError(t, err); code != "ResourceNotFoundException" {
		t.Errorf("ListRules on a missing bus: %s", code)
	}
}

func TestEventBuses(t *testing.T) {
	n := openNode(t, startNATS(t), newFakeClock(t0))
	c, ctx := n.client, context.Background()
	out, err := c.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String("orders"), Description: aws.String("shop")})
	if err != nil || aws.ToString(out.EventBusArn) != "arn:aws:events:us-east-1:123456789012:event-bus/orders" {
		t.Fatalf("CreateEventBus = %+v, %v", out, err)
	}
	_, err = c.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String("orders")})
	if code, msg := apiError(t, err); code != "ResourceAlreadyExistsException" || msg != "Event bus orders already exists." {
		t.Errorf("second CreateEventBus: %s %q", code, msg)
	}
	d, err := c.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{Name: aws.String("orders")})
	if err != nil || aws.ToString(d.Name) != "orders" || aws.ToString(d.Description) != "shop" || d.CreationTime == nil || !d.CreationTime.Equal(t0) {
		t.Errorf("DescribeEventBus = %+v, %v", d, err)
	}
	d, err = c.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{})
	if err != nil || aws.ToString(d.Name) != "default" || aws.ToString(d.Arn) != "arn:aws:events:us-east-1:123456789012:event-bus/default" {
		t.Errorf("DescribeEventBus default = %+v, %v", d, err)
	}
	l, err := c.ListEventBuses(ctx, &eventbridge.ListEventBusesInput{})
	if err != nil || len(l.EventBuses) != 2 || aws.ToString(l.EventBuses[0].Name) != "default" || aws.ToString(l.EventBuses[1].Name) != "orders" {
		t.Errorf("ListEventBuses = %+v, %v", l, err)
	}

	putRule(t, c, &eventbridge.PutRuleInput{Name: aws.String("r"), EventBusName: aws.String("orders"), EventPattern: aws.String(`{"source":["a"]}`)})
	if _, err := c.DeleteEventBus(ctx, &eventbridge.DeleteEventBusInput{Name: aws.String("orders")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{Name: aws.String("orders")})
	if code, msg := apiError(t, err); code != "ResourceNotFoundException" || msg != "Event bus orders does not exist." {
		t.Errorf("DescribeEventBus after delete: %s %q", code, msg)
	}
	// Its rules went with it: a new bus of that name starts empty.
	if _, err := c.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String("orders")}); err != nil {
		t.Fatal(err)
	}
	lr, err := c.ListRules(ctx, &eventbridge.ListRulesInput{EventBusName: aws.String("orders")})
	if err != nil || len(lr.Rules) != 0 {
		t.Errorf("rules of a re-created bus = %+v, %v", lr, err)
	}
	_, err = c.DeleteEventBus(ctx, &eventbridge.DeleteEventBusInput{Name: aws.String("default")})
	if code, msg := apiError(t, err); code != "ValidationException" || msg != "Cannot delete event bus default." {
		t.Errorf("DeleteEventBus default: %s %q", code, msg)
	}
}

// The handler's wire shapes: content type, __type and X-Amzn-ErrorType.
func TestWireErrors(t *testing.T) {
	n := openNode(t, startNATS(t), newFakeClock(t0))
	_, err := n.client.DescribeRule(context.Background(), &eventbridge.DescribeRuleInput{Name: aws.String("ghost")})
	var re interface{ HTTPStatusCode() int }
	if !errorsAs(err, &re) || re.HTTPStatusCode() != http.StatusBadRequest {
		t.Errorf("status of ResourceNotFoundException: %v", err)
	}
	var nf *types.ResourceNotFoundException
	if !errorsAs(err, &nf) {
		t.Errorf("error %T is not the SDK's ResourceNotFoundException", err)
	}
}
