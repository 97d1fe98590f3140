package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"gust/internal/gusttest"
)

// This file checks TagResource, UntagResource and ListTags through the
// SDK and the AWS CLI.

// listTags returns ListTags of arn and fails the test on error.
func listTags(t *testing.T, c *lambda.Client, arn string) map[string]string {
	t.Helper()
	out, err := c.ListTags(context.Background(), &lambda.ListTagsInput{Resource: aws.String(arn)})
	if err != nil {
		t.Fatalf("ListTags(%s): %v", arn, err)
	}
	return out.Tags
}

func wantTagList(t *testing.T, c *lambda.Client, arn string, want map[string]string) {
	t.Helper()
	if diff := cmp.Diff(want, listTags(t, c, arn), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("ListTags(%s) (-want +got):\n%s", arn, diff)
	}
}

func tagResource(c *lambda.Client, arn string, tags map[string]string) error {
	_, err := c.TagResource(context.Background(), &lambda.TagResourceInput{Resource: aws.String(arn), Tags: tags})
	return err
}

// numberedTags returns n tags k0=v0 … k<n-1>=v<n-1>, starting at from.
func numberedTags(from, n int) map[string]string {
	m := make(map[string]string, n)
	for i := from; i < from+n; i++ {
		m[fmt.Sprintf("k%d", i)] = fmt.Sprintf("v%d", i)
	}
	return m
}

