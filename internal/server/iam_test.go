package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/smithy-go"

	"gust/internal/gusttest"
	"gust/internal/iam"
)

// iamCall is one signed request to s; creds may carry a session token.
func iamCall(t *testing.T, s *gusttest.Server, creds aws.Credentials, method, path string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.Endpoint+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "lambda", s.Region(), time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// iamRootCreds are the admin key pair: the account root.
func iamRootCreds(s *gusttest.Server) aws.Credentials {
	return aws.Credentials{AccessKeyID: s.KeyID, SecretAccessKey: s.Secret}
}

// iamLambdaAs is a Lambda client of s signing with the given credentials.
func iamLambdaAs(s *gusttest.Server, key, secret, token string) *lambda.Client {
	cfg := s.AWSConfig()
	cfg.Credentials = credentials.NewStaticCredentialsProvider(key, secret, token)
	return lambda.NewFromConfig(cfg, func(o *lambda.Options) {
		o.BaseEndpoint = aws.String(s.Endpoint)
		o.RetryMaxAttempts = 1
	})
}

// iamWantCode fails unless err is an API error with code.
func iamWantCode(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("error = %v, want %s", err, code)
	}
}

// iamListPolicy allows ListFunctions, the call these tests sign.
const iamListPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:ListFunctions","Resource":"*"}]}`

// iamListFunctions runs ListFunctions as c.
func iamListFunctions(c *lambda.Client) error {
	_, err := c.ListFunctions(context.Background(), &lambda.ListFunctionsInput{})
	return err
}

func TestIAMUsersSignRequests(t *testing.T) {
	t.Parallel()
	s := gusttest.StartServer(t)
	root := iamRootCreds(s)

	status, _, body := iamCall(t, s, root, "POST", "/_gust/v1/iam/users", []byte(`{"UserName":"alice"}`))
	if status != http.StatusCreated {
		t.Fatalf("create user: %d %s", status, body)
	}
	var created struct {
		User      iam.User
		AccessKey iam.AccessKey
	}
	if err := json.Unmarshal(body, &created); err != nil {
		t.Fatal(err)
	}
	if created.User.ARN != "arn:aws:iam::000000000000:user/alice" || created.AccessKey.ID == "" || created.AccessKey.Secret == "" {
		t.Fatalf("create user answered %s", body)
	}
	key := created.AccessKey
	if status, _, body := iamCall(t, s, root, "PUT", "/_gust/v1/iam/users/alice/policy", []byte(iamListPolicy)); status != http.StatusNoContent {
		t.Fatalf("put user policy: %d %s", status, body)
	}

	if err := iamListFunctions(iamLambdaAs(s, key.ID, key.Secret, "")); err != nil {
		t.Fatalf("ListFunctions as the new user: %v", err)
	}
	iamWantCode(t, iamListFunctions(iamLambdaAs(s, "AKIAUNKNOWNUNKNOWN22", key.Secret, "")), "UnrecognizedClientException")
	iamWantCode(t, iamListFunctions(iamLambdaAs(s, key.ID, "wrong-secret", "")), "InvalidSignatureException")

	// Only root manages IAM.
	userCreds := aws.Credentials{AccessKeyID: key.ID, SecretAccessKey: key.Secret}
	status, h, body := iamCall(t, s, userCreds, "POST", "/_gust/v1/iam/users", []byte(`{"UserName":"mallory"}`))
	wantMsg := `{"Type":"User","Message":"User: arn:aws:iam::000000000000:user/alice is not authorized to perform: iam:CreateUser on resource: arn:aws:iam::000000000000:user/"}`
	if status != http.StatusForbidden || h.Get("X-Amzn-ErrorType") != "AccessDeniedException" || string(bytes.TrimSpace(body)) != wantMsg {
		t.Errorf("create user as a user: %d %s %s\nwant 403 AccessDeniedException %s", status, h.Get("X-Amzn-ErrorType"), body, wantMsg)
	}
	if _, err := s.IAM().GetUser(t.Context(), "mallory"); !errors.Is(err, iam.ErrNotFound) {
		t.Errorf("a denied CreateUser created the user: %v", err)
	}

	// Rotation: the old key is unrecognized at once, the new one works.
	status, _, body = iamCall(t, s, root, "POST", "/_gust/v1/iam/users/alice/rotate-key", nil)
	var rotated struct{ AccessKey iam.AccessKey }
	if status != http.StatusOK || json.Unmarshal(body, &rotated) != nil || rotated.AccessKey.ID == key.ID {
		t.Fatalf("rotate key: %d %s", status, body)
	}
	iamWantCode(t, iamListFunctions(iamLambdaAs(s, key.ID, key.Secret, "")), "UnrecognizedClientException")
	if err := iamListFunctions(iamLambdaAs(s, rotated.AccessKey.ID, rotated.AccessKey.Secret, "")); err != nil {
		t.Errorf("ListFunctions with the rotated key: %v", err)
	}

	// Deleting the user retires its key.
	if status, _, body := iamCall(t, s, root, "DELETE", "/_gust/v1/iam/users/alice", nil); status != http.StatusNoContent {
		t.Fatalf("delete user: %d %s", status, body)
	}
	iamWantCode(t, iamListFunctions(iamLambdaAs(s, rotated.AccessKey.ID, rotated.AccessKey.Secret, "")), "UnrecognizedClientException")
}

