package runtimes

import (
	"regexp"
	"strings"
	"testing"
)

// TestLargePayloads sends an event big enough for the Runtime API to answer
// /next with a chunked body, and has the handler echo it back.
func TestLargePayloads(t *testing.T) {
	big := strings.Repeat("x", 300<<10)
	event := `{"data":"` + big + `","u":"héllo ✓"}`
	tests := []runtimeSpec{
		{runtime: nodeRuntime, handler: "index.handler", files: map[string]string{"index.js": `exports.handler = async (e) => e;`}},
		{runtime: pythonRuntime, handler: "app.handler", files: map[string]string{"app.py": "def handler(e, c):\n    return e\n"}},
	}
	for _, spec := range tests {
		t.Run(spec.runtime, func(t *testing.T) {
			tab := newTestTable(t, spec.runtime)
			api := newFakeAPI(t)
			startRuntime(t, tab, api, spec)
			for i := range 2 { // twice: the kept-alive connection must stay in sync
				res := api.invoke(t, fakeEvent{Body: event})
				got := decode(t, res.Body)
				if res.Kind != "response" || got["data"] != big || got["u"] != "héllo ✓" {
					t.Errorf("invoke %d: got %s with %d bytes, want the event echoed", i+1, res.Kind, len(res.Body))
				}
			}
		})
	}
}

// TestJSONLogFormat checks application log lines under
// AWS_LAMBDA_LOG_FORMAT=JSON.
func TestJSONLogFormat(t *testing.T) {
	tests := []struct {
		spec      runtimeSpec
		wantLevel string
	}{
		{runtimeSpec{runtime: nodeRuntime, handler: "index.handler", files: map[string]string{"index.js": `exports.handler = async () => { console.warn("json %d", 1); return 1; };`}}, "WARN"},
		{runtimeSpec{runtime: pythonRuntime, handler: "app.handler", files: map[string]string{"app.py": "import logging\ndef handler(e, c):\n    logging.warning('json %d', 1)\n    return 1\n"}}, "WARNING"},
	}
	for _, tt := range tests {
		t.Run(tt.spec.runtime, func(t *testing.T) {
			tt.spec.env = []string{"AWS_LAMBDA_LOG_FORMAT=JSON"}
			tab := newTestTable(t, tt.spec.runtime)
			api := newFakeAPI(t)
			p := startRuntime(t, tab, api, tt.spec)
			api.invoke(t, fakeEvent{ID: "req-json"})
			line := p.waitOutput(t, regexp.MustCompile(`(?m)^\{.*"json 1".*\}$`))
			got := decode(t, []byte(line))
			if got["level"] != tt.wantLevel || got["requestId"] != "req-json" || got["message"] != "json 1" {
				t.Errorf("log line %s, want level %s, requestId req-json, message \"json 1\"", line, tt.wantLevel)
			}
			if ts, _ := got["timestamp"].(string); !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`).MatchString(ts) {
				t.Errorf("timestamp %q, want ISO-8601 with milliseconds and Z", ts)
			}
		})
	}
}
