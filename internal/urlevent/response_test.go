package urlevent

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// responseServer is a real HTTP server that treats each request body as a
// function's output and answers as internal/funcurl does: WriteResponse,
// or 502 when the output is unusable.
func responseServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		payload, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("X-Amzn-RequestId", testRequestID)
		if err := WriteResponse(w, payload); err != nil {
			if !errors.Is(err, ErrInvalidResponse) {
				t.Errorf("WriteResponse: %v", err)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadGateway)
			io.WriteString(w, `{"Message":null}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

type clientResponse struct {
	status int
	header http.Header
	body   string
}

func sendOutput(t *testing.T, srv *httptest.Server, payload string) clientResponse {
	t.Helper()
	resp, err := srv.Client().Post(srv.URL, "application/json", strings.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return clientResponse{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

func TestWriteResponse(t *testing.T) {
	srv := responseServer(t)
	tests := []struct {
		name        string
		payload     string
		wantStatus  int
		wantHeaders map[string]string // must be present with these values
		wantAbsent  []string
		wantCookies []string
		wantBody    string
	}{
		{
			name: "structured response with cookies",
			payload: `{"statusCode":201,"headers":{"Content-Type":"application/json","My-Custom-Header":"Custom Value"},
				"body":"{ \"message\": \"Hello, world!\" }",
				"cookies":["Cookie_1=Value1; Expires=21 Oct 2021 07:48 GMT","Cookie_2=Value2; Max-Age=78000"],
				"isBase64Encoded":false}`,
			wantStatus:  201,
			wantHeaders: map[string]string{"Content-Type": "application/json", "My-Custom-Header": "Custom Value", "Content-Length": "30"},
			wantCookies: []string{"Cookie_1=Value1; Expires=21 Oct 2021 07:48 GMT", "Cookie_2=Value2; Max-Age=78000"},
			wantBody:    `{ "message": "Hello, world!" }`,
		},
		{
			name:        "structured response without content type gets JSON",
			payload:     `{"statusCode":200,"body":"plain words"}`,
			wantStatus:  200,
			wantHeaders: map[string]string{"Content-Type": "application/json"},
			wantBody:    "plain words",
		},
		{
			name:        "function content type kept",
			payload:     `{"statusCode":404,"headers":{"content-type":"text/html; charset=utf-8"},"body":"<h1>gone</h1>"}`,
			wantStatus:  404,
			wantHeaders: map[string]string{"Content-Type": "text/html; charset=utf-8"},
			wantBody:    "<h1>gone</h1>",
		},
		{
			name:        "base64 body decoded",
			payload:     `{"statusCode":200,"headers":{"Content-Type":"application/octet-stream"},"body":"AP+ACg==","isBase64Encoded":true}`,
			wantStatus:  200,
			wantHeaders: map[string]string{"Content-Length": "4"},
			wantBody:    "\x00\xff\x80\n",
		},
		{
			name:        "status only",
			payload:     `{"statusCode":202}`,
			wantStatus:  202,
			wantHeaders: map[string]string{"Content-Type": "application/json", "Content-Length": "0"},
			wantBody:    "",
		},
		{
			name:       "no content has no body",
			payload:    `{"statusCode":204,"body":"ignored"}`,
			wantStatus: 204,
			wantAbsent: []string{"Content-Length"},
			wantBody:   "",
		},
		{
			name:        "comma-joined header value sent as one",
			payload:     `{"statusCode":200,"headers":{"Vary":"Origin,Accept"}}`,
			wantStatus:  200,
			wantHeaders: map[string]string{"Vary": "Origin,Accept"},
		},
		{
			name:        "numbers and booleans in headers taken as text, nulls skipped",
			payload:     `{"statusCode":200,"headers":{"X-Count":3,"X-Flag":true,"X-None":null}}`,
			wantStatus:  200,
			wantHeaders: map[string]string{"X-Count": "3", "X-Flag": "true"},
			wantAbsent:  []string{"X-None"},
		},
		{
			name:       "multiValueHeaders is not part of payload 2.0",
			payload:    `{"statusCode":200,"multiValueHeaders":{"X-A":["1","2"]},"body":"x"}`,
			wantStatus: 200,
			wantAbsent: []string{"X-A"},
			wantBody:   "x",
		},
		{
			name:        "function Content-Length replaced by the real one",
			payload:     `{"statusCode":200,"headers":{"Content-Length":"999"},"body":"abc"}`,
			wantStatus:  200,
			wantHeaders: map[string]string{"Content-Length": "3"},
			wantBody:    "abc",
		},
		{
			name:        "null fields allowed",
			payload:     `{"statusCode":200,"headers":null,"cookies":null,"body":null,"isBase64Encoded":null}`,
			wantStatus:  200,
			wantHeaders: map[string]string{"Content-Type": "application/json"},
		},
		{
			name:        "string sent with its quotes",
			payload:     `"Hello, world!"`,
			wantStatus:  200,
			wantHeaders: map[string]string{"Content-Type": "application/json", "Content-Length": "15"},
			wantBody:    `"Hello, world!"`,
		},
		{
			name:        "object without statusCode sent verbatim",
			payload:     "{\n  \"message\": \"Hello, world!\"\n}",
			wantStatus:  200,
			wantHeaders: map[string]string{"Content-Type": "application/json", "Content-Length": "32"},
			wantBody:    "{\n  \"message\": \"Hello, world!\"\n}",
		},
		{
			name:        "object with status under another key is bare JSON",
			payload:     `{"status":500,"body":"x"}`,
			wantStatus:  200,
			wantHeaders: map[string]string{"Content-Type": "application/json"},
			wantBody:    `{"status":500,"body":"x"}`,
		},
		{name: "number", payload: `42`, wantStatus: 200, wantBody: `42`},
		{name: "array", payload: `[1,"two"]`, wantStatus: 200, wantBody: `[1,"two"]`},
		{name: "null", payload: `null`, wantStatus: 200, wantBody: `null`},
		{name: "boolean", payload: `true`, wantStatus: 200, wantBody: `true`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := sendOutput(t, srv, tc.payload)
			if got.status != tc.wantStatus {
				t.Fatalf("status = %d, want %d (body %q)", got.status, tc.wantStatus, got.body)
			}
			if got.body != tc.wantBody {
				t.Errorf("body = %q, want %q", got.body, tc.wantBody)
			}
			for name, want := range tc.wantHeaders {
				if v := got.header.Values(name); len(v) != 1 || v[0] != want {
					t.Errorf("header %s = %q, want exactly %q", name, v, want)
				}
			}
			for _, name := range tc.wantAbsent {
				if v := got.header.Values(name); len(v) > 0 {
					t.Errorf("header %s = %q, want none", name, v)
				}
			}
			if diff := cmp.Diff(tc.wantCookies, got.header.Values("Set-Cookie")); diff != "" {
				t.Errorf("Set-Cookie (-want +got):\n%s", diff)
			}
			if id := got.header.Get("X-Amzn-RequestId"); id != testRequestID {
				t.Errorf("X-Amzn-RequestId = %q, want the header set before WriteResponse", id)
			}
		})
	}
}

// Unusable output becomes 502 and none of the function's headers leak into
// the error response, because WriteResponse wrote nothing.
func TestWriteResponseInvalidOutput(t *testing.T) {
	srv := responseServer(t)
	const leak = `"headers":{"X-Leak":"1"}`
	tests := []struct{ name, payload string }{
		{"empty", ``},
		{"not JSON", `Hello, world!`},
		{"truncated", `{"statusCode":200,` + leak},
		{"statusCode as string", `{"statusCode":"200",` + leak + `}`},
		{"statusCode fractional", `{"statusCode":200.5,` + leak + `}`},
		{"statusCode null", `{"statusCode":null,` + leak + `}`},
		{"statusCode informational", `{"statusCode":100,` + leak + `}`},
		{"statusCode too large", `{"statusCode":600,` + leak + `}`},
		{"body object", `{"statusCode":200,` + leak + `,"body":{"a":1}}`},
		{"isBase64Encoded string", `{"statusCode":200,` + leak + `,"body":"aGk=","isBase64Encoded":"true"}`},
		{"body not base64", `{"statusCode":200,` + leak + `,"body":"***","isBase64Encoded":true}`},
		{"headers array", `{"statusCode":200,"headers":["X-Leak"]}`},
		{"header value object", `{"statusCode":200,"headers":{"X-Leak":"1","X-Obj":{"a":1}}}`},
		{"header name with space", `{"statusCode":200,"headers":{"X-Leak":"1","Bad Name":"v"}}`},
		{"header value with newline", `{"statusCode":200,"headers":{"X-Leak":"1","X-Split":"a\r\nX-Injected: 1"}}`},
		{"cookies not an array", `{"statusCode":200,` + leak + `,"cookies":"a=1"}`},
		{"cookie not a string", `{"statusCode":200,` + leak + `,"cookies":[1]}`},
		{"cookie with newline", `{"statusCode":200,` + leak + `,"cookies":["a=1\nX-Injected: 1"]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := sendOutput(t, srv, tc.payload)
			if got.status != http.StatusBadGateway {
				t.Fatalf("status = %d, want 502 (body %q)", got.status, got.body)
			}
			for _, name := range []string{"X-Leak", "X-Injected", "Set-Cookie"} {
				if v := got.header.Values(name); len(v) > 0 {
					t.Errorf("header %s = %q leaked into the 502", name, v)
				}
			}
		})
	}
}

func TestParseResponseErrorsWrapSentinel(t *testing.T) {
	for _, payload := range []string{``, `{`, `{"statusCode":"x"}`, `{"statusCode":200,"body":1}`} {
		if _, err := parseResponse([]byte(payload)); !errors.Is(err, ErrInvalidResponse) {
			t.Errorf("parseResponse(%q) error = %v, want ErrInvalidResponse", payload, err)
		}
	}
}

func TestWriteResponseLargeBody(t *testing.T) {
	srv := responseServer(t)
	big := strings.Repeat("x", 1<<20)
	got := sendOutput(t, srv, `{"statusCode":200,"body":"`+big+`"}`)
	if got.status != 200 || len(got.body) != len(big) {
		t.Fatalf("status %d, body %d bytes; want 200 and %d bytes", got.status, len(got.body), len(big))
	}
	if cl := got.header.Get("Content-Length"); cl != strconv.Itoa(len(big)) {
		t.Errorf("Content-Length = %q, want %d", cl, len(big))
	}
}
