package runtimes

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

const pythonRuntime = "python3.12"

func TestPythonHandlers(t *testing.T) {
	tests := []struct {
		name    string
		handler string
		files   map[string]string
		want    []string // results of successive invocations in one process
	}{{
		name:    "module function with warm state",
		handler: "lambda_function.lambda_handler",
		files: map[string]string{"lambda_function.py": `
n = 0
def lambda_handler(event, context):
    global n
    n += 1
    return {"n": n, "echo": event}
`},
		want: []string{`{"n": 1, "echo": {"k": "v"}}`, `{"n": 2, "echo": {"k": "v"}}`},
	}, {
		name:    "package module",
		handler: "pkg.mod.handler",
		files: map[string]string{
			"pkg/__init__.py": ``,
			"pkg/mod.py":      "def handler(event, context):\n    return event['k']\n",
		},
		want: []string{`"v"`},
	}, {
		name:    "slash path",
		handler: "src/app.handler",
		files:   map[string]string{"src/app.py": "def handler(event, context):\n    return [1, 2]\n"},
		want:    []string{`[1, 2]`},
	}, {
		name:    "decimal and none",
		handler: "app.handler",
		files: map[string]string{"app.py": `
import decimal
calls = 0
def handler(event, context):
    global calls
    calls += 1
    return {"int": decimal.Decimal("3"), "float": decimal.Decimal("1.5")} if calls == 1 else None
`},
		want: []string{`{"int": 3, "float": 1.5}`, `null`},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := newTestTable(t, pythonRuntime)
			api := newFakeAPI(t)
			startRuntime(t, tab, api, runtimeSpec{runtime: pythonRuntime, handler: tt.handler, files: tt.files})
			for i, want := range tt.want {
				res := api.invoke(t, fakeEvent{Body: `{"k":"v"}`})
				if res.Kind != "response" || string(res.Body) != want {
					t.Errorf("invoke %d: got %s %s, want response %s", i+1, res.Kind, res.Body, want)
				}
			}
		})
	}
}

func TestPythonContext(t *testing.T) {
	tab := newTestTable(t, pythonRuntime)
	api := newFakeAPI(t)
	startRuntime(t, tab, api, runtimeSpec{runtime: pythonRuntime, handler: "app.handler", files: map[string]string{"app.py": `
import os, time
def handler(event, ctx):
    first = ctx.get_remaining_time_in_millis()
    time.sleep(0.03)
    return {
        "aws_request_id": ctx.aws_request_id, "function_name": ctx.function_name,
        "function_version": ctx.function_version, "invoked_function_arn": ctx.invoked_function_arn,
        "memory_limit_in_mb": ctx.memory_limit_in_mb, "log_group_name": ctx.log_group_name,
        "log_stream_name": ctx.log_stream_name, "trace_id": os.environ.get("_X_AMZN_TRACE_ID"),
        "custom": ctx.client_context.custom, "installation_id": ctx.client_context.client.installation_id,
        "cognito_identity_id": ctx.identity.cognito_identity_id,
        "first": first, "second": ctx.get_remaining_time_in_millis(),
    }
`}})
	sent := time.Now()
	deadline := sent.Add(20 * time.Second)
	res := api.invoke(t, fakeEvent{ID: "req-ctx", Deadline: deadline, Header: map[string]string{
		"Lambda-Runtime-Trace-Id":         "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Sampled=1",
		"Lambda-Runtime-Client-Context":   `{"client":{"installation_id":"inst"},"custom":{"a":"b"}}`,
		"Lambda-Runtime-Cognito-Identity": `{"cognitoIdentityId":"id1","cognitoIdentityPoolId":"pool1"}`,
	}})
	got := decode(t, res.Body)
	want := map[string]any{
		"aws_request_id":       "req-ctx",
		"function_name":        "fn",
		"function_version":     "$LATEST",
		"invoked_function_arn": "arn:aws:lambda:us-east-1:000000000000:function:fn",
		"memory_limit_in_mb":   "256", // a str, as on AWS
		"log_group_name":       "/aws/lambda/fn",
		"log_stream_name":      "2024/01/15/[$LATEST]0123456789abcdef0123456789abcdef",
		"trace_id":             "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Sampled=1",
		"installation_id":      "inst",
		"cognito_identity_id":  "id1",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("context %s = %v, want %v", k, got[k], w)
		}
	}
	if custom, _ := got["custom"].(map[string]any); custom["a"] != "b" {
		t.Errorf("client_context.custom = %v, want {a: b}", got["custom"])
	}
	first, _ := got["first"].(float64)
	second, _ := got["second"].(float64)
	bound := float64(time.Until(deadline).Milliseconds()) + float64(time.Since(sent).Milliseconds())
	if first <= 0 || first > bound || second >= first || first-second < 30 {
		t.Errorf("remaining time first=%v second=%v, want 0 < second < first-30 and first <= %v", first, second, bound)
	}
}

