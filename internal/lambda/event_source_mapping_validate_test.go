package lambda

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func esmPtr[T any](v T) *T { return &v }

// decodeESMInput reads a request body as the API does.
func decodeESMInput(t *testing.T, body string) *EventSourceMappingInput {
	t.Helper()
	var in EventSourceMappingInput
	if err := json.Unmarshal([]byte(body), &in); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return &in
}

func TestESMInputValidate(t *testing.T) {
	cases := []struct {
		body string
		want string // "" = valid; else a part of the ValidationException message
	}{
		{`{}`, ""},
		{`{"BatchSize":1,"MaximumBatchingWindowInSeconds":300,"ParallelizationFactor":10,"MaximumRetryAttempts":-1,"MaximumRecordAgeInSeconds":-1,"TumblingWindowInSeconds":900}`, ""},
		{`{"BatchSize":0}`, "Value '0' at 'batchSize' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{`{"BatchSize":10001}`, "Value '10001' at 'batchSize' failed to satisfy constraint: Member must have value less than or equal to 10000"},
		{`{"MaximumBatchingWindowInSeconds":-1}`, "'maximumBatchingWindowInSeconds'"},
		{`{"ParallelizationFactor":0}`, "'parallelizationFactor'"},
		{`{"MaximumRetryAttempts":-2}`, "'maximumRetryAttempts'"},
		{`{"MaximumRecordAgeInSeconds":604801}`, "'maximumRecordAgeInSeconds'"},
		{`{"TumblingWindowInSeconds":901}`, "'tumblingWindowInSeconds'"},
		{`{"ScalingConfig":{"MaximumConcurrency":1}}`, "'scalingConfig.maximumConcurrency'"},
		{`{"ScalingConfig":{}}`, ""},
		{`{"StartingPosition":"NOW"}`, "Value 'NOW' at 'startingPosition' failed to satisfy constraint: Member must satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]"},
		{`{"FunctionResponseTypes":["ReportBatchItemFailures"]}`, ""},
		{`{"FunctionResponseTypes":[]}`, ""},
		{`{"FunctionResponseTypes":["Other"]}`, "Value '[Other]' at 'functionResponseTypes'"},
		{`{"FunctionResponseTypes":["ReportBatchItemFailures","ReportBatchItemFailures"]}`, "Member must have length less than or equal to 1"},
		{`{"Queues":["a"]}`, ""},
		{`{"Queues":[]}`, "Member must have length greater than or equal to 1"},
		{`{"Queues":["a","b"]}`, "Member must have length less than or equal to 1"},
		{`{"Queues":[""]}`, "Member must have length greater than or equal to 1]"},
		{`{"FilterCriteria":{"Filters":[{"Pattern":"` + strings.Repeat("x", MaxESMFilterPatternLength+1) + `"}]}}`, "'filterCriteria.filters.1.member.pattern'"},
		{`{"BatchSize":0,"ParallelizationFactor":0}`, "2 validation errors detected"},
	}
	for _, tc := range cases {
		err := decodeESMInput(t, tc.body).Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%.80s: %v, want valid", tc.body, err)
		case tc.want != "" && (err == nil || AsError(err).Kind != KindValidation || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%.80s: %v, want ValidationException with %q", tc.body, err, tc.want)
		}
	}
}

func TestESMApplyToFillsDefaults(t *testing.T) {
	cases := []struct {
		kind, body string
		want       EventSourceMapping
	}{
		{ESMSourceQueue, `{}`, EventSourceMapping{BatchSize: esmPtr(10), MaximumBatchingWindowInSeconds: esmPtr(0)}},
		{ESMSourceQueue, `{"BatchSize":100,"MaximumBatchingWindowInSeconds":1,"ScalingConfig":{"MaximumConcurrency":5},"FunctionResponseTypes":["ReportBatchItemFailures"]}`,
			EventSourceMapping{BatchSize: esmPtr(100), MaximumBatchingWindowInSeconds: esmPtr(1), ScalingConfig: &ScalingConfig{MaximumConcurrency: esmPtr(5)},
				FunctionResponseTypes: []string{ESMReportBatchItemFailures}}},
		{ESMSourceStream, `{"StartingPosition":"LATEST"}`, EventSourceMapping{StartingPosition: StartLatest, BatchSize: esmPtr(100),
			MaximumBatchingWindowInSeconds: esmPtr(0), ParallelizationFactor: esmPtr(1), MaximumRetryAttempts: esmPtr(-1), MaximumRecordAgeInSeconds: esmPtr(-1),
			BisectBatchOnFunctionError: esmPtr(false), TumblingWindowInSeconds: esmPtr(0), DestinationConfig: &ESMDestination{OnFailure: &OnFailure{}}}},
		{ESMSourceStream, `{"StartingPosition":"AT_TIMESTAMP","StartingPositionTimestamp":1700000000.5,"MaximumRecordAgeInSeconds":60,
			"DestinationConfig":{"OnFailure":{"Destination":"arn:aws:sqs:us-east-1:000000000000:failed"}}}`,
			EventSourceMapping{StartingPosition: StartAtTimestamp, StartingPositionTimestamp: &EpochSeconds{time.UnixMilli(1700000000500).UTC()},
				BatchSize: esmPtr(100), MaximumBatchingWindowInSeconds: esmPtr(0), ParallelizationFactor: esmPtr(1), MaximumRetryAttempts: esmPtr(-1),
				MaximumRecordAgeInSeconds: esmPtr(60), BisectBatchOnFunctionError: esmPtr(false), TumblingWindowInSeconds: esmPtr(0),
				DestinationConfig: &ESMDestination{OnFailure: &OnFailure{Destination: "arn:aws:sqs:us-east-1:000000000000:failed"}}}},
		{ESMSourceMQ, `{"Queues":["orders"]}`, EventSourceMapping{Queues: []string{"orders"}, BatchSize: esmPtr(100), MaximumBatchingWindowInSeconds: esmPtr(0)}},
	}
	for _, tc := range cases {
		var got EventSourceMapping
		if err := decodeESMInput(t, tc.body).ApplyTo(&got, tc.kind, true); err != nil {
			t.Errorf("%s %s: %v", tc.kind, tc.body, err)
			continue
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("%s %s (-want +got):\n%s", tc.kind, tc.body, d)
		}
	}
}

func TestESMApplyToRefuses(t *testing.T) {
	cases := []struct {
		kind, body, want string
	}{
		{ESMSourceQueue, `{"BatchSize":11}`, "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"},
		{ESMSourceQueue, `{"StartingPosition":"LATEST"}`, "StartingPosition is not valid for SQS event sources."},
		{ESMSourceQueue, `{"StartingPositionTimestamp":1}`, "StartingPosition is not valid for SQS event sources."},
		{ESMSourceQueue, `{"TumblingWindowInSeconds":1}`, "Unsupported 'tumblingWindowInSeconds' parameter for given event source mapping type."},
		{ESMSourceQueue, `{"DestinationConfig":{}}`, "'destinationConfig'"},
		{ESMSourceQueue, `{"Queues":["a"]}`, "'queues'"},
		{ESMSourceStream, `{}`, "Value null at 'startingPosition' failed to satisfy constraint: Member must not be null."},
		{ESMSourceStream, `{"StartingPosition":"AT_TIMESTAMP"}`, "StartingPositionTimestamp is required"},
		{ESMSourceStream, `{"StartingPosition":"TRIM_HORIZON","StartingPositionTimestamp":1}`, "Timestamp only valid with StartingPosition AT_TIMESTAMP"},
		{ESMSourceStream, `{"StartingPosition":"AT_TIMESTAMP","StartingPositionTimestamp":-5}`, "before the epoch"},
		{ESMSourceStream, `{"StartingPosition":"LATEST","MaximumRecordAgeInSeconds":0}`, "MaximumRecordAgeInSeconds must be either -1 (forever) or between 60 and 604800 (inclusive)"},
		{ESMSourceStream, `{"StartingPosition":"LATEST","ScalingConfig":{}}`, "'scalingConfig'"},
		{ESMSourceStream, `{"StartingPosition":"LATEST","DestinationConfig":{"OnSuccess":{"Destination":"arn:aws:sqs:us-east-1:000000000000:q"}}}`, "Unsupported DestinationConfig parameter"},
		{ESMSourceStream, `{"StartingPosition":"LATEST","DestinationConfig":{"OnFailure":{"Destination":"arn:aws:sns:us-east-1:000000000000:t"}}}`, "Gust takes only a Gust queue"},
		{ESMSourceStream, `{"StartingPosition":"LATEST","FilterCriteria":{"Filters":[{},{},{},{},{},{}]}}`, "at most 5 filters"},
		{ESMSourceMQ, `{}`, "Queues is required"},
		{ESMSourceMQ, `{"Queues":["a"],"StartingPosition":"LATEST"}`, "Unsupported 'startingPosition'"},
		{ESMSourceMQ, `{"Queues":["a"],"FunctionResponseTypes":["ReportBatchItemFailures"]}`, "'functionResponseTypes'"},
		{ESMSourceMQ, `{"Queues":["a"],"BisectBatchOnFunctionError":false}`, "'bisectBatchOnFunctionError'"},
	}
	for _, tc := range cases {
		var m EventSourceMapping
		err := decodeESMInput(t, tc.body).ApplyTo(&m, tc.kind, true)
		if err == nil || !errors.Is(err, ErrInvalidParameter) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %s: %v, want InvalidParameterValueException with %q", tc.kind, tc.body, err, tc.want)
		}
	}
}

