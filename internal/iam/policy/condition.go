package policy

import "strings"

type comparison uint8

const (
	compareEquals comparison = iota
	compareEqualsIgnoreCase
	compareLike
	compareARN
	compareBool
	compareNull
)

// operator is a parsed condition operator name.
type operator struct {
	compare  comparison
	negated  bool // StringNotEquals, ArnNotLike…: true when no value matches
	ifExists bool // …IfExists: true when the key is absent
}

// operators holds the supported names, lower-cased: IAM accepts operator
// names in any case. Numeric, date, IP and binary operators and the
// ForAnyValue:/ForAllValues: qualifiers are not supported, so Parse rejects
// them instead of letting a condition Gust cannot evaluate pass or fail
// silently.
var operators = map[string]operator{
	"stringequals":              {compare: compareEquals},
	"stringnotequals":           {compare: compareEquals, negated: true},
	"stringequalsignorecase":    {compare: compareEqualsIgnoreCase},
	"stringnotequalsignorecase": {compare: compareEqualsIgnoreCase, negated: true},
	"stringlike":                {compare: compareLike},
	"stringnotlike":             {compare: compareLike, negated: true},
	// IAM documents ArnEquals and ArnLike as the same test.
	"arnequals":    {compare: compareARN},
	"arnlike":      {compare: compareARN},
	"arnnotequals": {compare: compareARN, negated: true},
	"arnnotlike":   {compare: compareARN, negated: true},
	"bool":         {compare: compareBool},
	"null":         {compare: compareNull},
}

// lookupOperator parses an operator name, including the IfExists suffix
// (which IAM does not allow on Null).
func lookupOperator(name string) (operator, bool) {
	lower := strings.ToLower(name)
	if op, ok := operators[lower]; ok {
		return op, true
	}
	base, found := strings.CutSuffix(lower, "ifexists")
	op, ok := operators[base]
	if !found || !ok || op.compare == compareNull {
		return operator{}, false
	}
	op.ifExists = true
	return op, true
}

// conditionMatches applies IAM's condition logic: every operator block
// must hold and, within a block, every key (AND); the values listed for one
// key are alternatives (OR). An unknown operator never holds.
func conditionMatches(cond map[string]map[string]StringList, req *Request, variables bool) bool {
	for name, block := range cond {
		op, ok := lookupOperator(name)
		if !ok {
			return false
		}
		for key, values := range block {
			if !op.holds(key, values, req, variables) {
				return false
			}
		}
	}
	return true
}

// holds evaluates one key of one operator block. When the key is absent
// from the request, IAM makes positive operators false and negated ones
// true; IfExists makes any operator true; Null tests presence itself
// ("true" means absent).
func (op operator) holds(key string, values StringList, req *Request, variables bool) bool {
	actual, present := lookupContext(req.Context, key)
	if op.compare == compareNull {
		for _, v := range values {
			if strings.EqualFold(v, "true") && !present || strings.EqualFold(v, "false") && present {
				return true
			}
		}
		return false
	}
	if !present {
		return op.ifExists || op.negated
	}
	matched := false
	for _, v := range values {
		pattern, ok := expand(v, req.Context, variables)
		if !ok {
			// An unresolvable policy variable invalidates the statement;
			// it must not be negated into a match.
			return false
		}
		if op.compareValue(pattern, actual) {
			matched = true
			break
		}
	}
	return matched != op.negated
}

func (op operator) compareValue(pattern []token, actual string) bool {
	switch op.compare {
	case compareEquals:
		return tokensString(pattern) == actual
	case compareEqualsIgnoreCase, compareBool:
		return strings.EqualFold(tokensString(pattern), actual)
	case compareLike:
		return matchTokens(pattern, actual, false)
	case compareARN:
		return matchARN(pattern, actual)
	}
	return false
}
