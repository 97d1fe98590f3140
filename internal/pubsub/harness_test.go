package pubsub

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"gust/internal/iam/policy"
	"gust/internal/invoke"
	"gust/internal/lambda"
	"gust/internal/natsd"
	"gust/internal/store"
)

// The machine's brokers, which topics read from.
const (
	machineNATS = "nats://127.0.0.1:4222"
	machineMQTT = "tcp://127.0.0.1:1883"
)

// needService skips the test when a service of the machine is not
// listening at addr, or fails it when CI=true: CI must test it.
func needService(t *testing.T, name, addr string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		conn.Close()
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not reachable at %s: %v", name, addr, err)
	}
	t.Skipf("%s is not reachable at %s: %v", name, addr, err)
}

// unique is a name no other test run uses.
func unique(prefix string) string {
	return fmt.Sprintf("%s%d%04d", prefix, time.Now().UnixNano()%1e9, rand.IntN(10000))
}

// gustJS is Gust's own JetStream: an embedded NATS in a temp dir.
func gustJS(t *testing.T) jetstream.JetStream {
	t.Helper()
	conn, err := natsd.Open(t.Context(), natsd.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("natsd.Open: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn.JS
}

// machineJS connects to the machine's NATS, skipping without it.
func machineJS(t *testing.T) jetstream.JetStream {
	t.Helper()
	needService(t, "NATS", "127.0.0.1:4222")
	nc, err := nats.Connect(machineNATS)
	if err != nil {
		t.Fatalf("connect NATS: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// deleteStreamAfter removes a stream of the machine's NATS when the test
// ends.
func deleteStreamAfter(t *testing.T, js jetstream.JetStream, name string) {
	t.Cleanup(func() { _ = js.DeleteStream(context.Background(), name) })
}

// fakeInvoker records Event invocations. Functions in missing do not
// exist; failures[name] platform faults are returned before a function's
// events are accepted; refuse makes every event of a function a User
// error.
type fakeInvoker struct {
	mu       sync.Mutex
	events   []invoke.Request
	attempts []invoke.Request
	missing  map[string]bool
	failures map[string]int
	refuse   map[string]bool
}

func newFakeInvoker() *fakeInvoker {
	return &fakeInvoker{missing: map[string]bool{}, failures: map[string]int{}, refuse: map[string]bool{}}
}

func (f *fakeInvoker) Invoke(_ context.Context, req invoke.Request) (*invoke.Response, error) {
	ref, err := lambda.ParseFunctionRef(req.FunctionName)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.missing[ref.Name] {
		return nil, lambda.KindResourceNotFound.Errorf("Function not found: %s", req.FunctionName)
	}
	if req.Type == invoke.TypeDryRun {
		return &invoke.Response{StatusCode: 204}, nil
	}
	f.attempts = append(f.attempts, req)
	if f.refuse[ref.Name] {
		return nil, lambda.KindRequestEntityTooLarge.Errorf("too large")
	}
	if f.failures[ref.Name] > 0 {
		f.failures[ref.Name]--
		return nil, lambda.KindService.Errorf("queue unavailable")
	}
	f.events = append(f.events, req)
	return &invoke.Response{StatusCode: 202}, nil
}

// of returns the accepted events of one function (by name).
func (f *fakeInvoker) of(name string) []invoke.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []invoke.Request
	for _, r := range f.events {
		if ref, _ := lambda.ParseFunctionRef(r.FunctionName); ref.Name == name {
			out = append(out, r)
		}
	}
	return out
}

func (f *fakeInvoker) attemptsOf(name string) []invoke.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []invoke.Request
	for _, r := range f.attempts {
		if ref, _ := lambda.ParseFunctionRef(r.FunctionName); ref.Name == name {
			out = append(out, r)
		}
	}
	return out
}

// fakePolicies holds resource policies by function name.
type fakePolicies struct {
	mu   sync.Mutex
	docs map[string]*policy.Document
}

func (p *fakePolicies) GetPolicy(_ context.Context, name, qualifier string) (*policy.Document, string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if doc := p.docs[name]; doc != nil {
		return doc, "rev", nil
	}
	return nil, "", fmt.Errorf("get policy %s:%s: %w", name, qualifier, store.ErrNotFound)
}

// allowSNS gives function name the statement `aws lambda add-permission
// --principal sns.amazonaws.com --source-arn sourceARN` writes.
func (p *fakePolicies) allowSNS(t *testing.T, name, sourceARN string) {
	t.Helper()
	doc, err := policy.ParseResource([]byte(fmt.Sprintf(`{"Version":"2012-10-17","Id":"default","Statement":[{"Sid":"sns",
		"Effect":"Allow","Principal":{"Service":"sns.amazonaws.com"},"Action":"lambda:InvokeFunction",
		"Resource":%q,"Condition":{"ArnLike":{"AWS:SourceArn":%q}}}]}`, testID.FunctionARN(name), sourceARN)))
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.docs == nil {
		p.docs = map[string]*policy.Document{}
	}
	p.docs[name] = doc
}

// logBuffer collects a service's log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// harness is one node's service with its fakes.
type harness struct {
	svc      *Service
	invoker  *fakeInvoker
	policies *fakePolicies
	logs     *logBuffer
	js       jetstream.JetStream // Gust's own
	node     string
}

// openHarness opens and starts a service on js (a new embedded NATS when
// nil), closed when the test ends.
func openHarness(t *testing.T, js jetstream.JetStream, node string, inv *fakeInvoker, pol *fakePolicies) *harness {
	t.Helper()
	if js == nil {
		js = gustJS(t)
	}
	logs := &logBuffer{}
	svc, err := Open(t.Context(), Options{JS: js, Identity: testID, Invoker: inv, Policies: pol, NodeID: node,
		Logger:    slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		RetryBase: 20 * time.Millisecond, ReconnectBase: 50 * time.Millisecond})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := svc.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	h := &harness{svc: svc, invoker: inv, policies: pol, logs: logs, js: js, node: node}
	t.Cleanup(func() {
		h.close(t)
		if t.Failed() {
			t.Logf("node %s logged:\n%s", node, logs.String())
		}
	})
	return h
}

func (h *harness) close(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := h.svc.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// subscribe subscribes function fn (allowed to be invoked by the topic
// unless deny) and returns the subscription.
func (h *harness) subscribe(t *testing.T, topic, fn, filter, scope string) *Subscription {
	t.Helper()
	tp, err := h.svc.GetTopic(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	h.policies.allowSNS(t, fn, tp.ARN(testID))
	sub, err := h.svc.Subscribe(t.Context(), topic, Subscription{Endpoint: fn, FilterPolicy: filter, FilterPolicyScope: scope})
	if err != nil {
		t.Fatalf("Subscribe %s to %s: %v", fn, topic, err)
	}
	return sub
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// publishNATS publishes body with headers to subject on the machine's
// NATS and waits for the stream's ack.
func publishNATS(t *testing.T, js jetstream.JetStream, subject, body string, headers map[string]string) {
	t.Helper()
	msg := nats.NewMsg(subject)
	msg.Data = []byte(body)
	for k, v := range headers {
		msg.Header.Set(k, v)
	}
	if _, err := js.PublishMsg(t.Context(), msg); err != nil {
		t.Fatalf("publish to %s: %v", subject, err)
	}
}

// publishMQTT publishes body to topic on the machine's Mosquitto with QoS 1.
func publishMQTT(t *testing.T, topic, body string) {
	t.Helper()
	opts := mqtt.NewClientOptions().AddBroker(machineMQTT).SetClientID(unique("gust-test-pub-")).SetCleanSession(true)
	c := mqtt.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect to Mosquitto: %v", tok.Error())
	}
	defer c.Disconnect(100)
	if tok := c.Publish(topic, 1, false, body); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish to %s: %v", topic, tok.Error())
	}
}

// bodies are the Message fields of events, decoded strictly.
func bodies(t *testing.T, reqs []invoke.Request) []string {
	t.Helper()
	var out []string
	for _, r := range reqs {
		ev := checkSNSEvent(t, r.Payload)
		out = append(out, ev.Records[0].SNS.Message)
	}
	return out
}

// hasAll reports whether got holds every string of want.
func hasAll(got []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || strings.Contains(g, w)
		}
		if !found {
			return false
		}
	}
	return true
}
