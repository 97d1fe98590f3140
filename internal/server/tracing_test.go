package server_test

import (
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"gust/internal/config"
	"gust/internal/gusttest"
	"gust/internal/tracing"
)

// This file checks X-Ray trace headers end to end (what the runtime sees
// in _X_AMZN_TRACE_ID, Lambda's XRAY log line) and the OpenTelemetry
// export, received by a real OTLP/HTTP endpoint in the test.

// span is one span as the collector received it; ids are hex.
type span struct {
	TraceID, SpanID, ParentID, Name string
	Attrs                           map[string]any
	Links                           []string // linked span ids
	Error                           bool
}

// otlpCollector is an OTLP/HTTP trace receiver that keeps every span.
type otlpCollector struct {
	URL   string
	mu    sync.Mutex
	spans []span
}

func newOTLPCollector(t *testing.T) *otlpCollector {
	t.Helper()
	c := &otlpCollector{}
	srv := httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(srv.Close)
	c.URL = srv.URL
	return c
}

func (c *otlpCollector) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
		http.Error(w, "want POST /v1/traces", http.StatusNotFound)
		return
	}
	body := io.Reader(r.Body)
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	raw, err := io.ReadAll(body)
	var req coltracepb.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(raw, &req)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				got := span{TraceID: hex.EncodeToString(s.GetTraceId()), SpanID: hex.EncodeToString(s.GetSpanId()),
					ParentID: hex.EncodeToString(s.GetParentSpanId()), Name: s.GetName(), Attrs: map[string]any{},
					Error: s.GetStatus().GetCode() == 2}
				for _, kv := range s.GetAttributes() {
					switch {
					case kv.GetValue().GetStringValue() != "":
						got.Attrs[kv.GetKey()] = kv.GetValue().GetStringValue()
					default:
						got.Attrs[kv.GetKey()] = kv.GetValue().GetBoolValue()
					}
				}
				for _, l := range s.GetLinks() {
					got.Links = append(got.Links, hex.EncodeToString(l.GetSpanId()))
				}
				c.spans = append(c.spans, got)
			}
		}
	}
	c.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// find returns the spans that match.
func (c *otlpCollector) find(match func(span) bool) []span {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []span
	for _, s := range c.spans {
		if match(s) {
			out = append(out, s)
		}
	}
	return out
}

// invocationTrace waits for the root span of requestID's invocation named
// name and returns it with its children by name.
func (c *otlpCollector) invocationTrace(t *testing.T, name, requestID string, wantChildren ...string) (span, map[string]span) {
	t.Helper()
	var root span
	children := map[string]span{}
	gusttest.WaitFor(t, 15*time.Second, "spans of "+name+" "+requestID, func() bool {
		roots := c.find(func(s span) bool { return s.Name == name && s.Attrs["faas.invocation_id"] == requestID })
		if len(roots) == 0 {
			return false
		}
		root = roots[0]
		clear(children)
		for _, s := range c.find(func(s span) bool { return s.TraceID == root.TraceID && s.SpanID != root.SpanID }) {
			children[s.Name] = s
		}
		for _, n := range wantChildren {
			if _, ok := children[n]; !ok {
				return false
			}
		}
		return true
	})
	return root, children
}

const traceNode = `export const handler = async () => ({ trace: process.env._X_AMZN_TRACE_ID ?? null });
`

const tracePython = `import os
def handler(event, context):
    return {"trace": os.environ.get("_X_AMZN_TRACE_ID")}
`

// withTraceHeader sends an X-Amzn-Trace-Id header with the request.
func withTraceHeader(h string) func(*lambda.Options) {
	return func(o *lambda.Options) {
		o.APIOptions = append(o.APIOptions, smithyhttp.AddHeaderValue("X-Amzn-Trace-Id", h))
	}
}

type tracedInvoke struct {
	requestID string
	header    tracing.Header // what the runtime saw
	log       string
}

