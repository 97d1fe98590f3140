package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"gust/internal/config"
	"gust/internal/gusttest"
)

// This file checks the life of execution environments as the invoker sees
// it: warm reuse, scale-out, idle reaping, account concurrency, graceful
// shutdown and code updates.

func TestEnvWarmReuse(t *testing.T) {
	t.Parallel()
	s := gusttest.StartServer(t)
	c := s.Lambda()
	createFunction(t, c, "warm", types.RuntimeNodejs20x, "index.handler", gusttest.Zip(t, map[string]string{"index.mjs": nodeKit}))
	var stream string
	for i := 1; i <= 3; i++ {
		inv := invokeTail(t, c, "warm", `{}`)
		mustSucceed(t, inv)
		r := decode[kitReply](t, inv.Payload)
		if r.Count != i {
			t.Errorf("invoke %d: module counter = %d, want %d", i, r.Count, i)
		}
		if i == 1 {
			stream = liveEnv(t, r.LogStreamName)
		} else if r.LogStreamName != stream {
			t.Errorf("invoke %d ran in environment %s, want the warm %s", i, r.LogStreamName, stream)
		}
		if cold := checkFrame(t, inv); cold != (i == 1) {
			t.Errorf("invoke %d: Init Duration present = %v, want %v", i, cold, i == 1)
		}
	}
	if st := s.Pool().Stats(); st.Total != 1 || st.Idle != 1 || st.Busy != 0 {
		t.Errorf("stats = %+v, want one idle environment", st)
	}
}

// goReply is the part of testdata/gofn's reply these tests read: the
// environment's log stream, its identity on the host in both sandboxes.
type goReply struct {
	LogStreamName string `json:"logStreamName"`
}

func TestEnvScaleOut(t *testing.T) {
	t.Parallel()
	s := gusttest.StartServer(t)
	c := s.Lambda()
	createFunction(t, c, "sleeper", types.RuntimeProvidedal2023, "bootstrap", goFunctionZip(t))
	mustSucceed(t, invokeTail(t, c, "sleeper", `{}`)) // unpacks the code once

	const n = 10
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		envs = map[string]bool{}
	)
	start := time.Now()
	for range n {
		wg.Go(func() {
			out, err := c.Invoke(context.Background(), &lambda.InvokeInput{
				FunctionName: aws.String("sleeper"), Payload: []byte(`{"action":"sleep","ms":1000}`)})
			if err != nil {
				t.Errorf("concurrent invoke: %v", err)
				return
			}
			if out.FunctionError != nil {
				t.Errorf("concurrent invoke failed: %s", out.Payload)
				return
			}
			var r goReply
			if err := json.Unmarshal(out.Payload, &r); err != nil {
				t.Errorf("reply %s: %v", out.Payload, err)
				return
			}
			mu.Lock()
			envs[r.LogStreamName] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("%d concurrent 1 s invokes took %s: they did not run in parallel", n, d)
	}
	if len(envs) != n {
		t.Errorf("%d concurrent invokes ran in %d environments, want %d", n, len(envs), n)
	}
	for stream := range envs {
		liveEnv(t, stream) // each one a process of its own on the host
	}
	if st := s.Pool().Stats(); st.Total < n || st.Busy != 0 {
		t.Errorf("stats after scale-out = %+v, want at least %d environments, none busy", st, n)
	}
	for i := range 5 {
		inv := invokeTail(t, c, "sleeper", `{}`)
		mustSucceed(t, inv)
		if checkFrame(t, inv) {
			t.Errorf("sequential invoke %d after scale-out was a cold start", i)
		}
		if r := decode[goReply](t, inv.Payload); !envs[r.LogStreamName] && i > 0 {
			t.Errorf("sequential invoke %d ran in new environment %s", i, r.LogStreamName)
		}
	}
}

func TestEnvIdleReaping(t *testing.T) {
	t.Parallel()
	s := gusttest.StartServer(t, func(c *config.Server) { c.IdleTimeout = 300 * time.Millisecond })
	c := s.Lambda()
	createFunction(t, c, "idle", types.RuntimeNodejs20x, "index.handler", gusttest.Zip(t, map[string]string{"index.mjs": nodeKit}))
	inv := invokeTail(t, c, "idle", `{}`)
	mustSucceed(t, inv)
	stream := liveEnv(t, decode[kitReply](t, inv.Payload).LogStreamName)
	if st := s.Pool().Stats(); st.Total != 1 {
		t.Fatalf("stats right after the invoke = %+v, want 1 environment", st)
	}
	gusttest.WaitFor(t, 5*time.Second, "the idle environment to be reaped", func() bool {
		return s.Pool().Stats().Total == 0
	})
	envGone(t, stream)
	inv = invokeTail(t, c, "idle", `{}`)
	mustSucceed(t, inv)
	if !checkFrame(t, inv) {
		t.Errorf("invoke after reaping was not a cold start")
	}
}

// rawInvoke sends a SigV4-signed Invoke without the SDK, so the test sees
// the response exactly as sent.
func rawInvoke(t *testing.T, s *gusttest.Server, name, payload string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.Endpoint+"/2015-03-31/functions/"+name+"/invocations", strings.NewReader(payload))
	if err != nil {
		t.Error(err)
		return nil, nil
	}
	sum := sha256.Sum256([]byte(payload))
	creds := aws.Credentials{AccessKeyID: s.KeyID, SecretAccessKey: s.Secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "lambda", s.Region(), time.Now()); err != nil {
		t.Error(err)
		return nil, nil
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return nil, nil
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Error(err)
	}
	return resp, body
}

