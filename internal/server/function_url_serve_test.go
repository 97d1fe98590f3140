package server_test

// Serving function URLs: the event a function sees and the response the
// client gets, through Go's net/http and curl, in both URL forms; auth
// types NONE and AWS_IAM; CORS; errors and limits.

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/http/cookiejar"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

func TestFunctionURLRequestMapping(t *testing.T) {
	t.Parallel()
	r := newURLRig(t)
	r.createEcho(t, "echo")
	id := r.createURL(t, "echo", "", types.FunctionUrlAuthTypeNone, nil)
	r.allowPublic(t, "echo", "")

	for _, form := range []struct{ name, url string }{
		{"host", r.hostURL(id, "/a/b%20c?x=1&x=2&y=&z=%2F")},
		{"path", r.pathURL(id, "/a/b%20c?x=1&x=2&y=&z=%2F")},
	} {
		t.Run(form.name, func(t *testing.T) {
			body := []byte(`{"k":"v"}`)
			req := newURLRequest(t, http.MethodPost, form.url, body)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Custom-Header", "Yes")
			req.Header.Add("X-Multi", "1")
			req.Header.Add("X-Multi", "2")
			req.Header.Set("Cookie", "a=1; b=2")
			ev := echoed(t, r.send(t, nil, req))
			if ev.Version != "2.0" || ev.RawPath != "/a/b%20c" || ev.RequestContext.HTTP.Path != "/a/b%20c" || ev.RequestContext.HTTP.Method != "POST" {
				t.Errorf("version %q rawPath %q http %+v, want 2.0 /a/b%%20c POST", ev.Version, ev.RawPath, ev.RequestContext.HTTP)
			}
			if ev.RawQueryString != "x=1&x=2&y=&z=%2F" {
				t.Errorf("rawQueryString = %q", ev.RawQueryString)
			}
			wantQuery := map[string]string{"x": "1,2", "y": "", "z": "/"}
			for k, v := range wantQuery {
				if got, ok := ev.QueryStringParameters[k]; !ok || got != v {
					t.Errorf("queryStringParameters[%q] = %q (present %v), want %q", k, got, ok, v)
				}
			}
			if ev.Headers["x-custom-header"] != "Yes" || ev.Headers["x-multi"] != "1,2" {
				t.Errorf("headers = %v, want lower-case names and x-multi 1,2", ev.Headers)
			}
			if _, ok := ev.Headers["cookie"]; ok || strings.Join(ev.Cookies, "|") != "a=1|b=2" {
				t.Errorf("cookies = %q, headers cookie present %v; want [a=1 b=2] and no cookie header", ev.Cookies, ok)
			}
			if ev.Body != `{"k":"v"}` || ev.IsBase64Encoded {
				t.Errorf("body = %q base64 %v, want the JSON text as is", ev.Body, ev.IsBase64Encoded)
			}
			if ev.RequestContext.APIID != id || ev.RequestContext.DomainPrefix != id || ev.RequestContext.AccountID != "anonymous" || ev.RequestContext.Authorizer != nil {
				t.Errorf("requestContext = %+v, want apiId/domainPrefix %s, anonymous, no authorizer", ev.RequestContext, id)
			}
		})
	}

	// Binary bodies reach the function base64-encoded, and come back raw.
	bin := []byte{0, 1, 2, 254, 255, '\n'}
	req := newURLRequest(t, http.MethodPut, r.pathURL(id, "/upload"), bin)
	req.Header.Set("Content-Type", "application/octet-stream")
	ev := echoed(t, r.send(t, nil, req))
	if got, err := base64.StdEncoding.DecodeString(ev.Body); !ev.IsBase64Encoded || err != nil || !bytes.Equal(got, bin) {
		t.Errorf("binary body = %q (base64 %v), want base64 of %v", ev.Body, ev.IsBase64Encoded, bin)
	}
	got := r.get(t, r.hostURL(id, "/binary"))
	if got.status != 200 || !bytes.Equal(got.body, []byte{0, 1, 2, 254, 255}) || got.header.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("/binary = %d %q %v", got.status, got.header.Get("Content-Type"), got.body)
	}
	// An empty path is "/".
	if ev := echoed(t, r.get(t, r.pathURL(id, ""))); ev.RawPath != "/" {
		t.Errorf("rawPath of the bare path form = %q, want /", ev.RawPath)
	}
}

