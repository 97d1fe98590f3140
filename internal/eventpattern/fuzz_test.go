package eventpattern

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// FuzzMatches feeds arbitrary pattern and event bytes through Compile and
// Matches: neither may panic, every Compile error must be an
// *InvalidPatternError in EventBridge's wording, and Matches must agree
// with MatchesValue on the same event.
func FuzzMatches(f *testing.F) {
	for _, g := range matchGroups {
		for _, c := range g.cases {
			f.Add([]byte(c.pattern), []byte(c.event))
		}
	}
	for _, g := range invalidGroups {
		for _, c := range g.cases {
			f.Add([]byte(c.pattern), []byte(ec2Event))
		}
	}
	f.Add([]byte(`{"a":[{"wildcard":"*\\**"}]}`), []byte(`{"a":"x*y"}`))
	f.Add([]byte(`{"a":{"b":[{"exists":false}]}}`), []byte(`{"a":[[{"b":null}],[]]}`))

	f.Fuzz(func(t *testing.T, pattern, event []byte) {
		p, err := Compile(pattern)
		if err != nil {
			var invalid *InvalidPatternError
			if !errors.As(err, &invalid) {
				t.Fatalf("Compile(%q) error %T (%v), want *InvalidPatternError", pattern, err, err)
			}
			if !strings.HasPrefix(err.Error(), "Event pattern is not valid. Reason: ") {
				t.Fatalf("Compile(%q) error %q lacks EventBridge's wording", pattern, err)
			}
			return
		}
		got, err := p.Matches(event)
		if err != nil {
			return // a malformed event
		}
		dec := json.NewDecoder(bytes.NewReader(event))
		dec.UseNumber()
		var decoded any
		if err := dec.Decode(&decoded); err != nil {
			t.Fatalf("Matches accepted %q, which does not decode: %v", event, err)
		}
		if again := p.MatchesValue(decoded); again != got {
			t.Fatalf("pattern %q event %q: Matches = %v, MatchesValue = %v", pattern, event, got, again)
		}
	})
}
