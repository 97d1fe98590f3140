package runtimes

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

const nodeRuntime = "nodejs20.x"

func TestNodeHandlers(t *testing.T) {
	tests := []struct {
		name    string
		handler string
		files   map[string]string
		want    []string // results of successive invocations in one process
	}{{
		name:    "esm mjs with top-level await",
		handler: "index.handler",
		files: map[string]string{"index.mjs": `
const start = await Promise.resolve(0);
let n = start;
export const handler = async (event) => ({ n: ++n, echo: event, esm: typeof require });`},
		want: []string{`{"n":1,"echo":{"k":"v"},"esm":"undefined"}`, `{"n":2,"echo":{"k":"v"},"esm":"undefined"}`},
	}, {
		name:    "esm js via package.json type module",
		handler: "app.handler",
		files: map[string]string{
			"package.json": `{"type":"module"}`,
			"app.js":       `let n = 0; export async function handler() { return { n: ++n, esm: typeof require }; }`,
		},
		want: []string{`{"n":1,"esm":"undefined"}`, `{"n":2,"esm":"undefined"}`},
	}, {
		name:    "commonjs",
		handler: "index.handler",
		files:   map[string]string{"index.js": `let n = 0; exports.handler = async () => ({ n: ++n, cjs: typeof require });`},
		want:    []string{`{"n":1,"cjs":"function"}`, `{"n":2,"cjs":"function"}`},
	}, {
		name:    "cjs extension under type module",
		handler: "h.handler",
		files: map[string]string{
			"package.json": `{"type":"module"}`,
			"h.cjs":        `module.exports.handler = async () => "cjs";`,
		},
		want: []string{`"cjs"`},
	}, {
		name:    "nested path",
		handler: "src/app.handler",
		files:   map[string]string{"src/app.js": `exports.handler = async (e) => e.k;`},
		want:    []string{`"v"`},
	}, {
		name:    "nested export",
		handler: "index.api.run",
		files:   map[string]string{"index.js": `exports.api = { run: async () => "nested" };`},
		want:    []string{`"nested"`},
	}, {
		name:    "callback",
		handler: "index.handler",
		files:   map[string]string{"index.js": `let n = 0; exports.handler = (e, ctx, cb) => { cb(null, { n: ++n }); };`},
		want:    []string{`{"n":1}`, `{"n":2}`},
	}, {
		name:    "legacy context.succeed",
		handler: "index.handler",
		files:   map[string]string{"index.js": `exports.handler = (e, ctx) => { ctx.succeed("legacy"); };`},
		want:    []string{`"legacy"`},
	}, {
		name:    "undefined result is null",
		handler: "index.handler",
		files:   map[string]string{"index.js": `exports.handler = async () => undefined;`},
		want:    []string{`null`},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := newTestTable(t, nodeRuntime)
			api := newFakeAPI(t)
			startRuntime(t, tab, api, runtimeSpec{runtime: nodeRuntime, handler: tt.handler, files: tt.files})
			for i, want := range tt.want {
				res := api.invoke(t, fakeEvent{Body: `{"k":"v"}`})
				if res.Kind != "response" || string(res.Body) != want {
					t.Errorf("invoke %d: got %s %s, want response %s", i+1, res.Kind, res.Body, want)
				}
			}
		})
	}
}

func TestNodeCallbackWaitsForEmptyEventLoop(t *testing.T) {
	// The handler answers at once but leaves a timer behind. Waiting for
	// the empty event loop means the answer comes after the timer.
	const code = `
exports.handler = (event, context, callback) => {
  context.callbackWaitsForEmptyEventLoop = event.wait;
  setTimeout(() => {}, event.delay);
  callback(null, "done");
};`
	tests := []struct {
		name     string
		body     string
		delay    time.Duration
		wantSlow bool // answer no sooner than the timer
	}{
		{"wait", `{"wait":true,"delay":400}`, 400 * time.Millisecond, true},
		{"no wait", `{"wait":false,"delay":3000}`, 3 * time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := newTestTable(t, nodeRuntime)
			api := newFakeAPI(t)
			startRuntime(t, tab, api, runtimeSpec{runtime: nodeRuntime, handler: "index.handler", files: map[string]string{"index.js": code}})
			api.invoke(t, fakeEvent{}) // warm up: the first invoke includes start-up time
			start := time.Now()
			res := api.invoke(t, fakeEvent{Body: tt.body})
			elapsed := time.Since(start)
			if string(res.Body) != `"done"` {
				t.Fatalf("got %s %s, want response \"done\"", res.Kind, res.Body)
			}
			if slow := elapsed >= tt.delay; slow != tt.wantSlow {
				t.Errorf("answered after %v; want after the timer = %v", elapsed, tt.wantSlow)
			}
		})
	}
}

