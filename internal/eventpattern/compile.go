package eventpattern

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

const (
	// MaxPatternLength is the longest pattern Compile accepts, in
	// characters: the length limit of PutRule's EventPattern and of a
	// Lambda filter's Pattern.
	MaxPatternLength = 4096
	// MaxDepth is how deeply pattern objects (including "$or"
	// alternatives) may nest.
	MaxDepth = 100
	// MaxOrCombinations bounds the number of plain rules the "$or" clauses
	// of a pattern expand into (each clause multiplies it by its number of
	// alternatives).
	MaxOrCombinations = 1000
)

// orKeyword introduces an "$or" clause.
const orKeyword = "$or"

// operatorNames are the match expression names; inside "$or" they may not
// be used as field names, which keeps "$or" unambiguous.
var operatorNames = map[string]bool{
	"anything-but": true, "cidr": true, "equals-ignore-case": true, "exists": true,
	"numeric": true, "prefix": true, "suffix": true, "wildcard": true,
}

// Compile parses and validates a pattern (JSON text). Every error is an
// *InvalidPatternError.
func Compile(pattern []byte) (*Pattern, error) {
	if n := utf8.RuneCount(pattern); n > MaxPatternLength {
		return nil, &InvalidPatternError{
			Reason: fmt.Sprintf("Event pattern is %d characters long; the maximum is %d", n, MaxPatternLength),
		}
	}
	c := &compiler{src: pattern, dec: json.NewDecoder(bytes.NewReader(pattern))}
	c.dec.UseNumber()
	root, err := c.compileRoot()
	if err != nil {
		return nil, err
	}
	if orCombinations(root) > MaxOrCombinations {
		return nil, &InvalidPatternError{
			Reason: fmt.Sprintf("Event pattern is too complex: its %s clauses expand to more than %d combinations", orKeyword, MaxOrCombinations),
		}
	}
	return &Pattern{root: root}, nil
}

// compiler reads a pattern token by token, so that every error can say
// where in the text it was found.
type compiler struct {
	src []byte
	dec *json.Decoder
}

// fail returns an InvalidPatternError located after the last token read.
func (c *compiler) fail(format string, args ...any) *InvalidPatternError {
	return newPositionedError(c.src, c.dec.InputOffset(), fmt.Sprintf(format, args...))
}

// next reads one token, turning JSON syntax errors into pattern errors.
func (c *compiler) next() (json.Token, error) {
	tok, err := c.dec.Token()
	if err == nil {
		return tok, nil
	}
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &syntax):
		return nil, newPositionedError(c.src, syntax.Offset, "Malformed JSON: "+syntax.Error())
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return nil, c.fail("Unexpected end-of-input")
	default:
		return nil, c.fail("Malformed JSON: %v", err)
	}
}

// expectEnd consumes the "}" that must close a match expression.
func (c *compiler) expectEnd(reason string) error {
	tok, err := c.next()
	if err != nil {
		return err
	}
	if tok != json.Delim('}') {
		return c.fail("%s", reason)
	}
	return nil
}

func (c *compiler) compileRoot() (*object, error) {
	tok, err := c.next()
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('{') {
		return nil, c.fail("Filter is not an object")
	}
	root, err := c.compileObject(1, false)
	if err != nil {
		return nil, err
	}
	if _, err := c.dec.Token(); !errors.Is(err, io.EOF) {
		return nil, c.fail("Unexpected content after the pattern object")
	}
	return root, nil
}

