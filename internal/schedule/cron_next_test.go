package schedule

import (
	"testing"
	"time"
)

// Calendar facts the expectations below rely on: 2024 is a leap year;
// 2024-01-01 is a Monday, 2024-02-29 a Thursday, 2024-03-01 a Friday,
// 2024-03-31 a Sunday, 2024-06-01 and 2024-06-15 Saturdays, 2024-08-31 a
// Saturday, 2024-09-15 a Sunday, 2024-12-31 a Tuesday, 2025-01-01 a
// Wednesday, 2025-11-01 a Saturday, 2025-11-30 a Sunday.
func TestCronNextDocumentedExamples(t *testing.T) {
	tests := []struct {
		expr, after, want string
	}{
		// 10:00 every day.
		{"cron(0 10 * * ? *)", "2024-12-31T09:59:59Z", "2024-12-31T10:00:00Z"},
		{"cron(0 10 * * ? *)", "2024-12-31T10:00:00Z", "2025-01-01T10:00:00Z"},
		// 12:15 every day, across a leap day and a non-leap February.
		{"cron(15 12 * * ? *)", "2024-02-28T12:15:00Z", "2024-02-29T12:15:00Z"},
		{"cron(15 12 * * ? *)", "2023-02-28T12:16:00Z", "2023-03-01T12:15:00Z"},
		// 18:00 Monday to Friday.
		{"cron(0 18 ? * MON-FRI *)", "2024-03-01T18:00:00Z", "2024-03-04T18:00:00Z"},
		{"cron(0 18 ? * MON-FRI *)", "2024-12-31T18:30:00Z", "2025-01-01T18:00:00Z"},
		{"cron(0 18 ? * MON-FRI *)", "2024-03-02T00:00:00Z", "2024-03-04T18:00:00Z"},
		// 08:00 on the first of every month.
		{"cron(0 8 1 * ? *)", "2024-12-01T08:00:00Z", "2025-01-01T08:00:00Z"},
		{"cron(0 8 1 * ? *)", "2024-02-15T00:00:00Z", "2024-03-01T08:00:00Z"},
		// Every 15 minutes.
		{"cron(0/15 * * * ? *)", "2024-12-31T23:59:30Z", "2025-01-01T00:00:00Z"},
		{"cron(0/15 * * * ? *)", "2024-05-05T12:15:00Z", "2024-05-05T12:30:00Z"},
		{"cron(0/15 * * * ? *)", "2024-05-05T12:14:59.999Z", "2024-05-05T12:15:00Z"},
		// Every 10 minutes Monday to Friday: Friday night rolls to Monday.
		{"cron(0/10 * ? * MON-FRI *)", "2024-03-01T23:55:00Z", "2024-03-04T00:00:00Z"},
		{"cron(0/10 * ? * MON-FRI *)", "2024-03-04T00:00:00Z", "2024-03-04T00:10:00Z"},
		// Every 5 minutes 08:00-17:55 Monday to Friday.
		{"cron(0/5 8-17 ? * MON-FRI *)", "2024-03-01T17:55:00Z", "2024-03-04T08:00:00Z"},
		{"cron(0/5 8-17 ? * MON-FRI *)", "2024-03-04T07:59:00Z", "2024-03-04T08:00:00Z"},
		{"cron(0/5 8-17 ? * MON-FRI *)", "2024-03-04T17:54:00Z", "2024-03-04T17:55:00Z"},
		// 09:00 on the first Monday of the month.
		{"cron(0 9 ? * 2#1 *)", "2023-12-31T12:00:00Z", "2024-01-01T09:00:00Z"},
		{"cron(0 9 ? * 2#1 *)", "2024-01-01T09:00:00Z", "2024-02-05T09:00:00Z"},
		{"cron(0 9 ? * 2#1 *)", "2024-12-02T09:00:00Z", "2025-01-06T09:00:00Z"},
		// Midnight on the last day of the month.
		{"cron(0 0 L * ? *)", "2024-02-01T00:00:00Z", "2024-02-29T00:00:00Z"},
		{"cron(0 0 L * ? *)", "2023-02-01T00:00:00Z", "2023-02-28T00:00:00Z"},
		{"cron(0 0 L * ? *)", "2024-02-29T00:00:00Z", "2024-03-31T00:00:00Z"},
		{"cron(0 0 L * ? *)", "2024-12-31T00:00:00Z", "2025-01-31T00:00:00Z"},
		// Midnight on the last Friday of the month.
		{"cron(0 0 ? * 6L *)", "2024-02-01T00:00:00Z", "2024-02-23T00:00:00Z"},
		{"cron(0 0 ? * 6L *)", "2024-02-23T00:00:00Z", "2024-03-29T00:00:00Z"},
		{"cron(0 0 ? * 6L *)", "2024-12-01T00:00:00Z", "2024-12-27T00:00:00Z"},
		{"cron(0 0 ? * 6L *)", "2024-12-27T00:00:00Z", "2025-01-31T00:00:00Z"},
		// Midnight on the weekday nearest the 15th.
		{"cron(0 0 15W * ? *)", "2024-03-01T00:00:00Z", "2024-03-15T00:00:00Z"}, // Friday itself
		{"cron(0 0 15W * ? *)", "2024-06-01T00:00:00Z", "2024-06-14T00:00:00Z"}, // Saturday → Friday
		{"cron(0 0 15W * ? *)", "2024-09-01T00:00:00Z", "2024-09-16T00:00:00Z"}, // Sunday → Monday
		{"cron(0 0 15W * ? *)", "2024-06-14T00:00:00Z", "2024-07-15T00:00:00Z"},
	}
	runNextTable(t, tests)
}

