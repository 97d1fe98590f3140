package eventpattern

import (
	"encoding/json"
	"math"
	"strconv"
)

// decimal is an exact view of a JSON number that needs no allocation: the
// value is ±0.d₁d₂…dₙ × 10^exp, where d₁…dₙ are the bytes of hi followed by
// those of lo (both substrings of the number's text) with no leading or
// trailing zeros. Zero has no digits. Comparing decimals digit by digit
// makes 300, 300.0 and 3.0e2 equal and keeps numbers of any size exact,
// which float64 would not (AWS account ids, nanosecond timestamps).
type decimal struct {
	neg    bool
	hi, lo string
	exp    int64
}

// maxExponentDigits bounds the exponent of a number so that exponent
// arithmetic cannot overflow; a longer exponent makes the number
// uncomparable (it is still matched by spelling).
const maxExponentDigits = 15

// parseDecimal parses JSON number syntax (leading zeros and a leading "+"
// in the exponent are tolerated, so strconv's float formatting parses too).
func parseDecimal(s string) (decimal, bool) {
	var d decimal
	i := 0
	if i < len(s) && s[i] == '-' {
		d.neg = true
		i++
	}
	start := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	intPart := s[start:i]
	if intPart == "" {
		return decimal{}, false
	}
	var fracPart string
	if i < len(s) && s[i] == '.' {
		i++
		start = i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		fracPart = s[start:i]
		if fracPart == "" {
			return decimal{}, false
		}
	}
	var exp10 int64
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		expNeg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			expNeg = s[i] == '-'
			i++
		}
		start = i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		digits := s[start:i]
		if digits == "" || len(digits) > maxExponentDigits {
			return decimal{}, false
		}
		exp10, _ = strconv.ParseInt(digits, 10, 64)
		if expNeg {
			exp10 = -exp10
		}
	}
	if i != len(s) {
		return decimal{}, false
	}

	// Drop leading zeros across the integer and fraction digits.
	leading := 0
	for leading < len(intPart) && intPart[leading] == '0' {
		leading++
	}
	if leading < len(intPart) {
		d.hi, d.lo = intPart[leading:], fracPart
	} else {
		f := 0
		for f < len(fracPart) && fracPart[f] == '0' {
			f++
		}
		leading += f
		d.lo = fracPart[f:]
	}
	// Drop trailing zeros, first from the fraction, then from the integer.
	d.lo = trimTrailingZeros(d.lo)
	if d.lo == "" {
		d.hi = trimTrailingZeros(d.hi)
	}
	if d.hi == "" && d.lo == "" {
		return decimal{}, true // zero, whatever its sign and exponent
	}
	d.exp = int64(len(intPart)) - int64(leading) + exp10
	return d, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func trimTrailingZeros(s string) string {
	for len(s) > 0 && s[len(s)-1] == '0' {
		s = s[:len(s)-1]
	}
	return s
}

func (d decimal) isZero() bool { return d.hi == "" && d.lo == "" }

func (d decimal) numDigits() int { return len(d.hi) + len(d.lo) }

// digit returns the i-th significant digit, '0' past the last one.
func (d decimal) digit(i int) byte {
	switch {
	case i < len(d.hi):
		return d.hi[i]
	case i < len(d.hi)+len(d.lo):
		return d.lo[i-len(d.hi)]
	default:
		return '0'
	}
}

func (d decimal) sign() int {
	switch {
	case d.isZero():
		return 0
	case d.neg:
		return -1
	default:
		return 1
	}
}

// compareDecimals returns -1, 0 or +1 as a is less than, equal to or
// greater than b.
func compareDecimals(a, b decimal) int {
	sa, sb := a.sign(), b.sign()
	if sa != sb {
		return compareInts(int64(sa), int64(sb))
	}
	if sa == 0 {
		return 0
	}
	return sa * compareMagnitudes(a, b)
}

// compareMagnitudes compares |a| and |b|; neither may be zero, whose
// exponent means nothing.
func compareMagnitudes(a, b decimal) int {
	if a.exp != b.exp {
		return compareInts(a.exp, b.exp)
	}
	n := max(a.numDigits(), b.numDigits())
	for i := 0; i < n; i++ {
		if c := compareInts(int64(a.digit(i)), int64(b.digit(i))); c != 0 {
			return c
		}
	}
	return 0
}

func compareInts(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	default:
		return 0
	}
}

// decimalPlaces is the number of digits right of the decimal point.
func (d decimal) decimalPlaces() int64 {
	return max(0, int64(d.numDigits())-d.exp)
}

// numericLimit is EventBridge's bound on numbers used in numeric matching:
// pattern operands beyond it are invalid, event values beyond it never
// match a numeric range.
var numericLimit, _ = parseDecimal("5000000000")

// maxNumericDecimalPlaces is EventBridge's precision for numeric operands.
const maxNumericDecimalPlaces = 6

func withinNumericLimit(d decimal) bool {
	return d.isZero() || compareMagnitudes(d, numericLimit) <= 0
}

// numericOperandProblem explains why a pattern number cannot be a numeric
// operand, or returns "" when it can.
func numericOperandProblem(d decimal) string {
	if !withinNumericLimit(d) {
		return "Value must be between -5000000000 and 5000000000, inclusive"
	}
	if d.decimalPlaces() > maxNumericDecimalPlaces {
		return "Only values up to 6 decimals are supported"
	}
	return ""
}

// numberText returns the JSON spelling of a decoded number, accepting what
// encoding/json produces (json.Number, float64) and Go's other numeric
// types, which callers building events by hand may use.
func numberText(v any) (string, bool) {
	switch n := v.(type) {
	case json.Number:
		return string(n), true
	case float64:
		return formatFloat(n, 64)
	case float32:
		return formatFloat(float64(n), 32)
	case int:
		return strconv.FormatInt(int64(n), 10), true
	case int8:
		return strconv.FormatInt(int64(n), 10), true
	case int16:
		return strconv.FormatInt(int64(n), 10), true
	case int32:
		return strconv.FormatInt(int64(n), 10), true
	case int64:
		return strconv.FormatInt(n, 10), true
	case uint:
		return strconv.FormatUint(uint64(n), 10), true
	case uint8:
		return strconv.FormatUint(uint64(n), 10), true
	case uint16:
		return strconv.FormatUint(uint64(n), 10), true
	case uint32:
		return strconv.FormatUint(uint64(n), 10), true
	case uint64:
		return strconv.FormatUint(n, 10), true
	}
	return "", false
}

func formatFloat(f float64, bitSize int) (string, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", false // not a JSON number
	}
	return strconv.FormatFloat(f, 'g', -1, bitSize), true
}
