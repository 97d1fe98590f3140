package server_test

// The wire-compatibility table: every Lambda operation Gust serves, called
// in a realistic order with raw SigV4-signed HTTP, so that nothing an SDK
// smooths over (the status of a bodiless reply, headers, the exact case of
// a JSON key) can hide. Each row is checked against docs/lambda-compat.md
// §1: its success status, Content-Type and x-amzn-RequestId, and the
// PascalCase keys its response must (and must not) carry. The error table
// is in wirecompat_errors_test.go.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"gust/internal/gusttest"
)

// wcRequest is one raw Lambda API request. Path carries the query; {var}
// in path and body is replaced by a value an earlier step saved.
type wcRequest struct {
	method, path, body string
	header             map[string]string
	creds              *aws.Credentials // nil: the server's own key
}

// wcReply is the answer as sent, its body decoded when it is JSON.
type wcReply struct {
	status int
	header http.Header
	body   []byte
	json   any
}

// wcDo sends req to s signed (with s's own key unless req says otherwise)
// for lambda in us-east-1, as the SDKs sign it.
func wcDo(t *testing.T, s *gusttest.Server, req wcRequest) wcReply {
	t.Helper()
	r, err := http.NewRequest(req.method, s.Endpoint+req.path, strings.NewReader(req.body))
	if err != nil {
		t.Fatal(err)
	}
	if req.body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for k, v := range req.header {
		r.Header.Set(k, v)
	}
	sum := sha256.Sum256([]byte(req.body))
	creds := aws.Credentials{AccessKeyID: s.KeyID, SecretAccessKey: s.Secret}
	if req.creds != nil {
		creds = *req.creds
	}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hex.EncodeToString(sum[:]), "lambda", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatalf("%s %s: %v", req.method, req.path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.method, req.path, err)
	}
	reply := wcReply{status: resp.StatusCode, header: resp.Header, body: body}
	if len(bytes.TrimSpace(body)) > 0 {
		_ = json.Unmarshal(body, &reply.json) // a non-JSON body stays nil and fails the checks that need it
	}
	return reply
}

// wcLookup finds a dotted path ("Configuration.State", "Versions.0.Version")
// in a decoded JSON value. Keys match case-sensitively, as both SDKs
// match them; a JSON null counts as missing.
func wcLookup(v any, path string) (any, bool) {
	for _, seg := range strings.Split(path, ".") {
		switch node := v.(type) {
		case map[string]any:
			v = node[seg]
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(node) {
				return nil, false
			}
			v = node[i]
		default:
			return nil, false
		}
		if v == nil {
			return nil, false
		}
	}
	return v, true
}

var wcRequestID = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// wcCheckCommon checks what every Lambda reply carries: a request id, and
// Content-Type application/json on any body.
func wcCheckCommon(t *testing.T, op string, r wcReply) {
	t.Helper()
	if id := r.header.Get("x-amzn-RequestId"); !wcRequestID.MatchString(id) {
		t.Errorf("%s: x-amzn-RequestId = %q, want a UUID", op, id)
	}
	if len(r.body) > 0 {
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type = %q on a %d-byte body, want application/json", op, ct, len(r.body))
		}
	}
}

// wcUnder prefixes every key with path, for the shapes nested in others.
func wcUnder(path string, keys ...string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = path + "." + k
	}
	return out
}

