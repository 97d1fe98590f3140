package schedule

import (
	"errors"
	"testing"
	"time"
)

func TestParseAcceptsValidExpressions(t *testing.T) {
	valid := []string{
		// AWS's documented rate examples.
		"rate(1 minute)", "rate(5 minutes)", "rate(1 hour)", "rate(2 hours)", "rate(1 day)", "rate(7 days)",
		"rate(10080 minutes)",
		// AWS's documented cron examples.
		"cron(0 10 * * ? *)", "cron(15 12 * * ? *)", "cron(0 18 ? * MON-FRI *)", "cron(0 8 1 * ? *)",
		"cron(0/15 * * * ? *)", "cron(0/10 * ? * MON-FRI *)", "cron(0/5 8-17 ? * MON-FRI *)",
		"cron(0 9 ? * 2#1 *)", "cron(0 0 L * ? *)", "cron(0 0 ? * 6L *)", "cron(0 0 15W * ? *)",
		"cron(0 20 * * ? *)",
		// Other forms of the dialect.
		"cron(0 0 LW * ? *)", "cron(0 0 ? * L *)", "cron(0 0 ? * mon#2 *)", "cron(0 0 ? * FRIL *)",
		"cron(0 0 ? jan-Mar sun,SAT *)", "cron(*/5 * * * ? *)", "cron(0 22-2 * * ? *)",
		"cron(0 0 ? * FRI-MON *)", "cron(0 0 1 NOV-FEB ? *)", "cron(1,2,3 4-6 7-9/2 * ? 2020-2030/5)",
		"cron(0 0 * * ? 1970)", "cron(0 0 * * ? 2199)", "cron(59 23 31 12 ? *)", "cron(0 0 1W * ? *)",
		"cron(0 0 ? * 1-7/2 *)", "cron(0 0 ? * * *)", "cron(0 0 * * ? *)", "cron(0 0 ? * 7#5 *)",
		"cron(  0   0  *  *  ?  *  )",
	}
	for _, expr := range valid {
		e, err := Parse(expr)
		if err != nil {
			var inv *InvalidError
			errors.As(err, &inv)
			t.Errorf("Parse(%q) = %v (%+v), want success", expr, err, inv)
			continue
		}
		if got := e.String(); got != expr {
			t.Errorf("Parse(%q).String() = %q, want the input", expr, got)
		}
	}
}

func TestParseRejectsInvalidExpressions(t *testing.T) {
	invalid := []string{
		"", "rate", "cron", "rate()", "cron()", "every 5 minutes", "0 10 * * ? *",
		// rate: positive integer, singular exactly for 1.
		"rate(5)", "rate(minutes)", "rate(0 minutes)", "rate(0 minute)", "rate(-1 minutes)", "rate(+5 minutes)",
		"rate(1 minutes)", "rate(5 minute)", "rate(1 hours)", "rate(5 hour)", "rate(1 days)", "rate(2 day)",
		"rate(1.5 hours)", "rate(5 weeks)", "rate(30 seconds)", "rate(5 minutes", "rate 5 minutes)",
		"rate(5 minutes 1)", "rate(99999999999999999999 minutes)", "rate(9999999999999 days)",
		// cron: six fields.
		"cron(0 10 * * ?)", "cron(0 10 * * ? * *)", "cron(0 10 * * ? *",
		// exactly one of day-of-month and day-of-week is "?".
		"cron(0 10 * * * *)", "cron(0 10 ? * ? *)", "cron(0 10 1 * MON *)", "cron(0 0 L * L *)",
		// ranges of values.
		"cron(60 * * * ? *)", "cron(-1 * * * ? *)", "cron(0 24 * * ? *)", "cron(0 0 0 * ? *)",
		"cron(0 0 32 * ? *)", "cron(0 0 * 0 ? *)", "cron(0 0 * 13 ? *)", "cron(0 0 ? * 0 *)",
		"cron(0 0 ? * 8 *)", "cron(0 0 1 1 ? 1969)", "cron(0 0 1 1 ? 2200)", "cron(0 0 * * ? 99999)",
		"cron(0 0 * FOO ? *)", "cron(0 0 ? * FUN *)", "cron(0 0 * MON ? *)", "cron(0 0 ? * JAN *)",
		"cron(a b c d e f)",
		// "?" only in the day fields.
		"cron(? 0 * * ? *)", "cron(0 0 * ? ? *)", "cron(0 0 * * ? ?)",
		// lists, ranges and increments.
		"cron(0,,1 0 * * ? *)", "cron(0, 0 * * ? *)", "cron(0-60 0 * * ? *)", "cron(0/0 * * * ? *)",
		"cron(0/60 * * * ? *)", "cron(0/ * * * ? *)", "cron(/5 * * * ? *)", "cron(0 0/24 * * ? *)",
		"cron(0 0 1 1 ? 2026-2025)", "cron(*-5 0 * * ? *)", "cron(1-2-3 0 * * ? *)",
		"cron(0 0 ? * MON-FRI, *)",
		// L, W and # are allowed only where AWS allows them, and alone.
		"cron(L 0 * * ? *)", "cron(0 0 * L ? *)", "cron(0 0 L,1 * ? *)", "cron(0 0 1-5W * ? *)",
		"cron(0 0 1,15W * ? *)", "cron(0 0 W * ? *)", "cron(0 0 32W * ? *)", "cron(0 0 0W * ? *)",
		"cron(0 0 ? * W *)", "cron(0 0 ? * 5L,1 *)", "cron(0 0 ? * 1-5L *)", "cron(0 0 ? * 8L *)",
		"cron(0 0 ? * 3#1,6#3 *)", "cron(0 0 ? * 3#0 *)", "cron(0 0 ? * 3#6 *)", "cron(0 0 ? * #2 *)",
		"cron(0 0 ? * 3# *)", "cron(0 0 ? * 1-3#2 *)", "cron(0 0 ? * 3#12 *)", "cron(0 0 # * ? *)",
		"cron(0 0 ? * LW *)",
		// Non-ASCII letters must not turn into names.
		"cron(0 0 ? * FRı *)",
	}
	for _, expr := range invalid {
		e, err := Parse(expr)
		if err == nil {
			t.Errorf("Parse(%q) = %v, want an error", expr, e.String())
			continue
		}
		var inv *InvalidError
		if !errors.As(err, &inv) {
			t.Errorf("Parse(%q) error is %T, want *InvalidError", expr, err)
			continue
		}
		if got, want := err.Error(), "Parameter ScheduleExpression is not valid."; got != want {
			t.Errorf("Parse(%q) error = %q, want %q", expr, got, want)
		}
		if inv.Expression != expr || inv.Reason == "" {
			t.Errorf("Parse(%q) error = %+v, want the expression and a reason", expr, inv)
		}
	}
}