func TestTags(t *testing.T) {
	t.Parallel()
	s := gusttest.StartServer(t)
	c := s.Lambda()
	ctx := context.Background()
	zip := gusttest.Zip(t, map[string]string{"index.mjs": nodeKit})
	created := createFunction(t, c, "tagged", types.RuntimeNodejs20x, "index.handler", zip, func(in *lambda.CreateFunctionInput) {
		in.Tags = map[string]string{"team": "core", "env": "dev"}
	})
	arn := aws.ToString(created.FunctionArn)
	plain := aws.ToString(createFunction(t, c, "plain", types.RuntimeNodejs20x, "index.handler", zip).FunctionArn)

	t.Run("CreateTagsVisible", func(t *testing.T) {
		want := map[string]string{"team": "core", "env": "dev"}
		wantTagList(t, c, arn, want)
		got, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("tagged")})
		if err != nil {
			t.Fatalf("GetFunction: %v", err)
		}
		if diff := cmp.Diff(want, got.Tags); diff != "" {
			t.Errorf("GetFunction Tags (-want +got):\n%s", diff)
		}
	})

	t.Run("RawWire", func(t *testing.T) {
		// The body carries "Tags":{} rather than leaving the member out, and
		// the label is accepted percent-encoded (as the SDKs send it) or not.
		for _, label := range []string{strings.ReplaceAll(plain, ":", "%3A"), plain} {
			resp, body := signedDo(t, s, http.MethodGet, "/2017-03-31/tags/"+label, "")
			if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != `{"Tags":{}}` {
				t.Errorf("GET tags/%s = %d %s, want 200 {\"Tags\":{}}", label, resp.StatusCode, body)
			}
		}
		// UntagResource without tagKeys fails the model's constraint.
		resp, body := signedDo(t, s, http.MethodDelete, "/2017-03-31/tags/"+plain, "")
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("X-Amzn-ErrorType") != "ValidationException" ||
			!strings.Contains(string(body), "Value null at 'tagKeys'") {
			t.Errorf("UntagResource without tagKeys = %d %s %s, want 400 ValidationException", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), body)
		}
		// A successful TagResource is a 204 with no body.
		resp, body = signedDo(t, s, http.MethodPost, "/2017-03-31/tags/"+plain, `{"Tags":{"raw":"yes"}}`)
		if resp.StatusCode != http.StatusNoContent || len(body) != 0 {
			t.Errorf("TagResource = %d %q, want 204 and no body", resp.StatusCode, body)
		}
		resp, body = signedDo(t, s, http.MethodDelete, "/2017-03-31/tags/"+plain+"?tagKeys=raw&tagKeys=absent", "")
		if resp.StatusCode != http.StatusNoContent || len(body) != 0 {
			t.Errorf("UntagResource = %d %q, want 204 and no body", resp.StatusCode, body)
		}
		wantTagList(t, c, plain, nil)
	})

	t.Run("TagAddsAndOverwrites", func(t *testing.T) {
		if err := tagResource(c, arn, map[string]string{"env": "prod", "cost": "42", "unicode": "été"}); err != nil {
			t.Fatalf("TagResource: %v", err)
		}
		wantTagList(t, c, arn, map[string]string{"team": "core", "env": "prod", "cost": "42", "unicode": "été"})
	})

	t.Run("UntagRemovesSeveral", func(t *testing.T) {
		_, err := c.UntagResource(ctx, &lambda.UntagResourceInput{Resource: aws.String(arn), TagKeys: []string{"env", "cost", "never-set"}})
		if err != nil {
			t.Fatalf("UntagResource: %v", err)
		}
		wantTagList(t, c, arn, map[string]string{"team": "core", "unicode": "été"})
	})

	t.Run("FiftyAtMost", func(t *testing.T) {
		if err := tagResource(c, plain, numberedTags(0, 50)); err != nil {
			t.Fatalf("TagResource with 50 tags: %v", err)
		}
		err := tagResource(c, plain, map[string]string{"one-too-many": "x"})
		cpWantErr(t, err, "InvalidParameterValueException", 400, "Number of tags exceeds resource tag limit.")
		// Overwriting keeps the count, so it is allowed at the limit.
		if err := tagResource(c, plain, map[string]string{"k0": "new"}); err != nil {
			t.Fatalf("overwrite at 50 tags: %v", err)
		}
		want := numberedTags(0, 50)
		want["k0"] = "new"
		wantTagList(t, c, plain, want)
		err = tagResource(c, arn, numberedTags(100, 51))
		cpWantErr(t, err, "InvalidParameterValueException", 400, "Number of tags exceeds resource tag limit.")
	})

	t.Run("KeysAndValues", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			tags map[string]string
			msg  string // "" = accepted
		}{
			{"aws prefix", map[string]string{"aws:cloudformation:stack-name": "x"}, "reserved"},
			{"AWS prefix", map[string]string{"AWS:thing": "x"}, "reserved"},
			{"key of 129", map[string]string{strings.Repeat("k", 129): "x"}, "at 'tags'"},
			{"value of 257", map[string]string{"long": strings.Repeat("v", 257)}, "at 'tags'"},
			{"empty map", map[string]string{}, "An error occurred and the request cannot be processed."},
			{"key of 128 two-byte characters", map[string]string{strings.Repeat("é", 128): strings.Repeat("é", 256)}, ""},
			{"aws inside a key", map[string]string{"my-aws:key": ""}, ""},
		} {
			err := tagResource(c, arn, tc.tags)
			if tc.msg == "" {
				if err != nil {
					t.Errorf("%s: TagResource: %v", tc.name, err)
				}
				continue
			}
			cpWantErr(t, err, "InvalidParameterValueException", 400, tc.msg)
		}
		got := listTags(t, c, arn)
		for k := range got {
			if strings.HasPrefix(strings.ToLower(k), "aws:") || len([]rune(k)) > 128 {
				t.Errorf("refused key %.20q was stored", k)
			}
		}
	})

	t.Run("UnknownFunction", func(t *testing.T) {
		ghost := strings.TrimSuffix(arn, "tagged") + "ghost"
		cpWantErr(t, tagResource(c, ghost, map[string]string{"a": "b"}), "ResourceNotFoundException", 404, "Function not found: "+ghost)
		_, err := c.UntagResource(ctx, &lambda.UntagResourceInput{Resource: aws.String(ghost), TagKeys: []string{"a"}})
		cpWantErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+ghost)
		_, err = c.ListTags(ctx, &lambda.ListTagsInput{Resource: aws.String(ghost)})
		cpWantErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+ghost)
		// Another account's function is not one of ours.
		parts := strings.Split(arn, ":")
		parts[4] = "999999999999"
		foreign := strings.Join(parts, ":")
		cpWantErr(t, tagResource(c, foreign, map[string]string{"a": "b"}), "ResourceNotFoundException", 404, "Function not found: "+foreign)
	})

	t.Run("QualifiedOrBareRefused", func(t *testing.T) {
		const msg = "Tags on function aliases and versions are not supported. Please specify a function ARN."
		before := listTags(t, c, arn)
		for _, q := range []string{"$LATEST", "1", "live"} {
			qualified := arn + ":" + q
			cpWantErr(t, tagResource(c, qualified, map[string]string{"a": "b"}), "InvalidParameterValueException", 400, msg)
			_, err := c.ListTags(ctx, &lambda.ListTagsInput{Resource: aws.String(qualified)})
			cpWantErr(t, err, "InvalidParameterValueException", 400, msg)
		}
		// Lambda checks the label against the model's ARN pattern first.
		for _, bare := range []string{"tagged", "000000000000:function:tagged"} {
			cpWantErr(t, tagResource(c, bare, map[string]string{"a": "b"}), "ValidationException", 400,
				"Value '"+bare+"' at 'resource' failed to satisfy constraint")
		}
		wantTagList(t, c, arn, before) // nothing was tagged
	})
}

