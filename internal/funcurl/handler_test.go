package funcurl

// The handler's own logic with small fakes for the store and the
// invoker: URL id resolution, the body deadline, CORS. The whole path
// (real store, real functions, real clients) is tested in
// internal/server/function_url*_test.go.

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gust/internal/iam/policy"
	"gust/internal/invoke"
	"gust/internal/lambda"
	"gust/internal/store"
)

const testID = "abcdefghijklmnopqrstuvwxyz012345"

// fakeStore knows one public NONE URL.
type fakeStore struct{ url *lambda.FunctionURL }

func (f fakeStore) FunctionURLByID(_ context.Context, id string) (*lambda.FunctionURL, error) {
	if f.url == nil || id != f.url.URLID {
		return nil, fmt.Errorf("function url %s: %w", id, store.ErrNotFound)
	}
	return f.url, nil
}

func (f fakeStore) GetPolicy(context.Context, string, string) (*policy.Document, string, error) {
	doc, err := policy.ParseResource([]byte(`{"Version":"2012-10-17","Statement":[{"Sid":"p","Effect":"Allow","Principal":"*",
		"Action":"lambda:InvokeFunctionUrl","Resource":"arn:aws:lambda:us-east-1:000000000000:function:f"}]}`))
	return doc, "r", err
}

// countingInvoker answers every invocation with payload and counts them.
type countingInvoker struct {
	calls   atomic.Int32
	payload string
}

func (c *countingInvoker) Invoke(context.Context, invoke.Request) (*invoke.Response, error) {
	c.calls.Add(1)
	return &invoke.Response{StatusCode: http.StatusOK, Payload: []byte(c.payload)}, nil
}

func newTestHandler(cors *lambda.Cors, bodyTimeout time.Duration) (*Handler, *countingInvoker) {
	inv := &countingInvoker{payload: `{"statusCode":200,"body":"ok"}`}
	u := &lambda.FunctionURL{Function: "f", URLID: testID, AuthType: lambda.URLAuthNone, InvokeMode: lambda.InvokeModeBuffered, Cors: cors}
	h := New(Options{Identity: lambda.Identity{Region: "us-east-1", Account: "000000000000"}, Store: fakeStore{u}, Invoker: inv, BodyTimeout: bodyTimeout})
	return h, inv
}

func TestTarget(t *testing.T) {
	h, _ := newTestHandler(nil, 0)
	tests := []struct {
		host, path string
		id, rest   string
		ok         bool
	}{
		{testID + ".lambda-url.us-east-1.localhost:9000", "/a/b%20c", testID, "/a/b%20c", true},
		{strings.ToUpper(testID) + ".LAMBDA-URL.us-east-1.localhost", "/", testID, "/", true},
		{"127.0.0.1:9000", "/_gust/url/" + testID + "/x/y", testID, "/x/y", true},
		{"127.0.0.1:9000", "/_gust/url/" + testID, testID, "/", true},
		{"127.0.0.1:9000", "/_gust/url/" + testID + "/", testID, "/", true},
		{testID + ".lambda-url.eu-west-1.localhost", "/", "", "", false}, // another region
		{"short.lambda-url.us-east-1.localhost", "/", "", "", false},
		{"127.0.0.1", "/_gust/url/../" + testID, "", "", false},
		{"127.0.0.1", "/", "", "", false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, "http://x"+tt.path, nil)
		r.Host = tt.host
		id, rest, ok := h.target(r)
		if ok != tt.ok || (ok && (id != tt.id || rest != tt.rest)) {
			t.Errorf("target(%s %s) = %q %q %v, want %q %q %v", tt.host, tt.path, id, rest, ok, tt.id, tt.rest, tt.ok)
		}
	}
}

func FuzzTarget(f *testing.F) {
	f.Add(testID+".lambda-url.us-east-1.localhost", "/a")
	f.Add("127.0.0.1", "/_gust/url/"+testID+"/b")
	h, _ := newTestHandler(nil, 0)
	f.Fuzz(func(t *testing.T, host, path string) {
		r := httptest.NewRequest(http.MethodGet, "http://x/", nil)
		r.Host = host
		r.URL.Path = path
		id, rest, ok := h.target(r)
		if ok && (!lambda.ValidURLID(id) || !strings.HasPrefix(rest, "/")) {
			t.Errorf("target(%q, %q) = %q %q: an invalid id or a path without /", host, path, id, rest)
		}
	})
}

// TestSlowBodyInvokesNothing: a client that stops sending its body gets
// 408 once the body timeout passes, and no invocation ever starts.
func TestSlowBodyInvokesNothing(t *testing.T) {
	h, inv := newTestHandler(nil, 300*time.Millisecond)
	srv := httptest.NewServer(h)
	defer srv.Close()

	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// 100 bytes declared, 10 sent, then silence.
	fmt.Fprintf(c, "POST /_gust/url/%s/ HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789", testID)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	reply, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read reply: %v (got %q)", err, reply)
	}
	if !strings.HasPrefix(string(reply), "HTTP/1.1 408 ") {
		t.Errorf("slow body: reply %q, want 408", reply)
	}
	if n := inv.calls.Load(); n != 0 {
		t.Errorf("%d invocations for a body that never arrived, want 0", n)
	}

	resp, err := http.Post(srv.URL+"/_gust/url/"+testID+"/", "text/plain", strings.NewReader("0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "ok" || inv.calls.Load() != 1 {
		t.Errorf("prompt body: %d %q after %d invocations, want 200 ok after 1", resp.StatusCode, body, inv.calls.Load())
	}
}

func TestCORSHeaders(t *testing.T) {
	wildcard := &lambda.Cors{AllowOrigins: []string{"*"}, AllowMethods: []string{"*"}, AllowHeaders: []string{"*"}}
	h, inv := newTestHandler(wildcard, 0)
	srv := httptest.NewServer(h)
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/_gust/url/"+testID+"/", nil)
	req.Header.Set("Origin", "https://any.example")
	req.Header.Set("Access-Control-Request-Method", "PATCH")
	req.Header.Set("Access-Control-Request-Headers", "x-one, x-two")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for name, want := range map[string]string{
		"Access-Control-Allow-Origin":      "*", // no credentials: the wildcard itself
		"Access-Control-Allow-Methods":     "PATCH",
		"Access-Control-Allow-Headers":     "x-one, x-two",
		"Access-Control-Allow-Credentials": "",
		"Access-Control-Max-Age":           "",
	} {
		if got := resp.Header.Get(name); got != want {
			t.Errorf("wildcard preflight %s = %q, want %q", name, got, want)
		}
	}
	if inv.calls.Load() != 0 {
		t.Error("a preflight invoked the function")
	}

	// With credentials, browsers need the origin itself.
	c := &lambda.Cors{AllowOrigins: []string{"*"}, AllowCredentials: true}
	if got := allowOriginValue(c, "https://a.example"); got != "https://a.example" {
		t.Errorf("allowOriginValue with credentials = %q, want the origin", got)
	}
	// No Origin, no CORS headers; an OPTIONS without a config is an
	// ordinary request.
	rec := httptest.NewRecorder()
	cw := &corsWriter{ResponseWriter: rec, cors: wildcard}
	cw.WriteHeader(http.StatusOK)
	if v := rec.Header().Get("Access-Control-Allow-Origin"); v != "" {
		t.Errorf("response without Origin: Access-Control-Allow-Origin %q", v)
	}
	if isPreflight(httptest.NewRequest(http.MethodOptions, "/", nil), nil) {
		t.Error("an OPTIONS request to a URL without Cors counted as a preflight")
	}
}
