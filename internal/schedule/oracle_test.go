package schedule

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// The randomized tests build expressions from a structure, render them as
// text, and compare Parse+Next with a brute-force search that evaluates the
// structure directly, day by day and minute by minute. The oracle shares no
// code with the package: it restates each rule in its own terms (e.g. W as
// "the weekday of the month at the least distance from day n").

// genItem is one comma-separated item of a plain field.
type genItem struct {
	star    bool
	lo, hi  int // hi < lo wraps around (cyclic fields only)
	ranged  bool
	step    int // 0: no "/step"
	useName bool
}

type genField struct {
	min, max int
	cyclic   bool
	names    []string
	items    []genItem
}

func (f *genField) render(rng *rand.Rand) string {
	parts := make([]string, len(f.items))
	for i, it := range f.items {
		var s string
		switch {
		case it.star:
			s = "*"
		case it.ranged:
			s = f.valueText(rng, it.lo, it.useName) + "-" + f.valueText(rng, it.hi, it.useName)
		default:
			s = f.valueText(rng, it.lo, it.useName)
		}
		if it.step > 0 {
			s += fmt.Sprintf("/%d", it.step)
		}
		parts[i] = s
	}
	return strings.Join(parts, ",")
}

func (f *genField) valueText(rng *rand.Rand, v int, useName bool) string {
	if !useName || f.names == nil {
		return fmt.Sprint(v)
	}
	return randomCase(rng, f.names[v-f.min])
}

func (f *genField) matches(v int) bool {
	for _, it := range f.items {
		step := max(it.step, 1)
		switch {
		case it.star:
			if (v-f.min)%step == 0 {
				return true
			}
		case !it.ranged && it.step == 0:
			if v == it.lo {
				return true
			}
		case !it.ranged: // "a/step" runs to the field's maximum
			if v >= it.lo && (v-it.lo)%step == 0 {
				return true
			}
		case it.lo <= it.hi:
			if v >= it.lo && v <= it.hi && (v-it.lo)%step == 0 {
				return true
			}
		default: // wrapped: offset from lo around a cycle of the field's size
			size := f.max - f.min + 1
			offset := ((v-it.lo)%size + size) % size
			if offset <= it.hi+size-it.lo && offset%step == 0 {
				return true
			}
		}
	}
	return false
}

// genDay is the day part: kind names the special form or "list".
type genDay struct {
	onWeekday bool // the rule is in day-of-week (day-of-month is "?")
	kind      string
	n, k      int
	list      genField
}

func (d *genDay) matches(tm time.Time) bool {
	year, month, day := tm.Date()
	last := time.Date(year, month+1, 0, 0, 0, 0, 0, time.UTC).Day()
	isWeekday := func(dd int) bool {
		wd := time.Date(year, month, dd, 0, 0, 0, 0, time.UTC).Weekday()
		return wd != time.Saturday && wd != time.Sunday
	}
	awsWeekday := int(tm.Weekday()) + 1 // 1 = Sunday
	switch d.kind {
	case "list":
		if d.onWeekday {
			return d.list.matches(awsWeekday)
		}
		return d.list.matches(day)
	case "L":
		if d.onWeekday {
			return awsWeekday == 7
		}
		return day == last
	case "LW":
		if !isWeekday(day) {
			return false
		}
		for later := day + 1; later <= last; later++ {
			if isWeekday(later) {
				return false
			}
		}
		return true
	case "W":
		if d.n > last || !isWeekday(day) {
			return false
		}
		for other := 1; other <= last; other++ {
			if isWeekday(other) && abs(other-d.n) < abs(day-d.n) {
				return false
			}
		}
		return true
	case "nL":
		return awsWeekday == d.n && day+7 > last
	case "#":
		return awsWeekday == d.n && (day-1)/7+1 == d.k
	}
	panic("unknown day kind " + d.kind)
}

func (d *genDay) render(rng *rand.Rand) (dom, dow string) {
	var s string
	switch d.kind {
	case "list":
		s = d.list.render(rng)
	case "L", "LW":
		s = d.kind
	case "W":
		s = fmt.Sprintf("%dW", d.n)
	case "nL":
		s = fmt.Sprintf("%dL", d.n)
	case "#":
		s = fmt.Sprintf("%d#%d", d.n, d.k)
	}
	if d.onWeekday {
		return "?", s
	}
	return s, "?"
}

type genCron struct {
	minutes, hours, months, years genField
	day                           genDay
}

func (c *genCron) String(rng *rand.Rand) string {
	dom, dow := c.day.render(rng)
	return fmt.Sprintf("cron(%s %s %s %s %s %s)", c.minutes.render(rng), c.hours.render(rng),
		dom, c.months.render(rng), dow, c.years.render(rng))
}

// bruteNext scans day by day for up to horizonDays, then minute by minute
// within a matching day.
func (c *genCron) bruteNext(after time.Time, horizonDays int) (time.Time, bool) {
	start := after.UTC().Truncate(time.Minute).Add(time.Minute)
	day := time.Date(start.Year(), start.Month(), start.Day(), 0, 0, 0, 0, time.UTC)
	for i := 0; i < horizonDays; i, day = i+1, day.AddDate(0, 0, 1) {
		if !c.years.matches(day.Year()) || !c.months.matches(int(day.Month())) || !c.day.matches(day) {
			continue
		}
		for m := 0; m < 24*60; m++ {
			tm := day.Add(time.Duration(m) * time.Minute)
			if !tm.Before(start) && c.hours.matches(tm.Hour()) && c.minutes.matches(tm.Minute()) {
				return tm, true
			}
		}
	}
	return time.Time{}, false
}

