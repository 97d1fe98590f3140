package server_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"gust/internal/gusttest"
)

// This file tests aliases: their operations, and invoking through one,
// including weighted routing between two versions.

func TestAliases(t *testing.T) {
	t.Parallel()
	s := gusttest.StartServer(t)
	c := s.Lambda()
	ctx := context.Background()
	createFunction(t, c, "al", types.RuntimeProvidedal2023, "bootstrap", goFunctionZip(t), withSetting("one"))
	publish(t, c, "al")
	setSetting(t, c, "al", "two")
	publish(t, c, "al")

	prod, err := c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("al"), Name: aws.String("prod"),
		FunctionVersion: aws.String("1"), Description: aws.String("production")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(prod.AliasArn) != functionARN("al")+":prod" || aws.ToString(prod.FunctionVersion) != "1" || aws.ToString(prod.RevisionId) == "" {
		t.Errorf("CreateAlias = %+v", prod)
	}
	_, err = c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("al"), Name: aws.String("prod"), FunctionVersion: aws.String("2")})
	wantAPIError(t, err, "ResourceConflictException", "Alias already exists: "+functionARN("al")+":prod")
	_, err = c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("al"), Name: aws.String("123"), FunctionVersion: aws.String("1")})
	wantAPIError(t, err, "ValidationException", "")
	_, err = c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("al"), Name: aws.String("x"), FunctionVersion: aws.String("7")})
	wantAPIError(t, err, "ResourceNotFoundException", functionARN("al")+":7")
	_, err = c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("al"), Name: aws.String("x"), FunctionVersion: aws.String("1"),
		RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{"2": 1.5}}})
	wantAPIError(t, err, "ValidationException", "")
	_, err = c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("al"), Name: aws.String("x"), FunctionVersion: aws.String("$LATEST"),
		RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{"2": 0.5}}})
	wantAPIError(t, err, "InvalidParameterValueException", "")

	// Invoking through the alias runs its version and passes the alias ARN.
	r, executed := invokeVersion(t, c, "al:prod")
	if r.Env["MY_SETTING"] != "one" || executed != "1" || r.FunctionVersion != "1" || r.InvokedFunctionArn != functionARN("al")+":prod" {
		t.Errorf("invoke al:prod = %+v executed %s", r, executed)
	}
	inv := invokeTail(t, c, "al", `{}`, func(in *lambda.InvokeInput) { in.Qualifier = aws.String("prod") })
	if !strings.Contains(inv.Log, "Version: 1") {
		t.Errorf("START line of an alias invoke does not name version 1:\n%s", inv.Log)
	}
	conf, err := c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("al"), Qualifier: aws.String("prod")})
	if err != nil || aws.ToString(conf.Version) != "1" || aws.ToString(conf.FunctionArn) != functionARN("al")+":prod" {
		t.Errorf("GetFunctionConfiguration al:prod = %+v, %v", conf, err)
	}

	// Update: stale RevisionId refused, then repointed.
	_, err = c.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("al"), Name: aws.String("prod"), FunctionVersion: aws.String("2"), RevisionId: aws.String("stale")})
	wantAPIError(t, err, "PreconditionFailedException", "")
	up, err := c.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("al"), Name: aws.String("prod"), FunctionVersion: aws.String("2"), RevisionId: prod.RevisionId})
	if err != nil || aws.ToString(up.FunctionVersion) != "2" || aws.ToString(up.Description) != "production" || aws.ToString(up.RevisionId) == aws.ToString(prod.RevisionId) {
		t.Fatalf("UpdateAlias = %+v, %v", up, err)
	}
	if r, _ := invokeVersion(t, c, "al:prod"); r.Env["MY_SETTING"] != "two" {
		t.Errorf("after repointing, al:prod ran %+v, want version 2", r)
	}

	// A version an alias routes to cannot be deleted.
	_, err = c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("al"), Qualifier: aws.String("2")})
	wantAPIError(t, err, "ResourceConflictException", "[prod]")

	if _, err := c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("al"), Name: aws.String("beta"), FunctionVersion: aws.String("$LATEST")}); err != nil {
		t.Fatal(err)
	}
	list, err := c.ListAliases(ctx, &lambda.ListAliasesInput{FunctionName: aws.String("al")})
	if err != nil || len(list.Aliases) != 2 || aws.ToString(list.Aliases[0].Name) != "beta" || aws.ToString(list.Aliases[1].Name) != "prod" {
		t.Errorf("ListAliases = %+v, %v", list, err)
	}
	only, err := c.ListAliases(ctx, &lambda.ListAliasesInput{FunctionName: aws.String("al"), FunctionVersion: aws.String("2")})
	if err != nil || len(only.Aliases) != 1 || aws.ToString(only.Aliases[0].Name) != "prod" {
		t.Errorf("ListAliases FunctionVersion=2 = %+v, %v", only, err)
	}

	if _, err := c.DeleteAlias(ctx, &lambda.DeleteAliasInput{FunctionName: aws.String("al"), Name: aws.String("prod")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String("al"), Name: aws.String("prod")})
	wantAPIError(t, err, "ResourceNotFoundException", "Cannot find alias arn: "+functionARN("al")+":prod")
	_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("al:prod")})
	wantAPIError(t, err, "ResourceNotFoundException", "Function not found: "+functionARN("al")+":prod")
	if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("al"), Qualifier: aws.String("2")}); err != nil {
		t.Errorf("delete version 2 once no alias uses it: %v", err)
	}
}

// TestAliasWeightedRouting invokes an alias 10,000 times at weight 0.2
// and checks the split lands within ±2 percentage points.
func TestAliasWeightedRouting(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 invocations")
	}
	t.Parallel()
	s := gusttest.StartServer(t)
	c := s.Lambda()
	ctx := context.Background()
	createFunction(t, c, "split", types.RuntimeProvidedal2023, "bootstrap", goFunctionZip(t), withSetting("one"))
	publish(t, c, "split")
	setSetting(t, c, "split", "two")
	publish(t, c, "split")
	if _, err := c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("split"), Name: aws.String("live"), FunctionVersion: aws.String("1"),
		RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{"2": 0.2}}}); err != nil {
		t.Fatal(err)
	}
	const total, workers = 10000, 4
	var v1, v2 atomic.Int64
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for next.Add(1) <= total {
				out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("split:live"), Payload: []byte(`{}`)})
				if err != nil {
					t.Errorf("invoke: %v", err)
					return
				}
				switch aws.ToString(out.ExecutedVersion) {
				case "1":
					v1.Add(1)
				case "2":
					v2.Add(1)
				default:
					t.Errorf("executed version %q", aws.ToString(out.ExecutedVersion))
					return
				}
			}
		})
	}
	wg.Wait()
	share := float64(v2.Load()) / float64(v1.Load()+v2.Load())
	t.Logf("version 2 ran %d of %d (%.2f%%)", v2.Load(), v1.Load()+v2.Load(), share*100)
	if share < 0.18 || share > 0.22 {
		t.Errorf("version 2 share = %.4f, want 0.20 ± 0.02", share)
	}
}