func TestPythonErrors(t *testing.T) {
	tests := []struct {
		name        string
		code        string
		wantType    string
		wantMessage string
		wantFrame   string // substring of the single user frame; "" for no frames
	}{
		{"raise", "def handler(event, context):\n    raise ValueError('boom')\n", "ValueError", "boom", "line 2, in handler\n    raise ValueError('boom')\n"},
		{"key error", "def handler(event, context):\n    return event['missing']\n", "KeyError", "'missing'", "line 2, in handler\n"},
		{"unserialisable result", "def handler(event, context):\n    return {1, 2}\n", "Runtime.MarshalError", "Unable to marshal response: Object of type set is not JSON serializable", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := newTestTable(t, pythonRuntime)
			api := newFakeAPI(t)
			p := startRuntime(t, tab, api, runtimeSpec{runtime: pythonRuntime, handler: "app.handler", files: map[string]string{"app.py": tt.code}})
			res := api.invoke(t, fakeEvent{ID: "req-err"})
			if res.Kind != "error" || res.ErrType != tt.wantType {
				t.Fatalf("got %s with type %q (%s), want error with type %q", res.Kind, res.ErrType, res.Body, tt.wantType)
			}
			body := decode(t, res.Body)
			if body["errorType"] != tt.wantType || body["errorMessage"] != tt.wantMessage || body["requestId"] != "req-err" {
				t.Errorf("body %s, want errorType %q errorMessage %q requestId req-err", res.Body, tt.wantType, tt.wantMessage)
			}
			stack, ok := body["stackTrace"].([]any)
			if !ok {
				t.Fatalf("body %s has no stackTrace array", res.Body)
			}
			if tt.wantFrame == "" && len(stack) != 0 {
				t.Errorf("stackTrace %q, want none", stack)
			}
			if tt.wantFrame != "" {
				frame, _ := stack[len(stack)-1].(string)
				if len(stack) != 1 || !strings.HasPrefix(frame, `  File "`) || !strings.Contains(frame, "app.py\", "+tt.wantFrame) {
					t.Errorf("stackTrace %q, want one user frame containing %q", stack, tt.wantFrame)
				}
			}
			// The error log is one line, "\r" standing for each line break.
			line := p.waitOutput(t, regexp.MustCompile(`(?m)^\[ERROR\] `+regexp.QuoteMeta(tt.wantType+": "+tt.wantMessage)+"\rTraceback \\(most recent call last\\):.*$"))
			if want := strings.ReplaceAll(strings.TrimSuffix(tt.wantFrame, "\n"), "\n", "\r"); !strings.Contains(line, want) {
				t.Errorf("error log %q, want it to contain %q", line, want)
			}
			if next := api.invoke(t, fakeEvent{}); next.Kind != "error" {
				t.Errorf("second invoke: got %s, want another error from the same process", next.Kind)
			}
		})
	}
}

