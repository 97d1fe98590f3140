package eventpattern

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

type invalidCase struct {
	name    string
	pattern string
	// reason is a part of the expected InvalidPatternError.Reason.
	reason string
}

var invalidGroups = []struct {
	feature string
	cases   []invalidCase
}{
	{"structure", []invalidCase{
		{"array", `[]`, "Filter is not an object"},
		{"string", `"aws.ec2"`, "Filter is not an object"},
		{"null", `null`, "Filter is not an object"},
		{"empty input", ``, "Unexpected end-of-input"},
		{"truncated", `{"source": ["aws.ec2"]`, "Unexpected end-of-input"},
		{"malformed", `{"source": ["aws.ec2"}`, "Malformed JSON"},
		{"trailing content", `{"source": ["aws.ec2"]} {}`, "Unexpected content after the pattern object"},
		{"empty object", `{}`, "Empty objects are not allowed"},
		{"empty nested object", `{"detail": {}}`, "Empty objects are not allowed"},
		{"string leaf", `{"source": "aws.ec2"}`, `"source" must be an object or an array`},
		{"number leaf", `{"detail": {"risk": 8}}`, `"risk" must be an object or an array`},
		{"boolean leaf", `{"enabled": true}`, `"enabled" must be an object or an array`},
		{"null leaf", `{"x": null}`, `"x" must be an object or an array`},
		{"empty array", `{"source": []}`, "Empty arrays are not allowed"},
		{"array match value", `{"source": [["aws.ec2"]]}`, "Match value must be String, number, true, false, or null"},
	}},
	{"match expressions", []invalidCase{
		{"empty expression", `{"a": [{}]}`, "Match expression name not found"},
		{"two operators", `{"a": [{"prefix": "x", "suffix": "y"}]}`, "Only one key allowed in match expression"},
		{"unknown operator", `{"a": [{"contains": "x"}]}`, "Unrecognized match type contains"},
		{"prefix number", `{"a": [{"prefix": 5}]}`, "prefix match pattern must be a string"},
		{"prefix unsupported object", `{"a": [{"prefix": {"wildcard": "x*"}}]}`, "Unsupported prefix pattern: wildcard"},
		{"prefix ignore-case number", `{"a": [{"prefix": {"equals-ignore-case": 5}}]}`, "equals-ignore-case match pattern must be a string"},
		{"prefix ignore-case extra key", `{"a": [{"prefix": {"equals-ignore-case": "x", "b": 1}}]}`, "Only one key allowed in match expression"},
		{"suffix null", `{"a": [{"suffix": null}]}`, "suffix match pattern must be a string"},
		{"equals-ignore-case number", `{"a": [{"equals-ignore-case": 5}]}`, "equals-ignore-case match pattern must be a string"},
		{"exists string", `{"a": [{"exists": "yes"}]}`, "exists match pattern must be either true or false."},
		{"exists null", `{"a": [{"exists": null}]}`, "exists match pattern must be either true or false."},
	}},
	{"wildcard", []invalidCase{
		{"consecutive wildcards", `{"a": [{"wildcard": "a**b"}]}`, "Consecutive wildcard characters at pos 1"},
		{"invalid escape", `{"a": [{"wildcard": "a\\b"}]}`, "Invalid escape character at pos 1"},
		{"trailing backslash", `{"a": [{"wildcard": "ab\\"}]}`, "Invalid escape character at pos 2"},
		{"not a string", `{"a": [{"wildcard": ["*"]}]}`, "wildcard match pattern must be a string"},
	}},
	{"numeric", []invalidCase{
		{"not an array", `{"a": [{"numeric": 5}]}`, "Value of numeric must be an array."},
		{"empty", `{"a": [{"numeric": []}]}`, "Invalid member in numeric match: ]"},
		{"operand first", `{"a": [{"numeric": [5, ">"]}]}`, "Invalid member in numeric match: 5"},
		{"not equal operator", `{"a": [{"numeric": ["!=", 5]}]}`, "Unrecognized numeric range operator: !="},
		{"unknown operator", `{"a": [{"numeric": ["~", 5]}]}`, "Unrecognized numeric range operator: ~"},
		{"string operand", `{"a": [{"numeric": [">", "5"]}]}`, "Value of > must be numeric"},
		{"missing operand", `{"a": [{"numeric": ["<="]}]}`, "Value of <= must be numeric"},
		{"equals string", `{"a": [{"numeric": ["=", "5"]}]}`, "Value of equals must be numeric"},
		{"equals with a bound", `{"a": [{"numeric": ["=", 5, "<", 6]}]}`, "Too many elements in numeric expression"},
		{"upper bound first", `{"a": [{"numeric": ["<", 5, ">", 0]}]}`, "Too many elements in numeric expression"},
		{"two lower bounds", `{"a": [{"numeric": [">", 0, ">", 5]}]}`, "Bad numeric range operator: >"},
		{"number after bound", `{"a": [{"numeric": [">", 0, 5]}]}`, "Bad value in numeric range: 5"},
		{"three bounds", `{"a": [{"numeric": [">", 0, "<", 5, "<", 6]}]}`, "Too many terms in numeric range expression"},
		{"empty range", `{"a": [{"numeric": [">=", 5, "<", 5]}]}`, "Bottom must be less than top"},
		{"reversed range", `{"a": [{"numeric": [">", 10, "<=", 5]}]}`, "Bottom must be less than top"},
		{"above the limit", `{"a": [{"numeric": [">", 5000000000.5]}]}`, "Value must be between -5000000000 and 5000000000, inclusive"},
		{"below the limit", `{"a": [{"numeric": ["<", -6e9]}]}`, "Value must be between -5000000000 and 5000000000, inclusive"},
		{"absurd exponent", `{"a": [{"numeric": ["<", 1e9999999999999999]}]}`, "Value must be between"},
		{"seven decimals", `{"a": [{"numeric": ["=", 0.0000001]}]}`, "Only values up to 6 decimals are supported"},
		{"extra key", `{"a": [{"numeric": [">", 0], "x": 1}]}`, "Only one key allowed in match expression"},
	}},
	{"anything-but", []invalidCase{
		{"null", `{"a": [{"anything-but": null}]}`, "Value of anything-but must be an array or single string/number value."},
		{"boolean", `{"a": [{"anything-but": true}]}`, "Value of anything-but must be an array or single string/number value."},
		{"null in list", `{"a": [{"anything-but": ["x", null]}]}`, "Inside anything but list, start|null|boolean is not supported."},
		{"mixed list", `{"a": [{"anything-but": ["x", 1]}]}`, "mixed type is not supported"},
		{"empty list", `{"a": [{"anything-but": []}]}`, "mixed type is not supported"},
		{"number out of range", `{"a": [{"anything-but": 6e9}]}`, "Value must be between -5000000000 and 5000000000, inclusive"},
		{"unsupported operator", `{"a": [{"anything-but": {"numeric": [">", 1]}}]}`, "Unsupported anything-but pattern: numeric"},
		{"empty operator object", `{"a": [{"anything-but": {}}]}`, "Anything-But expression name not found"},
		{"empty prefix", `{"a": [{"anything-but": {"prefix": ""}}]}`, "Null prefix/suffix not allowed"},
		{"empty suffix in list", `{"a": [{"anything-but": {"suffix": [".png", ""]}}]}`, "Null prefix/suffix not allowed"},
		{"prefix number", `{"a": [{"anything-but": {"prefix": 5}}]}`, "prefix match pattern must be a string"},
		{"prefix empty list", `{"a": [{"anything-but": {"prefix": []}}]}`, "Empty arrays are not allowed"},
		{"ignore-case number", `{"a": [{"anything-but": {"equals-ignore-case": [1]}}]}`, "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported."},
		{"bad wildcard", `{"a": [{"anything-but": {"wildcard": "**"}}]}`, "Consecutive wildcard characters at pos 0"},
		{"two operators", `{"a": [{"anything-but": {"prefix": "a", "suffix": "b"}}]}`, "Only one key allowed in match expression"},
		{"extra key", `{"a": [{"anything-but": "x", "prefix": "y"}]}`, "Only one key allowed in match expression"},
	}},
	{"cidr", []invalidCase{
		{"no mask", `{"ip": [{"cidr": "10.0.0.0"}]}`, "Malformed CIDR"},
		{"bad address", `{"ip": [{"cidr": "300.0.0.0/8"}]}`, "Malformed CIDR"},
		{"ipv4 mask too long", `{"ip": [{"cidr": "10.0.0.0/33"}]}`, "Malformed CIDR"},
		{"ipv6 mask too long", `{"ip": [{"cidr": "2001:db8::/129"}]}`, "Malformed CIDR"},
		{"number", `{"ip": [{"cidr": 10}]}`, "cidr match pattern must be a string"},
	}},
	{"$or", []invalidCase{
		{"not an array", `{"$or": {"a": [1]}}`, "It must be an Array followed with $or."},
		{"one alternative", `{"$or": [{"a": [1]}]}`, "There must have at least 2 Objects in $or relationship."},
		{"no alternatives", `{"$or": []}`, "There must have at least 2 Objects in $or relationship."},
		{"array alternative", `{"$or": [{"a": [1]}, ["b"]]}`, "Only JSON object is allowed in array of $or relationship."},
		{"empty alternative", `{"$or": [{"a": [1]}, {}]}`, "Empty objects are not allowed"},
		{"operator name as field", `{"$or": [{"prefix": ["x"]}, {"b": [1]}]}`, "prefix is Ruler reserved fieldName which cannot be used inside $or."},
		{"operator name nested in alternative", `{"$or": [{"a": {"numeric": [1]}}, {"b": [1]}]}`, "numeric is Ruler reserved fieldName"},
		{"invalid leaf in alternative", `{"$or": [{"a": "x"}, {"b": [1]}]}`, `"a" must be an object or an array`},
	}},
	{"limits", []invalidCase{
		{"too long", `{"a": ["` + strings.Repeat("x", MaxPatternLength) + `"]}`, "the maximum is 4096"},
		{"too deep", strings.Repeat(`{"a":`, MaxDepth+1) + `[1]` + strings.Repeat(`}`, MaxDepth+1), "nest deeper than 100 levels"},
		{"too many $or combinations", orClauses(10), "expand to more than 1000 combinations"},
	}},
}

