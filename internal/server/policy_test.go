package server_test

// Resource-based policies (AddPermission, RemovePermission, GetPolicy)
// through aws-sdk-go-v2 and the real aws CLI.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/google/go-cmp/cmp"

	"gust/internal/gusttest"
)

// polAdd grants principal action on name through AddPermission.
func polAdd(c *lambda.Client, name, sid, action, principal string, edit func(*lambda.AddPermissionInput)) (*lambda.AddPermissionOutput, error) {
	in := &lambda.AddPermissionInput{
		FunctionName: aws.String(name),
		StatementId:  aws.String(sid),
		Action:       aws.String(action),
		Principal:    aws.String(principal),
	}
	if edit != nil {
		edit(in)
	}
	return c.AddPermission(context.Background(), in)
}

func polMustAdd(t *testing.T, c *lambda.Client, name, sid, action, principal string, edit func(*lambda.AddPermissionInput)) map[string]any {
	t.Helper()
	out, err := polAdd(c, name, sid, action, principal, edit)
	if err != nil {
		t.Fatalf("AddPermission %s %s: %v", name, sid, err)
	}
	return polDecode(t, aws.ToString(out.Statement))
}

// polGet returns the decoded policy document of name (qualifier "" = none)
// and its RevisionId.
func polGet(t *testing.T, c *lambda.Client, name, qualifier string) (map[string]any, string) {
	t.Helper()
	in := &lambda.GetPolicyInput{FunctionName: aws.String(name)}
	if qualifier != "" {
		in.Qualifier = aws.String(qualifier)
	}
	out, err := c.GetPolicy(context.Background(), in)
	if err != nil {
		t.Fatalf("GetPolicy %s (qualifier %q): %v", name, qualifier, err)
	}
	if aws.ToString(out.RevisionId) == "" {
		t.Errorf("GetPolicy %s: no RevisionId", name)
	}
	return polDecode(t, aws.ToString(out.Policy)), aws.ToString(out.RevisionId)
}

func polRemove(c *lambda.Client, name, sid string, edit func(*lambda.RemovePermissionInput)) error {
	in := &lambda.RemovePermissionInput{FunctionName: aws.String(name), StatementId: aws.String(sid)}
	if edit != nil {
		edit(in)
	}
	_, err := c.RemovePermission(context.Background(), in)
	return err
}

func polDecode(t *testing.T, text string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		t.Fatalf("policy text %q is not JSON: %v", text, err)
	}
	return v
}

// polKeys lists the members of a JSON object in the order they appear.
func polKeys(t *testing.T, text string) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(text))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("%q is not a JSON object", text)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// polSids lists the statement ids of a decoded policy document.
func polSids(doc map[string]any) []string {
	var sids []string
	list, _ := doc["Statement"].([]any)
	for _, s := range list {
		st, _ := s.(map[string]any)
		sid, _ := st["Sid"].(string)
		sids = append(sids, sid)
	}
	return sids
}

func polSame(t *testing.T, what string, want, got any) {
	t.Helper()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", what, diff)
	}
}

