package eventpattern

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// wildcard is a compiled wildcard value: the literal runs between its
// unescaped asterisks. A value without asterisks has one segment.
type wildcard struct {
	segments []string
}

// parseWildcard applies EventBridge's wildcard rules: "*" matches any run of
// characters, `\*` and `\\` are a literal asterisk and backslash, and any
// other escape or two asterisks in a row is invalid. On failure it returns
// the reason.
func parseWildcard(p string) (wildcard, string) {
	var w wildcard
	var lit strings.Builder
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '*':
			if i+1 < len(p) && p[i+1] == '*' {
				return wildcard{}, fmt.Sprintf("Consecutive wildcard characters at pos %d", i)
			}
			w.segments = append(w.segments, lit.String())
			lit.Reset()
		case '\\':
			if i+1 < len(p) && (p[i+1] == '*' || p[i+1] == '\\') {
				lit.WriteByte(p[i+1])
				i++
				continue
			}
			return wildcard{}, fmt.Sprintf("Invalid escape character at pos %d", i)
		default:
			lit.WriteByte(c)
		}
	}
	w.segments = append(w.segments, lit.String())
	return w, ""
}

// matches reports whether s matches. Taking the leftmost occurrence of each
// middle segment is always safe for "*"-only globs, so matching is linear
// in practice and never backtracks.
func (w wildcard) matches(s string) bool {
	n := len(w.segments)
	if n == 1 {
		return s == w.segments[0]
	}
	first, last := w.segments[0], w.segments[n-1]
	if len(s) < len(first)+len(last) || !strings.HasPrefix(s, first) || !strings.HasSuffix(s, last) {
		return false
	}
	middle := s[len(first) : len(s)-len(last)]
	for _, seg := range w.segments[1 : n-1] {
		i := strings.Index(middle, seg)
		if i < 0 {
			return false
		}
		middle = middle[i+len(seg):]
	}
	return true
}

// hasPrefixFold is strings.HasPrefix under Unicode simple case folding (the
// folding strings.EqualFold uses). It walks runes, not bytes, because
// case variants may differ in encoded length (K and the Kelvin sign).
func hasPrefixFold(s, prefix string) bool {
	for prefix != "" {
		if s == "" {
			return false
		}
		pr, pn := utf8.DecodeRuneInString(prefix)
		sr, sn := utf8.DecodeRuneInString(s)
		if !equalFoldRune(pr, sr) {
			return false
		}
		prefix, s = prefix[pn:], s[sn:]
	}
	return true
}

// hasSuffixFold is strings.HasSuffix under Unicode simple case folding.
func hasSuffixFold(s, suffix string) bool {
	for suffix != "" {
		if s == "" {
			return false
		}
		pr, pn := utf8.DecodeLastRuneInString(suffix)
		sr, sn := utf8.DecodeLastRuneInString(s)
		if !equalFoldRune(pr, sr) {
			return false
		}
		suffix, s = suffix[:len(suffix)-pn], s[:len(s)-sn]
	}
	return true
}

func equalFoldRune(a, b rune) bool {
	if a == b {
		return true
	}
	// The runes equal under folding form one orbit of SimpleFold.
	for r := unicode.SimpleFold(a); r != a; r = unicode.SimpleFold(r) {
		if r == b {
			return true
		}
	}
	return false
}
