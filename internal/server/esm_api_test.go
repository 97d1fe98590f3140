package server_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	"gust/internal/esm"
	"gust/internal/gusttest"
	glambda "gust/internal/lambda"
)

// These tests drive the event source mapping operations through the SDK.
// The sources name brokers whose queues and streams do not exist, so the
// pollers only report problems in StateTransitionReason; nothing here
// depends on them.

// esmAPIEnv is a server with one function (esmAPIFn, version 1, alias
// live) and one source of each kind.
type esmAPIEnv struct {
	srv                        *gusttest.Server
	c                          *lambda.Client
	id                         glambda.Identity
	queueARN, streamARN, mqARN string
}

const esmAPIFn = "esm-api-fn"

func newESMAPIEnv(t *testing.T) *esmAPIEnv {
	t.Helper()
	if testing.Short() {
		t.Skip("the event source mapping API does not depend on the sandbox; the full run covers it")
	}
	srv := gusttest.StartServer(t)
	e := &esmAPIEnv{srv: srv, c: srv.Lambda(), id: srv.ESM().Identity()}
	createFunction(t, e.c, esmAPIFn, types.RuntimeProvidedal2023, "bootstrap", goFunctionZip(t))
	publish(t, e.c, esmAPIFn)
	if _, err := e.c.CreateAlias(t.Context(), &lambda.CreateAliasInput{FunctionName: aws.String(esmAPIFn),
		Name: aws.String("live"), FunctionVersion: aws.String("1")}); err != nil {
		t.Fatalf("CreateAlias: %v", err)
	}
	suffix := time.Now().UnixNano()
	e.queueARN = e.putSource(t, esm.Source{Name: fmt.Sprintf("esmapiq%d", suffix), Broker: esm.BrokerNATS,
		URL: "nats://127.0.0.1:4222", Semantics: esm.SemanticsQueue}, false)
	e.streamARN = e.putSource(t, esm.Source{Name: fmt.Sprintf("esmapis%d", suffix), Broker: esm.BrokerNATS,
		URL: "nats://127.0.0.1:4222", Semantics: esm.SemanticsStream, Shards: 1}, false)
	e.mqARN = e.putSource(t, esm.Source{Name: fmt.Sprintf("esmapimq%d", suffix), Broker: esm.BrokerRabbitMQ,
		URL: "amqp://guest:guest@127.0.0.1:5672/"}, true)
	return e
}

func (e *esmAPIEnv) putSource(t *testing.T, src esm.Source, mq bool) string {
	t.Helper()
	s, err := e.srv.ESM().PutSource(t.Context(), src)
	if err != nil {
		t.Fatalf("PutSource %s: %v", src.Name, err)
	}
	if mq {
		return s.MQARN(e.id)
	}
	return s.ARN(e.id)
}

func (e *esmAPIEnv) create(t *testing.T, in *lambda.CreateEventSourceMappingInput) *lambda.CreateEventSourceMappingOutput {
	t.Helper()
	if in.FunctionName == nil {
		in.FunctionName = aws.String(esmAPIFn)
	}
	out, err := e.c.CreateEventSourceMapping(t.Context(), in)
	if err != nil {
		t.Fatalf("CreateEventSourceMapping: %v", err)
	}
	return out
}

