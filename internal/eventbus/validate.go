package eventbus

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"gust/internal/lazyre"
)

// Patterns and lengths of the EventBridge service model.
var (
	ruleNamePattern = lazyre.New(`^[\.\-_A-Za-z0-9]{1,64}$`)
	busNamePattern  = lazyre.New(`^[/\.\-_A-Za-z0-9]{1,256}$`)
	targetIDPattern = lazyre.New(`^[\.\-_A-Za-z0-9]{1,64}$`)
	busARNPattern   = lazyre.New(`^arn:aws[\w-]*:events:[a-z]{2}(-gov)?-[a-z]+-\d:(\d{12}):event-bus/([/\.\-_A-Za-z0-9]+)$`)
)

const (
	maxDescription        = 512
	maxScheduleExpression = 256
	maxEventPattern       = 4096
	maxTargetArn          = 1600
	maxTargetInput        = 8192
	maxInputPath          = 256
)

// patternError is the model's message for a member that fails its
// pattern.
func patternError(value, member, pattern string) error {
	return kindValidation.Errorf("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: %s", value, member, pattern)
}

func lengthError(value, member string, maxLen int) error {
	return kindValidation.Errorf("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", value, member, maxLen)
}

// validRuleName checks a required rule name (member is "name" or "rule").
func validRuleName(name *string, member string) (string, error) {
	if name == nil {
		return "", notNull(member)
	}
	if !ruleNamePattern.MatchString(*name) {
		return "", patternError(*name, member, `[\.\-_A-Za-z0-9]+`)
	}
	return *name, nil
}

// resolveBus turns an EventBusName parameter (a name or a bus ARN; nil or
// empty = default) into a bus name. A bus of another account or region is
// one that does not exist here.
func (b *Bus) resolveBus(param *string, member string) (string, error) {
	if param == nil || *param == "" {
		return DefaultBus, nil
	}
	v := *param
	if strings.HasPrefix(v, "arn:") {
		m := busARNPattern.FindStringSubmatch(v)
		if m == nil {
			return "", patternError(v, member, `(arn:aws[\w-]*:events:[a-z]{2}-[a-z]+-[\w-]+:[0-9]{12}:event-bus\/)?[/\.\-_A-Za-z0-9]+`)
		}
		if m[2] != b.id.Account || !strings.Contains(v, ":"+b.id.Region+":") {
			return "", busNotFound(m[3])
		}
		return m[3], nil
	}
	if !busNamePattern.MatchString(v) {
		return "", patternError(v, member, `[/\.\-_A-Za-z0-9]+`)
	}
	return v, nil
}

// epochSeconds is a JSON 1.1 timestamp: a number of seconds since the
// epoch, with a fraction.
type epochSeconds time.Time

func (t epochSeconds) MarshalJSON() ([]byte, error) {
	ms := time.Time(t).UnixMilli()
	return []byte(strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64)), nil
}

func (t *epochSeconds) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	sec, frac := math.Modf(f)
	*t = epochSeconds(time.Unix(int64(sec), int64(frac*1e9)).UTC())
	return nil
}

// eventTime formats a time as events carry it: UTC, whole seconds.
func eventTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }
