// Package gusttest is the whole-server test harness: StartServer runs a
// real Gust server in-process on a random loopback port with embedded NATS
// in a temporary data dir, and hands out real aws-sdk-go-v2 clients signed
// with its credentials.
package gusttest

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"gust/internal/config"
	"gust/internal/server"
)

// Server is a running test server.
type Server struct {
	*server.Server
	Config   config.Server
	Endpoint string
	KeyID    string
	Secret   string
	t        testing.TB
}

// SandboxEnv names the environment variable that selects the sandbox of
// every server StartServer starts ("process" or "linux") unless an option
// sets one; unset, the server's default applies (linux as root on Linux).
// CI runs the server tests once more with GUST_TEST_SANDBOX=process.
const SandboxEnv = "GUST_TEST_SANDBOX"

// StartServer starts a server with a temp data dir and random port; opts
// adjust the config. It is shut down when the test ends. Test binaries
// whose servers use the linux sandbox (the default as root) must call
// sandbox.Init first thing in TestMain.
func StartServer(t testing.TB, opts ...func(*config.Server)) *Server {
	t.Helper()
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	cfg.AccessKeyID = ""
	cfg.SecretAccessKey = ""
	if kind := os.Getenv(SandboxEnv); kind != "" {
		cfg.Sandbox = kind
	}
	if p, err := os.Stat("/usr/bin/python3"); err == nil && !p.IsDir() {
		cfg.PythonPath = "/usr/bin/python3"
	}
	for _, o := range opts {
		o(&cfg)
	}
	return start(t, cfg)
}

func start(t testing.TB, cfg config.Server) *Server {
	t.Helper()
	level := slog.LevelWarn
	if os.Getenv("GUST_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	srv, err := server.New(cfg, logger)
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Start(ctx); err != nil {
		t.Fatalf("start server: %v", err)
	}
	s := &Server{Server: srv, Config: cfg, Endpoint: srv.Endpoint(), t: t}
	s.KeyID, s.Secret = srv.Credentials()
	t.Cleanup(func() { s.Stop() })
	return s
}

// Stop shuts the server down gracefully (bounded at 20 s).
func (s *Server) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		s.t.Errorf("shutdown: %v", err)
	}
}

// Restart stops the server and starts a new one on the same data dir and
// address.
func (s *Server) Restart(t testing.TB) *Server {
	t.Helper()
	s.Stop()
	cfg := s.Config
	cfg.Listen = s.Endpoint[len("http://"):]
	return start(t, cfg)
}

// AWSConfig is an SDK config signed with the server's credentials.
func (s *Server) AWSConfig() aws.Config {
	return aws.Config{
		Region:      s.Region(),
		Credentials: credentials.NewStaticCredentialsProvider(s.KeyID, s.Secret, ""),
		HTTPClient:  &http.Client{Timeout: 5 * time.Minute},
	}
}

// Lambda is a Lambda client for the server. Retries are off so tests see
// each response as sent.
func (s *Server) Lambda() *lambda.Client {
	return lambda.NewFromConfig(s.AWSConfig(), func(o *lambda.Options) {
		o.BaseEndpoint = aws.String(s.Endpoint)
		o.RetryMaxAttempts = 1
	})
}

// Logs is a CloudWatch Logs client for the server.
func (s *Server) Logs() *cloudwatchlogs.Client {
	return cloudwatchlogs.NewFromConfig(s.AWSConfig(), func(o *cloudwatchlogs.Options) {
		o.BaseEndpoint = aws.String(s.Endpoint)
		o.RetryMaxAttempts = 1
	})
}

// File is one entry of a test zip.
type File struct {
	Body string
	Mode os.FileMode // 0 = 0644
}

// Zip builds a deployment package from name → body.
func Zip(t testing.TB, files map[string]string) []byte {
	t.Helper()
	m := make(map[string]File, len(files))
	for k, v := range files {
		m[k] = File{Body: v}
	}
	return ZipFiles(t, m)
}

// ZipFiles builds a deployment package with explicit modes.
func ZipFiles(t testing.TB, files map[string]File) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		f := files[n]
		mode := f.Mode
		if mode == 0 {
			mode = 0o644
		}
		h := &zip.FileHeader{Name: n, Method: zip.Deflate}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, f.Body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// ZipBinary builds a provided-runtime package holding the executable at
// path as "bootstrap".
func ZipBinary(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return ZipFiles(t, map[string]File{"bootstrap": {Body: string(b), Mode: 0o755}})
}

// RepoRoot is the module root, for building test functions.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
}

// WaitFor polls cond every 20 ms until it is true or timeout passes.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// EnvProcesses lists the host pids of the live processes of the execution
// environment whose log stream is stream (AWS_LAMBDA_LOG_STREAM_NAME, which
// Gust makes unique per environment): its runtime and every process that
// inherited the runtime's environment. A function reports its stream
// (context.logStreamName) as a host-visible identity of its environment:
// its own pid is useless on the host in the linux sandbox, where it is a
// pid of the environment's own pid namespace. Zombies count as gone.
// Reading another user's /proc/<pid>/environ needs root, which the linux
// sandbox needs anyway; in the process sandbox functions run as the
// test's own user.
func EnvProcesses(stream string) []int {
	if stream == "" {
		return nil
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	want := []byte("AWS_LAMBDA_LOG_STREAM_NAME=" + stream + "\x00")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil {
			continue // gone meanwhile, or not ours to read
		}
		if bytes.HasPrefix(env, want) || bytes.Contains(env, append([]byte{0}, want...)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// WaitEnvGone waits (at most 5 s) until no process of the environment
// whose log stream is stream is left; see EnvProcesses.
func WaitEnvGone(t testing.TB, stream string) {
	t.Helper()
	if stream == "" {
		t.Fatal("WaitEnvGone: empty log stream name")
	}
	WaitFor(t, 5*time.Second, "the processes of environment "+stream+" to be gone", func() bool {
		return len(EnvProcesses(stream)) == 0
	})
}
