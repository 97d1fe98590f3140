package server_test

// Event invoke configs (Put/Update/Get/Delete/ListFunctionEventInvokeConfigs)
// through aws-sdk-go-v2, with raw signed HTTP where the SDK hides the wire.

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/google/go-cmp/cmp"

	"gust/internal/gusttest"
)

const (
	eicQueue  = "arn:aws:sqs:us-east-1:000000000000:done"
	eicQueue2 = "arn:aws:sqs:us-east-1:000000000000:failed"
	eicPath   = "/2019-09-25/functions/"
)

// eicConfig is the part of a FunctionEventInvokeConfig a test compares.
type eicConfig struct {
	FunctionArn          string
	Retries, Age         *int32
	OnSuccess, OnFailure *string
}

func eicOf(arn *string, retries, age *int32, dc *types.DestinationConfig) eicConfig {
	c := eicConfig{FunctionArn: aws.ToString(arn), Retries: retries, Age: age}
	if dc != nil && dc.OnSuccess != nil {
		c.OnSuccess = dc.OnSuccess.Destination
	}
	if dc != nil && dc.OnFailure != nil {
		c.OnFailure = dc.OnFailure.Destination
	}
	return c
}

func eicGet(t *testing.T, c *lambda.Client, name string) (eicConfig, time.Time) {
	t.Helper()
	out, err := c.GetFunctionEventInvokeConfig(context.Background(), &lambda.GetFunctionEventInvokeConfigInput{FunctionName: aws.String(name)})
	if err != nil {
		t.Fatalf("get event invoke config %s: %v", name, err)
	}
	return eicOf(out.FunctionArn, out.MaximumRetryAttempts, out.MaximumEventAgeInSeconds, out.DestinationConfig), aws.ToTime(out.LastModified)
}

func eicDest(onSuccess, onFailure *string) *types.DestinationConfig {
	dc := &types.DestinationConfig{}
	if onSuccess != nil {
		dc.OnSuccess = &types.OnSuccess{Destination: onSuccess}
	}
	if onFailure != nil {
		dc.OnFailure = &types.OnFailure{Destination: onFailure}
	}
	return dc
}

func eicSame(t *testing.T, what string, want, got eicConfig) {
	t.Helper()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", what, diff)
	}
}

