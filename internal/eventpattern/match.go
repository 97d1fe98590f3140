package eventpattern

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Pattern is a compiled event pattern, made by Compile. It is immutable, so
// it is safe for concurrent use.
type Pattern struct {
	root *object
}

// object is a pattern object: every field must match, and every "$or"
// clause must have at least one alternative that matches the same event
// object.
type object struct {
	fields []*field
	ors    [][]*object
}

// field is one named field of a pattern object. A name given both a leaf
// and a nested object (a repeated key) must satisfy both.
type field struct {
	name  string
	leaf  *leaf
	child *object
}

// leaf is a field's array of match values: it matches when any of them
// matches any leaf value of the event field.
type leaf struct {
	matchers []matcher
	// absent is set by {"exists": false}, which matches a field with no
	// leaf values.
	absent bool
}

// Matches reports whether the JSON event matches. The event must be one
// JSON object; anything else is an error.
func (p *Pattern) Matches(event []byte) (bool, error) {
	dec := json.NewDecoder(bytes.NewReader(event))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return false, fmt.Errorf("decode event: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return false, errors.New("decode event: unexpected data after the JSON object")
	}
	if _, ok := v.(map[string]any); !ok {
		return false, errors.New("decode event: event is not a JSON object")
	}
	return p.MatchesValue(v), nil
}

// MatchesValue is Matches on an already decoded event: a map[string]any as
// encoding/json produces it, with numbers as json.Number (UseNumber) or
// float64. An event that is not a map[string]any matches nothing.
func (p *Pattern) MatchesValue(event any) bool {
	m, ok := event.(map[string]any)
	if !ok || p == nil || p.root == nil {
		return false
	}
	return p.root.matchFields(m)
}

// match matches the event value found at this object's path; v is nil when
// the event has no such field.
func (o *object) match(v any) bool {
	switch ev := v.(type) {
	case map[string]any:
		return o.matchFields(ev)
	case []any:
		sawObject := false
		if o.matchElements(ev, &sawObject) {
			return true
		}
		// An array without objects has none of the nested fields.
		return !sawObject && o.matchFields(nil)
	default:
		// A scalar or null has no nested fields either.
		return o.matchFields(nil)
	}
}

// matchElements tries every object element of arr, at any array depth, so
// that all fields of o are satisfied within one element.
func (o *object) matchElements(arr []any, sawObject *bool) bool {
	for _, el := range arr {
		switch t := el.(type) {
		case map[string]any:
			*sawObject = true
			if o.matchFields(t) {
				return true
			}
		case []any:
			if o.matchElements(t, sawObject) {
				return true
			}
		}
	}
	return false
}

// matchFields matches one event object; a nil map is an event where none of
// the fields exists.
func (o *object) matchFields(m map[string]any) bool {
	for _, f := range o.fields {
		v, present := m[f.name]
		if f.leaf != nil && !f.leaf.match(v, present) {
			return false
		}
		if f.child != nil && !f.child.match(v) {
			return false
		}
	}
	for _, alternatives := range o.ors {
		if !anyMatches(alternatives, m) {
			return false
		}
	}
	return true
}

func anyMatches(alternatives []*object, m map[string]any) bool {
	for _, alt := range alternatives {
		if alt.matchFields(m) {
			return true
		}
	}
	return false
}

// match matches the event value v of this leaf's field; present is false
// when the field does not exist.
func (l *leaf) match(v any, present bool) bool {
	if !present {
		return l.absent
	}
	matched, sawValue := l.matchValue(v)
	if matched {
		return true
	}
	// An object, or an array holding no scalars, is not a leaf value:
	// for exists it counts as absent.
	return !sawValue && l.absent
}

// matchValue tests every leaf value in v (v itself, or the scalars of an
// array at any depth) and reports whether one matched and whether there
// was any.
func (l *leaf) matchValue(v any) (matched, sawValue bool) {
	switch t := v.(type) {
	case map[string]any:
		return false, false
	case []any:
		for _, el := range t {
			m, saw := l.matchValue(el)
			if m {
				return true, true
			}
			sawValue = sawValue || saw
		}
		return false, sawValue
	}
	s, ok := makeScalar(v)
	if !ok {
		return false, false
	}
	for _, m := range l.matchers {
		if m.matches(s) {
			return true, true
		}
	}
	return false, true
}