func TestPythonInitErrors(t *testing.T) {
	tests := []struct {
		name        string
		handler     string
		files       map[string]string
		wantType    string
		wantMessage string // prefix
	}{
		{"missing module", "lambda_function.lambda_handler", map[string]string{"other.py": ""}, "Runtime.ImportModuleError", "Unable to import module 'lambda_function': No module named 'lambda_function'"},
		{"missing dependency", "app.handler", map[string]string{"app.py": "import not_installed\n"}, "Runtime.ImportModuleError", "Unable to import module 'app': No module named 'not_installed'"},
		{"handler missing", "app.handler", map[string]string{"app.py": "def other(e, c):\n    pass\n"}, "Runtime.HandlerNotFound", "Handler 'handler' missing on module 'app'"},
		{"syntax error", "app.handler", map[string]string{"app.py": "def handler(e, c)\n    pass\n"}, "Runtime.UserCodeSyntaxError", "Syntax error in module 'app': "},
		{"top-level raise", "app.handler", map[string]string{"app.py": "import os\nTABLE = os.environ['NO_SUCH_VARIABLE']\n"}, "KeyError", "'NO_SUCH_VARIABLE'"},
		{"malformed handler", "app", map[string]string{"app.py": ""}, "Runtime.MalformedHandlerName", "Bad handler 'app'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := newTestTable(t, pythonRuntime)
			api := newFakeAPI(t)
			p := startRuntime(t, tab, api, runtimeSpec{runtime: pythonRuntime, handler: tt.handler, files: tt.files})
			res := api.result(t)
			if res.Kind != "init/error" || res.ErrType != tt.wantType {
				t.Fatalf("got %s type %q (%s), want init/error type %q", res.Kind, res.ErrType, res.Body, tt.wantType)
			}
			body := decode(t, res.Body)
			if msg, _ := body["errorMessage"].(string); body["errorType"] != tt.wantType || !strings.HasPrefix(msg, tt.wantMessage) {
				t.Errorf("body %s, want errorType %q and message starting %q", res.Body, tt.wantType, tt.wantMessage)
			}
			if code := p.waitExit(t); code == 0 {
				t.Errorf("exit code 0, want non-zero")
			}
		})
	}
}

func TestPythonOutput(t *testing.T) {
	const code = `
import logging
logger = logging.getLogger("app")
print("loading")
def handler(event, context):
    print("hello", event["k"])
    logger.info("info line")
    logger.warning("warning %s", "line")
    logging.error("error line")
    logger.warning("two\nlines")
    print("print\nas is")
    print("done")
    return 1
`
	const ts = `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z`
	tests := []struct {
		name     string
		env      []string
		wantInfo bool
	}{
		{"default level", nil, false},
		{"AWS_LAMBDA_LOG_LEVEL=INFO in JSON only", []string{"AWS_LAMBDA_LOG_LEVEL=INFO"}, false}, // text format ignores it, as on AWS
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := newTestTable(t, pythonRuntime)
			api := newFakeAPI(t)
			p := startRuntime(t, tab, api, runtimeSpec{runtime: pythonRuntime, handler: "app.handler", files: map[string]string{"app.py": code}, env: tt.env})
			p.waitOutput(t, regexp.MustCompile(`(?m)^loading$`))
			api.invoke(t, fakeEvent{ID: "req-log", Body: `{"k":"v"}`})
			p.waitOutput(t, regexp.MustCompile(`(?m)^hello v$`))
			p.waitOutput(t, regexp.MustCompile(`(?m)^\[WARNING\]\t`+ts+`\treq-log\twarning line$`))
			p.waitOutput(t, regexp.MustCompile(`(?m)^\[ERROR\]\t`+ts+`\treq-log\terror line$`))
			p.waitOutput(t, regexp.MustCompile(`(?m)^\[WARNING\]\t`+ts+`\treq-log\ttwo\rlines$`))
			p.waitOutput(t, regexp.MustCompile(`(?m)^print\nas is\ndone$`))
			info := regexp.MustCompile(`(?m)^\[INFO\]\t` + ts + `\treq-log\tinfo line$`).MatchString(p.stdout.String())
			if info != tt.wantInfo {
				t.Errorf("info line logged = %v, want %v", info, tt.wantInfo)
			}
		})
	}
}
