package pubsub

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"gust/internal/eventpattern"
	"gust/internal/lambda"
)

// filterPolicy is a subscription's compiled filter policy. SNS filter
// policies and EventBridge event patterns are one language with a few
// differences (doc.go lists them), so eventpattern matches both: with
// scope MessageAttributes the policy is matched against an object of the
// message's attributes, name → value (a Number as a number, a
// String.Array as an array, Binary left out, as SNS does not filter on
// it); with scope MessageBody against the message body, which must be a
// JSON object. A nil *filterPolicy delivers every message.
type filterPolicy struct {
	pattern *eventpattern.Pattern
	body    bool // scope MessageBody
}

// compileFilterPolicy validates a subscription's policy and scope and
// compiles the policy; the scope defaults to MessageAttributes.
func compileFilterPolicy(sub *Subscription) (*filterPolicy, error) {
	bad := lambda.KindInvalidParameterValue.Errorf
	switch sub.FilterPolicyScope {
	case "":
		if sub.FilterPolicy != "" {
			sub.FilterPolicyScope = ScopeMessageAttributes
		}
	case ScopeMessageAttributes, ScopeMessageBody:
		if sub.FilterPolicy == "" {
			return nil, bad("Invalid parameter: FilterPolicyScope: needs a FilterPolicy.")
		}
	default:
		return nil, bad("Invalid parameter: FilterPolicyScope: must be MessageAttributes or MessageBody, not %q.", sub.FilterPolicyScope)
	}
	if sub.FilterPolicy == "" {
		return nil, nil
	}
	body := sub.FilterPolicyScope == ScopeMessageBody
	if !body {
		if err := checkFlatPolicy(sub.FilterPolicy); err != nil {
			return nil, err
		}
	}
	p, err := eventpattern.Compile([]byte(sub.FilterPolicy))
	if err != nil {
		return nil, bad("Invalid parameter: FilterPolicy: %s", strings.TrimPrefix(err.Error(), "Event pattern is not valid. "))
	}
	return &filterPolicy{pattern: p, body: body}, nil
}

// checkFlatPolicy refuses what SNS refuses in a MessageAttributes policy:
// attributes have no nesting, so every key names an attribute and holds
// an array of conditions ("$or" holds policies of that same shape).
func checkFlatPolicy(policy string) error {
	var top map[string]json.RawMessage
	if err := json.Unmarshal([]byte(policy), &top); err != nil {
		return lambda.KindInvalidParameterValue.Errorf("Invalid parameter: FilterPolicy: the policy must be a JSON object.")
	}
	for name, raw := range top {
		raw = bytes.TrimSpace(raw)
		if name == "$or" {
			var alternatives []json.RawMessage
			if json.Unmarshal(raw, &alternatives) != nil {
				return lambda.KindInvalidParameterValue.Errorf("Invalid parameter: FilterPolicy: $or must be an array of policies.")
			}
			for _, alt := range alternatives {
				if err := checkFlatPolicy(string(alt)); err != nil {
					return err
				}
			}
			continue
		}
		if len(raw) == 0 || raw[0] != '[' {
			return lambda.KindInvalidParameterValue.Errorf("Invalid parameter: FilterPolicy: attribute %q must hold an array of conditions; nested keys need FilterPolicyScope MessageBody.", name)
		}
	}
	return nil
}

// matches reports whether a message passes the policy.
func (f *filterPolicy) matches(m *message) bool {
	if f == nil {
		return true
	}
	if f.body {
		v, err := decodeJSONValue(m.body)
		if err != nil {
			return false
		}
		obj, ok := v.(map[string]any)
		return ok && f.pattern.MatchesValue(obj)
	}
	return f.pattern.MatchesValue(attributeValues(m.attributes))
}

// attributeValues is what a MessageAttributes policy is matched against.
// A Number or String.Array that does not parse is left out: SNS would
// have refused the publish.
func attributeValues(attrs map[string]Attribute) map[string]any {
	out := make(map[string]any, len(attrs))
	for name, a := range attrs {
		switch a.Type {
		case AttributeString:
			out[name] = a.Value
		case AttributeNumber:
			if v, err := decodeJSONValue([]byte(a.Value)); err == nil {
				if n, ok := v.(json.Number); ok {
					out[name] = n
				}
			}
		case AttributeStringArray:
			if v, err := decodeJSONValue([]byte(a.Value)); err == nil {
				if arr, ok := v.([]any); ok {
					out[name] = arr
				}
			}
		}
	}
	return out
}

// decodeJSONValue decodes exactly one JSON value, numbers as json.Number
// (the form eventpattern compares exactly).
func decodeJSONValue(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after the JSON value")
	}
	return v, nil
}
