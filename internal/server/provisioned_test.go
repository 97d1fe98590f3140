package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"gust/internal/gusttest"
)

// This file tests provisioned concurrency: the four operations, the
// environments kept initialised ahead of demand, spill-over to on-demand
// environments, and configs surviving a restart.

var provisionedLastModifiedRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$`)

// reportLine returns the REPORT line of inv's log tail.
func reportLine(t *testing.T, inv invocation) string {
	t.Helper()
	for _, l := range strings.Split(inv.Log, "\n") {
		if strings.HasPrefix(l, "REPORT RequestId: "+inv.RequestID) {
			return l
		}
	}
	t.Fatalf("no REPORT line for %s in:\n%s", inv.RequestID, inv.Log)
	return ""
}

// envInitType reads AWS_LAMBDA_INITIALIZATION_TYPE from the host-visible
// environment of the runtime of the environment whose log stream is stream.
func envInitType(t *testing.T, stream string) string {
	t.Helper()
	pids := gusttest.EnvProcesses(stream)
	if len(pids) == 0 {
		t.Fatalf("no process of environment %s runs on the host", stream)
	}
	environ, err := os.ReadFile("/proc/" + strconv.Itoa(pids[0]) + "/environ")
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range bytes.Split(environ, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("AWS_LAMBDA_INITIALIZATION_TYPE=")); ok {
			return string(v)
		}
	}
	return ""
}

func getProvisioned(c *lambda.Client, name, qualifier string) (*lambda.GetProvisionedConcurrencyConfigOutput, error) {
	return c.GetProvisionedConcurrencyConfig(context.Background(), &lambda.GetProvisionedConcurrencyConfigInput{
		FunctionName: aws.String(name), Qualifier: aws.String(qualifier)})
}

// waitReady polls GetProvisionedConcurrencyConfig until READY and checks
// that n environments are then available and allocated.
func waitReady(t *testing.T, c *lambda.Client, name, qualifier string, n int32) {
	t.Helper()
	var got *lambda.GetProvisionedConcurrencyConfigOutput
	gusttest.WaitFor(t, 30*time.Second, name+":"+qualifier+" to be READY", func() bool {
		out, err := getProvisioned(c, name, qualifier)
		if err != nil {
			t.Fatalf("GetProvisionedConcurrencyConfig: %v", err)
		}
		got = out
		return out.Status == types.ProvisionedConcurrencyStatusEnumReady
	})
	if aws.ToInt32(got.AvailableProvisionedConcurrentExecutions) != n || aws.ToInt32(got.AllocatedProvisionedConcurrentExecutions) != n ||
		aws.ToInt32(got.RequestedProvisionedConcurrentExecutions) != n {
		t.Errorf("READY config = requested %d, available %d, allocated %d; want %d of each", aws.ToInt32(got.RequestedProvisionedConcurrentExecutions),
			aws.ToInt32(got.AvailableProvisionedConcurrentExecutions), aws.ToInt32(got.AllocatedProvisionedConcurrentExecutions), n)
	}
}

func TestProvisionedConcurrency(t *testing.T) {
	t.Parallel()
	s := gusttest.StartServer(t)
	c := s.Lambda()
	ctx := context.Background()
	createFunction(t, c, "pc", types.RuntimeProvidedal2023, "bootstrap", goFunctionZip(t))
	publish(t, c, "pc")
	if _, err := c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("pc"), Name: aws.String("live"), FunctionVersion: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	put := func(qualifier string, n int32) (*lambda.PutProvisionedConcurrencyConfigOutput, error) {
		return c.PutProvisionedConcurrencyConfig(ctx, &lambda.PutProvisionedConcurrencyConfigInput{
			FunctionName: aws.String("pc"), Qualifier: aws.String(qualifier), ProvisionedConcurrentExecutions: aws.Int32(n)})
	}

	// Refusals, in the service's words.
	_, err := put("$LATEST", 1)
	wantAPIError(t, err, "InvalidParameterValueException", "Provisioned Concurrency Configs cannot be applied to unpublished function versions.")
	_, err = getProvisioned(c, "pc", "$LATEST")
	wantAPIError(t, err, "InvalidParameterValueException", "The function resource provided must be an alias or a published version.")
	_, err = put("1", 0)
	wantAPIError(t, err, "ValidationException", "Value '0' at 'provisionedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 1")
	_, err = put("nope", 1)
	wantAPIError(t, err, "ResourceNotFoundException", "Cannot find alias arn: "+functionARN("pc")+":nope")
	_, err = put("7", 1)
	wantAPIError(t, err, "ResourceNotFoundException", "Function not found: "+functionARN("pc")+":7")
	_, err = getProvisioned(c, "pc", "1")
	apiError(t, err, 404, "ProvisionedConcurrencyConfigNotFoundException")
	wantAPIError(t, err, "ProvisionedConcurrencyConfigNotFoundException", "No Provisioned Concurrency Config found for this function")

	// Put answers 202 IN_PROGRESS; the environments start ahead of demand.
	out, err := put("live", 2)
	if err != nil {
		t.Fatalf("PutProvisionedConcurrencyConfig: %v", err)
	}
	if raw, ok := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response); !ok || raw.StatusCode != 202 {
		t.Errorf("Put answered %v, want HTTP 202", awsmiddleware.GetRawResponse(out.ResultMetadata))
	}
	if out.Status != types.ProvisionedConcurrencyStatusEnumInProgress || aws.ToInt32(out.RequestedProvisionedConcurrentExecutions) != 2 ||
		!provisionedLastModifiedRE.MatchString(aws.ToString(out.LastModified)) {
		t.Errorf("Put = status %s, requested %d, LastModified %q; want IN_PROGRESS, 2, 2006-01-02T15:04:05.000+0000",
			out.Status, aws.ToInt32(out.RequestedProvisionedConcurrentExecutions), aws.ToString(out.LastModified))
	}
	_, err = put("1", 1)
	wantAPIError(t, err, "ResourceConflictException", "Version is pointed by a Provisioned Concurrency alias")

	// Limits: the function's reservation, else the account's unreserved
	// concurrency (1000 here), which must keep 100.
	_, err = put("live", 1001)
	wantAPIError(t, err, "InvalidParameterValueException", "Specified ConcurrentExecutions for function is greater than account's unreserved concurrency [1000].")
	_, err = put("live", 901)
	wantAPIError(t, err, "InvalidParameterValueException", "Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100].")
	if _, err := c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("pc"), ReservedConcurrentExecutions: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	_, err = put("live", 2)
	wantAPIError(t, err, "InvalidParameterValueException", "Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function")
	if _, err := c.DeleteFunctionConcurrency(ctx, &lambda.DeleteFunctionConcurrencyInput{FunctionName: aws.String("pc")}); err != nil {
		t.Fatal(err)
	}
	waitReady(t, c, "pc", "live", 2)
	if st := s.Pool().Stats(); st.Total != 2 || st.Idle != 2 {
		t.Fatalf("pool before any invoke = %+v, want 2 idle environments", st)
	}

	// Two invocations held busy take the provisioned environments, which
	// were initialised as such and report no Init Duration; a third
	// spills over to an on-demand cold start.
	var (
		wg      sync.WaitGroup
		heldOut [2]*lambda.InvokeOutput
		heldErr [2]error
	)
	for i := range heldOut {
		wg.Add(1)
		go func() {
			defer wg.Done()
			heldOut[i], heldErr[i] = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("pc:live"),
				Payload: []byte(`{"action":"sleep","ms":1000}`), LogType: types.LogTypeTail})
		}()
	}
	gusttest.WaitFor(t, 10*time.Second, "two busy environments", func() bool { return s.Pool().Stats().Busy == 2 })
	spill := invokeTail(t, c, "pc:live", `{}`)
	mustSucceed(t, spill)
	wg.Wait()
	streams := map[string]bool{}
	for i, out := range heldOut {
		if heldErr[i] != nil {
			t.Fatalf("held invocation: %v", heldErr[i])
		}
		inv := tailOf(t, out)
		mustSucceed(t, inv)
		stream := decode[versionReplyStream](t, inv.Payload).LogStreamName
		streams[stream] = true
		if l := reportLine(t, inv); strings.Contains(l, "Init Duration") {
			t.Errorf("invocation on a provisioned environment reports an init: %q", l)
		}
		if got := envInitType(t, stream); got != "provisioned-concurrency" {
			t.Errorf("provisioned environment's AWS_LAMBDA_INITIALIZATION_TYPE = %q", got)
		}
	}
	spillStream := decode[versionReplyStream](t, spill.Payload).LogStreamName
	if len(streams) != 2 || streams[spillStream] {
		t.Errorf("environments: held %v, spill-over %s; want three different ones", streams, spillStream)
	}
	if l := reportLine(t, spill); !strings.Contains(l, "Init Duration") {
		t.Errorf("spill-over invocation's REPORT has no Init Duration: %q", l)
	}
	if got := envInitType(t, spillStream); got != "on-demand" {
		t.Errorf("spill-over environment's AWS_LAMBDA_INITIALIZATION_TYPE = %q, want on-demand", got)
	}

	// List=ALL lists the config under its qualified ARN.
	list, err := c.ListProvisionedConcurrencyConfigs(ctx, &lambda.ListProvisionedConcurrencyConfigsInput{FunctionName: aws.String("pc")})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.ProvisionedConcurrencyConfigs) != 1 || list.NextMarker != nil {
		t.Fatalf("List = %+v, want one config on one page", list)
	}
	item := list.ProvisionedConcurrencyConfigs[0]
	if aws.ToString(item.FunctionArn) != functionARN("pc")+":live" || aws.ToInt32(item.RequestedProvisionedConcurrentExecutions) != 2 ||
		item.Status != types.ProvisionedConcurrencyStatusEnumReady {
		t.Errorf("List item = arn %s requested %d status %s; want %s:live, 2, READY",
			aws.ToString(item.FunctionArn), aws.ToInt32(item.RequestedProvisionedConcurrentExecutions), item.Status, functionARN("pc"))
	}

	// The config survives a restart and is READY again, before any invoke.
	s = s.Restart(t)
	c = s.Lambda()
	waitReady(t, c, "pc", "live", 2)
	if st := s.Pool().Stats(); st.Total != 2 {
		t.Errorf("pool after restart = %+v, want the 2 provisioned environments", st)
	}

	// Delete stops them; deleting again is not an error, as in Lambda.
	for range 2 {
		if _, err := c.DeleteProvisionedConcurrencyConfig(ctx, &lambda.DeleteProvisionedConcurrencyConfigInput{
			FunctionName: aws.String("pc"), Qualifier: aws.String("live")}); err != nil {
			t.Fatalf("DeleteProvisionedConcurrencyConfig: %v", err)
		}
	}
	gusttest.WaitFor(t, 10*time.Second, "the provisioned environments to stop", func() bool { return s.Pool().Stats().Total == 0 })
	_, err = getProvisioned(c, "pc", "live")
	apiError(t, err, 404, "ProvisionedConcurrencyConfigNotFoundException")
	list, err = c.ListProvisionedConcurrencyConfigs(ctx, &lambda.ListProvisionedConcurrencyConfigsInput{FunctionName: aws.String("pc")})
	if err != nil || len(list.ProvisionedConcurrencyConfigs) != 0 {
		t.Errorf("List after Delete = %+v, %v; want none", list, err)
	}
}

// tailOf is invokeTail's view of an Invoke made elsewhere.
func tailOf(t *testing.T, out *lambda.InvokeOutput) invocation {
	t.Helper()
	inv := invocation{InvokeOutput: out}
	inv.RequestID, _ = awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	logb, err := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
	if err != nil {
		t.Fatalf("LogResult is not base64: %v", err)
	}
	inv.Log = string(logb)
	return inv
}

// versionReplyStream is the part of testdata/gofn's reply naming its
// environment.
type versionReplyStream struct {
	LogStreamName string `json:"logStreamName"`
}