func TestPolicyLifecycle(t *testing.T) {
	s := gusttest.StartServer(t)
	c := s.Lambda()
	cpCreate(t, c, "pol", cpNodeZip(t, "A"), nil)
	arn := functionARN("pol")

	// A service principal limited by source ARN and account.
	out, err := polAdd(c, "pol", "s3", "lambda:InvokeFunction", "s3.amazonaws.com", func(in *lambda.AddPermissionInput) {
		in.SourceArn = aws.String("arn:aws:s3:::b")
		in.SourceAccount = aws.String("123456789012")
	})
	if err != nil {
		t.Fatalf("AddPermission s3: %v", err)
	}
	s3Statement := map[string]any{
		"Sid": "s3", "Effect": "Allow",
		"Principal": map[string]any{"Service": "s3.amazonaws.com"},
		"Action":    "lambda:InvokeFunction",
		"Resource":  arn,
		"Condition": map[string]any{
			"StringEquals": map[string]any{"AWS:SourceAccount": "123456789012"},
			"ArnLike":      map[string]any{"AWS:SourceArn": "arn:aws:s3:::b"},
		},
	}
	polSame(t, "AddPermission statement", s3Statement, polDecode(t, aws.ToString(out.Statement)))
	polSame(t, "statement member order", []string{"Sid", "Effect", "Principal", "Action", "Resource", "Condition"}, polKeys(t, aws.ToString(out.Statement)))

	// An account id becomes the account's root; the full ARN names the
	// same function.
	acct := polMustAdd(t, c, arn, "acct", "lambda:GetFunction", "111122223333", nil)
	acctStatement := map[string]any{
		"Sid": "acct", "Effect": "Allow",
		"Principal": map[string]any{"AWS": "arn:aws:iam::111122223333:root"},
		"Action":    "lambda:GetFunction",
		"Resource":  arn,
	}
	polSame(t, "account statement", acctStatement, acct)

	doc, rev1 := polGet(t, c, "pol", "")
	polSame(t, "GetPolicy document", map[string]any{
		"Version": "2012-10-17", "Id": "default",
		"Statement": []any{s3Statement, acctStatement},
	}, doc)
	// The partial ARN reads the same policy.
	if again, rev := polGet(t, c, "000000000000:function:pol", ""); rev != rev1 || !cmp.Equal(doc, again) {
		t.Errorf("GetPolicy by partial ARN = %v at %q, want the same policy at %q", again, rev, rev1)
	}

	// A statement id is unique within the policy.
	_, err = polAdd(c, "pol", "s3", "lambda:InvokeFunction", "sns.amazonaws.com", nil)
	cpWantErr(t, err, "ResourceConflictException", 409, "The statement id (s3) provided already exists. Please provide a new statement id, or remove the existing statement.")

	// RevisionId is a precondition on the policy.
	_, err = polAdd(c, "pol", "wild", "lambda:*", "*", func(in *lambda.AddPermissionInput) { in.RevisionId = aws.String("stale") })
	cpWantErr(t, err, "PreconditionFailedException", 412, "The Revision Id provided does not match the latest Revision Id.")
	wild := polMustAdd(t, c, "pol", "wild", "lambda:*", "*", func(in *lambda.AddPermissionInput) { in.RevisionId = aws.String(rev1) })
	if wild["Principal"] != "*" {
		t.Errorf("wildcard principal rendered as %v, want \"*\"", wild["Principal"])
	}
	doc, rev2 := polGet(t, c, "pol", "")
	if rev2 == rev1 {
		t.Errorf("RevisionId %q did not change with the policy", rev2)
	}
	polSame(t, "statements after three adds", []string{"s3", "acct", "wild"}, polSids(doc))

	err = polRemove(c, "pol", "wild", func(in *lambda.RemovePermissionInput) { in.RevisionId = aws.String(rev1) })
	cpWantErr(t, err, "PreconditionFailedException", 412, "")
	err = polRemove(c, "pol", "nope", nil)
	cpWantErr(t, err, "ResourceNotFoundException", 404, "Statement nope is not found in resource policy.")
	if err := polRemove(c, "pol", "wild", func(in *lambda.RemovePermissionInput) { in.RevisionId = aws.String(rev2) }); err != nil {
		t.Fatalf("RemovePermission wild: %v", err)
	}
	if err := polRemove(c, "pol", "s3", nil); err != nil {
		t.Fatalf("RemovePermission s3: %v", err)
	}
	doc, _ = polGet(t, c, "pol", "")
	polSame(t, "statements after two removals", []string{"acct"}, polSids(doc))
	if err := polRemove(c, "pol", "acct", nil); err != nil {
		t.Fatalf("RemovePermission acct: %v", err)
	}

	// No statements left: no policy.
	_, err = c.GetPolicy(context.Background(), &lambda.GetPolicyInput{FunctionName: aws.String("pol")})
	cpWantErr(t, err, "ResourceNotFoundException", 404, "The resource you requested does not exist.")
	err = polRemove(c, "pol", "acct", nil)
	cpWantErr(t, err, "ResourceNotFoundException", 404, "No policy is associated with the given resource.")

	// A policy goes with its function.
	polMustAdd(t, c, "pol", "again", "lambda:InvokeFunction", "events.amazonaws.com", nil)
	if _, err := c.DeleteFunction(context.Background(), &lambda.DeleteFunctionInput{FunctionName: aws.String("pol")}); err != nil {
		t.Fatal(err)
	}
	cpCreate(t, c, "pol", cpNodeZip(t, "A"), nil)
	_, err = c.GetPolicy(context.Background(), &lambda.GetPolicyInput{FunctionName: aws.String("pol")})
	cpWantErr(t, err, "ResourceNotFoundException", 404, "The resource you requested does not exist.")
}

