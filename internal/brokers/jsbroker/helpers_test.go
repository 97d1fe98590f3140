package jsbroker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// natsURL is the NATS server with JetStream that these tests use.
const natsURL = "nats://127.0.0.1:4222"

// testStream is a stream made for one test, deleted after it.
type testStream struct {
	js     jetstream.JetStream
	name   string
	prefix string // the stream captures prefix + ".>"
}

// newTestJetStream connects to the test server, or skips the test (fails
// it in CI) when there is none.
func newTestJetStream(t *testing.T) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(natsURL, nats.Timeout(2*time.Second))
	if err != nil {
		unavailable(t, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream.New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := js.AccountInfo(ctx); err != nil {
		unavailable(t, err)
	}
	return js
}

func unavailable(t *testing.T, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("NATS with JetStream at %s is required in CI: %v", natsURL, err)
	}
	t.Skipf("NATS with JetStream at %s not reachable: %v", natsURL, err)
}

// newTestStream creates a stream with a unique name and subjects.
func newTestStream(t *testing.T, retention jetstream.RetentionPolicy) *testStream {
	t.Helper()
	js := newTestJetStream(t)
	suffix := randomSuffix(t)
	ts := &testStream{js: js, name: "T_" + strings.ToUpper(suffix), prefix: "t_" + suffix}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name:      ts.name,
		Subjects:  []string{ts.prefix + ".>"},
		Retention: retention,
		Storage:   jetstream.MemoryStorage,
	})
	if err != nil {
		t.Fatalf("create stream %s: %v", ts.name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := js.DeleteStream(ctx, ts.name); err != nil {
			t.Errorf("delete stream %s: %v", ts.name, err)
		}
	})
	return ts
}

func randomSuffix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// publish stores one message and returns its stream sequence.
func (ts *testStream) publish(t *testing.T, subject, body string, header nats.Header) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ack, err := ts.js.PublishMsg(ctx, &nats.Msg{Subject: subject, Data: []byte(body), Header: header})
	if err != nil {
		t.Fatalf("publish to %s: %v", subject, err)
	}
	return ack.Sequence
}

// messages reports how many messages the stream holds.
func (ts *testStream) messages(t *testing.T) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := ts.js.Stream(ctx, ts.name)
	if err != nil {
		t.Fatalf("stream %s: %v", ts.name, err)
	}
	return st.CachedInfo().State.Msgs
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tcpProxy forwards loopback connections to the NATS server until cut, so
// that a test can take the connection away from a client.
type tcpProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newTCPProxy(t *testing.T) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln}
	go p.serve(strings.TrimPrefix(natsURL, "nats://"))
	t.Cleanup(p.cut)
	return p
}

func (p *tcpProxy) url() string { return "nats://" + p.ln.Addr().String() }

func (p *tcpProxy) serve(upstream string) {
	for {
		down, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", upstream)
		if err != nil {
			down.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, down, up)
		p.mu.Unlock()
		go pipe(up, down)
		go pipe(down, up)
	}
}

func pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
}

// cut closes the listener and every connection through the proxy.
func (p *tcpProxy) cut() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// isCtxErr reports whether err is a context's error.
func isCtxErr(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}