func TestFunctionURLResponses(t *testing.T) {
	t.Parallel()
	r := newURLRig(t)
	r.createEcho(t, "resp")
	id := r.createURL(t, "resp", "", types.FunctionUrlAuthTypeNone, nil)
	r.allowPublic(t, "resp", "")

	got := r.get(t, r.hostURL(id, "/bare"))
	wantStatus(t, "bare JSON", got, http.StatusOK, `{"hello":"world","n":1}`)
	if ct := got.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("bare JSON Content-Type = %q", ct)
	}
	wantStatus(t, "JSON string", r.get(t, r.hostURL(id, "/string")), http.StatusOK, `"Hello, world!"`)
	got = r.get(t, r.hostURL(id, "/login"))
	wantStatus(t, "structured", got, http.StatusCreated, "welcome")
	if got.header.Get("X-A") != "1" || got.header.Get("Content-Type") != "text/plain" {
		t.Errorf("structured headers = %v", got.header)
	}
	if sc := got.header.Values("Set-Cookie"); len(sc) != 2 || sc[0] != "session=abc; Path=/" || sc[1] != "theme=dark; Path=/; HttpOnly" {
		t.Errorf("Set-Cookie = %q, want one per cookie", sc)
	}
	if got.header.Get("X-Amzn-Requestid") == "" {
		t.Error("no X-Amzn-RequestId")
	}
	wantStatus(t, "function error", r.get(t, r.hostURL(id, "/fail")), http.StatusBadGateway, `{"Message":"Internal Server Error"}`)
	wantStatus(t, "invalid response", r.get(t, r.hostURL(id, "/invalid")), http.StatusBadGateway, `{"Message":"Internal Server Error"}`)

	// A browser's cookie round trip: cookies set by one response come
	// back in the next request's event.
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	browser := &http.Client{Transport: r.byHost.Transport, Jar: jar}
	wantStatus(t, "login", r.send(t, browser, newURLRequest(t, http.MethodGet, r.hostURL(id, "/login"), nil)), http.StatusCreated, "welcome")
	ev := echoed(t, r.send(t, browser, newURLRequest(t, http.MethodGet, r.hostURL(id, "/next"), nil)))
	slices.Sort(ev.Cookies)
	if strings.Join(ev.Cookies, "|") != "session=abc|theme=dark" {
		t.Errorf("cookies after login = %q, want session=abc and theme=dark", ev.Cookies)
	}

	// Unknown ids, malformed ids and deleted configs are all 404.
	const none = `{"Message":null}`
	wantStatus(t, "unknown id (host)", r.get(t, r.hostURL(strings.Repeat("a", 32), "/")), http.StatusNotFound, none)
	wantStatus(t, "unknown id (path)", r.get(t, r.pathURL(strings.Repeat("b", 32), "/")), http.StatusNotFound, none)
	wantStatus(t, "malformed id", r.get(t, r.pathURL("NOT-AN-ID", "/")), http.StatusNotFound, none)
	if _, err := r.c.DeleteFunctionUrlConfig(context.Background(), &lambda.DeleteFunctionUrlConfigInput{FunctionName: aws.String("resp")}); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "deleted config", r.get(t, r.hostURL(id, "/bare")), http.StatusNotFound, none)
}