// orClauses returns a pattern of n independent two-way "$or" clauses,
// which expand to 2ⁿ combinations.
func orClauses(n int) string {
	fields := make([]string, n)
	for i := range fields {
		fields[i] = fmt.Sprintf(`"f%d":{"$or":[{"a":[1]},{"b":[1]}]}`, i)
	}
	return "{" + strings.Join(fields, ",") + "}"
}

func TestCompileInvalid(t *testing.T) {
	for _, g := range invalidGroups {
		t.Run(g.feature, func(t *testing.T) {
			for _, c := range g.cases {
				t.Run(c.name, func(t *testing.T) {
					p, err := Compile([]byte(c.pattern))
					if err == nil {
						t.Fatalf("Compile(%s) = %v, nil; want an error", c.pattern, p)
					}
					var invalid *InvalidPatternError
					if !errors.As(err, &invalid) {
						t.Fatalf("Compile(%s) error %T (%v), want *InvalidPatternError", c.pattern, err, err)
					}
					if !strings.Contains(invalid.Reason, c.reason) {
						t.Errorf("Compile(%s) reason %q, want it to contain %q", c.pattern, invalid.Reason, c.reason)
					}
					if want := "Event pattern is not valid. Reason: " + invalid.Reason; !strings.HasPrefix(err.Error(), want) {
						t.Errorf("Error() = %q, want prefix %q", err.Error(), want)
					}
				})
			}
		})
	}
}