// waitState polls GetEventSourceMapping until State is want.
func (e *esmAPIEnv) waitState(t *testing.T, uuid, want string) *lambda.GetEventSourceMappingOutput {
	t.Helper()
	var last *lambda.GetEventSourceMappingOutput
	gusttest.WaitFor(t, 20*time.Second, "mapping "+uuid+" to be "+want, func() bool {
		out, err := e.c.GetEventSourceMapping(t.Context(), &lambda.GetEventSourceMappingInput{UUID: aws.String(uuid)})
		if err != nil {
			t.Fatalf("GetEventSourceMapping: %v", err)
		}
		last = out
		return aws.ToString(out.State) == want
	})
	return last
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestESMAPICreateFillsDefaultsPerKind(t *testing.T) {
	t.Parallel()
	e := newESMAPIEnv(t)
	fnARN := e.id.FunctionARN(esmAPIFn)
	i32 := func(p *int32) int32 { return aws.ToInt32(p) }

	q := e.create(t, &lambda.CreateEventSourceMappingInput{EventSourceArn: aws.String(e.queueARN)})
	uuid := aws.ToString(q.UUID)
	if !uuidV4.MatchString(uuid) {
		t.Errorf("UUID %q is not a version 4 UUID", uuid)
	}
	if got, want := aws.ToString(q.EventSourceMappingArn), e.id.EventSourceMappingARN(uuid); got != want {
		t.Errorf("EventSourceMappingArn %q, want %q", got, want)
	}
	if aws.ToString(q.State) != "Creating" || aws.ToString(q.StateTransitionReason) != "USER_INITIATED" {
		t.Errorf("State %q (%q), want Creating (USER_INITIATED)", aws.ToString(q.State), aws.ToString(q.StateTransitionReason))
	}
	if aws.ToString(q.FunctionArn) != fnARN || aws.ToString(q.EventSourceArn) != e.queueARN {
		t.Errorf("FunctionArn %q EventSourceArn %q", aws.ToString(q.FunctionArn), aws.ToString(q.EventSourceArn))
	}
	if d := time.Since(aws.ToTime(q.LastModified)); d < -time.Minute || d > time.Minute {
		t.Errorf("LastModified %v is not about now", aws.ToTime(q.LastModified))
	}
	got := e.waitState(t, uuid, "Enabled")
	if i32(got.BatchSize) != 10 || got.MaximumBatchingWindowInSeconds == nil || i32(got.MaximumBatchingWindowInSeconds) != 0 ||
		got.ParallelizationFactor != nil || got.MaximumRetryAttempts != nil || got.DestinationConfig != nil {
		t.Errorf("queue mapping %+v, want BatchSize 10, window 0 and no stream settings", got)
	}

	s := e.create(t, &lambda.CreateEventSourceMappingInput{EventSourceArn: aws.String(e.streamARN),
		StartingPosition: types.EventSourcePositionLatest})
	if aws.ToString(s.StateTransitionReason) != "User action" || aws.ToString(s.LastProcessingResult) != "No records processed" {
		t.Errorf("stream mapping reason %q result %q, want Lambda's for a new stream mapping",
			aws.ToString(s.StateTransitionReason), aws.ToString(s.LastProcessingResult))
	}
	gs := e.waitState(t, aws.ToString(s.UUID), "Enabled")
	if i32(gs.BatchSize) != 100 || i32(gs.ParallelizationFactor) != 1 || i32(gs.MaximumRetryAttempts) != -1 ||
		i32(gs.MaximumRecordAgeInSeconds) != -1 || gs.BisectBatchOnFunctionError == nil || *gs.BisectBatchOnFunctionError ||
		gs.TumblingWindowInSeconds == nil || i32(gs.MaximumBatchingWindowInSeconds) != 0 || gs.StartingPosition != types.EventSourcePositionLatest ||
		gs.DestinationConfig == nil || gs.DestinationConfig.OnFailure == nil || gs.ScalingConfig != nil {
		t.Errorf("stream mapping %+v, want Lambda's stream defaults", gs)
	}

	m := e.create(t, &lambda.CreateEventSourceMappingInput{EventSourceArn: aws.String(e.mqARN), Queues: []string{"orders"}})
	gm := e.waitState(t, aws.ToString(m.UUID), "Enabled")
	if i32(gm.BatchSize) != 100 || i32(gm.MaximumBatchingWindowInSeconds) != 0 || !slices.Equal(gm.Queues, []string{"orders"}) {
		t.Errorf("Amazon MQ mapping %+v, want BatchSize 100, window 0, Queues [orders]", gm)
	}

	// A qualified FunctionName gives a qualified FunctionArn; Enabled
	// false settles to Disabled.
	a := e.create(t, &lambda.CreateEventSourceMappingInput{EventSourceArn: aws.String(e.queueARN),
		FunctionName: aws.String(fnARN + ":live"), Enabled: aws.Bool(false)})
	if aws.ToString(a.FunctionArn) != fnARN+":live" {
		t.Errorf("FunctionArn %q, want %s:live", aws.ToString(a.FunctionArn), fnARN)
	}
	e.waitState(t, aws.ToString(a.UUID), "Disabled")
}

// TestESMAPIRawWire checks the bytes: 202, LastModified as epoch seconds,
// FunctionResponseTypes [] on an SQS mapping.
func TestESMAPIRawWire(t *testing.T) {
	t.Parallel()
	e := newESMAPIEnv(t)
	body := fmt.Sprintf(`{"FunctionName":%q,"EventSourceArn":%q,"BatchSize":20,"MaximumBatchingWindowInSeconds":2}`, esmAPIFn+":1", e.queueARN)
	resp, raw := signedDo(t, e.srv, http.MethodPost, "/2015-03-31/event-source-mappings/", body)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d, want 202: %s", resp.StatusCode, raw)
	}
	var out map[string]json.RawMessage
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	var secs float64
	if err := json.Unmarshal(out["LastModified"], &secs); err != nil {
		t.Fatalf("LastModified %s is not a JSON number: %v", out["LastModified"], err)
	}
	if d := time.Since(time.UnixMilli(int64(secs * 1000))); d < -time.Minute || d > time.Minute {
		t.Errorf("LastModified %s is not epoch seconds of about now", out["LastModified"])
	}
	if string(out["FunctionResponseTypes"]) != "[]" || string(out["BatchSize"]) != "20" {
		t.Errorf("FunctionResponseTypes %s BatchSize %s, want [] and 20", out["FunctionResponseTypes"], out["BatchSize"])
	}
	if _, ok := out["Tags"]; ok {
		t.Error("the configuration carries Tags; Lambda's does not")
	}
}

