package server_test

import (
	"encoding/base64"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/google/go-cmp/cmp"

	"gust/internal/gusttest"
)

// This file checks that real functions run unchanged in each runtime and
// see what AWS gives them: handler styles, context objects, log lines and
// the process environment (§4.4).

// nodeKit is a Node.js function whose event picks what it does; it
// returns what it sees of its module state, context and environment.
const nodeKit = `let count = 0;
const KEYS = ["AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
  "AWS_REGION", "AWS_DEFAULT_REGION", "LAMBDA_TASK_ROOT", "_HANDLER", "AWS_EXECUTION_ENV", "TZ", "MY_SETTING"];
export const handler = async (event, context) => {
  count++;
  const e = event !== null && typeof event === "object" ? event : {};
  if (e.log) console.log(e.log);
  if (e.throwMsg) throw new TypeError(e.throwMsg);
  if (e.exit) process.exit(1);
  if (e.sleepMs) await new Promise((r) => setTimeout(r, e.sleepMs));
  if (e.bigResponse) return "x".repeat(e.bigResponse);
  if (e.floodLines) {
    const line = "y".repeat(1023);
    for (let i = 0; i < e.floodLines; i++) console.log(line);
  }
  return {
    count,
    pid: process.pid,
    cwd: process.cwd(),
    event: typeof event === "string" ? { stringLength: event.length } : event,
    awsRequestId: context.awsRequestId,
    functionName: context.functionName,
    functionVersion: context.functionVersion,
    invokedFunctionArn: context.invokedFunctionArn,
    memoryLimitInMB: context.memoryLimitInMB,
    logGroupName: context.logGroupName,
    logStreamName: context.logStreamName,
    remainingMs: context.getRemainingTimeInMillis(),
    clientContext: context.clientContext ?? null,
    env: Object.fromEntries(KEYS.filter((k) => k in process.env).map((k) => [k, process.env[k]])),
  };
};
`

// kitReply is nodeKit's answer.
type kitReply struct {
	Count              int               `json:"count"`
	Pid                int               `json:"pid"`
	Cwd                string            `json:"cwd"`
	Event              json.RawMessage   `json:"event"`
	AwsRequestID       string            `json:"awsRequestId"`
	FunctionName       string            `json:"functionName"`
	FunctionVersion    string            `json:"functionVersion"`
	InvokedFunctionArn string            `json:"invokedFunctionArn"`
	MemoryLimitInMB    string            `json:"memoryLimitInMB"`
	LogGroupName       string            `json:"logGroupName"`
	LogStreamName      string            `json:"logStreamName"`
	RemainingMs        int64             `json:"remainingMs"`
	ClientContext      json.RawMessage   `json:"clientContext"`
	Env                map[string]string `json:"env"`
}

var logStreamRE = regexp.MustCompile(`^\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}$`)

// jsonEqual fails unless got and want hold the same JSON value.
func jsonEqual(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %s is not JSON: %v", what, got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: bad want %s: %v", what, want, err)
	}
	if diff := cmp.Diff(w, g); diff != "" {
		t.Fatalf("%s (-want +got):\n%s", what, diff)
	}
}

func withEnv(vars map[string]string) func(*lambda.CreateFunctionInput) {
	return func(in *lambda.CreateFunctionInput) {
		in.Environment = &types.Environment{Variables: vars}
	}
}