// TestFunctionURLCurl drives both URL forms with curl, as a user would.
func TestFunctionURLCurl(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("no curl")
	}
	r := newURLRig(t)
	r.createEcho(t, "curled")
	id := r.createURL(t, "curled", "", types.FunctionUrlAuthTypeNone, nil)
	r.allowPublic(t, "curled", "")
	host, port := id+".lambda-url.us-east-1.localhost", r.addr[strings.LastIndexByte(r.addr, ':')+1:]
	curl := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("curl", append([]string{"-sS", "--max-time", "60"}, args...)...).Output()
		if err != nil {
			t.Fatalf("curl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	out := curl("--resolve", host+":"+port+":127.0.0.1", "-H", "Content-Type: application/json", "-b", "s=1; t=2",
		"-d", `{"from":"curl"}`, "http://"+host+":"+port+"/hi?a=1&a=2")
	ev := echoed(t, urlReply{status: http.StatusOK, body: []byte(out)})
	if ev.RawPath != "/hi" || ev.QueryStringParameters["a"] != "1,2" || strings.Join(ev.Cookies, "|") != "s=1|t=2" ||
		ev.Body != `{"from":"curl"}` || !strings.HasPrefix(ev.Headers["user-agent"], "curl/") || ev.RequestContext.HTTP.Method != "POST" {
		t.Errorf("curl (host form) event = %+v", ev)
	}
	out = curl("-i", r.pathURL(id, "/login"))
	if !strings.HasPrefix(out, "HTTP/1.1 201") || !strings.Contains(out, "\r\nSet-Cookie: session=abc; Path=/\r\n") || !strings.HasSuffix(out, "welcome") {
		t.Errorf("curl -i (path form) /login =\n%s", out)
	}
	out = curl("-w", " %{http_code}", r.pathURL(id, "/fail"))
	if out != `{"Message":"Internal Server Error"} 502` {
		t.Errorf("curl /fail = %q", out)
	}
}

func TestFunctionURLAuthNone(t *testing.T) {
	t.Parallel()
	r := newURLRig(t)
	c, ctx := r.c, context.Background()
	r.createEcho(t, "pub")
	if _, err := c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("pub"), Name: aws.String("live"), FunctionVersion: aws.String("$LATEST")}); err != nil {
		t.Fatal(err)
	}
	id := r.createURL(t, "pub", "", types.FunctionUrlAuthTypeNone, nil)
	live := r.createURL(t, "pub", "live", types.FunctionUrlAuthTypeNone, nil)
	const forbidden = `{"Message":"Forbidden"}`

	got := r.get(t, r.hostURL(id, "/bare"))
	wantStatus(t, "no permission", got, http.StatusForbidden, forbidden)
	// A grant for AWS_IAM URLs, or for another action, does not open a
	// NONE URL.
	if _, err := c.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("pub"), StatementId: aws.String("iam-only"),
		Action: aws.String("lambda:InvokeFunctionUrl"), Principal: aws.String("*"), FunctionUrlAuthType: types.FunctionUrlAuthTypeAwsIam}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("pub"), StatementId: aws.String("invoke"),
		Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("*")}); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "other grants", r.get(t, r.hostURL(id, "/bare")), http.StatusForbidden, forbidden)

	r.allowPublic(t, "pub", "")
	wantStatus(t, "after add-permission", r.get(t, r.hostURL(id, "/bare")), http.StatusOK, `{"hello":"world","n":1}`)
	// The alias's URL follows the alias's own policy.
	wantStatus(t, "alias without permission", r.get(t, r.hostURL(live, "/bare")), http.StatusForbidden, forbidden)
	r.allowPublic(t, "pub", "live")
	wantStatus(t, "alias after add-permission", r.get(t, r.hostURL(live, "/bare")), http.StatusOK, `{"hello":"world","n":1}`)

	if _, err := c.RemovePermission(ctx, &lambda.RemovePermissionInput{FunctionName: aws.String("pub"), StatementId: aws.String("public-url")}); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "after remove-permission", r.get(t, r.hostURL(id, "/bare")), http.StatusForbidden, forbidden)
}

