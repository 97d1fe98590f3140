package eventpattern

import (
	"encoding/json"
	"fmt"
	"net/netip"
)

const onlyOneKey = "Only one key allowed in match expression"

// compileMatchExpression reads a match expression such as {"prefix": "x"}
// whose "{" was just read, and adds it to l.
func (c *compiler) compileMatchExpression(l *leaf) error {
	tok, err := c.next()
	if err != nil {
		return err
	}
	name, ok := tok.(string)
	if !ok {
		return c.fail("Match expression name not found")
	}
	var m matcher
	switch name {
	case "prefix", "suffix":
		m, err = c.compilePrefixOrSuffix(name)
	case "equals-ignore-case":
		var s string
		if s, err = c.stringOperand("equals-ignore-case match pattern must be a string"); err == nil {
			m = equalsIgnoreCase(s)
		}
	case "wildcard":
		var w wildcard
		if w, err = c.wildcardOperand(); err == nil {
			m = wildcardMatcher{w: w}
		}
	case "numeric":
		m, err = c.compileNumeric()
	case "anything-but":
		m, err = c.compileAnythingBut()
	case "cidr":
		m, err = c.compileCIDR()
	case "exists":
		m, err = c.compileExists(l)
	default:
		return c.fail("Unrecognized match type %s", name)
	}
	if err != nil {
		return err
	}
	if m != nil {
		l.matchers = append(l.matchers, m)
	}
	return c.expectEnd(onlyOneKey)
}

// stringOperand reads a value that must be a string.
func (c *compiler) stringOperand(reason string) (string, error) {
	tok, err := c.next()
	if err != nil {
		return "", err
	}
	s, ok := tok.(string)
	if !ok {
		return "", c.fail("%s", reason)
	}
	return s, nil
}

func (c *compiler) wildcardOperand() (wildcard, error) {
	s, err := c.stringOperand("wildcard match pattern must be a string")
	if err != nil {
		return wildcard{}, err
	}
	w, problem := parseWildcard(s)
	if problem != "" {
		return wildcard{}, c.fail("%s", problem)
	}
	return w, nil
}

// compilePrefixOrSuffix reads {"prefix": "x"} or
// {"prefix": {"equals-ignore-case": "x"}} (and the same for suffix).
func (c *compiler) compilePrefixOrSuffix(op string) (matcher, error) {
	tok, err := c.next()
	if err != nil {
		return nil, err
	}
	ignoreCase := false
	s, ok := tok.(string)
	if !ok {
		if tok != json.Delim('{') {
			return nil, c.fail("%s match pattern must be a string", op)
		}
		inner, err := c.next()
		if err != nil {
			return nil, err
		}
		if inner != "equals-ignore-case" {
			return nil, c.fail("Unsupported %s pattern: %v", op, inner)
		}
		if s, err = c.stringOperand("equals-ignore-case match pattern must be a string"); err != nil {
			return nil, err
		}
		if err := c.expectEnd(onlyOneKey); err != nil {
			return nil, err
		}
		ignoreCase = true
	}
	if op == "prefix" {
		return prefixMatcher{prefix: s, ignoreCase: ignoreCase}, nil
	}
	return suffixMatcher{suffix: s, ignoreCase: ignoreCase}, nil
}

func (c *compiler) compileExists(l *leaf) (matcher, error) {
	tok, err := c.next()
	if err != nil {
		return nil, err
	}
	exists, ok := tok.(bool)
	if !ok {
		return nil, c.fail("exists match pattern must be either true or false.")
	}
	if !exists {
		l.absent = true
		return nil, nil
	}
	return existsMatcher{}, nil
}

func (c *compiler) compileCIDR() (matcher, error) {
	s, err := c.stringOperand("cidr match pattern must be a string")
	if err != nil {
		return nil, err
	}
	prefix, err := netip.ParsePrefix(s)
	if err != nil {
		return nil, c.fail("Malformed CIDR %q: an IPv4 or IPv6 address, \"/\" and a mask length are required", s)
	}
	return cidrMatcher{prefix: prefix.Masked()}, nil
}

// compileNumeric reads the array of {"numeric": […]}: one comparison, or a
// lower bound followed by an upper bound.
func (c *compiler) compileNumeric() (matcher, error) {
	tok, err := c.next()
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('[') {
		return nil, c.fail("Value of numeric must be an array.")
	}
	if tok, err = c.next(); err != nil {
		return nil, err
	}
	op, ok := tok.(string)
	if !ok {
		return nil, c.fail("Invalid member in numeric match: %s", tokenText(tok))
	}
	var r numericRange
	switch op {
	case "=":
		if r.lower, err = c.numericOperand(op); err != nil {
			return nil, err
		}
		r.upper, r.hasLower, r.hasUpper = r.lower, true, true
		return r, c.expectArrayEnd("Too many elements in numeric expression")
	case "<", "<=":
		if r.upper, err = c.numericOperand(op); err != nil {
			return nil, err
		}
		r.hasUpper, r.upperOpen = true, op == "<"
		return r, c.expectArrayEnd("Too many elements in numeric expression")
	case ">", ">=":
		if r.lower, err = c.numericOperand(op); err != nil {
			return nil, err
		}
		r.hasLower, r.lowerOpen = true, op == ">"
	default:
		return nil, c.fail("Unrecognized numeric range operator: %s", op)
	}

	// A lower bound may be followed by an upper bound.
	if tok, err = c.next(); err != nil {
		return nil, err
	}
	if tok == json.Delim(']') {
		return r, nil
	}
	upperOp, ok := tok.(string)
	if !ok {
		return nil, c.fail("Bad value in numeric range: %s", tokenText(tok))
	}
	if upperOp != "<" && upperOp != "<=" {
		return nil, c.fail("Bad numeric range operator: %s", upperOp)
	}
	if r.upper, err = c.numericOperand(upperOp); err != nil {
		return nil, err
	}
	r.hasUpper, r.upperOpen = true, upperOp == "<"
	if err := c.expectArrayEnd("Too many terms in numeric range expression"); err != nil {
		return nil, err
	}
	if compareDecimals(r.lower, r.upper) >= 0 {
		return nil, c.fail("Bottom must be less than top")
	}
	return r, nil
}

// numericOperand reads the number after a numeric operator.
func (c *compiler) numericOperand(op string) (decimal, error) {
	tok, err := c.next()
	if err != nil {
		return decimal{}, err
	}
	n, ok := tok.(json.Number)
	if !ok {
		if op == "=" {
			return decimal{}, c.fail("Value of equals must be numeric")
		}
		return decimal{}, c.fail("Value of %s must be numeric", op)
	}
	return c.checkedNumber(n)
}

// checkedNumber converts a pattern number that must meet EventBridge's
// numeric limits.
func (c *compiler) checkedNumber(n json.Number) (decimal, error) {
	d, ok := parseDecimal(string(n))
	if !ok {
		return decimal{}, c.fail("Value must be between -5000000000 and 5000000000, inclusive")
	}
	if problem := numericOperandProblem(d); problem != "" {
		return decimal{}, c.fail("%s", problem)
	}
	return d, nil
}

func (c *compiler) expectArrayEnd(reason string) error {
	tok, err := c.next()
	if err != nil {
		return err
	}
	if tok != json.Delim(']') {
		return c.fail("%s", reason)
	}
	return nil
}

// tokenText renders a token for an error message.
func tokenText(tok json.Token) string {
	switch t := tok.(type) {
	case nil:
		return "null"
	case string:
		return t
	default:
		return fmt.Sprint(t)
	}
}
