package sigv4

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"gust/internal/lambda"
)

const (
	testKey    = "AKIDEXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	// rejectedToken is the one session token testVerifier refuses; every
	// other token (and none) goes with testKey.
	rejectedToken = "revoked-token"
)

var testNow = time.Date(2025, 1, 1, 0, 10, 0, 0, time.UTC)

func testVerifier() *Verifier {
	return &Verifier{
		Secret: func(id, token string) (string, bool) {
			if id == testKey && token != rejectedToken {
				return testSecret, true
			}
			return "", false
		},
		Now: func() time.Time { return testNow },
	}
}

// verifyServer is a real HTTP server whose handler reads the body, calls
// Verify and reports the outcome on results.
type verifyServer struct {
	*httptest.Server
	results chan verifyResult
}

type verifyResult struct {
	principal Principal
	err       error
	path      string // r.URL.EscapedPath() as the server saw it
	body      []byte
}

func startVerifyServer(t *testing.T, v *Verifier) *verifyServer {
	t.Helper()
	s := &verifyServer{results: make(chan verifyResult, 16)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		p, err := v.Verify(r, body)
		s.results <- verifyResult{principal: p, err: err, path: r.URL.EscapedPath(), body: body}
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			e := lambda.AsError(err)
			w.Header().Set("X-Amzn-ErrorType", e.Code)
			w.WriteHeader(e.Status)
			io.WriteString(w, `{"Type":"User","Message":"`+strings.ReplaceAll(e.Message, `"`, `'`)+`"}`)
			return
		}
		io.WriteString(w, `{"Functions":[]}`)
	}))
	t.Cleanup(s.Close)
	return s
}

// do sends req and returns what the handler's Verify call produced.
func (s *verifyServer) do(t *testing.T, req *http.Request) verifyResult {
	t.Helper()
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	select {
	case res := <-s.results:
		return res
	case <-time.After(10 * time.Second):
		t.Fatal("handler reported nothing")
		return verifyResult{}
	}
}

func hashHex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// signed builds a request to base+target, lets tweak adjust it before
// signing, and signs it with the SDK's signer at signAt.
func signedRequest(t *testing.T, method, url string, body []byte, header http.Header, creds aws.Credentials, signAt time.Time) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	for k, vs := range header {
		req.Header[k] = append([]string(nil), vs...)
	}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hashHex(body), "lambda", "us-east-1", signAt); err != nil {
		t.Fatalf("sign: %v", err)
	}
	return req
}

func creds() aws.Credentials {
	return aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret}
}

