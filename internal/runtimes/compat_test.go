package runtimes

import (
	"bufio"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestLogLevelOnlyJSON checks that AWS_LAMBDA_LOG_LEVEL filters JSON-format
// logs only: in text format every level is written, as on AWS.
func TestLogLevelOnlyJSON(t *testing.T) {
	node := runtimeSpec{runtime: nodeRuntime, handler: "index.handler", files: map[string]string{"index.js": `
exports.handler = async () => { console.warn("warned"); console.error("errored"); return 1; };`}}
	python := runtimeSpec{runtime: pythonRuntime, handler: "app.handler", files: map[string]string{"app.py": `
import logging
def handler(e, c):
    logging.warning("warned")
    logging.error("errored")
    return 1
`}}
	tests := []struct {
		name       string
		spec       runtimeSpec
		json       bool
		wantWarned bool
	}{
		{"node text", node, false, true},
		{"node json", node, true, false},
		{"python text", python, false, true},
		{"python json", python, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := tt.spec
			spec.env = []string{"AWS_LAMBDA_LOG_LEVEL=ERROR"}
			if tt.json {
				spec.env = append(spec.env, "AWS_LAMBDA_LOG_FORMAT=JSON")
			}
			tab := newTestTable(t, spec.runtime)
			api := newFakeAPI(t)
			p := startRuntime(t, tab, api, spec)
			if res := api.invoke(t, fakeEvent{}); res.Kind != "response" {
				t.Fatalf("got %s %s, want a response", res.Kind, res.Body)
			}
			p.waitOutput(t, regexp.MustCompile(`errored`))
			if got := strings.Contains(p.stdout.String(), "warned"); got != tt.wantWarned {
				t.Errorf("warning logged = %v, want %v", got, tt.wantWarned)
			}
		})
	}
}

// TestOversizedResponse has the Runtime API refuse a result body with 413
// and close the connection mid-upload: the runtime logs the rejection and
// goes on serving, without sending the body again.
func TestOversizedResponse(t *testing.T) {
	tests := []runtimeSpec{
		{runtime: nodeRuntime, handler: "index.handler", files: map[string]string{"index.js": `
exports.handler = async (e) => e.big ? "x".repeat(8 << 20) : "small";`}},
		{runtime: pythonRuntime, handler: "app.handler", files: map[string]string{"app.py": `
def handler(e, c):
    return "x" * (8 << 20) if e.get("big") else "small"
`}},
	}
	for _, spec := range tests {
		t.Run(spec.runtime, func(t *testing.T) {
			tab := newTestTable(t, spec.runtime)
			api := newFakeAPIOpts(t, fakeOptions{limit: 1 << 20})
			p := startRuntime(t, tab, api, spec)
			if res := api.invoke(t, fakeEvent{ID: "req-big", Body: `{"big":true}`}); res.Kind != "rejected" {
				t.Fatalf("got %s, want the oversized body rejected", res.Kind)
			}
			p.waitStderr(t, regexp.MustCompile(`response rejected: 413`))
			res := api.invoke(t, fakeEvent{ID: "req-small"})
			if res.Kind != "response" || string(res.Body) != `"small"` {
				t.Errorf("next invoke: got %s %s, want response \"small\"", res.Kind, res.Body)
			}
			select {
			case res := <-api.results:
				t.Errorf("unexpected extra report %s for %s: the body was sent again", res.Kind, res.ID)
			default:
			}
		})
	}
}

// TestPythonIdleConnectionClosed has the Runtime API close kept-alive
// connections while the handler runs: the result goes out on a new one.
func TestPythonIdleConnectionClosed(t *testing.T) {
	tab := newTestTable(t, pythonRuntime)
	api := newFakeAPIOpts(t, fakeOptions{idleTimeout: 50 * time.Millisecond})
	startRuntime(t, tab, api, runtimeSpec{runtime: pythonRuntime, handler: "app.handler", files: map[string]string{"app.py": `
import time
def handler(e, c):
    time.sleep(0.25)
    return "slept"
`}})
	for i := range 2 {
		if res := api.invoke(t, fakeEvent{}); res.Kind != "response" || string(res.Body) != `"slept"` {
			t.Errorf("invoke %d: got %s %s, want response \"slept\"", i+1, res.Kind, res.Body)
		}
	}
}

