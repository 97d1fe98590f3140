package server_test

// Function URL configs (Create/Get/Update/Delete/ListFunctionUrlConfigs)
// through aws-sdk-go-v2, and the helpers the function URL tests share.
// Serving is in function_url_serve_test.go, idle connections in
// function_url_conns_test.go.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"gust/internal/gusttest"
)

// urlEchoJS answers by path: a few fixed responses, else the event itself.
const urlEchoJS = `export const handler = async (event) => {
  switch (event.rawPath) {
    case "/fail": throw new Error("boom");
    case "/bare": return {hello: "world", n: 1};
    case "/string": return "Hello, world!";
    case "/login": return {statusCode: 201, headers: {"x-a": "1", "content-type": "text/plain"},
      cookies: ["session=abc; Path=/", "theme=dark; Path=/; HttpOnly"], body: "welcome"};
    case "/binary": return {statusCode: 200, headers: {"content-type": "application/octet-stream"},
      body: Buffer.from([0, 1, 2, 254, 255]).toString("base64"), isBase64Encoded: true};
    case "/own-cors": return {statusCode: 200, headers: {"access-control-allow-origin": "https://evil.example", "x-a": "2"}, body: "own"};
    case "/invalid": return {statusCode: "teapot"};
  }
  return {statusCode: 200, headers: {"content-type": "application/json"}, body: JSON.stringify(event)};
};
`

var (
	urlTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)
	urlForm = regexp.MustCompile(`^http://([a-z0-9]{32})\.lambda-url\.us-east-1\.localhost:(\d+)/$`)
)

// urlRig is a server with helpers to configure and call function URLs.
type urlRig struct {
	s    *gusttest.Server
	c    *lambda.Client
	addr string // host:port of the listener
	// byHost sends every request to the server whatever its URL's host,
	// as DNS for *.lambda-url.<region>.localhost would.
	byHost *http.Client
}

func newURLRig(t *testing.T) *urlRig {
	t.Helper()
	s := gusttest.StartServer(t)
	addr := strings.TrimPrefix(s.Endpoint, "http://")
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return dialer.DialContext(ctx, network, addr)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &urlRig{s: s, c: s.Lambda(), addr: addr, byHost: &http.Client{Transport: tr, Timeout: time.Minute}}
}

func (r *urlRig) createEcho(t *testing.T, name string) {
	t.Helper()
	cpCreate(t, r.c, name, gusttest.Zip(t, map[string]string{"index.mjs": urlEchoJS}), nil)
}

// createURL creates a URL config and returns its id.
func (r *urlRig) createURL(t *testing.T, name, qualifier string, auth types.FunctionUrlAuthType, cors *types.Cors) string {
	t.Helper()
	in := &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String(name), AuthType: auth, Cors: cors}
	if qualifier != "" {
		in.Qualifier = aws.String(qualifier)
	}
	out, err := r.c.CreateFunctionUrlConfig(context.Background(), in)
	if err != nil {
		t.Fatalf("CreateFunctionUrlConfig %s (qualifier %q): %v", name, qualifier, err)
	}
	m := urlForm.FindStringSubmatch(aws.ToString(out.FunctionUrl))
	if m == nil {
		t.Fatalf("FunctionUrl = %q, want %s", aws.ToString(out.FunctionUrl), urlForm)
	}
	if _, port, _ := net.SplitHostPort(r.addr); m[2] != port {
		t.Errorf("FunctionUrl %q: port %s, want the API's %s", aws.ToString(out.FunctionUrl), m[2], port)
	}
	return m[1]
}

// allowPublic grants principal "*" lambda:InvokeFunctionUrl for NONE
// URLs, as `aws lambda add-permission --function-url-auth-type NONE` does.
func (r *urlRig) allowPublic(t *testing.T, name, qualifier string) {
	t.Helper()
	in := &lambda.AddPermissionInput{
		FunctionName:        aws.String(name),
		StatementId:         aws.String("public-url"),
		Action:              aws.String("lambda:InvokeFunctionUrl"),
		Principal:           aws.String("*"),
		FunctionUrlAuthType: types.FunctionUrlAuthTypeNone,
	}
	if qualifier != "" {
		in.Qualifier = aws.String(qualifier)
	}
	if _, err := r.c.AddPermission(context.Background(), in); err != nil {
		t.Fatalf("AddPermission %s: %v", name, err)
	}
}