func kindOf(err error) string {
	var e *lambda.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func TestVerifySDKSigned(t *testing.T) {
	srv := startVerifyServer(t, testVerifier())
	large := make([]byte, 1<<20)
	for i := range large {
		large[i] = byte(rand.IntN(256))
	}
	tokenCreds := creds()
	tokenCreds.SessionToken = "FwoGZXIvYXdzEJr//////////wEaDKvAsession+token/with=specials"

	tests := []struct {
		name     string
		method   string
		target   string
		body     []byte
		header   http.Header
		creds    aws.Credentials
		wantPath string // what the server sees, when it matters
	}{
		{name: "root path", method: "GET", target: "/"},
		{name: "list functions", method: "GET", target: "/2015-03-31/functions/?MaxItems=10&Marker="},
		{name: "encoded ARN", method: "GET",
			target:   "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Ax/configuration",
			wantPath: "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Ax/configuration"},
		{name: "encoded $LATEST", method: "GET",
			target:   "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Ax%3A%24LATEST",
			wantPath: "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Ax%3A%24LATEST"},
		{name: "raw colon and dollar", method: "GET", target: "/2015-03-31/functions/arn:aws:lambda:us-east-1:0:function:x:$LATEST"},
		{name: "qualifier query", method: "POST", target: "/2015-03-31/functions/x/invocations?Qualifier=%24LATEST", body: []byte(`{"k":"v"}`)},
		{name: "query specials", method: "GET", target: "/q?b=hello%20world&a=x%2By&c=%E2%9C%93&d=%2F%3F%26%3D&e=a+b&star=*"},
		{name: "query repeated keys", method: "GET", target: "/q?rep=2&rep=10&rep=1&a=&rep=&z=1"},
		{name: "query key without value", method: "GET", target: "/q?flag&x=1"},
		{name: "unicode path", method: "GET", target: "/fn/%C3%A9t%C3%A9/%E2%9C%93"},
		{name: "empty POST body", method: "POST", target: "/2015-03-31/functions/x/invocations", body: []byte{}},
		{name: "large body", method: "POST", target: "/2015-03-31/functions/x/invocations", body: large},
		{name: "unicode body", method: "POST", target: "/2015-03-31/functions/x/invocations", body: []byte(`{"msg":"héllo ✓ 日本"}`)},
		{name: "multi-value and spaced headers", method: "PUT", target: "/h", body: []byte("x"),
			header: http.Header{
				"X-Amz-Meta-Spaces": {"  a   b    c  "},
				"X-Multi":           {"one", "two  three"},
				"Content-Type":      {"application/json"},
			}},
		{name: "session token", method: "GET", target: "/2015-03-31/functions/", creds: tokenCreds},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.creds
			if c.AccessKeyID == "" {
				c = creds()
			}
			req := signedRequest(t, tt.method, srv.URL+tt.target, tt.body, tt.header, c, testNow.Add(-time.Minute))
			res := srv.do(t, req)
			if res.err != nil {
				t.Fatalf("Verify: %v", res.err)
			}
			want := Principal{AccessKeyID: testKey, SessionToken: c.SessionToken, Region: "us-east-1", Service: "lambda"}
			if res.principal != want {
				t.Errorf("principal = %+v, want %+v", res.principal, want)
			}
			if tt.wantPath != "" && res.path != tt.wantPath {
				t.Errorf("server saw path %q, want %q", res.path, tt.wantPath)
			}
			if !bytes.Equal(res.body, tt.body) {
				t.Errorf("server saw %d body bytes, want %d", len(res.body), len(tt.body))
			}
		})
	}
}

func TestVerifyRejectsTampering(t *testing.T) {
	srv := startVerifyServer(t, testVerifier())
	body := []byte(`{"k":"v"}`)
	base := func(t *testing.T) *http.Request {
		h := http.Header{"X-Custom": {"value"}, "Content-Type": {"application/json"}}
		c := creds()
		c.SessionToken = "token"
		return signedRequest(t, "POST", srv.URL+"/2015-03-31/functions/a%3Ab/invocations?Qualifier=1&x=y", body, h, c, testNow)
	}
	tests := []struct {
		name   string
		tamper func(*http.Request)
		ok     bool
	}{
		{name: "untouched", tamper: func(*http.Request) {}, ok: true},
		{name: "unsigned header changed", tamper: func(r *http.Request) { r.Header.Set("User-Agent", "other") }, ok: true},
		{name: "method", tamper: func(r *http.Request) { r.Method = "PUT" }},
		{name: "path", tamper: func(r *http.Request) {
			r.URL.Path, r.URL.RawPath = "/2015-03-31/functions/a:c/invocations", "/2015-03-31/functions/a%3Ac/invocations"
		}},
		{name: "path decoded", tamper: func(r *http.Request) { r.URL.RawPath = "" }},
		{name: "query value", tamper: func(r *http.Request) { r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "x=y", "x=z", 1) }},
		{name: "query added", tamper: func(r *http.Request) { r.URL.RawQuery += "&more=1" }},
		{name: "signed header", tamper: func(r *http.Request) { r.Header.Set("X-Custom", "evil") }},
		{name: "signed header extra value", tamper: func(r *http.Request) { r.Header.Add("X-Custom", "evil") }},
		{name: "session token", tamper: func(r *http.Request) { r.Header.Set("X-Amz-Security-Token", "other") }},
		{name: "date", tamper: func(r *http.Request) { r.Header.Set("X-Amz-Date", "20250101T000900Z") }},
		{name: "body", tamper: func(r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader(`{"k":"w"}`))
			r.GetBody = nil
		}},
		{name: "signature", tamper: func(r *http.Request) {
			a := r.Header.Get("Authorization")
			r.Header.Set("Authorization", a[:len(a)-1]+string("10"[a[len(a)-1]&1]))
		}},
		{name: "content sha256 claims other body", tamper: func(r *http.Request) {
			r.Header.Set("X-Amz-Content-Sha256", hashHex([]byte("other")))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := base(t)
			tt.tamper(req)
			res := srv.do(t, req)
			if tt.ok {
				if res.err != nil {
					t.Fatalf("Verify: %v", res.err)
				}
				return
			}
			if got := kindOf(res.err); got != lambda.KindInvalidSignature.Code {
				t.Fatalf("Verify error = %v (kind %q), want %s", res.err, got, lambda.KindInvalidSignature.Code)
			}
		})
	}

	t.Run("wrong secret", func(t *testing.T) {
		c := creds()
		c.SecretAccessKey = "not-the-secret"
		res := srv.do(t, signedRequest(t, "GET", srv.URL+"/", nil, nil, c, testNow))
		if res.err == nil || res.err.(*lambda.Error).Message != msgMismatch {
			t.Fatalf("Verify error = %v, want the signature mismatch message", res.err)
		}
	})
	t.Run("unknown key", func(t *testing.T) {
		c := creds()
		c.AccessKeyID = "AKIDUNKNOWN"
		res := srv.do(t, signedRequest(t, "GET", srv.URL+"/", nil, nil, c, testNow))
		if got := kindOf(res.err); got != lambda.KindUnrecognizedClient.Code {
			t.Fatalf("Verify error = %v, want %s", res.err, lambda.KindUnrecognizedClient.Code)
		}
		if want := "The security token included in the request is invalid."; res.err.(*lambda.Error).Message != want {
			t.Errorf("message = %q, want %q", res.err.(*lambda.Error).Message, want)
		}
	})
}