// TestPythonHTTPProtocol serves /next with canned raw answers and checks
// how the Python client takes each.
func TestPythonHTTPProtocol(t *testing.T) {
	tests := []struct {
		name       string
		answer     string
		wantStderr string // regexp
	}{
		{"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", `next invocation: bad chunk size`},
		{"204 has no body", "HTTP/1.1 204 No Content\r\n\r\n", `next invocation: HTTP 204`},
		{"304 has no body", "HTTP/1.1 304 Not Modified\r\n\r\n", `next invocation: HTTP 304`},
		{"interim 100 then final", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", `next invocation: HTTP 204`},
		{"bad status line", "HTTP/1.1 2x0 OK\r\n\r\n", `next invocation: bad status line`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := newTestTable(t, pythonRuntime)
			addr := rawServer(t, tt.answer)
			p := startRuntime(t, tab, &fakeAPI{address: addr}, runtimeSpec{runtime: pythonRuntime, handler: "app.handler",
				files: map[string]string{"app.py": "def handler(e, c):\n    return 1\n"}})
			// The server keeps the connection open: reading a body to EOF would hang.
			if code := p.waitExit(t); code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
			p.waitStderr(t, regexp.MustCompile(tt.wantStderr))
			if s := p.stderr.String(); strings.Contains(s, "Traceback") {
				t.Errorf("stderr has a Python traceback, want the client's own error:\n%s", s)
			}
		})
	}
}

// rawServer answers every request on every connection with answer, and
// keeps connections open until the test ends. It returns its host:port.
func rawServer(t *testing.T, answer string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		close(done)
		ln.Close()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					req.Body.Close()
					if _, err := c.Write([]byte(answer)); err != nil {
						return
					}
					select {
					case <-done:
						return
					default:
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// TestPythonMarshal checks how results are encoded per runtime version.
func TestPythonMarshal(t *testing.T) {
	tests := []struct {
		name    string
		runtime string
		code    string
		want    string
	}{
		{"3.12 writes UTF-8", "python3.12", `return {"u": "héllo ✓"}`, `{"u": "héllo ✓"}`},
		{"3.13 writes UTF-8", "python3.13", `return {"u": "héllo ✓"}`, `{"u": "héllo ✓"}`},
		{"3.11 escapes", "python3.11", `return {"u": "héllo ✓"}`, `{"u": "h\u00e9llo \u2713"}`},
		{"bytes are raw", "python3.12", `return b"\x00\xffraw"`, "\x00\xffraw"},
		{"bytearray is raw", "python3.12", `return bytearray(b"ba")`, "ba"},
		{"decimal is exact", "python3.12",
			`import decimal; return {"a": decimal.Decimal("1.10"), "b": [decimal.Decimal("-0.000001"), decimal.Decimal("1E+2")], "c": "1.5"}`,
			`{"a": 1.10, "b": [-0.000001, 1E+2], "c": "1.5"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := newTestTable(t, tt.runtime)
			api := newFakeAPI(t)
			startRuntime(t, tab, api, runtimeSpec{runtime: tt.runtime, handler: "app.handler",
				files: map[string]string{"app.py": "def handler(e, c):\n    " + tt.code + "\n"}})
			if res := api.invoke(t, fakeEvent{}); res.Kind != "response" || string(res.Body) != tt.want {
				t.Errorf("got %s %q, want response %q", res.Kind, res.Body, tt.want)
			}
		})
	}
}

// TestNodeUncaughtException checks AWS's exit codes for errors thrown
// outside any handler call, and that one during init is reported as such.
func TestNodeUncaughtException(t *testing.T) {
	tests := []struct {
		name     string
		code     string
		wantKind string
		wantType string
		wantExit int
	}{
		{"timer throws during init", `
setTimeout(() => { throw new RangeError("timer boom"); }, 10);
await new Promise((r) => setTimeout(r, 300));
export const handler = async () => 1;`, "init/error", "RangeError", 129},
		{"rejection during init", `
Promise.reject(new Error("early"));
await new Promise((r) => setTimeout(r, 300));
export const handler = async () => 1;`, "init/error", "Runtime.UnhandledPromiseRejection", 128},
		{"timer throws during invoke", `
export const handler = () => {
  setTimeout(() => { throw new TypeError("late"); }, 0);
  return new Promise(() => { setTimeout(() => {}, 10000); });
};`, "error", "TypeError", 129},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := newTestTable(t, nodeRuntime)
			api := newFakeAPI(t)
			p := startRuntime(t, tab, api, runtimeSpec{runtime: nodeRuntime, handler: "index.handler", files: map[string]string{"index.mjs": tt.code}})
			var res fakeResult
			if tt.wantKind == "init/error" {
				res = api.result(t)
			} else {
				res = api.invoke(t, fakeEvent{})
			}
			if res.Kind != tt.wantKind || res.ErrType != tt.wantType {
				t.Errorf("got %s type %q (%s), want %s type %q", res.Kind, res.ErrType, res.Body, tt.wantKind, tt.wantType)
			}
			if code := p.waitExit(t); code != tt.wantExit {
				t.Errorf("exit code %d, want %d", code, tt.wantExit)
			}
		})
	}
}