// TestESMApplyToUpdate merges into a stored mapping: what the body names
// changes, [] and {} clear, the rest stays, and rules see the result.
func TestESMApplyToUpdate(t *testing.T) {
	stored := func() EventSourceMapping {
		var m EventSourceMapping
		in := decodeESMInput(t, `{"BatchSize":50,"MaximumBatchingWindowInSeconds":5,"FunctionResponseTypes":["ReportBatchItemFailures"],
			"FilterCriteria":{"Filters":[{"Pattern":"{\"a\":[1]}"}]},"ScalingConfig":{"MaximumConcurrency":3}}`)
		if err := in.ApplyTo(&m, ESMSourceQueue, true); err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := stored()
	if err := decodeESMInput(t, `{"BatchSize":20,"FunctionResponseTypes":[],"FilterCriteria":{},"ScalingConfig":{}}`).ApplyTo(&m, ESMSourceQueue, false); err != nil {
		t.Fatal(err)
	}
	want := EventSourceMapping{BatchSize: esmPtr(20), MaximumBatchingWindowInSeconds: esmPtr(5)}
	if d := cmp.Diff(want, m); d != "" {
		t.Errorf("after update (-want +got):\n%s", d)
	}
	m = stored()
	err := decodeESMInput(t, `{"MaximumBatchingWindowInSeconds":0}`).ApplyTo(&m, ESMSourceQueue, false)
	if err == nil || !strings.Contains(err.Error(), "Maximum batch window") {
		t.Errorf("window 0 with the stored batch of 50: %v, want the batch window rule", err)
	}
	// An update never sets what only create takes.
	var mq EventSourceMapping
	if err := decodeESMInput(t, `{"Queues":["orders"]}`).ApplyTo(&mq, ESMSourceMQ, true); err != nil {
		t.Fatal(err)
	}
	if err := decodeESMInput(t, `{"Queues":["x"],"BatchSize":7}`).ApplyTo(&mq, ESMSourceMQ, false); err != nil {
		t.Fatal(err)
	}
	if len(mq.Queues) != 1 || mq.Queues[0] != "orders" || *mq.BatchSize != 7 {
		t.Errorf("after update: Queues %v BatchSize %d, want [orders] and 7", mq.Queues, *mq.BatchSize)
	}
}

func TestESMIdentityARN(t *testing.T) {
	id := Identity{Region: "eu-west-1", Account: "123456789012"}
	if got, want := id.EventSourceMappingARN("u"), "arn:aws:lambda:eu-west-1:123456789012:event-source-mapping:u"; got != want {
		t.Errorf("EventSourceMappingARN = %q, want %q", got, want)
	}
}