func TestRuntimeNodeHello(t *testing.T) {
	t.Parallel()
	s := gusttest.StartServer(t)
	c := s.Lambda()
	zip := gusttest.Zip(t, map[string]string{"index.mjs": helloMJS})
	for _, rt := range []types.Runtime{types.RuntimeNodejs18x, types.RuntimeNodejs20x, types.RuntimeNodejs22x} {
		name := "hello-" + strings.ReplaceAll(string(rt), ".", "-")
		createFunction(t, c, name, rt, "index.handler", zip)
		t.Run(string(rt), func(t *testing.T) {
			t.Parallel()
			inv := invokeTail(t, c, name, `{"queryStringParameters":{"name":"DevCraftly"}}`)
			mustSucceed(t, inv)
			jsonEqual(t, "payload", inv.Payload,
				`{"statusCode":200,"headers":{"Content-Type":"application/json"},"body":"{\"message\":\"Hello, DevCraftly!\"}"}`)
			line := regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t` + inv.RequestID + `\tINFO\tRequest ID: ` + inv.RequestID + `$`)
			if !line.MatchString(inv.Log) {
				t.Errorf("log lacks the console.log line in Lambda's format:\n%s", inv.Log)
			}
			checkFrame(t, inv)
		})
	}
}

func TestRuntimeNodeHandlerStyles(t *testing.T) {
	t.Parallel()
	s := gusttest.StartServer(t)
	c := s.Lambda()
	tests := []struct {
		name, handler string
		files         map[string]string
	}{
		{"esm-package-type", "index.handler", map[string]string{
			"package.json": `{"name":"fn","type":"module"}`,
			"index.js":     "export const handler = async (event) => ({ style: 'esm', got: event.x });\n"}},
		{"cjs", "index.handler", map[string]string{
			"index.js": "exports.handler = async (event) => ({ style: 'cjs', got: event.x });\n"}},
		{"callback", "index.handler", map[string]string{
			"index.js": "exports.handler = (event, context, callback) => {\n  setTimeout(() => callback(null, { style: 'callback', got: event.x }), 10);\n};\n"}},
		{"nested", "src/app.handler", map[string]string{
			"src/app.js": "module.exports.handler = async (event) => ({ style: 'nested', got: event.x });\n"}},
	}
	for _, tt := range tests {
		createFunction(t, c, tt.name, types.RuntimeNodejs20x, tt.handler, gusttest.Zip(t, tt.files))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inv := invokeTail(t, c, tt.name, `{"x":42}`)
			mustSucceed(t, inv)
			jsonEqual(t, "payload", inv.Payload, `{"style":"`+strings.SplitN(tt.name, "-", 2)[0]+`","got":42}`)
		})
	}
}

func TestRuntimeNodeContext(t *testing.T) {
	t.Parallel()
	s := gusttest.StartServer(t)
	c := s.Lambda()
	createFunction(t, c, "ctx", types.RuntimeNodejs20x, "index.handler",
		gusttest.Zip(t, map[string]string{"index.mjs": nodeKit}), withEnv(map[string]string{"MY_SETTING": "from config"}))

	const clientContext = `{"client":{"installation_id":"inst-1","app_title":"t"},"custom":{"k":"v"},"env":{"platform":"test"}}`
	inv := invokeTail(t, c, "ctx", `{"a":1}`, func(in *lambda.InvokeInput) {
		in.ClientContext = aws.String(base64.StdEncoding.EncodeToString([]byte(clientContext)))
	})
	mustSucceed(t, inv)
	r := decode[kitReply](t, inv.Payload)
	want := map[string]string{
		"awsRequestId":       inv.RequestID,
		"functionName":       "ctx",
		"functionVersion":    "$LATEST",
		"invokedFunctionArn": "arn:aws:lambda:" + s.Config.Region + ":" + s.Config.AccountID + ":function:ctx",
		"memoryLimitInMB":    "128",
		"logGroupName":       "/aws/lambda/ctx",
	}
	got := map[string]string{
		"awsRequestId":       r.AwsRequestID,
		"functionName":       r.FunctionName,
		"functionVersion":    r.FunctionVersion,
		"invokedFunctionArn": r.InvokedFunctionArn,
		"memoryLimitInMB":    r.MemoryLimitInMB,
		"logGroupName":       r.LogGroupName,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("context (-want +got):\n%s", diff)
	}
	if !logStreamRE.MatchString(r.LogStreamName) {
		t.Errorf("logStreamName = %q, want %s", r.LogStreamName, logStreamRE)
	}
	if r.RemainingMs <= 0 || r.RemainingMs > 3000 {
		t.Errorf("getRemainingTimeInMillis() = %d, want in (0, 3000]", r.RemainingMs)
	}
	jsonEqual(t, "clientContext", r.ClientContext, clientContext)
	jsonEqual(t, "event", r.Event, `{"a":1}`)

	wantEnv := map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME":        "ctx",
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
		"AWS_REGION":                      s.Config.Region,
		"AWS_DEFAULT_REGION":              s.Config.Region,
		"LAMBDA_TASK_ROOT":                r.Cwd,
		"_HANDLER":                        "index.handler",
		"AWS_EXECUTION_ENV":               "AWS_Lambda_nodejs20.x",
		"TZ":                              ":UTC",
		"MY_SETTING":                      "from config",
	}
	if diff := cmp.Diff(wantEnv, r.Env); diff != "" {
		t.Errorf("environment (-want +got):\n%s", diff)
	}

	// Without X-Amz-Client-Context the field is absent.
	r = decode[kitReply](t, invokeTail(t, c, "ctx", `{}`).Payload)
	if string(r.ClientContext) != "null" {
		t.Errorf("clientContext without the header = %s, want null", r.ClientContext)
	}
}

const pythonHandlers = `import logging
import os

logger = logging.getLogger()
logger.setLevel(logging.INFO)
count = 0


def handle(event, context):
    global count
    count += 1
    print("print says", event.get("word"))
    logger.info("logging says %s", event.get("word"))
    return {
        "count": count,
        "aws_request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "cwd": os.getcwd(),
        "env": {k: os.environ[k] for k in ("AWS_EXECUTION_ENV", "LAMBDA_TASK_ROOT", "_HANDLER", "TZ", "MY_SETTING") if k in os.environ},
    }
`

func TestRuntimePython(t *testing.T) {
	t.Parallel()
	s := gusttest.StartServer(t)
	c := s.Lambda()
	createFunction(t, c, "py", types.RuntimePython312, "pkg.handlers.handle", gusttest.Zip(t, map[string]string{
		"pkg/__init__.py": "", "pkg/handlers.py": pythonHandlers}), withEnv(map[string]string{"MY_SETTING": "py"}))

	for i := 1; i <= 2; i++ {
		inv := invokeTail(t, c, "py", `{"word":"hello"}`)
		mustSucceed(t, inv)
		var r struct {
			Count              int               `json:"count"`
			AwsRequestID       string            `json:"aws_request_id"`
			FunctionName       string            `json:"function_name"`
			FunctionVersion    string            `json:"function_version"`
			InvokedFunctionArn string            `json:"invoked_function_arn"`
			MemoryLimitInMB    string            `json:"memory_limit_in_mb"`
			LogGroupName       string            `json:"log_group_name"`
			LogStreamName      string            `json:"log_stream_name"`
			RemainingMs        int64             `json:"remaining_ms"`
			Cwd                string            `json:"cwd"`
			Env                map[string]string `json:"env"`
		}
		if err := json.Unmarshal(inv.Payload, &r); err != nil {
			t.Fatal(err)
		}
		if r.Count != i || r.AwsRequestID != inv.RequestID || r.FunctionName != "py" || r.FunctionVersion != "$LATEST" ||
			r.InvokedFunctionArn != "arn:aws:lambda:"+s.Config.Region+":"+s.Config.AccountID+":function:py" ||
			r.MemoryLimitInMB != "128" || r.LogGroupName != "/aws/lambda/py" || !logStreamRE.MatchString(r.LogStreamName) {
			t.Errorf("invoke %d (request %s): context = %+v", i, inv.RequestID, r)
		}
		if r.RemainingMs <= 0 || r.RemainingMs > 3000 {
			t.Errorf("get_remaining_time_in_millis() = %d, want in (0, 3000]", r.RemainingMs)
		}
		wantEnv := map[string]string{"AWS_EXECUTION_ENV": "AWS_Lambda_python3.12", "LAMBDA_TASK_ROOT": r.Cwd,
			"_HANDLER": "pkg.handlers.handle", "TZ": ":UTC", "MY_SETTING": "py"}
		if diff := cmp.Diff(wantEnv, r.Env); diff != "" {
			t.Errorf("environment (-want +got):\n%s", diff)
		}
		if !strings.Contains(inv.Log, "\nprint says hello\n") {
			t.Errorf("log lacks the print line:\n%s", inv.Log)
		}
		logLine := regexp.MustCompile(`(?m)^\[INFO\]\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t` + inv.RequestID + `\tlogging says hello$`)
		if !logLine.MatchString(inv.Log) {
			t.Errorf("log lacks the logging line in Lambda's format:\n%s", inv.Log)
		}
		if cold := checkFrame(t, inv); cold != (i == 1) {
			t.Errorf("invoke %d: Init Duration present = %v", i, cold)
		}
	}
}

func TestRuntimeProvidedGo(t *testing.T) {
	t.Parallel()
	s := gusttest.StartServer(t)
	c := s.Lambda()
	zip := goFunctionZip(t)
	for _, rt := range []types.Runtime{types.RuntimeProvidedal2023, types.RuntimeProvidedal2} {
		name := "go-" + strings.ReplaceAll(string(rt), ".", "-")
		createFunction(t, c, name, rt, "bootstrap", zip, withTimeout(5), withEnv(map[string]string{"MY_SETTING": "go"}))
		t.Run(string(rt), func(t *testing.T) {
			before := time.Now()
			inv := invokeTail(t, c, name, `{"action":"print","text":"printed by go","n":[1,2]}`)
			after := time.Now()
			mustSucceed(t, inv)
			var r struct {
				Event              json.RawMessage   `json:"event"`
				RequestID          string            `json:"requestId"`
				InvokedFunctionArn string            `json:"invokedFunctionArn"`
				FunctionName       string            `json:"functionName"`
				FunctionVersion    string            `json:"functionVersion"`
				MemoryLimitInMB    int               `json:"memoryLimitInMB"`
				LogGroupName       string            `json:"logGroupName"`
				LogStreamName      string            `json:"logStreamName"`
				DeadlineMs         int64             `json:"deadlineMs"`
				Cwd                string            `json:"cwd"`
				Env                map[string]string `json:"env"`
			}
			if err := json.Unmarshal(inv.Payload, &r); err != nil {
				t.Fatal(err)
			}
			jsonEqual(t, "echoed event", r.Event, `{"action":"print","text":"printed by go","n":[1,2]}`)
			arn := "arn:aws:lambda:" + s.Config.Region + ":" + s.Config.AccountID + ":function:" + name
			if r.RequestID != inv.RequestID || r.InvokedFunctionArn != arn || r.FunctionName != name ||
				r.FunctionVersion != "$LATEST" || r.MemoryLimitInMB != 128 || r.LogGroupName != "/aws/lambda/"+name ||
				!logStreamRE.MatchString(r.LogStreamName) {
				t.Errorf("lambdacontext (request %s, arn %s) = %+v", inv.RequestID, arn, r)
			}
			// The deadline is the invoke's start plus the 5 s timeout.
			lo, hi := before.Add(5*time.Second).UnixMilli()-1, after.Add(5*time.Second).UnixMilli()+1
			if r.DeadlineMs < lo || r.DeadlineMs > hi {
				t.Errorf("deadline = %d, want within [%d, %d]", r.DeadlineMs, lo, hi)
			}
			wantEnv := map[string]string{
				"AWS_LAMBDA_FUNCTION_NAME":        name,
				"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
				"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
				"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + name,
				"AWS_LAMBDA_LOG_STREAM_NAME":      r.LogStreamName,
				"AWS_LAMBDA_RUNTIME_API":          r.Env["AWS_LAMBDA_RUNTIME_API"],
				"AWS_REGION":                      s.Config.Region,
				"AWS_DEFAULT_REGION":              s.Config.Region,
				"LAMBDA_TASK_ROOT":                r.Cwd,
				"_HANDLER":                        "bootstrap",
				"TZ":                              ":UTC",
				"MY_SETTING":                      "go",
			} // and no AWS_EXECUTION_ENV: provided runtimes do not get one
			if diff := cmp.Diff(wantEnv, r.Env); diff != "" {
				t.Errorf("environment (-want +got):\n%s", diff)
			}
			if !regexp.MustCompile(`^127\.0\.0\.1:\d+$`).MatchString(r.Env["AWS_LAMBDA_RUNTIME_API"]) {
				t.Errorf("AWS_LAMBDA_RUNTIME_API = %q", r.Env["AWS_LAMBDA_RUNTIME_API"])
			}
			if !strings.Contains(inv.Log, "\nprinted by go\n") {
				t.Errorf("log lacks the function's output:\n%s", inv.Log)
			}
			if !checkFrame(t, inv) {
				t.Errorf("first invoke has no Init Duration")
			}
		})
	}
}