// The response shapes of §1.2–§1.3, by the keys the spec lists.
var (
	// wcListedFunction is FunctionConfiguration as ListFunctions and
	// ListVersionsByFunction send it; the other operations add wcState.
	wcListedFunction = []string{"FunctionName", "FunctionArn", "Runtime", "Role", "Handler", "CodeSize", "Description",
		"Timeout", "MemorySize", "LastModified", "CodeSha256", "Version", "TracingConfig.Mode", "RevisionId", "PackageType",
		"Architectures.0", "EphemeralStorage.Size", "SnapStart.ApplyOn", "SnapStart.OptimizationStatus",
		"LoggingConfig.LogFormat", "LoggingConfig.LogGroup"}
	wcState          = []string{"State", "LastUpdateStatus"}
	wcFunctionConfig = slices.Concat(wcListedFunction, wcState)
	wcAlias          = []string{"AliasArn", "Name", "FunctionVersion", "Description", "RevisionId"}
	wcProvisioned    = []string{"RequestedProvisionedConcurrentExecutions", "AvailableProvisionedConcurrentExecutions",
		"AllocatedProvisionedConcurrentExecutions", "Status", "LastModified"}
	wcEventInvoke = []string{"LastModified", "FunctionArn", "MaximumRetryAttempts", "MaximumEventAgeInSeconds",
		"DestinationConfig"}
	wcAccount = slices.Concat(wcUnder("AccountLimit", "TotalCodeSize", "CodeSizeUnzipped", "CodeSizeZipped", "ConcurrentExecutions",
		"UnreservedConcurrentExecutions"), wcUnder("AccountUsage", "TotalCodeSize", "FunctionCount"))

	wcLastModified = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$`)
)

// wcNumber, as a wanted value, asks for any JSON number (the Date-typed
// fields are epoch seconds, not strings).
type wcNumber struct{}

// wcStep is one operation of the workflow and what its reply must carry.
type wcStep struct {
	op     string
	req    wcRequest
	status int
	keys   []string          // dotted paths that must be present
	absent []string          // dotted paths that must be missing (or empty)
	equal  map[string]any    // path → exact value (string, float64), *regexp.Regexp for a string, or wcNumber{}
	header map[string]string // response header → exact value ("" = present)
	save   map[string]string // variable → path of a value later steps use as {variable}
}

// check checks r against the step and returns the values it saves.
func (st wcStep) check(t *testing.T, r wcReply) map[string]string {
	t.Helper()
	wcCheckCommon(t, st.op, r)
	if r.status != st.status {
		t.Errorf("%s %s %s: status %d, want %d; body %s", st.op, st.req.method, st.req.path, r.status, st.status, r.body)
		if len(st.save) > 0 {
			t.FailNow() // later steps need what this one saves
		}
		return nil
	}
	if r.status == http.StatusNoContent && len(r.body) > 0 {
		t.Errorf("%s: 204 with a body: %s", st.op, r.body)
	}
	if (len(st.keys) > 0 || len(st.equal) > 0) && r.json == nil {
		t.Errorf("%s: body is not JSON: %q", st.op, r.body)
		return nil
	}
	for _, k := range st.keys {
		if _, ok := wcLookup(r.json, k); !ok {
			t.Errorf("%s: response has no %s: %s", st.op, k, r.body)
		}
	}
	for _, k := range st.absent {
		if v, ok := wcLookup(r.json, k); ok && v != "" {
			t.Errorf("%s: response has %s = %v, want it left out", st.op, k, v)
		}
	}
	for k, want := range st.equal {
		got, _ := wcLookup(r.json, k)
		switch w := want.(type) {
		case *regexp.Regexp:
			if s, ok := got.(string); !ok || !w.MatchString(s) {
				t.Errorf("%s: %s = %#v, want a string matching %s", st.op, k, got, w)
			}
		case wcNumber:
			if _, ok := got.(float64); !ok {
				t.Errorf("%s: %s = %#v, want a JSON number", st.op, k, got)
			}
		default:
			if got != want {
				t.Errorf("%s: %s = %#v, want %#v", st.op, k, got, want)
			}
		}
	}
	for h, want := range st.header {
		if got := r.header.Get(h); got == "" || (want != "" && got != want) {
			t.Errorf("%s: header %s = %q, want %q", st.op, h, got, want)
		}
	}
	saved := map[string]string{}
	for name, path := range st.save {
		v, _ := wcLookup(r.json, path)
		s, ok := v.(string)
		if !ok || s == "" {
			t.Fatalf("%s: cannot save %s from %s: %s", st.op, name, path, r.body)
		}
		saved[name] = s
	}
	return saved
}

// wcLabel is a FunctionName or Resource path label as the SDKs send it:
// percent-encoded, ':' as %3A.
func wcLabel(s string) string { return strings.ReplaceAll(url.PathEscape(s), ":", "%3A") }

// wcZip is a tiny Node function; v tells two packages apart.
func wcZip(t *testing.T, v string) []byte {
	return gusttest.Zip(t, map[string]string{"index.mjs": `export const handler = async () => ({v: "` + v + `"});` + "\n"})
}

func TestWireCompatOperations(t *testing.T) {
	if testing.Short() {
		t.Skip("does not depend on the sandbox; the full run covers it")
	}
	t.Parallel()
	s := gusttest.StartServer(t)
	const fn = "/2015-03-31/functions/wc"
	arn := functionARN("wc")
	tagPath := "/2017-03-31/tags/" + wcLabel(arn)
	zipA, zipB := wcZip(t, "A"), wcZip(t, "B")
	shaB := sha256.Sum256(zipB)
	createBody := `{"FunctionName":"wc","Runtime":"nodejs20.x","Role":"` + testRole + `","Handler":"index.handler",` +
		`"Code":{"ZipFile":"` + base64.StdEncoding.EncodeToString(zipA) + `"},"Tags":{"team":"wire"}}`

	steps := []wcStep{
		{op: "GetAccountSettings", req: wcRequest{method: "GET", path: "/2016-08-19/account-settings"}, status: 200, keys: wcAccount},
		{op: "CreateFunction", req: wcRequest{method: "POST", path: "/2015-03-31/functions", body: createBody}, status: 201,
			keys: wcFunctionConfig, equal: map[string]any{"FunctionArn": arn, "Version": "$LATEST", "LastModified": wcLastModified},
			save: map[string]string{"rev0": "RevisionId"}},
		{op: "GetFunction", req: wcRequest{method: "GET", path: fn}, status: 200,
			keys:  append(wcUnder("Configuration", wcFunctionConfig...), "Code.RepositoryType", "Code.Location", "Tags.team"),
			equal: map[string]any{"Code.RepositoryType": "S3", "Configuration.State": "Active", "Configuration.LastUpdateStatus": "Successful"}},
		{op: "GetFunctionConfiguration", req: wcRequest{method: "GET", path: fn + "/configuration"}, status: 200, keys: wcFunctionConfig},
		{op: "UpdateFunctionConfiguration", req: wcRequest{method: "PUT", path: fn + "/configuration",
			body: `{"Description":"one","Environment":{"Variables":{"COLOR":"blue"}},"RevisionId":"{rev0}"}`}, status: 200,
			keys: append(slices.Clone(wcFunctionConfig), "Environment.Variables.COLOR"), equal: map[string]any{"Description": "one"},
			save: map[string]string{"rev1": "RevisionId"}},
		{op: "UpdateFunctionCode", req: wcRequest{method: "PUT", path: fn + "/code",
			body: `{"ZipFile":"` + base64.StdEncoding.EncodeToString(zipB) + `","RevisionId":"{rev1}"}`}, status: 200,
			keys: wcFunctionConfig, equal: map[string]any{"CodeSha256": base64.StdEncoding.EncodeToString(shaB[:])}},
		{op: "PublishVersion", req: wcRequest{method: "POST", path: fn + "/versions", body: `{"Description":"first"}`}, status: 201,
			keys: wcFunctionConfig, equal: map[string]any{"Version": "1", "FunctionArn": arn + ":1", "Description": "first"}},
		{op: "GetFunction (version)", req: wcRequest{method: "GET", path: fn + "?Qualifier=1"}, status: 200,
			keys: wcUnder("Configuration", wcFunctionConfig...), equal: map[string]any{"Configuration.FunctionArn": arn + ":1"}},
		{op: "ListVersionsByFunction (page 1)", req: wcRequest{method: "GET", path: fn + "/versions?MaxItems=1"}, status: 200,
			keys: append(wcUnder("Versions.0", wcListedFunction...), "NextMarker"), equal: map[string]any{"Versions.0.Version": "$LATEST"}},
		{op: "ListVersionsByFunction", req: wcRequest{method: "GET", path: fn + "/versions"}, status: 200,
			keys: wcUnder("Versions.1", wcListedFunction...), absent: []string{"NextMarker", "Versions.2"}},
		{op: "CreateAlias", req: wcRequest{method: "POST", path: fn + "/aliases", body: `{"Name":"live","FunctionVersion":"1","Description":"d"}`},
			status: 201, keys: wcAlias, equal: map[string]any{"AliasArn": arn + ":live"}, save: map[string]string{"aliasRev": "RevisionId"}},
		{op: "GetAlias", req: wcRequest{method: "GET", path: fn + "/aliases/live"}, status: 200, keys: wcAlias},
		{op: "UpdateAlias", req: wcRequest{method: "PUT", path: fn + "/aliases/live", body: `{"Description":"prod","RevisionId":"{aliasRev}"}`},
			status: 200, keys: wcAlias, equal: map[string]any{"Description": "prod", "FunctionVersion": "1"}},
		{op: "ListAliases", req: wcRequest{method: "GET", path: fn + "/aliases"}, status: 200, keys: wcUnder("Aliases.0", wcAlias...),
			absent: []string{"NextMarker"}},
		{op: "Invoke", req: wcRequest{method: "POST", path: fn + "/invocations?Qualifier=live", body: `{"k":"v"}`}, status: 200,
			equal: map[string]any{"v": "B"}, header: map[string]string{"X-Amz-Executed-Version": "1"}},
		{op: "Invoke (Event)", req: wcRequest{method: "POST", path: fn + "/invocations", body: `{}`,
			header: map[string]string{"X-Amz-Invocation-Type": "Event"}}, status: 202},
		{op: "Invoke (DryRun)", req: wcRequest{method: "POST", path: fn + "/invocations", body: `{}`,
			header: map[string]string{"X-Amz-Invocation-Type": "DryRun"}}, status: 204},
		{op: "InvokeAsync", req: wcRequest{method: "POST", path: "/2014-11-13/functions/wc/invoke-async/", body: `{}`}, status: 202,
			equal: map[string]any{"Status": 202.0}},
		{op: "PutFunctionConcurrency", req: wcRequest{method: "PUT", path: "/2017-10-31/functions/wc/concurrency",
			body: `{"ReservedConcurrentExecutions":5}`}, status: 200, equal: map[string]any{"ReservedConcurrentExecutions": 5.0}},
		{op: "GetFunctionConcurrency", req: wcRequest{method: "GET", path: "/2019-09-30/functions/wc/concurrency"}, status: 200,
			equal: map[string]any{"ReservedConcurrentExecutions": 5.0}},
		{op: "GetFunction (reserved)", req: wcRequest{method: "GET", path: fn}, status: 200,
			equal: map[string]any{"Concurrency.ReservedConcurrentExecutions": 5.0}},
		{op: "DeleteFunctionConcurrency", req: wcRequest{method: "DELETE", path: "/2017-10-31/functions/wc/concurrency"}, status: 204},
		{op: "GetFunctionConcurrency (none)", req: wcRequest{method: "GET", path: "/2019-09-30/functions/wc/concurrency"}, status: 200,
			absent: []string{"ReservedConcurrentExecutions"}},
		{op: "PutProvisionedConcurrencyConfig", req: wcRequest{method: "PUT", path: "/2019-09-30/functions/wc/provisioned-concurrency?Qualifier=live",
			body: `{"ProvisionedConcurrentExecutions":1}`}, status: 202, keys: wcProvisioned,
			equal: map[string]any{"RequestedProvisionedConcurrentExecutions": 1.0, "LastModified": wcLastModified}},
		{op: "GetProvisionedConcurrencyConfig", req: wcRequest{method: "GET", path: "/2019-09-30/functions/wc/provisioned-concurrency?Qualifier=live"},
			status: 200, keys: wcProvisioned},
		{op: "ListProvisionedConcurrencyConfigs", req: wcRequest{method: "GET", path: "/2019-09-30/functions/wc/provisioned-concurrency?List=ALL"},
			status: 200, keys: append(wcUnder("ProvisionedConcurrencyConfigs.0", wcProvisioned...), "ProvisionedConcurrencyConfigs.0.FunctionArn"),
			absent: []string{"NextMarker"}, equal: map[string]any{"ProvisionedConcurrencyConfigs.0.FunctionArn": arn + ":live"}},
		{op: "DeleteProvisionedConcurrencyConfig", req: wcRequest{method: "DELETE", path: "/2019-09-30/functions/wc/provisioned-concurrency?Qualifier=live"},
			status: 204},
		{op: "PutFunctionEventInvokeConfig", req: wcRequest{method: "PUT", path: "/2019-09-25/functions/wc/event-invoke-config",
			body: `{"MaximumRetryAttempts":1,"MaximumEventAgeInSeconds":600}`}, status: 200, keys: wcEventInvoke,
			equal: map[string]any{"LastModified": wcNumber{}, "FunctionArn": arn + ":$LATEST"}},
		{op: "UpdateFunctionEventInvokeConfig", req: wcRequest{method: "POST", path: "/2019-09-25/functions/wc/event-invoke-config",
			body: `{"MaximumRetryAttempts":0}`}, status: 200, keys: wcEventInvoke,
			equal: map[string]any{"MaximumRetryAttempts": 0.0, "MaximumEventAgeInSeconds": 600.0}},
		{op: "GetFunctionEventInvokeConfig", req: wcRequest{method: "GET", path: "/2019-09-25/functions/wc/event-invoke-config"}, status: 200,
			keys: wcEventInvoke},
		{op: "ListFunctionEventInvokeConfigs", req: wcRequest{method: "GET", path: "/2019-09-25/functions/wc/event-invoke-config/list"},
			status: 200, keys: wcUnder("FunctionEventInvokeConfigs.0", wcEventInvoke...), absent: []string{"NextMarker"}},
		{op: "DeleteFunctionEventInvokeConfig", req: wcRequest{method: "DELETE", path: "/2019-09-25/functions/wc/event-invoke-config"}, status: 204},
		{op: "AddPermission", req: wcRequest{method: "POST", path: fn + "/policy",
			body: `{"StatementId":"wire","Action":"lambda:InvokeFunction","Principal":"s3.amazonaws.com"}`}, status: 201,
			keys: []string{"Statement"}, equal: map[string]any{"Statement": regexp.MustCompile(`^\{.*"Sid":"wire".*\}$`)}},
		{op: "GetPolicy", req: wcRequest{method: "GET", path: fn + "/policy"}, status: 200, keys: []string{"Policy", "RevisionId"},
			equal: map[string]any{"Policy": regexp.MustCompile(`"Version":"2012-10-17".*"Statement":\[`)},
			save:  map[string]string{"policyRev": "RevisionId"}},
		{op: "RemovePermission", req: wcRequest{method: "DELETE", path: fn + "/policy/wire?RevisionId={policyRev}"}, status: 204},
		{op: "TagResource", req: wcRequest{method: "POST", path: tagPath, body: `{"Tags":{"k":"v"}}`}, status: 204},
		{op: "ListTags", req: wcRequest{method: "GET", path: tagPath}, status: 200, equal: map[string]any{"Tags.team": "wire", "Tags.k": "v"}},
		{op: "UntagResource", req: wcRequest{method: "DELETE", path: tagPath + "?tagKeys=k&tagKeys=team"}, status: 204},
		{op: "ListTags (none)", req: wcRequest{method: "GET", path: tagPath}, status: 200, keys: []string{"Tags"}, absent: []string{"Tags.k", "Tags.team"}},
		{op: "ListFunctions", req: wcRequest{method: "GET", path: "/2015-03-31/functions/"}, status: 200,
			keys:   wcUnder("Functions.0", wcListedFunction...),
			absent: append(wcUnder("Functions.0", wcState...), "NextMarker", "Functions.1")},
		{op: "ListFunctions (all versions, page 1)", req: wcRequest{method: "GET", path: "/2015-03-31/functions?FunctionVersion=ALL&MaxItems=1"},
			status: 200, keys: []string{"Functions.0.Version", "NextMarker"}, absent: []string{"Functions.1"}},
		{op: "DeleteAlias", req: wcRequest{method: "DELETE", path: fn + "/aliases/live"}, status: 204},
		{op: "DeleteFunction (version)", req: wcRequest{method: "DELETE", path: fn + "?Qualifier=1"}, status: 204},
		{op: "DeleteFunction", req: wcRequest{method: "DELETE", path: fn}, status: 204},
		{op: "GetAccountSettings (after)", req: wcRequest{method: "GET", path: "/2016-08-19/account-settings"}, status: 200,
			equal: map[string]any{"AccountUsage.FunctionCount": 0.0}},
	}
	vars := map[string]string{}
	for _, st := range steps {
		var pairs []string
		for k, v := range vars {
			pairs = append(pairs, "{"+k+"}", v)
		}
		expand := strings.NewReplacer(pairs...)
		st.req.path, st.req.body = expand.Replace(st.req.path), expand.Replace(st.req.body)
		for k, v := range st.check(t, wcDo(t, s, st.req)) {
			vars[k] = v
		}
	}
}