func invokeTraced(t *testing.T, c *lambda.Client, name string, opts ...func(*lambda.Options)) tracedInvoke {
	t.Helper()
	out, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String(name),
		LogType: types.LogTypeTail, Payload: []byte(`{}`)}, opts...)
	if err != nil {
		t.Fatalf("invoke %s: %v", name, err)
	}
	if out.FunctionError != nil {
		t.Fatalf("invoke %s: function error %s: %s", name, *out.FunctionError, out.Payload)
	}
	var reply struct{ Trace string }
	if err := json.Unmarshal(out.Payload, &reply); err != nil {
		t.Fatalf("invoke %s: payload %s: %v", name, out.Payload, err)
	}
	h, ok := tracing.ParseHeader(reply.Trace)
	if !ok {
		t.Fatalf("invoke %s: the runtime's _X_AMZN_TRACE_ID = %q, want an X-Ray header", name, reply.Trace)
	}
	logTail, _ := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
	id, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	return tracedInvoke{requestID: id, header: h, log: string(logTail)}
}

// lineAfterReport is the log line that follows REPORT, "" if none.
func lineAfterReport(log string) string {
	lines := strings.Split(strings.TrimRight(log, "\n"), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "REPORT RequestId: ") && i+1 < len(lines) {
			return lines[i+1]
		}
	}
	return ""
}

