package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"gust/internal/config"
	"gust/internal/gusttest"
	"gust/internal/sandbox"
)

// This file holds the invoke suite's shared helpers and the Invoke
// operation's wire behaviour: log tails, DryRun, payload limits, every
// kind of function error and init failure, and output floods.

const testRole = "arn:aws:iam::000000000000:role/lambda-role"

var (
	goFnOnce sync.Once
	goFnDir  string
	goFnZip  []byte
	goFnErr  error
)

// noSandboxInit, set in the environment, makes this test binary skip
// sandbox.Init, as a binary that forgot it would (see
// TestStartFailsWhenLinuxSandboxCannotRun).
const noSandboxInit = "GUST_TEST_NO_SANDBOX_INIT"

func TestMain(m *testing.M) {
	if os.Getenv(noSandboxInit) == "" {
		sandbox.Init() // this binary is the linux sandbox's init too
	}
	code := m.Run()
	if goFnDir != "" {
		os.RemoveAll(goFnDir)
	}
	os.Exit(code)
}

// goFunctionZip builds testdata/gofn once per test binary and returns it
// zipped as a provided.* bootstrap. (Zipping is slow under -race, so the
// zip is made once too.)
func goFunctionZip(t *testing.T) []byte {
	t.Helper()
	root := gusttest.RepoRoot(t)
	goFnOnce.Do(func() {
		if goFnDir, goFnErr = os.MkdirTemp("", "gust-gofn-"); goFnErr != nil {
			return
		}
		bin := filepath.Join(goFnDir, "bootstrap")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./internal/server/testdata/gofn")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			goFnErr = fmt.Errorf("build test function: %v\n%s", err, out)
			return
		}
		goFnZip = gusttest.ZipBinary(t, bin)
	})
	if goFnErr != nil || goFnZip == nil {
		t.Fatalf("test function unavailable: %v", goFnErr)
	}
	return goFnZip
}

// createFunction creates a function (Role, 128 MB and the default 3 s
// timeout unless edit changes them) and fails the test on error.
func createFunction(t *testing.T, c *lambda.Client, name string, rt types.Runtime, handler string, zip []byte, edit ...func(*lambda.CreateFunctionInput)) *lambda.CreateFunctionOutput {
	t.Helper()
	in := &lambda.CreateFunctionInput{
		FunctionName: aws.String(name),
		Runtime:      rt,
		Handler:      aws.String(handler),
		Role:         aws.String(testRole),
		Code:         &types.FunctionCode{ZipFile: zip},
	}
	for _, e := range edit {
		e(in)
	}
	out, err := c.CreateFunction(context.Background(), in)
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return out
}

func withTimeout(seconds int32) func(*lambda.CreateFunctionInput) {
	return func(in *lambda.CreateFunctionInput) { in.Timeout = aws.Int32(seconds) }
}

// invocation is one Invoke with its request id and decoded log tail.
type invocation struct {
	*lambda.InvokeOutput
	RequestID string
	Log       string
}

// invokeTail invokes name with LogType Tail and fails the test on an API
// error (function errors are in the result).
func invokeTail(t *testing.T, c *lambda.Client, name, payload string, edit ...func(*lambda.InvokeInput)) invocation {
	t.Helper()
	in := &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(payload), LogType: types.LogTypeTail}
	for _, e := range edit {
		e(in)
	}
	out, err := c.Invoke(context.Background(), in)
	if err != nil {
		t.Fatalf("invoke %s: %v", name, err)
	}
	inv := invocation{InvokeOutput: out}
	inv.RequestID, _ = awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	if inv.RequestID == "" {
		t.Fatalf("invoke %s: no request id in the response", name)
	}
	logb, err := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
	if err != nil {
		t.Fatalf("invoke %s: LogResult is not base64: %v", name, err)
	}
	inv.Log = string(logb)
	return inv
}

// mustSucceed fails the test unless inv is a 200 without FunctionError.
func mustSucceed(t *testing.T, inv invocation) {
	t.Helper()
	if inv.StatusCode != 200 || inv.FunctionError != nil {
		t.Fatalf("invoke: status %d, function error %q: %s\nlog:\n%s", inv.StatusCode, aws.ToString(inv.FunctionError), inv.Payload, inv.Log)
	}
}

