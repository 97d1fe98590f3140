package eventpattern

import (
	"encoding/json"
)

// compileAnythingBut reads the value of {"anything-but": …}: a string, a
// number, a list of strings or of numbers, or an object naming prefix,
// suffix, equals-ignore-case or wildcard with a string or list of strings.
func (c *compiler) compileAnythingBut() (matcher, error) {
	tok, err := c.next()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case string:
		return anythingButValues{strings: []string{t}}, nil
	case json.Number:
		d, err := c.checkedNumber(t)
		if err != nil {
			return nil, err
		}
		return anythingButValues{numbers: []decimal{d}}, nil
	case json.Delim:
		switch t {
		case '[':
			return c.compileAnythingButList()
		case '{':
			return c.compileAnythingButOperator()
		}
	}
	return nil, c.fail("Value of anything-but must be an array or single string/number value.")
}

// compileAnythingButList reads a list that must hold only strings or only
// numbers.
func (c *compiler) compileAnythingButList() (matcher, error) {
	var m anythingButValues
	for {
		tok, err := c.next()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case string:
			m.strings = append(m.strings, t)
			continue
		case json.Number:
			d, err := c.checkedNumber(t)
			if err != nil {
				return nil, err
			}
			m.numbers = append(m.numbers, d)
			continue
		}
		if tok != json.Delim(']') {
			return nil, c.fail("Inside anything but list, start|null|boolean is not supported.")
		}
		if (len(m.strings) > 0) == (len(m.numbers) > 0) {
			return nil, c.fail("Inside anything but list, either all values are number or string, mixed type is not supported")
		}
		return m, nil
	}
}

// compileAnythingButOperator reads {"prefix"|"suffix"|"equals-ignore-case"|
// "wildcard": "x" | ["x", …]} inside anything-but.
func (c *compiler) compileAnythingButOperator() (matcher, error) {
	tok, err := c.next()
	if err != nil {
		return nil, err
	}
	op, ok := tok.(string)
	if !ok {
		return nil, c.fail("Anything-But expression name not found")
	}
	switch op {
	case "prefix", "suffix", "equals-ignore-case", "wildcard":
	default:
		return nil, c.fail("Unsupported anything-but pattern: %s", op)
	}
	values, err := c.anythingButStrings(op)
	if err != nil {
		return nil, err
	}
	m := anythingButString{inner: make([]matcher, 0, len(values))}
	for _, v := range values {
		inner, err := c.anythingButInner(op, v)
		if err != nil {
			return nil, err
		}
		m.inner = append(m.inner, inner)
	}
	if err := c.expectEnd(onlyOneKey); err != nil {
		return nil, err
	}
	return m, nil
}

// anythingButStrings reads a string or a non-empty list of strings.
func (c *compiler) anythingButStrings(op string) ([]string, error) {
	notString := op + " match pattern must be a string"
	if op == "equals-ignore-case" {
		notString = "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported."
	}
	tok, err := c.next()
	if err != nil {
		return nil, err
	}
	if s, ok := tok.(string); ok {
		return []string{s}, nil
	}
	if tok != json.Delim('[') {
		return nil, c.fail("%s", notString)
	}
	var values []string
	for {
		tok, err := c.next()
		if err != nil {
			return nil, err
		}
		if tok == json.Delim(']') {
			break
		}
		s, ok := tok.(string)
		if !ok {
			return nil, c.fail("%s", notString)
		}
		values = append(values, s)
	}
	if len(values) == 0 {
		return nil, c.fail("Empty arrays are not allowed")
	}
	return values, nil
}

// anythingButInner builds the matcher whose matches anything-but excludes.
func (c *compiler) anythingButInner(op, v string) (matcher, error) {
	switch op {
	case "prefix":
		if v == "" {
			return nil, c.fail("Null prefix/suffix not allowed")
		}
		return prefixMatcher{prefix: v}, nil
	case "suffix":
		if v == "" {
			return nil, c.fail("Null prefix/suffix not allowed")
		}
		return suffixMatcher{suffix: v}, nil
	case "equals-ignore-case":
		return equalsIgnoreCase(v), nil
	default: // wildcard
		w, problem := parseWildcard(v)
		if problem != "" {
			return nil, c.fail("%s", problem)
		}
		return wildcardMatcher{w: w}, nil
	}
}
