package server_test

// The control-plane compatibility suite: a real server driven through
// aws-sdk-go-v2's Lambda client, with raw signed HTTP where the SDK would
// hide the wire (status codes of bodiless replies, raw JSON, headers).

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"gust/internal/gusttest"
)

const (
	cpRole    = "arn:aws:iam::000000000000:role/lambda-role"
	cpAccount = "000000000000"
	cpARN     = "arn:aws:lambda:us-east-1:000000000000:function:"
)

var (
	cpLastModified = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$`)
	cpUUID         = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

// cpNodeZip is a tiny Node package whose handler returns {v, x: $XV}.
// (Lambda's key pattern needs two characters, so not $X.)
func cpNodeZip(t testing.TB, v string) []byte {
	t.Helper()
	return gusttest.Zip(t, map[string]string{"index.mjs": `export const handler = async () => ({v: "` + v + `", x: process.env.XV ?? null});` + "\n"})
}

// cpCreate creates a nodejs20.x function; edit adjusts the input first.
func cpCreate(t testing.TB, c *lambda.Client, name string, zip []byte, edit func(*lambda.CreateFunctionInput)) *lambda.CreateFunctionOutput {
	t.Helper()
	in := &lambda.CreateFunctionInput{
		FunctionName: aws.String(name),
		Runtime:      types.RuntimeNodejs20x,
		Handler:      aws.String("index.handler"),
		Role:         aws.String(cpRole),
		Code:         &types.FunctionCode{ZipFile: zip},
	}
	if edit != nil {
		edit(in)
	}
	out, err := c.CreateFunction(context.Background(), in)
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return out
}

// cpSha is Lambda's CodeSha256 of zip.
func cpSha(zip []byte) string {
	sum := sha256.Sum256(zip)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// cpWantErr checks err's AWS code, HTTP status and (if msg != "") that the
// message contains msg.
func cpWantErr(t testing.TB, err error, code string, status int, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want %s (%d)", code, status)
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, not an API error (want %s)", err, code)
	}
	if ae.ErrorCode() != code {
		t.Errorf("code = %q, want %q (%v)", ae.ErrorCode(), code, err)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v has no HTTP response", err)
	}
	if re.HTTPStatusCode() != status {
		t.Errorf("status = %d, want %d (%v)", re.HTTPStatusCode(), status, err)
	}
	if msg != "" && !strings.Contains(ae.ErrorMessage(), msg) {
		t.Errorf("message = %q, want it to contain %q", ae.ErrorMessage(), msg)
	}
}

// cpSigning says how cpRequest signs; the zero value means "unsigned".
type cpSigning struct {
	key, secret, service, region string
	at                           time.Time
}

// cpSigner signs as s's own credentials do, now.
func cpSigner(s *gusttest.Server) cpSigning {
	return cpSigning{key: s.KeyID, secret: s.Secret, service: "lambda", region: s.Region(), at: time.Now()}
}

// cpResponse is a raw HTTP reply.
type cpResponse struct {
	status int
	header http.Header
	body   []byte
}

// errorCode is the X-Amzn-ErrorType of a raw reply.
func (r cpResponse) errorCode() string { return r.header.Get("X-Amzn-ErrorType") }

// message is the Message of an AWS error body.
func (r cpResponse) message(t testing.TB) string {
	t.Helper()
	var b struct{ Type, Message string }
	if err := json.Unmarshal(r.body, &b); err != nil {
		t.Fatalf("error body %q: %v", r.body, err)
	}
	return b.Message
}

// cpRequest sends method path (with query) to s, signed as sg says.
func cpRequest(t testing.TB, s *gusttest.Server, sg cpSigning, method, path string, body []byte) cpResponse {
	t.Helper()
	req, err := http.NewRequest(method, s.Endpoint+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if sg.key != "" {
		sum := sha256.Sum256(body)
		creds := aws.Credentials{AccessKeyID: sg.key, SecretAccessKey: sg.secret}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), sg.service, sg.region, sg.at); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return cpResponse{status: resp.StatusCode, header: resp.Header, body: b}
}

// cpRaw sends a request signed with s's credentials.
func cpRaw(t testing.TB, s *gusttest.Server, method, path string, body []byte) cpResponse {
	t.Helper()
	return cpRequest(t, s, cpSigner(s), method, path, body)
}

// cpInvoke invokes name and decodes the {v, x} result of cpNodeZip.
func cpInvoke(t testing.TB, c *lambda.Client, name string) (v string, x *string) {
	t.Helper()
	out, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String(name)})
	if err != nil {
		t.Fatalf("invoke %s: %v", name, err)
	}
	if out.FunctionError != nil {
		t.Fatalf("invoke %s: function error %s: %s", name, *out.FunctionError, out.Payload)
	}
	var got struct {
		V string
		X *string
	}
	if err := json.Unmarshal(out.Payload, &got); err != nil {
		t.Fatalf("invoke %s: payload %q: %v", name, out.Payload, err)
	}
	return got.V, got.X
}

func TestCreateFunctionShape(t *testing.T) {
	s := gusttest.StartServer(t)
	c := s.Lambda()
	ctx := context.Background()
	zip := cpNodeZip(t, "A")
	out := cpCreate(t, c, "shape", zip, nil)

	checks := []struct {
		field     string
		got, want any
	}{
		{"FunctionName", aws.ToString(out.FunctionName), "shape"},
		{"FunctionArn", aws.ToString(out.FunctionArn), cpARN + "shape"},
		{"Version", aws.ToString(out.Version), "$LATEST"},
		{"State", out.State, types.StateActive},
		{"LastUpdateStatus", out.LastUpdateStatus, types.LastUpdateStatusSuccessful},
		{"CodeSha256", aws.ToString(out.CodeSha256), cpSha(zip)},
		{"CodeSize", out.CodeSize, int64(len(zip))},
		{"Timeout", aws.ToInt32(out.Timeout), int32(3)},
		{"MemorySize", aws.ToInt32(out.MemorySize), int32(128)},
		{"EphemeralStorage", aws.ToInt32(out.EphemeralStorage.Size), int32(512)},
		{"Architectures", out.Architectures, []types.Architecture{types.ArchitectureX8664}},
		{"PackageType", out.PackageType, types.PackageTypeZip},
		{"TracingConfig", out.TracingConfig.Mode, types.TracingModePassThrough},
		{"LoggingConfig.LogGroup", aws.ToString(out.LoggingConfig.LogGroup), "/aws/lambda/shape"},
		{"Runtime", out.Runtime, types.RuntimeNodejs20x},
		{"Handler", aws.ToString(out.Handler), "index.handler"},
		{"Role", aws.ToString(out.Role), cpRole},
	}
	for _, c := range checks {
		if diff := cmp.Diff(c.want, c.got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.field, diff)
		}
	}
	if !cpUUID.MatchString(aws.ToString(out.RevisionId)) {
		t.Errorf("RevisionId = %q, want a UUID", aws.ToString(out.RevisionId))
	}
	if !cpLastModified.MatchString(aws.ToString(out.LastModified)) {
		t.Errorf("LastModified = %q", aws.ToString(out.LastModified))
	}

	// The raw JSON, as a non-Go client sees it.
	raw := cpRaw(t, s, "GET", "/2015-03-31/functions/shape/configuration", nil)
	if raw.status != 200 {
		t.Fatalf("raw get configuration: %d %s", raw.status, raw.body)
	}
	var conf map[string]any
	if err := json.Unmarshal(raw.body, &conf); err != nil {
		t.Fatal(err)
	}
	if lm, _ := conf["LastModified"].(string); !cpLastModified.MatchString(lm) {
		t.Errorf("raw LastModified = %#v", conf["LastModified"])
	}
	for _, k := range []string{"State", "LastUpdateStatus", "Version", "PackageType", "Architectures"} {
		if _, ok := conf[k]; !ok {
			t.Errorf("raw configuration lacks %s: %s", k, raw.body)
		}
	}

	// Waiters succeed on their first poll (their delay is ≥ 1 s).
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := lambda.NewFunctionActiveV2Waiter(c).Wait(wctx, &lambda.GetFunctionInput{FunctionName: aws.String("shape")}, 10*time.Second); err != nil {
		t.Errorf("function-active-v2 waiter: %v", err)
	}
	if err := lambda.NewFunctionUpdatedV2Waiter(c).Wait(wctx, &lambda.GetFunctionInput{FunctionName: aws.String("shape")}, 10*time.Second); err != nil {
		t.Errorf("function-updated-v2 waiter: %v", err)
	}
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Errorf("waiters took %s; they should pass on the first poll", d)
	}
}

func TestCreateFunctionErrors(t *testing.T) {
	s := gusttest.StartServer(t)
	c := s.Lambda()
	ctx := context.Background()
	zip := cpNodeZip(t, "A")
	cpCreate(t, c, "dup", zip, nil)

	_, err := c.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("dup"), Runtime: types.RuntimeNodejs20x, Handler: aws.String("index.handler"),
		Role: aws.String(cpRole), Code: &types.FunctionCode{ZipFile: zip},
	})
	cpWantErr(t, err, "ResourceConflictException", 409, "Function already exist: dup")

	tests := []struct {
		name string
		edit func(*lambda.CreateFunctionInput)
		msg  string
	}{
		{"memory 127", func(in *lambda.CreateFunctionInput) { in.MemorySize = aws.Int32(127) }, "'memorySize'"},
		{"memory 10241", func(in *lambda.CreateFunctionInput) { in.MemorySize = aws.Int32(10241) }, "'memorySize'"},
		{"timeout 0", func(in *lambda.CreateFunctionInput) { in.Timeout = aws.Int32(0) }, "'timeout'"},
		{"timeout 901", func(in *lambda.CreateFunctionInput) { in.Timeout = aws.Int32(901) }, "'timeout'"},
		{"ephemeral 511", func(in *lambda.CreateFunctionInput) {
			in.EphemeralStorage = &types.EphemeralStorage{Size: aws.Int32(511)}
		}, "'ephemeralStorage.size'"},
		{"env over 4KB", func(in *lambda.CreateFunctionInput) {
			in.Environment = &types.Environment{Variables: map[string]string{"BIG": strings.Repeat("x", 4094)}}
		}, "4KB"},
		{"reserved env key", func(in *lambda.CreateFunctionInput) {
			in.Environment = &types.Environment{Variables: map[string]string{"AWS_REGION": "eu-west-1"}}
		}, "Reserved keys used in this request: AWS_REGION"},
		{"env key starts with digit", func(in *lambda.CreateFunctionInput) {
			in.Environment = &types.Environment{Variables: map[string]string{"1BAD": "x"}}
		}, "[a-zA-Z]([a-zA-Z0-9_])+"},
		{"env key one char", func(in *lambda.CreateFunctionInput) {
			in.Environment = &types.Environment{Variables: map[string]string{"A": "x"}}
		}, "[a-zA-Z]([a-zA-Z0-9_])+"},
		{"unknown runtime", func(in *lambda.CreateFunctionInput) { in.Runtime = "cobol85" }, "'runtime'"},
		{"node handler without dot", func(in *lambda.CreateFunctionInput) { in.Handler = aws.String("handler") }, "handler"},
		{"invalid name", func(in *lambda.CreateFunctionInput) { in.FunctionName = aws.String("bad name!") }, "'functionName'"},
		{"name too long", func(in *lambda.CreateFunctionInput) { in.FunctionName = aws.String(strings.Repeat("n", 65)) }, "'functionName'"},
		{"S3 code source", func(in *lambda.CreateFunctionInput) {
			in.Code = &types.FunctionCode{S3Bucket: aws.String("bucket"), S3Key: aws.String("key.zip")}
		}, "ZipFile"},
		{"container image", func(in *lambda.CreateFunctionInput) {
			in.Code = &types.FunctionCode{ImageUri: aws.String("000000000000.dkr.ecr.us-east-1.amazonaws.com/x:1")}
		}, "ImageUri"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &lambda.CreateFunctionInput{
				FunctionName: aws.String("valid-" + strings.NewReplacer(" ", "-").Replace(tt.name)),
				Runtime:      types.RuntimeNodejs20x,
				Handler:      aws.String("index.handler"),
				Role:         aws.String(cpRole),
				Code:         &types.FunctionCode{ZipFile: zip},
			}
			tt.edit(in)
			_, err := c.CreateFunction(ctx, in)
			cpWantErr(t, err, "InvalidParameterValueException", 400, tt.msg)
		})
	}

	// The SDK refuses to send a create without Role; a raw request can.
	body := fmt.Sprintf(`{"FunctionName":"norole","Runtime":"nodejs20.x","Handler":"index.handler","Code":{"ZipFile":%q}}`,
		base64.StdEncoding.EncodeToString(zip))
	r := cpRaw(t, s, "POST", "/2015-03-31/functions", []byte(body))
	if r.status != 400 || r.errorCode() != "InvalidParameterValueException" || !strings.Contains(r.message(t), "'role'") {
		t.Errorf("create without Role: %d %s %s", r.status, r.errorCode(), r.body)
	}
	// Malformed JSON is its own error.
	r = cpRaw(t, s, "POST", "/2015-03-31/functions", []byte(`{"FunctionName":`))
	if r.status != 400 || r.errorCode() != "InvalidRequestContentException" {
		t.Errorf("malformed JSON: %d %s %s", r.status, r.errorCode(), r.body)
	}

	// None of the rejected creates left a function behind.
	list, err := c.ListFunctions(ctx, &lambda.ListFunctionsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Functions) != 1 || aws.ToString(list.Functions[0].FunctionName) != "dup" {
		var names []string
		for _, f := range list.Functions {
			names = append(names, aws.ToString(f.FunctionName))
		}
		t.Errorf("functions after rejected creates = %v, want [dup]", names)
	}
}

func TestGetFunction(t *testing.T) {
	s := gusttest.StartServer(t)
	c := s.Lambda()
	ctx := context.Background()
	zip := cpNodeZip(t, "A")
	created := cpCreate(t, c, "getme", zip, nil)

	forms := []struct {
		name      string
		fn        string
		qualifier *string
	}{
		{"bare name", "getme", nil},
		{"full ARN", cpARN + "getme", nil},
		{"partial ARN", cpAccount + ":function:getme", nil},
		{"Qualifier $LATEST", "getme", aws.String("$LATEST")},
		{"name:qualifier", "getme:$LATEST", nil},
		{"full ARN with qualifier", cpARN + "getme:$LATEST", nil},
		{"partial ARN with qualifier", cpAccount + ":function:getme:$LATEST", aws.String("$LATEST")},
	}
	for _, f := range forms {
		t.Run(f.name, func(t *testing.T) {
			got, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(f.fn), Qualifier: f.qualifier})
			if err != nil {
				t.Fatalf("GetFunction: %v", err)
			}
			conf := got.Configuration
			if aws.ToString(conf.FunctionName) != "getme" || aws.ToString(conf.RevisionId) != aws.ToString(created.RevisionId) ||
				aws.ToString(conf.CodeSha256) != cpSha(zip) || conf.State != types.StateActive ||
				conf.LastUpdateStatus != types.LastUpdateStatusSuccessful {
				t.Errorf("GetFunction configuration = %+v", conf)
			}
			if aws.ToString(got.Code.RepositoryType) != "S3" || aws.ToString(got.Code.Location) == "" {
				t.Errorf("Code = %+v", got.Code)
			}
			gc, err := c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(f.fn), Qualifier: f.qualifier})
			if err != nil {
				t.Fatalf("GetFunctionConfiguration: %v", err)
			}
			if aws.ToString(gc.CodeSha256) != cpSha(zip) || aws.ToString(gc.Version) != "$LATEST" {
				t.Errorf("GetFunctionConfiguration = %+v", gc)
			}
		})
	}

	// Code.Location downloads the exact zip, without signing; a tampered
	// link is refused.
	got, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("getme")})
	if err != nil {
		t.Fatal(err)
	}
	loc := aws.ToString(got.Code.Location)
	resp, err := http.Get(loc)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(body, zip) {
		t.Errorf("download %s: status %d, %d bytes; want 200 and the %d uploaded bytes", loc, resp.StatusCode, len(body), len(zip))
	}
	tampered := []byte(loc)
	last := len(tampered) - 1
	if tampered[last] == 'A' {
		tampered[last] = 'B'
	} else {
		tampered[last] = 'A'
	}
	resp, err = http.Get(string(tampered))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("tampered link: status %d, want 403", resp.StatusCode)
	}

	// Not found, in Lambda's words.
	_, err = c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("nope")})
	cpWantErr(t, err, "ResourceNotFoundException", 404, "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope")
	_, err = c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("nope")})
	cpWantErr(t, err, "ResourceNotFoundException", 404, "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope")
	// Another account's or region's ARN names no function of ours.
	for _, other := range []string{
		"arn:aws:lambda:us-east-1:111111111111:function:getme",
		"111111111111:function:getme",
		"arn:aws:lambda:eu-west-1:000000000000:function:getme",
	} {
		_, err = c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(other)})
		cpWantErr(t, err, "ResourceNotFoundException", 404, "Function not found")
	}
	// The qualifier in the name and in the query must agree.
	_, err = c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("getme:$LATEST"), Qualifier: aws.String("1")})
	cpWantErr(t, err, "InvalidParameterValueException", 400, "does not match")
	_, err = c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("getme:$LATEST"), Qualifier: aws.String("1")})
	cpWantErr(t, err, "InvalidParameterValueException", 400, "does not match")
	// A version that does not exist names the qualified ARN.
	_, err = c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("getme"), Qualifier: aws.String("7")})
	cpWantErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+cpARN+"getme:7")
}

func TestDeleteFunction(t *testing.T) {
	s := gusttest.StartServer(t)
	c := s.Lambda()
	ctx := context.Background()
	cpCreate(t, c, "doomed", cpNodeZip(t, "A"), nil)

	_, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("doomed"), Qualifier: aws.String("$LATEST")})
	cpWantErr(t, err, "InvalidParameterValueException", 400, "$LATEST")
	_, err = c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("doomed:$LATEST")})
	cpWantErr(t, err, "InvalidParameterValueException", 400, "$LATEST")
	_, err = c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("doomed"), Qualifier: aws.String("3")})
	cpWantErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+cpARN+"doomed:3")
	if _, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("doomed")}); err != nil {
		t.Fatalf("function gone after a refused delete: %v", err)
	}

	r := cpRaw(t, s, "DELETE", "/2015-03-31/functions/doomed", nil)
	if r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Fatalf("delete: status %d body %q, want 204 and no body", r.status, r.body)
	}
	_, err = c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("doomed")})
	cpWantErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+cpARN+"doomed")
	_, err = c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("doomed")})
	cpWantErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+cpARN+"doomed")
	_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("doomed")})
	cpWantErr(t, err, "ResourceNotFoundException", 404, "Function not found")

	// The SDK call succeeds too, and the name can be reused.
	cpCreate(t, c, "doomed", cpNodeZip(t, "B"), nil)
	if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(cpARN + "doomed")}); err != nil {
		t.Fatalf("delete by ARN: %v", err)
	}
}

func TestGetAccountSettings(t *testing.T) {
	s := gusttest.StartServer(t)
	c := s.Lambda()
	ctx := context.Background()
	zip := cpNodeZip(t, "A")
	for _, n := range []string{"a1", "a2", "a3"} {
		cpCreate(t, c, n, zip, nil)
	}
	out, err := c.GetAccountSettings(ctx, &lambda.GetAccountSettingsInput{})
	if err != nil {
		t.Fatal(err)
	}
	l, u := out.AccountLimit, out.AccountUsage
	if l.TotalCodeSize != 80530636800 || l.CodeSizeUnzipped != 262144000 || l.CodeSizeZipped != 52428800 ||
		l.ConcurrentExecutions != 1000 || aws.ToInt32(l.UnreservedConcurrentExecutions) != 1000 {
		t.Errorf("AccountLimit = %+v", *l)
	}
	if u.FunctionCount != 3 || u.TotalCodeSize != 3*int64(len(zip)) {
		t.Errorf("AccountUsage = %+v, want 3 functions of %d bytes", *u, len(zip))
	}
}

func TestWireConventions(t *testing.T) {
	s := gusttest.StartServer(t)
	cpCreate(t, s.Lambda(), "wire", cpNodeZip(t, "A"), nil)

	seen := map[string]bool{}
	for _, tt := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/2015-03-31/functions", 200, ""},
		{"GET", "/2015-03-31/functions/", 200, ""},
		{"GET", "/2015-03-31/functions/wire", 200, ""},
		{"GET", "/2015-03-31/functions/wire/configuration/", 200, ""},
		{"GET", "/2016-08-19/account-settings", 200, ""},
		{"GET", "/2015-03-31/functions/nope", 404, "ResourceNotFoundException"},
		{"GET", "/2015-03-31/no-such-route", 404, "UnknownOperationException"},
		{"PATCH", "/2015-03-31/functions/wire", 404, "UnknownOperationException"},
	} {
		r := cpRaw(t, s, tt.method, tt.path, nil)
		rid := r.header.Get("x-amzn-RequestId")
		if !cpUUID.MatchString(rid) || seen[rid] {
			t.Errorf("%s %s: x-amzn-RequestId = %q, want a fresh UUID", tt.method, tt.path, rid)
		}
		seen[rid] = true
		if r.status != tt.status || r.errorCode() != tt.code {
			t.Errorf("%s %s: %d %q, want %d %q (%s)", tt.method, tt.path, r.status, r.errorCode(), tt.status, tt.code, r.body)
		}
		if tt.code != "" {
			var b struct{ Type, Message string }
			if err := json.Unmarshal(r.body, &b); err != nil || b.Type != "User" || b.Message == "" ||
				r.header.Get("Content-Type") != "application/json" {
				t.Errorf("%s %s: error body %q (%s), want {Type:User, Message}", tt.method, tt.path, r.body, r.header.Get("Content-Type"))
			}
		}
	}
	// The trailing-slash list is a real list.
	r := cpRaw(t, s, "GET", "/2015-03-31/functions/", nil)
	var list struct {
		Functions []struct{ FunctionName string }
	}
	if err := json.Unmarshal(r.body, &list); err != nil || len(list.Functions) != 1 || list.Functions[0].FunctionName != "wire" {
		t.Errorf("GET /2015-03-31/functions/ = %s", r.body)
	}
}