func TestPolicyPerQualifier(t *testing.T) {
	s := gusttest.StartServer(t)
	c := s.Lambda()
	ctx := context.Background()
	cpCreate(t, c, "polq", cpNodeZip(t, "A"), nil)
	polMustAdd(t, c, "polq", "fn", "lambda:InvokeFunction", "sns.amazonaws.com", nil)

	// Lambda keeps no policy of $LATEST apart from the function's own.
	_, err := polAdd(c, "polq", "latest", "lambda:InvokeFunction", "sns.amazonaws.com", func(in *lambda.AddPermissionInput) { in.Qualifier = aws.String("$LATEST") })
	cpWantErr(t, err, "InvalidParameterValueException", 400, "We currently do not support adding policies for $LATEST.")
	latest, _ := polGet(t, c, "polq", "$LATEST")
	polSame(t, "$LATEST's policy is the function's", []string{"fn"}, polSids(latest))

	// A qualifier that names nothing.
	_, err = polAdd(c, "polq", "v9", "lambda:InvokeFunction", "sns.amazonaws.com", func(in *lambda.AddPermissionInput) { in.Qualifier = aws.String("9") })
	cpWantErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+functionARN("polq")+":9")

	if _, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("polq")}); err != nil {
		t.Skipf("gap: PublishVersion failed (%v), so a version's own policy cannot be tested yet", err)
	}
	// A version's policy is its own, and the same Sid may appear in both.
	v1 := polMustAdd(t, c, "polq", "fn", "lambda:InvokeFunction", "sns.amazonaws.com", func(in *lambda.AddPermissionInput) { in.Qualifier = aws.String("1") })
	if v1["Resource"] != functionARN("polq")+":1" {
		t.Errorf("version statement Resource = %v, want the qualified ARN", v1["Resource"])
	}
	polMustAdd(t, c, "polq:1", "only1", "lambda:InvokeFunction", "sns.amazonaws.com", nil)
	doc, _ := polGet(t, c, "polq", "1")
	polSame(t, "version 1 statements", []string{"fn", "only1"}, polSids(doc))
	doc, _ = polGet(t, c, "polq", "")
	polSame(t, "function statements", []string{"fn"}, polSids(doc))
	err = polRemove(c, "polq", "only1", nil)
	cpWantErr(t, err, "ResourceNotFoundException", 404, "Statement only1 is not found in resource policy.")
	_, err = c.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: aws.String("polq:1"), Qualifier: aws.String("2")})
	cpWantErr(t, err, "InvalidParameterValueException", 400, "The derived qualifier from the function name does not match the specified qualifier.")
}

