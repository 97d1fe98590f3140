package urlevent

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"
)

const (
	testURLID     = "abcdefghijklmnopqrstuvwxyz012345"
	testHost      = testURLID + ".lambda-url.us-east-1.on.aws"
	testRequestID = "c2ebafd0-93fa-4042-af9d-a30e9019293d"
)

// testNow is 27/Nov/2026:12:00:00.123 UTC seen from another zone, to show
// that the event is always written in UTC.
var testNow = time.Date(2026, 11, 27, 13, 0, 0, 123_000_000, time.FixedZone("CET", 3600))

// eventServer is a real HTTP server whose handler answers every request
// with the event NewEvent builds for it, the way internal/funcurl calls it.
// Paths under /_gust/url/<id> are mapped to the rest of the path.
func eventServer(t *testing.T, caller *IAMCaller) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		path := r.URL.EscapedPath()
		if rest, ok := strings.CutPrefix(path, "/_gust/url/"+testURLID); ok {
			path = rest
		}
		target := Target{URLID: testURLID, Region: "us-east-1", AccountID: "123456789012", Host: r.Host, Path: path}
		ev, err := NewEvent(r, body, target, testRequestID, testNow, caller)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(ev)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// sentEvent is one event as the function would receive it.
type sentEvent struct {
	raw    []byte
	fields map[string]any // generic view, for presence checks
	typed  events.APIGatewayV2HTTPRequest
}

// fetchEvent sends req to srv and decodes the event it produced, strictly.
func fetchEvent(t *testing.T, srv *httptest.Server, req *http.Request) sentEvent {
	t.Helper()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Scheme, req.URL.Host = u.Scheme, u.Host
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("event server answered %d: %s", resp.StatusCode, raw)
	}
	ev := sentEvent{raw: raw}
	if err := json.Unmarshal(raw, &ev.fields); err != nil {
		t.Fatalf("event is not JSON: %v\n%s", err, raw)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev.typed); err != nil {
		t.Fatalf("event does not decode into events.APIGatewayV2HTTPRequest: %v\n%s", err, raw)
	}
	// aws-lambda-go's own function URL type lacks keys AWS sends (see
	// awsOnlyKeys); everything else must fit it exactly.
	if err := decodeStrict(withoutKeys(t, raw, awsOnlyKeys), &events.LambdaFunctionURLRequest{}); err != nil {
		t.Fatalf("event does not decode into events.LambdaFunctionURLRequest: %v\n%s", err, raw)
	}
	return ev
}

func newRequest(t *testing.T, method, pathAndQuery string, body io.Reader) *http.Request {
	t.Helper()
	path, query, _ := strings.Cut(pathAndQuery, "?")
	req, err := http.NewRequest(method, "http://placeholder/", body)
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Path, req.URL.RawPath, req.URL.RawQuery = "", "", query
	req.URL.Opaque = path // sent exactly as written, escapes included
	req.Host = testHost
	return req
}

func TestNewEventFixedFields(t *testing.T) {
	srv := eventServer(t, nil)
	req := newRequest(t, http.MethodPost, "/my/path", strings.NewReader("hello"))
	req.Header.Set("User-Agent", "curl/8.5.0")
	req.Header.Set("Content-Type", "text/plain")
	ev := fetchEvent(t, srv, req)

	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	want := events.APIGatewayV2HTTPRequest{
		Version:        "2.0",
		RouteKey:       "$default",
		RawPath:        "/my/path",
		RawQueryString: "",
		Headers: map[string]string{
			"host":              testHost,
			"user-agent":        "curl/8.5.0",
			"content-type":      "text/plain",
			"content-length":    "5",
			"accept-encoding":   "gzip",
			"x-forwarded-for":   "127.0.0.1",
			"x-forwarded-proto": "http",
			"x-forwarded-port":  port,
		},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     "$default",
			AccountID:    "anonymous",
			Stage:        "$default",
			RequestID:    testRequestID,
			APIID:        testURLID,
			DomainName:   testHost,
			DomainPrefix: testURLID,
			Time:         "27/Nov/2026:12:00:00 +0000",
			TimeEpoch:    1795780800123,
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    "POST",
				Path:      "/my/path",
				Protocol:  "HTTP/1.1",
				SourceIP:  "127.0.0.1",
				UserAgent: "curl/8.5.0",
			},
		},
		Body:            "hello",
		IsBase64Encoded: false,
	}
	if diff := cmp.Diff(want, ev.typed); diff != "" {
		t.Errorf("event mismatch (-want +got):\n%s", diff)
	}
	for _, key := range []string{"cookies", "queryStringParameters", "pathParameters", "stageVariables"} {
		if _, ok := ev.fields[key]; ok {
			t.Errorf("event has %q, want it left out", key)
		}
	}
	ctx := ev.fields["requestContext"].(map[string]any)
	for _, key := range []string{"authorizer", "authentication"} {
		if _, ok := ctx[key]; ok {
			t.Errorf("requestContext has %q, want it left out for an AuthType NONE URL", key)
		}
	}
}

