package redisbroker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// testURL is the Redis the tests use: GUST_TEST_REDIS_URL, else the local
// default.
func testURL() string {
	if u := os.Getenv("GUST_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379"
}

// testClient connects to the test Redis, skipping the test when it is not
// reachable (failing it in CI).
func testClient(t *testing.T) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(testURL())
	if err != nil {
		t.Fatalf("parse GUST_TEST_REDIS_URL: %v", withoutURL(err))
	}
	c := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis at %s not reachable: %v", opt.Addr, err)
		}
		t.Skipf("redis at %s not reachable: %v", opt.Addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// uniqueKey returns a key no other test uses, deleted when t ends.
func uniqueKey(t *testing.T, c *redis.Client, name string) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	key := "gust-test:" + name + ":" + hex.EncodeToString(b)
	t.Cleanup(func() { _ = c.Del(context.Background(), key).Err() })
	return key
}

func testCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond until it holds, failing t after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func xadd(t *testing.T, c *redis.Client, key, id string, values ...any) string {
	t.Helper()
	if id == "" {
		id = "*"
	}
	got, err := c.XAdd(context.Background(), &redis.XAddArgs{Stream: key, ID: id, Values: values}).Result()
	if err != nil {
		t.Fatalf("XADD %s: %v", key, err)
	}
	return got
}

// tcpProxy forwards loopback connections to a target until closed, so a
// test can make Redis go away under a client.
type tcpProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	wg     sync.WaitGroup
}

func startProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	p := &tcpProxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *tcpProxy) accept() {
	defer p.wg.Done()
	for {
		down, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = down.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, down, up)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(down, up)
		go p.pipe(up, down)
	}
}

func (p *tcpProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	_ = dst.Close()
}

// close stops listening and cuts every forwarded connection.
func (p *tcpProxy) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
}