func TestEventInvokeConfigLifecycle(t *testing.T) {
	s := gusttest.StartServer(t)
	c := s.Lambda()
	ctx := context.Background()
	zip := cpNodeZip(t, "A")
	cpCreate(t, c, "eic", zip, nil)
	cpCreate(t, c, "eic-dest", zip, nil)
	latestARN := cpARN + "eic:$LATEST"

	// Put: every member comes back, with the qualified ARN.
	before := time.Now()
	put, err := c.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{
		FunctionName:             aws.String("eic"),
		MaximumRetryAttempts:     aws.Int32(1),
		MaximumEventAgeInSeconds: aws.Int32(120),
		DestinationConfig:        eicDest(aws.String(eicQueue), aws.String(cpARN+"eic-dest")),
	})
	if err != nil {
		t.Fatalf("put: %v", err)
	}
	full := eicConfig{FunctionArn: latestARN, Retries: aws.Int32(1), Age: aws.Int32(120),
		OnSuccess: aws.String(eicQueue), OnFailure: aws.String(cpARN + "eic-dest")}
	eicSame(t, "put output", full, eicOf(put.FunctionArn, put.MaximumRetryAttempts, put.MaximumEventAgeInSeconds, put.DestinationConfig))
	lm := aws.ToTime(put.LastModified)
	if lm.Before(before.Add(-time.Second)) || lm.After(time.Now().Add(time.Second)) {
		t.Errorf("LastModified = %s, want about now (%s)", lm, before)
	}
	got, getLM := eicGet(t, c, "eic")
	eicSame(t, "get after put", full, got)
	if !getLM.Equal(lm.Truncate(time.Millisecond)) {
		t.Errorf("get LastModified = %s, put said %s", getLM, lm)
	}

	// The wire: LastModified is an epoch-seconds number with a fraction,
	// and DestinationConfig is always there.
	raw := cpRaw(t, s, "GET", eicPath+"eic/event-invoke-config", nil)
	if raw.status != http.StatusOK {
		t.Fatalf("raw get: %d %s", raw.status, raw.body)
	}
	if !regexp.MustCompile(`"LastModified":\d{10}\.\d{3}[,}]`).Match(raw.body) {
		t.Errorf("raw LastModified is not an epoch-seconds number: %s", raw.body)
	}

	// Put replaces the whole config.
	if _, err := c.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{
		FunctionName: aws.String("eic"), MaximumRetryAttempts: aws.Int32(0),
	}); err != nil {
		t.Fatalf("second put: %v", err)
	}
	got, _ = eicGet(t, c, "eic")
	eicSame(t, "get after a replacing put", eicConfig{FunctionArn: latestARN, Retries: aws.Int32(0)}, got)
	raw = cpRaw(t, s, "GET", eicPath+"eic/event-invoke-config?Qualifier=%24LATEST", nil)
	var body map[string]any
	if err := json.Unmarshal(raw.body, &body); err != nil {
		t.Fatalf("raw get %s: %v", raw.body, err)
	}
	if diff := cmp.Diff(map[string]any{"OnSuccess": map[string]any{}, "OnFailure": map[string]any{}}, body["DestinationConfig"]); diff != "" {
		t.Errorf("raw DestinationConfig without destinations (-want +got):\n%s", diff)
	}
	if _, ok := body["MaximumEventAgeInSeconds"]; ok {
		t.Errorf("raw body has MaximumEventAgeInSeconds, which was not set: %s", raw.body)
	}

	// Update merges: members left out stay, OnSuccess and OnFailure each
	// on their own.
	if _, err := c.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{
		FunctionName: aws.String("eic"), MaximumRetryAttempts: aws.Int32(2), MaximumEventAgeInSeconds: aws.Int32(60),
		DestinationConfig: eicDest(aws.String(eicQueue), aws.String(cpARN+"eic-dest")),
	}); err != nil {
		t.Fatalf("put before update: %v", err)
	}
	upd, err := c.UpdateFunctionEventInvokeConfig(ctx, &lambda.UpdateFunctionEventInvokeConfigInput{
		FunctionName:             aws.String("eic"),
		MaximumEventAgeInSeconds: aws.Int32(3600),
		DestinationConfig:        eicDest(nil, aws.String(eicQueue2)),
	})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	merged := eicConfig{FunctionArn: latestARN, Retries: aws.Int32(2), Age: aws.Int32(3600),
		OnSuccess: aws.String(eicQueue), OnFailure: aws.String(eicQueue2)}
	eicSame(t, "update output", merged, eicOf(upd.FunctionArn, upd.MaximumRetryAttempts, upd.MaximumEventAgeInSeconds, upd.DestinationConfig))
	got, _ = eicGet(t, c, "eic")
	eicSame(t, "get after update", merged, got)
	// An OnSuccess without a Destination clears it; the rest stays.
	if _, err := c.UpdateFunctionEventInvokeConfig(ctx, &lambda.UpdateFunctionEventInvokeConfigInput{
		FunctionName:      aws.String("eic:$LATEST"),
		DestinationConfig: &types.DestinationConfig{OnSuccess: &types.OnSuccess{}},
	}); err != nil {
		t.Fatalf("update clearing OnSuccess: %v", err)
	}
	merged.OnSuccess = nil
	got, _ = eicGet(t, c, "eic")
	eicSame(t, "get after clearing OnSuccess", merged, got)

	// List: one config, one page, no NextMarker.
	for _, maxItems := range []*int32{nil, aws.Int32(1), aws.Int32(50)} {
		p := lambda.NewListFunctionEventInvokeConfigsPaginator(c, &lambda.ListFunctionEventInvokeConfigsInput{
			FunctionName: aws.String("eic"), MaxItems: maxItems,
		})
		var arns []string
		pages := 0
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("list page (MaxItems %v): %v", aws.ToInt32(maxItems), err)
			}
			pages++
			if page.NextMarker != nil {
				t.Errorf("NextMarker = %q on the only page", *page.NextMarker)
			}
			for _, cfg := range page.FunctionEventInvokeConfigs {
				arns = append(arns, aws.ToString(cfg.FunctionArn))
				eicSame(t, "listed config", merged, eicOf(cfg.FunctionArn, cfg.MaximumRetryAttempts, cfg.MaximumEventAgeInSeconds, cfg.DestinationConfig))
			}
		}
		if pages != 1 || !cmp.Equal(arns, []string{latestARN}) {
			t.Errorf("MaxItems %v: %d pages of %v, want one page of [%s]", aws.ToInt32(maxItems), pages, arns, latestARN)
		}
	}
	raw = cpRaw(t, s, "GET", eicPath+"eic/event-invoke-config/list?MaxItems=50", nil)
	if raw.status != http.StatusOK || regexp.MustCompile(`NextMarker`).Match(raw.body) {
		t.Errorf("raw list: %d %s; want 200 without NextMarker", raw.status, raw.body)
	}
	for _, n := range []int32{0, 51} {
		_, err := c.ListFunctionEventInvokeConfigs(ctx, &lambda.ListFunctionEventInvokeConfigsInput{FunctionName: aws.String("eic"), MaxItems: aws.Int32(n)})
		cpWantErr(t, err, "ValidationException", 400, "at 'maxItems' failed to satisfy constraint")
	}

	// Delete: 204, then it is gone.
	raw = cpRaw(t, s, "DELETE", eicPath+"eic/event-invoke-config", nil)
	if raw.status != http.StatusNoContent || len(raw.body) != 0 {
		t.Fatalf("delete: %d %q, want 204 and no body", raw.status, raw.body)
	}
	gone := "The function " + latestARN + " doesn't have an EventInvokeConfig"
	_, err = c.GetFunctionEventInvokeConfig(ctx, &lambda.GetFunctionEventInvokeConfigInput{FunctionName: aws.String("eic")})
	cpWantErr(t, err, "ResourceNotFoundException", 404, gone)
	var rnf *types.ResourceNotFoundException
	if !errors.As(err, &rnf) {
		t.Errorf("get after delete: %T, want *types.ResourceNotFoundException", err)
	}
	_, err = c.DeleteFunctionEventInvokeConfig(ctx, &lambda.DeleteFunctionEventInvokeConfigInput{FunctionName: aws.String("eic")})
	cpWantErr(t, err, "ResourceNotFoundException", 404, gone)
	_, err = c.UpdateFunctionEventInvokeConfig(ctx, &lambda.UpdateFunctionEventInvokeConfigInput{FunctionName: aws.String("eic"), MaximumRetryAttempts: aws.Int32(1)})
	cpWantErr(t, err, "ResourceNotFoundException", 404, gone)
	list, err := c.ListFunctionEventInvokeConfigs(ctx, &lambda.ListFunctionEventInvokeConfigsInput{FunctionName: aws.String("eic")})
	if err != nil || len(list.FunctionEventInvokeConfigs) != 0 {
		t.Errorf("list after delete = %v, %v; want empty", list, err)
	}

	// Qualifiers: $LATEST by name or ARN; a version Gust does not have
	// is not found; two different qualifiers are refused.
	for _, name := range []string{"eic:$LATEST", latestARN} {
		out, err := c.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String(name), MaximumRetryAttempts: aws.Int32(1)})
		if err != nil || aws.ToString(out.FunctionArn) != latestARN {
			t.Errorf("put %s: %v; want FunctionArn %s", name, err, latestARN)
		}
	}
	_, err = c.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("eic"), Qualifier: aws.String("1"), MaximumRetryAttempts: aws.Int32(1)})
	cpWantErr(t, err, "ResourceNotFoundException", 404, "The function doesn't exist.")
	_, err = c.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("eic:$LATEST"), Qualifier: aws.String("1"), MaximumRetryAttempts: aws.Int32(1)})
	cpWantErr(t, err, "InvalidParameterValueException", 400, "The derived qualifier from the function name does not match the specified qualifier.")
	_, err = c.GetFunctionEventInvokeConfig(ctx, &lambda.GetFunctionEventInvokeConfigInput{FunctionName: aws.String("eic"), Qualifier: aws.String("live")})
	cpWantErr(t, err, "ResourceNotFoundException", 404, "The function "+cpARN+"eic:live doesn't have an EventInvokeConfig")
}

