package eventbus

import (
	"context"
	"errors"
	"strings"
	"time"

	"gust/internal/eventpattern"
	"gust/internal/schedule"
)

// ruleInput names a rule: Name (or Rule, in the target operations) and
// EventBusName.
type ruleInput struct {
	Name         *string
	EventBusName *string
}

// resolveRule validates a rule's name and bus and returns its key.
func (b *Bus) resolveRule(name, bus *string, member string) (ruleKey, error) {
	n, err := validRuleName(name, member)
	if err != nil {
		return ruleKey{}, err
	}
	busName, err := b.resolveBus(bus, "eventBusName")
	if err != nil {
		return ruleKey{}, err
	}
	return ruleKey{bus: busName, name: n}, nil
}

// ruleOutput is a rule as DescribeRule and ListRules show it.
type ruleOutput struct {
	Name               string
	Arn                string
	EventPattern       string `json:",omitempty"`
	ScheduleExpression string `json:",omitempty"`
	State              string
	Description        string `json:",omitempty"`
	RoleArn            string `json:",omitempty"`
	EventBusName       string
	CreatedBy          string `json:",omitempty"` // DescribeRule only
}

func (b *Bus) ruleOutput(r *ruleRecord) ruleOutput {
	return ruleOutput{
		Name:               r.Name,
		Arn:                b.ruleARN(ruleKey{bus: r.EventBusName, name: r.Name}),
		EventPattern:       r.EventPattern,
		ScheduleExpression: r.ScheduleExpression,
		State:              r.State,
		Description:        r.Description,
		RoleArn:            r.RoleArn,
		EventBusName:       r.EventBusName,
	}
}

// putRule creates a rule or replaces everything about it but its
// targets, as PutRule does: fields left out are cleared, State defaults to
// ENABLED.
func (b *Bus) putRule(ctx context.Context, body []byte) (any, error) {
	var in struct {
		Name               *string
		ScheduleExpression *string
		EventPattern       *string
		State              *string
		Description        *string
		RoleArn            *string
		EventBusName       *string
	}
	if err := decodeInput(body, &in); err != nil {
		return nil, err
	}
	k, err := b.resolveRule(in.Name, in.EventBusName, "name")
	if err != nil {
		return nil, err
	}
	rec := &ruleRecord{
		Name:               k.name,
		EventBusName:       k.bus,
		Description:        deref(in.Description),
		EventPattern:       deref(in.EventPattern),
		ScheduleExpression: deref(in.ScheduleExpression),
		State:              deref(in.State),
		RoleArn:            deref(in.RoleArn),
	}
	if err := validateRule(rec); err != nil {
		return nil, err
	}
	if err := b.requireBus(ctx, k.bus); err != nil {
		return nil, err
	}
	now := b.clock.Now()
	_, err = b.updateRule(ctx, k, func(cur *ruleRecord) (*ruleRecord, error) {
		next := *rec
		if cur == nil {
			if len(b.cache.rulesOn(k.bus)) >= maxRulesPerBus {
				return nil, kindLimitExceeded.Errorf(msgLimitExceeded)
			}
		} else {
			next.Targets = cur.Targets
			// A rate restarts its count when it changes or is enabled.
			if cur.ScheduleExpression == next.ScheduleExpression && (cur.enabled() || !next.enabled()) {
				next.Anchor = cur.Anchor
			}
		}
		if next.ScheduleExpression != "" && next.Anchor.IsZero() {
			next.Anchor = now.UTC().Truncate(time.Second)
		}
		return &next, nil
	})
	if err != nil {
		return nil, err
	}
	return struct{ RuleArn string }{b.ruleARN(k)}, nil
}

// validateRule checks a rule's fields and fills in the default state.
func validateRule(r *ruleRecord) error {
	switch r.State {
	case "":
		r.State = stateEnabled
	case stateEnabled, stateDisabled, stateEnabledCloudTrail:
	default:
		return kindValidation.Errorf("1 validation error detected: Value '%s' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [%s, %s, %s]", r.State, stateEnabled, stateDisabled, stateEnabledCloudTrail)
	}
	if len(r.Description) > maxDescription {
		return lengthError(r.Description, "description", maxDescription)
	}
	if r.EventPattern == "" && r.ScheduleExpression == "" {
		return kindValidation.Errorf("Parameter(s) EventPattern or ScheduleExpression must be specified.")
	}
	if r.ScheduleExpression != "" {
		if r.EventBusName != DefaultBus {
			return kindValidation.Errorf("ScheduleExpression is supported only on the default event bus.")
		}
		if len(r.ScheduleExpression) > maxScheduleExpression {
			return lengthError(r.ScheduleExpression, "scheduleExpression", maxScheduleExpression)
		}
		if _, err := schedule.Parse(r.ScheduleExpression); err != nil {
			return kindValidation.Errorf("%s", err.Error())
		}
	}
	if r.EventPattern != "" {
		if len(r.EventPattern) > maxEventPattern {
			return lengthError(r.EventPattern, "eventPattern", maxEventPattern)
		}
		if _, err := eventpattern.Compile([]byte(r.EventPattern)); err != nil {
			var invalid *eventpattern.InvalidPatternError
			if errors.As(err, &invalid) {
				return kindInvalidEventPattern.Errorf("%s", invalid.Error())
			}
			return kindInvalidEventPattern.Errorf("Event pattern is not valid. Reason: %s", err.Error())
		}
	}
	return nil
}