func TestEnvAccountConcurrency(t *testing.T) {
	t.Parallel()
	s := gusttest.StartServer(t, func(c *config.Server) { c.MaxConcurrency = 2 })
	c := s.Lambda()
	createFunction(t, c, "busy", types.RuntimeNodejs20x, "index.handler", gusttest.Zip(t, map[string]string{"index.mjs": nodeKit}))

	type result struct {
		status int
		header http.Header
		body   []byte
	}
	results := make(chan result, 3)
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			resp, body := rawInvoke(t, s, "busy", `{"sleepMs":1500}`)
			if resp != nil {
				results <- result{resp.StatusCode, resp.Header, body}
			}
		})
	}
	wg.Wait()
	close(results)
	var ok, throttled int
	for r := range results {
		switch r.status {
		case http.StatusOK:
			ok++
			if r.header.Get("X-Amz-Function-Error") != "" {
				t.Errorf("admitted invoke failed: %s", r.body)
			}
		case http.StatusTooManyRequests:
			throttled++
			if got := r.header.Get("X-Amzn-ErrorType"); got != "TooManyRequestsException" {
				t.Errorf("X-Amzn-ErrorType = %q", got)
			}
			if got := r.header.Get("Retry-After"); got == "" {
				t.Errorf("429 without Retry-After")
			}
			var body map[string]any
			if err := json.Unmarshal(r.body, &body); err != nil {
				t.Fatalf("429 body %q: %v", r.body, err)
			}
			if body["Reason"] != "ConcurrentInvocationLimitExceeded" || body["Message"] != "Rate Exceeded." {
				t.Errorf("429 body = %s, want Reason ConcurrentInvocationLimitExceeded and Message Rate Exceeded.", r.body)
			}
		default:
			t.Errorf("unexpected status %d: %s", r.status, r.body)
		}
	}
	if ok != 2 || throttled != 1 {
		t.Errorf("3 concurrent invokes with MaxConcurrency 2: %d admitted, %d throttled; want 2 and 1", ok, throttled)
	}
	// The slots are free again once the invokes end.
	mustSucceed(t, invokeTail(t, c, "busy", `{}`))
}

func TestEnvGracefulShutdown(t *testing.T) {
	t.Parallel()
	s := gusttest.StartServer(t)
	c := s.Lambda()
	createFunction(t, c, "drain", types.RuntimeNodejs20x, "index.handler", gusttest.Zip(t, map[string]string{"index.mjs": nodeKit}))
	stream := liveEnv(t, decode[kitReply](t, invokeTail(t, c, "drain", `{}`).Payload).LogStreamName)

	done := make(chan invocation, 1)
	go func() {
		out, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("drain"), Payload: []byte(`{"sleepMs":1000}`)})
		if err != nil {
			t.Errorf("in-flight invoke: %v", err)
			close(done)
			return
		}
		done <- invocation{InvokeOutput: out}
	}()
	gusttest.WaitFor(t, 5*time.Second, "the invoke to be running", func() bool { return s.Pool().Stats().Busy == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	inv, ok := <-done
	if !ok {
		return
	}
	if inv.FunctionError != nil {
		t.Fatalf("in-flight invoke failed during shutdown: %s", inv.Payload)
	}
	if r := decode[kitReply](t, inv.Payload); r.Count != 2 || r.LogStreamName != stream {
		t.Errorf("in-flight invoke: count %d in %s, want 2 in %s", r.Count, r.LogStreamName, stream)
	}
	envGone(t, stream)
	if st := s.Pool().Stats(); st.Total != 0 || st.Busy != 0 {
		t.Errorf("stats after shutdown = %+v", st)
	}
}

func TestEnvUpdateCodeWhileWarm(t *testing.T) {
	t.Parallel()
	s := gusttest.StartServer(t)
	c := s.Lambda()
	code := func(v string) []byte {
		return gusttest.Zip(t, map[string]string{"index.mjs": "export const handler = async (event, context) => ({ version: '" + v + "', stream: context.logStreamName });\n"})
	}
	createFunction(t, c, "upd", types.RuntimeNodejs20x, "index.handler", code("v1"))
	type reply struct {
		Version string `json:"version"`
		Stream  string `json:"stream"`
	}
	first := invokeTail(t, c, "upd", `{}`)
	mustSucceed(t, first)
	old := decode[reply](t, first.Payload)
	if old.Version != "v1" {
		t.Fatalf("version = %q, want v1", old.Version)
	}
	liveEnv(t, old.Stream)
	if _, err := c.UpdateFunctionCode(context.Background(), &lambda.UpdateFunctionCodeInput{
		FunctionName: aws.String("upd"), ZipFile: code("v2")}); err != nil {
		t.Fatalf("update code: %v", err)
	}
	next := invokeTail(t, c, "upd", `{}`)
	mustSucceed(t, next)
	if r := decode[reply](t, next.Payload); r.Version != "v2" || r.Stream == old.Stream {
		t.Errorf("after the update: %+v, want v2 in a new environment (old %s)", r, old.Stream)
	}
	if !checkFrame(t, next) {
		t.Errorf("first invoke of the new code was not a cold start")
	}
	envGone(t, old.Stream)
}
