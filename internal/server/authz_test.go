package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"gust/internal/gusttest"
)

// This file is the permission matrix: the admin key, a restricted user, an
// unknown key, a principal allowed only by a function's resource policy,
// and function roles calling Gust from inside a function in each runtime.

// lambdaAs is a Lambda client of s signed with another key pair.
func lambdaAs(s *gusttest.Server, keyID, secret string) *lambda.Client {
	cfg := s.AWSConfig()
	cfg.Credentials = credentials.NewStaticCredentialsProvider(keyID, secret, "")
	return lambda.NewFromConfig(cfg, func(o *lambda.Options) {
		o.BaseEndpoint = aws.String(s.Endpoint)
		o.RetryMaxAttempts = 1
	})
}

const echoPy = "def handler(e, c):\n    return {'echo': e}\n"

func TestPermissionMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("does not depend on the sandbox; the full run covers it")
	}
	t.Parallel()
	s := gusttest.StartServer(t)
	admin := s.Lambda()
	ctx := context.Background()
	zip := gusttest.Zip(t, map[string]string{"index.py": echoPy})
	for _, name := range []string{"b", "c"} {
		createFunction(t, admin, name, types.RuntimePython312, "index.handler", zip)
	}
	publish(t, admin, "b")

	_, key, err := s.IAM().CreateUser(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.IAM().PutUserPolicy(ctx, "alice", []byte(`{
		"Version": "2012-10-17",
		"Statement": [
			{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "arn:aws:lambda:us-east-1:000000000000:function:b"},
			{"Effect": "Allow", "Action": "lambda:Get*", "Resource": "*"},
			{"Effect": "Allow", "Action": "lambda:*", "Resource": "arn:aws:lambda:*:*:function:b*"},
			{"Effect": "Deny", "Action": "lambda:DeleteFunction", "Resource": "*"}
		]}`)); err != nil {
		t.Fatal(err)
	}
	alice := lambdaAs(s, key.ID, key.Secret)
	user := "User: arn:aws:iam::000000000000:user/alice is not authorized to perform: "

	// Allowed: the named function, reads anywhere, lambda:* on b's ARNs
	// (the wildcard also covers qualified ones).
	if _, err := alice.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("b")}); err != nil {
		t.Errorf("alice invoke b: %v", err)
	}
	if _, err := alice.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("b:1")}); err != nil {
		t.Errorf("alice invoke b:1: %v", err)
	}
	if _, err := alice.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("c")}); err != nil {
		t.Errorf("alice GetFunction c: %v", err)
	}
	// Denied: no Allow, and an explicit Deny beating lambda:* on b.
	_, err = alice.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("c")})
	wantAPIError(t, err, "AccessDeniedException", user+"lambda:InvokeFunction on resource: "+functionARN("c")+" because no identity-based policy allows the lambda:InvokeFunction action")
	_, err = alice.ListFunctions(ctx, &lambda.ListFunctionsInput{})
	wantAPIError(t, err, "AccessDeniedException", user+"lambda:ListFunctions on resource: *")
	_, err = alice.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("b")})
	wantAPIError(t, err, "AccessDeniedException", user+"lambda:DeleteFunction on resource: "+functionARN("b")+" with an explicit deny in an identity-based policy")
	_, err = alice.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("d"), Role: aws.String(testRole),
		Runtime: types.RuntimePython312, Handler: aws.String("index.handler"), Code: &types.FunctionCode{ZipFile: zip}})
	wantAPIError(t, err, "AccessDeniedException", user+"lambda:CreateFunction on resource: "+functionARN("d"))

	// A resource policy naming alice lets her invoke c with no identity
	// policy for it, until it is removed.
	if _, err := admin.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("c"), StatementId: aws.String("alice"),
		Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("arn:aws:iam::000000000000:user/alice")}); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("c")}); err != nil {
		t.Errorf("alice invoke c allowed by its resource policy: %v", err)
	}
	if _, err := admin.RemovePermission(ctx, &lambda.RemovePermissionInput{FunctionName: aws.String("c"), StatementId: aws.String("alice")}); err != nil {
		t.Fatal(err)
	}
	_, err = alice.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("c")})
	wantAPIError(t, err, "AccessDeniedException", "")

	// An unknown key is not a principal at all.
	_, err = lambdaAs(s, "AKIAUNKNOWNKEY000000", "secret").ListFunctions(ctx, &lambda.ListFunctionsInput{})
	wantAPIError(t, err, "UnrecognizedClientException", "")

	// The admin key may do everything, including what alice may not.
	if _, err := admin.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("c")}); err != nil {
		t.Errorf("admin delete c: %v", err)
	}
}

