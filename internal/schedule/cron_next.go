package schedule

import (
	"math/bits"
	"time"
)

// bitset holds small non-negative integers (0-255): minutes, hours, days,
// months, weekdays and years counted from minYear.
type bitset [4]uint64

func (b *bitset) add(i int)      { b[i>>6] |= 1 << (i & 63) }
func (b *bitset) has(i int) bool { return i >= 0 && i < 256 && b[i>>6]&(1<<(i&63)) != 0 }

// next returns the smallest member ≥ i, or -1 if there is none.
func (b *bitset) next(i int) int {
	if i < 0 {
		i = 0
	}
	for i < 256 {
		word := i >> 6
		if rest := b[word] >> (i & 63); rest != 0 {
			return i + bits.TrailingZeros64(rest)
		}
		i = (word + 1) << 6
	}
	return -1
}

// next finds the first matching minute strictly after `after`. It moves
// field by field from the largest unit down, jumping straight to the next
// member of each set, so even an expression that never matches (Feb 30)
// costs at most one step per month of the year range.
func (c *cronSpec) next(after time.Time) (time.Time, bool) {
	start := after.UTC().Truncate(time.Minute).Add(time.Minute)
	year, month, day := start.Date()
	hour, minute := start.Hour(), start.Minute()
	if year < minYear {
		year, month, day, hour, minute = minYear, time.January, 1, 0, 0
	}
	for year <= maxYear {
		if y := c.years.next(year - minYear); y < 0 {
			return time.Time{}, false
		} else if y+minYear != year {
			year, month, day, hour, minute = y+minYear, time.January, 1, 0, 0
		}

		m := c.months.next(int(month))
		if m < 0 || m > 12 {
			year, month, day, hour, minute = year+1, time.January, 1, 0, 0
			continue
		}
		if time.Month(m) != month {
			month, day, hour, minute = time.Month(m), 1, 0, 0
		}

		matchingDays := c.days.inMonth(year, month)
		d := matchingDays.next(day)
		if d < 0 {
			if month == time.December {
				year, month = year+1, time.January
			} else {
				month++
			}
			day, hour, minute = 1, 0, 0
			continue
		}
		if d != day {
			day, hour, minute = d, 0, 0
		}

		h := c.hours.next(hour)
		if h < 0 {
			// The day index may pass the month's end; the next round's
			// day lookup then finds nothing and moves to the next month.
			day, hour, minute = day+1, 0, 0
			continue
		}
		if h != hour {
			hour, minute = h, 0
		}

		mi := c.minutes.next(minute)
		if mi < 0 {
			hour, minute = hour+1, 0
			continue
		}
		return time.Date(year, month, day, hour, mi, 0, 0, time.UTC), true
	}
	return time.Time{}, false
}

// inMonth returns the set of days of the given month that the rule picks.
func (r *dayRule) inMonth(year int, month time.Month) bitset {
	last := daysIn(year, month)
	firstWeekday := int(time.Date(year, month, 1, 0, 0, 0, 0, time.UTC).Weekday())
	// weekday(d) is 0 for Sunday … 6 for Saturday, as time.Weekday.
	weekday := func(d int) int { return (firstWeekday + d - 1) % 7 }

	var days bitset
	switch r.kind {
	case daysOfMonth:
		for d := 1; d <= last; d++ {
			if r.set.has(d) {
				days.add(d)
			}
		}
	case lastDayOfMonth:
		days.add(last)
	case lastWeekdayOfMon:
		d := last
		for weekday(d) == 0 || weekday(d) == 6 {
			d--
		}
		days.add(d)
	case nearestWeekday:
		if d := nearestWeekdayTo(r.n, last, weekday(r.n)); d > 0 {
			days.add(d)
		}
	case daysOfWeek:
		for d := 1; d <= last; d++ {
			if r.set.has(weekday(d) + 1) {
				days.add(d)
			}
		}
	case lastWeekdayOf:
		// Step back from the month's last day to the wanted weekday.
		days.add(last - (weekday(last)-(r.n-1)+7)%7)
	case nthWeekdayOf:
		first := 1 + ((r.n-1)-firstWeekday+7)%7
		if d := first + 7*(r.k-1); d <= last {
			days.add(d)
		}
	}
	return days
}

// nearestWeekdayTo returns the weekday (Monday-Friday) closest to day n of
// a month with `last` days, never leaving the month, or 0 when the month
// has no day n. wd is n's weekday (0 = Sunday).
func nearestWeekdayTo(n, last, wd int) int {
	switch {
	case n > last:
		return 0
	case wd == 6 && n == 1: // Saturday the 1st: Friday is last month
		return 3
	case wd == 6:
		return n - 1
	case wd == 0 && n == last: // Sunday the last: Monday is next month
		return n - 2
	case wd == 0:
		return n + 1
	}
	return n
}

func daysIn(year int, month time.Month) int {
	return time.Date(year, month+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
