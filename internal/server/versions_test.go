package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"gust/internal/gusttest"
)

// This file tests versions: PublishVersion, ListVersionsByFunction,
// Publish on create and update, qualified reads, invokes and deletes.

// versionReply is what testdata/gofn reports of the version it runs.
type versionReply struct {
	InvokedFunctionArn string            `json:"invokedFunctionArn"`
	FunctionVersion    string            `json:"functionVersion"`
	Env                map[string]string `json:"env"`
}

func invokeVersion(t *testing.T, c *lambda.Client, name string) (versionReply, string) {
	t.Helper()
	inv := invokeTail(t, c, name, `{}`)
	mustSucceed(t, inv)
	var r versionReply
	if err := json.Unmarshal(inv.Payload, &r); err != nil {
		t.Fatalf("invoke %s: reply %s: %v", name, inv.Payload, err)
	}
	return r, aws.ToString(inv.ExecutedVersion)
}

func withSetting(v string) func(*lambda.CreateFunctionInput) {
	return func(in *lambda.CreateFunctionInput) {
		in.Environment = &types.Environment{Variables: map[string]string{"MY_SETTING": v}}
	}
}

func setSetting(t *testing.T, c *lambda.Client, name, v string) *lambda.UpdateFunctionConfigurationOutput {
	t.Helper()
	out, err := c.UpdateFunctionConfiguration(context.Background(), &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String(name),
		Environment:  &types.Environment{Variables: map[string]string{"MY_SETTING": v}},
	})
	if err != nil {
		t.Fatalf("update %s: %v", name, err)
	}
	return out
}

func publish(t *testing.T, c *lambda.Client, name string) *lambda.PublishVersionOutput {
	t.Helper()
	out, err := c.PublishVersion(context.Background(), &lambda.PublishVersionInput{FunctionName: aws.String(name)})
	if err != nil {
		t.Fatalf("publish %s: %v", name, err)
	}
	return out
}

