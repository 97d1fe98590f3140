package schedule

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// invalidMessage is the message of the ValidationException that PutRule
// returns for any malformed ScheduleExpression; AWS gives no detail.
const invalidMessage = "Parameter ScheduleExpression is not valid."

// InvalidError reports a schedule expression that EventBridge would reject.
// Error() is the exact wire message; Reason says what was wrong, for logs
// only (AWS does not send it).
type InvalidError struct {
	Expression string // the expression as given
	Reason     string // e.g. `day-of-month and day-of-week are both "?"`
}

func (e *InvalidError) Error() string { return invalidMessage }

func invalidf(expr, format string, args ...any) *InvalidError {
	return &InvalidError{Expression: expr, Reason: fmt.Sprintf(format, args...)}
}

// Expression is a parsed schedule expression. It is immutable and safe for
// concurrent use.
type Expression struct {
	raw    string
	period time.Duration // > 0 for rate(...) expressions
	cron   *cronSpec     // non-nil for cron(...) expressions
}

// Parse parses "rate(N unit)" or "cron(min hour day-of-month month
// day-of-week year)". Every error is an *InvalidError.
func Parse(expr string) (*Expression, error) {
	switch {
	case strings.HasPrefix(expr, "rate(") && strings.HasSuffix(expr, ")"):
		period, err := parseRate(expr, expr[len("rate("):len(expr)-1])
		if err != nil {
			return nil, err
		}
		return &Expression{raw: expr, period: period}, nil
	case strings.HasPrefix(expr, "cron(") && strings.HasSuffix(expr, ")"):
		spec, err := parseCron(expr, expr[len("cron("):len(expr)-1])
		if err != nil {
			return nil, err
		}
		return &Expression{raw: expr, cron: spec}, nil
	default:
		return nil, invalidf(expr, "neither rate(...) nor cron(...)")
	}
}

// String returns the expression as given to Parse.
func (e *Expression) String() string { return e.raw }

// Next returns the first fire time strictly after `after`, in UTC.
//
// For a rate expression the fire times are anchor + k·period for k ≥ 1,
// where anchor (the rule's creation or last-enable time) is truncated to
// the minute: a rule never fires at the instant it is created, and its
// first tick is one period later. A cron expression ignores anchor and
// returns ok == false once its year range (at most 2199) is exhausted.
func (e *Expression) Next(after, anchor time.Time) (t time.Time, ok bool) {
	if e.cron != nil {
		return e.cron.next(after)
	}
	return nextRate(e.period, after, anchor)
}

// nextRate works in whole Unix seconds: every tick is a whole minute, so
// "tick > after" is the same as "tick > floor(after)", and seconds cannot
// overflow for any time.Time a caller is likely to pass.
func nextRate(period time.Duration, after, anchor time.Time) (time.Time, bool) {
	step := int64(period / time.Second)
	start := anchor.Truncate(time.Minute).Unix()
	k := int64(1)
	if x := after.Unix(); x >= start {
		k = (x-start)/step + 1
	}
	if k > (math.MaxInt64-start)/step {
		return time.Time{}, false
	}
	return time.Unix(start+k*step, 0).UTC(), true
}

var rateUnits = map[string]time.Duration{
	"minute": time.Minute, "minutes": time.Minute,
	"hour": time.Hour, "hours": time.Hour,
	"day": 24 * time.Hour, "days": 24 * time.Hour,
}

// parseRate parses the inside of rate(...): a positive integer and a unit
// that is singular exactly when the integer is 1 (AWS rejects
// "rate(1 minutes)" and "rate(5 minute)").
func parseRate(expr, body string) (time.Duration, error) {
	parts := strings.Fields(body)
	if len(parts) != 2 {
		return 0, invalidf(expr, "rate needs a value and a unit")
	}
	value, unitName := parts[0], parts[1]
	if !isDigits(value) {
		return 0, invalidf(expr, "rate value %q is not a positive integer", value)
	}
	n, err := strconv.ParseInt(value, 10, 64)
	if err != nil || n < 1 {
		return 0, invalidf(expr, "rate value %q is not a positive integer", value)
	}
	unit, known := rateUnits[unitName]
	if !known {
		return 0, invalidf(expr, "unknown rate unit %q", unitName)
	}
	plural := strings.HasSuffix(unitName, "s")
	if (n == 1) == plural {
		return 0, invalidf(expr, "rate unit %q does not agree with value %d", unitName, n)
	}
	if n > int64(math.MaxInt64/unit) {
		return 0, invalidf(expr, "rate period overflows")
	}
	return time.Duration(n) * unit, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