func TestEventInvokeConfigErrors(t *testing.T) {
	s := gusttest.StartServer(t)
	c := s.Lambda()
	ctx := context.Background()
	cpCreate(t, c, "eicerr", cpNodeZip(t, "A"), nil)
	put := func(in lambda.PutFunctionEventInvokeConfigInput) error {
		if in.FunctionName == nil {
			in.FunctionName = aws.String("eicerr")
		}
		_, err := c.PutFunctionEventInvokeConfig(ctx, &in)
		return err
	}
	tests := []struct {
		name   string
		in     lambda.PutFunctionEventInvokeConfigInput
		code   string
		status int
		msg    string
	}{
		{"retries 3", lambda.PutFunctionEventInvokeConfigInput{MaximumRetryAttempts: aws.Int32(3)}, "ValidationException", 400,
			"1 validation error detected: Value '3' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 2"},
		{"retries -1", lambda.PutFunctionEventInvokeConfigInput{MaximumRetryAttempts: aws.Int32(-1)}, "ValidationException", 400,
			"1 validation error detected: Value '-1' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value greater than or equal to 0"},
		{"age 59", lambda.PutFunctionEventInvokeConfigInput{MaximumEventAgeInSeconds: aws.Int32(59)}, "ValidationException", 400,
			"1 validation error detected: Value '59' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value greater than or equal to 60"},
		{"age 21601", lambda.PutFunctionEventInvokeConfigInput{MaximumEventAgeInSeconds: aws.Int32(21601)}, "ValidationException", 400,
			"1 validation error detected: Value '21601' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value less than or equal to 21600"},
		{"both out of range", lambda.PutFunctionEventInvokeConfigInput{MaximumRetryAttempts: aws.Int32(3), MaximumEventAgeInSeconds: aws.Int32(59)}, "ValidationException", 400,
			"2 validation errors detected: Value '3' at 'maximumRetryAttempts'"},
		{"nothing set", lambda.PutFunctionEventInvokeConfigInput{}, "InvalidParameterValueException", 400,
			"You must specify at least one of error handling or destination setting."},
		{"nothing set, unknown function", lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("nope")}, "InvalidParameterValueException", 400,
			"You must specify at least one of error handling or destination setting."},
		{"unknown function", lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("nope"), MaximumRetryAttempts: aws.Int32(1)}, "ResourceNotFoundException", 404,
			"The function doesn't exist."},
		{"unknown function by ARN", lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String(cpARN + "nope"), MaximumRetryAttempts: aws.Int32(1)}, "ResourceNotFoundException", 404,
			"The function doesn't exist."},
		{"SNS destination", lambda.PutFunctionEventInvokeConfigInput{DestinationConfig: eicDest(nil, aws.String("arn:aws:sns:us-east-1:000000000000:topic"))}, "InvalidParameterValueException", 400,
			"SNS topics are not supported as destinations by Gust"},
		{"EventBridge destination", lambda.PutFunctionEventInvokeConfigInput{DestinationConfig: eicDest(aws.String("arn:aws:events:us-east-1:000000000000:event-bus/default"), nil)}, "InvalidParameterValueException", 400,
			"DestinationConfig(onSuccess=OnSuccess(destination=arn:aws:events:us-east-1:000000000000:event-bus/default), onFailure=null) is invalid."},
		{"malformed destination", lambda.PutFunctionEventInvokeConfigInput{DestinationConfig: eicDest(nil, aws.String("arn:aws:_-/!lambda:us-east-1:000000000000:function:x"))}, "ValidationException", 400,
			"at 'destinationConfig.onFailure.destination' failed to satisfy constraint: Member must satisfy regular expression pattern"},
		{"destination function missing", lambda.PutFunctionEventInvokeConfigInput{DestinationConfig: eicDest(aws.String(cpARN+"nope"), nil)}, "InvalidParameterValueException", 400,
			"The destination ARN " + cpARN + "nope is invalid."},
		{"destination is itself", lambda.PutFunctionEventInvokeConfigInput{DestinationConfig: eicDest(aws.String(cpARN+"eicerr"), nil)}, "InvalidParameterValueException", 400,
			"You can't specify the function as a destination for itself."},
		{"queue of another account", lambda.PutFunctionEventInvokeConfigInput{DestinationConfig: eicDest(aws.String("arn:aws:sqs:us-east-1:123456789012:q"), nil)}, "InvalidParameterValueException", 400,
			"is invalid. Gust delivers only to functions and queues of its own region and account"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cpWantErr(t, put(tt.in), tt.code, tt.status, tt.msg)
		})
	}
	// The SDK knows InvalidParameterValueException as a type, and the
	// message says which destinations Gust supports.
	err := put(lambda.PutFunctionEventInvokeConfigInput{DestinationConfig: eicDest(aws.String("arn:aws:sns:us-east-1:000000000000:topic"), nil)})
	var ipv *types.InvalidParameterValueException
	if !errors.As(err, &ipv) {
		t.Fatalf("SNS destination: %T %v, want *types.InvalidParameterValueException", err, err)
	}
	cpWantErr(t, err, "InvalidParameterValueException", 400, "arn:aws:sqs:<region>:<account>:<queue-name>")
	if _, err := c.GetFunctionEventInvokeConfig(ctx, &lambda.GetFunctionEventInvokeConfigInput{FunctionName: aws.String("eicerr")}); err == nil {
		t.Error("refused puts stored a config")
	}

	// Unknown functions elsewhere.
	_, err = c.UpdateFunctionEventInvokeConfig(ctx, &lambda.UpdateFunctionEventInvokeConfigInput{FunctionName: aws.String("nope"), MaximumRetryAttempts: aws.Int32(0)})
	cpWantErr(t, err, "ResourceNotFoundException", 404, "The function doesn't exist.")
	_, err = c.ListFunctionEventInvokeConfigs(ctx, &lambda.ListFunctionEventInvokeConfigsInput{FunctionName: aws.String("nope")})
	cpWantErr(t, err, "ResourceNotFoundException", 404, "The function doesn't exist.")
	_, err = c.GetFunctionEventInvokeConfig(ctx, &lambda.GetFunctionEventInvokeConfigInput{FunctionName: aws.String("nope")})
	cpWantErr(t, err, "ResourceNotFoundException", 404, "The function "+cpARN+"nope:$LATEST doesn't have an EventInvokeConfig")
	_, err = c.DeleteFunctionEventInvokeConfig(ctx, &lambda.DeleteFunctionEventInvokeConfigInput{FunctionName: aws.String("nope")})
	cpWantErr(t, err, "ResourceNotFoundException", 404, "The function "+cpARN+"nope:$LATEST doesn't have an EventInvokeConfig")
}