func TestFunctionURLAuthIAM(t *testing.T) {
	t.Parallel()
	r := newURLRig(t)
	ctx := context.Background()
	r.createEcho(t, "priv")
	id := r.createURL(t, "priv", "", types.FunctionUrlAuthTypeAwsIam, nil)
	const forbidden = `{"Message":"Forbidden"}`
	body := []byte(`{"q":1}`)
	call := func(key, secret, service string) urlReply {
		t.Helper()
		req := newURLRequest(t, http.MethodPost, r.hostURL(id, "/who?x=1"), body)
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			signURLRequest(t, req, body, key, secret, service)
		}
		return r.send(t, nil, req)
	}

	wantStatus(t, "unsigned", call("", "", ""), http.StatusForbidden, forbidden)
	wantStatus(t, "signed for another service", call(r.s.KeyID, r.s.Secret, "execute-api"), http.StatusForbidden, forbidden)
	wantStatus(t, "wrong secret", call(r.s.KeyID, "not-the-secret", "lambda"), http.StatusForbidden, forbidden)
	ev := echoed(t, call(r.s.KeyID, r.s.Secret, "lambda"))
	if a := ev.RequestContext.Authorizer; a == nil || a.IAM.UserARN != "arn:aws:iam::000000000000:root" || a.IAM.AccessKey != r.s.KeyID || a.IAM.AccountID != cpAccount {
		t.Errorf("admin's authorizer = %+v", ev.RequestContext.Authorizer)
	}
	if ev.RequestContext.AccountID != cpAccount || ev.Body != `{"q":1}` {
		t.Errorf("admin's event: accountId %q body %q", ev.RequestContext.AccountID, ev.Body)
	}

	user, key, err := r.s.IAM().CreateUser(ctx, "carol")
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "user without permission", call(key.ID, key.Secret, "lambda"), http.StatusForbidden, forbidden)
	if err := r.s.IAM().PutUserPolicy(ctx, "carol", []byte(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"lambda:InvokeFunctionUrl","Resource":"arn:aws:lambda:us-east-1:000000000000:function:priv",
		 "Condition":{"StringEquals":{"lambda:FunctionUrlAuthType":"AWS_IAM"}}}]}`)); err != nil {
		t.Fatal(err)
	}
	ev = echoed(t, call(key.ID, key.Secret, "lambda"))
	if a := ev.RequestContext.Authorizer; a == nil || a.IAM.UserARN != user.ARN || a.IAM.UserID != user.ID || a.IAM.CallerID != user.ID {
		t.Errorf("carol's authorizer = %+v, want %s (%s)", ev.RequestContext.Authorizer, user.ARN, user.ID)
	}
	// An explicit Deny in the function's policy wins.
	if err := r.s.IAM().PutUserPolicy(ctx, "carol", []byte(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"lambda:*","Resource":"*"},
		{"Effect":"Deny","Action":"lambda:InvokeFunctionUrl","Resource":"*"}]}`)); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "user denied", call(key.ID, key.Secret, "lambda"), http.StatusForbidden, forbidden)
}