// signedDo sends a SigV4-signed request without the SDK, so the test sees
// the response exactly as sent.
func signedDo(t *testing.T, s *gusttest.Server, method, path, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.Endpoint+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: s.KeyID, SecretAccessKey: s.Secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "lambda", s.Region(), time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp, got
}

// TestTagsKeepWarmEnvironment checks that tagging is not a change that
// stops environments: RevisionId and LastModified stay, and the next invoke
// runs warm in the same environment.
func TestTagsKeepWarmEnvironment(t *testing.T) {
	t.Parallel()
	s := gusttest.StartServer(t)
	c := s.Lambda()
	ctx := context.Background()
	arn := aws.ToString(createFunction(t, c, "warmtags", types.RuntimeNodejs20x, "index.handler",
		gusttest.Zip(t, map[string]string{"index.mjs": nodeKit})).FunctionArn)

	first := invokeTail(t, c, "warmtags", `{}`)
	mustSucceed(t, first)
	stream := liveEnv(t, decode[kitReply](t, first.Payload).LogStreamName)
	before, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("warmtags")})
	if err != nil {
		t.Fatalf("GetFunction: %v", err)
	}

	if err := tagResource(c, arn, map[string]string{"a": "1", "b": "2"}); err != nil {
		t.Fatalf("TagResource: %v", err)
	}
	if _, err := c.UntagResource(ctx, &lambda.UntagResourceInput{Resource: aws.String(arn), TagKeys: []string{"b"}}); err != nil {
		t.Fatalf("UntagResource: %v", err)
	}
	after, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("warmtags")})
	if err != nil {
		t.Fatalf("GetFunction: %v", err)
	}
	if b, a := before.Configuration, after.Configuration; aws.ToString(a.RevisionId) != aws.ToString(b.RevisionId) ||
		aws.ToString(a.LastModified) != aws.ToString(b.LastModified) {
		t.Errorf("tagging changed RevisionId %s -> %s, LastModified %s -> %s",
			aws.ToString(b.RevisionId), aws.ToString(a.RevisionId), aws.ToString(b.LastModified), aws.ToString(a.LastModified))
	}
	if diff := cmp.Diff(map[string]string{"a": "1"}, after.Tags); diff != "" {
		t.Errorf("GetFunction Tags (-want +got):\n%s", diff)
	}

	second := invokeTail(t, c, "warmtags", `{}`)
	mustSucceed(t, second)
	r := decode[kitReply](t, second.Payload)
	if r.LogStreamName != stream || r.Count != 2 {
		t.Errorf("after tagging: invoke %d ran in %s, want invoke 2 in the warm %s", r.Count, r.LogStreamName, stream)
	}
	if checkFrame(t, second) {
		t.Errorf("the invoke after tagging was a cold start (REPORT has Init Duration)")
	}
	liveEnv(t, stream)
}