func TestEventInvokeConfigGoesWithFunction(t *testing.T) {
	s := gusttest.StartServer(t)
	c := s.Lambda()
	ctx := context.Background()
	zip := cpNodeZip(t, "A")
	cpCreate(t, c, "eicdel", zip, nil)
	if _, err := c.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{
		FunctionName: aws.String("eicdel"), MaximumRetryAttempts: aws.Int32(0),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("eicdel")}); err != nil {
		t.Fatal(err)
	}
	_, err := c.GetFunctionEventInvokeConfig(ctx, &lambda.GetFunctionEventInvokeConfigInput{FunctionName: aws.String("eicdel")})
	cpWantErr(t, err, "ResourceNotFoundException", 404, "doesn't have an EventInvokeConfig")
	cpCreate(t, c, "eicdel", zip, nil)
	_, err = c.GetFunctionEventInvokeConfig(ctx, &lambda.GetFunctionEventInvokeConfigInput{FunctionName: aws.String("eicdel")})
	cpWantErr(t, err, "ResourceNotFoundException", 404, "The function "+cpARN+"eicdel:$LATEST doesn't have an EventInvokeConfig")
	list, err := c.ListFunctionEventInvokeConfigs(ctx, &lambda.ListFunctionEventInvokeConfigsInput{FunctionName: aws.String("eicdel")})
	if err != nil || len(list.FunctionEventInvokeConfigs) != 0 {
		t.Errorf("list on the re-created function = %v, %v; want empty", list, err)
	}
}