// hostURL is the URL of id in the host form, pathAndQuery appended.
func (r *urlRig) hostURL(id, pathAndQuery string) string {
	_, port, _ := net.SplitHostPort(r.addr)
	return "http://" + id + ".lambda-url.us-east-1.localhost:" + port + pathAndQuery
}

// pathURL is the URL of id in the path form.
func (r *urlRig) pathURL(id, pathAndQuery string) string {
	return r.s.Endpoint + "/_gust/url/" + id + pathAndQuery
}

type urlReply struct {
	status int
	header http.Header
	body   []byte
}

// send performs req with client (nil = byHost).
func (r *urlRig) send(t *testing.T, client *http.Client, req *http.Request) urlReply {
	t.Helper()
	if client == nil {
		client = r.byHost
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return urlReply{status: resp.StatusCode, header: resp.Header, body: b}
}

// get sends a plain GET to url.
func (r *urlRig) get(t *testing.T, url string) urlReply {
	t.Helper()
	return r.send(t, nil, newURLRequest(t, http.MethodGet, url, nil))
}

func newURLRequest(t *testing.T, method, url string, body []byte) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// signURLRequest signs req with SigV4 for service in us-east-1.
func signURLRequest(t *testing.T, req *http.Request, body []byte, key, secret, service string) {
	t.Helper()
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
}

// wantStatus checks a reply's status and, when body != "", its exact body.
func wantStatus(t *testing.T, what string, got urlReply, status int, body string) {
	t.Helper()
	if got.status != status {
		t.Errorf("%s: status %d, want %d (body %s)", what, got.status, status, got.body)
	}
	if body != "" && string(got.body) != body {
		t.Errorf("%s: body %s, want %s", what, got.body, body)
	}
}

// urlEvent is the part of a payload 2.0 event the tests look at.
type urlEvent struct {
	Version               string            `json:"version"`
	RawPath               string            `json:"rawPath"`
	RawQueryString        string            `json:"rawQueryString"`
	Cookies               []string          `json:"cookies"`
	Headers               map[string]string `json:"headers"`
	QueryStringParameters map[string]string `json:"queryStringParameters"`
	Body                  string            `json:"body"`
	IsBase64Encoded       bool              `json:"isBase64Encoded"`
	RequestContext        struct {
		AccountID    string `json:"accountId"`
		APIID        string `json:"apiId"`
		DomainPrefix string `json:"domainPrefix"`
		HTTP         struct {
			Method string `json:"method"`
			Path   string `json:"path"`
		} `json:"http"`
		Authorizer *struct {
			IAM struct {
				AccessKey string `json:"accessKey"`
				AccountID string `json:"accountId"`
				CallerID  string `json:"callerId"`
				UserARN   string `json:"userArn"`
				UserID    string `json:"userId"`
			} `json:"iam"`
		} `json:"authorizer"`
	} `json:"requestContext"`
}

// echoed decodes the event urlEchoJS sent back.
func echoed(t *testing.T, got urlReply) urlEvent {
	t.Helper()
	if got.status != http.StatusOK {
		t.Fatalf("echo: status %d, body %s", got.status, got.body)
	}
	var ev urlEvent
	if err := json.Unmarshal(got.body, &ev); err != nil {
		t.Fatalf("echo body is not an event: %v\n%s", err, got.body)
	}
	return ev
}

func TestFunctionURLConfig(t *testing.T) {
	t.Parallel()
	r := newURLRig(t)
	c, ctx := r.c, context.Background()
	r.createEcho(t, "cfg")
	if _, err := c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("cfg"), Name: aws.String("live"), FunctionVersion: aws.String("$LATEST")}); err != nil {
		t.Fatalf("CreateAlias: %v", err)
	}
	cors := &types.Cors{AllowOrigins: []string{"https://app.example"}, AllowMethods: []string{"GET"}, MaxAge: aws.Int32(60), AllowCredentials: aws.Bool(true)}

	created, err := c.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("cfg"), AuthType: types.FunctionUrlAuthTypeNone, Cors: cors})
	if err != nil {
		t.Fatalf("CreateFunctionUrlConfig: %v", err)
	}
	if got := aws.ToString(created.FunctionArn); got != cpARN+"cfg" {
		t.Errorf("FunctionArn = %q, want %q", got, cpARN+"cfg")
	}
	if !urlForm.MatchString(aws.ToString(created.FunctionUrl)) || created.AuthType != types.FunctionUrlAuthTypeNone || created.InvokeMode != types.InvokeModeBuffered {
		t.Errorf("created = %s %s %s, want a URL, NONE, BUFFERED", aws.ToString(created.FunctionUrl), created.AuthType, created.InvokeMode)
	}
	if !urlTime.MatchString(aws.ToString(created.CreationTime)) {
		t.Errorf("CreationTime = %q, want %s", aws.ToString(created.CreationTime), urlTime)
	}
	if created.Cors == nil || aws.ToInt32(created.Cors.MaxAge) != 60 || !aws.ToBool(created.Cors.AllowCredentials) || strings.Join(created.Cors.AllowOrigins, ",") != "https://app.example" {
		t.Errorf("Cors = %+v, want the one sent", created.Cors)
	}

	// One config per function ARN; the alias has its own.
	_, err = c.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("cfg"), AuthType: types.FunctionUrlAuthTypeAwsIam})
	cpWantErr(t, err, "ResourceConflictException", http.StatusConflict,
		"Failed to create function url config for [functionArn = "+cpARN+"cfg]. Error message:  FunctionUrlConfig exists for this Lambda function")
	aliasOut, err := c.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("cfg"), Qualifier: aws.String("live"),
		AuthType: types.FunctionUrlAuthTypeAwsIam, InvokeMode: types.InvokeModeResponseStream})
	if err != nil {
		t.Fatalf("CreateFunctionUrlConfig live: %v", err)
	}
	if got := aws.ToString(aliasOut.FunctionArn); got != cpARN+"cfg:live" || aliasOut.InvokeMode != types.InvokeModeResponseStream {
		t.Errorf("alias config: %s %s, want %s RESPONSE_STREAM", got, aliasOut.InvokeMode, cpARN+"cfg:live")
	}
	if aliasOut.FunctionUrl == created.FunctionUrl {
		t.Error("the alias's URL is the function's")
	}

	got, err := c.GetFunctionUrlConfig(ctx, &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String("cfg")})
	if err != nil {
		t.Fatalf("GetFunctionUrlConfig: %v", err)
	}
	if aws.ToString(got.FunctionUrl) != aws.ToString(created.FunctionUrl) || aws.ToString(got.CreationTime) != aws.ToString(created.CreationTime) ||
		!urlTime.MatchString(aws.ToString(got.LastModifiedTime)) {
		t.Errorf("Get = %s %s %s, want the created URL and times", aws.ToString(got.FunctionUrl), aws.ToString(got.CreationTime), aws.ToString(got.LastModifiedTime))
	}

	// Update changes what it names; an empty Cors removes it.
	updated, err := c.UpdateFunctionUrlConfig(ctx, &lambda.UpdateFunctionUrlConfigInput{FunctionName: aws.String("cfg"), AuthType: types.FunctionUrlAuthTypeAwsIam, Cors: &types.Cors{}})
	if err != nil {
		t.Fatalf("UpdateFunctionUrlConfig: %v", err)
	}
	if updated.AuthType != types.FunctionUrlAuthTypeAwsIam || updated.Cors != nil || aws.ToString(updated.FunctionUrl) != aws.ToString(created.FunctionUrl) {
		t.Errorf("updated = %s cors %+v url %s; want AWS_IAM, no Cors, the same URL", updated.AuthType, updated.Cors, aws.ToString(updated.FunctionUrl))
	}
	if aws.ToString(updated.LastModifiedTime) < aws.ToString(got.LastModifiedTime) {
		t.Errorf("LastModifiedTime went back: %s < %s", aws.ToString(updated.LastModifiedTime), aws.ToString(got.LastModifiedTime))
	}

	// List pages: the function's own first, then aliases.
	var arns []string
	var marker *string
	for range 3 {
		page, err := c.ListFunctionUrlConfigs(ctx, &lambda.ListFunctionUrlConfigsInput{FunctionName: aws.String("cfg"), MaxItems: aws.Int32(1), Marker: marker})
		if err != nil {
			t.Fatalf("ListFunctionUrlConfigs: %v", err)
		}
		for _, u := range page.FunctionUrlConfigs {
			arns = append(arns, aws.ToString(u.FunctionArn))
		}
		if marker = page.NextMarker; marker == nil {
			break
		}
	}
	if strings.Join(arns, " ") != cpARN+"cfg "+cpARN+"cfg:live" {
		t.Errorf("listed %v, want the function's then live's", arns)
	}

	if _, err := c.DeleteFunctionUrlConfig(ctx, &lambda.DeleteFunctionUrlConfigInput{FunctionName: aws.String("cfg")}); err != nil {
		t.Fatalf("DeleteFunctionUrlConfig: %v", err)
	}
	_, err = c.GetFunctionUrlConfig(ctx, &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String("cfg")})
	cpWantErr(t, err, "ResourceNotFoundException", http.StatusNotFound, "The resource you requested does not exist.")
	_, err = c.DeleteFunctionUrlConfig(ctx, &lambda.DeleteFunctionUrlConfigInput{FunctionName: aws.String("cfg")})
	cpWantErr(t, err, "ResourceNotFoundException", http.StatusNotFound, "The resource you requested does not exist.")
}