// compileObject reads the fields of an object whose "{" was just read.
// depth counts enclosing objects; insideOr is set within "$or"
// alternatives.
func (c *compiler) compileObject(depth int, insideOr bool) (*object, error) {
	if depth > MaxDepth {
		return nil, c.fail("Event pattern is too complex: objects nest deeper than %d levels", MaxDepth)
	}
	o := &object{}
	empty := true
	for {
		tok, err := c.next()
		if err != nil {
			return nil, err
		}
		if tok == json.Delim('}') {
			break
		}
		empty = false
		name, _ := tok.(string) // the decoder only yields strings as keys
		if name == orKeyword {
			alternatives, err := c.compileOr(depth)
			if err != nil {
				return nil, err
			}
			o.ors = append(o.ors, alternatives)
			continue
		}
		if insideOr && operatorNames[name] {
			return nil, c.fail("%s is Ruler reserved fieldName which cannot be used inside %s.", name, orKeyword)
		}
		tok, err = c.next()
		if err != nil {
			return nil, err
		}
		switch tok {
		case json.Delim('{'):
			child, err := c.compileObject(depth+1, insideOr)
			if err != nil {
				return nil, err
			}
			o.addChild(name, child)
		case json.Delim('['):
			l, err := c.compileLeaf()
			if err != nil {
				return nil, err
			}
			o.fieldNamed(name).leaf = l // a repeated key: the last one wins
		default:
			return nil, c.fail("%q must be an object or an array", name)
		}
	}
	if empty {
		return nil, c.fail("Empty objects are not allowed")
	}
	return o, nil
}

// compileOr reads the array of an "$or" clause whose key was just read.
func (c *compiler) compileOr(depth int) ([]*object, error) {
	tok, err := c.next()
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('[') {
		return nil, c.fail("It must be an Array followed with %s.", orKeyword)
	}
	var alternatives []*object
	for {
		tok, err := c.next()
		if err != nil {
			return nil, err
		}
		if tok == json.Delim(']') {
			break
		}
		if tok != json.Delim('{') {
			return nil, c.fail("Only JSON object is allowed in array of %s relationship.", orKeyword)
		}
		alt, err := c.compileObject(depth+1, true)
		if err != nil {
			return nil, err
		}
		alternatives = append(alternatives, alt)
	}
	if len(alternatives) < 2 {
		return nil, c.fail("There must have at least 2 Objects in %s relationship.", orKeyword)
	}
	return alternatives, nil
}

// compileLeaf reads the match values of an array whose "[" was just read.
func (c *compiler) compileLeaf() (*leaf, error) {
	l := &leaf{}
	for {
		tok, err := c.next()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case ']':
				if len(l.matchers) == 0 && !l.absent {
					return nil, c.fail("Empty arrays are not allowed")
				}
				return l, nil
			case '{':
				if err := c.compileMatchExpression(l); err != nil {
					return nil, err
				}
			default:
				return nil, c.fail("Match value must be String, number, true, false, or null")
			}
		case string:
			l.matchers = append(l.matchers, newExactString(t))
		case json.Number:
			num, ok := parseDecimal(string(t))
			l.matchers = append(l.matchers, exactNumber{text: string(t), num: num, numOK: ok})
		case bool:
			l.matchers = append(l.matchers, exactBool(t))
		case nil:
			l.matchers = append(l.matchers, exactNull{})
		}
	}
}

// fieldNamed returns o's field called name, adding it if needed.
func (o *object) fieldNamed(name string) *field {
	for _, f := range o.fields {
		if f.name == name {
			return f
		}
	}
	f := &field{name: name}
	o.fields = append(o.fields, f)
	return f
}

// addChild sets the nested object of a field, merging it into the one a
// repeated key already gave.
func (o *object) addChild(name string, child *object) {
	f := o.fieldNamed(name)
	if f.child == nil {
		f.child = child
		return
	}
	f.child.merge(child)
}

func (o *object) merge(other *object) {
	for _, f := range other.fields {
		if f.leaf != nil {
			o.fieldNamed(f.name).leaf = f.leaf
		}
		if f.child != nil {
			o.addChild(f.name, f.child)
		}
	}
	o.ors = append(o.ors, other.ors...)
}

// orCombinations counts the plain rules o expands into, saturating just
// above MaxOrCombinations.
func orCombinations(o *object) int {
	const ceiling = MaxOrCombinations + 1
	total := 1
	for _, f := range o.fields {
		if f.child != nil {
			total = min(ceiling, total*orCombinations(f.child))
		}
	}
	for _, alternatives := range o.ors {
		sum := 0
		for _, alt := range alternatives {
			sum = min(ceiling, sum+orCombinations(alt))
		}
		total = min(ceiling, total*sum)
	}
	return total
}
