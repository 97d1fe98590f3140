package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"gust/internal/config"
	"gust/internal/gusttest"
)

// This file checks the Prometheus metrics end to end: a known workload,
// then a scrape of GET /_gust/v1/metrics signed like any Gust endpoint and
// of the unauthenticated --metrics-listen listener, parsed as Prometheus
// parses them.

const meteredPy = `def handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"ok": True}
`

// metricFamilies is one parsed scrape.
type metricFamilies map[string]*dto.MetricFamily

// parseMetrics parses the Prometheus text format.
func parseMetrics(t *testing.T, body []byte) metricFamilies {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse metrics: %v\n%s", err, body)
	}
	return fams
}

// sum adds the values of name's series whose labels include want: counter
// and gauge values, or histogram sample counts.
func (f metricFamilies) sum(name string, want map[string]string) float64 {
	var total float64
	for _, m := range f[name].GetMetric() {
		labels := make(map[string]string)
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			match = match && labels[k] == v
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			total += m.GetCounter().GetValue()
		case m.Gauge != nil:
			total += m.GetGauge().GetValue()
		case m.Histogram != nil:
			total += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return total
}

// signedMetrics GETs /_gust/v1/metrics signed with creds.
func signedMetrics(t *testing.T, s *gusttest.Server, creds aws.Credentials) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.Endpoint+"/_gust/v1/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(nil)
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "lambda", s.Region(), time.Now()); err != nil {
		t.Fatal(err)
	}
	return doRequest(t, req)
}

func doRequest(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return resp, body
}

// scrapeAdmin scrapes the signed endpoint with the server's own key.
func scrapeAdmin(t *testing.T, s *gusttest.Server) metricFamilies {
	t.Helper()
	resp, body := signedMetrics(t, s, aws.Credentials{AccessKeyID: s.KeyID, SecretAccessKey: s.Secret})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /_gust/v1/metrics: status %d: %s", resp.StatusCode, body)
	}
	return parseMetrics(t, body)
}

func TestMetricsCountWorkload(t *testing.T) {
	t.Parallel()
	srv := asyncServer(t, func(c *config.Server) { c.MetricsListen = "127.0.0.1:0" })
	c := srv.Lambda()
	ctx := context.Background()
	zip := gusttest.Zip(t, map[string]string{"app.py": meteredPy})

	// N successes and M function errors, one after another: one cold start.
	const n, m = 3, 2
	createFunction(t, c, "metered", types.RuntimePython312, "app.handler", zip)
	for i := range n + m {
		payload := `{}`
		if i >= n {
			payload = `{"fail": true}`
		}
		inv := invokeTail(t, c, "metered", payload)
		if failed := inv.FunctionError != nil; failed != (i >= n) {
			t.Fatalf("invoke %d: FunctionError %v", i, aws.ToString(inv.FunctionError))
		}
	}

	// One throttle: reserved concurrency 0 refuses every invocation.
	createFunction(t, c, "blocked", types.RuntimePython312, "app.handler", zip)
	mustPutReserved(t, c, "blocked", 0)
	_, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("blocked")})
	wantReservedThrottle(t, err)

	// Async events that fail with no retries go to a dead-letter queue.
	const events = 2
	col := newCollector(t)
	createAsyncFunction(t, c, col, "queued", func(in *lambda.CreateFunctionInput) {
		in.DeadLetterConfig = &types.DeadLetterConfig{TargetArn: aws.String(queueARN("metrics-dlq"))}
	})
	putEventInvokeConfig(t, c, "queued", 0, "", "")
	for range events {
		invokeEvent(t, c, "queued", `{"fail": true}`)
	}
	deadLetters(t, srv, "metrics-dlq", events, 30*time.Second)

	// The dead letter is written before the event is acknowledged: wait
	// until the queue is empty too.
	var fams metricFamilies
	gusttest.WaitFor(t, 10*time.Second, "async queue drained", func() bool {
		fams = scrapeAdmin(t, srv)
		q := map[string]string{"function": "queued"}
		return fams.sum("gust_async_dead_letters_total", q) == events &&
			fams.sum("gust_async_queue_depth", q) == 0 && fams.sum("gust_async_events_in_flight", q) == 0
	})

	metered := map[string]string{"function": "metered", "version": "$LATEST"}
	queued := map[string]string{"function": "queued"}
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"gust_invocations_total", metered, n + m},
		{"gust_duration_seconds", metered, n + m},
		{"gust_errors_total", metered, m},
		{"gust_errors_total", map[string]string{"function": "metered", "type": "function"}, m},
		{"gust_cold_starts_total", metered, 1},
		{"gust_init_duration_seconds", metered, 1},
		{"gust_concurrent_executions", metered, 0},
		{"gust_throttles_total", map[string]string{"function": "blocked", "reason": "ReservedFunctionConcurrentInvocationLimitExceeded"}, 1},
		{"gust_throttles_total", nil, 1},
		{"gust_invocations_total", map[string]string{"function": "blocked"}, 0},
		{"gust_invocations_total", queued, events},
		{"gust_errors_total", queued, events},
		{"gust_async_dead_letters_total", queued, events},
		{"gust_async_destination_failures_total", queued, 0},
		{"gust_async_oldest_event_age_seconds", queued, 0},
	}
	check := func(t *testing.T, fams metricFamilies) {
		t.Helper()
		for _, ck := range checks {
			if got := fams.sum(ck.name, ck.labels); got != ck.want {
				t.Errorf("%s%v = %v, want %v", ck.name, ck.labels, got, ck.want)
			}
		}
		if got := fams.sum("gust_billed_duration_seconds_total", metered); got <= 0 {
			t.Errorf("billed duration of metered = %v, want > 0", got)
		}
		if got := fams.sum("gust_environments", map[string]string{"state": "idle"}); got < 2 {
			t.Errorf("idle environments = %v, want at least 2 (metered and queued stay warm)", got)
		}
		if got := fams.sum("gust_nats_store_bytes", nil); got <= 0 {
			t.Errorf("gust_nats_store_bytes = %v, want > 0", got)
		}
		for _, name := range []string{"go_goroutines", "go_gc_duration_seconds", "process_resident_memory_bytes"} {
			if fams[name] == nil {
				t.Errorf("no %s in the scrape", name)
			}
		}
	}
	t.Run("signed", func(t *testing.T) { check(t, scrapeAdmin(t, srv)) })

	t.Run("metrics listener", func(t *testing.T) {
		if srv.MetricsEndpoint() == "" {
			t.Fatal("MetricsEndpoint is empty with MetricsListen set")
		}
		req, _ := http.NewRequest(http.MethodGet, srv.MetricsEndpoint(), nil)
		resp, body := doRequest(t, req)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: status %d: %s", srv.MetricsEndpoint(), resp.StatusCode, body)
		}
		check(t, parseMetrics(t, body))
		// Only the metrics: the API is not reachable through it.
		req, _ = http.NewRequest(http.MethodGet, srv.MetricsEndpoint()[:len(srv.MetricsEndpoint())-len("/metrics")]+"/2015-03-31/functions", nil)
		if resp, _ := doRequest(t, req); resp.StatusCode != http.StatusNotFound {
			t.Errorf("API path on the metrics listener: status %d, want 404", resp.StatusCode)
		}
	})

	// A deleted function's series go at the next scrape.
	if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("metered")}); err != nil {
		t.Fatal(err)
	}
	fams = scrapeAdmin(t, srv)
	for _, name := range []string{"gust_invocations_total", "gust_duration_seconds", "gust_errors_total", "gust_cold_starts_total", "gust_concurrent_executions"} {
		if f := fams[name]; f != nil {
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "function" && l.GetValue() == "metered" {
						t.Errorf("%s still has a series of deleted function metered", name)
					}
				}
			}
		}
	}
	if got := fams.sum("gust_invocations_total", queued); got != events {
		t.Errorf("after deleting metered, invocations of queued = %v, want %d", got, events)
	}
}