func TestTracing(t *testing.T) {
	t.Parallel()
	col := newOTLPCollector(t)
	srv := gusttest.StartServer(t, func(c *config.Server) { c.OTLPEndpoint = col.URL })
	c := srv.Lambda()
	createFunction(t, c, "traced", types.RuntimeNodejs20x, "index.handler",
		gusttest.Zip(t, map[string]string{"index.mjs": traceNode}),
		func(in *lambda.CreateFunctionInput) {
			in.TracingConfig = &types.TracingConfig{Mode: types.TracingModeActive}
		})
	createFunction(t, c, "untraced", types.RuntimePython312, "app.handler",
		gusttest.Zip(t, map[string]string{"app.py": tracePython}))
	arn := functionARN("traced")

	const (
		root   = "1-5bef4de7-ad49b0e87f6ef6c87fc2e700"
		parent = "9a9197af755a6419"
	)
	rootTraceID := "5bef4de7ad49b0e87f6ef6c87fc2e700"

	t.Run("cold sync invoke with a header", func(t *testing.T) {
		got := invokeTraced(t, c, "traced", withTraceHeader("Root="+root+";Parent="+parent+";Sampled=1"))
		h := got.header
		if h.Root != root || h.Sampled != "1" || h.Parent == "" || h.Parent == parent {
			t.Errorf("runtime saw %q, want Root=%s, Sampled=1 and a Parent of Lambda's own", h.String(), root)
		}
		wantXRay := "XRAY TraceId: " + root + "\tSegmentId: " + h.Parent + "\tSampled: true"
		if line := lineAfterReport(got.log); line != wantXRay {
			t.Errorf("line after REPORT = %q, want %q\nlog:\n%s", line, wantXRay, got.log)
		}

		rootSpan, children := col.invocationTrace(t, "invoke traced", got.requestID,
			tracing.SpanAcquire, tracing.SpanInit, tracing.SpanInvoke)
		if rootSpan.TraceID != rootTraceID || rootSpan.SpanID != h.Parent || rootSpan.ParentID != "" {
			t.Errorf("root span ids trace=%s span=%s parent=%q, want trace=%s span=%s (the runtime's Parent) and no parent",
				rootSpan.TraceID, rootSpan.SpanID, rootSpan.ParentID, rootTraceID, h.Parent)
		}
		want := map[string]any{"faas.name": "traced", "faas.version": "$LATEST", "faas.invocation_id": got.requestID,
			"faas.coldstart": true, "cloud.region": "us-east-1", "aws.lambda.invoked_arn": arn, "faas.trigger": "http"}
		for k, v := range want {
			if rootSpan.Attrs[k] != v {
				t.Errorf("root span %s = %v, want %v", k, rootSpan.Attrs[k], v)
			}
		}
		if len(rootSpan.Links) != 1 || rootSpan.Links[0] != parent {
			t.Errorf("root span links = %v, want the caller's Parent %s", rootSpan.Links, parent)
		}
		if p := children[tracing.SpanAcquire].ParentID; p != rootSpan.SpanID {
			t.Errorf("%s's parent = %s, want the root span", tracing.SpanAcquire, p)
		}
		if p := children[tracing.SpanInit].ParentID; p != children[tracing.SpanAcquire].SpanID {
			t.Errorf("%s's parent = %s, want %s", tracing.SpanInit, p, tracing.SpanAcquire)
		}
		if p := children[tracing.SpanInvoke].ParentID; p != rootSpan.SpanID {
			t.Errorf("%s's parent = %s, want the root span", tracing.SpanInvoke, p)
		}
		if _, ok := children[tracing.SpanQueueWait]; ok {
			t.Errorf("a sync invoke has a %s span", tracing.SpanQueueWait)
		}
	})

	t.Run("warm sync invoke without a header", func(t *testing.T) {
		got := invokeTraced(t, c, "traced")
		if got.header.Sampled != "1" || got.header.Root == root {
			t.Errorf("runtime saw %q, want a new Root sampled (Active)", got.header.String())
		}
		if line := lineAfterReport(got.log); !strings.HasPrefix(line, "XRAY TraceId: "+got.header.Root+"\t") {
			t.Errorf("line after REPORT = %q, want the XRAY line", line)
		}
		rootSpan, children := col.invocationTrace(t, "invoke traced", got.requestID, tracing.SpanAcquire, tracing.SpanInvoke)
		if rootSpan.Attrs["faas.coldstart"] != false {
			t.Errorf("warm invoke faas.coldstart = %v, want false", rootSpan.Attrs["faas.coldstart"])
		}
		if want := strings.ReplaceAll(got.header.Root[2:], "-", ""); rootSpan.TraceID != want {
			t.Errorf("trace id = %s, want the Root's %s", rootSpan.TraceID, want)
		}
		if _, ok := children[tracing.SpanInit]; ok {
			t.Errorf("a warm invoke has an %s span", tracing.SpanInit)
		}
		if len(rootSpan.Links) != 0 {
			t.Errorf("an invoke without a header links to %v", rootSpan.Links)
		}
	})

	t.Run("pass-through gets an unsampled header and no XRAY line", func(t *testing.T) {
		got := invokeTraced(t, c, "untraced")
		if got.header.Sampled != "0" || got.header.Parent == "" {
			t.Errorf("runtime saw %q, want Root, Parent and Sampled=0", got.header.String())
		}
		if strings.Contains(got.log, "XRAY") {
			t.Errorf("pass-through log has an XRAY line:\n%s", got.log)
		}
		col.invocationTrace(t, "invoke untraced", got.requestID, tracing.SpanInvoke)
	})

	t.Run("async event", func(t *testing.T) {
		id := invokeEvent(t, c, "traced", `{}`)
		rootSpan, children := col.invocationTrace(t, "invoke traced", id, tracing.SpanQueueWait, tracing.SpanAcquire, tracing.SpanInvoke)
		if rootSpan.Attrs["faas.trigger"] != "pubsub" {
			t.Errorf("faas.trigger = %v, want pubsub", rootSpan.Attrs["faas.trigger"])
		}
		if p := children[tracing.SpanQueueWait].ParentID; p != rootSpan.SpanID {
			t.Errorf("%s's parent = %s, want the root span", tracing.SpanQueueWait, p)
		}
		enq := col.find(func(s span) bool { return s.Name == "enqueue traced" && s.Attrs["faas.invocation_id"] == id })
		if len(enq) != 1 {
			t.Fatalf("enqueue spans for %s: %d, want 1", id, len(enq))
		}
		if enq[0].TraceID != rootSpan.TraceID {
			t.Errorf("enqueue trace %s, attempt trace %s: want one trace", enq[0].TraceID, rootSpan.TraceID)
		}
		if len(rootSpan.Links) != 1 || rootSpan.Links[0] != enq[0].SpanID {
			t.Errorf("attempt links = %v, want the enqueue span %s", rootSpan.Links, enq[0].SpanID)
		}
	})

	t.Run("function-to-function call", func(t *testing.T) {
		ctx := t.Context()
		if _, err := srv.IAM().CreateRole(ctx, "trace-caller", []byte(`{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"`+arn+`"}]}`)); err != nil {
			t.Fatal(err)
		}
		createFunction(t, c, "trace-caller", types.RuntimeProvidedal2023, "bootstrap", buildGoFunction(t, "callerfn"),
			func(in *lambda.CreateFunctionInput) {
				in.Role = aws.String("arn:aws:iam::000000000000:role/trace-caller")
				in.Timeout = aws.Int32(30)
				in.TracingConfig = &types.TracingConfig{Mode: types.TracingModeActive}
			})
		out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("trace-caller"), Payload: []byte(`{"function":"traced"}`)})
		if err != nil || out.FunctionError != nil {
			t.Fatalf("invoke trace-caller: %v %s", err, out.Payload)
		}
		requestID, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
		caller, _ := col.invocationTrace(t, "invoke trace-caller", requestID, tracing.SpanInvoke)
		// The SDK inside the caller forwards _X_AMZN_TRACE_ID, so the
		// callee's invocation is part of the caller's trace and links to
		// the caller's segment.
		var callee span
		gusttest.WaitFor(t, 15*time.Second, "the callee's span in the caller's trace", func() bool {
			found := col.find(func(s span) bool { return s.Name == "invoke traced" && s.TraceID == caller.TraceID })
			if len(found) == 0 {
				return false
			}
			callee = found[0]
			return true
		})
		if len(callee.Links) != 1 || callee.Links[0] != caller.SpanID {
			t.Errorf("callee links = %v, want the caller's span %s", callee.Links, caller.SpanID)
		}
	})

	t.Run("destination", func(t *testing.T) {
		createFunction(t, c, "trace-dest", types.RuntimePython312, "app.handler",
			gusttest.Zip(t, map[string]string{"app.py": tracePython}))
		putEventInvokeConfig(t, c, "untraced", 0, functionARN("trace-dest"), "")
		id := invokeEvent(t, c, "untraced", `{}`)
		attempt, _ := col.invocationTrace(t, "invoke untraced", id, tracing.SpanInvoke)
		var dest span
		gusttest.WaitFor(t, 15*time.Second, "the destination's span in the event's trace", func() bool {
			found := col.find(func(s span) bool { return s.Name == "invoke trace-dest" && s.TraceID == attempt.TraceID })
			if len(found) == 0 {
				return false
			}
			dest = found[0]
			return true
		})
		// The destination is itself an async invocation: its attempt links
		// to its enqueue span, which links to the attempt that caused it.
		enq := col.find(func(s span) bool { return s.Name == "enqueue trace-dest" && s.TraceID == attempt.TraceID })
		if len(enq) != 1 {
			t.Fatalf("enqueue spans of the destination in the event's trace: %d, want 1", len(enq))
		}
		if !slices.Contains(dest.Links, enq[0].SpanID) {
			t.Errorf("destination attempt links = %v, want its enqueue span %s", dest.Links, enq[0].SpanID)
		}
		if !slices.Contains(enq[0].Links, attempt.SpanID) && enq[0].ParentID != attempt.SpanID {
			t.Errorf("destination enqueue span: parent %s, links %v; want the attempt's span %s", enq[0].ParentID, enq[0].Links, attempt.SpanID)
		}
	})
}
