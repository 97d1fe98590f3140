package logs

import "strings"

// matcher decides whether one event message matches a filter pattern.
//
// This is the seam for CloudWatch's filter pattern grammar. Today
// compilePattern understands the empty pattern, plain terms and "quoted
// phrases" (all must appear, case-sensitively). JSON patterns ({ $.x = 1 }),
// space-delimited patterns ([a, b]), regular expressions (%…%), ?OR terms and
// -exclusions are rejected with InvalidParameterException until they are
// implemented here; nothing outside this file needs to change for them.
type matcher interface {
	match(msg string) bool
}

type matchAll struct{}

func (matchAll) match(string) bool { return true }

// allTerms matches messages containing every term.
type allTerms []string

func (t allTerms) match(msg string) bool {
	for _, term := range t {
		if !strings.Contains(msg, term) {
			return false
		}
	}
	return true
}

// compilePattern parses a filter pattern.
func compilePattern(p string) (matcher, error) {
	p = strings.TrimSpace(p)
	if p == "" {
		return matchAll{}, nil
	}
	switch p[0] {
	case '{', '[', '%':
		return nil, unsupportedPattern(p)
	}
	var terms allTerms
	for rest := p; ; {
		rest = strings.TrimLeft(rest, " \t")
		if rest == "" {
			break
		}
		if rest[0] == '"' {
			phrase, tail, err := quoted(rest)
			if err != nil {
				return nil, err
			}
			if phrase != "" {
				terms = append(terms, phrase)
			}
			rest = tail
			continue
		}
		end := strings.IndexAny(rest, " \t")
		if end < 0 {
			end = len(rest)
		}
		term := rest[:end]
		if term[0] == '?' || term[0] == '-' {
			return nil, unsupportedPattern(p)
		}
		terms = append(terms, term)
		rest = rest[end:]
	}
	if len(terms) == 0 {
		return matchAll{}, nil
	}
	return terms, nil
}

// quoted reads a "phrase" at the start of s (\" and \\ are escapes) and
// returns it and what follows.
func quoted(s string) (phrase, rest string, err error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		case c == '"':
			return b.String(), s[i+1:], nil
		default:
			b.WriteByte(c)
		}
	}
	return "", "", kindInvalidParameter.errorf("Invalid filter pattern: unterminated quote.")
}

func unsupportedPattern(p string) error {
	return kindInvalidParameter.errorf("Invalid filter pattern %q: only terms and quoted phrases are supported so far.", p)
}
