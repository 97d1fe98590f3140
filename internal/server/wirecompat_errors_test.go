package server_test

// The error half of the wire-compatibility table (docs/lambda-compat.md
// §2): for every operation family a not-found, then each other code the
// spec lists that a client can provoke. Every error reply must carry its
// code in X-Amzn-ErrorType, x-amzn-RequestId, and the JSON body
// {"Type":"User","Message":…} (plus Reason on a throttle) and nothing else.

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"gust/internal/gusttest"
)

// wcErr is one request that must fail, and how.
type wcErr struct {
	op     string
	req    wcRequest
	status int
	code   string
	msg    string // the Message must contain it ("" = any message)
	reason string // TooManyRequestsException's Reason
}

// check checks r against the case.
func (c wcErr) check(t *testing.T, r wcReply) {
	t.Helper()
	wcCheckCommon(t, c.op, r)
	if r.status != c.status || r.header.Get("X-Amzn-ErrorType") != c.code {
		t.Errorf("%s %s %s: %d %s, want %d %s; body %s", c.op, c.req.method, c.req.path,
			r.status, r.header.Get("X-Amzn-ErrorType"), c.status, c.code, r.body)
		return
	}
	body, ok := r.json.(map[string]any)
	if !ok {
		t.Errorf("%s: error body is not a JSON object: %q", c.op, r.body)
		return
	}
	for k := range body {
		if k != "Type" && k != "Message" && !(k == "Reason" && c.reason != "") {
			t.Errorf("%s: error body has %q: %s", c.op, k, r.body)
		}
	}
	if body["Type"] != "User" {
		t.Errorf("%s: Type = %#v, want \"User\"", c.op, body["Type"])
	}
	if msg, _ := body["Message"].(string); msg == "" || !strings.Contains(msg, c.msg) {
		t.Errorf("%s: Message = %q, want one containing %q", c.op, msg, c.msg)
	}
	if c.reason != "" {
		if body["Reason"] != c.reason {
			t.Errorf("%s: Reason = %#v, want %q", c.op, body["Reason"], c.reason)
		}
		if r.header.Get("Retry-After") == "" {
			t.Errorf("%s: no Retry-After header on a throttle", c.op)
		}
	}
}

func TestWireCompatErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("does not depend on the sandbox; the full run covers it")
	}
	t.Parallel()
	s := gusttest.StartServer(t)
	c := s.Lambda()
	ctx := context.Background()

	// "we": $LATEST past its first revision, version 1, alias live → 1, a
	// policy statement "taken" on the function. "off": reserved
	// concurrency 0, so every invoke is throttled.
	zip := wcZip(t, "A")
	stale := aws.ToString(createFunction(t, c, "we", types.RuntimeNodejs20x, "index.handler", zip).RevisionId)
	for _, step := range []func() error{
		func() error {
			_, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("we"), Description: aws.String("v1")})
			return err
		},
		func() error {
			_, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("we")})
			return err
		},
		func() error {
			_, err := c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("we"), Name: aws.String("live"), FunctionVersion: aws.String("1")})
			return err
		},
		func() error {
			_, err := c.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("we"), StatementId: aws.String("taken"),
				Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("s3.amazonaws.com")})
			return err
		},
	} {
		if err := step(); err != nil {
			t.Fatalf("setup: %v", err)
		}
	}
	createFunction(t, c, "off", types.RuntimeNodejs20x, "index.handler", zip)
	mustPutReserved(t, c, "off", 0)

	const (
		fn   = "/2015-03-31/functions/"
		nope = fn + "nope"
		we   = fn + "we"
	)
	nopeARN := functionARN("nope")
	notFound := "Function not found: " + nopeARN
	zipBody := `{"ZipFile":"` + base64.StdEncoding.EncodeToString(zip) + `"}`
	tags := func(arn string) string { return "/2017-03-31/tags/" + wcLabel(arn) }
	rnf := func(op, method, path, body, msg string) wcErr {
		return wcErr{op: op, req: wcRequest{method: method, path: path, body: body}, status: 404, code: "ResourceNotFoundException", msg: msg}
	}
	e := func(op, method, path, body string, status int, code, msg string) wcErr {
		return wcErr{op: op, req: wcRequest{method: method, path: path, body: body}, status: status, code: code, msg: msg}
	}
	const (
		conflict     = "ResourceConflictException"
		precondition = "PreconditionFailedException"
		invalid      = "InvalidParameterValueException"
		badContent   = "InvalidRequestContentException"
		tooLarge     = "RequestEntityTooLargeException"
		revision     = "The Revision Id provided does not match the latest Revision Id"
	)
	sixMiB := strings.Repeat(" ", 6<<20) + "{}"      // a JSON payload one request too large
	oneMiB := `"` + strings.Repeat("x", 1<<20) + `"` // too large for an Event invoke only

	cases := []wcErr{
		// Not found, one or more per operation family.
		rnf("GetFunction", "GET", nope, "", notFound),
		rnf("GetFunctionConfiguration", "GET", nope+"/configuration", "", notFound),
		rnf("UpdateFunctionConfiguration", "PUT", nope+"/configuration", `{"Description":"x"}`, notFound),
		rnf("UpdateFunctionCode", "PUT", nope+"/code", zipBody, notFound),
		rnf("DeleteFunction", "DELETE", nope, "", notFound),
		rnf("DeleteFunction (version)", "DELETE", we+"?Qualifier=9", "", functionARN("we")+":9"),
		rnf("PublishVersion", "POST", nope+"/versions", "", notFound),
		rnf("ListVersionsByFunction", "GET", nope+"/versions", "", notFound),
		rnf("Invoke", "POST", nope+"/invocations", "{}", notFound),
		rnf("Invoke (version)", "POST", we+"/invocations?Qualifier=9", "{}", functionARN("we")+":9"),
		rnf("InvokeAsync", "POST", "/2014-11-13/functions/nope/invoke-async", "{}", notFound),
		rnf("CreateAlias", "POST", nope+"/aliases", `{"Name":"a","FunctionVersion":"1"}`, notFound),
		rnf("CreateAlias (version)", "POST", we+"/aliases", `{"Name":"a","FunctionVersion":"9"}`, functionARN("we")+":9"),
		rnf("GetAlias", "GET", we+"/aliases/gone", "", functionARN("we")+":gone"),
		rnf("UpdateAlias", "PUT", we+"/aliases/gone", `{"Description":"x"}`, functionARN("we")+":gone"),
		rnf("ListAliases", "GET", nope+"/aliases", "", notFound),
		rnf("PutFunctionConcurrency", "PUT", "/2017-10-31/functions/nope/concurrency", `{"ReservedConcurrentExecutions":1}`, nopeARN),
		rnf("GetFunctionConcurrency", "GET", "/2019-09-30/functions/nope/concurrency", "", notFound),
		rnf("DeleteFunctionConcurrency", "DELETE", "/2017-10-31/functions/nope/concurrency", "", notFound),
		rnf("PutProvisionedConcurrencyConfig", "PUT", "/2019-09-30/functions/nope/provisioned-concurrency?Qualifier=1",
			`{"ProvisionedConcurrentExecutions":1}`, nopeARN+":1"),
		rnf("GetProvisionedConcurrencyConfig", "GET", "/2019-09-30/functions/nope/provisioned-concurrency?Qualifier=1", "", nopeARN+":1"),
		rnf("ListProvisionedConcurrencyConfigs", "GET", "/2019-09-30/functions/nope/provisioned-concurrency?List=ALL", "", notFound),
		rnf("DeleteProvisionedConcurrencyConfig", "DELETE", "/2019-09-30/functions/nope/provisioned-concurrency?Qualifier=1", "", nopeARN+":1"),
		e("GetProvisionedConcurrencyConfig (none)", "GET", "/2019-09-30/functions/we/provisioned-concurrency?Qualifier=live", "",
			404, "ProvisionedConcurrencyConfigNotFoundException", ""),
		rnf("PutFunctionEventInvokeConfig", "PUT", "/2019-09-25/functions/nope/event-invoke-config", `{"MaximumRetryAttempts":1}`, ""),
		rnf("UpdateFunctionEventInvokeConfig", "POST", "/2019-09-25/functions/nope/event-invoke-config", `{"MaximumRetryAttempts":1}`, ""),
		rnf("GetFunctionEventInvokeConfig", "GET", "/2019-09-25/functions/nope/event-invoke-config", "", ""),
		rnf("GetFunctionEventInvokeConfig (none)", "GET", "/2019-09-25/functions/we/event-invoke-config", "", functionARN("we")),
		rnf("DeleteFunctionEventInvokeConfig", "DELETE", "/2019-09-25/functions/nope/event-invoke-config", "", ""),
		rnf("ListFunctionEventInvokeConfigs", "GET", "/2019-09-25/functions/nope/event-invoke-config/list", "", ""),
		rnf("AddPermission", "POST", nope+"/policy", `{"StatementId":"s","Action":"lambda:InvokeFunction","Principal":"*"}`, notFound),
		rnf("GetPolicy", "GET", nope+"/policy", "", notFound),
		rnf("GetPolicy (none)", "GET", we+"/policy?Qualifier=1", "", ""),
		rnf("RemovePermission", "DELETE", nope+"/policy/taken", "", ""),
		rnf("RemovePermission (statement)", "DELETE", we+"/policy/gone", "", "gone"),
		rnf("TagResource", "POST", tags(nopeARN), `{"Tags":{"k":"v"}}`, notFound),
		rnf("UntagResource", "DELETE", tags(nopeARN)+"?tagKeys=k", "", notFound),
		rnf("ListTags", "GET", tags(nopeARN), "", notFound),

		// 409: it exists already, or something still uses it.
		e("CreateFunction (exists)", "POST", "/2015-03-31/functions", `{"FunctionName":"we","Runtime":"nodejs20.x","Role":"`+testRole+
			`","Handler":"index.handler","Code":`+zipBody+`}`, 409, conflict, "Function already exist: we"),
		e("CreateAlias (exists)", "POST", we+"/aliases", `{"Name":"live","FunctionVersion":"1"}`, 409, conflict, "Alias already exists"),
		e("AddPermission (Sid taken)", "POST", we+"/policy", `{"StatementId":"taken","Action":"lambda:InvokeFunction","Principal":"*"}`,
			409, conflict, "taken"),
		e("DeleteFunction (version with alias)", "DELETE", we+"?Qualifier=1", "", 409, conflict, "[live]"),

		// 412: a RevisionId that is no longer current.
		e("UpdateFunctionConfiguration (stale)", "PUT", we+"/configuration", `{"Description":"x","RevisionId":"`+stale+`"}`, 412, precondition, revision),
		e("UpdateFunctionCode (stale)", "PUT", we+"/code", strings.TrimSuffix(zipBody, "}")+`,"RevisionId":"`+stale+`"}`, 412, precondition, revision),
		e("PublishVersion (stale)", "POST", we+"/versions", `{"RevisionId":"`+stale+`"}`, 412, precondition, revision),
		e("UpdateAlias (stale)", "PUT", we+"/aliases/live", `{"Description":"x","RevisionId":"`+stale+`"}`, 412, precondition, revision),
		e("AddPermission (stale)", "POST", we+"/policy", `{"StatementId":"new","Action":"lambda:InvokeFunction","Principal":"*","RevisionId":"`+
			stale+`"}`, 412, precondition, revision),
		e("RemovePermission (stale)", "DELETE", we+"/policy/taken?RevisionId="+stale, "", 412, precondition, revision),

		// 400: a request the service refuses.
		e("PublishVersion (CodeSha256)", "POST", we+"/versions", `{"CodeSha256":"AAAA"}`, 400, invalid, "CodeSHA256 (AAAA) is different"),
		e("PutFunctionConcurrency (over the account)", "PUT", "/2017-10-31/functions/we/concurrency", `{"ReservedConcurrentExecutions":1000}`,
			400, invalid, "UnreservedConcurrentExecution below its minimum value of [100]"),
		e("PutProvisionedConcurrencyConfig ($LATEST)", "PUT", "/2019-09-30/functions/we/provisioned-concurrency?Qualifier=$LATEST",
			`{"ProvisionedConcurrentExecutions":1}`, 400, invalid, ""),
		e("Invoke (qualifier mismatch)", "POST", fn+wcLabel("we:live")+"/invocations?Qualifier=1", "{}", 400, invalid,
			"The derived qualifier from the function name does not match the specified qualifier."),
		e("TagResource (alias ARN)", "POST", tags(functionARN("we:live")), `{"Tags":{"k":"v"}}`, 400, invalid, ""),
		e("Invoke (payload not JSON)", "POST", we+"/invocations", "not json", 400, badContent, "Could not parse request body into json"),
		e("CreateFunction (body not JSON)", "POST", "/2015-03-31/functions", "{", 400, badContent, ""),

		// 413: too large for the operation.
		e("Invoke (over 6 MiB)", "POST", we+"/invocations", sixMiB, 413, tooLarge,
			"Request must be smaller than 6291456 bytes for the InvokeFunction operation"),
		{op: "Invoke (Event over 1 MiB)", req: wcRequest{method: "POST", path: we + "/invocations", body: oneMiB,
			header: map[string]string{"X-Amz-Invocation-Type": "Event"}}, status: 413, code: tooLarge},

		// 429: throttled, with the reason.
		{op: "Invoke (reserved 0)", req: wcRequest{method: "POST", path: fn + "off/invocations", body: "{}"}, status: 429,
			code: "TooManyRequestsException", msg: "Rate Exceeded.", reason: "ReservedFunctionConcurrentInvocationLimitExceeded"},

		// 403: SigV4 (§8).
		{op: "ListFunctions (unknown key)", req: wcRequest{method: "GET", path: "/2015-03-31/functions",
			creds: &aws.Credentials{AccessKeyID: "AKIDUNKNOWN000000000", SecretAccessKey: "x"}}, status: 403, code: "UnrecognizedClientException"},
		{op: "ListFunctions (wrong secret)", req: wcRequest{method: "GET", path: "/2015-03-31/functions",
			creds: &aws.Credentials{AccessKeyID: s.KeyID, SecretAccessKey: "wrong"}}, status: 403, code: "InvalidSignatureException"},
	}
	for _, tc := range cases {
		tc.check(t, wcDo(t, s, tc.req))
	}

	// None of the refused requests changed anything.
	r := wcDo(t, s, wcRequest{method: "GET", path: we + "/aliases/live"})
	if r.status != http.StatusOK {
		t.Fatalf("GetAlias after the errors: %d %s", r.status, r.body)
	}
	if v, _ := wcLookup(r.json, "Description"); v != "" {
		t.Errorf("alias Description = %#v after refused updates, want \"\"", v)
	}
}