func TestNodeContext(t *testing.T) {
	tab := newTestTable(t, nodeRuntime)
	api := newFakeAPI(t)
	startRuntime(t, tab, api, runtimeSpec{runtime: nodeRuntime, handler: "index.handler", files: map[string]string{"index.mjs": `
export const handler = async (event, ctx) => {
  const first = ctx.getRemainingTimeInMillis();
  await new Promise((r) => setTimeout(r, 30));
  return {
    awsRequestId: ctx.awsRequestId, functionName: ctx.functionName, functionVersion: ctx.functionVersion,
    invokedFunctionArn: ctx.invokedFunctionArn, memoryLimitInMB: ctx.memoryLimitInMB,
    logGroupName: ctx.logGroupName, logStreamName: ctx.logStreamName,
    callbackWaitsForEmptyEventLoop: ctx.callbackWaitsForEmptyEventLoop,
    clientContext: ctx.clientContext, identity: ctx.identity,
    traceId: process.env._X_AMZN_TRACE_ID, first, second: ctx.getRemainingTimeInMillis(),
  };
};`}})
	sent := time.Now()
	deadline := sent.Add(20 * time.Second)
	res := api.invoke(t, fakeEvent{ID: "req-ctx", Deadline: deadline, Header: map[string]string{
		"Lambda-Runtime-Trace-Id":         "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Sampled=1",
		"Lambda-Runtime-Client-Context":   `{"custom":{"a":"b"}}`,
		"Lambda-Runtime-Cognito-Identity": `{"cognitoIdentityId":"id1","cognitoIdentityPoolId":"pool1"}`,
	}})
	got := decode(t, res.Body)
	want := map[string]any{
		"awsRequestId":                   "req-ctx",
		"functionName":                   "fn",
		"functionVersion":                "$LATEST",
		"invokedFunctionArn":             "arn:aws:lambda:us-east-1:000000000000:function:fn",
		"memoryLimitInMB":                "256",
		"logGroupName":                   "/aws/lambda/fn",
		"logStreamName":                  "2024/01/15/[$LATEST]0123456789abcdef0123456789abcdef",
		"callbackWaitsForEmptyEventLoop": true,
		"traceId":                        "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Sampled=1",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("context %s = %v, want %v", k, got[k], w)
		}
	}
	if cc, _ := got["clientContext"].(map[string]any); cc == nil || cc["custom"] == nil {
		t.Errorf("clientContext = %v, want the parsed header", got["clientContext"])
	}
	if id, _ := got["identity"].(map[string]any); id == nil || id["cognitoIdentityId"] != "id1" {
		t.Errorf("identity = %v, want the parsed header", got["identity"])
	}
	first, _ := got["first"].(float64)
	second, _ := got["second"].(float64)
	bound := float64(time.Until(deadline).Milliseconds()) + float64(time.Since(sent).Milliseconds())
	if first <= 0 || first > bound || second >= first || first-second < 30 {
		t.Errorf("remaining time first=%v second=%v, want 0 < second < first-30 and first <= %v", first, second, bound)
	}
}

func TestNodeErrors(t *testing.T) {
	tests := []struct {
		name        string
		code        string
		wantType    string
		wantMessage string
		wantTrace0  string // first trace line; "" for an empty trace
	}{
		{"throw Error", `exports.handler = async () => { throw new TypeError("boom"); };`, "TypeError", "boom", "TypeError: boom"},
		{"throw string", `exports.handler = async () => { throw "plain"; };`, "string", "plain", ""},
		{"callback error", `exports.handler = (e, c, cb) => cb(new Error("cb failed"));`, "Error", "cb failed", "Error: cb failed"},
		{"unserialisable result", `exports.handler = async () => ({ n: 1n });`, "Runtime.MarshalError", "Unable to stringify response body: Do not know how to serialize a BigInt", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := newTestTable(t, nodeRuntime)
			api := newFakeAPI(t)
			p := startRuntime(t, tab, api, runtimeSpec{runtime: nodeRuntime, handler: "index.handler", files: map[string]string{"index.js": tt.code}})
			res := api.invoke(t, fakeEvent{ID: "req-err"})
			if res.Kind != "error" || res.ErrType != tt.wantType {
				t.Fatalf("got %s with type %q, want error with type %q", res.Kind, res.ErrType, tt.wantType)
			}
			body := decode(t, res.Body)
			if body["errorType"] != tt.wantType || body["errorMessage"] != tt.wantMessage {
				t.Errorf("body %s, want errorType %q errorMessage %q", res.Body, tt.wantType, tt.wantMessage)
			}
			trace, ok := body["trace"].([]any)
			if !ok {
				t.Fatalf("body %s has no trace array", res.Body)
			}
			if tt.wantTrace0 == "" && len(trace) != 0 || tt.wantTrace0 != "" && (len(trace) < 2 || trace[0] != tt.wantTrace0) {
				t.Errorf("trace %v, want first line %q", trace, tt.wantTrace0)
			}
			p.waitOutput(t, regexp.MustCompile(`\d{4}-\d\d-\d\dT[\d:.]+Z\treq-err\tERROR\tInvoke Error \t\{"errorType":"`+regexp.QuoteMeta(tt.wantType)+`"`))
			// The process survives a handler error and serves the next event.
			if next := api.invoke(t, fakeEvent{}); next.Kind != "error" {
				t.Errorf("second invoke: got %s, want another error from the same process", next.Kind)
			}
		})
	}
}