func TestPublishVersion(t *testing.T) {
	t.Parallel()
	s := gusttest.StartServer(t)
	c := s.Lambda()
	ctx := context.Background()
	created := createFunction(t, c, "pv", types.RuntimeProvidedal2023, "bootstrap", goFunctionZip(t), withSetting("one"))

	v1 := publish(t, c, "pv")
	if aws.ToString(v1.Version) != "1" || aws.ToString(v1.FunctionArn) != functionARN("pv")+":1" {
		t.Fatalf("first publish = version %q arn %q, want 1 and the qualified ARN", aws.ToString(v1.Version), aws.ToString(v1.FunctionArn))
	}
	if aws.ToString(v1.CodeSha256) != aws.ToString(created.CodeSha256) || v1.State != types.StateActive || v1.LastUpdateStatus != types.LastUpdateStatusSuccessful {
		t.Errorf("version 1 = sha %s state %s/%s, want $LATEST's sha, Active, Successful", aws.ToString(v1.CodeSha256), v1.State, v1.LastUpdateStatus)
	}
	if aws.ToString(v1.RevisionId) == aws.ToString(created.RevisionId) {
		t.Errorf("version 1 shares $LATEST's RevisionId; each version has its own")
	}
	if again := publish(t, c, "pv"); aws.ToString(again.Version) != "1" {
		t.Errorf("publishing an unchanged $LATEST gave version %s, want the existing 1", aws.ToString(again.Version))
	}

	// A published version is frozen: $LATEST moves on, version 1 does not.
	setSetting(t, c, "pv", "two")
	v2 := publish(t, c, "pv")
	if aws.ToString(v2.Version) != "2" {
		t.Fatalf("publish after a change = %s, want 2", aws.ToString(v2.Version))
	}
	setSetting(t, c, "pv", "three")
	for _, tc := range []struct{ name, setting, version, arn string }{
		{"pv:1", "one", "1", functionARN("pv") + ":1"},
		{"pv:2", "two", "2", functionARN("pv") + ":2"},
		{"pv", "three", "$LATEST", functionARN("pv")},
		{functionARN("pv") + ":1", "one", "1", functionARN("pv") + ":1"},
	} {
		r, executed := invokeVersion(t, c, tc.name)
		if r.Env["MY_SETTING"] != tc.setting || r.FunctionVersion != tc.version || executed != tc.version || r.InvokedFunctionArn != tc.arn {
			t.Errorf("invoke %s: setting %q version %q (executed %q) arn %q; want %q %q %q", tc.name,
				r.Env["MY_SETTING"], r.FunctionVersion, executed, r.InvokedFunctionArn, tc.setting, tc.version, tc.arn)
		}
	}
	// Both versions and $LATEST stay warm side by side after the update.
	if st := s.Pool().Stats(); st.Idle < 3 {
		t.Errorf("pool = %+v, want $LATEST, 1 and 2 each warm", st)
	}

	// Qualified reads, by ?Qualifier= and by qualified ARN.
	conf, err := c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("pv"), Qualifier: aws.String("1")})
	if err != nil || conf.Environment.Variables["MY_SETTING"] != "one" || aws.ToString(conf.Version) != "1" {
		t.Errorf("GetFunctionConfiguration pv:1 = %+v, %v", conf, err)
	}
	got, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(functionARN("pv") + ":2")})
	if err != nil || aws.ToString(got.Configuration.Version) != "2" || aws.ToString(got.Configuration.FunctionArn) != functionARN("pv")+":2" {
		t.Errorf("GetFunction by qualified ARN = %+v, %v", got, err)
	}
	_, err = c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("pv"), Qualifier: aws.String("9")})
	wantAPIError(t, err, "ResourceNotFoundException", "Function not found: "+functionARN("pv")+":9")

	// Preconditions.
	_, err = c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("pv"), RevisionId: aws.String("stale")})
	wantAPIError(t, err, "PreconditionFailedException", "")
	_, err = c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("pv"), CodeSha256: aws.String("AAAA")})
	wantAPIError(t, err, "InvalidParameterValueException", "CodeSHA256 (AAAA) is different from current CodeSHA256 in $LATEST")
	_, err = c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("nope")})
	wantAPIError(t, err, "ResourceNotFoundException", "Function not found: "+functionARN("nope"))

	// Version numbers are never reused, even after a delete.
	if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("pv"), Qualifier: aws.String("2")}); err != nil {
		t.Fatalf("delete version 2: %v", err)
	}
	_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("pv:2")})
	wantAPIError(t, err, "ResourceNotFoundException", "Function not found: "+functionARN("pv")+":2")
	v3, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("pv"), Description: aws.String("third")})
	if err != nil || aws.ToString(v3.Version) != "3" || aws.ToString(v3.Description) != "third" {
		t.Fatalf("publish after deleting 2 = %+v, %v; want version 3 described \"third\"", v3, err)
	}
	_, err = c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("pv"), Qualifier: aws.String("$LATEST")})
	wantAPIError(t, err, "InvalidParameterValueException", "$LATEST version cannot be deleted")

	var versions []string
	p := lambda.NewListVersionsByFunctionPaginator(c, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String("pv")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("list versions: %v", err)
		}
		for _, v := range page.Versions {
			versions = append(versions, aws.ToString(v.Version))
		}
	}
	if strings.Join(versions, ",") != "$LATEST,1,3" {
		t.Errorf("versions = %v, want $LATEST,1,3", versions)
	}

	// Deleting the function removes every version.
	if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("pv")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("pv:1")})
	wantAPIError(t, err, "ResourceNotFoundException", "")
}