func TestLimitsAreExact(t *testing.T) {
	atLength := `{"a": ["` + strings.Repeat("x", MaxPatternLength-len(`{"a": [""]}`)) + `"]}`
	atDepth := strings.Repeat(`{"a":`, MaxDepth) + `[1]` + strings.Repeat(`}`, MaxDepth)
	// Ten two-way clauses make 1024 combinations; nine make 512.
	for name, pattern := range map[string]string{"length": atLength, "depth": atDepth, "$or": orClauses(9)} {
		if _, err := Compile([]byte(pattern)); err != nil {
			t.Errorf("%s: Compile at the limit: %v", name, err)
		}
	}
}

func TestInvalidPatternErrorMessage(t *testing.T) {
	cases := []struct {
		pattern string
		want    string
	}{
		{`{"source": "aws.ec2"}`, "Event pattern is not valid. Reason: \"source\" must be an object or an array\n at [Source: (String)\"{\"source\": \"aws.ec2\"}\"; line: 1, column: 21]"},
		{"{\n  \"detail\": {\n    \"state\": []\n  }\n}", "Event pattern is not valid. Reason: Empty arrays are not allowed\n at [Source: (String)\"{\n  \"detail\": {\n    \"state\": []\n  }\n}\"; line: 3, column: 16]"},
		{`{"é": [{"numeric": ["!=", 1]}]}`, "Event pattern is not valid. Reason: Unrecognized numeric range operator: !=\n at [Source: (String)\"{\"é\": [{\"numeric\": [\"!=\", 1]}]}\"; line: 1, column: 25]"},
	}
	for _, c := range cases {
		_, err := Compile([]byte(c.pattern))
		if err == nil || err.Error() != c.want {
			t.Errorf("Compile(%q) error:\n%v\nwant:\n%s", c.pattern, err, c.want)
		}
	}

	long := `{"k": [` + strings.Repeat(`"v",`, 200) + `[]]}`
	_, err := Compile([]byte(long))
	want := fmt.Sprintf(`"[truncated %d chars]; line: 1, column: 809]`, len(long)-500)
	if err == nil || !strings.HasSuffix(err.Error(), want) || !strings.Contains(err.Error(), long[:500]+want) {
		t.Errorf("Compile(long pattern) error %v, want the quoted source cut at 500 characters", err)
	}
}