func TestFunctionURLCORS(t *testing.T) {
	t.Parallel()
	r := newURLRig(t)
	r.createEcho(t, "web")
	// AWS_IAM: preflights are answered unsigned; the function is never
	// invoked for them (its /fail path would make a 502).
	id := r.createURL(t, "web", "", types.FunctionUrlAuthTypeAwsIam, &types.Cors{
		AllowOrigins: []string{"https://app.example"}, AllowMethods: []string{"GET", "POST"}, AllowHeaders: []string{"x-custom"},
		ExposeHeaders: []string{"x-a"}, MaxAge: aws.Int32(600), AllowCredentials: aws.Bool(true)})
	preflight := func(origin, method string) urlReply {
		req := newURLRequest(t, http.MethodOptions, r.hostURL(id, "/fail"), nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", method)
		req.Header.Set("Access-Control-Request-Headers", "x-custom")
		return r.send(t, nil, req)
	}
	got := preflight("https://app.example", "POST")
	wantStatus(t, "preflight", got, http.StatusOK, "")
	for h, want := range map[string]string{
		"Access-Control-Allow-Origin":      "https://app.example",
		"Access-Control-Allow-Methods":     "GET, POST",
		"Access-Control-Allow-Headers":     "x-custom",
		"Access-Control-Allow-Credentials": "true",
		"Access-Control-Max-Age":           "600",
	} {
		if got.header.Get(h) != want {
			t.Errorf("preflight %s = %q, want %q", h, got.header.Get(h), want)
		}
	}
	for what, got := range map[string]urlReply{
		"other origin": preflight("https://evil.example", "POST"),
		"other method": preflight("https://app.example", "DELETE"),
	} {
		wantStatus(t, "preflight from "+what, got, http.StatusOK, "")
		if v := got.header.Get("Access-Control-Allow-Origin"); v != "" {
			t.Errorf("preflight from %s: Access-Control-Allow-Origin %q, want none", what, v)
		}
	}

	// Responses to an allowed origin carry the config's headers, which
	// replace the function's own.
	req := newURLRequest(t, http.MethodGet, r.hostURL(id, "/own-cors"), nil)
	req.Header.Set("Origin", "https://app.example")
	signURLRequest(t, req, nil, r.s.KeyID, r.s.Secret, "lambda")
	got = r.send(t, nil, req)
	wantStatus(t, "GET with Origin", got, http.StatusOK, "own")
	if v := got.header.Values("Access-Control-Allow-Origin"); len(v) != 1 || v[0] != "https://app.example" {
		t.Errorf("Access-Control-Allow-Origin = %q, want only the config's", v)
	}
	if got.header.Get("Access-Control-Expose-Headers") != "x-a" || got.header.Get("Access-Control-Allow-Credentials") != "true" || got.header.Get("X-A") != "2" {
		t.Errorf("CORS response headers = %v", got.header)
	}
}

func TestFunctionURLLimits(t *testing.T) {
	t.Parallel()
	r := newURLRig(t)
	ctx := context.Background()
	r.createEcho(t, "lim")
	id := r.createURL(t, "lim", "", types.FunctionUrlAuthTypeNone, nil)
	r.allowPublic(t, "lim", "")
	const tooLarge = `{"Message":"Request Entity Too Large"}`

	// Over 6 MB, declared or streamed, is refused before any invocation
	// (the function's /fail path would make a 502).
	big := bytes.Repeat([]byte("a"), 6*1024*1024+1)
	wantStatus(t, "declared 6 MB + 1", r.send(t, nil, newURLRequest(t, http.MethodPost, r.hostURL(id, "/fail"), big)), http.StatusRequestEntityTooLarge, tooLarge)
	chunked := newURLRequest(t, http.MethodPost, r.pathURL(id, "/fail"), nil)
	chunked.Body = readCloser{bytes.NewReader(big)}
	chunked.ContentLength = -1
	wantStatus(t, "chunked 6 MB + 1", r.send(t, nil, chunked), http.StatusRequestEntityTooLarge, tooLarge)

	// Reserved concurrency 0 throttles every call.
	if _, err := r.c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("lim"), ReservedConcurrentExecutions: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	got := r.get(t, r.hostURL(id, "/bare"))
	wantStatus(t, "reserved 0", got, http.StatusTooManyRequests, `{"Message":"Rate Exceeded."}`)
	if _, err := r.c.DeleteFunctionConcurrency(ctx, &lambda.DeleteFunctionConcurrencyInput{FunctionName: aws.String("lim")}); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "unreserved", r.get(t, r.hostURL(id, "/bare")), http.StatusOK, `{"hello":"world","n":1}`)

	// Deleting the function ends its URL.
	if _, err := r.c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("lim")}); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "deleted function", r.get(t, r.hostURL(id, "/bare")), http.StatusNotFound, `{"Message":null}`)
}

// readCloser hides a reader's length, so the request is sent chunked.
type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }
