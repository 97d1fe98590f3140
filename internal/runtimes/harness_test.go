package runtimes

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitFor bounds every wait on a child process.
const waitFor = 15 * time.Second

// fakeAPI is a test-only Runtime API: /next hands out queued events and the
// runtime's answers arrive on results. Whole-server tests use the real one.
type fakeAPI struct {
	address string // host:port for AWS_LAMBDA_RUNTIME_API
	srv     *httptest.Server
	events  chan fakeEvent
	results chan fakeResult
	done    chan struct{}
}

type fakeEvent struct {
	ID       string
	Body     string
	Deadline time.Time
	Header   map[string]string // extra /next headers
}

type fakeResult struct {
	Kind    string // "response", "error", "init/error", or "rejected" for a body over the limit
	ID      string
	ErrType string // Lambda-Runtime-Function-Error-Type
	Body    []byte
}

func newFakeAPI(t testing.TB) *fakeAPI {
	t.Helper()
	return newFakeAPIOpts(t, fakeOptions{})
}

// fakeOptions varies the fake Runtime API's server.
type fakeOptions struct {
	limit       int64         // answer a longer result body 413 and close the connection; 0 for none
	idleTimeout time.Duration // close kept-alive connections idle this long; 0 for never
}

func newFakeAPIOpts(t testing.TB, opts fakeOptions) *fakeAPI {
	t.Helper()
	a := &fakeAPI{
		events:  make(chan fakeEvent, 8),
		results: make(chan fakeResult, 8),
		done:    make(chan struct{}),
	}
	const p = "/2018-06-01/runtime"
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+p+"/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		select {
		case ev := <-a.events:
			h := w.Header()
			h.Set("Lambda-Runtime-Aws-Request-Id", ev.ID)
			h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(ev.Deadline.UnixMilli(), 10))
			h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:000000000000:function:fn")
			h.Set("Content-Type", "application/json")
			for k, v := range ev.Header {
				h.Set(k, v)
			}
			io.WriteString(w, ev.Body)
		case <-r.Context().Done():
		case <-a.done:
			http.Error(w, "shutting down", http.StatusInternalServerError)
		}
	})
	report := func(kind string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			rd := r.Body
			if opts.limit > 0 {
				rd = http.MaxBytesReader(w, r.Body, opts.limit)
			}
			body, err := io.ReadAll(rd)
			if _, ok := err.(*http.MaxBytesError); ok {
				select {
				case a.results <- fakeResult{Kind: "rejected", ID: r.PathValue("id")}:
				case <-a.done:
				}
				http.Error(w, "request entity too large", http.StatusRequestEntityTooLarge)
				return
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			res := fakeResult{Kind: kind, ID: r.PathValue("id"), ErrType: r.Header.Get("Lambda-Runtime-Function-Error-Type"), Body: body}
			select {
			case a.results <- res:
			case <-a.done:
			}
			w.WriteHeader(http.StatusAccepted)
			io.WriteString(w, `{"status":"OK"}`)
		}
	}
	mux.HandleFunc("POST "+p+"/invocation/{id}/response", report("response"))
	mux.HandleFunc("POST "+p+"/invocation/{id}/error", report("error"))
	mux.HandleFunc("POST "+p+"/init/error", report("init/error"))
	a.srv = httptest.NewUnstartedServer(mux)
	a.srv.Config.IdleTimeout = opts.idleTimeout
	a.srv.Start()
	a.address = strings.TrimPrefix(a.srv.URL, "http://")
	t.Cleanup(func() {
		close(a.done)
		a.srv.Close()
	})
	return a
}

// addr is the host:port for AWS_LAMBDA_RUNTIME_API.
func (a *fakeAPI) addr() string { return a.address }

// invoke queues ev (an id and a 30 s deadline when unset) and waits for the
// runtime's answer to it.
func (a *fakeAPI) invoke(t testing.TB, ev fakeEvent) fakeResult {
	t.Helper()
	if ev.ID == "" {
		ev.ID = fmt.Sprintf("req-%d", time.Now().UnixNano())
	}
	if ev.Deadline.IsZero() {
		ev.Deadline = time.Now().Add(30 * time.Second)
	}
	if ev.Body == "" {
		ev.Body = "{}"
	}
	a.events <- ev
	res := a.result(t)
	if res.ID != ev.ID {
		t.Fatalf("answer for request %q, want %q (%s %s)", res.ID, ev.ID, res.Kind, res.Body)
	}
	return res
}

// result waits for the runtime's next report.
func (a *fakeAPI) result(t testing.TB) fakeResult {
	t.Helper()
	select {
	case res := <-a.results:
		return res
	case <-time.After(waitFor):
		t.Fatalf("no answer from the runtime within %v", waitFor)
		return fakeResult{}
	}
}

// syncBuffer collects a child's output.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// proc is one runtime process started from a Table's Command.
type proc struct {
	cmd    *exec.Cmd
	stdout syncBuffer
	stderr syncBuffer
	exited chan struct{}
	err    error // Wait's result, valid after exited is closed
}

// runtimeSpec describes a function to start under a runtime.
type runtimeSpec struct {
	runtime string
	handler string
	files   map[string]string
	env     []string
}

// shared is the Table the bootstrap tests use, made once so that the
// (slow, pyenv-shimmed) interpreter lookup runs once per test binary.
var shared struct {
	once sync.Once
	dir  string
	tab  *Table
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// newTestTable returns the shared Table, skipping the test when the
// language's interpreter is not installed.
func newTestTable(t testing.TB, runtime string) *Table {
	t.Helper()
	switch {
	case strings.HasPrefix(runtime, "nodejs"):
		if _, err := exec.LookPath("node"); err != nil {
			t.Skip("node is not installed")
		}
	case strings.HasPrefix(runtime, "python"):
		if _, err := exec.LookPath("python3"); err != nil {
			t.Skip("python3 is not installed")
		}
	}
	shared.once.Do(func() {
		if shared.dir, shared.err = os.MkdirTemp("", "gust-runtimes-test-"); shared.err == nil {
			shared.tab, shared.err = New(Options{Dir: filepath.Join(shared.dir, "runtime")})
		}
	})
	if shared.err != nil {
		t.Fatalf("New: %v", shared.err)
	}
	return shared.tab
}

// writeTree writes files (slash paths) under a new temporary directory.
func writeTree(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// startRuntime runs spec's function under the real bootstrap against api.
func startRuntime(t testing.TB, tab *Table, api *fakeAPI, spec runtimeSpec) *proc {
	t.Helper()
	code := writeTree(t, spec.files)
	argv, err := tab.Command(spec.runtime, code)
	if err != nil {
		t.Fatalf("Command(%s): %v", spec.runtime, err)
	}
	p := &proc{exited: make(chan struct{})}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Dir = code
	p.cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"AWS_LAMBDA_RUNTIME_API=" + api.addr(),
		"_HANDLER=" + spec.handler,
		"LAMBDA_TASK_ROOT=" + code,
		"LAMBDA_RUNTIME_DIR=" + tab.RuntimeDir(),
		"AWS_LAMBDA_FUNCTION_NAME=fn",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/fn",
		"AWS_LAMBDA_LOG_STREAM_NAME=2024/01/15/[$LATEST]0123456789abcdef0123456789abcdef",
		"AWS_REGION=us-east-1",
		"AWS_EXECUTION_ENV=AWS_Lambda_" + spec.runtime,
		"TZ=:UTC",
	}, tab.Env(spec.runtime)...)
	p.cmd.Env = append(p.cmd.Env, spec.env...)
	p.cmd.Stdout = &p.stdout
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", argv, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("runtime stdout:\n%s\nruntime stderr:\n%s", p.stdout.String(), p.stderr.String())
		}
	})
	return p
}

// waitExit waits for the process to exit and returns its exit code.
func (p *proc) waitExit(t testing.TB) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(waitFor):
		t.Fatalf("runtime still running after %v", waitFor)
	}
	return p.cmd.ProcessState.ExitCode()
}

// waitOutput polls stdout until re matches, and returns the match.
func (p *proc) waitOutput(t testing.TB, re *regexp.Regexp) string {
	t.Helper()
	return waitMatch(t, "stdout", &p.stdout, re)
}

// waitStderr polls stderr until re matches, and returns the match.
func (p *proc) waitStderr(t testing.TB, re *regexp.Regexp) string {
	t.Helper()
	return waitMatch(t, "stderr", &p.stderr, re)
}

func waitMatch(t testing.TB, name string, b *syncBuffer, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		if m := re.FindString(b.String()); m != "" {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never matched %q; got:\n%s", name, re, b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// decode unmarshals a result body into a map, failing the test otherwise.
func decode(t testing.TB, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body %s is not a JSON object: %v", body, err)
	}
	return m
}

// BenchmarkColdStart measures starting a runtime process through to the
// answer of its first invocation, for a trivial handler.
func BenchmarkColdStart(b *testing.B) {
	tests := []runtimeSpec{
		{runtime: "nodejs20.x", handler: "index.handler", files: map[string]string{"index.mjs": `export const handler = async () => 1;`}},
		{runtime: "python3.12", handler: "app.handler", files: map[string]string{"app.py": "def handler(e, c):\n    return 1\n"}},
	}
	for _, spec := range tests {
		b.Run("runtime="+spec.runtime, func(b *testing.B) {
			tab := newTestTable(b, spec.runtime)
			api := newFakeAPI(b)
			for b.Loop() {
				p := startRuntime(b, tab, api, spec)
				if res := api.invoke(b, fakeEvent{}); res.Kind != "response" {
					b.Fatalf("got %s %s", res.Kind, res.Body)
				}
				p.cmd.Process.Kill()
				<-p.exited
			}
		})
	}
}