func TestIAMSessionCredentials(t *testing.T) {
	t.Parallel()
	s := gusttest.StartServer(t)
	role, err := s.IAM().CreateRole(t.Context(), "lister", []byte(iamListPolicy))
	if err != nil {
		t.Fatal(err)
	}
	creds, err := s.IAM().IssueSession(role.ARN, "test-session", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := iamListFunctions(iamLambdaAs(s, creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)); err != nil {
		t.Fatalf("ListFunctions with session credentials: %v", err)
	}
	iamWantCode(t, iamListFunctions(iamLambdaAs(s, creds.AccessKeyID, creds.SecretAccessKey, "")), "UnrecognizedClientException")
	iamWantCode(t, iamListFunctions(iamLambdaAs(s, creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken+"x")), "UnrecognizedClientException")

	// A function's role is no administrator either.
	session := aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey, SessionToken: creds.SessionToken}
	status, h, body := iamCall(t, s, session, "GET", "/_gust/v1/iam/roles", nil)
	if status != http.StatusForbidden || h.Get("X-Amzn-ErrorType") != "AccessDeniedException" ||
		!bytes.Contains(body, []byte("User: arn:aws:sts::000000000000:assumed-role/lister/test-session is not authorized to perform: iam:ListRoles")) {
		t.Errorf("list roles as a session: %d %s %s, want 403 AccessDeniedException", status, h.Get("X-Amzn-ErrorType"), body)
	}

	// The session dies with its role.
	if status, _, body := iamCall(t, s, iamRootCreds(s), "DELETE", "/_gust/v1/iam/roles/lister", nil); status != http.StatusNoContent {
		t.Fatalf("delete role: %d %s", status, body)
	}
	iamWantCode(t, iamListFunctions(iamLambdaAs(s, creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)), "UnrecognizedClientException")
}

func TestIAMAdminEndpoints(t *testing.T) {
	t.Parallel()
	s := gusttest.StartServer(t)
	root := iamRootCreds(s)
	const doc = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"*"}]}`
	tests := []struct {
		name, method, path, body string
		status                   int
		code                     string // X-Amzn-ErrorType; "" on success
		want                     string // a substring of the answer
	}{
		{"create role, document as string", "POST", "/_gust/v1/iam/roles", `{"RoleName":"worker","PolicyDocument":` + iamQuote(doc) + `}`, 201, "", `"Arn":"arn:aws:iam::000000000000:role/worker"`},
		{"create role, document as object", "POST", "/_gust/v1/iam/roles", `{"RoleName":"other","PolicyDocument":` + doc + `}`, 201, "", `"RoleName":"other"`},
		{"duplicate role", "POST", "/_gust/v1/iam/roles", `{"RoleName":"WORKER"}`, 409, "ResourceConflictException", "Role with name WORKER already exists."},
		{"malformed policy", "PUT", "/_gust/v1/iam/roles/worker/policy", `{"Statement":[{"Effect":"Perhaps"}]}`, 400, "InvalidParameterValueException", ""},
		{"bad role name", "POST", "/_gust/v1/iam/roles", `{"RoleName":"a b"}`, 400, "InvalidParameterValueException", "roleName"},
		{"list roles", "GET", "/_gust/v1/iam/roles", "", 200, "", `"RoleName":"lambda-role"`},
		{"get role", "GET", "/_gust/v1/iam/roles/worker", "", 200, "", `lambda:InvokeFunction`},
		{"remove role policy", "DELETE", "/_gust/v1/iam/roles/worker/policy", "", 204, "", ""},
		{"role policy removed", "GET", "/_gust/v1/iam/roles/worker", "", 200, "", `"RoleName":"worker"`},
		{"missing role", "GET", "/_gust/v1/iam/roles/nope", "", 404, "ResourceNotFoundException", "The role with name nope cannot be found."},
		{"delete role", "DELETE", "/_gust/v1/iam/roles/worker", "", 204, "", ""},
		{"create user", "POST", "/_gust/v1/iam/users", `{"UserName":"bob"}`, 201, "", `"SecretAccessKey":"`},
		{"duplicate user", "POST", "/_gust/v1/iam/users", `{"UserName":"Bob"}`, 409, "ResourceConflictException", "User with name Bob already exists."},
		{"put user policy", "PUT", "/_gust/v1/iam/users/bob/policy", doc, 204, "", ""},
		{"get user", "GET", "/_gust/v1/iam/users/bob", "", 200, "", `"PolicyDocument":`},
		{"list users", "GET", "/_gust/v1/iam/users", "", 200, "", `"UserName":"bob"`},
		{"user secrets are not listed", "GET", "/_gust/v1/iam/users", "", 200, "", `"AccessKeyIds":["AKIA`},
		{"missing user", "DELETE", "/_gust/v1/iam/users/nope", "", 404, "ResourceNotFoundException", "The user with name nope cannot be found."},
		{"bad JSON", "POST", "/_gust/v1/iam/users", `{"UserName":`, 400, "InvalidRequestContentException", ""},
	}
	for _, tt := range tests {
		var body []byte
		if tt.body != "" {
			body = []byte(tt.body)
		}
		status, h, got := iamCall(t, s, root, tt.method, tt.path, body)
		if status != tt.status || h.Get("X-Amzn-ErrorType") != tt.code || !bytes.Contains(got, []byte(tt.want)) {
			t.Errorf("%s: %s %s = %d %q %s\nwant %d %q containing %s", tt.name, tt.method, tt.path, status, h.Get("X-Amzn-ErrorType"), got, tt.status, tt.code, tt.want)
		}
		if tt.name == "role policy removed" && bytes.Contains(got, []byte("PolicyDocument")) {
			t.Errorf("role still has a policy: %s", got)
		}
		if tt.name == "user secrets are not listed" && bytes.Contains(got, []byte("SecretAccessKey")) {
			t.Errorf("ListUsers shows secrets: %s", got)
		}
	}
}

func iamQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
