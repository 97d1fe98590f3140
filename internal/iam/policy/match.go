package policy

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Match reports whether value matches the glob pattern: '*' matches any run
// of characters, including none and including ':' and '/', and '?' matches
// exactly one character. Every other character matches itself, ignoring
// case when caseInsensitive is set. The pattern must cover the whole value.
// This is IAM's wildcard rule for Action (case-insensitive), Resource and
// the StringLike operators (case-sensitive).
func Match(pattern, value string, caseInsensitive bool) bool {
	return matchTokens(globTokens(nil, pattern), value, caseInsensitive)
}

type tokenKind uint8

const (
	literal tokenKind = iota
	anyRun            // '*'
	anyOne            // '?'
)

// token is one element of a compiled pattern. Patterns are compiled rather
// than matched as strings because policy variables insert text whose '*'
// and '?' must stay literal, and ${*} means a literal '*'.
type token struct {
	kind tokenKind
	r    rune
}

// globTokens appends pattern to dst with '*' and '?' as wildcards.
func globTokens(dst []token, pattern string) []token {
	for _, r := range pattern {
		switch r {
		case '*':
			dst = append(dst, token{kind: anyRun})
		case '?':
			dst = append(dst, token{kind: anyOne})
		default:
			dst = append(dst, token{kind: literal, r: r})
		}
	}
	return dst
}

// literalTokens appends text to dst with every character literal.
func literalTokens(dst []token, text string) []token {
	for _, r := range text {
		dst = append(dst, token{kind: literal, r: r})
	}
	return dst
}

// tokensString returns the pattern text of p, for operators such as
// StringEquals that compare without wildcards.
func tokensString(p []token) string {
	var b strings.Builder
	for _, t := range p {
		switch t.kind {
		case anyRun:
			b.WriteByte('*')
		case anyOne:
			b.WriteByte('?')
		default:
			b.WriteRune(t.r)
		}
	}
	return b.String()
}

// matchTokens is the glob matcher: greedy on '*', backtracking only to the
// most recent '*', so it runs in O(len(p)·len(value)) and never recurses.
func matchTokens(p []token, value string, caseInsensitive bool) bool {
	pi, vi := 0, 0
	starP, starV := -1, 0
	for vi < len(value) {
		r, size := utf8.DecodeRuneInString(value[vi:])
		if pi < len(p) {
			t := p[pi]
			if t.kind == anyRun {
				starP, starV = pi, vi
				pi++
				continue
			}
			if t.kind == anyOne || sameRune(t.r, r, caseInsensitive) {
				pi++
				vi += size
				continue
			}
		}
		if starP < 0 {
			return false
		}
		// Let the last '*' absorb one more character and retry after it.
		_, size = utf8.DecodeRuneInString(value[starV:])
		starV += size
		pi, vi = starP+1, starV
	}
	for pi < len(p) && p[pi].kind == anyRun {
		pi++
	}
	return pi == len(p)
}

func sameRune(a, b rune, caseInsensitive bool) bool {
	return a == b || caseInsensitive && unicode.ToLower(a) == unicode.ToLower(b)
}

// matchARN is the ArnEquals/ArnLike rule: each of the six colon-separated
// fields is matched separately, so '*' in the region field cannot swallow
// the account. The resource field keeps its own colons. A value that is not
// an ARN never matches; a pattern with fewer than six fields (such as "*")
// is matched against the whole value.
func matchARN(p []token, value string) bool {
	fields := strings.SplitN(value, ":", 6)
	if len(fields) != 6 || fields[0] != "arn" {
		return false
	}
	var parts [6][]token
	n, start := 0, 0
	for i, t := range p {
		if n < 5 && t.kind == literal && t.r == ':' {
			parts[n] = p[start:i]
			n++
			start = i + 1
		}
	}
	if n < 5 {
		return matchTokens(p, value, false)
	}
	parts[5] = p[start:]
	for i := range parts {
		if !matchTokens(parts[i], fields[i], false) {
			return false
		}
	}
	return true
}

// expand compiles a Resource or condition-value pattern. With variables set
// (2012-10-17 documents) it replaces ${key} with the request's value for the
// condition key, ${key, 'default'} with the default when the key is absent,
// and ${*}, ${?}, ${$} with those literal characters; substituted text is
// always literal. ok is false when a variable has no value and no default:
// IAM then treats the statement as not applying.
func expand(pattern string, ctx map[string]string, variables bool) (p []token, ok bool) {
	if !variables || !strings.Contains(pattern, "${") {
		return globTokens(nil, pattern), true
	}
	for {
		start := strings.Index(pattern, "${")
		if start < 0 {
			break
		}
		length := strings.IndexByte(pattern[start:], '}')
		if length < 0 {
			break
		}
		p = globTokens(p, pattern[:start])
		value, ok := resolveVariable(pattern[start+2:start+length], ctx)
		if !ok {
			return nil, false
		}
		p = literalTokens(p, value)
		pattern = pattern[start+length+1:]
	}
	return globTokens(p, pattern), true
}

func resolveVariable(body string, ctx map[string]string) (string, bool) {
	switch body {
	case "*", "?", "$":
		return body, true
	}
	key, fallback, hasDefault := strings.Cut(body, ",")
	if value, ok := lookupContext(ctx, strings.TrimSpace(key)); ok {
		return value, true
	}
	fallback = strings.TrimSpace(fallback)
	if hasDefault && len(fallback) >= 2 && fallback[0] == '\'' && fallback[len(fallback)-1] == '\'' {
		return fallback[1 : len(fallback)-1], true
	}
	return "", false
}

// lookupContext finds a condition key; IAM condition key names are
// case-insensitive ("AWS:SourceArn" is "aws:SourceArn").
func lookupContext(ctx map[string]string, key string) (string, bool) {
	if v, ok := ctx[key]; ok {
		return v, true
	}
	for k, v := range ctx {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return "", false
}
