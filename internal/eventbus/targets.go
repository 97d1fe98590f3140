package eventbus

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	"gust/internal/lambda"
	"gust/internal/lazyre"
)

// inputPathPattern is the JSONPath subset InputPath supports: $ and
// dotted member names ($.detail, $.detail.a.b).
var inputPathPattern = lazyre.New(`^\$(\.[A-Za-z0-9_\-]+)*$`)

// targetInput is a Target as PutTargets sends it. Members Gust does not
// support are kept raw so that a target using them can be refused.
type targetInput struct {
	Id               *string
	Arn              *string
	Input            *string
	InputPath        *string
	InputTransformer json.RawMessage
}

// targetOutput is a Target as ListTargetsByRule shows it.
type targetOutput struct {
	Id        string
	Arn       string
	Input     string `json:",omitempty"`
	InputPath string `json:",omitempty"`
}

// failedEntry is a PutTargets or RemoveTargets entry that was not applied.
type failedEntry struct {
	TargetId     string
	ErrorCode    string
	ErrorMessage string
}

type failedEntries struct {
	FailedEntryCount int
	FailedEntries    []failedEntry
}

// putTargets adds targets to a rule or replaces those with the same Id.
// Only Lambda function targets in this account and region are accepted;
// others fail as entries.
func (b *Bus) putTargets(ctx context.Context, body []byte) (any, error) {
	var in struct {
		Rule         *string
		EventBusName *string
		Targets      []targetInput
	}
	if err := decodeInput(body, &in); err != nil {
		return nil, err
	}
	k, err := b.resolveRule(in.Rule, in.EventBusName, "rule")
	if err != nil {
		return nil, err
	}
	if in.Targets == nil {
		return nil, notNull("targets")
	}
	if len(in.Targets) == 0 || len(in.Targets) > 10 {
		return nil, kindValidation.Errorf("1 validation error detected: Value at 'targets' failed to satisfy constraint: Member must have length between 1 and 10")
	}
	out := failedEntries{FailedEntries: []failedEntry{}}
	var accepted []targetRecord
	for _, t := range in.Targets {
		rec, failure, err := b.checkTarget(t)
		if err != nil {
			return nil, err
		}
		if failure != nil {
			out.FailedEntries = append(out.FailedEntries, *failure)
			continue
		}
		accepted = append(accepted, rec)
	}
	out.FailedEntryCount = len(out.FailedEntries)
	if len(accepted) == 0 {
		return out, nil
	}
	_, err = b.updateRule(ctx, k, func(cur *ruleRecord) (*ruleRecord, error) {
		if cur == nil {
			return nil, ruleNotFound(k.name, k.bus)
		}
		for _, t := range accepted {
			i := slices.IndexFunc(cur.Targets, func(old targetRecord) bool { return old.ID == t.ID })
			if i >= 0 {
				cur.Targets[i] = t
			} else {
				cur.Targets = append(cur.Targets, t)
			}
		}
		if len(cur.Targets) > maxTargetsPerRule {
			return nil, kindLimitExceeded.Errorf(msgLimitExceeded)
		}
		return cur, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// checkTarget validates one target: a malformed one fails the whole
// request (err), an unsupported one fails as an entry (failure).
func (b *Bus) checkTarget(t targetInput) (targetRecord, *failedEntry, error) {
	id, err := validTargetID(t.Id)
	if err != nil {
		return targetRecord{}, nil, err
	}
	if t.Arn == nil {
		return targetRecord{}, nil, notNull("targets.member.arn")
	}
	arn := *t.Arn
	if len(arn) == 0 || len(arn) > maxTargetArn || !strings.HasPrefix(arn, "arn:") || strings.Count(arn, ":") < 5 {
		return targetRecord{}, nil, kindValidation.Errorf("Parameter %s is not valid. Reason: Provided Arn is not in correct format.", arn)
	}
	rec := targetRecord{ID: id, Arn: arn, Input: deref(t.Input), InputPath: deref(t.InputPath)}
	set := 0
	for _, given := range []bool{t.Input != nil, t.InputPath != nil, len(t.InputTransformer) > 0 && string(t.InputTransformer) != "null"} {
		if given {
			set++
		}
	}
	if set > 1 {
		return targetRecord{}, nil, kindValidation.Errorf("Only one of Input, InputPath, or InputTransformer can be provided for target %s.", id)
	}
	if t.Input != nil && (len(rec.Input) > maxTargetInput || !json.Valid([]byte(rec.Input))) {
		return targetRecord{}, nil, kindValidation.Errorf("Parameter Input of target %s is not valid. Reason: Input must be valid JSON text of at most %d characters.", id, maxTargetInput)
	}
	if t.InputPath != nil && (len(rec.InputPath) > maxInputPath || !inputPathPattern.MatchString(rec.InputPath)) {
		return targetRecord{}, nil, kindValidation.Errorf("Parameter InputPath of target %s is not valid. Reason: Gust supports $ and dotted member paths such as $.detail.a.", id)
	}
	fail := func(msg string) (targetRecord, *failedEntry, error) {
		return targetRecord{}, &failedEntry{TargetId: id, ErrorCode: entryValidationFailed, ErrorMessage: msg}, nil
	}
	if set == 1 && t.Input == nil && t.InputPath == nil {
		return fail("InputTransformer is not supported by Gust.")
	}
	if !strings.HasPrefix(arn, "arn:aws:lambda:") {
		return fail("Target " + arn + " is not supported: Gust delivers to Lambda functions only.")
	}
	ref, err := lambda.ParseFunctionRef(arn)
	if err != nil || !b.id.Owns(ref) {
		return fail("Target " + arn + " is not a Lambda function of this account and region.")
	}
	return rec, nil, nil
}

func validTargetID(id *string) (string, error) {
	if id == nil {
		return "", notNull("targets.member.id")
	}
	if !targetIDPattern.MatchString(*id) {
		return "", patternError(*id, "targets.member.id", `[\.\-_A-Za-z0-9]+`)
	}
	return *id, nil
}

// removeTargets removes targets by Id; Ids the rule does not have are
// ignored.
func (b *Bus) removeTargets(ctx context.Context, body []byte) (any, error) {
	var in struct {
		Rule         *string
		EventBusName *string
		Ids          []string
		Force        bool
	}
	if err := decodeInput(body, &in); err != nil {
		return nil, err
	}
	k, err := b.resolveRule(in.Rule, in.EventBusName, "rule")
	if err != nil {
		return nil, err
	}
	if in.Ids == nil {
		return nil, notNull("ids")
	}
	if len(in.Ids) == 0 || len(in.Ids) > 100 {
		return nil, kindValidation.Errorf("1 validation error detected: Value at 'ids' failed to satisfy constraint: Member must have length between 1 and 100")
	}
	for _, id := range in.Ids {
		if _, err := validTargetID(&id); err != nil {
			return nil, err
		}
	}
	_, err = b.updateRule(ctx, k, func(cur *ruleRecord) (*ruleRecord, error) {
		if cur == nil {
			return nil, ruleNotFound(k.name, k.bus)
		}
		kept := cur.Targets[:0]
		for _, t := range cur.Targets {
			if !slices.Contains(in.Ids, t.ID) {
				kept = append(kept, t)
			}
		}
		if len(kept) == len(cur.Targets) {
			return nil, errUnchanged
		}
		cur.Targets = kept
		return cur, nil
	})
	if err != nil {
		return nil, err
	}
	return failedEntries{FailedEntries: []failedEntry{}}, nil
}

// listTargetsByRule answers from the bucket, ordered by target Id.
func (b *Bus) listTargetsByRule(ctx context.Context, body []byte) (any, error) {
	var in struct {
		Rule         *string
		EventBusName *string
		NextToken    *string
		Limit        *int32
	}
	if err := decodeInput(body, &in); err != nil {
		return nil, err
	}
	k, err := b.resolveRule(in.Rule, in.EventBusName, "rule")
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
	targets := slices.Clone(rec.Targets)
	slices.SortFunc(targets, func(a, b targetRecord) int { return strings.Compare(a.ID, b.ID) })
	targets, next, err := page(targets, func(t targetRecord) string { return t.ID }, deref(in.NextToken), in.Limit)
	if err != nil {
		return nil, err
	}
	out := struct {
		Targets   []targetOutput
		NextToken string `json:",omitempty"`
	}{Targets: make([]targetOutput, 0, len(targets)), NextToken: next}
	for _, t := range targets {
		out.Targets = append(out.Targets, targetOutput{Id: t.ID, Arn: t.Arn, Input: t.Input, InputPath: t.InputPath})
	}
	return out, nil
}