func TestNodeUnhandledRejection(t *testing.T) {
	tab := newTestTable(t, nodeRuntime)
	api := newFakeAPI(t)
	p := startRuntime(t, tab, api, runtimeSpec{runtime: nodeRuntime, handler: "index.handler", files: map[string]string{"index.js": `
exports.handler = () => { Promise.reject(new Error("lost")); return new Promise(() => { setTimeout(() => {}, 10000); }); };`}})
	res := api.invoke(t, fakeEvent{})
	body := decode(t, res.Body)
	if res.Kind != "error" || body["errorType"] != "Runtime.UnhandledPromiseRejection" || body["errorMessage"] != "Error: lost" {
		t.Errorf("got %s %s, want error Runtime.UnhandledPromiseRejection", res.Kind, res.Body)
	}
	if code := p.waitExit(t); code != 128 {
		t.Errorf("exit code %d, want 128 as on AWS", code)
	}
}

func TestNodeInitErrors(t *testing.T) {
	tests := []struct {
		name        string
		handler     string
		files       map[string]string
		wantType    string
		wantMessage string // prefix
	}{
		{"missing module", "index.handler", map[string]string{"other.js": ``}, "Runtime.ImportModuleError", "Error: Cannot find module 'index'\nRequire stack:\n- "},
		{"missing dependency", "index.handler", map[string]string{"index.js": `require("not-installed");`}, "Runtime.ImportModuleError", "Error: Cannot find module 'not-installed'"},
		{"missing esm dependency", "index.handler", map[string]string{"index.mjs": `import "not-installed";`}, "Runtime.ImportModuleError", "Error: Cannot find package 'not-installed'"},
		{"handler not exported", "index.handler", map[string]string{"index.js": `exports.other = () => 1;`}, "Runtime.HandlerNotFound", "index.handler is undefined or not exported"},
		{"handler not a function", "index.handler", map[string]string{"index.mjs": `export const handler = 42;`}, "Runtime.HandlerNotFound", "index.handler is not a function"},
		{"syntax error cjs", "index.handler", map[string]string{"index.js": `exports.handler = () => {`}, "Runtime.UserCodeSyntaxError", "SyntaxError: "},
		{"syntax error esm", "index.handler", map[string]string{"index.mjs": `export const handler = ) => 1;`}, "Runtime.UserCodeSyntaxError", "SyntaxError: "},
		{"top-level throw", "index.handler", map[string]string{"index.js": `throw new RangeError("bad config");`}, "RangeError", "bad config"},
		{"malformed handler", "index", map[string]string{"index.js": ``}, "Runtime.MalformedHandlerName", "Bad handler index"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := newTestTable(t, nodeRuntime)
			api := newFakeAPI(t)
			p := startRuntime(t, tab, api, runtimeSpec{runtime: nodeRuntime, handler: tt.handler, files: tt.files})
			res := api.result(t)
			if res.Kind != "init/error" || res.ErrType != tt.wantType {
				t.Fatalf("got %s type %q (%s), want init/error type %q", res.Kind, res.ErrType, res.Body, tt.wantType)
			}
			body := decode(t, res.Body)
			if msg, _ := body["errorMessage"].(string); body["errorType"] != tt.wantType || !strings.HasPrefix(msg, tt.wantMessage) {
				t.Errorf("body %s, want errorType %q and message starting %q", res.Body, tt.wantType, tt.wantMessage)
			}
			if code := p.waitExit(t); code != 129 {
				t.Errorf("exit code %d, want 129 as on AWS", code)
			}
		})
	}
}

func TestNodeConsoleFormat(t *testing.T) {
	tab := newTestTable(t, nodeRuntime)
	api := newFakeAPI(t)
	p := startRuntime(t, tab, api, runtimeSpec{runtime: nodeRuntime, handler: "index.handler", files: map[string]string{"index.js": `
console.log("loading");
exports.handler = async () => {
  console.log("hello %s", "world", { a: 1 });
  console.warn("careful");
  console.error(new Error("oops").message);
  console.debug("details");
  console.info("two\nlines");
  return 1;
};`}})
	p.waitOutput(t, regexp.MustCompile(`(?m)^[\d:.TZ-]+\tundefined\tINFO\tloading$`))
	api.invoke(t, fakeEvent{ID: "req-log"})
	const ts = `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z`
	for _, line := range []string{
		`INFO\thello world \{ a: 1 \}`,
		`WARN\tcareful`,
		`ERROR\toops`,
		`DEBUG\tdetails`,
		`INFO\ttwo\rlines`, // one line: the platform turns \r back into \n
	} {
		p.waitOutput(t, regexp.MustCompile(`(?m)^`+ts+`\treq-log\t`+line+`$`))
	}
}