func TestFunctionURLConfigErrors(t *testing.T) {
	t.Parallel()
	r := newURLRig(t)
	c, ctx := r.c, context.Background()
	r.createEcho(t, "bad")
	create := func(name, qualifier string) error {
		in := &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String(name), AuthType: types.FunctionUrlAuthTypeNone}
		if qualifier != "" {
			in.Qualifier = aws.String(qualifier)
		}
		_, err := c.CreateFunctionUrlConfig(ctx, in)
		return err
	}
	cpWantErr(t, create("bad", "$LATEST"), "ValidationException", http.StatusBadRequest,
		`1 validation error detected: Value '$LATEST' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: ((?!^\d+$)^[0-9a-zA-Z-_]+$)`)
	cpWantErr(t, create("bad", "1"), "ValidationException", http.StatusBadRequest, "Value '1' at 'qualifier'")
	cpWantErr(t, create("bad", "nope"), "ResourceNotFoundException", http.StatusNotFound, "Function does not exist")
	cpWantErr(t, create("missing", ""), "ResourceNotFoundException", http.StatusNotFound, "Function does not exist")
	_, err := c.ListFunctionUrlConfigs(ctx, &lambda.ListFunctionUrlConfigsInput{FunctionName: aws.String("missing")})
	cpWantErr(t, err, "ResourceNotFoundException", http.StatusNotFound, "Function does not exist")
	_, err = c.UpdateFunctionUrlConfig(ctx, &lambda.UpdateFunctionUrlConfigInput{FunctionName: aws.String("bad"), AuthType: types.FunctionUrlAuthTypeNone})
	cpWantErr(t, err, "ResourceNotFoundException", http.StatusNotFound, "The resource you requested does not exist.")
	_, err = c.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("bad"), AuthType: types.FunctionUrlAuthTypeNone,
		Cors: &types.Cors{MaxAge: aws.Int32(86401), AllowMethods: []string{"GET", "PUT", "POST", "HEAD", "PATCH", "DELETE", "*"}}})
	cpWantErr(t, err, "ValidationException", http.StatusBadRequest, "2 validation errors detected: ")

	// What the SDK will not send: a missing or unknown AuthType.
	path := "/2021-10-31/functions/bad/url"
	for body, want := range map[string]string{
		`{}`:                                   "Value null at 'authType' failed to satisfy constraint: Member must not be null",
		`{"AuthType":"KEY"}`:                   "Value 'KEY' at 'authType' failed to satisfy constraint: Member must satisfy enum value set: [NONE, AWS_IAM]",
		`{"AuthType":"NONE"`:                   "Could not parse request body into json",
		`{"AuthType":"NONE","InvokeMode":"X"}`: "at 'invokeMode'",
	} {
		got := cpRaw(t, r.s, http.MethodPost, path, []byte(body))
		if got.status != http.StatusBadRequest || !strings.Contains(got.message(t), want) {
			t.Errorf("POST %s %s: %d %s, want 400 with %q", path, body, got.status, got.body, want)
		}
	}

	// Config operations are authorized like any other: lambda:<Operation>.
	_, key, err := r.s.IAM().CreateUser(ctx, "nourl")
	if err != nil {
		t.Fatal(err)
	}
	_, err = lambdaAs(r.s, key.ID, key.Secret).CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("bad"), AuthType: types.FunctionUrlAuthTypeNone})
	cpWantErr(t, err, "AccessDeniedException", http.StatusForbidden, "lambda:CreateFunctionUrlConfig on resource: "+cpARN+"bad")
}