func TestRateNext(t *testing.T) {
	// The anchor's seconds are dropped: ticks fall on whole minutes.
	anchor := at("2024-01-01T10:00:30Z")
	tests := []struct {
		expr, after, want string
	}{
		{"rate(5 minutes)", "2024-01-01T10:00:30Z", "2024-01-01T10:05:00Z"}, // first tick is one period after creation
		{"rate(5 minutes)", "2024-01-01T10:04:59Z", "2024-01-01T10:05:00Z"},
		{"rate(5 minutes)", "2024-01-01T10:05:00Z", "2024-01-01T10:10:00Z"}, // strictly after
		{"rate(5 minutes)", "2024-01-01T10:05:00.000000001Z", "2024-01-01T10:10:00Z"},
		{"rate(5 minutes)", "2023-12-31T00:00:00Z", "2024-01-01T10:05:00Z"}, // before the anchor
		{"rate(1 minute)", "2024-01-01T23:59:59Z", "2024-01-02T00:00:00Z"},
		{"rate(7 minutes)", "2024-01-01T11:00:00Z", "2024-01-01T11:03:00Z"}, // 10:00 + 9·7min
		{"rate(1 hour)", "2024-01-01T10:00:00Z", "2024-01-01T11:00:00Z"},
		{"rate(2 hours)", "2024-12-31T23:30:00Z", "2025-01-01T00:00:00Z"}, // anchor + 4387·2h
		{"rate(1 day)", "2024-02-28T10:00:00Z", "2024-02-29T10:00:00Z"},   // leap day
		{"rate(1 day)", "2024-02-29T10:00:00Z", "2024-03-01T10:00:00Z"},
		{"rate(7 days)", "2024-01-01T10:00:00Z", "2024-01-08T10:00:00Z"},
		{"rate(7 days)", "2024-12-30T10:00:00Z", "2025-01-06T10:00:00Z"},   // 53 weeks later
		{"rate(365 days)", "2024-06-01T00:00:00Z", "2024-12-31T10:00:00Z"}, // 2024 has 366 days
	}
	for _, tt := range tests {
		e := mustParse(t, tt.expr)
		got, ok := e.Next(at(tt.after), anchor)
		if !ok || !got.Equal(at(tt.want)) || got.Location() != time.UTC {
			t.Errorf("%s.Next(%s) = %v, %v; want %s UTC", tt.expr, tt.after, got, ok, tt.want)
		}
	}
}

func TestRateNextIgnoresTimeZones(t *testing.T) {
	e := mustParse(t, "rate(1 hour)")
	tokyo := time.FixedZone("JST", 9*3600)
	anchor := time.Date(2024, 1, 1, 19, 0, 0, 0, tokyo) // 10:00 UTC
	got, ok := e.Next(time.Date(2024, 1, 1, 19, 30, 0, 0, tokyo), anchor)
	if want := at("2024-01-01T11:00:00Z"); !ok || !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("Next = %v, %v; want %v", got, ok, want)
	}
}

func mustParse(t testing.TB, expr string) *Expression {
	t.Helper()
	e, err := Parse(expr)
	if err != nil {
		var inv *InvalidError
		errors.As(err, &inv)
		t.Fatalf("Parse(%q): %v (%+v)", expr, err, inv)
	}
	return e
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}