func TestPolicyErrors(t *testing.T) {
	s := gusttest.StartServer(t)
	c := s.Lambda()
	ctx := context.Background()
	cpCreate(t, c, "pole", cpNodeZip(t, "A"), nil)

	_, err := polAdd(c, "nope", "s", "lambda:InvokeFunction", "*", nil)
	cpWantErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+functionARN("nope"))
	_, err = c.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: aws.String("nope")})
	cpWantErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+functionARN("nope"))
	err = polRemove(c, "nope", "s", nil)
	cpWantErr(t, err, "ResourceNotFoundException", 404, "No policy found for: "+functionARN("nope"))

	for _, tc := range []struct {
		what, sid, action, principal string
		code, msg                    string
	}{
		{"action", "s", "s3:GetObject", "*", "ValidationException",
			"1 validation error detected: Value 's3:GetObject' at 'action' failed to satisfy constraint: Member must satisfy regular expression pattern: (lambda:[*]|lambda:[a-zA-Z]+|[*])"},
		{"statement id", "bad.id", "lambda:InvokeFunction", "*", "ValidationException",
			"1 validation error detected: Value 'bad.id' at 'statementId' failed to satisfy constraint: Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)"},
		{"principal pattern", "s", "lambda:InvokeFunction", "two words", "ValidationException",
			"Value 'two words' at 'principal' failed to satisfy constraint"},
		{"principal kind", "s", "lambda:InvokeFunction", "somebody", "InvalidParameterValueException",
			"The provided principal was invalid. Please check the principal and try again."},
		{"principal ARN", "s", "lambda:InvokeFunction", "arn:aws:iam::123456789012:group/g", "InvalidParameterValueException",
			"The provided principal was invalid."},
	} {
		t.Run(tc.what, func(t *testing.T) {
			_, err := polAdd(c, "pole", tc.sid, tc.action, tc.principal, nil)
			cpWantErr(t, err, tc.code, 400, tc.msg)
		})
	}
	_, err = polAdd(c, "pole", "s", "lambda:InvokeFunction", "*", func(in *lambda.AddPermissionInput) { in.SourceAccount = aws.String("12") })
	cpWantErr(t, err, "ValidationException", 400, "at 'sourceAccount'")
	_, err = polAdd(c, "pole", "s", "lambda:InvokeFunctionUrl", "*", func(in *lambda.AddPermissionInput) { in.FunctionUrlAuthType = "PUBLIC" })
	cpWantErr(t, err, "ValidationException", 400, "Member must satisfy enum value set: [NONE, AWS_IAM]")
	_, err = c.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: aws.String("pole")})
	cpWantErr(t, err, "ResourceNotFoundException", 404, "") // the refusals left no policy behind

	// The optional members map onto conditions.
	st := polMustAdd(t, c, "pole", "url", "lambda:InvokeFunctionUrl", "123456789012", func(in *lambda.AddPermissionInput) {
		in.FunctionUrlAuthType = "AWS_IAM"
		in.PrincipalOrgID = aws.String("o-abcdefghij")
		in.EventSourceToken = aws.String("tok.1")
	})
	polSame(t, "conditions", map[string]any{"StringEquals": map[string]any{
		"lambda:FunctionUrlAuthType": "AWS_IAM",
		"aws:PrincipalOrgID":         "o-abcdefghij",
		"lambda:EventSourceToken":    "tok.1",
	}}, st["Condition"])
}

func TestPolicyLengthLimit(t *testing.T) {
	s := gusttest.StartServer(t)
	c := s.Lambda()
	cpCreate(t, c, "polbig", cpNodeZip(t, "A"), nil)
	sourceARN := "arn:aws:s3:::" + strings.Repeat("b", 900)
	var refused error
	added := 0
	for added < 40 {
		_, err := polAdd(c, "polbig", "s"+string(rune('a'+added%26))+strings.Repeat("x", added/26), "lambda:InvokeFunction", "s3.amazonaws.com", func(in *lambda.AddPermissionInput) {
			in.SourceArn = aws.String(sourceARN)
		})
		if err != nil {
			refused = err
			break
		}
		added++
	}
	if refused == nil {
		t.Fatalf("%d statements of ~1 KB were all accepted; want the 20 KB limit to refuse one", added)
	}
	cpWantErr(t, refused, "PolicyLengthExceededException", 400, "")
	if msg := refused.Error(); !regexp.MustCompile(`The final policy size \(\d+\) is bigger than the limit \(20480\)\.`).MatchString(msg) {
		t.Errorf("message %q is not Lambda's", msg)
	}
	out, err := c.GetPolicy(context.Background(), &lambda.GetPolicyInput{FunctionName: aws.String("polbig")})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(aws.ToString(out.Policy)); n > 20480 || n < 18000 {
		t.Errorf("policy is %d bytes, want just under 20480", n)
	}
	if got := len(polSids(polDecode(t, aws.ToString(out.Policy)))); got != added {
		t.Errorf("policy has %d statements after the refusal, want the %d accepted", got, added)
	}
}