func randomField(rng *rand.Rand, first, last int, cyclic bool, names []string) genField {
	f := genField{min: first, max: last, cyclic: cyclic, names: names}
	randomValue := func() int { return first + rng.IntN(last-first+1) }
	count := 1 + rng.IntN(3)
	if rng.IntN(3) == 0 {
		count = 1
	}
	for range count {
		var it genItem
		it.useName = names != nil && rng.IntN(2) == 0
		switch rng.IntN(6) {
		case 0:
			it.star = true
		case 1, 2:
			it.lo = randomValue()
		case 3:
			it.lo = randomValue()
			it.step = 1 + rng.IntN(last/2+1)
		default:
			it.ranged = true
			it.lo, it.hi = randomValue(), randomValue()
			if it.hi < it.lo && !cyclic {
				it.lo, it.hi = it.hi, it.lo
			}
		}
		if (it.star || it.ranged) && rng.IntN(2) == 0 {
			it.step = 1 + rng.IntN(min(last, 20))
		}
		f.items = append(f.items, it)
	}
	return f
}

func randomCron(rng *rand.Rand) genCron {
	c := genCron{
		minutes: randomField(rng, 0, 59, true, nil),
		hours:   randomField(rng, 0, 23, true, nil),
		months:  randomField(rng, 1, 12, true, monthField.names),
	}
	// Years mostly "*", otherwise near the test window so they matter.
	c.years = genField{min: minYear, max: maxYear, items: []genItem{{star: true}}}
	if rng.IntN(3) == 0 {
		lo := 2018 + rng.IntN(12)
		c.years.items = []genItem{{lo: lo, hi: lo + rng.IntN(4), ranged: true, step: rng.IntN(3)}}
	}
	c.day.onWeekday = rng.IntN(2) == 0
	if c.day.onWeekday {
		c.day.kind = []string{"list", "list", "L", "nL", "#"}[rng.IntN(5)]
		c.day.n, c.day.k = 1+rng.IntN(7), 1+rng.IntN(5)
		c.day.list = randomField(rng, 1, 7, true, dowField.names)
	} else {
		c.day.kind = []string{"list", "list", "L", "LW", "W"}[rng.IntN(5)]
		c.day.n = 1 + rng.IntN(31)
		c.day.list = randomField(rng, 1, 31, true, nil)
	}
	return c
}

func TestCronNextMatchesBruteForce(t *testing.T) {
	const horizonDays = 3 * 366
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	cases := 400
	if testing.Short() {
		cases = 50
	}
	window := at("2031-01-01T00:00:00Z").Sub(at("2019-01-01T00:00:00Z"))
	for range cases {
		spec := randomCron(rng)
		text := spec.String(rng)
		e, err := Parse(text)
		if err != nil {
			var inv *InvalidError
			errors.As(err, &inv)
			t.Fatalf("seed %d: Parse(%q): %v (%+v)", seed, text, err, inv)
		}
		after := at("2019-01-01T00:00:00Z").Add(time.Duration(rng.Int64N(int64(window))))
		for range 3 {
			want, wantOK := spec.bruteNext(after, horizonDays)
			got, ok := e.Next(after, time.Time{})
			switch {
			case wantOK && (!ok || !got.Equal(want)):
				t.Fatalf("seed %d: %s.Next(%v) = %v, %v; brute force says %v", seed, text, after, got, ok, want)
			case !wantOK && ok && got.Sub(after) < horizonDays*24*time.Hour-48*time.Hour:
				t.Fatalf("seed %d: %s.Next(%v) = %v; brute force finds nothing that soon", seed, text, after, got)
			case !wantOK:
				after = after.Add(time.Duration(rng.Int64N(int64(window / 4))))
				continue
			}
			after = got
			if rng.IntN(2) == 0 { // sometimes resume mid-minute
				after = after.Add(time.Duration(rng.Int64N(int64(time.Minute))))
			}
		}
	}
}

func TestRateNextMatchesBruteForce(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 2))
	units := []struct {
		singular, plural string
		d                time.Duration
	}{{"minute", "minutes", time.Minute}, {"hour", "hours", time.Hour}, {"day", "days", 24 * time.Hour}}
	for range 300 {
		u := units[rng.IntN(len(units))]
		n := 1 + rng.IntN(100)
		text := fmt.Sprintf("rate(%d %s)", n, u.plural)
		if n == 1 {
			text = fmt.Sprintf("rate(1 %s)", u.singular)
		}
		e := mustParse(t, text)
		period := time.Duration(n) * u.d
		anchor := at("2020-01-01T00:00:00Z").Add(time.Duration(rng.Int64N(int64(5 * 365 * 24 * time.Hour))))
		after := anchor.Add(time.Duration(rng.Int64N(int64(200*period))) - period)
		want := anchor.Truncate(time.Minute)
		for want = want.Add(period); !want.After(after); want = want.Add(period) {
		}
		if got, ok := e.Next(after, anchor); !ok || !got.Equal(want) {
			t.Fatalf("seed %d: %s.Next(%v, anchor %v) = %v, %v; want %v", seed, text, after, anchor, got, ok, want)
		}
	}
}

func randomCase(rng *rand.Rand, s string) string {
	b := []byte(s)
	for i := range b {
		if rng.IntN(2) == 0 {
			b[i] = b[i] - 'A' + 'a'
		}
	}
	return string(b)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