// callerReply is what the caller functions return.
type callerReply struct {
	Payload string `json:"payload"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// TestFunctionRoleCallsGust gives caller functions in Go, Python and
// Node.js a role allowed to invoke b but not c: from inside, with the
// session credentials Gust gave their environment, b works and c is
// denied naming the role session.
func TestFunctionRoleCallsGust(t *testing.T) {
	t.Parallel()
	s := gusttest.StartServer(t)
	c := s.Lambda()
	ctx := context.Background()
	if _, err := s.IAM().CreateRole(ctx, "caller-role", []byte(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:000000000000:function:b"}]}`)); err != nil {
		t.Fatal(err)
	}
	role := "arn:aws:iam::000000000000:role/caller-role"
	echo := gusttest.Zip(t, map[string]string{"index.py": echoPy})
	createFunction(t, c, "b", types.RuntimePython312, "index.handler", echo)
	createFunction(t, c, "c", types.RuntimePython312, "index.handler", echo)

	root := gusttest.RepoRoot(t)
	withRole := func(in *lambda.CreateFunctionInput) { in.Role = aws.String(role); in.Timeout = aws.Int32(30) }
	createFunction(t, c, "caller-go", types.RuntimeProvidedal2023, "bootstrap", buildGoFunction(t, "callerfn"), withRole)
	createFunction(t, c, "caller-py", types.RuntimePython312, "caller.handler",
		gusttest.Zip(t, map[string]string{"caller.py": readFile(t, root+"/internal/server/testdata/callers/caller.py")}), withRole)
	createFunction(t, c, "caller-node", types.RuntimeNodejs20x, "caller.handler",
		gusttest.Zip(t, map[string]string{"caller.mjs": readFile(t, root+"/internal/server/testdata/callers/caller.mjs")}), withRole)

	for _, caller := range []string{"caller-go", "caller-py", "caller-node"} {
		t.Run(caller, func(t *testing.T) {
			ok := callVia(t, c, caller, "b")
			if ok.Code != "" || !strings.Contains(ok.Payload, `"echo"`) {
				t.Errorf("%s invoking b = %+v, want b's echo", caller, ok)
			}
			denied := callVia(t, c, caller, "c")
			want := fmt.Sprintf("User: arn:aws:sts::000000000000:assumed-role/caller-role/%s is not authorized to perform: lambda:InvokeFunction on resource: %s", caller, functionARN("c"))
			if denied.Code != "AccessDeniedException" || !strings.HasPrefix(denied.Message, want) {
				t.Errorf("%s invoking c = %+v, want AccessDeniedException %q", caller, denied, want)
			}
		})
	}
	// The credentials reach the function, never its logs.
	out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("caller-py"), Payload: []byte(`{"function":"b"}`), LogType: types.LogTypeTail})
	if err != nil {
		t.Fatal(err)
	}
	if log := decodeTail(t, out.LogResult); strings.Contains(log, "AWS_SECRET") || strings.Contains(log, "ASIA") {
		t.Errorf("the function's log shows credentials:\n%s", log)
	}
}

func callVia(t *testing.T, c *lambda.Client, caller, target string) callerReply {
	t.Helper()
	out, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String(caller), Payload: []byte(`{"function":"` + target + `"}`)})
	if err != nil {
		t.Fatalf("invoke %s: %v", caller, err)
	}
	if out.FunctionError != nil {
		t.Fatalf("%s failed: %s", caller, out.Payload)
	}
	var r callerReply
	if err := json.Unmarshal(out.Payload, &r); err != nil {
		t.Fatalf("%s reply %s: %v", caller, out.Payload, err)
	}
	return r
}

// buildGoFunction builds internal/server/testdata/<dir> as a provided.*
// bootstrap and returns it zipped.
func buildGoFunction(t *testing.T, dir string) []byte {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bootstrap")
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./internal/server/testdata/"+dir)
	build.Dir = gusttest.RepoRoot(t)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", dir, err, out)
	}
	return gusttest.ZipBinary(t, bin)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func decodeTail(t *testing.T, b64 *string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(aws.ToString(b64))
	if err != nil {
		t.Fatalf("LogResult is not base64: %v", err)
	}
	return string(b)
}