func TestNewEventPathAndMethod(t *testing.T) {
	srv := eventServer(t, nil)
	tests := []struct {
		name, method, target, wantPath string
	}{
		{"root", http.MethodGet, "/", "/"},
		{"nested", http.MethodDelete, "/a/b/c", "/a/b/c"},
		{"escapes kept as sent", http.MethodPut, "/a%20b/%2F", "/a%20b/%2F"},
		{"path form strips the prefix", http.MethodPatch, "/_gust/url/" + testURLID + "/rest/x", "/rest/x"},
		{"path form root", http.MethodGet, "/_gust/url/" + testURLID, "/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := fetchEvent(t, srv, newRequest(t, tc.method, tc.target, nil))
			if ev.typed.RawPath != tc.wantPath || ev.typed.RequestContext.HTTP.Path != tc.wantPath {
				t.Errorf("rawPath %q, http.path %q, want both %q", ev.typed.RawPath, ev.typed.RequestContext.HTTP.Path, tc.wantPath)
			}
			if got := ev.typed.RequestContext.HTTP.Method; got != tc.method {
				t.Errorf("http.method = %q, want %q", got, tc.method)
			}
		})
	}
}

func TestNewEventQuery(t *testing.T) {
	srv := eventServer(t, nil)
	tests := []struct {
		name, query string
		want        map[string]string // nil: queryStringParameters left out
	}{
		{"none", "", nil},
		{"repeated keys joined in order", "parameter1=value1&parameter1=value2&parameter2=value",
			map[string]string{"parameter1": "value1,value2", "parameter2": "value"}},
		{"values decoded", "q=hello%20world&r=a+b&s=%2C", map[string]string{"q": "hello world", "r": "a b", "s": ","}},
		{"malformed escape passed through", "bad=%zz", map[string]string{"bad": "%zz"}},
		{"key without value", "flag&x=", map[string]string{"flag": "", "x": ""}},
		{"semicolon is not a separator", "a=1;b=2", map[string]string{"a": "1;b=2"}},
		{"only separators", "&&", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			target := "/p"
			if tc.query != "" {
				target += "?" + tc.query
			}
			ev := fetchEvent(t, srv, newRequest(t, http.MethodGet, target, nil))
			if ev.typed.RawQueryString != tc.query {
				t.Errorf("rawQueryString = %q, want %q", ev.typed.RawQueryString, tc.query)
			}
			if _, present := ev.fields["queryStringParameters"]; present != (tc.want != nil) {
				t.Errorf("queryStringParameters present = %v, want %v", present, tc.want != nil)
			}
			if diff := cmp.Diff(tc.want, ev.typed.QueryStringParameters); diff != "" {
				t.Errorf("queryStringParameters (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewEventHeadersAndCookies(t *testing.T) {
	srv := eventServer(t, nil)
	tests := []struct {
		name        string
		headers     [][2]string
		wantHeaders map[string]string // must be present with these values
		wantAbsent  []string
		wantCookies []string // nil: cookies left out
	}{
		{
			name:        "names lower-cased",
			headers:     [][2]string{{"X-Custom-Header", "Value"}, {"Authorization", "Bearer t"}},
			wantHeaders: map[string]string{"x-custom-header": "Value", "authorization": "Bearer t"},
		},
		{
			name:        "repeated header joined with comma",
			headers:     [][2]string{{"X-Multi", "value1"}, {"X-Multi", "value2"}},
			wantHeaders: map[string]string{"x-multi": "value1,value2"},
		},
		{
			name:        "cookie header becomes cookies",
			headers:     [][2]string{{"Cookie", "s=1; t=2"}},
			wantAbsent:  []string{"cookie"},
			wantCookies: []string{"s=1", "t=2"},
		},
		{
			name:        "several cookie headers",
			headers:     [][2]string{{"Cookie", "a=1; b=2"}, {"Cookie", "c=3"}},
			wantAbsent:  []string{"cookie"},
			wantCookies: []string{"a=1", "b=2", "c=3"},
		},
		{
			name:        "empty cookie pieces dropped",
			headers:     [][2]string{{"Cookie", "a=1; ; b=2; "}},
			wantCookies: []string{"a=1", "b=2"},
		},
		{
			name:        "cookies without space after semicolon",
			headers:     [][2]string{{"Cookie", "a=1;b=2"}},
			wantCookies: []string{"a=1", "b=2"},
		},
		{
			name:        "client x-forwarded-for gains the peer",
			headers:     [][2]string{{"X-Forwarded-For", "203.0.113.9"}},
			wantHeaders: map[string]string{"x-forwarded-for": "203.0.113.9, 127.0.0.1"},
		},
		{
			name:        "proxy scheme and port kept",
			headers:     [][2]string{{"X-Forwarded-Proto", "https"}, {"X-Forwarded-Port", "443"}},
			wantHeaders: map[string]string{"x-forwarded-proto": "https", "x-forwarded-port": "443"},
		},
		{
			name:        "headers named in Connection dropped",
			headers:     [][2]string{{"Connection", "X-Hop, keep-alive"}, {"X-Hop", "1"}, {"X-Stay", "2"}},
			wantAbsent:  []string{"x-hop", "connection"},
			wantHeaders: map[string]string{"x-stay": "2"},
		},
		{
			name:        "hop-by-hop headers dropped",
			headers:     [][2]string{{"Keep-Alive", "timeout=5"}, {"Te", "trailers"}, {"Proxy-Connection", "keep-alive"}},
			wantAbsent:  []string{"keep-alive", "te", "proxy-connection", "connection"},
			wantHeaders: map[string]string{"host": testHost},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := newRequest(t, http.MethodGet, "/", nil)
			for _, h := range tc.headers {
				req.Header.Add(h[0], h[1])
			}
			ev := fetchEvent(t, srv, req)
			for name, want := range tc.wantHeaders {
				if got, ok := ev.typed.Headers[name]; !ok || got != want {
					t.Errorf("headers[%q] = %q (present %v), want %q", name, got, ok, want)
				}
			}
			for _, name := range tc.wantAbsent {
				if got, ok := ev.typed.Headers[name]; ok {
					t.Errorf("headers[%q] = %q, want it left out", name, got)
				}
			}
			for name := range ev.typed.Headers {
				if name != strings.ToLower(name) {
					t.Errorf("header name %q is not lower-case", name)
				}
			}
			if _, present := ev.fields["cookies"]; present != (tc.wantCookies != nil) {
				t.Errorf("cookies present = %v, want %v", present, tc.wantCookies != nil)
			}
			if diff := cmp.Diff(tc.wantCookies, ev.typed.Cookies); diff != "" {
				t.Errorf("cookies (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewEventBodyEncoding(t *testing.T) {
	srv := eventServer(t, nil)
	binary := []byte{0x00, 0xff, 0x80, 0x0a, 'P', 'N', 'G'}
	tests := []struct {
		contentType string
		body        []byte
		wantBase64  bool
	}{
		{"application/json", []byte(`{"a":1}`), false},
		{"application/json; charset=utf-8", []byte(`{"a":1}`), false},
		{"Application/JSON", []byte(`{"a":1}`), false},
		{"text/plain", []byte("hello"), false},
		{"text/html; charset=iso-8859-1", []byte("<p>hi</p>"), false},
		{"text/csv", []byte("a,b\n1,2\n"), false},
		{"application/xml", []byte("<a/>"), false},
		{"application/javascript", []byte("alert(1)"), false},
		{"application/json; bad-param", []byte(`{}`), false},
		{"application/x-www-form-urlencoded", []byte("a=1&b=2"), true},
		{"multipart/form-data; boundary=x", []byte("--x--"), true},
		{"application/vnd.api+json", []byte(`{}`), true},
		{"application/octet-stream", binary, true},
		{"image/png", binary, true},
		{"", []byte("no content type"), true},
	}
	for _, tc := range tests {
		t.Run(tc.contentType, func(t *testing.T) {
			req := newRequest(t, http.MethodPost, "/upload", bytes.NewReader(tc.body))
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			ev := fetchEvent(t, srv, req)
			if ev.typed.IsBase64Encoded != tc.wantBase64 {
				t.Fatalf("isBase64Encoded = %v, want %v", ev.typed.IsBase64Encoded, tc.wantBase64)
			}
			got := []byte(ev.typed.Body)
			if tc.wantBase64 {
				var err error
				if got, err = base64.StdEncoding.DecodeString(ev.typed.Body); err != nil {
					t.Fatalf("body %q is not base64: %v", ev.typed.Body, err)
				}
			}
			if !bytes.Equal(got, tc.body) {
				t.Errorf("body carries %q, want %q", got, tc.body)
			}
		})
	}
}

func TestNewEventEmptyBodyLeftOut(t *testing.T) {
	srv := eventServer(t, nil)
	for _, contentType := range []string{"application/json", "application/octet-stream"} {
		req := newRequest(t, http.MethodPost, "/", http.NoBody)
		req.Header.Set("Content-Type", contentType)
		ev := fetchEvent(t, srv, req)
		if _, ok := ev.fields["body"]; ok {
			t.Errorf("%s: body present for an empty request body", contentType)
		}
		if ev.typed.IsBase64Encoded {
			t.Errorf("%s: isBase64Encoded true for an empty body", contentType)
		}
	}
}

func TestNewEventTextSentUnescaped(t *testing.T) {
	srv := eventServer(t, nil)
	req := newRequest(t, http.MethodPost, "/", strings.NewReader("<b>&</b>"))
	req.Header.Set("Content-Type", "text/html")
	ev := fetchEvent(t, srv, req)
	if !bytes.Contains(ev.raw, []byte(`"body":"<b>&</b>"`)) {
		t.Errorf("event JSON escapes HTML characters:\n%s", ev.raw)
	}
}

func TestNewEventChunkedRequest(t *testing.T) {
	srv := eventServer(t, nil)
	req := newRequest(t, http.MethodPost, "/", io.MultiReader(strings.NewReader("chunk1"), strings.NewReader("chunk2")))
	req.ContentLength = -1 // forces Transfer-Encoding: chunked
	req.Header.Set("Content-Type", "text/plain")
	ev := fetchEvent(t, srv, req)
	if ev.typed.Body != "chunk1chunk2" {
		t.Errorf("body = %q, want the whole chunked body", ev.typed.Body)
	}
	if te, ok := ev.typed.Headers["transfer-encoding"]; ok {
		t.Errorf("transfer-encoding %q reached the function", te)
	}
}

func TestNewEventIAMCaller(t *testing.T) {
	tests := []struct {
		name       string
		caller     IAMCaller
		wantOrgRaw string
	}{
		{
			name: "without organization",
			caller: IAMCaller{AccessKey: "AKIAIOSFODNN7EXAMPLE", AccountID: "111122223333", CallerID: "AIDACKCEVSQ6C2EXAMPLE",
				UserARN: "arn:aws:iam::111122223333:user/alice", UserID: "AIDACKCEVSQ6C2EXAMPLE"},
			wantOrgRaw: `"principalOrgId":null`,
		},
		{
			name: "with organization",
			caller: IAMCaller{AccessKey: "ASIAEXAMPLE", AccountID: "444455556666", CallerID: "AROAEXAMPLE:session",
				UserARN: "arn:aws:sts::444455556666:assumed-role/r/session", UserID: "AROAEXAMPLE:session", PrincipalOrgID: "o-abc123"},
			wantOrgRaw: `"principalOrgId":"o-abc123"`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := eventServer(t, &tc.caller)
			ev := fetchEvent(t, srv, newRequest(t, http.MethodGet, "/", nil))
			if got := ev.typed.RequestContext.AccountID; got != tc.caller.AccountID {
				t.Errorf("requestContext.accountId = %q, want the caller's account %q", got, tc.caller.AccountID)
			}
			auth := ev.typed.RequestContext.Authorizer
			if auth == nil || auth.IAM == nil {
				t.Fatalf("authorizer.iam missing:\n%s", ev.raw)
			}
			want := events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{
				AccessKey:      tc.caller.AccessKey,
				AccountID:      tc.caller.AccountID,
				CallerID:       tc.caller.CallerID,
				PrincipalOrgID: tc.caller.PrincipalOrgID,
				UserARN:        tc.caller.UserARN,
				UserID:         tc.caller.UserID,
			}
			if diff := cmp.Diff(want, *auth.IAM); diff != "" {
				t.Errorf("authorizer.iam (-want +got):\n%s", diff)
			}
			for _, fragment := range []string{`"cognitoIdentity":null`, tc.wantOrgRaw} {
				if !bytes.Contains(ev.raw, []byte(fragment)) {
					t.Errorf("event lacks %s:\n%s", fragment, ev.raw)
				}
			}
		})
	}
}