func TestESMAPIValidation(t *testing.T) {
	t.Parallel()
	e := newESMAPIEnv(t)
	other := "arn:aws:sqs:" + e.id.Region + ":111111111111:elsewhere"
	filters := func(patterns ...string) *types.FilterCriteria {
		fc := &types.FilterCriteria{}
		for _, p := range patterns {
			fc.Filters = append(fc.Filters, types.Filter{Pattern: aws.String(p)})
		}
		return fc
	}
	onFailure := func(arn string) *types.DestinationConfig {
		return &types.DestinationConfig{OnFailure: &types.OnFailure{Destination: aws.String(arn)}}
	}
	q, s, m := e.queueARN, e.streamARN, e.mqARN
	latest := types.EventSourcePositionLatest
	cases := []struct {
		name   string
		in     lambda.CreateEventSourceMappingInput
		code   string
		status int
		msg    string
	}{
		{"batch 0", lambda.CreateEventSourceMappingInput{EventSourceArn: &q, BatchSize: aws.Int32(0)}, "ValidationException", 400, "Value '0' at 'batchSize' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{"batch 10001", lambda.CreateEventSourceMappingInput{EventSourceArn: &q, BatchSize: aws.Int32(10001), MaximumBatchingWindowInSeconds: aws.Int32(1)}, "ValidationException", 400, "less than or equal to 10000"},
		{"window 301", lambda.CreateEventSourceMappingInput{EventSourceArn: &q, MaximumBatchingWindowInSeconds: aws.Int32(301)}, "ValidationException", 400, "'maximumBatchingWindowInSeconds'"},
		{"queue batch 11 no window", lambda.CreateEventSourceMappingInput{EventSourceArn: &q, BatchSize: aws.Int32(11)}, "InvalidParameterValueException", 400, "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"},
		{"queue starting position", lambda.CreateEventSourceMappingInput{EventSourceArn: &q, StartingPosition: latest}, "InvalidParameterValueException", 400, "StartingPosition is not valid for SQS event sources."},
		{"queue parallelization", lambda.CreateEventSourceMappingInput{EventSourceArn: &q, ParallelizationFactor: aws.Int32(2)}, "InvalidParameterValueException", 400, "Unsupported 'parallelizationFactor' parameter for given event source mapping type."},
		{"queue retries", lambda.CreateEventSourceMappingInput{EventSourceArn: &q, MaximumRetryAttempts: aws.Int32(1)}, "InvalidParameterValueException", 400, "'maximumRetryAttempts'"},
		{"queue record age", lambda.CreateEventSourceMappingInput{EventSourceArn: &q, MaximumRecordAgeInSeconds: aws.Int32(60)}, "InvalidParameterValueException", 400, "'maximumRecordAgeInSeconds'"},
		{"queue bisect", lambda.CreateEventSourceMappingInput{EventSourceArn: &q, BisectBatchOnFunctionError: aws.Bool(true)}, "InvalidParameterValueException", 400, "'bisectBatchOnFunctionError'"},
		{"queue destination", lambda.CreateEventSourceMappingInput{EventSourceArn: &q, DestinationConfig: onFailure(q)}, "InvalidParameterValueException", 400, "'destinationConfig'"},
		{"concurrency 1", lambda.CreateEventSourceMappingInput{EventSourceArn: &q, ScalingConfig: &types.ScalingConfig{MaximumConcurrency: aws.Int32(1)}}, "ValidationException", 400, "'scalingConfig.maximumConcurrency'"},
		{"concurrency 1001", lambda.CreateEventSourceMappingInput{EventSourceArn: &q, ScalingConfig: &types.ScalingConfig{MaximumConcurrency: aws.Int32(1001)}}, "ValidationException", 400, "less than or equal to 1000"},
		{"response type", lambda.CreateEventSourceMappingInput{EventSourceArn: &q, FunctionResponseTypes: []types.FunctionResponseType{"Everything"}}, "ValidationException", 400, "'functionResponseTypes'"},
		{"stream no position", lambda.CreateEventSourceMappingInput{EventSourceArn: &s}, "InvalidParameterValueException", 400, "Value null at 'startingPosition'"},
		{"stream bad position", lambda.CreateEventSourceMappingInput{EventSourceArn: &s, StartingPosition: "SOMEWHERE"}, "ValidationException", 400, "Member must satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]"},
		{"at timestamp without one", lambda.CreateEventSourceMappingInput{EventSourceArn: &s, StartingPosition: types.EventSourcePositionAtTimestamp}, "InvalidParameterValueException", 400, "StartingPositionTimestamp"},
		{"timestamp with latest", lambda.CreateEventSourceMappingInput{EventSourceArn: &s, StartingPosition: latest, StartingPositionTimestamp: aws.Time(time.Now())}, "InvalidParameterValueException", 400, "Timestamp only valid with StartingPosition AT_TIMESTAMP"},
		{"parallelization 11", lambda.CreateEventSourceMappingInput{EventSourceArn: &s, StartingPosition: latest, ParallelizationFactor: aws.Int32(11)}, "ValidationException", 400, "'parallelizationFactor'"},
		{"retries -2", lambda.CreateEventSourceMappingInput{EventSourceArn: &s, StartingPosition: latest, MaximumRetryAttempts: aws.Int32(-2)}, "ValidationException", 400, "greater than or equal to -1"},
		{"retries 10001", lambda.CreateEventSourceMappingInput{EventSourceArn: &s, StartingPosition: latest, MaximumRetryAttempts: aws.Int32(10001)}, "ValidationException", 400, "less than or equal to 10000"},
		{"record age 30", lambda.CreateEventSourceMappingInput{EventSourceArn: &s, StartingPosition: latest, MaximumRecordAgeInSeconds: aws.Int32(30)}, "InvalidParameterValueException", 400, "MaximumRecordAgeInSeconds must be either -1 (forever) or between 60 and 604800 (inclusive)"},
		{"record age 604801", lambda.CreateEventSourceMappingInput{EventSourceArn: &s, StartingPosition: latest, MaximumRecordAgeInSeconds: aws.Int32(604801)}, "ValidationException", 400, "'maximumRecordAgeInSeconds'"},
		{"on failure sns", lambda.CreateEventSourceMappingInput{EventSourceArn: &s, StartingPosition: latest, DestinationConfig: onFailure("arn:aws:sns:us-east-1:000000000000:topic")}, "InvalidParameterValueException", 400, "Gust takes only a Gust queue"},
		{"on failure function", lambda.CreateEventSourceMappingInput{EventSourceArn: &s, StartingPosition: latest, DestinationConfig: onFailure(e.id.FunctionARN(esmAPIFn))}, "InvalidParameterValueException", 400, "Gust takes only a Gust queue"},
		{"on failure elsewhere", lambda.CreateEventSourceMappingInput{EventSourceArn: &s, StartingPosition: latest, DestinationConfig: onFailure(other)}, "InvalidParameterValueException", 400, "is invalid"},
		{"on success", lambda.CreateEventSourceMappingInput{EventSourceArn: &s, StartingPosition: latest, DestinationConfig: &types.DestinationConfig{OnSuccess: &types.OnSuccess{Destination: &q}}}, "InvalidParameterValueException", 400, "Unsupported DestinationConfig parameter for given event source mapping type."},
		{"stream scaling", lambda.CreateEventSourceMappingInput{EventSourceArn: &s, StartingPosition: latest, ScalingConfig: &types.ScalingConfig{MaximumConcurrency: aws.Int32(5)}}, "InvalidParameterValueException", 400, "'scalingConfig'"},
		{"mq no queues", lambda.CreateEventSourceMappingInput{EventSourceArn: &m}, "InvalidParameterValueException", 400, "Queues"},
		{"mq two queues", lambda.CreateEventSourceMappingInput{EventSourceArn: &m, Queues: []string{"a", "b"}}, "ValidationException", 400, "'queues'"},
		{"mq response types", lambda.CreateEventSourceMappingInput{EventSourceArn: &m, Queues: []string{"a"}, FunctionResponseTypes: []types.FunctionResponseType{types.FunctionResponseTypeReportBatchItemFailures}}, "InvalidParameterValueException", 400, "'functionResponseTypes'"},
		{"six filters", lambda.CreateEventSourceMappingInput{EventSourceArn: &q, FilterCriteria: filters(`{"a":[1]}`, `{"a":[2]}`, `{"a":[3]}`, `{"a":[4]}`, `{"a":[5]}`, `{"a":[6]}`)}, "InvalidParameterValueException", 400, "at most 5 filters"},
		{"bad pattern", lambda.CreateEventSourceMappingInput{EventSourceArn: &q, FilterCriteria: filters(`{"body":`)}, "InvalidParameterValueException", 400, "Invalid filter pattern definition."},
		{"no function", lambda.CreateEventSourceMappingInput{EventSourceArn: &q, FunctionName: aws.String("nosuch")}, "InvalidParameterValueException", 400, "Function does not exist"},
		{"no version", lambda.CreateEventSourceMappingInput{EventSourceArn: &q, FunctionName: aws.String(esmAPIFn + ":7")}, "InvalidParameterValueException", 400, "Function does not exist"},
		{"no alias", lambda.CreateEventSourceMappingInput{EventSourceArn: &q, FunctionName: aws.String(esmAPIFn + ":dead")}, "InvalidParameterValueException", 400, "Function does not exist"},
		{"other account", lambda.CreateEventSourceMappingInput{EventSourceArn: &q, FunctionName: aws.String("arn:aws:lambda:us-east-1:111111111111:function:" + esmAPIFn)}, "InvalidParameterValueException", 400, "Function does not exist"},
		{"unknown source", lambda.CreateEventSourceMappingInput{EventSourceArn: aws.String("arn:aws:sqs:" + e.id.Region + ":" + e.id.Account + ":nosuch")}, "ResourceNotFoundException", 404, ""},
		{"foreign source", lambda.CreateEventSourceMappingInput{EventSourceArn: aws.String("arn:aws:sns:" + e.id.Region + ":" + e.id.Account + ":topic")}, "InvalidParameterValueException", 400, "Unrecognized event source"},
		{"no source", lambda.CreateEventSourceMappingInput{}, "InvalidParameterValueException", 400, "Unrecognized event source."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			if in.FunctionName == nil {
				in.FunctionName = aws.String(esmAPIFn)
			}
			_, err := e.c.CreateEventSourceMapping(t.Context(), &in)
			cpWantErr(t, err, tc.code, tc.status, tc.msg)
		})
	}
	list, err := e.c.ListEventSourceMappings(t.Context(), &lambda.ListEventSourceMappingsInput{})
	if err != nil || len(list.EventSourceMappings) != 0 {
		t.Errorf("after refused creates: %d mappings (err %v), want none", len(list.EventSourceMappings), err)
	}
}

func TestESMAPIDuplicateConflicts(t *testing.T) {
	t.Parallel()
	e := newESMAPIEnv(t)
	q := e.create(t, &lambda.CreateEventSourceMappingInput{EventSourceArn: aws.String(e.queueARN)})
	_, err := e.c.CreateEventSourceMapping(t.Context(), &lambda.CreateEventSourceMappingInput{
		FunctionName: aws.String(esmAPIFn), EventSourceArn: aws.String(e.queueARN), BatchSize: aws.Int32(5)})
	cpWantErr(t, err, "ResourceConflictException", 409, fmt.Sprintf(
		`An event source mapping with SQS arn (" %s ") and function (" %s ") already exists. Please update or delete the existing mapping with UUID %s`,
		e.queueARN, esmAPIFn, aws.ToString(q.UUID)))

	s := e.create(t, &lambda.CreateEventSourceMappingInput{EventSourceArn: aws.String(e.streamARN), StartingPosition: types.EventSourcePositionTrimHorizon})
	_, err = e.c.CreateEventSourceMapping(t.Context(), &lambda.CreateEventSourceMappingInput{FunctionName: aws.String(e.id.FunctionARN(esmAPIFn)),
		EventSourceArn: aws.String(e.streamARN), StartingPosition: types.EventSourcePositionLatest})
	cpWantErr(t, err, "ResourceConflictException", 409, fmt.Sprintf(
		`The event source arn (" %s ") and function (" %s ") provided mapping already exists. Please update or delete the existing mapping with UUID %s`,
		e.streamARN, esmAPIFn, aws.ToString(s.UUID)))

	// Another qualifier is another function: allowed, but updating it to
	// the unqualified function collides.
	a := e.create(t, &lambda.CreateEventSourceMappingInput{EventSourceArn: aws.String(e.queueARN), FunctionName: aws.String(esmAPIFn + ":live")})
	e.waitState(t, aws.ToString(a.UUID), "Enabled")
	_, err = e.c.UpdateEventSourceMapping(t.Context(), &lambda.UpdateEventSourceMappingInput{UUID: a.UUID, FunctionName: aws.String(esmAPIFn)})
	cpWantErr(t, err, "ResourceConflictException", 409, aws.ToString(q.UUID))
}

func TestESMAPIUpdate(t *testing.T) {
	t.Parallel()
	e := newESMAPIEnv(t)
	q := e.create(t, &lambda.CreateEventSourceMappingInput{EventSourceArn: aws.String(e.queueARN)})
	uuid := q.UUID
	before := e.waitState(t, aws.ToString(uuid), "Enabled")
	up, err := e.c.UpdateEventSourceMapping(t.Context(), &lambda.UpdateEventSourceMappingInput{UUID: uuid,
		BatchSize: aws.Int32(50), MaximumBatchingWindowInSeconds: aws.Int32(5),
		FilterCriteria:        &types.FilterCriteria{Filters: []types.Filter{{Pattern: aws.String(`{"body":{"kind":["order"]}}`)}}},
		FunctionResponseTypes: []types.FunctionResponseType{types.FunctionResponseTypeReportBatchItemFailures},
		ScalingConfig:         &types.ScalingConfig{MaximumConcurrency: aws.Int32(4)},
		FunctionName:          aws.String(esmAPIFn + ":live")})
	if err != nil {
		t.Fatalf("UpdateEventSourceMapping: %v", err)
	}
	if aws.ToString(up.State) != "Updating" || !aws.ToTime(up.LastModified).After(aws.ToTime(before.LastModified)) {
		t.Errorf("update: State %q LastModified %v (was %v), want Updating and a later time", aws.ToString(up.State), up.LastModified, before.LastModified)
	}
	got := e.waitState(t, aws.ToString(uuid), "Enabled")
	if aws.ToInt32(got.BatchSize) != 50 || aws.ToInt32(got.MaximumBatchingWindowInSeconds) != 5 || got.FilterCriteria == nil ||
		len(got.FunctionResponseTypes) != 1 || aws.ToInt32(got.ScalingConfig.MaximumConcurrency) != 4 ||
		aws.ToString(got.FunctionArn) != e.id.FunctionARN(esmAPIFn)+":live" {
		t.Errorf("after update: %+v", got)
	}

	// Validation runs on the merged settings.
	_, err = e.c.UpdateEventSourceMapping(t.Context(), &lambda.UpdateEventSourceMappingInput{UUID: uuid, MaximumBatchingWindowInSeconds: aws.Int32(0)})
	cpWantErr(t, err, "InvalidParameterValueException", 400, "Maximum batch window in seconds must be greater than 0")
	_, err = e.c.UpdateEventSourceMapping(t.Context(), &lambda.UpdateEventSourceMappingInput{UUID: uuid, MaximumRetryAttempts: aws.Int32(3)})
	cpWantErr(t, err, "InvalidParameterValueException", 400, "'maximumRetryAttempts'")
	_, err = e.c.UpdateEventSourceMapping(t.Context(), &lambda.UpdateEventSourceMappingInput{UUID: uuid, FunctionName: aws.String("nosuch")})
	cpWantErr(t, err, "InvalidParameterValueException", 400, "Function does not exist")

	// Clearing: {} filter criteria and no response types.
	if _, err := e.c.UpdateEventSourceMapping(t.Context(), &lambda.UpdateEventSourceMappingInput{UUID: uuid,
		FilterCriteria: &types.FilterCriteria{}, FunctionResponseTypes: []types.FunctionResponseType{}}); err != nil {
		t.Fatalf("clear filters: %v", err)
	}
	if got := e.waitState(t, aws.ToString(uuid), "Enabled"); got.FilterCriteria != nil || len(got.FunctionResponseTypes) != 0 || aws.ToInt32(got.BatchSize) != 50 {
		t.Errorf("after clearing: FilterCriteria %+v FunctionResponseTypes %v BatchSize %d", got.FilterCriteria, got.FunctionResponseTypes, aws.ToInt32(got.BatchSize))
	}

	// Flipping Enabled alone goes through Disabling and Enabling.
	off, err := e.c.UpdateEventSourceMapping(t.Context(), &lambda.UpdateEventSourceMappingInput{UUID: uuid, Enabled: aws.Bool(false)})
	if err != nil || aws.ToString(off.State) != "Disabling" {
		t.Fatalf("disable: %v, state %q, want Disabling", err, aws.ToString(off.State))
	}
	e.waitState(t, aws.ToString(uuid), "Disabled")
	on, err := e.c.UpdateEventSourceMapping(t.Context(), &lambda.UpdateEventSourceMappingInput{UUID: uuid, Enabled: aws.Bool(true)})
	if err != nil || aws.ToString(on.State) != "Enabling" {
		t.Fatalf("enable: %v, state %q, want Enabling", err, aws.ToString(on.State))
	}
	e.waitState(t, aws.ToString(uuid), "Enabled")

	// A stream mapping's settings, checked on the merged result.
	s := e.create(t, &lambda.CreateEventSourceMappingInput{EventSourceArn: aws.String(e.streamARN), StartingPosition: types.EventSourcePositionTrimHorizon})
	e.waitState(t, aws.ToString(s.UUID), "Enabled")
	_, err = e.c.UpdateEventSourceMapping(t.Context(), &lambda.UpdateEventSourceMappingInput{UUID: s.UUID, MaximumRecordAgeInSeconds: aws.Int32(59)})
	cpWantErr(t, err, "InvalidParameterValueException", 400, "MaximumRecordAgeInSeconds must be either -1")
	failures := "arn:aws:sqs:" + e.id.Region + ":" + e.id.Account + ":esm-api-failures"
	if _, err := e.c.UpdateEventSourceMapping(t.Context(), &lambda.UpdateEventSourceMappingInput{UUID: s.UUID, MaximumRetryAttempts: aws.Int32(2),
		BisectBatchOnFunctionError: aws.Bool(true), DestinationConfig: &types.DestinationConfig{OnFailure: &types.OnFailure{Destination: aws.String(failures)}}}); err != nil {
		t.Fatalf("update stream mapping: %v", err)
	}
	gs := e.waitState(t, aws.ToString(s.UUID), "Enabled")
	if aws.ToInt32(gs.MaximumRetryAttempts) != 2 || !aws.ToBool(gs.BisectBatchOnFunctionError) || aws.ToString(gs.DestinationConfig.OnFailure.Destination) != failures ||
		gs.StartingPosition != types.EventSourcePositionTrimHorizon {
		t.Errorf("stream mapping after update: %+v", gs)
	}

	_, err = e.c.UpdateEventSourceMapping(t.Context(), &lambda.UpdateEventSourceMappingInput{UUID: aws.String("6f1c3a52-0000-4000-8000-000000000000"), BatchSize: aws.Int32(5)})
	cpWantErr(t, err, "ResourceNotFoundException", 404, "The resource you requested does not exist.")
}

// TestESMAPIInUse stops the manager, so mappings stay in their
// transitional states and the refusals can be seen deterministically.
func TestESMAPIInUse(t *testing.T) {
	t.Parallel()
	e := newESMAPIEnv(t)
	if err := e.srv.ESM().Close(t.Context()); err != nil {
		t.Fatalf("close esm: %v", err)
	}
	q := e.create(t, &lambda.CreateEventSourceMappingInput{EventSourceArn: aws.String(e.queueARN)})
	_, err := e.c.UpdateEventSourceMapping(t.Context(), &lambda.UpdateEventSourceMappingInput{UUID: q.UUID, BatchSize: aws.Int32(5)})
	cpWantErr(t, err, "ResourceInUseException", 400, "Cannot update the event source mapping because it is in use.")
	d, err := e.c.DeleteEventSourceMapping(t.Context(), &lambda.DeleteEventSourceMappingInput{UUID: q.UUID})
	if err != nil || aws.ToString(d.State) != "Deleting" {
		t.Fatalf("delete: %v, state %q, want Deleting", err, aws.ToString(d.State))
	}
	_, err = e.c.UpdateEventSourceMapping(t.Context(), &lambda.UpdateEventSourceMappingInput{UUID: q.UUID, Enabled: aws.Bool(false)})
	cpWantErr(t, err, "ResourceInUseException", 400, "in use")
	_, err = e.c.DeleteEventSourceMapping(t.Context(), &lambda.DeleteEventSourceMappingInput{UUID: q.UUID})
	cpWantErr(t, err, "ResourceInUseException", 400, "Cannot delete the event source mapping because it is in use.")
	// A mapping being deleted does not block a new one of its source and
	// function.
	e.create(t, &lambda.CreateEventSourceMappingInput{EventSourceArn: aws.String(e.queueARN)})
}

