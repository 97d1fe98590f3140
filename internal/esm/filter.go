package esm

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"

	"gust/internal/eventpattern"
	"gust/internal/lambda"
)

// filters is a mapping's compiled FilterCriteria: a record is kept when
// any pattern matches it. A nil *filters keeps every record, as a mapping
// without FilterCriteria does. It is immutable, so pollers share it.
type filters struct {
	patterns []*eventpattern.Pattern
}

// compileFilters compiles fc's patterns. No criteria, or criteria with no
// filters, give nil (keep everything). A pattern that does not compile is
// an InvalidParameterValueException, as CreateEventSourceMapping reports
// it.
func compileFilters(fc *lambda.FilterCriteria) (*filters, error) {
	if fc == nil || len(fc.Filters) == 0 {
		return nil, nil
	}
	f := &filters{patterns: make([]*eventpattern.Pattern, 0, len(fc.Filters))}
	for _, flt := range fc.Filters {
		p, err := eventpattern.Compile([]byte(flt.Pattern))
		if err != nil {
			return nil, lambda.KindInvalidParameterValue.Errorf("Invalid filter pattern definition. %s", err.Error())
		}
		f.patterns = append(f.patterns, p)
	}
	return f, nil
}

// match reports whether the record (the JSON object the patterns see,
// with the payload field already decoded, see matchPayload) is kept. A
// record that is not a JSON object matches no pattern.
func (f *filters) match(record []byte) bool {
	if f == nil {
		return true
	}
	obj, ok := decodeObject(record)
	return ok && f.matchValue(obj)
}

// decodeObject decodes a record that should be a JSON object.
func decodeObject(record []byte) (map[string]any, bool) {
	v, err := filterDecode(record)
	if err != nil {
		return nil, false
	}
	obj, ok := v.(map[string]any)
	return obj, ok
}

// matchValue is match on a decoded record (numbers as json.Number).
func (f *filters) matchValue(record map[string]any) bool {
	if f == nil {
		return true
	}
	for _, p := range f.patterns {
		if p.MatchesValue(record) {
			return true
		}
	}
	return false
}

// matchPayload matches a record as Lambda filters it: the record's JSON
// with its payload field (key: "body" for SQS, "data" for Amazon MQ and
// Kinesis) replaced by the decoded payload (see filterPayloadValue), so that a
// pattern can look inside a JSON body.
func (f *filters) matchPayload(record []byte, key string, payload []byte) bool {
	if f == nil {
		return true
	}
	obj, ok := decodeObject(record)
	if !ok {
		return false
	}
	obj[key] = filterPayloadValue(payload)
	return f.matchValue(obj)
}

// filterPayloadValue is what a pattern's payload field is matched against: the
// parsed JSON value when the payload is valid JSON, else the payload as a
// string.
func filterPayloadValue(payload []byte) any {
	if v, err := filterDecode(payload); err == nil {
		return v
	}
	return string(payload)
}

// filterDecode decodes exactly one JSON value, numbers as json.Number (the
// form eventpattern compares exactly).
func filterDecode(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after the JSON value")
	}
	return v, nil
}