// describeRule answers DescribeRule from the bucket, not the cache, so a
// rule just written on another node is found.
func (b *Bus) describeRule(ctx context.Context, body []byte) (any, error) {
	var in ruleInput
	if err := decodeInput(body, &in); err != nil {
		return nil, err
	}
	k, err := b.resolveRule(in.Name, in.EventBusName, "name")
	if err != nil {
		return nil, err
	}
	rec, _, err := b.getRule(ctx, k)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, ruleNotFound(k.name, k.bus)
	}
	out := b.ruleOutput(rec)
	out.CreatedBy = b.id.Account
	return out, nil
}

func (b *Bus) listRules(ctx context.Context, body []byte) (any, error) {
	var in struct {
		NamePrefix   *string
		EventBusName *string
		NextToken    *string
		Limit        *int32
	}
	if err := decodeInput(body, &in); err != nil {
		return nil, err
	}
	bus, err := b.resolveBus(in.EventBusName, "eventBusName")
	if err != nil {
		return nil, err
	}
	prefix := deref(in.NamePrefix)
	if prefix != "" && !ruleNamePattern.MatchString(prefix) {
		return nil, patternError(prefix, "namePrefix", `[\.\-_A-Za-z0-9]+`)
	}
	if err := b.requireBus(ctx, bus); err != nil {
		return nil, err
	}
	var rules []*ruleRecord
	for _, r := range b.cache.rulesOn(bus) {
		if strings.HasPrefix(r.rec.Name, prefix) {
			rules = append(rules, r.rec)
		}
	}
	rules, next, err := page(rules, func(r *ruleRecord) string { return r.Name }, deref(in.NextToken), in.Limit)
	if err != nil {
		return nil, err
	}
	out := struct {
		Rules     []ruleOutput
		NextToken string `json:",omitempty"`
	}{Rules: make([]ruleOutput, 0, len(rules)), NextToken: next}
	for _, r := range rules {
		out.Rules = append(out.Rules, b.ruleOutput(r))
	}
	return out, nil
}

// deleteRule deletes a rule without targets; deleting a rule that does
// not exist succeeds, as in EventBridge.
func (b *Bus) deleteRule(ctx context.Context, body []byte) (any, error) {
	var in ruleInput
	if err := decodeInput(body, &in); err != nil {
		return nil, err
	}
	k, err := b.resolveRule(in.Name, in.EventBusName, "name")
	if err != nil {
		return nil, err
	}
	_, err = b.updateRule(ctx, k, func(cur *ruleRecord) (*ruleRecord, error) {
		if cur == nil {
			return nil, errUnchanged
		}
		if len(cur.Targets) > 0 {
			return nil, kindValidation.Errorf(msgRuleHasTargets)
		}
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	return empty{}, nil
}

func (b *Bus) enableRule(ctx context.Context, body []byte) (any, error) {
	return b.setState(ctx, body, stateEnabled)
}

func (b *Bus) disableRule(ctx context.Context, body []byte) (any, error) {
	return b.setState(ctx, body, stateDisabled)
}

func (b *Bus) setState(ctx context.Context, body []byte, state string) (any, error) {
	var in ruleInput
	if err := decodeInput(body, &in); err != nil {
		return nil, err
	}
	k, err := b.resolveRule(in.Name, in.EventBusName, "name")
	if err != nil {
		return nil, err
	}
	now := b.clock.Now()
	_, err = b.updateRule(ctx, k, func(cur *ruleRecord) (*ruleRecord, error) {
		if cur == nil {
			return nil, ruleNotFound(k.name, k.bus)
		}
		if cur.State == state {
			return nil, errUnchanged
		}
		if state == stateEnabled && cur.ScheduleExpression != "" {
			// A rate counts its periods from when the rule was enabled.
			cur.Anchor = now.UTC().Truncate(time.Second)
		}
		cur.State = state
		return cur, nil
	})
	if err != nil {
		return nil, err
	}
	return empty{}, nil
}