// TestPolicyAWSCLI drives add-permission, get-policy and remove-permission
// through each real aws CLI installed (v2 at /usr/bin/aws, and v1 when on
// PATH).
func TestPolicyAWSCLI(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("does not depend on the sandbox; the full run covers it")
	}
	if testing.Short() {
		t.Skip("slow: runs the aws CLI")
	}
	clis := polCLIs()
	if len(clis) == 0 {
		t.Skip("no aws CLI installed")
	}
	s := gusttest.StartServer(t)
	c := s.Lambda()
	for i, cli := range clis {
		name := "polcli" + string(rune('a'+i))
		t.Run(filepath.Base(filepath.Dir(cli))+"/"+filepath.Base(cli), func(t *testing.T) {
			cpCreate(t, c, name, cpNodeZip(t, "A"), nil)
			run := func(args ...string) (stdout, stderr string, code int) {
				t.Helper()
				ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute) // a hung CLI fails instead of stalling
				defer cancel()
				cmd := exec.CommandContext(ctx, cli, append(args, "--endpoint-url", s.Endpoint, "--region", s.Region(), "--output", "json")...)
				home := t.TempDir()
				cmd.Dir = home
				cmd.Env = polCLIEnv(home, s.KeyID, s.Secret)
				var out, errOut bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &errOut
				err := cmd.Run()
				var exit *exec.ExitError
				switch {
				case err == nil:
				case errors.As(err, &exit):
					code = exit.ExitCode()
				default:
					t.Fatalf("run %s: %v", cli, err)
				}
				return out.String(), errOut.String(), code
			}

			out, errOut, code := run("lambda", "add-permission", "--function-name", name, "--statement-id", "s3",
				"--action", "lambda:InvokeFunction", "--principal", "s3.amazonaws.com", "--source-arn", "arn:aws:s3:::b")
			if code != 0 {
				t.Fatalf("add-permission exit %d: %s%s", code, out, errOut)
			}
			var added struct{ Statement string }
			if err := json.Unmarshal([]byte(out), &added); err != nil {
				t.Fatalf("add-permission output %q: %v", out, err)
			}
			want := map[string]any{
				"Sid": "s3", "Effect": "Allow",
				"Principal": map[string]any{"Service": "s3.amazonaws.com"},
				"Action":    "lambda:InvokeFunction",
				"Resource":  functionARN(name),
				"Condition": map[string]any{"ArnLike": map[string]any{"AWS:SourceArn": "arn:aws:s3:::b"}},
			}
			polSame(t, "add-permission Statement", want, polDecode(t, added.Statement))

			out, errOut, code = run("lambda", "get-policy", "--function-name", name)
			if code != 0 {
				t.Fatalf("get-policy exit %d: %s%s", code, out, errOut)
			}
			var got struct{ Policy, RevisionId string }
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("get-policy output %q: %v", out, err)
			}
			polSame(t, "get-policy Policy", map[string]any{"Version": "2012-10-17", "Id": "default", "Statement": []any{want}}, polDecode(t, got.Policy))
			if got.RevisionId == "" {
				t.Error("get-policy printed no RevisionId")
			}

			if out, errOut, code = run("lambda", "remove-permission", "--function-name", name, "--statement-id", "s3"); code != 0 {
				t.Fatalf("remove-permission exit %d: %s%s", code, out, errOut)
			}
			_, errOut, code = run("lambda", "get-policy", "--function-name", name)
			// v2 inserts "(reached max retries: 0)" before the colon.
			if code == 0 || !strings.Contains(errOut, "An error occurred (ResourceNotFoundException) when calling the GetPolicy operation") ||
				!strings.Contains(errOut, ": The resource you requested does not exist.") {
				t.Errorf("get-policy after the last removal: exit %d, %q; want ResourceNotFoundException", code, errOut)
			}
		})
	}
}

// polCLIs returns the distinct aws CLI binaries installed: /usr/bin/aws
// (v2) and the one on PATH.
func polCLIs() []string {
	candidates := []string{"/usr/bin/aws"}
	if p, err := exec.LookPath("aws"); err == nil {
		candidates = append(candidates, p)
	}
	var out []string
	seen := map[string]bool{}
	for _, c := range candidates {
		real, err := filepath.EvalSymlinks(c)
		if err != nil || seen[real] {
			continue
		}
		seen[real] = true
		out = append(out, c)
	}
	return out
}

// polCLIEnv is this process's environment without AWS settings, plus the
// server's credentials and no config files.
func polCLIEnv(home, key, secret string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	return append(env,
		"HOME="+home,
		"AWS_ACCESS_KEY_ID="+key,
		"AWS_SECRET_ACCESS_KEY="+secret,
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_PAGER=",
		"AWS_MAX_ATTEMPTS=1",
	)
}
