package schedule

import (
	"errors"
	"testing"
	"time"
)

// FuzzParse feeds arbitrary text to Parse: it must never panic, must fail
// only with *InvalidError, and an accepted expression must produce
// minute-aligned UTC times that strictly increase.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"rate(5 minutes)", "rate(1 day)", "cron(0 10 * * ? *)", "cron(0/5 8-17 ? * MON-FRI *)",
		"cron(0 9 ? * 2#1 *)", "cron(0 0 L * ? *)", "cron(0 0 ? * 6L *)", "cron(0 0 15W * ? *)",
		"cron(0 0 LW * ? 2020-2030/3)", "cron(0 22-2/2 ? JAN-MAR FRI-MON *)", "cron(0 0 30 2 ? *)",
		"rate(1 minutes)", "cron(0 0 ? * 3#1,6#3 *)",
	} {
		f.Add(seed, int64(1_700_000_000))
	}
	f.Fuzz(func(t *testing.T, expr string, afterUnix int64) {
		e, err := Parse(expr)
		if err != nil {
			var inv *InvalidError
			if !errors.As(err, &inv) || err.Error() != invalidMessage {
				t.Fatalf("Parse(%q) = %#v, want *InvalidError", expr, err)
			}
			return
		}
		if e.String() != expr {
			t.Fatalf("String() = %q, want %q", e.String(), expr)
		}
		// Keep times within what time.Time and the year range can hold.
		after := time.Unix(afterUnix%(300*365*86400), 0).UTC()
		anchor := after.Add(-90 * time.Minute)
		for range 5 {
			next, ok := e.Next(after, anchor)
			if !ok {
				return
			}
			if !next.After(after) || next.Location() != time.UTC || next.Second() != 0 || next.Nanosecond() != 0 {
				t.Fatalf("%s.Next(%v) = %v: want a whole UTC minute after it", expr, after, next)
			}
			after = next
		}
	})
}

func BenchmarkNext(b *testing.B) {
	cases := []struct{ name, expr string }{
		{"kind=rate", "rate(5 minutes)"},
		{"kind=daily", "cron(0 10 * * ? *)"},
		{"kind=weekdays", "cron(0/5 8-17 ? * MON-FRI *)"},
		{"kind=nth-weekday", "cron(0 9 ? * 2#1 *)"},
		{"kind=never", "cron(0 0 30 2 ? *)"},
	}
	anchor := at("2024-01-01T00:00:00Z")
	for _, c := range cases {
		e := mustParse(b, c.expr)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			after := at("2024-03-01T17:57:00Z")
			for b.Loop() {
				if _, ok := e.Next(after, anchor); !ok && c.name != "kind=never" {
					b.Fatal("no next time")
				}
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("cron(0/5 8-17 ? JAN-MAR,OCT MON-FRI 2024-2030)"); err != nil {
			b.Fatal(err)
		}
	}
}