func TestESMAPIDeleteAndGet(t *testing.T) {
	t.Parallel()
	e := newESMAPIEnv(t)
	q := e.create(t, &lambda.CreateEventSourceMappingInput{EventSourceArn: aws.String(e.queueARN)})
	e.waitState(t, aws.ToString(q.UUID), "Enabled")
	d, err := e.c.DeleteEventSourceMapping(t.Context(), &lambda.DeleteEventSourceMappingInput{UUID: q.UUID})
	if err != nil || aws.ToString(d.State) != "Deleting" || aws.ToString(d.UUID) != aws.ToString(q.UUID) {
		t.Fatalf("delete: %v, %+v, want the mapping in state Deleting", err, d)
	}
	gusttest.WaitFor(t, 20*time.Second, "the deleted mapping to be gone", func() bool {
		_, err := e.c.GetEventSourceMapping(t.Context(), &lambda.GetEventSourceMappingInput{UUID: q.UUID})
		return isAPIError(err, "ResourceNotFoundException")
	})
	_, err = e.c.GetEventSourceMapping(t.Context(), &lambda.GetEventSourceMappingInput{UUID: q.UUID})
	cpWantErr(t, err, "ResourceNotFoundException", 404, "The resource you requested does not exist.")
	_, err = e.c.DeleteEventSourceMapping(t.Context(), &lambda.DeleteEventSourceMappingInput{UUID: q.UUID})
	cpWantErr(t, err, "ResourceNotFoundException", 404, "The resource you requested does not exist.")
	_, err = e.c.GetEventSourceMapping(t.Context(), &lambda.GetEventSourceMappingInput{UUID: aws.String("not-a-uuid")})
	cpWantErr(t, err, "ResourceNotFoundException", 404, "")
}