func TestVerifyUnsignedPayload(t *testing.T) {
	srv := startVerifyServer(t, testVerifier())
	req, err := http.NewRequest("POST", srv.URL+"/u", strings.NewReader("payload"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	if err := v4.NewSigner().SignHTTP(context.Background(), creds(), req, "UNSIGNED-PAYLOAD", "lambda", "us-east-1", testNow); err != nil {
		t.Fatal(err)
	}
	if res := srv.do(t, req); res.err != nil {
		t.Fatalf("Verify: %v", res.err)
	}
}

func TestVerifyClockSkew(t *testing.T) {
	srv := startVerifyServer(t, testVerifier())
	tests := []struct {
		name    string
		offset  time.Duration
		wantErr string // exact message; "" means verified
	}{
		{name: "now", offset: 0},
		{name: "4m59s old", offset: -(4*time.Minute + 59*time.Second)},
		{name: "4m59s ahead", offset: 4*time.Minute + 59*time.Second},
		{name: "exactly 5m old", offset: -5 * time.Minute},
		{name: "10m old", offset: -10 * time.Minute,
			wantErr: "Signature expired: 20250101T000000Z is now earlier than 20250101T000500Z (20250101T001000Z - 5 min.)"},
		{name: "6m ahead", offset: 6 * time.Minute,
			wantErr: "Signature not yet current: 20250101T001600Z is still later than 20250101T001500Z (20250101T001000Z + 5 min.)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := srv.do(t, signedRequest(t, "GET", srv.URL+"/", nil, nil, creds(), testNow.Add(tt.offset)))
			if tt.wantErr == "" {
				if res.err != nil {
					t.Fatalf("Verify: %v", res.err)
				}
				return
			}
			if kindOf(res.err) != lambda.KindInvalidSignature.Code || res.err.(*lambda.Error).Message != tt.wantErr {
				t.Fatalf("Verify error = %v\nwant InvalidSignatureException: %s", res.err, tt.wantErr)
			}
		})
	}

	t.Run("custom skew", func(t *testing.T) {
		v := testVerifier()
		v.MaxSkew = 30 * time.Second
		req := signedRequest(t, "GET", "http://gust.test/", nil, nil, creds(), testNow.Add(-time.Minute))
		_, err := v.Verify(req, nil)
		if err == nil || !strings.Contains(err.Error(), "(20250101T001000Z - 30s)") {
			t.Fatalf("Verify error = %v, want expiry with 30s skew", err)
		}
	})
	t.Run("scope date differs from X-Amz-Date", func(t *testing.T) {
		req := signedRequest(t, "GET", "http://gust.test/", nil, nil, creds(), testNow)
		req.Header.Set("Authorization", strings.Replace(req.Header.Get("Authorization"), "/20250101/", "/20241231/", 1))
		_, err := testVerifier().Verify(req, nil)
		if err == nil || !strings.Contains(err.Error(), "'20241231' != '20250101'") {
			t.Fatalf("Verify error = %v, want scope date mismatch", err)
		}
	})
}

func TestVerifyPresigned(t *testing.T) {
	srv := startVerifyServer(t, testVerifier())
	presign := func(t *testing.T, target string, expires string, c aws.Credentials, at time.Time) *http.Request {
		t.Helper()
		req, err := http.NewRequest("GET", srv.URL+target, nil)
		if err != nil {
			t.Fatal(err)
		}
		if expires != "" {
			q := req.URL.Query()
			q.Set("X-Amz-Expires", expires)
			req.URL.RawQuery = q.Encode()
		}
		u, h, err := v4.NewSigner().PresignHTTP(context.Background(), c, req, hashHex(nil), "lambda", "us-east-1", at)
		if err != nil {
			t.Fatalf("presign: %v", err)
		}
		out, err := http.NewRequest("GET", u, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, vs := range h {
			if k != "Host" {
				out.Header[k] = vs
			}
		}
		return out
	}
	tokenCreds := creds()
	tokenCreds.SessionToken = "tok/en+="

	tests := []struct {
		name    string
		req     func(t *testing.T) *http.Request
		wantErr string // substring; "" means verified
	}{
		{name: "fresh", req: func(t *testing.T) *http.Request {
			return presign(t, "/fn/a%3Ab?x=1&x=0&y=", "300", creds(), testNow.Add(-time.Minute))
		}},
		{name: "session token in query", req: func(t *testing.T) *http.Request {
			return presign(t, "/fn/%24LATEST", "60", tokenCreds, testNow)
		}},
		{name: "no expires, within skew", req: func(t *testing.T) *http.Request {
			return presign(t, "/", "", creds(), testNow.Add(-4*time.Minute))
		}},
		{name: "long expiry still valid", req: func(t *testing.T) *http.Request {
			return presign(t, "/", "3600", creds(), testNow.Add(-50*time.Minute))
		}},
		{name: "expired", wantErr: "Request has expired", req: func(t *testing.T) *http.Request {
			return presign(t, "/", "300", creds(), testNow.Add(-6*time.Minute))
		}},
		{name: "expires beyond a week", wantErr: "X-Amz-Expires must be", req: func(t *testing.T) *http.Request {
			return presign(t, "/", "604801", creds(), testNow)
		}},
		{name: "signed in the future", wantErr: "Signature not yet current", req: func(t *testing.T) *http.Request {
			return presign(t, "/", "300", creds(), testNow.Add(10*time.Minute))
		}},
		{name: "expires tampered", wantErr: "does not match", req: func(t *testing.T) *http.Request {
			r := presign(t, "/", "300", creds(), testNow.Add(-time.Minute))
			r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "X-Amz-Expires=300", "X-Amz-Expires=3000", 1)
			return r
		}},
		{name: "path tampered", wantErr: "does not match", req: func(t *testing.T) *http.Request {
			r := presign(t, "/fn/a", "300", creds(), testNow)
			r.URL.Path = "/fn/b"
			return r
		}},
		{name: "also has Authorization", wantErr: "Only one auth mechanism", req: func(t *testing.T) *http.Request {
			r := presign(t, "/", "300", creds(), testNow)
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 x")
			return r
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := srv.do(t, tt.req(t))
			if tt.wantErr == "" {
				if res.err != nil {
					t.Fatalf("Verify: %v", res.err)
				}
				return
			}
			if kindOf(res.err) != lambda.KindInvalidSignature.Code || !strings.Contains(res.err.Error(), tt.wantErr) {
				t.Fatalf("Verify error = %v, want InvalidSignatureException containing %q", res.err, tt.wantErr)
			}
		})
	}
}

func TestVerifyMalformed(t *testing.T) {
	good := signedRequest(t, "GET", "http://gust.test/", nil, nil, creds(), testNow).Header.Get("Authorization")
	sig := good[strings.LastIndex(good, "=")+1:]
	tests := []struct {
		name string
		auth []string // nil = no header
	}{
		{name: "missing"},
		{name: "empty", auth: []string{""}},
		{name: "algorithm only", auth: []string{"AWS4-HMAC-SHA256"}},
		{name: "basic auth", auth: []string{"Basic dXNlcjpwYXNz"}},
		{name: "wrong algorithm", auth: []string{strings.Replace(good, "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512", 1)}},
		{name: "two headers", auth: []string{good, good}},
		{name: "no signature", auth: []string{"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date"}},
		{name: "short credential", auth: []string{"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + sig}},
		{name: "bad scope date", auth: []string{"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/2025x101/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + sig}},
		{name: "host unsigned", auth: []string{"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/lambda/aws4_request, SignedHeaders=x-amz-date, Signature=" + sig}},
		{name: "uppercase signed header", auth: []string{"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/lambda/aws4_request, SignedHeaders=Host;x-amz-date, Signature=" + sig}},
		{name: "empty signed header", auth: []string{"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/lambda/aws4_request, SignedHeaders=host;;x-amz-date, Signature=" + sig}},
		{name: "short signature", auth: []string{"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc"}},
		{name: "non-hex signature", auth: []string{"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("zz", 32)}},
		{name: "component without =", auth: []string{"AWS4-HMAC-SHA256 Credential, SignedHeaders, Signature"}},
		{name: "unicode", auth: []string{"AWS4-HMAC-SHA256 Credential=✓/✓/✓/✓/✓, SignedHeaders=✓, Signature=✓"}},
		{name: "huge", auth: []string{"AWS4-HMAC-SHA256 " + strings.Repeat("Credential=a/b,", 10000)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "http://gust.test/", nil)
			req.Header.Set("X-Amz-Date", "20250101T001000Z")
			req.Header["Authorization"] = tt.auth
			p, err := testVerifier().Verify(req, nil)
			if got := kindOf(err); got != lambda.KindInvalidSignature.Code {
				t.Fatalf("Verify = %+v, %v; want InvalidSignatureException", p, err)
			}
			if strings.Count(err.Error(), "Credential=a/b") > 1 {
				t.Errorf("error echoes the whole header: %.200s…", err)
			}
		})
	}

	t.Run("missing X-Amz-Date", func(t *testing.T) {
		req := httptest.NewRequest("GET", "http://gust.test/", nil)
		req.Header.Set("Authorization", good)
		if _, err := testVerifier().Verify(req, nil); kindOf(err) != lambda.KindInvalidSignature.Code || !strings.Contains(err.Error(), "X-Amz-Date") {
			t.Fatalf("Verify error = %v, want a missing X-Amz-Date error", err)
		}
	})
	t.Run("malformed X-Amz-Date", func(t *testing.T) {
		req := httptest.NewRequest("GET", "http://gust.test/", nil)
		req.Header.Set("Authorization", good)
		req.Header.Set("X-Amz-Date", "2025-01-01T00:10:00Z")
		if _, err := testVerifier().Verify(req, nil); kindOf(err) != lambda.KindInvalidSignature.Code || !strings.Contains(err.Error(), "ISO-8601") {
			t.Fatalf("Verify error = %v, want a date format error", err)
		}
	})
	t.Run("nil Secret func", func(t *testing.T) {
		req := signedRequest(t, "GET", "http://gust.test/", nil, nil, creds(), testNow)
		v := &Verifier{Now: func() time.Time { return testNow }}
		if _, err := v.Verify(req, nil); kindOf(err) != lambda.KindUnrecognizedClient.Code {
			t.Fatalf("Verify error = %v, want UnrecognizedClientException", err)
		}
	})
}

// TestVerifyDoesNotReadBody checks that Verify leaves r.Body alone.
func TestVerifyDoesNotReadBody(t *testing.T) {
	body := []byte(`{"a":1}`)
	req := signedRequest(t, "POST", "http://gust.test/x", body, nil, creds(), testNow)
	if _, err := testVerifier().Verify(req, body); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	got, err := io.ReadAll(req.Body)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("body after Verify = %q, %v; want %q", got, err, body)
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, size := range []int{0, 1 << 10, 256 << 10} {
		body := bytes.Repeat([]byte("x"), size)
		req, err := http.NewRequest("POST", "http://127.0.0.1:9000/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A0%3Afunction%3Ax/invocations?Qualifier=%24LATEST", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Amz-Invocation-Type", "RequestResponse")
		if err := v4.NewSigner().SignHTTP(context.Background(), creds(), req, hashHex(body), "lambda", "us-east-1", testNow); err != nil {
			b.Fatal(err)
		}
		v := testVerifier()
		b.Run("body="+strconv.Itoa(size), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				if _, err := v.Verify(req, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestVerifySessionToken checks that the session token reaches Secret and
// the Principal in both forms, and that a token Secret refuses makes the
// request unrecognized rather than badly signed.
func TestVerifySessionToken(t *testing.T) {
	const token = "FwoGZXIvYXdz/session+token=="
	var got []string // tokens Secret was asked about
	v := testVerifier()
	inner := v.Secret
	v.Secret = func(id, tok string) (string, bool) {
		got = append(got, tok)
		return inner(id, tok)
	}
	withToken := func(tok string) aws.Credentials {
		c := creds()
		c.SessionToken = tok
		return c
	}
	presigned := func(t *testing.T, tok string) *http.Request {
		t.Helper()
		req := httptest.NewRequest("GET", "http://gust.test/2015-03-31/functions/", nil)
		u, _, err := v4.NewSigner().PresignHTTP(context.Background(), withToken(tok), req, hashHex(nil), "lambda", "us-east-1", testNow)
		if err != nil {
			t.Fatalf("presign: %v", err)
		}
		return httptest.NewRequest("GET", u, nil)
	}
	tests := []struct {
		name     string
		req      func(t *testing.T) *http.Request
		wantKind string // "" = verified
	}{
		{name: "header", req: func(t *testing.T) *http.Request {
			return signedRequest(t, "GET", "http://gust.test/", nil, nil, withToken(token), testNow)
		}},
		{name: "presigned", req: func(t *testing.T) *http.Request { return presigned(t, token) }},
		{name: "header, refused token", wantKind: lambda.KindUnrecognizedClient.Code, req: func(t *testing.T) *http.Request {
			return signedRequest(t, "GET", "http://gust.test/", nil, nil, withToken(rejectedToken), testNow)
		}},
		{name: "presigned, refused token", wantKind: lambda.KindUnrecognizedClient.Code, req: func(t *testing.T) *http.Request {
			return presigned(t, rejectedToken)
		}},
		{name: "two token headers", wantKind: lambda.KindInvalidSignature.Code, req: func(t *testing.T) *http.Request {
			r := signedRequest(t, "GET", "http://gust.test/", nil, nil, withToken(token), testNow)
			r.Header.Add("X-Amz-Security-Token", token)
			return r
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got = nil
			p, err := v.Verify(tt.req(t), nil)
			if tt.wantKind != "" {
				if kindOf(err) != tt.wantKind {
					t.Fatalf("Verify = %+v, %v; want %s", p, err, tt.wantKind)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if p.SessionToken != token {
				t.Errorf("Principal.SessionToken = %q, want %q", p.SessionToken, token)
			}
			if len(got) != 1 || got[0] != token {
				t.Errorf("Secret saw tokens %q, want [%q]", got, token)
			}
		})
	}
}