// decode unmarshals an invocation's payload.
func decode[T any](t *testing.T, payload []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(payload, &v); err != nil {
		t.Fatalf("payload %.300q: %v", payload, err)
	}
	return v
}

var reportRE = regexp.MustCompile(`^REPORT RequestId: (\S+)\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB\tMax Memory Used: \d+ MB\t(Init Duration: \d+\.\d\d ms\t)?`)

// checkFrame asserts the START … END, REPORT frame of a log tail and
// reports whether the REPORT line carries an Init Duration (a cold start).
func checkFrame(t *testing.T, inv invocation) (cold bool) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(inv.Log, "\n"), "\n")
	if want := "START RequestId: " + inv.RequestID + " Version: $LATEST"; lines[0] != want {
		t.Fatalf("first log line = %q, want %q\nlog:\n%s", lines[0], want, inv.Log)
	}
	if len(lines) < 3 || lines[len(lines)-2] != "END RequestId: "+inv.RequestID {
		t.Fatalf("log does not end with END RequestId: %s, REPORT\nlog:\n%s", inv.RequestID, inv.Log)
	}
	m := reportRE.FindStringSubmatch(lines[len(lines)-1])
	if m == nil || m[1] != inv.RequestID {
		t.Fatalf("REPORT line %q does not match %s for request %s", lines[len(lines)-1], reportRE, inv.RequestID)
	}
	return m[2] != ""
}

// errorBody checks a function error's payload has exactly wantKeys and
// returns it.
func errorBody(t *testing.T, inv invocation, wantKeys ...string) map[string]any {
	t.Helper()
	if inv.StatusCode != 200 || aws.ToString(inv.FunctionError) != "Unhandled" {
		t.Fatalf("status %d, FunctionError %q, want 200 Unhandled; payload %s", inv.StatusCode, aws.ToString(inv.FunctionError), inv.Payload)
	}
	body := decode[map[string]any](t, inv.Payload)
	var keys []string
	for k := range body {
		keys = append(keys, k)
	}
	if diff := cmp.Diff(wantKeys, keys, cmpSorted); diff != "" {
		t.Fatalf("error payload keys (-want +got):\n%s\npayload: %s", diff, inv.Payload)
	}
	return body
}

var cmpSorted = cmpopts.SortSlices(func(a, b string) bool { return a < b })

// platformError asserts Lambda's platform-made error payload exactly.
func platformError(t *testing.T, inv invocation, errorType, text string) {
	t.Helper()
	body := errorBody(t, inv, "errorType", "errorMessage")
	want := map[string]any{"errorType": errorType, "errorMessage": "RequestId: " + inv.RequestID + " Error: " + text}
	if diff := cmp.Diff(want, body); diff != "" {
		t.Fatalf("error payload (-want +got):\n%s", diff)
	}
}

// apiError asserts an Invoke failed with the given HTTP status and code.
func apiError(t *testing.T, err error, status int, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("error = %v, want %s", err, code)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != status {
		t.Fatalf("error = %v, want HTTP %d", err, status)
	}
}

// liveEnv checks that a process of the environment with log stream stream
// runs on the host and returns stream. The log stream name is an
// environment's host-visible identity in both sandboxes (a function's own
// pid is its pid namespace's in the linux sandbox); checking the environment
// is alive first means envGone's later "gone" could have failed.
func liveEnv(t *testing.T, stream string) string {
	t.Helper()
	if !logStreamRE.MatchString(stream) {
		t.Fatalf("log stream name %q, want one like 2006/01/02/[$LATEST]<32 hex>", stream)
	}
	if len(gusttest.EnvProcesses(stream)) == 0 {
		t.Fatalf("no process of environment %s runs on the host", stream)
	}
	return stream
}

// envGone polls until no process of the environment with log stream stream
// (the runtime, and anything it spawned) is left on the host.
func envGone(t *testing.T, stream string) {
	t.Helper()
	gusttest.WaitEnvGone(t, stream)
}