// TestDeadLetterTargetIsAGustQueue checks that DeadLetterConfig.TargetArn
// takes only SQS-form Gust queues (AWS also takes SNS topics).
func TestDeadLetterTargetIsAGustQueue(t *testing.T) {
	s := gusttest.StartServer(t)
	c := s.Lambda()
	ctx := context.Background()
	zip := cpNodeZip(t, "A")
	withDLQ := func(arn string) func(*lambda.CreateFunctionInput) {
		return func(in *lambda.CreateFunctionInput) {
			in.DeadLetterConfig = &types.DeadLetterConfig{TargetArn: aws.String(arn)}
		}
	}
	_, err := c.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("dlq-sns"), Runtime: types.RuntimeNodejs20x, Handler: aws.String("index.handler"),
		Role: aws.String(cpRole), Code: &types.FunctionCode{ZipFile: zip},
		DeadLetterConfig: &types.DeadLetterConfig{TargetArn: aws.String("arn:aws:sns:us-east-1:000000000000:topic")},
	})
	cpWantErr(t, err, "InvalidParameterValueException", 400, "Gust takes only a Gust queue, written as an SQS ARN")

	out := cpCreate(t, c, "dlq-sqs", zip, withDLQ(eicQueue))
	if out.DeadLetterConfig == nil || aws.ToString(out.DeadLetterConfig.TargetArn) != eicQueue {
		t.Errorf("create DeadLetterConfig = %+v, want %s", out.DeadLetterConfig, eicQueue)
	}
	for _, arn := range []string{"arn:aws:sns:us-east-1:000000000000:topic", cpARN + "dlq-sqs", "dlq"} {
		_, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
			FunctionName: aws.String("dlq-sqs"), DeadLetterConfig: &types.DeadLetterConfig{TargetArn: aws.String(arn)},
		})
		cpWantErr(t, err, "InvalidParameterValueException", 400, "The dead-letter queue target "+arn+" is not supported")
	}
	conf := cpConfig(t, c, "dlq-sqs")
	if conf.DeadLetterConfig == nil || aws.ToString(conf.DeadLetterConfig.TargetArn) != eicQueue {
		t.Errorf("after refused updates DeadLetterConfig = %+v, want %s", conf.DeadLetterConfig, eicQueue)
	}
	// An empty TargetArn removes the queue.
	if _, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String("dlq-sqs"), DeadLetterConfig: &types.DeadLetterConfig{TargetArn: aws.String("")},
	}); err != nil {
		t.Fatalf("clear the dead-letter queue: %v", err)
	}
	if conf := cpConfig(t, c, "dlq-sqs"); conf.DeadLetterConfig != nil {
		t.Errorf("after clearing DeadLetterConfig = %+v, want none", conf.DeadLetterConfig)
	}
}
