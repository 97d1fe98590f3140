package eventbus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"gust/internal/invoke"
	"gust/internal/lambda"
)

// envelope is an event as EventBridge hands it to targets, fields in
// EventBridge's order.
type envelope struct {
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

// encode renders the envelope as EventBridge does: compact, with <, >
// and & left as they are.
func (e *envelope) encode() ([]byte, error) {
	if e.Resources == nil {
		e.Resources = []string{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// deliver queues event as an Event invocation of each Lambda target of
// rule, shaped by the target's Input or InputPath, and returns once every
// delivery is queued. A target the invoke service refuses (a function
// that does not exist, say) is logged and skipped, as EventBridge counts a
// failed invocation without failing the event; an error is returned only
// when a delivery could not be queued for a platform fault.
func (b *Bus) deliver(ctx context.Context, rule *cachedRule, event []byte, eventID string) error {
	var errs []error
	for _, t := range rule.rec.Targets {
		payload, ok := targetPayload(t, event)
		if !ok {
			b.log.Debug("event has nothing at the target's InputPath; not delivered",
				"rule", rule.rec.Name, "target", t.ID, "input_path", t.InputPath, "event_id", eventID)
			continue
		}
		_, err := b.invoker.Invoke(ctx, invoke.Request{FunctionName: t.Arn, Type: invoke.TypeEvent, Payload: payload})
		if err == nil {
			continue
		}
		var refused *lambda.Error
		if errors.As(err, &refused) && refused.Type == "User" {
			b.log.Warn("event target refused the event", "rule", rule.rec.Name, "bus", rule.rec.EventBusName,
				"target", t.ID, "arn", t.Arn, "event_id", eventID, "err", err)
			continue
		}
		errs = append(errs, fmt.Errorf("deliver event %s to %s: %w", eventID, t.Arn, err))
	}
	return errors.Join(errs...)
}

// targetPayload is what a target receives: its Input, the part of the
// event its InputPath selects, or the whole event. ok is false when the
// InputPath selects nothing.
func targetPayload(t targetRecord, event []byte) (payload []byte, ok bool) {
	switch {
	case t.Input != "":
		return []byte(t.Input), true
	case t.InputPath != "" && t.InputPath != "$":
		return selectPath(event, t.InputPath)
	}
	return event, true
}

// selectPath follows a $.a.b path (validated by PutTargets) through a
// JSON document, keeping the selected value's text as it is.
func selectPath(doc []byte, path string) ([]byte, bool) {
	cur := json.RawMessage(doc)
	for _, member := range strings.Split(strings.TrimPrefix(path, "$."), ".") {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(cur, &obj); err != nil {
			return nil, false
		}
		next, ok := obj[member]
		if !ok {
			return nil, false
		}
		cur = next
	}
	return cur, true
}