func TestCronNextSpecialForms(t *testing.T) {
	tests := []struct {
		expr, after, want string
	}{
		// W never leaves the month.
		{"cron(0 0 1W * ? *)", "2024-05-31T00:00:00Z", "2024-06-03T00:00:00Z"},  // Saturday 1st → Monday 3rd
		{"cron(0 0 30W * ? *)", "2025-11-15T00:00:00Z", "2025-11-28T00:00:00Z"}, // Sunday 30th (last) → Friday 28th
		{"cron(0 0 31W * ? *)", "2024-03-01T00:00:00Z", "2024-03-29T00:00:00Z"}, // Sunday 31st → Friday 29th
		{"cron(0 0 31W * ? *)", "2024-04-01T00:00:00Z", "2024-05-31T00:00:00Z"}, // April has no 31st
		{"cron(0 0 30W * ? *)", "2024-02-01T00:00:00Z", "2024-03-29T00:00:00Z"}, // February has no 30th
		// LW: the last weekday of the month.
		{"cron(0 0 LW * ? *)", "2024-08-01T00:00:00Z", "2024-08-30T00:00:00Z"}, // 31st is a Saturday
		{"cron(0 0 LW * ? *)", "2024-03-01T00:00:00Z", "2024-03-29T00:00:00Z"}, // 31st is a Sunday
		{"cron(0 0 LW * ? *)", "2024-02-01T00:00:00Z", "2024-02-29T00:00:00Z"}, // 29th is a Thursday
		// L alone in day-of-week is Saturday, the last day of the week.
		{"cron(0 0 ? * L *)", "2024-03-01T00:00:00Z", "2024-03-02T00:00:00Z"},
		// 5th Thursday exists only in some months: 2024-02-29 is one.
		{"cron(0 0 ? * 5#5 *)", "2024-02-01T00:00:00Z", "2024-02-29T00:00:00Z"},
		{"cron(0 0 ? * 5#5 *)", "2024-02-29T00:00:00Z", "2024-05-30T00:00:00Z"},
		// Day-of-week numbering: 1 is Sunday, 7 is Saturday.
		{"cron(0 0 ? * 1 *)", "2024-03-01T00:00:00Z", "2024-03-03T00:00:00Z"},
		{"cron(0 0 ? * 7 *)", "2024-03-01T00:00:00Z", "2024-03-02T00:00:00Z"},
		{"cron(0 0 ? * sun *)", "2024-03-01T00:00:00Z", "2024-03-03T00:00:00Z"},
		// Ranges that wrap around, as in Quartz.
		{"cron(0 22-2/2 * * ? *)", "2024-12-31T20:00:00Z", "2024-12-31T22:00:00Z"},
		{"cron(0 22-2/2 * * ? *)", "2024-12-31T22:00:00Z", "2025-01-01T00:00:00Z"},
		{"cron(0 22-2/2 * * ? *)", "2025-01-01T00:00:00Z", "2025-01-01T02:00:00Z"},
		{"cron(0 22-2/2 * * ? *)", "2025-01-01T02:00:00Z", "2025-01-01T22:00:00Z"},
		{"cron(0 0 ? * FRI-MON *)", "2024-03-04T00:00:00Z", "2024-03-08T00:00:00Z"}, // Monday → Friday
		{"cron(0 0 1 NOV-FEB ? *)", "2024-02-01T00:00:00Z", "2024-11-01T00:00:00Z"},
		// Feb 29 only in leap years; 2100 is not one.
		{"cron(0 0 29 2 ? *)", "2024-03-01T00:00:00Z", "2028-02-29T00:00:00Z"},
		{"cron(0 0 29 2 ? *)", "2096-03-01T00:00:00Z", "2104-02-29T00:00:00Z"},
		// Years, steps and the 1970-2199 range.
		{"cron(0 0 1 1 ? 2020-2030/5)", "2021-01-01T00:00:00Z", "2025-01-01T00:00:00Z"},
		{"cron(0 0 1 1 ? *)", "1900-06-01T00:00:00Z", "1970-01-01T00:00:00Z"},
		{"cron(59 23 31 12 ? 2199)", "2199-12-31T23:58:00Z", "2199-12-31T23:59:00Z"},
		// Lists and mixed case.
		{"cron(5,35 9,21 ? jan,Jul Sat *)", "2024-01-06T21:35:00Z", "2024-01-13T09:05:00Z"},
	}
	runNextTable(t, tests)
}

