package lambda

import (
	"errors"
	"strings"
	"testing"
)

// TestESMDynamoDBStream checks the rules a DynamoDB stream ARN adds to a
// stream mapping: TRIM_HORIZON or LATEST, and one lane.
func TestESMDynamoDBStream(t *testing.T) {
	const arn = "arn:aws:dynamodb:us-east-1:000000000000:table/orders/stream/2024-05-01T10:00:00.000"
	if !IsDynamoDBStreamARN(arn) || IsDynamoDBStreamARN("arn:aws:kinesis:us-east-1:000000000000:stream/orders") ||
		IsDynamoDBStreamARN("arn:aws:dynamodb:us-east-1:000000000000:table/orders") {
		t.Fatal("IsDynamoDBStreamARN does not tell a DynamoDB stream ARN")
	}
	for _, tc := range []struct{ body, want string }{
		{`{"StartingPosition":"TRIM_HORIZON"}`, ""},
		{`{"StartingPosition":"LATEST","ParallelizationFactor":1,"BisectBatchOnFunctionError":true}`, ""},
		{`{"StartingPosition":"AT_TIMESTAMP","StartingPositionTimestamp":1700000000}`, "Unsupported starting position AT_TIMESTAMP"},
		{`{"StartingPosition":"LATEST","ParallelizationFactor":2}`, "ParallelizationFactor must be 1"},
		{`{}`, "Value null at 'startingPosition'"},
	} {
		m := EventSourceMapping{EventSourceArn: arn}
		err := decodeESMInput(t, tc.body).ApplyTo(&m, ESMSourceStream, true)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.body, err)
		case tc.want != "" && (err == nil || !errors.Is(err, ErrInvalidParameter) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want InvalidParameterValueException with %q", tc.body, err, tc.want)
		}
	}
	// The same settings stay valid for a Kinesis stream.
	m := EventSourceMapping{EventSourceArn: "arn:aws:kinesis:us-east-1:000000000000:stream/orders"}
	if err := decodeESMInput(t, `{"StartingPosition":"LATEST","ParallelizationFactor":2}`).ApplyTo(&m, ESMSourceStream, true); err != nil {
		t.Errorf("Kinesis mapping with ParallelizationFactor 2: %v", err)
	}
}