func TestInvokeNode(t *testing.T) {
	t.Parallel()
	s := gusttest.StartServer(t)
	c := s.Lambda()
	createFunction(t, c, "kit", types.RuntimeNodejs20x, "index.handler", gusttest.Zip(t, map[string]string{"index.mjs": nodeKit}))

	t.Run("LogTail", func(t *testing.T) {
		inv := invokeTail(t, c, "kit", `{"log":"hello from the function"}`)
		mustSucceed(t, inv)
		if !checkFrame(t, inv) {
			t.Errorf("first invoke has no Init Duration:\n%s", inv.Log)
		}
		if !strings.Contains(inv.Log, "\thello from the function\n") {
			t.Errorf("log tail lacks the function's console.log line:\n%s", inv.Log)
		}
		if got := aws.ToString(inv.ExecutedVersion); got != "$LATEST" {
			t.Errorf("ExecutedVersion = %q, want $LATEST", got)
		}
		inv = invokeTail(t, c, "kit", `{}`)
		mustSucceed(t, inv)
		if checkFrame(t, inv) {
			t.Errorf("warm invoke has an Init Duration:\n%s", inv.Log)
		}
	})

	t.Run("DryRun", func(t *testing.T) {
		before := decode[kitReply](t, invokeTail(t, c, "kit", `{}`).Payload).Count
		out, err := c.Invoke(context.Background(), &lambda.InvokeInput{
			FunctionName: aws.String("kit"), InvocationType: types.InvocationTypeDryRun, Payload: []byte(`{}`)})
		if err != nil {
			t.Fatalf("dry run: %v", err)
		}
		if out.StatusCode != 204 || len(out.Payload) != 0 || out.FunctionError != nil {
			t.Fatalf("dry run = %d %q %v, want 204 and no body", out.StatusCode, out.Payload, out.FunctionError)
		}
		if after := decode[kitReply](t, invokeTail(t, c, "kit", `{}`).Payload).Count; after != before+1 {
			t.Fatalf("count after dry run = %d, want %d: the dry run ran the function", after, before+1)
		}
	})

	t.Run("EmptyPayload", func(t *testing.T) {
		inv := invokeTail(t, c, "kit", "")
		mustSucceed(t, inv)
		if got := string(decode[kitReply](t, inv.Payload).Event); got != "{}" {
			t.Fatalf("event = %s, want {}", got)
		}
	})

	t.Run("NotJSON", func(t *testing.T) {
		_, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("kit"), Payload: []byte(`{"a":`)})
		apiError(t, err, 400, "InvalidRequestContentException")
	})

	t.Run("RequestSizeLimit", func(t *testing.T) {
		const limit = 6291456
		str := func(n int) []byte { return []byte(`"` + strings.Repeat("a", n-2) + `"`) }
		_, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("kit"), Payload: str(limit + 1)})
		apiError(t, err, 413, "RequestEntityTooLargeException")
		out, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("kit"), Payload: str(limit)})
		if err != nil {
			t.Fatalf("invoke with %d bytes: %v", limit, err)
		}
		if got := string(decode[kitReply](t, out.Payload).Event); got != fmt.Sprintf(`{"stringLength":%d}`, limit-2) {
			t.Fatalf("function saw %s", got)
		}
	})

	t.Run("ResponseTooLarge", func(t *testing.T) {
		inv := invokeTail(t, c, "kit", `{"bigResponse":6291557}`)
		errorBody(t, inv, "errorType", "errorMessage")
		const want = `{"errorMessage":"Response payload size exceeded maximum allowed payload size (6291556 bytes).","errorType":"Function.ResponseSizeTooLarge"}`
		if string(inv.Payload) != want {
			t.Fatalf("payload = %s, want %s", inv.Payload, want)
		}
		mustSucceed(t, invokeTail(t, c, "kit", `{}`))
	})

	t.Run("HandlerThrows", func(t *testing.T) {
		inv := invokeTail(t, c, "kit", `{"throwMsg":"bad thing"}`)
		body := errorBody(t, inv, "errorType", "errorMessage", "trace")
		if body["errorType"] != "TypeError" || body["errorMessage"] != "bad thing" {
			t.Errorf("error = %v, want TypeError: bad thing", body)
		}
		trace, _ := body["trace"].([]any)
		if len(trace) < 2 || trace[0] != "TypeError: bad thing" || !strings.HasPrefix(fmt.Sprint(trace[1]), "    at ") {
			t.Errorf("trace = %q", trace)
		}
		checkFrame(t, inv)
		// The environment survives a handled error.
		if n := decode[kitReply](t, invokeTail(t, c, "kit", `{}`).Payload).Count; n < 2 {
			t.Errorf("count after error = %d: the environment was not reused", n)
		}
	})

	t.Run("RuntimeExits", func(t *testing.T) {
		stream := liveEnv(t, decode[kitReply](t, invokeTail(t, c, "kit", `{}`).Payload).LogStreamName)
		inv := invokeTail(t, c, "kit", `{"exit":true}`)
		platformError(t, inv, "Runtime.ExitError", "Runtime exited with error: exit status 1")
		checkFrame(t, inv)
		envGone(t, stream)
		next := invokeTail(t, c, "kit", `{}`)
		mustSucceed(t, next)
		if r := decode[kitReply](t, next.Payload); r.Count != 1 || r.LogStreamName == stream {
			t.Errorf("after the crash: count %d in %s (old %s), want a fresh environment", r.Count, r.LogStreamName, stream)
		}
		if !checkFrame(t, next) {
			t.Errorf("invoke after the crash has no Init Duration:\n%s", next.Log)
		}
	})
}

func TestInvokeTimeout(t *testing.T) {
	t.Parallel()
	s := gusttest.StartServer(t)
	c := s.Lambda()
	createFunction(t, c, "slow", types.RuntimeNodejs20x, "index.handler",
		gusttest.Zip(t, map[string]string{"index.mjs": nodeKit}), withTimeout(1))
	stream := liveEnv(t, decode[kitReply](t, invokeTail(t, c, "slow", `{}`).Payload).LogStreamName)

	start := time.Now()
	inv := invokeTail(t, c, "slow", `{"sleepMs":5000}`)
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("timed-out invoke took %s", d)
	}
	platformError(t, inv, "Sandbox.Timedout", "Task timed out after 1.00 seconds")
	if !regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ` + inv.RequestID + ` Task timed out after 1\.00 seconds$`).MatchString(inv.Log) {
		t.Errorf("log lacks the timeout line:\n%s", inv.Log)
	}
	checkFrame(t, inv)
	envGone(t, stream)

	next := invokeTail(t, c, "slow", `{}`)
	mustSucceed(t, next)
	if !checkFrame(t, next) {
		t.Errorf("invoke after the timeout has no Init Duration:\n%s", next.Log)
	}
	if r := decode[kitReply](t, next.Payload); r.Count != 1 || r.LogStreamName == stream {
		t.Errorf("after the timeout: count %d in %s (old %s), want a fresh environment", r.Count, r.LogStreamName, stream)
	}
}

func TestInvokeFunctionErrors(t *testing.T) {
	t.Parallel()
	s := gusttest.StartServer(t)
	c := s.Lambda()
	createFunction(t, c, "py", types.RuntimePython312, "lambda_function.handler", gusttest.Zip(t, map[string]string{
		"lambda_function.py": "def handler(event, context):\n    return event['missing']\n"}))
	createFunction(t, c, "go", types.RuntimeProvidedal2023, "bootstrap", goFunctionZip(t))

	t.Run("Python", func(t *testing.T) {
		inv := invokeTail(t, c, "py", `{}`)
		body := errorBody(t, inv, "errorMessage", "errorType", "requestId", "stackTrace")
		if body["errorType"] != "KeyError" || body["errorMessage"] != "'missing'" || body["requestId"] != inv.RequestID {
			t.Errorf("error = %v, want KeyError 'missing' for %s", body, inv.RequestID)
		}
		st, _ := body["stackTrace"].([]any)
		if len(st) == 0 || !strings.Contains(fmt.Sprint(st[len(st)-1]), "lambda_function.py\", line 2, in handler") {
			t.Errorf("stackTrace = %q", st)
		}
		checkFrame(t, inv)
	})

	t.Run("GoError", func(t *testing.T) {
		inv := invokeTail(t, c, "go", `{"action":"error"}`)
		body := errorBody(t, inv, "errorMessage", "errorType")
		if diff := cmp.Diff(map[string]any{"errorMessage": "requested failure", "errorType": "errorString"}, body); diff != "" {
			t.Errorf("error payload (-want +got):\n%s", diff)
		}
	})

	t.Run("GoPanic", func(t *testing.T) {
		before := s.Pool().Stats().Total
		inv := invokeTail(t, c, "go", `{"action":"panic"}`)
		errorBody(t, inv, "errorMessage", "errorType", "stackTrace")
		// aws-lambda-go's own error type is the schema of what it posted.
		var got messages.InvokeResponse_Error
		if err := json.Unmarshal(inv.Payload, &got); err != nil {
			t.Fatalf("payload is not aws-lambda-go's error shape: %v", err)
		}
		if got.Message != "requested panic" || len(got.StackTrace) == 0 {
			t.Errorf("panic error = %+v, want message \"requested panic\" and a stack trace", got)
		}
		// aws-lambda-go exits after reporting a panic: the pool drops the
		// dead environment and the next invoke gets a fresh one.
		gusttest.WaitFor(t, 5*time.Second, "the exited environment to be dropped", func() bool {
			return s.Pool().Stats().Total == before-1
		})
		next := invokeTail(t, c, "go", `{}`)
		mustSucceed(t, next)
		if !checkFrame(t, next) {
			t.Errorf("invoke after the panic has no Init Duration:\n%s", next.Log)
		}
	})
}

func TestInvokeInitFailures(t *testing.T) {
	t.Parallel()
	s := gusttest.StartServer(t)
	c := s.Lambda()
	tests := []struct {
		name, handler string
		runtime       types.Runtime
		files         map[string]gusttest.File
		errorType     string
		message       string // exact errorMessage, or "" for platformText
		platformText  string // "RequestId: <id> Error: " + this, for platform errors
	}{
		{name: "node-missing-module", handler: "index.handler", runtime: types.RuntimeNodejs20x,
			files:     map[string]gusttest.File{"index.mjs": {Body: "import x from 'no-such-package';\nexport const handler = async () => x;\n"}},
			errorType: "Runtime.ImportModuleError"},
		{name: "node-missing-export", handler: "index.handler", runtime: types.RuntimeNodejs20x,
			files:     map[string]gusttest.File{"index.mjs": {Body: "export const other = async () => 1;\n"}},
			errorType: "Runtime.HandlerNotFound", message: "index.handler is undefined or not exported"},
		{name: "python-missing-module", handler: "lambda_function.handler", runtime: types.RuntimePython312,
			files:     map[string]gusttest.File{"lambda_function.py": {Body: "import no_such_module\n\ndef handler(e, c):\n    return 1\n"}},
			errorType: "Runtime.ImportModuleError", message: "Unable to import module 'lambda_function': No module named 'no_such_module'"},
		{name: "provided-no-bootstrap", handler: "x", runtime: types.RuntimeProvidedal2023,
			files:     map[string]gusttest.File{"README": {Body: "no bootstrap here"}},
			errorType: "Runtime.InvalidEntrypoint", platformText: "fork/exec "},
		{name: "provided-exits", handler: "x", runtime: types.RuntimeProvidedal2023,
			files:     map[string]gusttest.File{"bootstrap": {Body: "#!/bin/sh\necho starting up\nexit 3\n", Mode: 0o755}},
			errorType: "Runtime.ExitError", platformText: "Runtime exited with error: exit status 3"},
	}
	for _, tt := range tests {
		createFunction(t, c, tt.name, tt.runtime, tt.handler, gusttest.ZipFiles(t, tt.files))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inv := invokeTail(t, c, tt.name, `{}`)
			if aws.ToString(inv.FunctionError) != "Unhandled" || inv.StatusCode != 200 {
				t.Fatalf("status %d FunctionError %q: %s", inv.StatusCode, aws.ToString(inv.FunctionError), inv.Payload)
			}
			body := decode[map[string]any](t, inv.Payload)
			if body["errorType"] != tt.errorType {
				t.Fatalf("errorType = %v, want %s; payload %s", body["errorType"], tt.errorType, inv.Payload)
			}
			msg, _ := body["errorMessage"].(string)
			switch {
			case tt.platformText != "":
				if want := "RequestId: " + inv.RequestID + " Error: " + tt.platformText; !strings.HasPrefix(msg, want) {
					t.Errorf("errorMessage = %q, want prefix %q", msg, want)
				}
			case tt.message != "":
				if msg != tt.message {
					t.Errorf("errorMessage = %q, want %q", msg, tt.message)
				}
			default:
				if msg == "" {
					t.Errorf("errorMessage is empty: %s", inv.Payload)
				}
			}
			if !strings.Contains(inv.Log, "START RequestId: "+inv.RequestID) || !strings.Contains(inv.Log, "END RequestId: "+inv.RequestID) {
				t.Errorf("log tail lacks START/END for %s:\n%s", inv.RequestID, inv.Log)
			}
		})
	}
}

func TestInvokeInitCrashLoopBackoff(t *testing.T) {
	t.Parallel()
	s := gusttest.StartServer(t)
	c := s.Lambda()
	createFunction(t, c, "crasher", types.RuntimeProvidedal2023, "x", gusttest.ZipFiles(t, map[string]gusttest.File{
		"bootstrap": {Body: "#!/bin/sh\nexit 1\n", Mode: 0o755}}))
	fail := func() {
		t.Helper()
		inv := invokeTail(t, c, "crasher", `{}`)
		platformError(t, inv, "Runtime.ExitError", "Runtime exited with error: exit status 1")
	}
	fail()
	// envpool waits 100 ms, then 200, then 400 after consecutive
	// failures: three more inits cannot finish in under 700 ms.
	start := time.Now()
	for range 3 {
		fail()
	}
	if d := time.Since(start); d < 600*time.Millisecond {
		t.Fatalf("3 crash-looping inits took %s, want at least ~700 ms of backoff", d)
	}
}

// crashReporter is a provided-runtime bootstrap that reports its start to
// the collector at COLLECT_URL, then exits 1 before its first /next.
const crashReporter = `#!/usr/bin/python3
import json, os, urllib.request
body = json.dumps({"function": os.environ["AWS_LAMBDA_FUNCTION_NAME"]}).encode()
urllib.request.urlopen(os.environ["COLLECT_URL"], data=body, timeout=10).read()
raise SystemExit(1)
`

// Concurrent invokes of a crash-looping function share one init attempt
// instead of each starting a process that will crash too.
func TestInvokeInitCrashLoopNoStampede(t *testing.T) {
	t.Parallel()
	s := gusttest.StartServer(t)
	c := s.Lambda()
	// Each start reports to a collector on loopback, which functions reach
	// in both sandboxes, then crashes.
	col := newCollector(t)
	createFunction(t, c, "crasher", types.RuntimeProvidedal2023, "x", gusttest.ZipFiles(t, map[string]gusttest.File{
		"bootstrap": {Body: crashReporter, Mode: 0o755}}), func(in *lambda.CreateFunctionInput) {
		in.Environment = &types.Environment{Variables: map[string]string{"COLLECT_URL": col.srv.URL}}
	})
	platformError(t, invokeTail(t, c, "crasher", `{}`), "Runtime.ExitError", "Runtime exited with error: exit status 1")

	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("crasher")})
			if err != nil {
				t.Errorf("invoke: %v", err)
				return
			}
			if aws.ToString(out.FunctionError) != "Unhandled" || !strings.Contains(string(out.Payload), "Runtime.ExitError") {
				t.Errorf("invoke = %s %s, want Runtime.ExitError", aws.ToString(out.FunctionError), out.Payload)
			}
		}()
	}
	wg.Wait()
	// One start for the first invoke, then one shared attempt (two if a
	// caller arrived just after the first attempt ended). Every start
	// reported before it crashed, so before its invocations answered.
	if n := len(col.of("crasher")); n < 2 || n > 3 {
		t.Fatalf("8 concurrent invokes of a crash-looping function started %d processes in all, want 2 or 3", n)
	}
}

// An init that overruns the init limit is retried inside the invocation
// under the function's timeout, as Lambda does: it fails only when that
// retry overruns too.
func TestInvokeInitTimeout(t *testing.T) {
	t.Parallel()
	s := gusttest.StartServer(t, func(c *config.Server) { c.InitTimeout = time.Second })
	c := s.Lambda()
	slowInit := func(ms int) []byte {
		return gusttest.Zip(t, map[string]string{"index.mjs": fmt.Sprintf(
			"await new Promise((r) => setTimeout(r, %d));\nexport const handler = async () => 'late';\n", ms)})
	}
	createFunction(t, c, "too-slow", types.RuntimeNodejs20x, "index.handler", slowInit(3000), withTimeout(1))
	createFunction(t, c, "slow", types.RuntimeNodejs20x, "index.handler", slowInit(1500), withTimeout(5))
	createFunction(t, c, "fine", types.RuntimeNodejs20x, "index.handler", gusttest.Zip(t, map[string]string{"index.mjs": nodeKit}))

	inv := invokeTail(t, c, "too-slow", `{}`)
	platformError(t, inv, "Sandbox.Timedout", "Task timed out after 1.00 seconds")
	if !strings.Contains(inv.Log, "INIT_REPORT Init Duration: ") || !strings.Contains(inv.Log, "\tPhase: invoke\tStatus: timeout") {
		t.Errorf("log tail lacks the invoke-phase INIT_REPORT:\n%s", inv.Log)
	}

	start := time.Now()
	inv = invokeTail(t, c, "slow", `{}`)
	mustSucceed(t, inv)
	if string(inv.Payload) != `"late"` {
		t.Errorf("payload = %s, want \"late\"", inv.Payload)
	}
	if d := time.Since(start); d < 2500*time.Millisecond {
		t.Errorf("slow init answered after %s; the 1 s init limit plus a 1.5 s retried init take at least 2.5 s", d)
	}

	mustSucceed(t, invokeTail(t, c, "fine", `{}`))
	gusttest.WaitFor(t, 5*time.Second, "the timed-out inits to be stopped", func() bool {
		st := s.Pool().Stats()
		return st.Total == 2 && st.Busy == 0
	})
}

func TestInvokeStdoutFlood(t *testing.T) {
	t.Parallel()
	s := gusttest.StartServer(t)
	c := s.Lambda()
	zip := gusttest.Zip(t, map[string]string{"index.mjs": nodeKit})
	createFunction(t, c, "flood", types.RuntimeNodejs20x, "index.handler", zip, withTimeout(30))
	createFunction(t, c, "bystander", types.RuntimeNodejs20x, "index.handler", zip)

	done := make(chan invocation, 1)
	go func() {
		out, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("flood"),
			Payload: []byte(`{"floodLines":51200}`), LogType: types.LogTypeTail})
		if err != nil {
			t.Errorf("flood invoke: %v", err)
			close(done)
			return
		}
		done <- invocation{InvokeOutput: out}
	}()
	// Another function keeps working while the flood runs.
	for range 3 {
		mustSucceed(t, invokeTail(t, c, "bystander", `{}`))
	}
	inv, ok := <-done
	if !ok {
		return
	}
	switch fe := aws.ToString(inv.FunctionError); fe {
	case "":
		if r := decode[kitReply](t, inv.Payload); r.Count != 1 {
			t.Errorf("flood reply count = %d", r.Count)
		}
	case "Unhandled":
		if body := decode[map[string]any](t, inv.Payload); body["errorType"] != "Sandbox.Timedout" {
			t.Errorf("flood failed with %s, want success or a clean timeout", inv.Payload)
		}
	}
	tail, _ := base64.StdEncoding.DecodeString(aws.ToString(inv.LogResult))
	if len(tail) > 4096 || !strings.Contains(string(tail), strings.Repeat("y", 1023)+"\n") {
		t.Errorf("log tail is %d bytes, want the last 4 KB of the flood:\n%.600s", len(tail), tail)
	}
	runtime.GC()
	if mb := heapMB(); mb > 300 {
		t.Errorf("heap after a 50 MB flood = %d MB, want < 300 MB", mb)
	}
	mustSucceed(t, invokeTail(t, c, "bystander", `{}`))
}

// heapMB is the test process's live heap, server included.
func heapMB() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc >> 20
}

// An invocation ends when the runtime asks for the next event (§4.1): a
// runtime that exits right after answering must not fail the invoke that
// follows at once.
func TestInvokeRightAfterPanic(t *testing.T) {
	t.Parallel()
	s := gusttest.StartServer(t)
	c := s.Lambda()
	createFunction(t, c, "go", types.RuntimeProvidedal2023, "bootstrap", goFunctionZip(t))
	for i := range 10 {
		invokeTail(t, c, "go", `{"action":"panic"}`)
		if inv := invokeTail(t, c, "go", `{}`); inv.FunctionError != nil {
			t.Fatalf("invoke %d right after a panic failed: %s", i, inv.Payload)
		}
	}
}
