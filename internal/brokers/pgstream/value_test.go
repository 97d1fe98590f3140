package pgstream

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func TestConvert(t *testing.T) {
	tests := []struct {
		name string
		typ  uint32
		text string
		want string // the attribute value as JSON
	}{
		{"text", 25, "hello", `{"S":"hello"}`},
		{"varchar", 1043, "", `{"S":""}`},
		{"int4", oidInt4, "-42", `{"N":"-42"}`},
		{"int8", oidInt8, "9223372036854775807", `{"N":"9223372036854775807"}`},
		{"numeric", oidNumeric, "12.50", `{"N":"12.50"}`},
		{"float8 exponent", oidFloat8, "1e+100", `{"N":"1e+100"}`},
		{"numeric NaN", oidNumeric, "NaN", `{"S":"NaN"}`},
		{"float Infinity", oidFloat8, "-Infinity", `{"S":"-Infinity"}`},
		{"bool true", oidBool, "t", `{"BOOL":true}`},
		{"bool false", oidBool, "f", `{"BOOL":false}`},
		{"bytea", oidBytea, `\x00012a41`, `{"B":"AAEqQQ=="}`},
		{"bytea empty", oidBytea, `\x`, `{"B":""}`},
		{"jsonb object", oidJSONB, `{"a": 1, "b": [true, null, "x"], "c": {}}`,
			`{"M":{"a":{"N":"1"},"b":{"L":[{"BOOL":true},{"NULL":true},{"S":"x"}]},"c":{"M":{}}}}`},
		{"json array", oidJSON, `[]`, `{"L":[]}`},
		{"json string", oidJSON, `"s"`, `{"S":"s"}`},
		{"int4[]", 1007, "{1,2,NULL}", `{"L":[{"N":"1"},{"N":"2"},{"NULL":true}]}`},
		{"text[] quoted", 1009, `{plain,"with space","a\"q","NULL",NULL}`,
			`{"L":[{"S":"plain"},{"S":"with space"},{"S":"a\"q"},{"S":"NULL"},{"NULL":true}]}`},
		{"int4[][]", 1007, "{{1,2},{3,4}}", `{"L":[{"L":[{"N":"1"},{"N":"2"}]},{"L":[{"N":"3"},{"N":"4"}]}]}`},
		{"empty array", 1009, "{}", `{"L":[]}`},
		{"array with bounds", 1007, "[0:1]={5,6}", `{"L":[{"N":"5"},{"N":"6"}]}`},
		{"bool[]", 1000, "{t,f}", `{"L":[{"BOOL":true},{"BOOL":false}]}`},
		{"broken array", 1007, "{1,2", `{"S":"{1,2"}`},
		{"timestamptz", 1184, "2024-01-02 03:04:05+00", `{"S":"2024-01-02 03:04:05+00"}`},
		{"uuid", 2950, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", `{"S":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(convert(tt.typ, tt.text))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("convert(%d, %q) = %s, want %s", tt.typ, tt.text, got, tt.want)
			}
			// aws-lambda-go reads it back.
			var av events.DynamoDBAttributeValue
			if err := json.Unmarshal(got, &av); err != nil {
				t.Errorf("aws-lambda-go cannot read %s: %v", got, err)
			}
		})
	}
}

func TestSeq(t *testing.T) {
	a, b, c := makeSeq(0x16B3748, 2), makeSeq(0x16B3748, 10), makeSeq(0x16B3749, 0)
	if len(a) != seqDigits || !(a < b && b < c) {
		t.Errorf("seqs %s %s %s do not order as (LSN, index)", a, b, c)
	}
	lsn, idx, err := parseSeq(b)
	if err != nil || lsn != 0x16B3748 || idx != 10 {
		t.Errorf("parseSeq(%s) = %v, %d, %v", b, lsn, idx, err)
	}
	// The engine's "just before" of an index-0 change: the last index of the
	// previous LSN.
	if lsn, idx, err := parseSeq("000000000000221157279999999999"); err != nil || lsn != 22115727 || idx != 9999999999 {
		t.Errorf("parseSeq of a largest index = %v, %d, %v", lsn, idx, err)
	}
	for _, bad := range []string{"", "123", "x00000000000000000000000000000"} {
		if _, _, err := parseSeq(bad); err == nil {
			t.Errorf("parseSeq(%q) accepted", bad)
		}
	}
}