func TestCronNextEndsWithYearRange(t *testing.T) {
	tests := []struct{ expr, after string }{
		{"cron(0 0 1 1 ? 2025-2026)", "2026-01-01T00:00:00Z"},
		{"cron(0 0 29 2 ? 2025-2027)", "2024-03-01T00:00:00Z"}, // no leap day in range
		{"cron(0 0 30 2 ? *)", "2024-01-01T00:00:00Z"},         // never
		{"cron(0 0 31 4,6,9,11 ? *)", "1970-01-01T00:00:00Z"},  // never
		{"cron(59 23 31 12 ? 2199)", "2199-12-31T23:59:00Z"},
		{"cron(* * * * ? *)", "2199-12-31T23:59:00Z"},
		{"cron(* * * * ? *)", "2300-01-01T00:00:00Z"},
	}
	for _, tt := range tests {
		e := mustParse(t, tt.expr)
		if got, ok := e.Next(at(tt.after), time.Time{}); ok {
			t.Errorf("%s.Next(%s) = %v, want no further time", tt.expr, tt.after, got)
		}
	}
}

func TestCronNextIgnoresAnchorAndZone(t *testing.T) {
	e := mustParse(t, "cron(0 10 * * ? *)")
	tokyo := time.FixedZone("JST", 9*3600)
	after := time.Date(2024, 1, 1, 18, 59, 0, 0, tokyo) // 09:59 UTC
	for _, anchor := range []time.Time{{}, at("2024-01-01T09:37:00Z"), at("2030-01-01T00:00:00Z")} {
		got, ok := e.Next(after, anchor)
		if want := at("2024-01-01T10:00:00Z"); !ok || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("Next(%v, anchor %v) = %v, %v; want %v UTC", after, anchor, got, ok, want)
		}
	}
}

func runNextTable(t *testing.T, tests []struct{ expr, after, want string }) {
	t.Helper()
	for _, tt := range tests {
		e := mustParse(t, tt.expr)
		got, ok := e.Next(at(tt.after), time.Time{})
		if !ok || !got.Equal(at(tt.want)) || got.Location() != time.UTC {
			t.Errorf("%s.Next(%s) = %v, %v; want %s", tt.expr, tt.after, got.Format(time.RFC3339), ok, tt.want)
		}
	}
}
