package schedule

import (
	"strconv"
	"strings"
)

// cronSpec is a parsed cron(...) expression: one value set per plain field
// and one rule for the day, which comes from whichever of day-of-month and
// day-of-week is not "?".
type cronSpec struct {
	minutes bitset // bit m for minute m
	hours   bitset // bit h for hour h
	months  bitset // bit m for month m (1-12)
	years   bitset // bit y-minYear
	days    dayRule
}

const (
	minYear = 1970
	maxYear = 2199
)

// dayRuleKind says how a day of a month is chosen.
type dayRuleKind uint8

const (
	daysOfMonth      dayRuleKind = iota + 1 // set holds days 1-31
	lastDayOfMonth                          // L
	lastWeekdayOfMon                        // LW
	nearestWeekday                          // nW: weekday nearest day n, same month
	daysOfWeek                              // set holds weekdays 1-7, 1 = Sunday
	lastWeekdayOf                           // nL: last weekday n of the month
	nthWeekdayOf                            // n#k: k-th weekday n of the month
)

type dayRule struct {
	kind dayRuleKind
	set  bitset
	n, k int
}

// field describes one plain cron field. Values are stored in a bitset at
// index value-offset.
type field struct {
	name     string
	min, max int
	offset   int
	// cycle is the period for ranges that wrap ("FRI-MON", "22-2"), as in
	// Quartz, on which AWS's dialect is based; 0 means ranges cannot wrap.
	cycle int
	// maxStep is the largest increment after "/"; 0 means no limit.
	maxStep int
	names   []string // names[i] stands for value min+i
}

var (
	minuteField = field{name: "minutes", min: 0, max: 59, cycle: 60, maxStep: 59}
	hourField   = field{name: "hours", min: 0, max: 23, cycle: 24, maxStep: 23}
	domField    = field{name: "day-of-month", min: 1, max: 31, cycle: 31, maxStep: 31}
	monthField  = field{name: "month", min: 1, max: 12, cycle: 12, maxStep: 12,
		names: []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}}
	dowField = field{name: "day-of-week", min: 1, max: 7, cycle: 7, maxStep: 7,
		names: []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}}
	yearField = field{name: "year", min: minYear, max: maxYear, offset: minYear}
)

// parseCron parses the inside of cron(...).
func parseCron(expr, body string) (*cronSpec, error) {
	fields := strings.Fields(asciiUpper(body))
	if len(fields) != 6 {
		return nil, invalidf(expr, "cron needs 6 fields, got %d", len(fields))
	}
	var spec cronSpec
	plain := []struct {
		f   *field
		tok string
		dst *bitset
	}{
		{&minuteField, fields[0], &spec.minutes},
		{&hourField, fields[1], &spec.hours},
		{&monthField, fields[3], &spec.months},
		{&yearField, fields[5], &spec.years},
	}
	for _, p := range plain {
		set, reason := p.f.parseList(p.tok)
		if reason != "" {
			return nil, invalidf(expr, "%s %q: %s", p.f.name, p.tok, reason)
		}
		*p.dst = set
	}

	domAny, dowAny := fields[2] == "?", fields[4] == "?"
	switch {
	case domAny && dowAny:
		return nil, invalidf(expr, `day-of-month and day-of-week are both "?"`)
	case !domAny && !dowAny:
		return nil, invalidf(expr, `one of day-of-month and day-of-week must be "?"`)
	case dowAny:
		rule, reason := parseDayOfMonth(fields[2])
		if reason != "" {
			return nil, invalidf(expr, "day-of-month %q: %s", fields[2], reason)
		}
		spec.days = rule
	default:
		rule, reason := parseDayOfWeek(fields[4])
		if reason != "" {
			return nil, invalidf(expr, "day-of-week %q: %s", fields[4], reason)
		}
		spec.days = rule
	}
	return &spec, nil
}