// TestMetricsEndpointAuth checks that the API's metrics endpoint is signed
// and authorized like Gust's other endpoints, and that the unauthenticated
// listener is off by default.
func TestMetricsEndpointAuth(t *testing.T) {
	t.Parallel()
	srv := gusttest.StartServer(t)
	if got := srv.MetricsEndpoint(); got != "" {
		t.Errorf("MetricsEndpoint = %q without MetricsListen, want \"\"", got)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.Endpoint+"/_gust/v1/metrics", nil)
	if resp, body := doRequest(t, req); resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Amzn-ErrorType") == "" {
		t.Errorf("unsigned GET /_gust/v1/metrics: status %d, error %q: %s; want 403 with an error type",
			resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), body)
	}

	ctx := context.Background()
	_, bob, err := srv.IAM().CreateUser(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	bobCreds := aws.Credentials{AccessKeyID: bob.ID, SecretAccessKey: bob.Secret}
	resp, body := signedMetrics(t, srv, bobCreds)
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Amzn-ErrorType") != "AccessDeniedException" {
		t.Errorf("bob without a policy: status %d, error %q: %s; want 403 AccessDeniedException",
			resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), body)
	}
	if err := srv.IAM().PutUserPolicy(ctx, "bob", []byte(`{"Version": "2012-10-17",
		"Statement": [{"Effect": "Allow", "Action": "gust:Metrics", "Resource": "*"}]}`)); err != nil {
		t.Fatal(err)
	}
	resp, body = signedMetrics(t, srv, bobCreds)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("bob allowed gust:Metrics: status %d: %s", resp.StatusCode, body)
	}
	if fams := parseMetrics(t, body); fams["go_goroutines"] == nil {
		t.Errorf("bob's scrape has no go_goroutines")
	}
}

// TestMetricsConcurrentExecutions holds one invocation in flight and
// checks the gauge sees it, and sees it end.
func TestMetricsConcurrentExecutions(t *testing.T) {
	t.Parallel()
	srv := gusttest.StartServer(t)
	c := srv.Lambda()
	gate := newGate(t)
	createGateFunction(t, c, "held")

	var wg sync.WaitGroup
	var invokeErr error
	wg.Go(func() { _, invokeErr = invokeGate(c, "held", gate.srv.URL) })
	held := map[string]string{"function": "held"}
	gusttest.WaitFor(t, 30*time.Second, "held in flight", func() bool {
		return scrapeAdmin(t, srv).sum("gust_concurrent_executions", held) == 1
	})
	gate.release()
	wg.Wait()
	if invokeErr != nil {
		t.Fatalf("invoke held: %v", invokeErr)
	}
	fams := scrapeAdmin(t, srv)
	if got := fams.sum("gust_concurrent_executions", held); got != 0 {
		t.Errorf("gust_concurrent_executions{function=held} = %v after the invocation ended, want 0", got)
	}
	if got := fams.sum("gust_invocations_total", held); got != 1 {
		t.Errorf("gust_invocations_total{function=held} = %v, want 1", got)
	}
}