func TestPublishOnCreateAndUpdate(t *testing.T) {
	t.Parallel()
	s := gusttest.StartServer(t)
	c := s.Lambda()
	ctx := context.Background()
	out := createFunction(t, c, "pub", types.RuntimeProvidedal2023, "bootstrap", goFunctionZip(t), func(in *lambda.CreateFunctionInput) {
		in.Publish = true
	})
	if aws.ToString(out.Version) != "1" || aws.ToString(out.FunctionArn) != functionARN("pub")+":1" {
		t.Errorf("CreateFunction with Publish = version %q arn %q, want 1", aws.ToString(out.Version), aws.ToString(out.FunctionArn))
	}
	up, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("pub"), ZipFile: goFunctionZip(t), Publish: true})
	if err != nil {
		t.Fatal(err)
	}
	// The same zip: the code is unchanged but $LATEST got a new revision,
	// which Lambda publishes as a new version.
	if aws.ToString(up.Version) != "2" {
		t.Errorf("UpdateFunctionCode with Publish = version %q, want 2", aws.ToString(up.Version))
	}
	fns, err := c.ListFunctions(ctx, &lambda.ListFunctionsInput{FunctionVersion: types.FunctionVersionAll})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fns.Functions {
		got = append(got, aws.ToString(f.FunctionName)+":"+aws.ToString(f.Version))
	}
	if strings.Join(got, ",") != "pub:$LATEST,pub:1,pub:2" {
		t.Errorf("ListFunctions ALL = %v", got)
	}
}

// TestVersionPaginators pages through 60 versions and 120 functions with
// the SDK's paginators at a small page size.
func TestVersionPaginators(t *testing.T) {
	if testing.Short() {
		t.Skip("does not depend on the sandbox; the full run covers it")
	}
	t.Parallel()
	s := gusttest.StartServer(t)
	c := s.Lambda()
	ctx := context.Background()
	zip := gusttest.Zip(t, map[string]string{"index.py": "def handler(e, c):\n    return e\n"})
	for i := range 120 {
		createFunction(t, c, fmt.Sprintf("page-%03d", i), types.RuntimePython312, "index.handler", zip)
	}
	for i := range 60 {
		setSetting(t, c, "page-000", fmt.Sprint(i))
		if v := publish(t, c, "page-000"); aws.ToString(v.Version) != fmt.Sprint(i+1) {
			t.Fatalf("publish %d gave version %s", i+1, aws.ToString(v.Version))
		}
	}
	var versions []string
	vp := lambda.NewListVersionsByFunctionPaginator(c, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String("page-000"), MaxItems: aws.Int32(7)})
	for vp.HasMorePages() {
		page, err := vp.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Versions) > 7 {
			t.Fatalf("page of %d versions, want ≤ 7", len(page.Versions))
		}
		for _, v := range page.Versions {
			versions = append(versions, aws.ToString(v.Version))
		}
	}
	if len(versions) != 61 || versions[0] != "$LATEST" || versions[60] != "60" {
		t.Errorf("versions = %d (%v…), want $LATEST then 1..60", len(versions), versions[:min(3, len(versions))])
	}
	seen := map[string]bool{}
	fp := lambda.NewListFunctionsPaginator(c, &lambda.ListFunctionsInput{})
	for fp.HasMorePages() {
		page, err := fp.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Functions) > 50 {
			t.Fatalf("page of %d functions, want ≤ 50", len(page.Functions))
		}
		for _, f := range page.Functions {
			if seen[aws.ToString(f.FunctionName)] {
				t.Fatalf("function %s listed twice", aws.ToString(f.FunctionName))
			}
			seen[aws.ToString(f.FunctionName)] = true
		}
	}
	if len(seen) != 120 {
		t.Errorf("listed %d functions, want 120", len(seen))
	}
	all := 0
	ap := lambda.NewListFunctionsPaginator(c, &lambda.ListFunctionsInput{FunctionVersion: types.FunctionVersionAll, MaxItems: aws.Int32(13)})
	for ap.HasMorePages() {
		page, err := ap.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		all += len(page.Functions)
	}
	if all != 120+60 {
		t.Errorf("ListFunctions ALL listed %d, want 180", all)
	}
}

// wantAPIError fails unless err is an AWS API error with code and a
// message containing msg.
func wantAPIError(t *testing.T, err error, code, msg string) {
	t.Helper()
	var ae interface {
		ErrorCode() string
		ErrorMessage() string
	}
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want %s", err, code)
	}
	if ae.ErrorCode() != code || !strings.Contains(ae.ErrorMessage(), msg) {
		t.Errorf("err = %s: %s; want %s containing %q", ae.ErrorCode(), ae.ErrorMessage(), code, msg)
	}
}
