package urlevent

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// FuzzNewEvent feeds arbitrary paths, queries, headers and bodies to
// NewEvent. The request is built by hand, so it can hold what a real server
// would reject (header names differing only in case, invalid UTF-8). The
// event must always be valid JSON that aws-lambda-go decodes strictly, and
// must carry the body and query without loss.
func FuzzNewEvent(f *testing.F) {
	f.Add("/my/path", "a=1&a=2", "X-Custom", "v", "text/plain", []byte("hello"), "s=1; t=2")
	f.Add("/", "", "x-custom", "v", "", []byte{0, 0xff}, "")
	f.Add("/a%20b", "q=%zz&&=x;y", "Cookie", "a=1;;b", "application/json; charset=utf-8", []byte("\xff\xfe"), "c")
	f.Add("/\x00\"\\", "\xff=\xfe", "X-\xff", "\"\\\n", "image/png", []byte(`{"a":1}`), ";;")
	f.Add("", "%", "Host", "evil", "text/html", []byte("<b>&</b>"), "a=b; ")
	f.Fuzz(func(t *testing.T, path, rawQuery, headerName, headerValue, contentType string, body []byte, cookie string) {
		r := &http.Request{
			Method:     http.MethodPost,
			URL:        &url.URL{Path: path, RawQuery: rawQuery},
			Proto:      "HTTP/1.1",
			Header:     http.Header{},
			Host:       "fallback.example",
			RemoteAddr: "192.0.2.7:51000",
		}
		r.Header[headerName] = []string{headerValue} // not canonicalized on purpose
		r.Header.Set("Content-Type", contentType)
		if cookie != "" {
			r.Header.Add("Cookie", cookie)
		}
		target := Target{URLID: testURLID, Host: testHost, Path: path}

		raw, err := NewEvent(r, body, target, testRequestID, testNow, nil)
		if err != nil {
			t.Fatalf("NewEvent: %v", err)
		}
		if !json.Valid(raw) {
			t.Fatalf("event is not valid JSON:\n%s", raw)
		}
		var ev events.APIGatewayV2HTTPRequest
		if err := decodeStrict(raw, &ev); err != nil {
			t.Fatalf("strict decode: %v\n%s", err, raw)
		}
		if err := decodeStrict(withoutKeys(t, raw, awsOnlyKeys), &events.LambdaFunctionURLRequest{}); err != nil {
			t.Fatalf("strict decode into LambdaFunctionURLRequest: %v\n%s", err, raw)
		}
		if ev.Headers["host"] != testHost || ev.RequestContext.HTTP.SourceIP != "192.0.2.7" {
			t.Errorf("host %q, sourceIp %q", ev.Headers["host"], ev.RequestContext.HTTP.SourceIP)
		}
		if _, ok := ev.Headers["cookie"]; ok {
			t.Errorf("cookie header reached headers")
		}
		for _, c := range ev.Cookies {
			if c == "" {
				t.Errorf("empty cookie in %q", ev.Cookies)
			}
		}
		switch {
		case len(body) == 0:
			if ev.Body != "" || ev.IsBase64Encoded {
				t.Errorf("empty body became %q (base64 %v)", ev.Body, ev.IsBase64Encoded)
			}
		case ev.IsBase64Encoded:
			got, err := base64.StdEncoding.DecodeString(ev.Body)
			if err != nil || !bytes.Equal(got, body) {
				t.Errorf("base64 body decodes to %q (%v), want %q", got, err, body)
			}
		case utf8.Valid(body):
			if ev.Body != string(body) {
				t.Errorf("text body %q, want %q", ev.Body, body)
			}
		}
		if utf8.ValidString(rawQuery) && ev.RawQueryString != rawQuery {
			t.Errorf("rawQueryString %q, want %q", ev.RawQueryString, rawQuery)
		}
		if rawQuery == "" && ev.QueryStringParameters != nil {
			t.Errorf("queryStringParameters %q without a query", ev.QueryStringParameters)
		}
		if _, ok := ev.QueryStringParameters[""]; ok {
			t.Errorf("empty parameter name in %q", ev.QueryStringParameters)
		}
	})
}

// FuzzWriteResponse feeds arbitrary function output to WriteResponse. It
// must never panic, must leave the writer untouched when it refuses the
// output, and must otherwise write a final status.
func FuzzWriteResponse(f *testing.F) {
	f.Add([]byte(`{"statusCode":201,"headers":{"A":"b"},"cookies":["c=1"],"body":"aGk=","isBase64Encoded":true}`))
	f.Add([]byte(`"Hello, world!"`))
	f.Add([]byte(`{"statusCode":204}`))
	f.Add([]byte(`{"statusCode":99}`))
	f.Add([]byte(`{"statusCode":200,"headers":{"a\nb":"c"}}`))
	f.Add([]byte(`{"statusCode":1e3}`))
	f.Add([]byte(` [1, 2] `))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		rec := httptest.NewRecorder()
		err := WriteResponse(rec, payload)
		if err != nil {
			if !errors.Is(err, ErrInvalidResponse) {
				t.Fatalf("error %v does not wrap ErrInvalidResponse", err)
			}
			if len(rec.Header()) != 0 || rec.Body.Len() != 0 {
				t.Fatalf("refused output but wrote headers %v / body %q", rec.Header(), rec.Body.Bytes())
			}
			return
		}
		if rec.Code < 200 || rec.Code > 599 {
			t.Errorf("status %d", rec.Code)
		}
		if rec.Header().Get("Content-Type") == "" {
			t.Errorf("no Content-Type")
		}
	})
}
