package logs

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func FuzzCompilePattern(f *testing.F) {
	for _, p := range []string{"", "ERROR", `"timed out"`, `a "b c" d`, `"\"x\\"`, `"open`, "{ $.a = 1 }", "?a", "-b"} {
		f.Add(p, "ERROR timed out")
	}
	f.Fuzz(func(t *testing.T, pattern, msg string) {
		m, err := compilePattern(pattern)
		if err != nil {
			return
		}
		_ = m.match(msg)
		if strings.TrimSpace(pattern) == "" && !m.match(msg) {
			t.Errorf("empty pattern rejected %q", msg)
		}
	})
}

// FuzzHandler feeds arbitrary bodies to every operation: the handler must
// answer 200 or a JSON 1.1 client error, never panic or 500.
func FuzzHandler(f *testing.F) {
	s, err := Open(Options{Dir: f.TempDir()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	s.Append(testGroup, streamA, Event{Timestamp: 1, Message: "hello"})
	h := s.Handler()
	for op := range operations {
		f.Add(op, `{"logGroupName":"/aws/lambda/fn","logStreamName":"`+streamA+`"}`)
		f.Add(op, `{"logGroupIdentifier":"arn:aws:logs:r:a:log-group:/aws/lambda/fn:*","limit":1,"nextToken":"AAAAAAAAAAEAAAAAAAAAAA"}`)
		f.Add(op, `{"nextToken":"f/AAAAAAAAAAEAAAAAAAAAAA","startTime":-5,"endTime":1}`)
	}
	f.Fuzz(func(t *testing.T, op, body string) {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		req.Header.Set("X-Amz-Target", targetPrefix+op)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
			t.Errorf("%s %q: status %d: %s", op, body, rec.Code, rec.Body)
		}
	})
}