// parseDayOfMonth handles L (last day), LW (last weekday), nW (weekday
// nearest day n) and otherwise a plain list. As in Quartz, L and W cannot
// be combined with lists or ranges.
func parseDayOfMonth(tok string) (dayRule, string) {
	switch {
	case tok == "L":
		return dayRule{kind: lastDayOfMonth}, ""
	case tok == "LW":
		return dayRule{kind: lastWeekdayOfMon}, ""
	case strings.HasSuffix(tok, "W"):
		day := tok[:len(tok)-1]
		if !isDigits(day) {
			return dayRule{}, "W needs a single day before it"
		}
		n, ok := domField.value(day)
		if !ok {
			return dayRule{}, "day out of range"
		}
		return dayRule{kind: nearestWeekday, n: n}, ""
	}
	set, reason := domField.parseList(tok)
	return dayRule{kind: daysOfMonth, set: set}, reason
}

// parseDayOfWeek handles L alone (Saturday, the last day of the week), nL
// (last weekday n of the month), n#k (k-th weekday n of the month; AWS
// allows only one such expression in the field) and otherwise a plain list.
func parseDayOfWeek(tok string) (dayRule, string) {
	if tok == "L" {
		var set bitset
		set.add(7)
		return dayRule{kind: daysOfWeek, set: set}, ""
	}
	if day, nth, found := strings.Cut(tok, "#"); found {
		n, ok := dowField.value(day)
		if !ok {
			return dayRule{}, "# needs a single day of the week before it"
		}
		if !isDigits(nth) || len(nth) > 1 || nth[0] < '1' || nth[0] > '5' {
			return dayRule{}, "# needs a week number 1-5 after it"
		}
		return dayRule{kind: nthWeekdayOf, n: n, k: int(nth[0] - '0')}, ""
	}
	if day, found := strings.CutSuffix(tok, "L"); found {
		n, ok := dowField.value(day)
		if !ok {
			return dayRule{}, "L needs a single day of the week before it"
		}
		return dayRule{kind: lastWeekdayOf, n: n}, ""
	}
	set, reason := dowField.parseList(tok)
	return dayRule{kind: daysOfWeek, set: set}, reason
}

// parseList parses a comma-separated list of items, each "*", a value, a
// range "a-b", optionally followed by "/step" ("a/step" runs to the field's
// maximum). It returns a non-empty reason when tok is invalid.
func (f *field) parseList(tok string) (bitset, string) {
	var set bitset
	for item := range strings.SplitSeq(tok, ",") {
		if reason := f.parseItem(item, &set); reason != "" {
			return bitset{}, reason
		}
	}
	return set, ""
}

func (f *field) parseItem(item string, set *bitset) string {
	span, stepText, hasStep := strings.Cut(item, "/")
	step := 1
	if hasStep {
		if !isDigits(stepText) || len(stepText) > 6 {
			return "bad increment"
		}
		step, _ = strconv.Atoi(stepText)
		if step < 1 || (f.maxStep > 0 && step > f.maxStep) {
			return "increment out of range"
		}
	}
	var lo, hi int
	if span == "*" {
		lo, hi = f.min, f.max
	} else if from, to, isRange := strings.Cut(span, "-"); isRange {
		var okFrom, okTo bool
		lo, okFrom = f.value(from)
		hi, okTo = f.value(to)
		if !okFrom || !okTo {
			return "bad range"
		}
	} else {
		var ok bool
		if lo, ok = f.value(span); !ok {
			return "bad value"
		}
		hi = lo
		if hasStep {
			hi = f.max
		}
	}
	switch {
	case lo <= hi:
		for v := lo; v <= hi; v += step {
			set.add(v - f.offset)
		}
	case f.cycle == 0:
		return "range runs backwards"
	default:
		// A wrapping range walks around the cycle: "22-2/2" in hours is
		// 22, 0, 2.
		for i := lo; i <= hi+f.cycle; i += step {
			set.add((i-f.min)%f.cycle + f.min - f.offset)
		}
	}
	return ""
}

// value parses one number or name of the field.
func (f *field) value(s string) (int, bool) {
	if isDigits(s) {
		if len(s) > 4 {
			return 0, false
		}
		n, _ := strconv.Atoi(s)
		return n, n >= f.min && n <= f.max
	}
	for i, name := range f.names {
		if s == name {
			return f.min + i, true
		}
	}
	return 0, false
}

// asciiUpper upper-cases ASCII letters only, so that no non-ASCII rune can
// turn into a valid name (strings.ToUpper maps "ı" to "I").
func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
