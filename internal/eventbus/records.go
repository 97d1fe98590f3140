package eventbus

import (
	"strconv"
	"strings"
	"time"
)

// DefaultBus is the bus every account has; it is never stored.
const DefaultBus = "default"

// Rule states. ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS is accepted
// and behaves as ENABLED: Gust has no CloudTrail.
const (
	stateEnabled           = "ENABLED"
	stateDisabled          = "DISABLED"
	stateEnabledCloudTrail = "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
)

// busRecord is a custom event bus as stored under bus.<name>.
type busRecord struct {
	Name             string    `json:"name"`
	Description      string    `json:"description,omitempty"`
	CreationTime     time.Time `json:"created"`
	LastModifiedTime time.Time `json:"modified"`
}

// ruleRecord is a rule with its targets as stored under
// rule.<bus>.<name>. Targets live in the rule's record so that PutTargets,
// RemoveTargets and DeleteRule's "has targets" check are one
// compare-and-set each.
type ruleRecord struct {
	Name               string `json:"name"`
	EventBusName       string `json:"bus"`
	Description        string `json:"description,omitempty"`
	EventPattern       string `json:"pattern,omitempty"`
	ScheduleExpression string `json:"schedule,omitempty"`
	State              string `json:"state"`
	RoleArn            string `json:"roleArn,omitempty"`
	// Anchor is when the schedule expression was set, whole seconds:
	// rate(n unit) ticks at Anchor + k·period, k ≥ 1.
	Anchor  time.Time      `json:"anchor,omitzero"`
	Targets []targetRecord `json:"targets,omitempty"`
}

// enabled reports whether the rule fires.
func (r *ruleRecord) enabled() bool { return r.State != stateDisabled }

// targetRecord is one target of a rule.
type targetRecord struct {
	ID        string `json:"id"`
	Arn       string `json:"arn"`
	Input     string `json:"input,omitempty"`
	InputPath string `json:"inputPath,omitempty"`
}

// ruleKey names a rule within the account.
type ruleKey struct{ bus, name string }

// Keys of the events bucket (NATS KV keys allow [-/_=.a-zA-Z0-9]; names
// may hold dots, which keyToken escapes so that tokens never run together):
//
//	bus.<bus>           a custom bus (busRecord)
//	rule.<bus>.<rule>   a rule and its targets (ruleRecord)
//
// and of the ticks bucket:
//
//	tick.<bus>.<rule>.<unix seconds>   a claimed schedule tick
func busKey(name string) string  { return "bus." + keyToken(name) }
func ruleKVKey(k ruleKey) string { return "rule." + keyToken(k.bus) + "." + keyToken(k.name) }
func tickKey(k ruleKey, unix int64) string {
	return "tick." + keyToken(k.bus) + "." + keyToken(k.name) + "." + strconv.FormatInt(unix, 10)
}

// keyToken escapes the dots of a bus or rule name ("=" is in neither
// name's alphabet, so the escape cannot collide).
func keyToken(name string) string { return strings.ReplaceAll(name, ".", "=2E") }
