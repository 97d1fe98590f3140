package sigv4

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"testing"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"gust/internal/lambda"
)

// overTheWire serializes a client request and parses it back as a server
// would, so the verifier sees exactly what a handler would.
func overTheWire(t *testing.T, req *http.Request) (*http.Request, []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := req.Write(&buf); err != nil {
		t.Skipf("client cannot write request: %v", err)
	}
	got, err := http.ReadRequest(bufio.NewReader(&buf))
	if err != nil {
		t.Skipf("server cannot read request: %v", err)
	}
	var body bytes.Buffer
	if _, err := body.ReadFrom(got.Body); err != nil {
		t.Fatalf("read body: %v", err)
	}
	return got, body.Bytes()
}

// FuzzVerify checks two properties for arbitrary paths, queries, bodies and
// Authorization headers: a forged header never verifies and never panics,
// and a request signed by the SDK always verifies but not with another body.
func FuzzVerify(f *testing.F) {
	f.Add("/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A0%3Afunction%3Ax%3A%24LATEST", "Qualifier=%24LATEST&a=&a=b", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000000000000000000000000000000000000000000000000000000000000000", []byte(`{"a":1}`))
	f.Add("/", "", "", []byte{})
	f.Add("/a b/ü", "x=1;y=2&%zz", "AWS4-HMAC-SHA256 Credential=/////", []byte("\x00\xff"))
	f.Add("//./../x", "k+v=a+b&k%2Bv=%2B", "AWS4-HMAC-SHA256 ,,,==,", []byte(nil))
	v := testVerifier()

	f.Fuzz(func(t *testing.T, path, query, auth string, body []byte) {
		target := "http://gust.test/" + path
		if query != "" {
			target += "?" + query
		}
		req, err := http.NewRequest("POST", target, bytes.NewReader(body))
		if err != nil {
			return
		}

		forged := req.Clone(context.Background())
		forged.Body = http.NoBody
		forged.Header.Set("Authorization", auth)
		forged.Header.Set("X-Amz-Date", testNow.Format(amzDateFormat))
		if p, err := v.Verify(forged, body); err == nil {
			t.Fatalf("forged request verified as %+v", p)
		} else if k := kindOf(err); k != lambda.KindInvalidSignature.Code && k != lambda.KindUnrecognizedClient.Code {
			t.Fatalf("error %v is not an auth *lambda.Error", err)
		}

		if err := v4.NewSigner().SignHTTP(context.Background(), creds(), req, hashHex(body), "lambda", "us-east-1", testNow); err != nil {
			t.Fatalf("sign: %v", err)
		}
		got, gotBody := overTheWire(t, req)
		if _, err := v.Verify(got, gotBody); err != nil {
			t.Fatalf("SDK-signed request to %q did not verify: %v", got.RequestURI, err)
		}
		if _, err := v.Verify(got, append(gotBody, 'x')); err == nil {
			t.Fatal("request verified with a body it was not signed over")
		}
	})
}
