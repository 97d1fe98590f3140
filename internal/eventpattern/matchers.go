package eventpattern

import (
	"net/netip"
	"strings"
)

// valueKind is the JSON type of a leaf value in an event.
type valueKind uint8

const (
	kindString valueKind = iota
	kindNumber
	kindBool
	kindNull
)

// scalar is one leaf value of an event, prepared once so that every matcher
// of a leaf can test it cheaply.
type scalar struct {
	kind valueKind
	// text is the string value, or the number's JSON spelling.
	text string
	// num is the number's value; numOK is false when the spelling could
	// not be read as a decimal (an absurd exponent).
	num   decimal
	numOK bool
	b     bool
}

// makeScalar prepares v, which must not be an object or an array. It
// reports false for values that are not JSON scalars.
func makeScalar(v any) (scalar, bool) {
	switch t := v.(type) {
	case string:
		return scalar{kind: kindString, text: t}, true
	case bool:
		return scalar{kind: kindBool, b: t}, true
	case nil:
		return scalar{kind: kindNull}, true
	}
	text, ok := numberText(v)
	if !ok {
		return scalar{}, false
	}
	num, numOK := parseDecimal(text)
	return scalar{kind: kindNumber, text: text, num: num, numOK: numOK}, true
}

// matcher is one element of a leaf's array in a pattern.
type matcher interface {
	matches(v scalar) bool
}

// exactString matches a string equal to s. When s is an IP address it also
// matches other spellings of that address, as EventBridge compares IP
// literals as addresses.
type exactString struct {
	s    string
	ip   netip.Addr
	isIP bool
}

func newExactString(s string) exactString {
	m := exactString{s: s}
	if addr, err := netip.ParseAddr(s); err == nil && addr.Zone() == "" {
		m.ip, m.isIP = addr, true
	}
	return m
}

func (m exactString) matches(v scalar) bool {
	if v.kind != kindString {
		return false
	}
	if v.text == m.s {
		return true
	}
	if !m.isIP {
		return false
	}
	addr, err := netip.ParseAddr(v.text)
	return err == nil && addr == m.ip
}

// exactNumber matches a number equal in value to the pattern's number.
type exactNumber struct {
	text  string
	num   decimal
	numOK bool
}

func (m exactNumber) matches(v scalar) bool {
	if v.kind != kindNumber {
		return false
	}
	if m.numOK && v.numOK {
		return compareDecimals(m.num, v.num) == 0
	}
	return m.text == v.text
}

type exactBool bool

func (m exactBool) matches(v scalar) bool { return v.kind == kindBool && v.b == bool(m) }

type exactNull struct{}

func (exactNull) matches(v scalar) bool { return v.kind == kindNull }

// existsMatcher is {"exists": true}: any leaf value, null included.
type existsMatcher struct{}

func (existsMatcher) matches(scalar) bool { return true }

type prefixMatcher struct {
	prefix     string
	ignoreCase bool
}

func (m prefixMatcher) matches(v scalar) bool {
	if v.kind != kindString {
		return false
	}
	if m.ignoreCase {
		return hasPrefixFold(v.text, m.prefix)
	}
	return strings.HasPrefix(v.text, m.prefix)
}

type suffixMatcher struct {
	suffix     string
	ignoreCase bool
}

func (m suffixMatcher) matches(v scalar) bool {
	if v.kind != kindString {
		return false
	}
	if m.ignoreCase {
		return hasSuffixFold(v.text, m.suffix)
	}
	return strings.HasSuffix(v.text, m.suffix)
}

type equalsIgnoreCase string

func (m equalsIgnoreCase) matches(v scalar) bool {
	return v.kind == kindString && strings.EqualFold(v.text, string(m))
}

type wildcardMatcher struct{ w wildcard }

func (m wildcardMatcher) matches(v scalar) bool {
	return v.kind == kindString && m.w.matches(v.text)
}

type cidrMatcher struct{ prefix netip.Prefix }

func (m cidrMatcher) matches(v scalar) bool {
	if v.kind != kindString {
		return false
	}
	addr, err := netip.ParseAddr(v.text)
	return err == nil && m.prefix.Contains(addr)
}

// numericRange is the numeric operator: an optional lower and an optional
// upper bound ("=" is both, closed).
type numericRange struct {
	lower, upper         decimal
	hasLower, hasUpper   bool
	lowerOpen, upperOpen bool
}

func (m numericRange) matches(v scalar) bool {
	if v.kind != kindNumber || !v.numOK || !withinNumericLimit(v.num) {
		return false
	}
	if m.hasLower {
		c := compareDecimals(v.num, m.lower)
		if c < 0 || (c == 0 && m.lowerOpen) {
			return false
		}
	}
	if m.hasUpper {
		c := compareDecimals(v.num, m.upper)
		if c > 0 || (c == 0 && m.upperOpen) {
			return false
		}
	}
	return true
}

// anythingButValues matches every value except the listed strings (or the
// listed numbers): values of any other type always match.
type anythingButValues struct {
	strings []string
	numbers []decimal
}

func (m anythingButValues) matches(v scalar) bool {
	switch v.kind {
	case kindString:
		for _, s := range m.strings {
			if v.text == s {
				return false
			}
		}
	case kindNumber:
		if !v.numOK {
			return true
		}
		for _, n := range m.numbers {
			if compareDecimals(v.num, n) == 0 {
				return false
			}
		}
	}
	return true
}

// anythingButString matches every value that is not a string accepted by
// one of the inner matchers (prefix, suffix, equals-ignore-case or
// wildcard); numbers, booleans and null always match.
type anythingButString struct {
	inner []matcher
}

func (m anythingButString) matches(v scalar) bool {
	if v.kind != kindString {
		return true
	}
	for _, in := range m.inner {
		if in.matches(v) {
			return false
		}
	}
	return true
}