func TestESMAPIList(t *testing.T) {
	t.Parallel()
	e := newESMAPIEnv(t)
	fnARN := e.id.FunctionARN(esmAPIFn)
	made := map[string]string{} // UUID → what it joins
	add := func(in *lambda.CreateEventSourceMappingInput, what string) {
		made[aws.ToString(e.create(t, in).UUID)] = what
	}
	add(&lambda.CreateEventSourceMappingInput{EventSourceArn: aws.String(e.queueARN)}, "queue fn")
	add(&lambda.CreateEventSourceMappingInput{EventSourceArn: aws.String(e.queueARN), FunctionName: aws.String(esmAPIFn + ":live")}, "queue live")
	add(&lambda.CreateEventSourceMappingInput{EventSourceArn: aws.String(e.streamARN), StartingPosition: types.EventSourcePositionLatest}, "stream fn")
	add(&lambda.CreateEventSourceMappingInput{EventSourceArn: aws.String(e.mqARN), Queues: []string{"q"}}, "mq fn")

	list := func(in *lambda.ListEventSourceMappingsInput) []string {
		t.Helper()
		var ids []string
		p := lambda.NewListEventSourceMappingsPaginator(e.c, in)
		for pages := 0; p.HasMorePages(); pages++ {
			out, err := p.NextPage(t.Context())
			if err != nil {
				t.Fatalf("ListEventSourceMappings: %v", err)
			}
			if in.MaxItems != nil && len(out.EventSourceMappings) > int(*in.MaxItems) {
				t.Errorf("page of %d, want at most %d", len(out.EventSourceMappings), *in.MaxItems)
			}
			for _, m := range out.EventSourceMappings {
				ids = append(ids, made[aws.ToString(m.UUID)])
			}
		}
		slices.Sort(ids)
		return ids
	}
	cases := []struct {
		name string
		in   lambda.ListEventSourceMappingsInput
		want []string
	}{
		{"all", lambda.ListEventSourceMappingsInput{}, []string{"mq fn", "queue fn", "queue live", "stream fn"}},
		{"pages of one", lambda.ListEventSourceMappingsInput{MaxItems: aws.Int32(1)}, []string{"mq fn", "queue fn", "queue live", "stream fn"}},
		{"by source", lambda.ListEventSourceMappingsInput{EventSourceArn: aws.String(e.queueARN)}, []string{"queue fn", "queue live"}},
		{"by name", lambda.ListEventSourceMappingsInput{FunctionName: aws.String(esmAPIFn)}, []string{"mq fn", "queue fn", "stream fn"}},
		{"by ARN", lambda.ListEventSourceMappingsInput{FunctionName: aws.String(fnARN)}, []string{"mq fn", "queue fn", "stream fn"}},
		{"by alias", lambda.ListEventSourceMappingsInput{FunctionName: aws.String(esmAPIFn + ":live")}, []string{"queue live"}},
		{"by both", lambda.ListEventSourceMappingsInput{EventSourceArn: aws.String(e.queueARN), FunctionName: aws.String(fnARN + ":live"), MaxItems: aws.Int32(1)}, []string{"queue live"}},
		{"none", lambda.ListEventSourceMappingsInput{FunctionName: aws.String("other")}, nil},
	}
	for _, tc := range cases {
		if got := list(&tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	resp, body := signedDo(t, e.srv, http.MethodGet, "/2015-03-31/event-source-mappings/?MaxItems=0", "")
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("MaxItems=0: status %d (%s), want 400", resp.StatusCode, body)
	}
}

// TestESMAPIAuthorization checks IAM on the mapping operations: Get,
// Update and Delete act on the mapping's ARN, Create and List on "*".
func TestESMAPIAuthorization(t *testing.T) {
	t.Parallel()
	e := newESMAPIEnv(t)
	mine := e.create(t, &lambda.CreateEventSourceMappingInput{EventSourceArn: aws.String(e.queueARN)})
	theirs := e.create(t, &lambda.CreateEventSourceMappingInput{EventSourceArn: aws.String(e.streamARN), StartingPosition: types.EventSourcePositionLatest})
	mineARN := e.id.EventSourceMappingARN(aws.ToString(mine.UUID))
	_, key, err := e.srv.IAM().CreateUser(t.Context(), "esm-reader")
	if err != nil {
		t.Fatal(err)
	}
	policy := fmt.Sprintf(`{"Version": "2012-10-17", "Statement": [
		{"Effect": "Allow", "Action": ["lambda:GetEventSourceMapping", "lambda:UpdateEventSourceMapping"], "Resource": %q},
		{"Effect": "Allow", "Action": "lambda:ListEventSourceMappings", "Resource": "*"}]}`, mineARN)
	if err := e.srv.IAM().PutUserPolicy(t.Context(), "esm-reader", []byte(policy)); err != nil {
		t.Fatal(err)
	}
	user := lambdaAs(e.srv, key.ID, key.Secret)
	denied := "User: arn:aws:iam::" + e.id.Account + ":user/esm-reader is not authorized to perform: "

	if _, err := user.GetEventSourceMapping(t.Context(), &lambda.GetEventSourceMappingInput{UUID: mine.UUID}); err != nil {
		t.Errorf("Get of the allowed mapping: %v", err)
	}
	if _, err := user.ListEventSourceMappings(t.Context(), &lambda.ListEventSourceMappingsInput{}); err != nil {
		t.Errorf("List: %v", err)
	}
	_, err = user.GetEventSourceMapping(t.Context(), &lambda.GetEventSourceMappingInput{UUID: theirs.UUID})
	cpWantErr(t, err, "AccessDeniedException", 403, denied+"lambda:GetEventSourceMapping on resource: "+e.id.EventSourceMappingARN(aws.ToString(theirs.UUID)))
	_, err = user.DeleteEventSourceMapping(t.Context(), &lambda.DeleteEventSourceMappingInput{UUID: mine.UUID})
	cpWantErr(t, err, "AccessDeniedException", 403, denied+"lambda:DeleteEventSourceMapping on resource: "+mineARN)
	_, err = user.CreateEventSourceMapping(t.Context(), &lambda.CreateEventSourceMappingInput{FunctionName: aws.String(esmAPIFn),
		EventSourceArn: aws.String(e.mqARN), Queues: []string{"q"}})
	cpWantErr(t, err, "AccessDeniedException", 403, denied+"lambda:CreateEventSourceMapping on resource: *")
	if _, err := e.c.GetEventSourceMapping(t.Context(), &lambda.GetEventSourceMappingInput{UUID: mine.UUID}); err != nil {
		t.Errorf("the denied delete removed the mapping: %v", err)
	}
}

// isAPIError reports whether err is the API error code.
func isAPIError(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}