// awsCLIsForTags returns the distinct AWS CLI binaries to drive: the one on
// PATH and /usr/bin/aws (v2 where installed).
func awsCLIsForTags() []string {
	var out []string
	seen := map[string]bool{}
	candidates := []string{"/usr/bin/aws"}
	if p, err := exec.LookPath("aws"); err == nil {
		candidates = append([]string{p}, candidates...)
	}
	for _, p := range candidates {
		real, err := filepath.EvalSymlinks(p)
		if err != nil || seen[real] {
			continue
		}
		seen[real] = true
		out = append(out, p)
	}
	return out
}

// TestTagsAWSCLI drives the three operations with the real AWS CLI, whose
// tag-resource sends the ARN label percent-encoded and whose untag-resource
// sends tagKeys as a repeated query parameter.
func TestTagsAWSCLI(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("does not depend on the sandbox; the full run covers it")
	}
	if testing.Short() {
		t.Skip("slow: runs the aws CLI")
	}
	clis := awsCLIsForTags()
	if len(clis) == 0 {
		t.Skip("no aws CLI installed")
	}
	s := gusttest.StartServer(t)
	c := s.Lambda()
	zip := gusttest.Zip(t, map[string]string{"index.mjs": nodeKit})
	for i, cli := range clis {
		version, err := exec.Command(cli, "--version").CombinedOutput()
		if err != nil {
			t.Logf("skipping %s: --version: %v: %s", cli, err, version)
			continue
		}
		name := "v2"
		if strings.HasPrefix(string(version), "aws-cli/1.") {
			name = "v1"
		}
		t.Run(name, func(t *testing.T) {
			fn := fmt.Sprintf("clitags%d", i)
			arn := aws.ToString(createFunction(t, c, fn, types.RuntimeNodejs20x, "index.handler", zip).FunctionArn)
			home := t.TempDir()
			run := func(args ...string) []byte {
				t.Helper()
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				cmd := exec.CommandContext(ctx, cli, append(args, "--endpoint-url", s.Endpoint, "--output", "json")...)
				cmd.Env = append(cmd.Environ(),
					"HOME="+home,
					"AWS_CONFIG_FILE="+filepath.Join(home, "none"),
					"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "none"),
					"AWS_ACCESS_KEY_ID="+s.KeyID,
					"AWS_SECRET_ACCESS_KEY="+s.Secret,
					"AWS_DEFAULT_REGION="+s.Region(),
					"AWS_PAGER=",
				)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
				}
				return out
			}
			cliTags := func() map[string]string {
				t.Helper()
				var got struct{ Tags map[string]string }
				out := run("lambda", "list-tags", "--resource", arn)
				if err := json.Unmarshal(out, &got); err != nil {
					t.Fatalf("list-tags output %q: %v", out, err)
				}
				return got.Tags
			}

			if got := cliTags(); len(got) != 0 {
				t.Errorf("list-tags of a new function = %v, want none", got)
			}
			run("lambda", "tag-resource", "--resource", arn, "--tags", "team=core,env=dev,cost=42")
			if diff := cmp.Diff(map[string]string{"team": "core", "env": "dev", "cost": "42"}, cliTags()); diff != "" {
				t.Errorf("list-tags after tag-resource (-want +got):\n%s", diff)
			}
			run("lambda", "untag-resource", "--resource", arn, "--tag-keys", "env", "cost")
			if diff := cmp.Diff(map[string]string{"team": "core"}, cliTags()); diff != "" {
				t.Errorf("list-tags after untag-resource (-want +got):\n%s", diff)
			}
			wantTagList(t, c, arn, map[string]string{"team": "core"}) // the SDK agrees
		})
	}
}
